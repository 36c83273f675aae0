"""Intake's service layer: validate against stored state, write, stage events; never commit.

Callers own the transaction (`async with session.begin()`), so the state change and its
outbox row commit together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.domain import (
    ScreeningInput,
    Status,
    public_reasons,
    screen,
    split_sealed,
)
from services.intake.mail import enqueue_mail
from services.intake.schemas import CONSENT_VERSION, ApplicationCreate, ApplicationPublic
from shared.clock import Clock
from shared.crypto import PersonalDataVault
from shared.envelope import Envelope
from shared.events import ApplicationReceived, ApplicationScreened, MatchingProfile
from shared.outbox import Outbox


class Problem(Exception):
    """A request that contradicts stored state; `field` names the offending input."""

    def __init__(self, status: int, field: tuple[str, ...], message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.kind = status, field, message, kind


def keyed_digest(secret_key: str, purpose: str, value: str) -> bytes:
    """A keyed hash for finding equal values without storing them; one key per purpose."""
    purpose_key = hmac.new(
        secret_key.encode(), b"womento-digest\x00" + purpose.encode(), hashlib.sha256
    ).digest()
    return hmac.new(purpose_key, value.strip().casefold().encode(), hashlib.sha256).digest()


def seal_codes(
    vault: PersonalDataVault, wrapped_key: bytes, person_id: UUID, codes: tuple[str, ...]
) -> bytes:
    """The sealed ones of `codes` (`domain.SEALED_CODES`), encrypted under her key. Written
    even when there are none, so that a ciphertext's presence tells nothing."""
    return vault.encrypt(wrapped_key, person_id, {"codes": list(split_sealed(codes)[1])})


async def submit_application(
    session: AsyncSession,
    *,
    request: ApplicationCreate,
    outbox: Outbox,
    vault: PersonalDataVault,
    secret_key: str,
    clock: Clock,
    correlation_id: UUID | None = None,
    confirm: bool = True,
) -> ApplicationPublic:
    """Store one application and its person, and stage `ApplicationReceived`; queue the
    "application received" e-mail unless `confirm` is False (history entered after the fact,
    e.g. the demo's completed past cycle: nobody is told today of an application made then)."""
    now = clock.now()
    cycle = (
        await session.execute(sa.select(m.cycles).where(m.cycles.c.id == request.cycle_id))
    ).one_or_none()
    if cycle is None:
        raise Problem(422, ("cycle_id",), "no cycle with this id", "unknown_cycle")
    if cycle.status != "open" or not (
        cycle.applications_open <= now.date() <= cycle.applications_close
    ):
        raise Problem(422, ("cycle_id",), "this cycle is not taking applications", "cycle_closed")

    email_digest = keyed_digest(secret_key, "email", request.contact.email)
    duplicate = await session.scalar(
        sa.select(m.applications.c.id)
        .join(m.people, m.people.c.id == m.applications.c.person_id)
        .where(
            m.applications.c.cycle_id == cycle.id,
            m.applications.c.role == request.role.value,
            m.people.c.email_digest == email_digest,
        )
    )
    if duplicate is not None:
        raise Problem(
            409, ("contact", "email"), "an application with this e-mail is already in", "duplicate"
        )

    person_id, application_id = uuid4(), uuid4()
    wrapped_key = vault.new_wrapped_key(person_id)
    background = request.background if request.consents.background else None
    private = request.contact.model_dump() | {
        "goals": request.profile.goals,
        "employer": request.profile.employer,
        "birth_year": request.birth_year,
        "identifies_as_woman": request.identifies_as_woman,
        "education_country": request.profile.education_country,
        "municipality": request.profile.municipality,
        "availability": list(request.profile.availability),
        "background": background.model_dump() if background else None,
    }
    profile = matching_profile(request, secret_key)
    await session.execute(
        m.people.insert().values(
            id=person_id,
            organisation_id=cycle.organisation_id,
            wrapped_key=wrapped_key,
            details=vault.encrypt(wrapped_key, person_id, private),
            email_digest=email_digest,
            language=request.contact.language,
            created_at=now,
        )
    )
    for purpose, given in request.consents.model_dump().items():
        if given:
            await session.execute(
                m.consents.insert().values(
                    id=uuid4(),
                    person_id=person_id,
                    purpose=purpose,
                    version=CONSENT_VERSION,
                    language=request.contact.language,
                    given_at=now,
                )
            )
    screening = screen(
        ScreeningInput(
            role=request.role,
            education_level=request.profile.education_level,
            languages=request.profile.languages,
            birth_year=request.birth_year,
            identifies_as_woman=request.identifies_as_woman,
            immigrant_background=background.immigrant_background if background else None,
            employer_given=bool(request.profile.employer),
        ),
        current_year=now.year,
    )
    status = Status.ELIGIBLE if screening.eligible else Status.INELIGIBLE
    reasons = public_reasons(screening.reasons)
    sealed_reasons = seal_codes(vault, wrapped_key, person_id, screening.reasons)
    await session.execute(
        m.applications.insert().values(
            id=application_id,
            organisation_id=cycle.organisation_id,
            cycle_id=cycle.id,
            person_id=person_id,
            role=request.role.value,
            status=status.value,
            profile=profile.model_dump(mode="json"),
            submitted_at=now,
            updated_at=now,
            screening_reasons=list(reasons),
            screening_notes=list(split_sealed(screening.notes)[0]),
            sealed_reasons=sealed_reasons,
            sealed_notes=seal_codes(vault, wrapped_key, person_id, screening.notes),
        )
    )
    await record_transition(session, application_id, None, Status.SUBMITTED, "applicant", (), now)
    await record_transition(
        session, application_id, Status.SUBMITTED, status, "system", reasons, now, sealed_reasons
    )
    organisation_id = cycle.organisation_id
    received = Envelope.wrap(
        ApplicationReceived(
            application_id=application_id,
            person_id=person_id,
            cycle_id=cycle.id,
            role=request.role,
            submitted_at=now,
        ),
        organisation_id=organisation_id,
        clock=clock,
        correlation_id=correlation_id,
    )
    await outbox.add(session, received)
    screened = ApplicationScreened(
        application_id=application_id,
        person_id=person_id,
        eligible=screening.eligible,
        reason_codes=reasons,
    )
    await outbox.add(
        session,
        Envelope.wrap(screened, organisation_id=organisation_id, clock=clock, caused_by=received),
    )
    if confirm:
        programme_name = await session.scalar(
            sa.select(m.programmes.c.name).where(m.programmes.c.id == cycle.programme_id)
        )
        await enqueue_mail(
            session,
            organisation_id=organisation_id,
            person_id=person_id,
            template="application_received",
            context={
                "cycle_name": cycle.name,
                "programme_name": programme_name,
                "role": request.role.value,
                "applications_close": cycle.applications_close,
            },
            clock=clock,
        )
    return ApplicationPublic(
        application_id=application_id, person_id=person_id, status=status.value
    )


def matching_profile(request: ApplicationCreate, secret_key: str) -> MatchingProfile:
    """What matching may know of an applicant: codes, and the employer only as a keyed hash."""
    employer = request.profile.employer
    return MatchingProfile(
        role=request.role,
        isco_code=request.profile.isco_code,
        education_level=request.profile.education_level,
        education_field=request.profile.education_field,
        languages=request.profile.languages,
        region=request.profile.region,
        remote_ok=request.profile.remote_ok,
        topics=request.profile.topics,
        availability=request.profile.availability,
        capacity=request.profile.capacity,
        employer_key=keyed_digest(secret_key, "employer", employer).hex()[:32]
        if employer
        else None,
    )


async def record_transition(
    session: AsyncSession,
    application_id: UUID,
    from_status: Status | None,
    to_status: Status,
    actor: str,
    reasons: tuple[str, ...],
    at: datetime,
    sealed_reasons: bytes | None = None,
) -> None:
    """One step of the application's history; `reasons` are public codes only, the sealed
    ones come encrypted under her key (`domain.SEALED_CODES`)."""
    await session.execute(
        m.application_transitions.insert().values(
            application_id=application_id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor=actor,
            reason_codes=list(reasons),
            sealed_reason_codes=sealed_reasons,
            at=at,
        )
    )


async def create_organisation(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    clock: Clock,
    organisation_id: UUID | None = None,
) -> UUID:
    organisation_id = organisation_id or uuid4()
    await session.execute(
        m.organisations.insert().values(
            id=organisation_id, name=name, slug=slug, created_at=clock.now()
        )
    )
    return organisation_id
