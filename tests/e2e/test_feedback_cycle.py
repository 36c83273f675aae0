"""A whole cycle's feedback on the four real services, NATS and PostgreSQL, with the clock
moved forward (`FileClock`) from the application window to the follow-up six months after
the end:

applicants accepted in intake → pairs formed by matching → meetings logged in scheduling →
each survey's invitations e-mailed by intake on the morning it opens (not the evening
before), the one reminder a week later to those who have not answered, never twice →
answers through the e-mailed link and the portal → `SurveyCompleted` → outcomes derived
(end survey, then the follow-up changing one), `OutcomeRecorded` once per change → a
coordinator's override on the outcomes screen → report figures that match the answers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.intake.domain import add_months
from shared.clock import FileClock
from shared.commands import (
    ConfirmPairs,
    GetReport,
    GetSurvey,
    ProposeMatches,
    RecordMeeting,
    SubmitSurveyResponse,
    send,
)
from shared.envelope import Envelope
from shared.events import MeetingMode, OutcomeRecorded
from shared.subjects import stream_name
from tests.conftest import eventually
from tests.e2e.test_surveys import Cycle, at_morning, token_of
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

MENTEES = {"Amina": "fi", "Grace": "en", "Olena": "fi"}
MENTORS = ("Liisa", "Sanna", "Anna")


class Run(Cycle):
    """The running cycle: its services, clock, people and the coordinator's login."""

    org: UUID
    cycle_id: UUID
    ids: dict[str, UUID]
    email: str

    async def command(self, command: Any) -> dict[str, Any]:
        return await send(
            self.nc,
            command,
            organisation_id=self.org,
            clock=FileClock(self.clock_file),
            wait_seconds=15,
        )

    async def answer(self, name: str, kind: str, answers: dict[str, Any]) -> None:
        """Her answers through feedback's command (what the portal sends)."""
        invitation = await self.db.fetchval(
            "SELECT invitation_id FROM feedback.invitations WHERE person_id = $1 AND kind = $2",
            self.ids[name],
            kind,
        )
        survey = await self.command(GetSurvey(invitation_id=invitation, person_id=self.ids[name]))
        assert survey["status"] == "open", survey
        await self.command(
            SubmitSurveyResponse(
                invitation_id=invitation, person_id=self.ids[name], answers=answers
            )
        )

    async def published(self, n: int) -> list[tuple[str, str, str]]:
        """The outcome events once `n` are on the stream (and no more appear by then)."""

        async def enough() -> list[tuple[str, str, str]]:
            found = await self.outcomes()
            return found if len(found) >= n else []

        found = await eventually(enough)
        assert len(found) == n, found
        return found

    async def outcomes(self) -> list[tuple[str, str, str]]:
        """The `OutcomeRecorded` events on feedback's stream: (who, outcome, source), in order.
        (Not the outbox: the relay purges published rows a week later, by the moved clock.)"""
        js = self.nc.jetstream()
        info = await js.stream_info(stream_name("feedback"))
        names = {str(v): k for k, v in self.ids.items()}
        found = []
        if info.state.messages == 0:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            envelope = Envelope.from_bytes((await js.get_msg(stream_name("feedback"), seq)).data)
            if envelope.type == OutcomeRecorded.type_name():
                data = envelope.data
                found.append((names[data["person_id"]], data["outcome"], data["source"]))
        return found


@pytest.fixture
def run(stack, db, nc, tmp_path) -> Run:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    r = Run(stack, db, nc, clock_file)
    stack.start("intake", "matching", "scheduling", "feedback", **r.env)
    return r


async def _people_in_intake(run: Run) -> None:
    """Three mentees and three mentors apply, all accepted; matching forms three pairs."""
    stack, db = run.stack, run.db
    base = stack["intake"].base_url
    run.org, run.cycle_id = await open_cycle(stack.database_url)
    run.ids = {}
    for name, language in MENTEES.items():
        payload = application_payload(run.cycle_id)
        payload["contact"] |= {"given_name": name, "family_name": "Esimerkki", "language": language}
        run.ids[name] = UUID((await submit(base, payload)).json()["person_id"])
    for name, employer in zip(MENTORS, ("Kone", "HUS", "Nokia"), strict=True):
        payload = application_payload(
            run.cycle_id, role="mentor", identifies_as_woman=None, background=None
        )
        payload["consents"] = {"processing": True}
        payload["contact"] |= {"given_name": name, "family_name": "Virtanen"}
        payload["profile"] |= {"employer": employer}
        response = await submit(base, payload)
        assert response.status_code == 201, response.text
        run.ids[name] = UUID(response.json()["person_id"])
    run.email = await add_coordinator(stack.database_url, run.org)
    client = await logged_in(base, run.email)
    queue = f"/coordinator/cycles/{run.cycle_id}"
    ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM intake.applications")]
    token = csrf_from((await client.get(queue)).text)
    accepted = await client.post(
        f"{queue}/bulk-accept", data={"csrf_token": token, "application_id": ids}
    )
    assert "accepted=6" in accepted.headers["location"]
    await client.aclose()
    await eventually(lambda: _is(db, "SELECT count(*) FROM matching.profiles", 6), timeout=30)
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.participants", 6))
    proposal = await run.command(ProposeMatches(cycle_id=run.cycle_id))
    assert proposal["pairs"] == 3
    await run.command(ConfirmPairs(cycle_id=run.cycle_id, run_id=UUID(proposal["run_id"])))
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.pairs", 3))
    await eventually(lambda: _is(db, "SELECT count(*) FROM scheduling.pairs", 3))


async def _is(db: Any, sql: str, expected: Any, *args: Any) -> bool:
    return await db.fetchval(sql, *args) == expected


async def _pair_of(run: Run, mentee: str) -> UUID:
    pair: UUID = await run.db.fetchval(
        "SELECT pair_id FROM scheduling.pairs WHERE mentee_id = $1", run.ids[mentee]
    )
    return pair


async def _mails_on_the_morning(run: Run, kind: str, opens: date, n: int) -> list[Any]:
    """None the evening before the survey opens; `n` invitations that morning."""
    run.move_to(at_morning(opens - timedelta(days=1), 20))
    await run.caught_up()
    assert await run.mails("survey_invitation", kind) == []
    run.move_to(at_morning(opens))
    await run.caught_up()
    return await run.sent("survey_invitation", n, kind)


async def _by_link(run: Run, mail: Any, answers: dict[str, Any]) -> None:
    """She opens the link in her e-mail and sends the survey page's form."""
    async with httpx.AsyncClient(base_url=run.stack["intake"].base_url, timeout=15) as web:
        url = f"/survey/{token_of(mail)}"
        page = await web.get(url)
        assert page.status_code == 200
        sent = await web.post(url, data={**answers, "csrf_token": csrf_from(page.text)})
        assert sent.status_code == 303, sent.text


async def test_a_whole_cycle_from_invitations_to_outcomes_and_the_report(run: Run, db) -> None:
    await _people_in_intake(run)
    mentees = [run.ids[name] for name in MENTEES]
    starts_on, ends_on = await db.fetchrow(
        "SELECT starts_on, ends_on FROM intake.cycles WHERE id = $1", run.cycle_id
    )
    midway = starts_on + (ends_on - starts_on) // 2
    follow_up = add_months(ends_on, 6)

    # Baseline: mentees only (the mentors' default baseline has no questions).
    invited = await _mails_on_the_morning(run, "baseline", starts_on, 3)
    assert {r["person_id"] for r in invited} == set(mentees)
    amina_mail = next(r for r in invited if r["person_id"] == run.ids["Amina"])
    await _by_link(
        run,
        amina_mail,
        {
            "q_confidence_job_search": "2",
            "q_finnish_at_work": "3",
            "q_professional_network": "2",
            "q_employment_status": "still_seeking",
            "q_comments": "Etsin työtä laboratoriosta.",
        },
    )
    await run.answer(
        "Grace",
        "baseline",
        {
            "confidence_job_search": 1,
            "finnish_at_work": 2,
            "professional_network": 1,
            "employment_status": "still_seeking",
        },
    )
    # A week later one reminder, for Olena only; twelve days on, still only that one.
    run.move_to(at_morning(starts_on + timedelta(days=7), 10))
    await run.caught_up()
    reminders = await run.sent("survey_reminder", 1)
    assert reminders[0]["person_id"] == run.ids["Olena"]
    run.move_to(at_morning(starts_on + timedelta(days=19), 10))
    await run.caught_up()
    assert len(await run.mails("survey_reminder")) == 1

    # Meetings logged in scheduling during the cycle (two for Amina's pair, one for Grace's).
    run.move_to(at_morning(starts_on + timedelta(days=70), 10))
    for mentee, day in (("Amina", 10), ("Amina", 40), ("Grace", 20)):
        await run.command(
            RecordMeeting(
                pair_id=await _pair_of(run, mentee),
                held_on=starts_on + timedelta(days=day),
                minutes=60,
                mode=MeetingMode.ONLINE,
                logged_by="coordinator",
            )
        )
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.meetings", 3))

    # Mid-way: mentees and mentors invited; nobody answers. End: everyone invited again.
    mid = await _mails_on_the_morning(run, "midway", midway, 6)
    assert {r["person_id"] for r in mid} == set(run.ids.values())
    end = await _mails_on_the_morning(run, "end", ends_on, 6)
    amina_end = next(r for r in end if r["person_id"] == run.ids["Amina"])
    assert await run.outcomes() == []

    # End answers → outcomes: Amina more confident (2 → 4) but still seeking; Grace in an
    # internship; Olena still seeking without more confidence (no baseline, 2): other.
    await _by_link(
        run,
        amina_end,
        {
            "q_confidence_job_search": "4",
            "q_finnish_at_work": "4",
            "q_professional_network": "3",
            "q_satisfaction_pair": "5",
            "q_support_received": ["cv", "network"],
            "q_employment_status": "still_seeking",
            "q_comments": "",
        },
    )
    closing = {"finnish_at_work": 3, "professional_network": 3, "satisfaction_pair": 4}
    await run.answer(
        "Grace",
        "end",
        closing
        | {
            "confidence_job_search": 4,
            "support_received": ["job_interview"],
            "employment_status": "internship_or_temporary",
        },
    )
    await run.answer(
        "Olena",
        "end",
        closing
        | {
            "confidence_job_search": 2,
            "support_received": ["finnish_language"],
            "employment_status": "still_seeking",
        },
    )
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.outcomes", 3))
    assert sorted(await run.published(3)) == [
        ("Amina", "confidence_no_change", "survey"),
        ("Grace", "internship_or_temporary", "survey"),
        ("Olena", "other", "survey"),
    ]

    # Follow-up six months after the end: mentees only. Amina found work in her field (a
    # change: one more event); Grace is still in her internship (no change: no event).
    invited = await _mails_on_the_morning(run, "follow_up", follow_up, 3)
    assert {r["person_id"] for r in invited} == set(mentees)
    await run.answer(
        "Amina",
        "follow_up",
        {
            "confidence_job_search": 5,
            "finnish_at_work": 4,
            "professional_network": 4,
            "employment_status": "employed_own_field",
        },
    )
    await run.answer(
        "Grace",
        "follow_up",
        {
            "confidence_job_search": 4,
            "finnish_at_work": 3,
            "professional_network": 3,
            "employment_status": "internship_or_temporary",
        },
    )
    await eventually(
        lambda: _is(
            db,
            "SELECT outcome FROM feedback.outcomes WHERE person_id = $1",
            "employed_own_field",
            run.ids["Amina"],
        )
    )
    await eventually(lambda: _drained(run))
    events = await run.published(4)
    assert len(events) == 4 and events[-1] == ("Amina", "employed_own_field", "survey")

    # Olena told her coordinator she works in another field: the override, with its reason.
    client = await logged_in(run.stack["intake"].base_url, run.email)
    screen = f"/coordinator/cycles/{run.cycle_id}/outcomes"
    page = await client.get(f"{screen}?lang=en")
    saved = await client.post(
        f"{screen}/override",
        data={
            "csrf_token": csrf_from(page.text),
            "person_id": str(run.ids["Olena"]),
            "outcome": "employed_other_field",
            "reason": "Kertoi puhelimessa aloittaneensa myyjänä (ei vastannut seurantaan).",
        },
    )
    assert saved.status_code == 303
    page = await client.get(f"{screen}?lang=en")
    await client.aclose()
    assert "Olena Esimerkki" in page.text and "set by a coordinator" in page.text
    assert "Employed in her own field (follow-up survey six months later)" in page.text
    events = await run.published(5)
    assert events[-1] == ("Olena", "employed_other_field", "coordinator")

    # The report: figures that match what was given.
    report = (await run.command(GetReport(cycle_ids=[run.cycle_id], language="en")))["report"]
    assert report["applicants"] == {"mentee": 3, "mentor": 3}
    assert report["accepted"] == {"mentee": 3, "mentor": 3}
    assert report["pairs_formed"] == 3 and report["mentees"] == 3
    assert report["outcome_counts"] == {
        "employed_own_field": 1,
        "employed_other_field": 1,
        "internship_or_temporary": 1,
        "further_education": 0,
        "confidence_no_change": 0,
        "other": 0,
    }
    assert report["no_outcome_yet"] == 0
    assert report["outcome_groups"]["work_in_own_field"] == 1
    assert report["outcome_groups"]["step_forward"] == 2
    rates = {r["kind"]: (r["invited"], r["completed"]) for r in report["response_rates"]}
    assert rates["baseline"] == (3, 2)
    assert rates["midway"] == (6, 0)
    assert rates["end"] == (6, 3)
    assert rates["follow_up"] == (3, 2)
    confidence = next(
        s
        for s in report["scores"]
        if s["role"] == "mentee" and s["question"] == "confidence_job_search"
    )
    assert confidence["by_kind"]["baseline"] == {"n": 2, "mean": 1.5}
    assert confidence["by_kind"]["end"]["n"] == 3
    assert confidence["by_kind"]["end"]["mean"] == pytest.approx(10 / 3, abs=0.01)
    assert report["meetings_held"] == 3
    assert await count(db, "feedback.responses") == 7


async def _drained(run: Run) -> bool:
    infos = await run.nc.jetstream().consumers_info("WOMENTO_FEEDBACK")
    mine = [i for i in infos if i.name == "feedback__survey_completed"]
    return bool(mine) and mine[0].num_pending == 0 and mine[0].num_ack_pending == 0
