from services.feedback.app import DEFINITION
from shared.service import run

run(DEFINITION)
