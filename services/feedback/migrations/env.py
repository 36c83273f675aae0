from services.feedback.models import metadata
from shared.migrations_env import run

run(metadata)
