"""Composition root of the matching service."""

from pathlib import Path

from services.matching import commands, handlers, models
from shared.bus import Subscription
from shared.commands import ExportFromMatching
from shared.erasure import erasure_subscription
from shared.events import (
    ApplicantAccepted,
    ApplicationReceived,
    ApplicationWithdrawn,
    CycleOpened,
)
from shared.personal_data import export_route
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="matching",
    title="Womento matching",
    description="Operations endpoints only; the service talks through NATS events.",
    metadata=models.metadata,
    outbox_table=models.outbox,
    inbox_table=models.inbox,
    erased_table=models.erased_people,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        erasure_subscription(
            "matching",
            outbox_table=models.outbox,
            inbox_table=models.inbox,
            erase=handlers.erase_person,
        ),
        Subscription(ApplicationReceived, handlers.on_application_received),
        Subscription(CycleOpened, handlers.on_cycle_opened),
        Subscription(ApplicantAccepted, handlers.on_applicant_accepted),
        Subscription(ApplicationWithdrawn, handlers.on_application_withdrawn),
    ],
    commands=[*commands.ROUTES, export_route(ExportFromMatching, handlers.HOLDINGS)],
)
