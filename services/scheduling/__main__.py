from services.scheduling.app import DEFINITION
from shared.service import run

run(DEFINITION)
