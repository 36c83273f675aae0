"""Reports on real NATS and PostgreSQL: a simulated cycle driven by published events, real
survey answers and the moved clock, then the report's figures, charts and files checked
against what was given."""

from __future__ import annotations

import base64
import csv
import io
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from shared.commands import (
    CommandRejected,
    ExportReport,
    GetReport,
    GetSurvey,
    SubmitSurveyResponse,
)
from shared.events import (
    ApplicationReceived,
    MeetingHeld,
    MeetingMissed,
    MeetingMode,
    PairEnded,
    PairFormed,
    Role,
)
from tests.conftest import eventually
from tests.e2e.test_surveys_feedback import START, Sim, at
from tests.helpers import count, publish


async def test_meetings_held_and_missed_months_are_kept_once(stack, nc, db) -> None:
    stack.start("feedback")
    org, pair, cycle, meeting = uuid4(), uuid4(), uuid4(), uuid4()
    held = MeetingHeld(
        meeting_id=meeting,
        pair_id=pair,
        cycle_id=cycle,
        held_on=date(2030, 3, 12),
        minutes=60,
        mode=MeetingMode.IN_PERSON,
    )
    missed = MeetingMissed(pair_id=pair, cycle_id=cycle, month=date(2030, 4, 1))
    for event in (held, held, missed, missed):  # each twice, as two different envelopes
        await publish(nc, event, organisation_id=org)
    await eventually(lambda: _at_least(db, "feedback.inbox", 4))
    rows = await db.fetch("SELECT * FROM feedback.meetings")
    assert [(r["meeting_id"], r["pair_id"], r["held_on"], r["minutes"]) for r in rows] == [
        (meeting, pair, date(2030, 3, 12), 60)
    ]
    assert rows[0]["organisation_id"] == org
    missed_rows = await db.fetch("SELECT pair_id, month, cycle_id FROM feedback.missed_months")
    assert [tuple(r) for r in missed_rows] == [(pair, date(2030, 4, 1), cycle)]


async def _at_least(db: Any, table: str, n: int, where: str = "true") -> bool:
    return await count(db, table, where) >= n


# --- a whole cycle --------------------------------------------------------------------------

BASELINE = [2, 1, 3, 2, 2]  # confidence_job_search of mentees 0-4 (mentee 5 never answers)
END = {  # mentee -> (confidence, employment status) at the end survey
    0: (4, "employed_own_field"),
    1: (3, "internship_or_temporary"),
    2: (4, "still_seeking"),  # rose: confidence gained, no change
    3: (5, "employed_own_field"),
}


@pytest.fixture
def sim(stack, nc, db, tmp_path) -> Sim:
    return Sim.started(stack, nc, db, tmp_path, START)


async def answer(sim: Sim, person: UUID, kind: str, answers: dict[str, Any]) -> None:
    invitation = await sim.invitation(person, kind)
    survey = await sim.command(
        GetSurvey(invitation_id=invitation["invitation_id"], person_id=person)
    )
    required = {q["key"] for q in survey["questions"] if q.get("required", True)}
    defaults: dict[str, Any] = {
        "finnish_at_work": 3,
        "professional_network": 3,
        "satisfaction_pair": 4,
        "employment_status": "still_seeking",
        "support_received": ["cv"],
    }
    given = {k: answers.get(k, defaults.get(k)) for k in required if k != "comments"}
    given |= answers
    await sim.command(
        SubmitSurveyResponse(
            invitation_id=invitation["invitation_id"], person_id=person, answers=given
        )
    )


async def simulate_cycle(sim: Sim, db: Any) -> dict[str, Any]:
    """Six mentees and two mentors accepted (ten applied), six pairs, one ended early,
    meetings and missed months, baseline and end surveys answered by some."""
    await sim.open_cycle()
    mentees = [await sim.accept() for _ in range(6)]
    mentors = [await sim.accept(Role.MENTOR) for _ in range(2)]
    for person, role in [
        *((m, Role.MENTEE) for m in mentees),
        *((m, Role.MENTOR) for m in mentors),
    ]:
        await sim.publish(_application(sim, person, role))
    for _ in range(2):  # applied, never accepted
        await sim.publish(_application(sim, uuid4(), Role.MENTEE))
    pairs = [uuid4() for _ in mentees]
    for i, (pair, mentee) in enumerate(zip(pairs, mentees, strict=True)):
        await sim.publish(
            PairFormed(
                pair_id=pair,
                cycle_id=sim.cycle,
                mentee_id=mentee,
                mentor_id=mentors[i % 2],
                score=0.7,
            )
        )
    await eventually(lambda: _at_least(db, "feedback.pairs", 6))
    # pairs 0-3 meet every month March-October; pair 4 twice then misses; pair 5 ends in May
    for pair in pairs[:4]:
        for month in range(3, 11):
            await sim.publish(_meeting(sim, pair, date(2031, month, 15)))
    for month in (3, 4):
        await sim.publish(_meeting(sim, pairs[4], date(2031, month, 15)))
    for month in range(5, 11):
        await sim.publish(
            MeetingMissed(pair_id=pairs[4], cycle_id=sim.cycle, month=date(2031, month, 1))
        )
    await sim.publish(MeetingMissed(pair_id=pairs[5], cycle_id=sim.cycle, month=date(2031, 3, 1)))
    await eventually(lambda: _at_least(db, "feedback.meetings", 34))
    await eventually(lambda: _at_least(db, "feedback.missed_months", 7))

    sim.move_to(at(2031, 3, 2))
    await sim.caught_up()
    for person, confidence in zip(mentees[:5], BASELINE, strict=True):
        await answer(sim, person, "baseline", {"confidence_job_search": confidence})

    sim.move_to(at(2031, 5, 10))
    await sim.publish(
        PairEnded(pair_id=pairs[5], cycle_id=sim.cycle, reason_code="mentee_withdrew")
    )
    await eventually(lambda: count(db, "feedback.pairs", "ended_at IS NOT NULL"))

    sim.move_to(at(2031, 7, 2))  # mid-way invitations go out; nobody answers
    await sim.caught_up()
    sim.move_to(at(2031, 11, 2))
    await sim.caught_up()
    for i, (confidence, status) in END.items():
        await answer(
            sim,
            mentees[i],
            "end",
            {"confidence_job_search": confidence, "employment_status": status},
        )
    await eventually(lambda: _at_least(db, "feedback.outcomes", 4, "outcome IS NOT NULL"))
    return {"mentees": mentees, "pairs": pairs}


def _application(sim: Sim, person: UUID, role: Role) -> ApplicationReceived:
    return ApplicationReceived(
        application_id=uuid4(),
        person_id=person,
        cycle_id=sim.cycle,
        role=role,
        submitted_at=sim.clock.now(),
    )


def _meeting(sim: Sim, pair: UUID, held_on: date) -> MeetingHeld:
    return MeetingHeld(
        meeting_id=uuid4(),
        pair_id=pair,
        cycle_id=sim.cycle,
        held_on=held_on,
        minutes=60,
        mode=MeetingMode.ONLINE,
    )


async def test_a_simulated_cycle_gives_report_figures_that_match_the_answers(sim: Sim, db) -> None:
    await simulate_cycle(sim, db)
    reply = await sim.command(GetReport(cycle_ids=[sim.cycle], language="en"))
    report = reply["report"]
    assert reply["cycle_ids"] == [str(sim.cycle)]
    assert report["applicants"] == {"mentee": 8, "mentor": 2}
    assert report["accepted"] == {"mentee": 6, "mentor": 2}
    assert report["pairs_formed"] == 6
    assert (report["pairs_completed"], report["pairs_ended_early"], report["pairs_running"]) == (
        5,
        1,
        0,
    )
    # outcomes derived from the end answers: 2 own field, 1 internship, 1 confidence gained
    assert report["outcome_counts"] == {
        "employed_own_field": 2,
        "employed_other_field": 0,
        "internship_or_temporary": 1,
        "further_education": 0,
        "confidence_no_change": 1,
        "other": 0,
    }
    assert report["mentees"] == 6 and report["no_outcome_yet"] == 2
    assert report["outcome_shares"]["employed_own_field"] == 0.5
    confidence = next(
        s
        for s in report["scores"]
        if s["role"] == "mentee" and s["question"] == "confidence_job_search"
    )
    assert confidence["by_kind"]["baseline"] == {"n": 5, "mean": 2.0}
    assert confidence["by_kind"]["end"] == {"n": 4, "mean": 4.0}
    assert confidence["change"] == {"n": 4, "mean": 2.0}  # (2+2+1+3) / 4
    rates = {r["kind"]: r for r in report["response_rates"]}
    assert (rates["baseline"]["invited"], rates["baseline"]["completed"]) == (6, 5)
    assert (rates["end"]["invited"], rates["end"]["completed"]) == (8, 4)  # mentors too
    assert rates["midway"]["completed"] == 0 and rates["midway"]["invited"] == 8
    assert report["meetings_held"] == 34
    assert (report["months_met"], report["months_missed"]) == (34, 7)
    assert report["pairs_meeting_monthly"] == 4
    assert "Employed in own field" in reply["charts"]["outcomes"]
    assert "2 (50%)" in reply["charts"]["outcomes"]

    across = (await sim.command(GetReport(all_years=True)))["report"]
    assert list(across["years"]) == ["2031"] and across["years"]["2031"]["pairs_formed"] == 6

    xlsx = await sim.command(ExportReport(cycle_ids=[sim.cycle], format="xlsx", language="fi"))
    book = load_workbook(io.BytesIO(base64.b64decode(xlsx["content_base64"])))
    outcomes = {r[0]: r[1:] for r in book["Tulokset"].iter_rows(values_only=True) if r[0]}
    assert outcomes["Työllistyi omalle alalle"][:2] == (2, 0.5)
    assert xlsx["filename"].endswith(".xlsx")

    pdf = await sim.command(
        ExportReport(cycle_ids=[sim.cycle], format="pdf", language="en", title="Spring 2031")
    )
    words = "\n".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(base64.b64decode(pdf["content_base64"]))).pages
    )
    assert "Spring 2031" in words and "Employed in own field 2 (50%)" in words
    assert "Pairs formed 6" in words

    research = await sim.command(ExportReport(cycle_ids=[sim.cycle], format="research"))
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(research["content_base64"]).decode())))
    assert len(rows) == 6
    assert {r["cohort"] for r in rows} == {"2031-03"}
    assert {r["outcome"] for r in rows} == {"*"}  # no outcome is shared by five mentees
    text = base64.b64decode(research["content_base64"]).decode()
    assert not any(str(m) in text for m in await _people(db))


async def _people(db: Any) -> list[UUID]:
    return [r["person_id"] for r in await db.fetch("SELECT person_id FROM feedback.participants")]


async def test_report_queries_refuse_a_bad_scope_and_other_organisations_cycles(sim: Sim) -> None:
    await sim.open_cycle()
    cases: list[tuple[Any, str, str]] = [
        (GetReport(), "scope", "cycle_ids"),
        (GetReport(cycle_ids=[sim.cycle], all_years=True), "scope", "cycle_ids"),
        (GetReport(cycle_ids=[uuid4()]), "unknown_cycle", "cycle_ids"),
        (ExportReport(cycle_ids=[], format="pdf"), "unknown_cycle", "cycle_ids"),
    ]
    for command, code, field in cases:
        with pytest.raises(CommandRejected) as refused:
            await sim.command(command)
        assert (refused.value.code, refused.value.field) == (code, field)
    sim.org = uuid4()  # another organisation asks for this cycle
    with pytest.raises(CommandRejected) as foreign:
        await sim.command(GetReport(cycle_ids=[sim.cycle]))
    assert foreign.value.code == "unknown_cycle"
