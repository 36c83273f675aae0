"""Composition root of the feedback service."""

from pathlib import Path

from services.feedback import (
    handlers,
    meetings,
    models,
    outcome_commands,
    report_commands,
    surveys,
    worker,
)
from shared.bus import Subscription
from shared.commands import ExportFromFeedback
from shared.erasure import erasure_subscription
from shared.events import (
    ApplicantAccepted,
    ApplicationReceived,
    ApplicationWithdrawn,
    CycleOpened,
)
from shared.pairs import pair_subscriptions
from shared.personal_data import export_route
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="feedback",
    title="Womento feedback",
    description="Operations endpoints only; the service talks through NATS events.",
    metadata=models.metadata,
    outbox_table=models.outbox,
    inbox_table=models.inbox,
    erased_table=models.erased_people,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        erasure_subscription(
            "feedback",
            outbox_table=models.outbox,
            inbox_table=models.inbox,
            erase=handlers.erase_person,
        ),
        Subscription(ApplicationReceived, handlers.on_application_received),
        *pair_subscriptions(models.pairs),
        *meetings.SUBSCRIPTIONS,
        Subscription(CycleOpened, handlers.on_cycle_opened),
        Subscription(ApplicantAccepted, handlers.on_applicant_accepted),
        Subscription(ApplicationWithdrawn, handlers.on_application_withdrawn),
        *outcome_commands.SUBSCRIPTIONS,
    ],
    commands=[
        export_route(ExportFromFeedback, handlers.HOLDINGS, handlers.export_extra),
        *surveys.ROUTES,
        *outcome_commands.ROUTES,
        *report_commands.ROUTES,
    ],
    workers=[worker.clock_worker],
)
