from services.intake.app import DEFINITION
from shared.service import run

run(DEFINITION)
