"""Composition root of the intake service."""

from pathlib import Path

from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake import (
    api,
    erasure,
    event_changes,
    mail,
    models,
    reminders,
    retention,
    surveys,
)
from services.intake.auth.routes import router as auth_router
from services.intake.imports import router as imports_router
from services.intake.partners import feed as partner_feed
from services.intake.partners.gateway import partner_gateway
from services.intake.partners.webhooks import webhook_worker
from services.intake.web import (
    access,
    apply,
    consent,
    coordinator,
    cycles,
    matching,
    outcomes,
    partners,
    privacy,
    reports,
    schedule,
)
from services.intake.web import surveys as survey_screens
from services.intake.web.errors import html_error_page
from shared.bus import Subscription
from shared.events import ReminderDue, ScheduledEventChanged, SurveyInvitationDue
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="intake",
    title="Womento intake",
    description="Applications, people and the coordinators' front door.",
    metadata=models.metadata,
    outbox_table=models.outbox,
    inbox_table=models.inbox,
    erased_table=models.erased_people,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(ReminderDue, reminders.on_reminder_due),
        Subscription(ScheduledEventChanged, event_changes.on_scheduled_event_changed),
        Subscription(SurveyInvitationDue, surveys.on_survey_invitation_due),
        *partner_feed.SUBSCRIPTIONS,
        *erasure.SUBSCRIPTIONS,
    ],
    routers=[
        api.router,
        auth_router,
        apply.router,
        cycles.router,
        coordinator.router,
        matching.router,
        schedule.router,
        outcomes.router,
        reports.router,
        survey_screens.router,
        mail.router,
        imports_router,
        partners.router,
        privacy.router,
        consent.router,
        access.router,
    ],
    exception_handlers={StarletteHTTPException: html_error_page},
    workers=[
        mail.mail_worker,
        partner_gateway,
        webhook_worker,
        erasure.scrub_worker,
        retention.retention_worker,
    ],
    static_dir=Path(__file__).parent / "web" / "static",
)
