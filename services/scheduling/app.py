"""Composition root of the scheduling service."""

from pathlib import Path

from services.scheduling import commands, handlers, models, worker
from shared.bus import Subscription
from shared.commands import ExportFromScheduling
from shared.erasure import erasure_subscription
from shared.events import ApplicationReceived, CycleOpened, PairEnded, PairFormed
from shared.personal_data import export_route
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="scheduling",
    title="Womento scheduling",
    description="Operations endpoints only; the service talks through NATS events and commands.",
    metadata=models.metadata,
    outbox_table=models.outbox,
    inbox_table=models.inbox,
    erased_table=models.erased_people,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        erasure_subscription(
            "scheduling",
            outbox_table=models.outbox,
            inbox_table=models.inbox,
            erase=handlers.erase_person,
        ),
        Subscription(ApplicationReceived, handlers.on_application_received),
        Subscription(CycleOpened, handlers.on_cycle_opened),
        Subscription(PairFormed, handlers.on_pair_formed),
        Subscription(PairEnded, handlers.on_pair_ended),
    ],
    commands=[
        *commands.ROUTES,
        export_route(ExportFromScheduling, handlers.HOLDINGS, handlers.export_extra),
    ],
    workers=[worker.clock_worker],
)
