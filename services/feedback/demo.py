"""DEMO DATA for `make run`: the history of the completed past cycle in feedback.

Intake's seed (`services.intake.seed`) creates the past cycle and its applicants, submitted
and accepted at the time; their events reach feedback as usual (`cycles`, `surveys`,
`applications`, `participants`). What a real installation would have lived through since
(pairs formed by matching, meetings logged in scheduling, survey invitations answered,
interviews held) is filled in here directly, as history imported from the programme's old
spreadsheets: pairs, meetings, missed months, invitations, responses, outcomes (derived
from those responses by the real rule, `services.feedback.outcomes`, plus two coordinator
overrides) and interviews, a few with encrypted notes. No event is emitted for it; matching
and scheduling do not know these pairs. Everything is made up and deterministic (seeded
random numbers; person ids come from intake). Running it again changes nothing.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import nats
import sqlalchemy as sa
from nats.js import JetStreamContext
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.feedback import interviews
from services.feedback import models as m
from services.feedback.app import DEFINITION
from services.feedback.keys import encrypt_for
from services.feedback.outcomes import Answers, derive_outcome
from shared import natsauth
from shared.bus import connect_options
from shared.crypto import vault_for
from shared.db import make_engine, make_sessionmaker, migrate
from shared.events import (
    ApplicantAccepted,
    ApplicationReceived,
    CycleOpened,
    Outcome,
    SurveyKind,
)
from shared.settings import Settings
from shared.subjects import durable_name, stream_name

DEMO_ORGANISATION = UUID("00000000-0000-4000-8000-000000000001")
DEMO_PAST_CYCLE = UUID("00000000-0000-4000-8000-000000000004")
"""The ids intake's seed gives the demo organisation and its past cycle."""
HELSINKI = ZoneInfo("Europe/Helsinki")

# Womento reports roughly a third employed in their own field, a third with an internship,
# temporary job, further education or work in another field, a third with more confidence.
OUTCOME_SHARES = (
    (Outcome.EMPLOYED_OWN_FIELD, 0.32),
    (Outcome.EMPLOYED_OTHER_FIELD, 0.12),
    (Outcome.INTERNSHIP_OR_TEMPORARY, 0.13),
    (Outcome.FURTHER_EDUCATION, 0.08),
    (Outcome.CONFIDENCE_NO_CHANGE, 0.30),
    (Outcome.OTHER, 0.05),
)
NOTES = (
    "Tavoitteena asiantuntijatehtävä omalla alalla; CV päivitetty yhdessä mentorin kanssa.",
    "Harjoittelupaikka alkamassa syksyllä, mentori auttoi yhteydenotossa.",
    "Suomen kielen kurssi jatkuu; haluaa harjoitella työhaastatteluja.",
    "Found a permanent position in her field; very happy with the pair.",
    "Tutkinnon tunnustaminen (Opetushallitus) kesken, jatko-opinnot harkinnassa.",
    "Needs more contacts in the sector; mentor introduced her to two employers.",
)


def shares(n: int) -> list[Outcome]:
    """`n` target outcomes in Womento's proportions (largest remainder)."""
    exact = [(outcome, share * n) for outcome, share in OUTCOME_SHARES]
    counts = {outcome: int(value) for outcome, value in exact}
    by_remainder = sorted(exact, key=lambda item: item[1] - int(item[1]), reverse=True)
    for outcome, _ in by_remainder[: n - sum(counts.values())]:
        counts[outcome] += 1
    return [outcome for outcome, k in counts.items() for _ in range(k)]


def _moment(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=HELSINKI).astimezone(UTC)


def _months(starts_on: date, ends_on: date) -> list[date]:
    months, day = [], starts_on.replace(day=1)
    while day <= ends_on:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def generic_answers(rng: random.Random, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Plausible closed answers to any template (free text is left out)."""
    answers: dict[str, Any] = {}
    for q in questions:
        options = [o["key"] for o in q.get("options") or []]
        if q["type"] == "likert":
            answers[q["key"]] = rng.choice([3, 4, 4, 5, 5])
        elif q["type"] == "single" and options:
            answers[q["key"]] = rng.choice(options)
        elif q["type"] == "multiple" and options:
            answers[q["key"]] = sorted(rng.sample(options, min(len(options), rng.randint(1, 3))))
    return answers


def mentee_story(rng: random.Random, target: Outcome, closing: tuple[bool, bool]) -> dict[str, Any]:
    """Her closed answers per survey kind, consistent with `target` for the closing surveys
    she answers (`closing` = answered end, answered follow-up)."""
    answered_end, answered_follow_up = closing
    before = rng.randint(1, 3)
    story: dict[str, dict[str, Any]] = {
        "baseline": {
            "confidence_job_search": before,
            "finnish_at_work": rng.randint(2, 4),
            "professional_network": rng.randint(1, 3),
            "employment_status": rng.choice(["still_seeking"] * 5 + ["employed_other_field"]),
        },
        "midway": {
            "confidence_job_search": min(5, before + rng.randint(0, 1)),
            "finnish_at_work": rng.randint(2, 4),
            "professional_network": rng.randint(2, 4),
            "satisfaction_pair": rng.choice([3, 4, 4, 5, 5]),
            "support_received": sorted(rng.sample(["cv", "job_interview", "network"], 2)),
        },
    }
    risen = min(5, before + rng.randint(1, 2))
    if target is Outcome.CONFIDENCE_NO_CHANGE:
        status, confidence = "still_seeking", risen
    elif target is Outcome.OTHER:
        status, confidence = "other", rng.randint(1, 3)
    else:
        status, confidence = target.value, rng.randint(3, 5)
    closing_answers = {
        "confidence_job_search": confidence,
        "finnish_at_work": rng.randint(3, 5),
        "professional_network": rng.randint(3, 5),
    }
    if answered_end:
        early = answered_follow_up and target is not Outcome.OTHER and rng.random() < 0.4
        story["end"] = {
            **closing_answers,
            "employment_status": "still_seeking" if early else status,
            "confidence_job_search": risen if early else confidence,
            "satisfaction_pair": rng.choice([3, 4, 5, 5]),
            "support_received": sorted(
                rng.sample(
                    ["cv", "job_interview", "network", "finnish_language", "sector_knowledge"], 3
                )
            ),
        }
    if answered_follow_up:
        story["follow_up"] = {**closing_answers, "employment_status": status}
    return story


INTAKE_EVENTS = (CycleOpened, ApplicationReceived, ApplicantAccepted)


async def intake_events_applied(js: JetStreamContext) -> bool:
    """Feedback's consumers of intake's events have nothing pending or unacknowledged."""
    for event in INTAKE_EVENTS:
        info = await js.consumer_info(stream_name("intake"), durable_name("feedback", event))
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def wait_for_cycle(
    sessions: async_sessionmaker[AsyncSession],
    applied: Callable[[], Awaitable[bool]],
    wait_seconds: float = 180.0,
) -> None:
    """Until intake's events about the past cycle have reached feedback: the cycle, its
    surveys, and applicants and participants whose numbers stay put for three seconds while
    feedback's consumers of those events have nothing left to apply."""
    loop = asyncio.get_running_loop()
    deadline, last, steady = loop.time() + wait_seconds, None, 0
    while loop.time() < deadline:
        async with sessions() as session:
            counts = tuple(
                [
                    await session.scalar(
                        sa.select(sa.func.count()).where(table.c.cycle_id == DEMO_PAST_CYCLE)
                    )
                    for table in (m.cycles, m.surveys, m.applications, m.participants)
                ]
            )
        steady = steady + 1 if counts == last and all(counts) and await applied() else 0
        if steady >= 3:
            return
        last = counts
        await asyncio.sleep(1)
    raise TimeoutError(f"the past cycle did not reach feedback (last counts {last})")


async def fill(session: AsyncSession, secret_key: str) -> bool:
    """The past cycle's history; False if it is there already."""
    if await session.scalar(
        sa.select(sa.func.count()).where(m.outcomes.c.cycle_id == DEMO_PAST_CYCLE)
    ):
        return False
    rng = random.Random(2026)
    org, cycle_id = DEMO_ORGANISATION, DEMO_PAST_CYCLE
    cycle = (
        await session.execute(sa.select(m.cycles).where(m.cycles.c.cycle_id == cycle_id))
    ).one()
    people = (
        await session.execute(
            sa.select(m.participants.c.person_id, m.participants.c.role)
            .where(m.participants.c.cycle_id == cycle_id)
            .order_by(m.participants.c.accepted_at, m.participants.c.person_id)
        )
    ).all()
    mentees = [p.person_id for p in people if p.role == "mentee"]
    mentors = [p.person_id for p in people if p.role == "mentor"]
    await _pairs_and_meetings(session, rng, cycle, mentees, mentors)

    targets = shares(len(mentees))
    rng.shuffle(targets)
    silent = set(rng.sample(range(len(mentees)), 3)) if len(mentees) > 6 else set()
    stories: dict[UUID, dict[str, Any]] = {}
    for index, (person_id, target) in enumerate(zip(mentees, targets, strict=True)):
        if index in silent:
            closing = (False, False)
        else:
            end, follow_up = rng.random() < 0.9, rng.random() < 0.7
            closing = (end or not follow_up, follow_up)
        stories[person_id] = mentee_story(rng, target, closing)
        if not rng.random() < 0.95:
            stories[person_id].pop("baseline")
        if not rng.random() < 0.8:
            stories[person_id].pop("midway")

    surveys = (
        await session.execute(sa.select(m.surveys).where(m.surveys.c.cycle_id == cycle_id))
    ).all()
    responses: dict[UUID, list[Answers]] = {}
    completed_on: dict[UUID, datetime] = {}
    for survey in surveys:
        for person_id in mentees if survey.role == "mentee" else mentors:
            if survey.role == "mentee":
                answers = stories[person_id].get(survey.kind)
            else:
                answers = generic_answers(rng, survey.questions) if rng.random() < 0.75 else None
            response_id = await _invitation(session, rng, survey, person_id, answers)
            if response_id is not None and answers is not None:
                responses.setdefault(person_id, []).append(
                    Answers(response_id, SurveyKind(survey.kind), answers)
                )
                completed_on[response_id] = _moment(survey.opens_on + timedelta(days=3))

    overridden = sorted(silent)[:2]
    for index, (person_id, target) in enumerate(zip(mentees, targets, strict=True)):
        derived = derive_outcome(
            sorted(responses.get(person_id, []), key=lambda a: list(SurveyKind).index(a.kind))
        )
        override = target if index in overridden else None
        effective = override or (derived.outcome if derived else None)
        recorded = (
            completed_on[derived.response_id]
            if derived is not None and override is None
            else _moment(cycle.ends_on + timedelta(days=10))
        )
        if effective is None:
            continue
        await session.execute(
            m.outcomes.insert().values(
                person_id=person_id,
                cycle_id=cycle_id,
                organisation_id=org,
                derived_outcome=derived.outcome.value if derived else None,
                derived_from_response_id=derived.response_id if derived else None,
                override_outcome=override.value if override else None,
                override_reason_ciphertext=await encrypt_for(
                    session,
                    vault_for(secret_key),
                    org,
                    person_id,
                    {"reason": "Kerrottu loppuhaastattelussa (ei vastannut kyselyihin)."},
                )
                if override
                else None,
                overridden_by=None,
                outcome=effective.value,
                recorded_at=recorded,
            )
        )
    await _interviews(session, rng, cycle, mentees, secret_key)
    return True


async def _pairs_and_meetings(
    session: AsyncSession, rng: random.Random, cycle: Any, mentees: list[UUID], mentors: list[UUID]
) -> None:
    if not mentors:
        return
    order = mentors[:]
    rng.shuffle(order)
    formed = _moment(cycle.starts_on - timedelta(days=7), 12)
    ends_early = set(rng.sample(range(len(mentees)), 2)) if len(mentees) > 4 else set()
    months = _months(cycle.starts_on, cycle.ends_on)
    for index, mentee in enumerate(mentees):
        pair_id = uuid4()
        end_month = rng.randint(3, 5) if index in ends_early else None
        await session.execute(
            m.pairs.insert().values(
                pair_id=pair_id,
                organisation_id=DEMO_ORGANISATION,
                cycle_id=cycle.cycle_id,
                mentee_id=mentee,
                mentor_id=order[index % len(order)],
                formed_at=formed,
                ended_at=_moment(months[end_month] + timedelta(days=10)) if end_month else None,
                end_reason=rng.choice(["mentee_found_work", "mentee_withdrew"])
                if end_month
                else None,
            )
        )
        for number, month in enumerate(months[: end_month or len(months)]):
            if rng.random() < 0.85:
                await session.execute(
                    m.meetings.insert().values(
                        meeting_id=uuid4(),
                        organisation_id=DEMO_ORGANISATION,
                        pair_id=pair_id,
                        cycle_id=cycle.cycle_id,
                        held_on=month + timedelta(days=rng.randint(2, 25)),
                        minutes=rng.choice([45, 60, 60, 90, 120]),
                    )
                )
            elif number > 0:
                await session.execute(
                    m.missed_months.insert().values(
                        pair_id=pair_id,
                        month=month,
                        organisation_id=DEMO_ORGANISATION,
                        cycle_id=cycle.cycle_id,
                    )
                )


async def _invitation(
    session: AsyncSession,
    rng: random.Random,
    survey: Any,
    person_id: UUID,
    answers: dict[str, Any] | None,
) -> UUID | None:
    """Her invitation to the survey (reminded once if she was slow); her response if any."""
    invited = _moment(survey.opens_on)
    took = timedelta(days=rng.choice([1, 2, 3, 9, 12])) if answers is not None else None
    reminded = invited + timedelta(days=7) if took is None or took > timedelta(days=7) else None
    completed = invited + took if took is not None else None
    invitation_id = uuid4()
    await session.execute(
        m.invitations.insert().values(
            invitation_id=invitation_id,
            survey_id=survey.survey_id,
            organisation_id=DEMO_ORGANISATION,
            cycle_id=survey.cycle_id,
            person_id=person_id,
            kind=survey.kind,
            due_at=invited,
            invited_at=invited,
            reminder_due_at=invited + timedelta(days=7),
            reminded_at=reminded,
            completed_at=completed,
        )
    )
    if answers is None or completed is None:
        return None
    response_id = uuid4()
    await session.execute(
        m.responses.insert().values(
            response_id=response_id,
            invitation_id=invitation_id,
            survey_id=survey.survey_id,
            organisation_id=DEMO_ORGANISATION,
            cycle_id=survey.cycle_id,
            person_id=person_id,
            role=survey.role,
            kind=survey.kind,
            answers=answers,
            completed_at=completed,
        )
    )
    return response_id


async def _interviews(
    session: AsyncSession, rng: random.Random, cycle: Any, mentees: list[UUID], secret_key: str
) -> None:
    vault = vault_for(secret_key)
    planned = interviews.planned_dates(cycle.starts_on, cycle.ends_on)
    noted = set(rng.sample(range(len(mentees)), min(len(NOTES), len(mentees))))
    for index, person_id in enumerate(mentees):
        for point in interviews.POINTS:
            held = planned[point] + timedelta(days=rng.randint(-3, 6))
            ciphertext = None
            if point == "end" and index in noted:
                note = NOTES[sorted(noted).index(index)]
                ciphertext = await encrypt_for(
                    session, vault, DEMO_ORGANISATION, person_id, {"notes": note}
                )
            history = {
                "scheduled_on": planned[point],
                "held_on": held if rng.random() < 0.92 else None,
                "notes_ciphertext": ciphertext,
                "updated_at": _moment(held),
            }
            # her acceptance (a real event) may have planned the interview already
            await session.execute(
                insert(m.interviews)
                .values(
                    interview_id=uuid4(),
                    organisation_id=DEMO_ORGANISATION,
                    cycle_id=cycle.cycle_id,
                    person_id=person_id,
                    point=point,
                    **history,
                )
                .on_conflict_do_update(constraint="interviews_one_per_point", set_=history)
            )


async def main(settings: Settings) -> bool:
    await migrate(
        DEFINITION.migrations_dir,
        settings.database_url,
        DEFINITION.name,
        secret_key=settings.secret_key,
    )
    engine = make_engine(settings, pool_size=1)
    sessions = make_sessionmaker(engine)
    nc = await nats.connect(settings.nats_url, **connect_options(settings, natsauth.ADMIN))
    try:
        await wait_for_cycle(sessions, lambda: intake_events_applied(nc.jetstream()))
        async with sessions() as session, session.begin():
            return await fill(session, settings.secret_key)
    finally:
        await nc.close()
        await engine.dispose()


if __name__ == "__main__":
    filled = asyncio.run(main(Settings(service="feedback")))
    print("past cycle's history added in feedback" if filled else "past cycle's history present")
    sys.exit(0)
