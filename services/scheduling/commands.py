"""Scheduling's command handlers: thin, each in the responder's transaction.

Every command is scoped to the sending organisation: a pair, cycle or event of another
organisation is "unknown", never touched. Refusals name the field at fault.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import calendar as feeds
from services.scheduling import domain, schedule
from services.scheduling import models as m
from shared.commands import (
    CalendarFeed,
    CancelScheduledEvent,
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    CommandRoute,
    CreateGroupMeeting,
    CreateTraining,
    FormSmallGroups,
    GetSchedule,
    RecordAttendance,
    RecordMeeting,
    Rsvp,
    ScheduleSummary,
    UpdateScheduledEvent,
    emit,
)
from shared.events import MeetingHeld, ScheduledEventChanged

# --- meetings ----------------------------------------------------------------------------

_LOG_PROBLEMS: dict[str, tuple[str, str]] = {
    "in_the_future": ("held_on", "a meeting cannot be logged before it is held"),
    "before_pair_formed": ("held_on", "the meeting is dated before the pair was formed"),
    "pair_ended": ("pair_id", "the pair had ended by the day of the meeting"),
    "length_not_positive": ("minutes", "the length of a meeting must be more than zero"),
    "too_long": ("minutes", f"a meeting is at most {domain.MAX_MEETING_MINUTES} minutes"),
}


async def known_pair(session: AsyncSession, pair_id: UUID, organisation_id: UUID) -> Any:
    pair = (
        await session.execute(
            sa.select(m.pairs)
            .where(m.pairs.c.pair_id == pair_id, m.pairs.c.organisation_id == organisation_id)
            .with_for_update()
        )
    ).one_or_none()
    if pair is None:
        raise CommandRejected("unknown_pair", "scheduling knows no such pair", "pair_id")
    return pair


async def record_meeting(
    session: AsyncSession, command: RecordMeeting, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """Log a meeting held; `MeetingHeld` once per command id; clears an at-risk flag."""
    now = ctx.clock.now()
    pair = await known_pair(session, command.pair_id, envelope.organisationid)
    problem = domain.check_meeting_log(
        command.held_on,
        command.minutes,
        domain.local_date(now),
        domain.local_date(pair.formed_at),
        domain.local_date(pair.ended_at) if pair.ended_at is not None else None,
    )
    if problem is not None:
        field, message = _LOG_PROBLEMS[problem]
        raise CommandRejected(problem, message, field)
    meeting_id = uuid4()
    inserted = await session.scalar(
        insert(m.meetings)
        .values(
            meeting_id=meeting_id,
            organisation_id=envelope.organisationid,
            pair_id=pair.pair_id,
            cycle_id=pair.cycle_id,
            held_on=command.held_on,
            minutes=command.minutes,
            mode=command.mode.value,
            topic_codes=list(command.topic_codes),
            logged_by=command.logged_by,
            logged_at=now,
            command_id=envelope.id,
        )
        .on_conflict_do_nothing(index_elements=[m.meetings.c.command_id])
        .returning(m.meetings.c.meeting_id)
    )
    if inserted is None:  # the same command applied by a concurrent copy: same meeting
        existing = await session.scalar(
            sa.select(m.meetings.c.meeting_id).where(m.meetings.c.command_id == envelope.id)
        )
        return {"meeting_id": str(existing), "duplicate": True}
    await emit(
        session,
        ctx,
        MeetingHeld(
            meeting_id=meeting_id,
            pair_id=pair.pair_id,
            cycle_id=pair.cycle_id,
            held_on=command.held_on,
            minutes=command.minutes,
            mode=command.mode,
            topic_codes=command.topic_codes,
        ),
        envelope,
    )
    cleared = False
    next_check: date | None = None
    if pair.ended_at is None:
        next_check = await schedule.reschedule_at_risk_check(session, pair, now)
        if domain.local_date(now) < next_check:
            result = await session.execute(
                m.at_risk.update()
                .where(m.at_risk.c.pair_id == pair.pair_id, m.at_risk.c.cleared_at.is_(None))
                .values(cleared_at=now)
            )
            cleared = bool(result.rowcount)  # type: ignore[attr-defined]
    return {
        "meeting_id": str(meeting_id),
        "at_risk_cleared": cleared,
        "at_risk_on": next_check.isoformat() if next_check else None,
    }


# --- group meetings and trainings ---------------------------------------------------------


async def known_cycle(session: AsyncSession, cycle_id: UUID, organisation_id: UUID) -> Any:
    """The cycle's row, or None when only its pairs are known; refused when neither is."""
    cycle = await schedule.cycle_row(session, cycle_id)
    if cycle is not None:
        if cycle.organisation_id != organisation_id:
            raise CommandRejected("unknown_cycle", "scheduling knows no such cycle", "cycle_id")
        return cycle
    has_pairs = await session.scalar(
        sa.select(sa.func.count())
        .select_from(m.pairs)
        .where(m.pairs.c.cycle_id == cycle_id, m.pairs.c.organisation_id == organisation_id)
    )
    if not has_pairs:
        raise CommandRejected("unknown_cycle", "scheduling knows no such cycle", "cycle_id")
    return None


def _check_when_where(
    starts_at: datetime, ends_at: datetime, place: str | None, url: str | None, now: datetime
) -> None:
    if ends_at <= starts_at:
        raise CommandRejected("ends_before_start", "it must end after it starts", "ends_at")
    if starts_at <= now:
        raise CommandRejected("in_the_past", "it must start in the future", "starts_at")
    if not place and not url:
        raise CommandRejected("no_place", "give a place or an online link", "place")


async def create_group_meeting(
    session: AsyncSession,
    command: CreateGroupMeeting,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    now = ctx.clock.now()
    await known_cycle(session, command.cycle_id, envelope.organisationid)
    _check_when_where(command.starts_at, command.ends_at, command.place, command.online_url, now)
    gm = m.group_meetings
    if command.kind != "midway":
        taken = await session.scalar(
            sa.select(sa.func.count())
            .select_from(gm)
            .where(gm.c.cycle_id == command.cycle_id, gm.c.kind == command.kind)
        )
        if taken:
            raise CommandRejected(
                "already_planned", f"the cycle already has its {command.kind} meeting", "kind"
            )
    meeting_id = uuid4()
    await session.execute(
        gm.insert().values(
            id=meeting_id,
            organisation_id=envelope.organisationid,
            cycle_id=command.cycle_id,
            kind=command.kind,
            starts_at=command.starts_at,
            ends_at=command.ends_at,
            place=command.place,
            online_url=command.online_url,
            created_at=now,
        )
    )
    people = schedule.people_of(
        await schedule.current_pairs(session, envelope.organisationid, command.cycle_id)
    )
    await _announce(
        session,
        meeting_id,
        "group_meeting",
        envelope.organisationid,
        people,
        command.starts_at,
        now,
    )
    return {"id": str(meeting_id), "invited": len(people)}


async def create_training(
    session: AsyncSession, command: CreateTraining, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    now = ctx.clock.now()
    _check_when_where(command.starts_at, command.ends_at, command.place, command.online_url, now)
    training_id = uuid4()
    await session.execute(
        m.trainings.insert().values(
            id=training_id,
            organisation_id=envelope.organisationid,
            title=command.title,
            starts_at=command.starts_at,
            ends_at=command.ends_at,
            place=command.place,
            online_url=command.online_url,
            capacity=command.capacity,
            created_at=now,
        )
    )
    people = schedule.people_of(await schedule.current_pairs(session, envelope.organisationid))
    await _announce(
        session, training_id, "training", envelope.organisationid, people, command.starts_at, now
    )
    return {"id": str(training_id), "invited": len(people)}


async def _announce(
    session: AsyncSession,
    event_id: UUID,
    event_kind: str,
    organisation_id: UUID,
    people: Any,
    starts_at: datetime,
    now: datetime,
) -> None:
    """Invite the people to a new group meeting or training and plan its reminders."""
    await schedule.invite(
        session,
        event_id=event_id,
        event_kind=event_kind,
        organisation_id=organisation_id,
        people=people,
        now=now,
    )
    await schedule.schedule_reminders(
        session,
        event_id=event_id,
        event_kind=event_kind,
        organisation_id=organisation_id,
        starts_at=starts_at,
        now=now,
    )


async def known_event(
    session: AsyncSession, event_id: UUID, organisation_id: UUID
) -> tuple[str, Any]:
    """("group_meeting" | "training", row) of the organisation, locked; refused otherwise."""
    for kind, table in (("group_meeting", m.group_meetings), ("training", m.trainings)):
        row = (
            await session.execute(
                sa.select(table)
                .where(table.c.id == event_id, table.c.organisation_id == organisation_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is not None:
            return kind, row
    raise CommandRejected("unknown_event", "no such group meeting or training", "event_id")


def _refuse_cancelled(event: Any) -> None:
    if event.cancelled_at is not None:
        raise CommandRejected("cancelled", "the event has been cancelled", "event_id")


_CHANGE_PROBLEMS: dict[str, tuple[str, str]] = {
    "ended": ("event_id", "the event has already ended: it can no longer be changed"),
    "cancelled": ("event_id", "the event has been cancelled"),
}


def _check_changeable(event: Any, now: datetime) -> None:
    problem = domain.change_problem(event.ends_at, event.cancelled_at is not None, now)
    if problem is not None:
        field, message = _CHANGE_PROBLEMS[problem]
        raise CommandRejected(problem, message, field)


async def _tell_invitees(
    session: AsyncSession,
    ctx: CommandContext,
    envelope: CommandEnvelope,
    kind: str,
    event: Any,
    change: str,
    previous_starts_at: datetime | None = None,
    reason: str | None = None,
) -> int:
    """One `ScheduledEventChanged` per invitee who has not declined and is in a current pair
    (as for reminders); `event` is the row as it now stands."""
    inv, p, org = m.invitations, m.pairs, envelope.organisationid
    in_a_current_pair = (
        sa.select(p.c.mentee_id)
        .where(p.c.organisation_id == org, p.c.ended_at.is_(None))
        .union(sa.select(p.c.mentor_id).where(p.c.organisation_id == org, p.c.ended_at.is_(None)))
    )
    people = (
        await session.scalars(
            sa.select(inv.c.person_id)
            .where(
                inv.c.event_id == event.id,
                inv.c.rsvp.is_distinct_from("no"),
                inv.c.person_id.in_(in_a_current_pair),
            )
            .order_by(inv.c.person_id)
        )
    ).all()
    is_group = kind == "group_meeting"
    for person_id in people:
        await emit(
            session,
            ctx,
            ScheduledEventChanged(
                event_id=event.id,
                person_id=person_id,
                change=change,
                sequence=event.sequence,
                event_kind="group_meeting" if is_group else "training",
                meeting_kind=event.kind if is_group else None,
                cycle_id=event.cycle_id if is_group else None,
                title=None if is_group else event.title[:200],
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                place=event.place[:300] if event.place else None,
                online_url=event.online_url[:500] if event.online_url else None,
                previous_starts_at=previous_starts_at,
                reason=reason,
            ),
            envelope,
        )
    return len(people)


async def _unfired_reminders(session: AsyncSession, event_id: UUID) -> list[Any]:
    jb = m.jobs
    return list(
        (
            await session.execute(
                sa.select(jb.c.job_id, jb.c.due_at).where(
                    jb.c.event_id == event_id, jb.c.kind == "reminder", jb.c.fired_at.is_(None)
                )
            )
        ).all()
    )


async def update_scheduled_event(
    session: AsyncSession,
    command: UpdateScheduledEvent,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Move (or re-title, re-size) an upcoming event: reminders re-planned, invitees told."""
    now = ctx.clock.now()
    kind, event = await known_event(session, command.event_id, envelope.organisationid)
    _check_changeable(event, now)
    _check_when_where(command.starts_at, command.ends_at, command.place, command.online_url, now)
    table = m.group_meetings if kind == "group_meeting" else m.trainings
    values: dict[str, Any] = {
        "starts_at": command.starts_at,
        "ends_at": command.ends_at,
        "place": command.place,
        "online_url": command.online_url,
    }
    if kind == "training":
        if command.capacity is not None:
            coming = await session.scalar(
                sa.select(sa.func.count())
                .select_from(m.invitations)
                .where(m.invitations.c.event_id == event.id, m.invitations.c.rsvp == "yes")
            )
            if domain.capacity_problem(command.capacity, coming or 0):
                raise CommandRejected(
                    "below_yes_answers",
                    f"{coming} people have said yes: the capacity cannot be less",
                    "capacity",
                )
            values["capacity"] = command.capacity
        if command.title is not None:
            values["title"] = command.title
    before = domain.When(event.starts_at, event.ends_at, event.place, event.online_url)
    after = domain.When(command.starts_at, command.ends_at, command.place, command.online_url)
    moved = domain.is_move(before, after)
    changed = moved or any(getattr(event, k) != v for k, v in values.items())
    if not changed:
        return {"id": str(event.id), "sequence": event.sequence, "moved": False, "told": 0}
    sequence = event.sequence + 1
    await session.execute(
        table.update()
        .where(table.c.id == event.id)
        .values(**values, sequence=sequence, updated_at=now)
    )
    if command.starts_at != event.starts_at:
        unfired = await _unfired_reminders(session, event.id)
        drop, plan = domain.replanned_reminders([r.due_at for r in unfired], command.starts_at, now)
        dropped = [r.job_id for r in unfired if r.due_at in set(drop)]
        if dropped:
            await session.execute(m.jobs.delete().where(m.jobs.c.job_id.in_(dropped)))
        await schedule.schedule_reminders(
            session,
            event_id=event.id,
            event_kind=kind,
            organisation_id=envelope.organisationid,
            starts_at=command.starts_at,
            now=now,
            times=plan,
            sequence=sequence,
        )
    told = 0
    if moved:
        row = (await session.execute(sa.select(table).where(table.c.id == event.id))).one()
        told = await _tell_invitees(
            session, ctx, envelope, kind, row, "moved", previous_starts_at=event.starts_at
        )
    return {"id": str(event.id), "sequence": sequence, "moved": moved, "told": told}


async def cancel_scheduled_event(
    session: AsyncSession,
    command: CancelScheduledEvent,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Cancel an upcoming event: kept and marked, unfired reminders dropped, invitees told."""
    now = ctx.clock.now()
    kind, event = await known_event(session, command.event_id, envelope.organisationid)
    _check_changeable(event, now)
    table = m.group_meetings if kind == "group_meeting" else m.trainings
    sequence = event.sequence + 1
    await session.execute(
        table.update()
        .where(table.c.id == event.id)
        .values(cancelled_at=now, cancel_reason=command.reason, sequence=sequence, updated_at=now)
    )
    await session.execute(
        m.jobs.delete().where(
            m.jobs.c.event_id == event.id,
            m.jobs.c.kind == "reminder",
            m.jobs.c.fired_at.is_(None),
        )
    )
    row = (await session.execute(sa.select(table).where(table.c.id == event.id))).one()
    told = await _tell_invitees(
        session, ctx, envelope, kind, row, "cancelled", reason=command.reason
    )
    return {"id": str(event.id), "sequence": sequence, "told": told}


async def rsvp(
    session: AsyncSession, command: Rsvp, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    now = ctx.clock.now()
    kind, event = await known_event(session, command.event_id, envelope.organisationid)
    _refuse_cancelled(event)
    if event.starts_at <= now:
        raise CommandRejected("event_started", "the event has already started", "event_id")
    inv = m.invitations
    key = (inv.c.event_id == command.event_id) & (inv.c.person_id == command.person_id)
    current = (
        await session.execute(sa.select(inv.c.rsvp).where(key).with_for_update())
    ).one_or_none()
    if current is None:
        raise CommandRejected("not_invited", "this person is not invited", "person_id")
    if kind == "training" and command.answer == "yes" and current.rsvp != "yes":
        coming = await session.scalar(
            sa.select(sa.func.count())
            .select_from(inv)
            .where(inv.c.event_id == command.event_id, inv.c.rsvp == "yes")
        )
        if (coming or 0) >= event.capacity:
            raise CommandRejected("full", "the training is full", "answer")
    await session.execute(inv.update().where(key).values(rsvp=command.answer, rsvp_at=now))
    return {"event_id": str(command.event_id), "answer": command.answer}


async def record_attendance(
    session: AsyncSession,
    command: RecordAttendance,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Attendance from the sheet; someone not invited who came is added to the list."""
    now = ctx.clock.now()
    kind, event = await known_event(session, command.event_id, envelope.organisationid)
    _refuse_cancelled(event)
    if event.starts_at > now:
        raise CommandRejected("not_started", "the event has not started yet", "event_id")
    await session.execute(
        insert(m.invitations)
        .values(
            event_id=command.event_id,
            person_id=command.person_id,
            organisation_id=envelope.organisationid,
            event_kind=kind,
            invited_at=now,
            attended=command.attended,
            attendance_at=now,
        )
        .on_conflict_do_update(
            index_elements=[m.invitations.c.event_id, m.invitations.c.person_id],
            set_={"attended": command.attended, "attendance_at": now},
        )
    )
    return {"event_id": str(command.event_id), "attended": command.attended}


# --- queries ---------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    return value


def _row(row: Any, *columns: str) -> dict[str, Any]:
    mapping = row._mapping
    return {c: _iso(mapping[c]) for c in columns}


async def _invitations(session: AsyncSession, event_ids: list[UUID]) -> dict[UUID, list[Any]]:
    inv = m.invitations
    found: dict[UUID, list[Any]] = {event_id: [] for event_id in event_ids}
    if event_ids:
        for row in await session.execute(
            sa.select(inv).where(inv.c.event_id.in_(event_ids)).order_by(inv.c.person_id)
        ):
            found[row.event_id].append(_row(row, "person_id", "rsvp", "attended"))
    return found


async def get_schedule(
    session: AsyncSession, command: GetSchedule, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    org, cycle_id = envelope.organisationid, command.cycle_id
    cycle = await known_cycle(session, cycle_id, org)
    pairs = (
        await session.execute(
            sa.select(m.pairs)
            .where(m.pairs.c.cycle_id == cycle_id, m.pairs.c.organisation_id == org)
            .order_by(m.pairs.c.formed_at, m.pairs.c.pair_id)
        )
    ).all()
    pair_ids = [p.pair_id for p in pairs]
    planned: dict[UUID, list[Any]] = {p: [] for p in pair_ids}
    held: dict[UUID, list[Any]] = {p: [] for p in pair_ids}
    flags: dict[UUID, list[Any]] = {p: [] for p in pair_ids}
    checks: dict[UUID, Any] = {}
    pm, mt, ar, jb = m.planned_meetings, m.meetings, m.at_risk, m.jobs
    for row in await session.execute(
        sa.select(pm).where(pm.c.pair_id.in_(pair_ids)).order_by(pm.c.month)
    ):
        planned[row.pair_id].append(_row(row, "month", "due_on", "missed_at"))
    for row in await session.execute(
        sa.select(mt).where(mt.c.pair_id.in_(pair_ids)).order_by(mt.c.held_on, mt.c.logged_at)
    ):
        held[row.pair_id].append(
            _row(row, "meeting_id", "held_on", "minutes", "mode", "topic_codes", "logged_by")
        )
    for row in await session.execute(
        sa.select(ar).where(ar.c.pair_id.in_(pair_ids)).order_by(ar.c.flagged_at)
    ):
        flags[row.pair_id].append(_row(row, "flagged_at", "cleared_at", "last_meeting_on"))
    for row in await session.execute(
        sa.select(jb.c.pair_id, jb.c.due_at).where(
            jb.c.pair_id.in_(pair_ids), jb.c.kind == "at_risk_check", jb.c.fired_at.is_(None)
        )
    ):
        checks[row.pair_id] = _iso(row.due_at)
    for entries in planned.values():
        for entry in entries:
            entry["held"] = False
    for pair_id, meetings in held.items():
        months = {meeting["held_on"][:7] for meeting in meetings}
        for entry in planned[pair_id]:
            entry["held"] = entry["month"][:7] in months
    groups = await _small_groups(session, cycle_id, org)

    gm, tr = m.group_meetings, m.trainings
    group_meetings = (
        await session.execute(
            sa.select(gm)
            .where(gm.c.cycle_id == cycle_id, gm.c.organisation_id == org)
            .order_by(gm.c.starts_at)
        )
    ).all()
    trainings = (
        await session.execute(
            sa.select(tr).where(tr.c.organisation_id == org).order_by(tr.c.starts_at)
        )
    ).all()
    event_ids = [g.id for g in group_meetings] + [t.id for t in trainings]
    invited = await _invitations(session, event_ids)
    reminders = (
        await session.execute(
            sa.select(jb.c.event_id, jb.c.due_at, jb.c.fired_at, jb.c.payload)
            .where(jb.c.kind == "reminder", jb.c.event_id.in_(event_ids))
            .order_by(jb.c.due_at)
        )
    ).all()
    where = ("id", "starts_at", "ends_at", "place", "online_url", "sequence", "cancelled_at")
    return {
        "cycle": None
        if cycle is None
        else _row(cycle, "cycle_id", "starts_on", "ends_on", "cadence_days", "grace_days"),
        "pairs": [
            {
                **_row(
                    p,
                    "pair_id",
                    "mentee_id",
                    "mentor_id",
                    "formed_at",
                    "ended_at",
                    "end_reason",
                    "plan_basis",
                ),
                "planned": planned[p.pair_id],
                "meetings": held[p.pair_id],
                "at_risk": any(f["cleared_at"] is None for f in flags[p.pair_id]),
                "at_risk_flags": flags[p.pair_id],
                "next_at_risk_check": checks.get(p.pair_id),
                "missed_since_last_meeting": missed_since_last_meeting(
                    planned[p.pair_id], held[p.pair_id]
                ),
            }
            for p in pairs
        ],
        "small_groups": groups,
        "group_meetings": [
            {**_row(g, "kind", *where), "invited": invited[g.id]} for g in group_meetings
        ],
        "trainings": [
            {**_row(t, "title", "capacity", *where), "invited": invited[t.id]} for t in trainings
        ],
        "reminders": [
            {
                "event_id": _iso(r.event_id),
                "event_kind": r.payload.get("event_kind"),
                "due_at": _iso(r.due_at),
                "fired_at": _iso(r.fired_at),
            }
            for r in reminders
        ],
    }


def missed_since_last_meeting(planned: list[dict[str, Any]], meetings: list[Any]) -> list[str]:
    """The months found missed after the pair's latest meeting (ISO first days): what the
    coordinator should follow up; a meeting logged later clears them from this list."""
    last = max((meeting["held_on"] for meeting in meetings), default="")
    return [
        entry["month"]
        for entry in planned
        if entry["missed_at"] is not None and entry["month"][:7] > last[:7]
    ]


async def schedule_summary(
    session: AsyncSession, command: ScheduleSummary, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """Per known cycle of the organisation: current pairs, at risk, missed since last meeting."""
    org = envelope.organisationid
    p, ar, pm, mt = m.pairs, m.at_risk, m.planned_meetings, m.meetings
    last = (
        sa.select(mt.c.pair_id, sa.func.max(mt.c.held_on).label("last_on"))
        .group_by(mt.c.pair_id)
        .subquery()
    )
    rows = await session.execute(
        sa.select(
            p.c.cycle_id,
            sa.func.count().label("pairs"),
            sa.func.count()
            .filter(sa.exists().where(ar.c.pair_id == p.c.pair_id, ar.c.cleared_at.is_(None)))
            .label("at_risk"),
            sa.func.count()
            .filter(
                sa.exists().where(
                    pm.c.pair_id == p.c.pair_id,
                    pm.c.missed_at.is_not(None),
                    pm.c.due_on > sa.func.coalesce(last.c.last_on, date(1900, 1, 1)),
                )
            )
            .label("missed"),
        )
        .outerjoin(last, last.c.pair_id == p.c.pair_id)
        .where(
            p.c.organisation_id == org,
            p.c.ended_at.is_(None),
            p.c.cycle_id.in_(command.cycle_ids),
        )
        .group_by(p.c.cycle_id)
    )
    return {
        "cycles": {
            str(row.cycle_id): {"pairs": row.pairs, "at_risk": row.at_risk, "missed": row.missed}
            for row in rows
        }
    }


# --- small groups ------------------------------------------------------------------------


async def _small_groups(
    session: AsyncSession, cycle_id: UUID, organisation_id: UUID
) -> list[dict[str, Any]]:
    sg = m.small_groups
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in await session.execute(
        sa.select(sg)
        .where(sg.c.cycle_id == cycle_id, sg.c.organisation_id == organisation_id)
        .order_by(sg.c.group_no, sg.c.pair_id)
    ):
        groups.setdefault(row.group_no, []).append(
            {"pair_id": str(row.pair_id), "isco_major": row.isco_major, "region": row.region}
        )
    return [{"group_no": no, "pairs": members} for no, members in sorted(groups.items())]


async def form_small_groups(
    session: AsyncSession, command: FormSmallGroups, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """Split the cycle's current pairs into balanced small groups; replaces earlier groups."""
    org = envelope.organisationid
    await known_cycle(session, command.cycle_id, org)
    current = {p.pair_id for p in await schedule.current_pairs(session, org, command.cycle_id)}
    if not current:
        raise CommandRejected("no_pairs", "the cycle has no current pairs", "cycle_id")
    given = {p.pair_id: p for p in command.pairs}
    if len(given) != len(command.pairs):
        raise CommandRejected("pair_twice", "a pair is given twice", "pairs")
    if set(given) - current:
        raise CommandRejected("unknown_pair", "a pair is not a current pair of the cycle", "pairs")
    if current - set(given):
        raise CommandRejected("pair_missing", "every current pair needs its codes", "pairs")
    infos = [domain.PairInfo(p.pair_id, p.isco_major, p.region) for p in given.values()]
    groups = domain.split_into_groups(infos)
    now = ctx.clock.now()
    sg = m.small_groups
    await session.execute(
        sg.delete().where(sg.c.cycle_id == command.cycle_id, sg.c.organisation_id == org)
    )
    for number, members in enumerate(groups, start=1):
        for pair_id in members:
            await session.execute(
                sg.insert().values(
                    cycle_id=command.cycle_id,
                    pair_id=pair_id,
                    organisation_id=org,
                    group_no=number,
                    isco_major=given[pair_id].isco_major,
                    region=given[pair_id].region,
                    formed_at=now,
                )
            )
    return {"groups": [[str(pair_id) for pair_id in members] for members in groups]}


_WORDS: dict[str, dict[str, str]] = {
    "fi": {
        "calendar": "Womento-kalenteri",
        "kick_off": "Aloitustapaaminen",
        "midway": "Väliseminaari",
        "closing": "Päätöstapaaminen",
        "deadline": "Paritapaaminen tässä kuussa: viimeistään {day}",
        "deadline_note": "Sopikaa tapaaminen ja kirjatkaa se portaaliin, kun se on pidetty.",
    },
    "sv": {
        "calendar": "Womento-kalender",
        "kick_off": "Startmöte",
        "midway": "Mellanseminarium",
        "closing": "Avslutningsmöte",
        "deadline": "Partmöte denna månad: senast {day}",
        "deadline_note": "Kom överens om ett möte och logga det i portalen när det har hållits.",
    },
    "en": {
        "calendar": "Womento calendar",
        "kick_off": "Kick-off meeting",
        "midway": "Mid-way meeting",
        "closing": "Closing meeting",
        "deadline": "Pair meeting this month: by {day}",
        "deadline_note": "Agree on a meeting and log it in the portal once it is held.",
    },
}


_MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()


def deadline_day(day: date, language: str) -> str:
    """30.4.2027 (Finnish and Swedish), 30 April 2027 (English)."""
    if language == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day}.{day.month}.{day.year}"


def _group_event(row: Any, words: dict[str, str]) -> feeds.CalendarEvent:
    return feeds.CalendarEvent(
        uid=row.id,
        summary=words[row.kind],
        description=None,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        last_modified=row.updated_at or row.created_at,
        location=row.place,
        url=row.online_url,
        sequence=row.sequence,
        cancelled=row.cancelled_at is not None,
    )


def _training_event(row: Any) -> feeds.CalendarEvent:
    return feeds.CalendarEvent(
        uid=row.id,
        summary=row.title,
        description=None,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        last_modified=row.updated_at or row.created_at,
        location=row.place,
        url=row.online_url,
        sequence=row.sequence,
        cancelled=row.cancelled_at is not None,
    )


async def _pair_deadlines(
    session: AsyncSession,
    person_id: UUID,
    organisation_id: UUID,
    words: dict[str, str],
    language: str,
    today: date,
) -> list[feeds.AllDayEvent]:
    """Her current pairs' monthly meeting deadlines, for the months not yet held."""
    p, pm, mt = m.pairs, m.planned_meetings, m.meetings
    pairs = (
        await session.execute(
            sa.select(p.c.pair_id, p.c.formed_at).where(
                p.c.organisation_id == organisation_id,
                p.c.ended_at.is_(None),
                sa.or_(p.c.mentee_id == person_id, p.c.mentor_id == person_id),
            )
        )
    ).all()
    found: list[feeds.AllDayEvent] = []
    for pair in pairs:
        planned = [
            domain.PlannedMeeting(row.pair_id, row.month, row.due_on)
            for row in await session.execute(sa.select(pm).where(pm.c.pair_id == pair.pair_id))
        ]
        held = (
            await session.scalars(sa.select(mt.c.held_on).where(mt.c.pair_id == pair.pair_id))
        ).all()
        for meeting in domain.open_deadlines(planned, list(held), today):
            found.append(
                feeds.AllDayEvent(
                    uid=f"pair-{pair.pair_id}-{meeting.month:%Y-%m}",
                    summary=words["deadline"].format(day=deadline_day(meeting.due_on, language)),
                    description=words["deadline_note"],
                    day=meeting.due_on,
                    last_modified=pair.formed_at,
                )
            )
    return found


async def calendar_feed(
    session: AsyncSession, command: CalendarFeed, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """A person's feed: the group meetings and trainings she is invited to (not those she
    declined), and (if asked) her current pair's monthly meeting deadlines not yet met. A
    cycle's feed: its group meetings and the trainings within its dates. Cancelled events
    stay in both, STATUS:CANCELLED, so that subscribed calendars drop or strike them."""
    if (command.person_id is None) == (command.cycle_id is None):
        raise CommandRejected("person_or_cycle", "give either a person or a cycle", "person_id")
    org = envelope.organisationid
    words = _WORDS.get(command.language, _WORDS["en"])
    gm, tr, inv = m.group_meetings, m.trainings, m.invitations
    events: list[feeds.CalendarEvent] = []
    if command.cycle_id is not None:
        cycle = await known_cycle(session, command.cycle_id, org)
        for row in await session.execute(
            sa.select(gm).where(gm.c.cycle_id == command.cycle_id, gm.c.organisation_id == org)
        ):
            events.append(_group_event(row, words))
        if cycle is not None:
            starts = schedule.midnight(cycle.starts_on)
            ends = schedule.midnight(cycle.ends_on + timedelta(days=1))
            trainings = sa.select(tr).where(
                tr.c.organisation_id == org, tr.c.starts_at >= starts, tr.c.starts_at < ends
            )
            for row in await session.execute(trainings):
                events.append(_training_event(row))
    else:
        mine = sa.select(inv.c.event_id).where(
            inv.c.person_id == command.person_id,
            inv.c.organisation_id == org,
            inv.c.rsvp.is_distinct_from("no"),
        )
        for row in await session.execute(
            sa.select(gm).where(gm.c.id.in_(mine), gm.c.organisation_id == org)
        ):
            events.append(_group_event(row, words))
        for row in await session.execute(
            sa.select(tr).where(tr.c.id.in_(mine), tr.c.organisation_id == org)
        ):
            events.append(_training_event(row))
    deadlines: list[feeds.AllDayEvent] = []
    if command.person_id is not None and command.pair_deadlines:
        deadlines = await _pair_deadlines(
            session,
            command.person_id,
            org,
            words,
            command.language,
            domain.local_date(ctx.clock.now()),
        )
    ics = feeds.calendar_feed(words["calendar"], events, command.language, deadlines)
    return {"ics": ics.decode()}


ROUTES = [
    CommandRoute(RecordMeeting, record_meeting),
    CommandRoute(FormSmallGroups, form_small_groups),
    CommandRoute(ScheduleSummary, schedule_summary),
    CommandRoute(CreateGroupMeeting, create_group_meeting),
    CommandRoute(CreateTraining, create_training),
    CommandRoute(UpdateScheduledEvent, update_scheduled_event),
    CommandRoute(CancelScheduledEvent, cancel_scheduled_event),
    CommandRoute(Rsvp, rsvp),
    CommandRoute(RecordAttendance, record_attendance),
    CommandRoute(GetSchedule, get_schedule),
    CommandRoute(CalendarFeed, calendar_feed),
]
