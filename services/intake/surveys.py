"""Survey invitations and their one reminder by e-mail (`SurveyInvitationDue` from feedback).

Feedback decides when an invitation or its reminder is due (its clock worker fires each once);
intake owns addresses and languages, so it turns each `SurveyInvitationDue` into one queued
`survey_invitation` or `survey_reminder` mail with her personal survey link, in the same
transaction as the consumer's inbox record. The link (`portal.make_survey_link`) is signed
for this invitation and person and stays valid `SURVEY_LINK_GRACE` after the survey closes
(a late click then says "closed", not "expired"), and carries her link generation (revoking
her links refuses it). The link is queued encrypted with her own key (`secret_context`),
never in clear. A second event for the same (invitation, reminder) queues nothing.

The handler signs with the process's `Settings` (`WOMENTO_SECRET_KEY`,
`WOMENTO_PUBLIC_BASE_URL`), the same ones `build_app` gives the service.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.mail import enqueue_mail
from services.intake.portal import SURVEY_LINK_GRACE, make_survey_link
from shared.clock import FrozenClock
from shared.crypto import vault_for
from shared.envelope import Envelope
from shared.events import SurveyInvitationDue
from shared.settings import Settings

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")


@cache
def _settings() -> Settings:
    return Settings(service="intake")


def template_for(event: SurveyInvitationDue) -> str:
    return "survey_reminder" if event.reminder else "survey_invitation"


def link_expiry(event: SurveyInvitationDue) -> datetime:
    """The end of the survey's last day in Helsinki, plus the grace period."""
    return datetime.combine(event.closes_on, time.max, tzinfo=HELSINKI) + SURVEY_LINK_GRACE


def survey_url(
    secret_key: str, base_url: str, event: SurveyInvitationDue, generation: int = 0
) -> str:
    token = make_survey_link(
        secret_key,
        event.person_id,
        event.invitation_id,
        link_expiry(event),
        generation=generation,
    )
    return f"{base_url.rstrip('/')}/survey/{token}"


async def on_survey_invitation_due(
    session: AsyncSession, event: SurveyInvitationDue, envelope: Envelope
) -> None:
    """Queue her invitation (or reminder) e-mail in her language, once."""
    template = template_for(event)
    person = (
        await session.execute(
            sa.select(m.people.c.id, m.people.c.wrapped_key, m.people.c.link_generation).where(
                m.people.c.id == event.person_id,
                m.people.c.organisation_id == envelope.organisationid,
            )
        )
    ).one_or_none()
    if person is None or person.wrapped_key is None:
        log.warning(
            "survey invitation for someone intake cannot write to; not sent",
            extra={"person_id": str(event.person_id), "invitation_id": str(event.invitation_id)},
        )
        return
    cycle_name = await session.scalar(
        sa.select(m.cycles.c.name).where(
            m.cycles.c.id == event.cycle_id, m.cycles.c.organisation_id == envelope.organisationid
        )
    )
    settings = _settings()
    await enqueue_mail(
        session,
        organisation_id=envelope.organisationid,
        person_id=event.person_id,
        template=template,
        context={
            "cycle_name": cycle_name or "",
            "cycle_id": str(event.cycle_id),
            "invitation_id": str(event.invitation_id),
            "survey_id": str(event.survey_id),
            "survey_kind": event.kind.value,
            "closes_on": event.closes_on.isoformat(),
        },
        secret_context={
            "link": survey_url(
                settings.secret_key, settings.public_base_url, event, person.link_generation
            ),
        },
        vault=vault_for(settings.secret_key),
        clock=FrozenClock(envelope.time),
        dedupe_key=f"{template}:{event.invitation_id}",
    )
