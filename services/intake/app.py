"""Composition root of the intake service."""

from pathlib import Path

from services.intake import api, models
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="intake",
    title="Womento intake",
    description="Applications, people and the coordinators' front door.",
    metadata=models.metadata,
    outbox_table=models.outbox,
    inbox_table=models.inbox,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[api.router],
    static_dir=Path(__file__).parent / "web" / "static",
)
