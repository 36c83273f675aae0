from services.matching.app import DEFINITION
from shared.service import run

run(DEFINITION)
