"""Feedback's surveys on real NATS and PostgreSQL, driven by published events and the moved
clock (`FileClock`), without intake: the cycle's surveys and each participant's invitations
planned, `SurveyInvitationDue` at the right moment and the reminder exactly once, answers
checked and stored once (`SurveyCompleted` once, no free text in it), withdrawals cancelling,
and a restart of feedback between a job's due time and its firing still firing once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from shared.commands import (
    CommandRejected,
    GetSurvey,
    GetSurveyTemplates,
    SaveSurveyTemplate,
    SubmitSurveyResponse,
)
from shared.events import (
    ApplicantAccepted,
    ApplicationWithdrawn,
    CycleOpened,
    MatchingProfile,
    Role,
    SurveyCompleted,
    SurveyInvitationDue,
)
from tests.conftest import eventually
from tests.helpers import ServiceSim, count

HELSINKI = ZoneInfo("Europe/Helsinki")
START = datetime(2031, 2, 1, 12, 0, tzinfo=HELSINKI)
STARTS_ON, ENDS_ON = date(2031, 3, 1), date(2031, 10, 31)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=HELSINKI)


class Sim(ServiceSim):
    """Feedback on the moved clock; `programme` is the test cycle's programme."""

    service, jobs_table = "feedback", "feedback.survey_jobs"

    def __init__(self, stack: Any, nc: Any, db: Any, clock_file: Path) -> None:
        super().__init__(stack, nc, db, clock_file)
        self.programme = uuid4()

    async def open_cycle(self) -> None:
        await self.publish(
            CycleOpened(
                cycle_id=self.cycle,
                programme_id=self.programme,
                applications_open=date(2031, 1, 1),
                applications_close=date(2031, 2, 15),
                starts_on=STARTS_ON,
                ends_on=ENDS_ON,
            )
        )
        await eventually(lambda: count(self.db, "feedback.surveys", "cycle_id = $1", self.cycle))

    async def accept(self, role: Role = Role.MENTEE) -> UUID:
        person = uuid4()
        await self.publish(
            ApplicantAccepted(
                application_id=uuid4(),
                person_id=person,
                cycle_id=self.cycle,
                profile=MatchingProfile(role=role, isco_code="2142", education_level=7),
            )
        )
        await eventually(lambda: count(self.db, "feedback.participants", "person_id = $1", person))
        return person

    async def invitation(self, person: UUID, kind: str) -> Any:
        return await self.db.fetchrow(
            "SELECT * FROM feedback.invitations WHERE person_id = $1 AND kind = $2", person, kind
        )


@pytest.fixture
def sim(stack, nc, db, tmp_path) -> Sim:
    return Sim.started(stack, nc, db, tmp_path, START)


def dues(events: list[dict[str, Any]], person: UUID, *, reminder: bool) -> list[dict[str, Any]]:
    return [e for e in events if e["person_id"] == str(person) and e["reminder"] is reminder]


async def test_surveys_planned_invited_reminded_once_and_answered_once(sim: Sim, db) -> None:
    await sim.open_cycle()
    # Mentees get all four surveys, mentors the mid-way and end ones (the defaults).
    kinds = {
        (r["kind"], r["role"]): (r["opens_on"], r["closes_on"])
        for r in await db.fetch("SELECT kind, role, opens_on, closes_on FROM feedback.surveys")
    }
    assert kinds == {
        ("baseline", "mentee"): (date(2031, 3, 1), date(2031, 3, 21)),
        ("midway", "mentee"): (date(2031, 7, 1), date(2031, 7, 21)),
        ("midway", "mentor"): (date(2031, 7, 1), date(2031, 7, 21)),
        ("end", "mentee"): (date(2031, 10, 31), date(2031, 11, 20)),
        ("end", "mentor"): (date(2031, 10, 31), date(2031, 11, 20)),
        ("follow_up", "mentee"): (date(2032, 4, 30), date(2032, 5, 20)),
    }
    answering, silent, leaving = await sim.accept(), await sim.accept(), await sim.accept()
    mentor = await sim.accept(Role.MENTOR)
    assert await count(db, "feedback.invitations", "person_id = $1", answering) == 4
    assert await count(db, "feedback.invitations", "person_id = $1", mentor) == 2
    first = await sim.invitation(answering, "baseline")
    assert first["due_at"] == at(2031, 3, 1, 9)

    # Nothing before the morning the survey opens.
    sim.move_to(at(2031, 3, 1, 8))
    await sim.caught_up()
    assert await sim.published(SurveyInvitationDue) == []

    # She leaves before the baseline: her invitations are cancelled, nothing is sent to her.
    await sim.publish(
        ApplicationWithdrawn(application_id=uuid4(), person_id=leaving, cycle_id=sim.cycle)
    )
    await eventually(
        lambda: count(
            db, "feedback.invitations", "person_id = $1 AND cancelled_at IS NOT NULL", leaving
        )
    )

    sim.move_to(at(2031, 3, 1, 9))
    await sim.caught_up()

    async def invited() -> list[dict[str, Any]]:
        found = await sim.published(SurveyInvitationDue)
        return found if len(found) == 2 else []

    sent = await eventually(invited)
    assert {e["person_id"] for e in sent} == {str(answering), str(silent)}
    assert all(e["kind"] == "baseline" and e["closes_on"] == "2031-03-21" for e in sent)

    # She answers on the third day, with free text; the same command again is the same answer.
    sim.move_to(at(2031, 3, 3))
    survey = await sim.command(GetSurvey(invitation_id=first["invitation_id"], person_id=answering))
    assert survey["status"] == "open" and survey["kind"] == "baseline"
    keys = [q["key"] for q in survey["questions"]]
    assert keys == [
        "confidence_job_search",
        "finnish_at_work",
        "professional_network",
        "employment_status",
        "comments",
    ]
    answers = {
        "confidence_job_search": 2,
        "finnish_at_work": 3,
        "professional_network": 1,
        "employment_status": "still_seeking",
        "comments": "Minulla on salainen toive",
    }
    submit = SubmitSurveyResponse(
        invitation_id=first["invitation_id"], person_id=answering, answers=answers
    )
    command_id = uuid4()
    done = await sim.command(submit, command_id=command_id)
    again = await sim.command(submit, command_id=command_id)
    assert done == again
    # A second, different answer sheet is refused clearly.
    with pytest.raises(CommandRejected) as refused:
        await sim.command(
            SubmitSurveyResponse(
                invitation_id=first["invitation_id"],
                person_id=answering,
                answers=answers | {"confidence_job_search": 5},
            )
        )
    assert refused.value.code == "already_answered"
    stored = await db.fetchrow("SELECT * FROM feedback.responses")
    assert await count(db, "feedback.responses") == 1
    assert "comments" not in stored["answers"] and "salainen" not in stored["answers"]
    cipher = await db.fetchval("SELECT ciphertext FROM feedback.response_texts")
    assert b"salainen" not in cipher

    async def completed_once() -> list[dict[str, Any]]:
        return await sim.published(SurveyCompleted)

    completed = await eventually(completed_once)
    assert len(completed) == 1
    assert completed[0]["person_id"] == str(answering) and completed[0]["kind"] == "baseline"
    assert "salainen" not in str(completed)

    # A week later: one reminder, for the silent one only; never a second one.
    sim.move_to(at(2031, 3, 8, 10))
    await sim.caught_up()

    async def reminded() -> list[dict[str, Any]]:
        return dues(await sim.published(SurveyInvitationDue), silent, reminder=True)

    assert len(await eventually(reminded)) == 1
    sim.move_to(at(2031, 3, 20))
    await sim.caught_up()
    events = await sim.published(SurveyInvitationDue)
    assert dues(events, answering, reminder=True) == []
    assert len(dues(events, silent, reminder=True)) == 1
    assert dues(events, leaving, reminder=False) == []

    # After it closes, answers are refused and nothing is stored.
    sim.move_to(at(2031, 3, 22))
    late = await sim.invitation(silent, "baseline")
    with pytest.raises(CommandRejected) as closed:
        await sim.command(
            SubmitSurveyResponse(
                invitation_id=late["invitation_id"],
                person_id=silent,
                answers={k: v for k, v in answers.items() if k != "comments"},
            )
        )
    assert closed.value.code == "survey_closed"
    assert await count(db, "feedback.responses") == 1


async def test_bad_answers_are_refused_naming_the_question(sim: Sim, db) -> None:
    await sim.open_cycle()
    person = await sim.accept()
    invitation = (await sim.invitation(person, "baseline"))["invitation_id"]
    good = {
        "confidence_job_search": 4,
        "finnish_at_work": 3,
        "professional_network": 2,
        "employment_status": "employed_other_field",
    }
    sim.move_to(at(2031, 2, 27))
    with pytest.raises(CommandRejected) as early:
        await sim.command(
            SubmitSurveyResponse(invitation_id=invitation, person_id=person, answers=good)
        )
    assert early.value.code == "survey_not_open"
    sim.move_to(at(2031, 3, 2))
    cases = [
        (good | {"finnish_at_work": 6}, "out_of_range", "answers.finnish_at_work"),
        (good | {"finnish_at_work": 0}, "out_of_range", "answers.finnish_at_work"),
        (good | {"employment_status": "astronaut"}, "not_an_option", "answers.employment_status"),
        (
            {k: v for k, v in good.items() if k != "professional_network"},
            "required",
            "answers.professional_network",
        ),
        (good | {"favourite_colour": "red"}, "unknown_question", "answers.favourite_colour"),
    ]
    for answers, code, field in cases:
        with pytest.raises(CommandRejected) as bad:
            await sim.command(
                SubmitSurveyResponse(invitation_id=invitation, person_id=person, answers=answers)
            )
        assert (bad.value.code, bad.value.field) == (code, field)
    # Someone else's person id with her invitation: unknown.
    with pytest.raises(CommandRejected) as forged:
        await sim.command(
            SubmitSurveyResponse(invitation_id=invitation, person_id=uuid4(), answers=good)
        )
    assert forged.value.code == "unknown_invitation"
    assert await count(db, "feedback.responses") == 0
    assert await count(db, "feedback.invitations", "completed_at IS NOT NULL") == 0
    assert await sim.published(SurveyCompleted) == []


async def test_templates_versioned_and_unopened_surveys_take_the_new_version(sim: Sim, db) -> None:
    await sim.open_cycle()
    templates = await sim.command(GetSurveyTemplates(programme_id=sim.programme))
    by = {(t["kind"], t["role"]): t for t in templates["templates"]}
    assert by[("baseline", "mentee")]["source"] == "default"
    assert by[("baseline", "mentor")]["questions"] == []
    questions = by[("midway", "mentee")]["questions"]
    with pytest.raises(CommandRejected) as bad:
        await sim.command(
            SaveSurveyTemplate(
                programme_id=sim.programme,
                kind="midway",
                role="mentee",
                questions=[*questions, {"key": "x", "type": "likert", "label": {"fi": "x"}}],
                updated_by="tester",
            )
        )
    assert bad.value.code == "bad_key" and bad.value.field == f"questions.{len(questions)}.key"
    new = {
        "key": "mentor_meetings_useful",
        "type": "likert",
        "required": True,
        "label": {"fi": "Ovatko tapaamiset hyödyllisiä?", "en": "Are the meetings useful?"},
    }
    # The baseline opens first (it keeps its copy once opened)...
    sim.move_to(at(2031, 3, 1, 10))
    await sim.caught_up()
    saved = await sim.command(
        SaveSurveyTemplate(
            programme_id=sim.programme,
            kind="midway",
            role="mentee",
            questions=[*questions, new],
            updated_by="tester",
        )
    )
    assert saved == {"version": 2, "surveys_updated": 1}
    midway = await db.fetchrow(
        "SELECT template_version, questions FROM feedback.surveys WHERE kind = 'midway' AND role = 'mentee'"
    )
    assert midway["template_version"] == 2
    again = await sim.command(GetSurveyTemplates(programme_id=sim.programme))
    by = {(t["kind"], t["role"]): t for t in again["templates"]}
    assert by[("midway", "mentee")]["source"] == "programme"
    assert by[("midway", "mentee")]["questions"][-1]["key"] == "mentor_meetings_useful"

    # A kind that had no survey for mentors gets one (and her invitation); emptied, it goes.
    mentor = await sim.accept(Role.MENTOR)
    assert await count(db, "feedback.invitations", "person_id = $1", mentor) == 2
    follow_up = [
        {
            "key": "still_volunteering",
            "type": "single",
            "label": {"fi": "Jatkatko mentorina?", "en": "Will you mentor again?"},
            "options": [
                {"key": "yes", "label": {"fi": "Kyllä", "en": "Yes"}},
                {"key": "no", "label": {"fi": "En", "en": "No"}},
            ],
        }
    ]
    created = await sim.command(
        SaveSurveyTemplate(
            programme_id=sim.programme,
            kind="follow_up",
            role="mentor",
            questions=follow_up,
            updated_by="tester",
        )
    )
    assert created == {"version": 2, "surveys_updated": 1}
    mentor_follow_up = "person_id = $1 AND kind = 'follow_up'"
    assert await count(db, "feedback.invitations", mentor_follow_up, mentor) == 1
    assert await count(db, "feedback.survey_jobs", "fired_at IS NULL") >= 1
    emptied = await sim.command(
        SaveSurveyTemplate(
            programme_id=sim.programme,
            kind="follow_up",
            role="mentor",
            questions=[],
            updated_by="tester",
        )
    )
    assert emptied == {"version": 3, "surveys_updated": 1}
    assert await count(db, "feedback.invitations", mentor_follow_up, mentor) == 0
    assert await count(db, "feedback.surveys", "kind = 'follow_up' AND role = 'mentor'") == 0
    # The opened baseline kept its questions: saving it again changes no survey.
    baseline = by[("baseline", "mentee")]["questions"][:2]
    kept = await sim.command(
        SaveSurveyTemplate(
            programme_id=sim.programme,
            kind="baseline",
            role="mentee",
            questions=baseline,
            updated_by="tester",
        )
    )
    assert kept == {"version": 2, "surveys_updated": 0}
    snapshot = await db.fetchval(
        "SELECT questions::text FROM feedback.surveys WHERE kind = 'baseline' AND role = 'mentee'"
    )
    assert "employment_status" in snapshot


async def test_a_withdrawal_consumed_before_the_acceptance_invites_nobody(sim: Sim, db) -> None:
    await sim.open_cycle()
    application, person = uuid4(), uuid4()
    await sim.publish(
        ApplicationWithdrawn(application_id=application, person_id=person, cycle_id=sim.cycle)
    )
    await eventually(lambda: count(db, "feedback.survey_withdrawals", "person_id = $1", person))
    await sim.publish(
        ApplicantAccepted(
            application_id=application,
            person_id=person,
            cycle_id=sim.cycle,
            profile=MatchingProfile(role=Role.MENTEE, isco_code="2142", education_level=7),
        )
    )
    await eventually(lambda: count(db, "feedback.participants", "person_id = $1", person))
    assert await count(db, "feedback.participants", "withdrawn_at IS NOT NULL") == 1
    assert await count(db, "feedback.invitations", "person_id = $1", person) == 0
    # Someone else accepted in the same cycle is invited as usual.
    other = await sim.accept()
    assert await count(db, "feedback.invitations", "person_id = $1", other) == 4


async def test_restart_between_due_and_firing_fires_once(sim: Sim, db) -> None:
    await sim.open_cycle()
    person = await sim.accept()
    sim.stop()
    sim.move_to(at(2031, 3, 1, 11))
    sim.start()
    await sim.caught_up()
    sim.stop()
    sim.start()
    await sim.caught_up()

    async def one() -> list[dict[str, Any]]:
        return dues(await sim.published(SurveyInvitationDue), person, reminder=False)

    assert len(await eventually(one)) == 1
    row = await sim.invitation(person, "baseline")
    assert row["invited_at"] is not None and row["reminder_due_at"] is not None
    assert await count(db, "feedback.survey_jobs", "kind = 'remind' AND fired_at IS NULL") == 1
