"""The coordinator's review of a cycle's applications: queue, detail, decisions, notes.

Every function takes the coordinator's organisation and finds nothing outside it: another
organisation's application is simply not found (the web layer answers 404). Names and
contact details are decrypted here, for the coordinator's eyes only; filtering and sorting
by them happens after decryption (a cycle has hundreds of applications, not millions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.consent.domain import Given
from services.intake.consent.store import consents_of
from services.intake.domain import (
    CEFR_ORDER,
    Status,
    check_transition,
    language_level,
    unseal,
)
from shared.clock import Clock
from shared.crypto import PersonalDataVault
from shared.envelope import Envelope
from shared.events import (
    ApplicantAccepted,
    ApplicantWaitlisted,
    ApplicationScreened,
    ApplicationWithdrawn,
    Cefr,
    Event,
    MatchingProfile,
    Role,
)
from shared.outbox import Outbox

SORTS = ("submitted", "name", "status", "field")


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class QueueFilters:
    role: Role | None = None
    status: Status | None = None
    field: str | None = None
    """ISCO code prefix: '2' all professionals, '22' health, '2221' nurses."""
    finnish_at_least: Cefr | None = None
    region: str | None = None
    search: str | None = None
    sort: str = "submitted"
    descending: bool = False


@dataclass(frozen=True)
class QueueRow:
    application_id: UUID
    person_id: UUID
    name: str
    email: str
    role: Role
    status: Status
    isco_code: str
    finnish: Cefr | None
    region: str | None
    submitted_at: datetime
    screening_reasons: tuple[str, ...]
    screening_notes: tuple[str, ...]


@dataclass(frozen=True)
class Detail:
    row: QueueRow
    cycle_id: UUID
    cycle_name: str
    details: dict[str, Any]
    profile: MatchingProfile
    consents: list[Given]
    """Given and withdrawn, each with the text she was shown."""
    history: list[dict[str, Any]]
    notes: list[dict[str, Any]] = field(default_factory=list)


def _unsealed(
    vault: PersonalDataVault, record: Any, public: list[str], sealed: bytes | None
) -> tuple[str, ...]:
    """Her screening codes in full: the public ones and, while her key exists, the sealed
    ones (`domain.SEALED_CODES`); once she is erased, only the public ones."""
    if sealed is None or record.wrapped_key is None:
        return tuple(public)
    codes = vault.decrypt(record.wrapped_key, record.person_id, sealed)["codes"]
    return unseal(tuple(public), tuple(codes))


def _row(vault: PersonalDataVault, record: Any, details: dict[str, Any]) -> QueueRow:
    profile = MatchingProfile.model_validate(record.profile)
    return QueueRow(
        application_id=record.id,
        person_id=record.person_id,
        name=f"{details['given_name']} {details['family_name']}",
        email=details["email"],
        role=Role(record.role),
        status=Status(record.status),
        isco_code=profile.isco_code,
        finnish=language_level(profile.languages, "fi"),
        region=profile.region,
        submitted_at=record.submitted_at,
        screening_reasons=_unsealed(vault, record, record.screening_reasons, record.sealed_reasons),
        screening_notes=_unsealed(vault, record, record.screening_notes, record.sealed_notes),
    )


def _decrypt(vault: PersonalDataVault, record: Any) -> dict[str, Any]:
    if record.wrapped_key is None:
        return {"given_name": "—", "family_name": "(erased)", "email": "", "language": "fi"}
    return vault.decrypt(record.wrapped_key, record.person_id, record.details)


def _select_applications(organisation_id: UUID) -> sa.Select[Any]:
    a, p = m.applications, m.people
    return (
        sa.select(a, p.c.wrapped_key, p.c.details)
        .join(p, p.c.id == a.c.person_id)
        .where(a.c.organisation_id == organisation_id)
    )


async def queue(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    cycle_id: UUID,
    filters: QueueFilters,
    vault: PersonalDataVault,
) -> list[QueueRow]:
    """The cycle's applications, filtered, searched and sorted."""
    a = m.applications
    query = _select_applications(organisation_id).where(a.c.cycle_id == cycle_id)
    if filters.role:
        query = query.where(a.c.role == filters.role.value)
    if filters.status:
        query = query.where(a.c.status == filters.status.value)
    if filters.field:
        query = query.where(a.c.profile["isco_code"].astext.startswith(filters.field))
    if filters.region:
        query = query.where(a.c.profile["region"].astext == filters.region)
    rows = [_row(vault, r, _decrypt(vault, r)) for r in (await session.execute(query)).all()]
    if filters.finnish_at_least:
        floor = CEFR_ORDER.index(filters.finnish_at_least)
        rows = [r for r in rows if r.finnish and CEFR_ORDER.index(r.finnish) >= floor]
    if filters.search:
        needle = filters.search.casefold().strip()
        rows = [r for r in rows if needle in r.name.casefold() or needle in r.email.casefold()]
    key = {
        "submitted": lambda r: (r.submitted_at,),
        "name": lambda r: (r.name.casefold(),),
        "status": lambda r: (r.status.value, r.submitted_at),
        "field": lambda r: (r.isco_code, r.submitted_at),
    }[filters.sort if filters.sort in SORTS else "submitted"]
    return sorted(rows, key=key, reverse=filters.descending)


async def detail(
    session: AsyncSession, *, organisation_id: UUID, application_id: UUID, vault: PersonalDataVault
) -> Detail:
    a = m.applications
    record = (
        await session.execute(_select_applications(organisation_id).where(a.c.id == application_id))
    ).one_or_none()
    if record is None:
        raise NotFound(application_id)
    details = _decrypt(vault, record)
    cycle_name = await session.scalar(
        sa.select(m.cycles.c.name).where(m.cycles.c.id == record.cycle_id)
    )
    consents = await consents_of(session, record.person_id)
    t = m.application_transitions
    history = [
        {
            "from_status": step.from_status,
            "to_status": step.to_status,
            "actor": step.actor,
            "reason_codes": _unsealed(vault, record, step.reason_codes, step.sealed_reason_codes),
            "at": step.at,
        }
        for step in (
            await session.execute(
                sa.select(t).where(t.c.application_id == application_id).order_by(t.c.id)
            )
        ).all()
    ]
    n = m.application_notes
    notes = []
    for note in (
        await session.execute(
            sa.select(n.c.author_id, n.c.body, n.c.created_at)
            .where(n.c.application_id == application_id)
            .order_by(n.c.created_at)
        )
    ).all():
        body = (
            vault.decrypt(record.wrapped_key, record.person_id, note.body)["text"]
            if record.wrapped_key is not None
            else "(erased)"
        )
        notes.append({"author_id": note.author_id, "text": body, "at": note.created_at})
    return Detail(
        row=_row(vault, record, details),
        cycle_id=record.cycle_id,
        cycle_name=cycle_name or "",
        details=details,
        profile=MatchingProfile.model_validate(record.profile),
        consents=consents,
        history=history,
        notes=notes,
    )


async def add_note(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    application_id: UUID,
    author_id: UUID,
    text: str,
    vault: PersonalDataVault,
    clock: Clock,
) -> None:
    """A private note, encrypted with the applicant's key (erasing them erases it too)."""
    if not text.strip():
        raise ValueError("note_empty")
    a, p = m.applications, m.people
    person = (
        await session.execute(
            sa.select(p.c.id, p.c.wrapped_key)
            .join(a, a.c.person_id == p.c.id)
            .where(a.c.id == application_id, a.c.organisation_id == organisation_id)
        )
    ).one_or_none()
    if person is None or person.wrapped_key is None:
        raise NotFound(application_id)
    await session.execute(
        m.application_notes.insert().values(
            id=uuid4(),
            application_id=application_id,
            author_id=author_id,
            body=vault.encrypt(person.wrapped_key, person.id, {"text": text.strip()}),
            created_at=clock.now(),
        )
    )


@dataclass(frozen=True)
class Decision:
    application_id: UUID
    person_id: UUID
    organisation_id: UUID
    from_status: Status
    to_status: Status
    mail_template: str | None


async def decide(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    application_id: UUID,
    to_status: Status,
    actor_id: UUID,
    note: str | None,
    vault: PersonalDataVault,
    outbox: Outbox,
    clock: Clock,
) -> Decision:
    """Move one application; record who and when; stage the event the move means."""
    a = m.applications
    record = (
        await session.execute(
            sa.select(a)
            .where(a.c.id == application_id, a.c.organisation_id == organisation_id)
            .with_for_update()
        )
    ).one_or_none()
    if record is None:
        raise NotFound(application_id)
    current = Status(record.status)
    check_transition(current, to_status, note=note)
    now = clock.now()
    await session.execute(
        a.update().where(a.c.id == application_id).values(status=to_status.value, updated_at=now)
    )
    await session.execute(
        m.application_transitions.insert().values(
            application_id=application_id,
            from_status=current.value,
            to_status=to_status.value,
            actor=str(actor_id),
            reason_codes=["coordinator_override"] if current is Status.INELIGIBLE else [],
            at=now,
        )
    )
    if note and note.strip():
        await add_note(
            session,
            organisation_id=organisation_id,
            application_id=application_id,
            author_id=actor_id,
            text=note,
            vault=vault,
            clock=clock,
        )
    event = await _event_for(session, record, current, to_status)
    if event is not None:
        await outbox.add(
            session, Envelope.wrap(event, organisation_id=organisation_id, clock=clock)
        )
    return Decision(
        application_id=application_id,
        person_id=record.person_id,
        organisation_id=organisation_id,
        from_status=current,
        to_status=to_status,
        mail_template=DECISION_MAILS.get(to_status),
    )


DECISION_MAILS = {
    Status.ACCEPTED: "decision_accepted",
    Status.WAITLISTED: "decision_waitlisted",
    Status.REJECTED: "decision_rejected",
}


async def _event_for(
    session: AsyncSession, record: Any, current: Status, to_status: Status
) -> Event | None:
    ids = {"application_id": record.id, "person_id": record.person_id}
    if to_status is Status.ACCEPTED:
        profile = MatchingProfile.model_validate(record.profile)
        return ApplicantAccepted(**ids, cycle_id=record.cycle_id, profile=profile)
    if to_status is Status.WAITLISTED:
        rolls_over = await has_consent(session, record.person_id, "rollover")
        return ApplicantWaitlisted(**ids, cycle_id=record.cycle_id, rolls_over=rolls_over)
    if to_status is Status.WITHDRAWN:
        return ApplicationWithdrawn(**ids, cycle_id=record.cycle_id)
    if current is Status.INELIGIBLE and to_status is Status.ELIGIBLE:
        return ApplicationScreened(**ids, eligible=True, reason_codes=("coordinator_override",))
    return None


async def has_consent(session: AsyncSession, person_id: UUID, purpose: str) -> bool:
    c = m.consents
    found = await session.scalar(
        sa.select(c.c.id).where(
            c.c.person_id == person_id, c.c.purpose == purpose, c.c.withdrawn_at.is_(None)
        )
    )
    return found is not None


async def names_of(
    session: AsyncSession, *, organisation_id: UUID, person_ids: set[UUID], vault: PersonalDataVault
) -> dict[UUID, str]:
    """People's names for the coordinator's screens (other services know only ids)."""
    p = m.people
    rows = (
        await session.execute(
            sa.select(p.c.id.label("person_id"), p.c.wrapped_key, p.c.details).where(
                p.c.organisation_id == organisation_id, p.c.id.in_(person_ids)
            )
        )
    ).all()
    names = {}
    for row in rows:
        details = _decrypt(vault, row)
        names[row.person_id] = f"{details['given_name']} {details['family_name']}"
    return names
