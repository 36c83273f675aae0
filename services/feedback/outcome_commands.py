"""Outcomes of mentees: recomputed on every `SurveyCompleted`, overridden and cleared by
coordinators, and read with the interviews (`GetOutcomes`).

`feedback.outcomes` keeps, per (mentee, cycle), the outcome derived from her surveys (and
the response that decided it), a coordinator's override with its reason (free text,
encrypted under her key: `services.feedback.keys`, erased with it), and the effective
`outcome` (the override, else the derived one). `OutcomeRecorded` is staged in the same
transaction each time the effective outcome changes, never otherwise, with `source`
`coordinator` when an override decides it and `survey` when her answers do. A later survey
updates the derived outcome but does not replace an override. Only mentees get outcomes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import interviews
from services.feedback import models as m
from services.feedback.keys import encrypt_for, wrapped_keys
from services.feedback.outcomes import Answers, check_reason, derive_outcome, effective_outcome
from shared.bus import Subscription
from shared.clock import FrozenClock
from shared.commands import (
    ClearOutcomeOverride,
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    CommandRoute,
    GetOutcomes,
    OverrideOutcome,
    RecordInterview,
    ScheduleInterview,
    emit,
)
from shared.crypto import PersonalDataVault
from shared.envelope import Envelope
from shared.events import Outcome, OutcomeRecorded, SurveyCompleted, SurveyKind
from shared.outbox import Outbox

OUTBOX = Outbox(service="feedback", table=m.outbox)
_REASONS = {
    "reason_required": "give the reason for the override (at least 3 characters)",
    "reason_too_long": "the reason is at most 500 characters",
}


class ResponseNotStored(Exception):
    """`SurveyCompleted` names a response feedback has not stored: retried (never expected,
    the event is staged in the response's own transaction)."""


# --- the one place the effective outcome changes --------------------------------------------


async def _locked_row(
    session: AsyncSession, organisation_id: UUID, person_id: UUID, cycle_id: UUID, now: datetime
) -> Any:
    """Her outcome row, created empty if needed, locked for this transaction."""
    await session.execute(
        insert(m.outcomes)
        .values(
            person_id=person_id, cycle_id=cycle_id, organisation_id=organisation_id, recorded_at=now
        )
        .on_conflict_do_nothing(index_elements=[m.outcomes.c.person_id, m.outcomes.c.cycle_id])
    )
    return (
        await session.execute(
            sa.select(m.outcomes)
            .where(m.outcomes.c.person_id == person_id, m.outcomes.c.cycle_id == cycle_id)
            .with_for_update()
        )
    ).one()


def _outcome(value: str | None) -> Outcome | None:
    return Outcome(value) if value is not None else None


async def _save(
    session: AsyncSession, row: Any, now: datetime, **changes: Any
) -> OutcomeRecorded | None:
    """Apply `changes`; the event to stage when the effective outcome changed."""
    merged = {**row._mapping, **changes}
    effective = effective_outcome(
        _outcome(merged["derived_outcome"]), _outcome(merged["override_outcome"])
    )
    changed = (effective.value if effective else None) != row.outcome
    values = {**changes, "outcome": effective.value if effective else None}
    if changed:
        values["recorded_at"] = now
    await session.execute(
        m.outcomes.update()
        .where(m.outcomes.c.person_id == row.person_id, m.outcomes.c.cycle_id == row.cycle_id)
        .values(**values)
    )
    if not changed or effective is None:
        return None
    return OutcomeRecorded(
        person_id=row.person_id,
        cycle_id=row.cycle_id,
        outcome=effective,
        source="coordinator" if merged["override_outcome"] is not None else "survey",
        recorded_at=now,
    )


# --- from her surveys -----------------------------------------------------------------------


async def recompute_from_surveys(
    session: AsyncSession, *, organisation_id: UUID, person_id: UUID, cycle_id: UUID, now: datetime
) -> OutcomeRecorded | None:
    """Derive her outcome again from all her responses of the cycle (mentees only)."""
    r = m.responses
    rows = (
        await session.execute(
            sa.select(r.c.response_id, r.c.kind, r.c.role, r.c.answers)
            .where(
                r.c.person_id == person_id,
                r.c.cycle_id == cycle_id,
                r.c.organisation_id == organisation_id,
            )
            .order_by(r.c.completed_at)
        )
    ).all()
    if not rows or any(row.role != "mentee" for row in rows):
        return None
    derived = derive_outcome(
        [Answers(row.response_id, SurveyKind(row.kind), dict(row.answers)) for row in rows]
    )
    if derived is None:
        return None
    row = await _locked_row(session, organisation_id, person_id, cycle_id, now)
    return await _save(
        session,
        row,
        now,
        derived_outcome=derived.outcome.value,
        derived_from_response_id=derived.response_id,
    )


async def on_survey_completed(
    session: AsyncSession, event: SurveyCompleted, envelope: Envelope
) -> None:
    """Her outcome again from her answers; `OutcomeRecorded` if it changed ("now" is the
    event's time: handlers get no clock)."""
    stored = await session.scalar(
        sa.select(m.responses.c.response_id).where(m.responses.c.response_id == event.response_id)
    )
    if stored is None:
        raise ResponseNotStored(str(event.response_id))
    recorded = await recompute_from_surveys(
        session,
        organisation_id=envelope.organisationid,
        person_id=event.person_id,
        cycle_id=event.cycle_id,
        now=envelope.time,
    )
    if recorded is not None:
        await OUTBOX.add(
            session,
            Envelope.wrap(
                recorded,
                organisation_id=envelope.organisationid,
                clock=FrozenClock(envelope.time),
                caused_by=envelope,
            ),
        )


SUBSCRIPTIONS = [Subscription(SurveyCompleted, on_survey_completed)]


# --- coordinators ---------------------------------------------------------------------------


async def _mentee_of_cycle(
    session: AsyncSession, organisation_id: UUID, person_id: UUID, cycle_id: UUID
) -> None:
    p, o = m.participants, m.outcomes
    role = await session.scalar(
        sa.select(p.c.role).where(
            p.c.person_id == person_id,
            p.c.cycle_id == cycle_id,
            p.c.organisation_id == organisation_id,
        )
    )
    if role == "mentee":
        return
    if role is None and await session.scalar(
        sa.select(o.c.person_id).where(
            o.c.person_id == person_id,
            o.c.cycle_id == cycle_id,
            o.c.organisation_id == organisation_id,
        )
    ):
        return
    raise CommandRejected("not_a_mentee", "only a mentee of the cycle has an outcome", "person_id")


def _reply(recorded: OutcomeRecorded | None, row: Any, **values: Any) -> dict[str, Any]:
    merged = {**row._mapping, **values}
    effective = effective_outcome(
        _outcome(merged["derived_outcome"]), _outcome(merged["override_outcome"])
    )
    return {"outcome": effective.value if effective else None, "changed": recorded is not None}


async def override_outcome(
    session: AsyncSession, command: OverrideOutcome, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """A coordinator's outcome for her, with the reason; beats her surveys until cleared."""
    problem = check_reason(command.reason)
    if problem is not None:
        raise CommandRejected(problem, _REASONS[problem], "reason")
    await _mentee_of_cycle(session, envelope.organisationid, command.person_id, command.cycle_id)
    now = ctx.clock.now()
    row = await _locked_row(
        session, envelope.organisationid, command.person_id, command.cycle_id, now
    )
    changes = {
        "override_outcome": command.outcome.value,
        "override_reason_ciphertext": await encrypt_for(
            session,
            interviews.vault_of(ctx),
            envelope.organisationid,
            command.person_id,
            {"reason": command.reason.strip()},
        ),
        "overridden_by": command.coordinator_id,
    }
    recorded = await _save(session, row, now, **changes)
    if recorded is not None:
        await emit(session, ctx, recorded, envelope)
    return _reply(recorded, row, **changes)


async def clear_outcome_override(
    session: AsyncSession,
    command: ClearOutcomeOverride,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Back to her surveys' outcome. When they give none, she has no outcome again, which no
    event can say (`OutcomeRecorded` always names one): reports read the table."""
    await _mentee_of_cycle(session, envelope.organisationid, command.person_id, command.cycle_id)
    now = ctx.clock.now()
    row = await _locked_row(
        session, envelope.organisationid, command.person_id, command.cycle_id, now
    )
    changes = {"override_outcome": None, "override_reason_ciphertext": None, "overridden_by": None}
    recorded = await _save(session, row, now, **changes)
    if recorded is not None:
        await emit(session, ctx, recorded, envelope)
    return _reply(recorded, row, **changes)


async def get_outcomes(
    session: AsyncSession, command: GetOutcomes, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """The cycle's mentees with outcome, derivation, override and interviews (notes in clear:
    the reply is not kept, see `GetOutcomes`)."""
    org, cycle_id = envelope.organisationid, command.cycle_id
    dates = await interviews.cycle_dates(session, org, cycle_id)
    if dates is None:
        raise CommandRejected("unknown_cycle", "feedback knows no such cycle", "cycle_id")
    await interviews.ensure_planned(session, org, cycle_id, ctx.clock.now())
    p, o, i = m.participants, m.outcomes, m.interviews
    mentees = {
        row.person_id: row.withdrawn_at
        for row in (
            await session.execute(
                sa.select(p.c.person_id, p.c.withdrawn_at).where(
                    p.c.cycle_id == cycle_id, p.c.organisation_id == org, p.c.role == "mentee"
                )
            )
        ).all()
    }
    outcomes = {
        row.person_id: row
        for row in (
            await session.execute(
                sa.select(o).where(o.c.cycle_id == cycle_id, o.c.organisation_id == org)
            )
        ).all()
    }
    interview_rows = (
        await session.execute(
            sa.select(i)
            .where(i.c.cycle_id == cycle_id, i.c.organisation_id == org)
            .order_by(i.c.scheduled_on)
        )
    ).all()
    vault = interviews.vault_of(ctx)
    notes = await interviews.decrypted_notes(session, vault, list(interview_rows))
    reasons = await _override_reasons(session, vault, list(outcomes.values()))
    deciding = [row.derived_from_response_id for row in outcomes.values()]
    kinds = dict(
        (
            await session.execute(
                sa.select(m.responses.c.response_id, m.responses.c.kind).where(
                    m.responses.c.response_id.in_([r for r in deciding if r is not None])
                )
            )
        ).all()
    )
    by_person: dict[UUID, list[Any]] = {}
    for row in interview_rows:
        by_person.setdefault(row.person_id, []).append(row)
    people = sorted(set(mentees) | set(outcomes), key=str)
    return {
        "cycle": {"starts_on": dates.starts_on.isoformat(), "ends_on": dates.ends_on.isoformat()},
        "mentees": [
            _mentee(
                person_id,
                mentees.get(person_id),
                outcomes.get(person_id),
                by_person.get(person_id, []),
                notes,
                kinds,
                reasons.get(person_id),
            )
            for person_id in people
        ],
    }


async def _override_reasons(
    session: AsyncSession, vault: PersonalDataVault, rows: list[Any]
) -> dict[UUID, str]:
    """Each override's reason in clear, by person (none once her key was erased)."""
    sealed = {r.person_id: r.override_reason_ciphertext for r in rows}
    keys = await wrapped_keys(session, {p for p, blob in sealed.items() if blob is not None})
    return {
        person_id: str(vault.decrypt(keys[person_id], person_id, bytes(blob))["reason"])
        for person_id, blob in sealed.items()
        if blob is not None and person_id in keys
    }


def _mentee(
    person_id: UUID,
    withdrawn_at: datetime | None,
    outcome: Any,
    her_interviews: list[Any],
    notes: dict[UUID, str | None],
    kinds: dict[UUID, str],
    override_reason: str | None,
) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return str(value) if value is not None else None

    return {
        "person_id": str(person_id),
        "withdrawn": withdrawn_at is not None,
        "outcome": outcome.outcome if outcome else None,
        "derived_outcome": outcome.derived_outcome if outcome else None,
        "derived_from_response_id": text(outcome.derived_from_response_id) if outcome else None,
        "derived_from_kind": kinds.get(outcome.derived_from_response_id) if outcome else None,
        "override_outcome": outcome.override_outcome if outcome else None,
        "override_reason": override_reason,
        "overridden_by": text(outcome.overridden_by) if outcome else None,
        "recorded_at": outcome.recorded_at.isoformat() if outcome and outcome.outcome else None,
        "interviews": [
            {
                "interview_id": str(row.interview_id),
                "point": row.point,
                "scheduled_on": row.scheduled_on.isoformat(),
                "held_on": row.held_on.isoformat() if row.held_on else None,
                "notes": notes.get(row.interview_id),
                "updated_at": row.updated_at.isoformat(),
            }
            for row in her_interviews
        ],
    }


ROUTES = [
    CommandRoute(OverrideOutcome, override_outcome),
    CommandRoute(ClearOutcomeOverride, clear_outcome_override),
    CommandRoute(ScheduleInterview, interviews.schedule_interview),
    CommandRoute(RecordInterview, interviews.record_interview),
    CommandRoute(GetOutcomes, get_outcomes),
]
