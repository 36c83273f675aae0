"""The programme's figures for the funder: pure computation from plain rows, then one
`gather` that reads feedback's tables (one query per table, never per person).

Definitions (also in docs/feedback.md, "Reports"):
- applicants: distinct (cycle, person) applications, by role;
- accepted: participants accepted into the cycles, by role; withdrawn ones counted apart;
- pairs formed: every pair of the cycles; ended early: ended before the cycle's `ends_on`;
  completed: not ended early, and the cycle has ended (today >= `ends_on`); running: not
  ended early, cycle not over yet;
- outcomes: mentees = accepted mentees not withdrawn, plus any person with an outcome; shares
  are over mentees with an outcome; the rest are "no outcome yet";
- scores: mean of each Likert (1-5) answer per role, question and survey kind, with n; the
  paired change is end minus baseline over people who answered both;
- response rates per survey kind: completed / invited (invitations sent, not cancelled);
- meeting regularity per pair: months with >= 1 meeting, months missed (a missed month with a
  meeting logged later counts as met); share of planned months met = months met / (months met
  + months missed), pooled over pairs; a pair "meets monthly" when it has met at least once and
  missed no month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.collector import collector_paused
from shared.events import Outcome, SurveyKind

ROLES = ("mentee", "mentor")
KINDS = tuple(k.value for k in SurveyKind)
OUTCOMES = tuple(o.value for o in Outcome)
LIKERT_KEYS = ("confidence_job_search", "finnish_at_work", "professional_network")
"""The default Likert questions shown first; any other Likert answer found is reported too."""
OUTCOME_GROUPS = {
    "work_in_own_field": ("employed_own_field",),
    "step_forward": ("employed_other_field", "internship_or_temporary", "further_education"),
    "confidence": ("confidence_no_change",),
    "other": ("other",),
}
"""Womento's three groups (plus other): own field; other work, internship, temporary job or
further education; confidence gained without a change yet."""


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleRow:
    cycle_id: UUID
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class ApplicationRow:
    cycle_id: UUID
    person_id: UUID
    role: str


@dataclass(frozen=True)
class ParticipantRow:
    cycle_id: UUID
    person_id: UUID
    role: str
    withdrawn: bool = False


@dataclass(frozen=True)
class PairRow:
    pair_id: UUID
    cycle_id: UUID
    mentee_id: UUID
    ended_on: date | None = None


@dataclass(frozen=True)
class InvitationRow:
    cycle_id: UUID
    person_id: UUID
    kind: str
    completed: bool


@dataclass(frozen=True)
class ResponseRow:
    cycle_id: UUID
    person_id: UUID
    role: str
    kind: str
    answers: dict[str, Any]


@dataclass(frozen=True)
class OutcomeRow:
    cycle_id: UUID
    person_id: UUID
    outcome: str | None


@dataclass(frozen=True)
class MeetingRow:
    pair_id: UUID
    held_on: date


@dataclass(frozen=True)
class MissedRow:
    pair_id: UUID
    month: date


@dataclass(frozen=True)
class ReportData:
    """Every row of the cycles reported on (`gather` reads them; tests build them)."""

    cycles: Sequence[CycleRow]
    applications: Sequence[ApplicationRow] = ()
    participants: Sequence[ParticipantRow] = ()
    pairs: Sequence[PairRow] = ()
    invitations: Sequence[InvitationRow] = ()
    responses: Sequence[ResponseRow] = ()
    outcomes: Sequence[OutcomeRow] = ()
    meetings: Sequence[MeetingRow] = ()
    missed: Sequence[MissedRow] = ()

    def by_year(self) -> dict[int, ReportData]:
        """The rows split by the year each cycle starts, in one pass over each list (rows of
        a cycle not in `cycles` belong to no year)."""
        year_of = {c.cycle_id: c.starts_on.year for c in self.cycles}
        pair_year = {p.pair_id: year_of.get(p.cycle_id) for p in self.pairs}
        parts: dict[str, dict[int, list[Any]]] = {
            name: defaultdict(list) for name in self.__dataclass_fields__
        }
        for name in self.__dataclass_fields__:
            key = pair_year if name in ("meetings", "missed") else year_of
            attribute = "pair_id" if name in ("meetings", "missed") else "cycle_id"
            for row in getattr(self, name):
                year = key.get(getattr(row, attribute))
                if year is not None:
                    parts[name][year].append(row)
        return {
            year: ReportData(**{name: parts[name][year] for name in parts})
            for year in sorted(set(year_of.values()))
        }


# --- figures ------------------------------------------------------------------------------


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Mean:
    n: int
    mean: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Mean:
        return cls(len(values), round(sum(values) / len(values), 2) if values else None)


@dataclass(frozen=True)
class ScoreRow:
    role: str
    question: str
    by_kind: dict[str, Mean]
    change: Mean
    """End minus baseline, over the people who answered the question in both."""


@dataclass(frozen=True)
class RateRow:
    kind: str
    invited: int
    completed: int
    rate: float | None


@dataclass(frozen=True)
class Report:
    cycles: int
    applicants: dict[str, int]
    accepted: dict[str, int]
    withdrawn: dict[str, int]
    pairs_formed: int
    pairs_completed: int
    pairs_running: int
    pairs_ended_early: int
    mentees: int
    outcome_counts: dict[str, int]
    outcome_shares: dict[str, float | None]
    outcome_groups: dict[str, int]
    no_outcome_yet: int
    scores: list[ScoreRow]
    response_rates: list[RateRow]
    meetings_held: int
    meetings_per_pair: float | None
    months_met: int
    months_missed: int
    months_met_share: float | None
    pairs_meeting_monthly: int
    pairs_meeting_monthly_share: float | None
    years: dict[str, Report] = field(default_factory=dict)

    @property
    def with_outcome(self) -> int:
        return sum(self.outcome_counts.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["with_outcome"] = self.with_outcome
        data["years"] = {year: report.to_dict() for year, report in self.years.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["scores"] = [
            ScoreRow(
                role=s["role"],
                question=s["question"],
                by_kind={k: Mean(**m) for k, m in s["by_kind"].items()},
                change=Mean(**s["change"]),
            )
            for s in data["scores"]
        ]
        values["response_rates"] = [RateRow(**r) for r in data["response_rates"]]
        values["years"] = {y: cls.from_dict(r) for y, r in data.get("years", {}).items()}
        return cls(**values)


def by_role(rows: Iterable[tuple[UUID, UUID, str]]) -> dict[str, int]:
    """Distinct (cycle, person) per role."""
    seen = {row for row in rows}
    counts = Counter(role for _, _, role in seen)
    return {role: counts.get(role, 0) for role in ROLES}


def _pairs(data: ReportData, today: date) -> tuple[int, int, int]:
    ends = {c.cycle_id: c.ends_on for c in data.cycles}
    completed = running = early = 0
    for pair in data.pairs:
        cycle_end = ends.get(pair.cycle_id)
        if pair.ended_on is not None and (cycle_end is None or pair.ended_on < cycle_end):
            early += 1
        elif cycle_end is not None and today >= cycle_end:
            completed += 1
        else:
            running += 1
    return completed, running, early


def _outcomes(data: ReportData) -> tuple[int, dict[str, int], int]:
    people = {
        (p.cycle_id, p.person_id)
        for p in data.participants
        if p.role == "mentee" and not p.withdrawn
    }
    counts = dict.fromkeys(OUTCOMES, 0)
    for row in data.outcomes:
        people.add((row.cycle_id, row.person_id))
        if row.outcome is not None:
            counts[row.outcome] += 1
    with_outcome = sum(counts.values())
    return len(people), counts, len(people) - with_outcome


def _likert(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5


def _scores(responses: Sequence[ResponseRow]) -> list[ScoreRow]:
    answers: dict[tuple[str, str], dict[str, dict[tuple[UUID, UUID], int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for response in responses:
        for question, value in response.answers.items():
            if _likert(value):
                person = (response.cycle_id, response.person_id)
                answers[(response.role, question)][response.kind][person] = value

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        role, question = key
        known = LIKERT_KEYS.index(question) if question in LIKERT_KEYS else len(LIKERT_KEYS)
        return (ROLES.index(role) if role in ROLES else 2, known, question)

    rows = []
    for role, question in sorted(answers, key=order):
        kinds = answers[(role, question)]
        baseline, end = kinds.get("baseline", {}), kinds.get("end", {})
        both = sorted(set(baseline) & set(end))
        rows.append(
            ScoreRow(
                role=role,
                question=question,
                by_kind={k: Mean.of(list(kinds.get(k, {}).values())) for k in KINDS},
                change=Mean.of([end[p] - baseline[p] for p in both]),
            )
        )
    return rows


def _rates(invitations: Sequence[InvitationRow]) -> list[RateRow]:
    invited = Counter(i.kind for i in invitations)
    completed = Counter(i.kind for i in invitations if i.completed)
    return [RateRow(k, invited[k], completed[k], share(completed[k], invited[k])) for k in KINDS]


def _meetings(data: ReportData) -> dict[str, Any]:
    met: dict[UUID, set[date]] = defaultdict(set)
    held: Counter[UUID] = Counter()
    for meeting in data.meetings:
        met[meeting.pair_id].add(meeting.held_on.replace(day=1))
        held[meeting.pair_id] += 1
    missed: dict[UUID, set[date]] = defaultdict(set)
    for row in data.missed:
        month = row.month.replace(day=1)
        if month not in met[row.pair_id]:
            missed[row.pair_id].add(month)
    pair_ids = [p.pair_id for p in data.pairs]
    months_met = sum(len(met[p]) for p in pair_ids)
    months_missed = sum(len(missed[p]) for p in pair_ids)
    monthly = sum(1 for p in pair_ids if met[p] and not missed[p])
    meetings_held = sum(held[p] for p in pair_ids)
    return {
        "meetings_held": meetings_held,
        "meetings_per_pair": round(meetings_held / len(pair_ids), 2) if pair_ids else None,
        "months_met": months_met,
        "months_missed": months_missed,
        "months_met_share": share(months_met, months_met + months_missed),
        "pairs_meeting_monthly": monthly,
        "pairs_meeting_monthly_share": share(monthly, len(pair_ids)),
    }


def build_report(data: ReportData, *, today: date) -> Report:
    """The figures of all the cycles in `data`, together (collector paused meanwhile)."""
    with collector_paused():
        return _build_report(data, today=today)


def _build_report(data: ReportData, *, today: date) -> Report:
    completed, running, early = _pairs(data, today)
    mentees, counts, no_outcome = _outcomes(data)
    with_outcome = sum(counts.values())
    return Report(
        cycles=len(data.cycles),
        applicants=by_role((a.cycle_id, a.person_id, a.role) for a in data.applications),
        accepted=by_role((p.cycle_id, p.person_id, p.role) for p in data.participants),
        withdrawn=by_role(
            (p.cycle_id, p.person_id, p.role) for p in data.participants if p.withdrawn
        ),
        pairs_formed=len(data.pairs),
        pairs_completed=completed,
        pairs_running=running,
        pairs_ended_early=early,
        mentees=mentees,
        outcome_counts=counts,
        outcome_shares={o: share(n, with_outcome) for o, n in counts.items()},
        outcome_groups={
            group: sum(counts[o] for o in members) for group, members in OUTCOME_GROUPS.items()
        },
        no_outcome_yet=no_outcome,
        scores=_scores(data.responses),
        response_rates=_rates(data.invitations),
        **_meetings(data),
    )


def build_report_by_year(data: ReportData, *, today: date) -> Report:
    """All the cycles together, with `years`: one report per year of the cycles' start."""
    with collector_paused():
        total = _build_report(data, today=today)
        per_year = {str(y): _build_report(part, today=today) for y, part in data.by_year().items()}
        return Report(**{**total.__dict__, "years": per_year})


# --- reading feedback's tables ------------------------------------------------------------

HELSINKI = ZoneInfo("Europe/Helsinki")


def _table(name: str) -> sa.Table | None:
    """A table of feedback's metadata, or None while its migration has not landed."""
    from services.feedback import models

    return models.metadata.tables.get(f"{models.SCHEMA}.{name}")


def _local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(HELSINKI).date() if moment is not None else None


async def cycles_of(
    session: AsyncSession, organisation_id: UUID, *, year: int | None = None
) -> list[UUID]:
    """The organisation's cycles (of one starting year), earliest first."""
    cycles = _table("cycles")
    if cycles is None:
        return []
    query = sa.select(cycles.c.cycle_id).where(cycles.c.organisation_id == organisation_id)
    if year is not None:
        query = query.where(sa.extract("year", cycles.c.starts_on) == year)
    return list((await session.scalars(query.order_by(cycles.c.starts_on))).all())


async def gather(
    session: AsyncSession, organisation_id: UUID, cycle_ids: Sequence[UUID]
) -> ReportData:
    """Every row the report needs, one query per table, scoped to the organisation."""
    ids = list(cycle_ids)

    async def rows(name: str, *columns: str) -> list[Any]:
        table = _table(name)
        if table is None:
            return []
        query = sa.select(*(table.c[c] for c in columns)).where(
            table.c.organisation_id == organisation_id, table.c.cycle_id.in_(ids)
        )
        return list((await session.execute(query)).all())

    invitations = _table("invitations")
    invited: Sequence[Any] = []
    if invitations is not None:
        invited = (
            await session.execute(
                sa.select(
                    invitations.c.cycle_id,
                    invitations.c.person_id,
                    invitations.c.kind,
                    invitations.c.completed_at.is_not(None),
                ).where(
                    invitations.c.organisation_id == organisation_id,
                    invitations.c.cycle_id.in_(ids),
                    invitations.c.invited_at.is_not(None),
                    invitations.c.cancelled_at.is_(None)
                    if "cancelled_at" in invitations.c
                    else sa.true(),
                )
            )
        ).all()
    return ReportData(
        cycles=[CycleRow(*r) for r in await rows("cycles", "cycle_id", "starts_on", "ends_on")],
        applications=[
            ApplicationRow(*r) for r in await rows("applications", "cycle_id", "person_id", "role")
        ],
        participants=[
            ParticipantRow(c, p, role, withdrawn is not None)
            for c, p, role, withdrawn in await rows(
                "participants", "cycle_id", "person_id", "role", "withdrawn_at"
            )
        ],
        pairs=[
            PairRow(pair, cycle, mentee, _local_day(ended))
            for pair, cycle, mentee, ended in await rows(
                "pairs", "pair_id", "cycle_id", "mentee_id", "ended_at"
            )
        ],
        invitations=[InvitationRow(*r) for r in invited],
        responses=[
            ResponseRow(*r)
            for r in await rows("responses", "cycle_id", "person_id", "role", "kind", "answers")
        ],
        outcomes=[
            OutcomeRow(*r) for r in await rows("outcomes", "cycle_id", "person_id", "outcome")
        ],
        meetings=[MeetingRow(*r) for r in await rows("meetings", "pair_id", "held_on")],
        missed=[MissedRow(*r) for r in await rows("missed_months", "pair_id", "month")],
    )
