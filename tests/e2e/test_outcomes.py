"""Outcomes and interviews end to end on real NATS and PostgreSQL: survey responses →
`SurveyCompleted` → the derived outcome and one `OutcomeRecorded` per change → a
coordinator's override (reason required) → the outcomes screen in intake; interview notes
stored encrypted and shown decrypted; a viewer reads only; feedback down → 503."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.clock import SystemClock
from shared.commands import (
    ClearOutcomeOverride,
    CommandRejected,
    GetOutcomes,
    OverrideOutcome,
    RecordInterview,
    ScheduleInterview,
    send,
)
from shared.events import Outcome, SurveyCompleted, SurveyKind
from tests.conftest import eventually
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    publish,
    submit,
)

NOTE = "Sai harjoittelupaikan Koneelta; haluaa harjoitella työhaastattelua."


@pytest.fixture
async def cohort(stack, db, nc) -> dict[str, Any]:
    stack.start("intake", "feedback")
    return await make_cohort(stack, db, nc)


async def make_cohort(stack, db, nc) -> dict[str, Any]:
    """Two accepted mentees and a mentor, known to feedback as participants (intake and
    feedback running)."""
    org, cycle = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    ids: dict[str, UUID] = {}
    for name in ("Amina", "Olena"):
        payload = application_payload(cycle)
        payload["contact"] |= {"given_name": name, "family_name": "Testinen"}
        ids[name] = UUID((await submit(base, payload)).json()["person_id"])
    mentor = application_payload(cycle, role="mentor", identifies_as_woman=None, background=None)
    mentor["consents"] = {"processing": True}
    mentor["contact"] |= {"given_name": "Liisa"}
    mentor["profile"] |= {"employer": "Kone"}
    response = await submit(base, mentor)
    assert response.status_code == 201, response.text
    ids["Liisa"] = UUID(response.json()["person_id"])
    email = await add_coordinator(stack.database_url, org)
    client = await logged_in(base, email)
    queue = f"/coordinator/cycles/{cycle}"
    application_ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM intake.applications")]
    accepted = await client.post(
        f"{queue}/bulk-accept",
        data={
            "csrf_token": csrf_from((await client.get(queue)).text),
            "application_id": application_ids,
        },
    )
    assert "accepted=3" in accepted.headers["location"]
    await client.aclose()
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.participants", 3))
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.cycles", 1))

    async def command(cmd: Any) -> dict[str, Any]:
        return await send(nc, cmd, organisation_id=org, clock=SystemClock(), wait_seconds=10)

    return {"org": org, "cycle": cycle, "ids": ids, "command": command, "email": email}


async def _is(db, sql: str, expected: Any, *args: Any) -> bool:
    return await db.fetchval(sql, *args) == expected


async def answer(
    db, nc, cohort: dict[str, Any], person: str, kind: SurveyKind, answers: dict[str, Any]
) -> UUID:
    """A stored response and its `SurveyCompleted`, as feedback's survey module writes them."""
    role = "mentor" if person == "Liisa" else "mentee"
    response_id, survey_id = uuid4(), uuid4()
    completed = datetime.now(UTC)
    await db.execute(
        "INSERT INTO feedback.responses (response_id, invitation_id, survey_id, organisation_id,"
        " cycle_id, person_id, role, kind, answers, completed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
        response_id,
        uuid4(),
        survey_id,
        cohort["org"],
        cohort["cycle"],
        cohort["ids"][person],
        role,
        kind.value,
        json.dumps(answers),
        completed,
    )
    event = SurveyCompleted(
        response_id=response_id,
        survey_id=survey_id,
        person_id=cohort["ids"][person],
        cycle_id=cohort["cycle"],
        kind=kind,
        completed_at=completed,
    )
    cohort["last_published"] = await publish(nc, event, organisation_id=cohort["org"])
    return response_id


async def recorded(db) -> list[dict[str, Any]]:
    """The `OutcomeRecorded` events feedback staged (and published), oldest first."""
    rows = await db.fetch(
        "SELECT payload FROM feedback.outbox WHERE event_type LIKE '%outcome_recorded%'"
        " ORDER BY created_at"
    )
    return [json.loads(bytes(r["payload"]))["data"] for r in rows]


async def settled(db, nc) -> bool:
    infos = await nc.jetstream().consumers_info("WOMENTO_FEEDBACK")
    mine = [i for i in infos if i.name == "feedback__survey_completed"]
    return bool(mine) and mine[0].num_pending == 0 and mine[0].num_ack_pending == 0


async def test_surveys_derive_outcomes_once_and_a_coordinator_overrides_with_reason(
    cohort, db, nc
) -> None:
    amina = cohort["ids"]["Amina"]
    outcome_of = "SELECT outcome FROM feedback.outcomes WHERE person_id = $1"

    await answer(db, nc, cohort, "Amina", SurveyKind.BASELINE, {"confidence_job_search": 2})
    end = await answer(
        db,
        nc,
        cohort,
        "Amina",
        SurveyKind.END,
        {"employment_status": "still_seeking", "confidence_job_search": 3},
    )
    await eventually(lambda: _is(db, outcome_of, "confidence_no_change", amina))
    # the same event delivered again (past JetStream's de-duplication) changes nothing
    again = cohort["last_published"]
    await nc.jetstream().publish(
        again.nats_subject,
        again.to_bytes(),
        headers={"Nats-Msg-Id": f"redelivered-{again.id}"},
    )
    row = await db.fetchrow("SELECT * FROM feedback.outcomes WHERE person_id = $1", amina)
    assert row["derived_from_response_id"] == end and row["override_outcome"] is None

    # a response that changes nothing records nothing; a mentor gets no outcome
    await answer(db, nc, cohort, "Amina", SurveyKind.MIDWAY, {"confidence_job_search": 4})
    await answer(db, nc, cohort, "Liisa", SurveyKind.END, {"employment_status": "other"})
    await eventually(lambda: settled(db, nc))
    assert await count(db, "feedback.outcomes", "person_id = $1", cohort["ids"]["Liisa"]) == 0
    events = await recorded(db)
    assert [(e["outcome"], e["source"]) for e in events] == [("confidence_no_change", "survey")]
    assert events[0]["person_id"] == str(amina)

    # an override without a reason is refused, naming the field; nothing changes
    command = cohort["command"]
    coordinator = uuid4()
    for reason in ("", "  ", "x" * 501):
        with pytest.raises(CommandRejected) as refused:
            await command(
                OverrideOutcome(
                    person_id=amina,
                    cycle_id=cohort["cycle"],
                    outcome=Outcome.INTERNSHIP_OR_TEMPORARY,
                    reason=reason,
                    coordinator_id=coordinator,
                )
            )
        assert refused.value.field == "reason"
        assert refused.value.code in ("reason_required", "reason_too_long")
    assert await db.fetchval(outcome_of, amina) == "confidence_no_change"
    assert len(await recorded(db)) == 1

    # only mentees have outcomes
    with pytest.raises(CommandRejected) as refused:
        await command(
            OverrideOutcome(
                person_id=cohort["ids"]["Liisa"],
                cycle_id=cohort["cycle"],
                outcome=Outcome.OTHER,
                reason="she asked",
                coordinator_id=coordinator,
            )
        )
    assert (refused.value.code, refused.value.field) == ("not_a_mentee", "person_id")

    # the override wins, once, with its reason and author
    reply = await command(
        OverrideOutcome(
            person_id=amina,
            cycle_id=cohort["cycle"],
            outcome=Outcome.INTERNSHIP_OR_TEMPORARY,
            reason="Harjoittelupaikka alkoi kesäkuussa (loppuhaastattelu).",
            coordinator_id=coordinator,
        )
    )
    assert reply == {"outcome": "internship_or_temporary", "changed": True}
    row = await db.fetchrow("SELECT * FROM feedback.outcomes WHERE person_id = $1", amina)
    assert (row["outcome"], row["derived_outcome"]) == (
        "internship_or_temporary",
        "confidence_no_change",
    )
    assert row["overridden_by"] == coordinator
    assert [(e["outcome"], e["source"]) for e in await recorded(db)][1:] == [
        ("internship_or_temporary", "coordinator")
    ]

    # a later survey updates the derived outcome but does not replace the override
    await answer(
        db, nc, cohort, "Amina", SurveyKind.FOLLOW_UP, {"employment_status": "employed_own_field"}
    )
    await eventually(
        lambda: _is(
            db,
            "SELECT derived_outcome FROM feedback.outcomes WHERE person_id = $1",
            "employed_own_field",
            amina,
        )
    )
    await eventually(lambda: settled(db, nc))
    assert await db.fetchval(outcome_of, amina) == "internship_or_temporary"
    assert len(await recorded(db)) == 2

    # clearing the override goes back to her surveys: employed in her own field
    reply = await command(
        ClearOutcomeOverride(person_id=amina, cycle_id=cohort["cycle"], coordinator_id=coordinator)
    )
    assert reply == {"outcome": "employed_own_field", "changed": True}
    assert [(e["outcome"], e["source"]) for e in await recorded(db)][2:] == [
        ("employed_own_field", "survey")
    ]
    # Olena answered no survey: a coordinator's outcome, then cleared, leaves her with none
    # (no event can say "none"; the table does)
    olena = cohort["ids"]["Olena"]
    set_ = await command(
        OverrideOutcome(
            person_id=olena,
            cycle_id=cohort["cycle"],
            outcome=Outcome.FURTHER_EDUCATION,
            reason="Aloitti maisteriopinnot (kertoi puhelimessa).",
            coordinator_id=coordinator,
        )
    )
    assert set_ == {"outcome": "further_education", "changed": True}
    cleared = await command(
        ClearOutcomeOverride(person_id=olena, cycle_id=cohort["cycle"], coordinator_id=coordinator)
    )
    assert cleared == {"outcome": None, "changed": False}
    assert await db.fetchval(outcome_of, olena) is None
    assert [(e["outcome"], e["source"]) for e in await recorded(db)][3:] == [
        ("further_education", "coordinator")
    ]
    # every event reached the stream
    await eventually(lambda: _published(nc, 4))


async def _published(nc, expected: int) -> bool:
    info = await nc.jetstream().stream_info("WOMENTO_FEEDBACK", subjects_filter=">")
    subjects = info.state.subjects or {}
    return subjects.get("womento.feedback.outcome_recorded", 0) == expected


async def test_interviews_are_planned_and_their_notes_kept_encrypted(cohort, db, nc) -> None:
    command = cohort["command"]
    # planned by the consumers of CycleOpened / ApplicantAccepted, before anyone asks:
    # three per mentee (two mentees), none for the mentor
    await eventually(lambda: _is(db, "SELECT count(*) FROM feedback.interviews", 6))
    state = await command(GetOutcomes(cycle_id=cohort["cycle"]))
    mentees = {m["person_id"]: m for m in state["mentees"]}
    assert set(mentees) == {str(cohort["ids"]["Amina"]), str(cohort["ids"]["Olena"])}
    amina = mentees[str(cohort["ids"]["Amina"])]
    points = [i["point"] for i in amina["interviews"]]
    assert points == ["start", "midway", "end"]
    assert amina["outcome"] is None
    starts = datetime.fromisoformat(state["cycle"]["starts_on"]).date()
    assert amina["interviews"][0]["scheduled_on"] == (starts + timedelta(days=14)).isoformat()
    assert await count(db, "feedback.interviews") == 6  # asked twice: planned once
    await command(GetOutcomes(cycle_id=cohort["cycle"]))
    assert await count(db, "feedback.interviews") == 6

    start = amina["interviews"][0]["interview_id"]
    today = datetime.now(UTC).date()
    with pytest.raises(CommandRejected) as refused:
        await command(
            RecordInterview(
                interview_id=UUID(start),
                held_on=today + timedelta(days=2),
                notes=NOTE,
                coordinator_id=uuid4(),
            )
        )
    assert (refused.value.code, refused.value.field) == ("in_the_future", "held_on")
    with pytest.raises(CommandRejected) as refused:
        await command(
            ScheduleInterview(
                interview_id=UUID(start),
                scheduled_on=today + timedelta(days=3000),
                coordinator_id=uuid4(),
            )
        )
    assert (refused.value.code, refused.value.field) == ("outside_cycle", "scheduled_on")
    assert await count(db, "feedback.interviews", "held_on IS NOT NULL") == 0

    await command(
        RecordInterview(interview_id=UUID(start), held_on=today, notes=NOTE, coordinator_id=uuid4())
    )
    stored = await db.fetchval(
        "SELECT notes_ciphertext FROM feedback.interviews WHERE interview_id = $1", UUID(start)
    )
    assert stored and NOTE.encode() not in bytes(stored) and b"Koneelta" not in bytes(stored)
    assert await count(db, "feedback.person_keys", "person_id = $1", cohort["ids"]["Amina"]) == 1
    again = await command(GetOutcomes(cycle_id=cohort["cycle"]))
    amina = next(m for m in again["mentees"] if m["person_id"] == str(cohort["ids"]["Amina"]))
    assert amina["interviews"][0]["notes"] == NOTE
    assert amina["interviews"][0]["held_on"] == today.isoformat()
    # the reply with the notes in clear is not kept anywhere in feedback
    inbox = await db.fetch(
        "SELECT outcome::text AS o FROM feedback.inbox WHERE outcome IS NOT NULL"
    )
    assert not any("Koneelta" in (r["o"] or "") for r in inbox)

    # another organisation knows neither the cycle nor the interview
    async def as_other(cmd: Any) -> Any:
        return await send(nc, cmd, organisation_id=uuid4(), clock=SystemClock(), wait_seconds=10)

    with pytest.raises(CommandRejected) as refused:
        await as_other(GetOutcomes(cycle_id=cohort["cycle"]))
    assert refused.value.code == "unknown_cycle"
    with pytest.raises(CommandRejected) as refused:
        await as_other(
            RecordInterview(
                interview_id=UUID(start), held_on=today, notes="x", coordinator_id=uuid4()
            )
        )
    assert refused.value.code == "unknown_interview"
    with pytest.raises(CommandRejected) as refused:
        await as_other(
            OverrideOutcome(
                person_id=cohort["ids"]["Amina"],
                cycle_id=cohort["cycle"],
                outcome=Outcome.OTHER,
                reason="not ours to say",
                coordinator_id=uuid4(),
            )
        )
    assert refused.value.code == "not_a_mentee"
    # erasing her in feedback (deleting her key) leaves the notes unreadable
    await db.execute(
        "DELETE FROM feedback.person_keys WHERE person_id = $1", cohort["ids"]["Amina"]
    )
    erased = await command(GetOutcomes(cycle_id=cohort["cycle"]))
    amina = next(m for m in erased["mentees"] if m["person_id"] == str(cohort["ids"]["Amina"]))
    assert amina["interviews"][0]["notes"] is None


async def test_the_outcomes_screen(cohort, stack, db, nc) -> None:
    base = stack["intake"].base_url
    amina = cohort["ids"]["Amina"]
    await answer(
        db,
        nc,
        cohort,
        "Amina",
        SurveyKind.END,
        {"employment_status": "employed_other_field", "confidence_job_search": 4},
    )
    await eventually(
        lambda: _is(
            db,
            "SELECT outcome FROM feedback.outcomes WHERE person_id = $1",
            "employed_other_field",
            amina,
        )
    )
    client = await logged_in(base, cohort["email"])
    screen = f"/coordinator/cycles/{cohort['cycle']}/outcomes"
    queue = (await client.get(f"/coordinator/cycles/{cohort['cycle']}?lang=en")).text
    assert screen in queue
    assert screen in (await client.get("/coordinator?lang=en")).text

    page = await client.get(screen)
    assert page.status_code == 200
    assert "Amina Testinen" in page.text and "Olena Testinen" in page.text
    assert "Liisa" not in page.text  # mentors have no outcomes
    assert "Employed in another field" in page.text and "from her surveys" in page.text
    assert "Employed in another field (end-of-cycle survey)" in page.text

    # no reason: refused next to the field, nothing stored
    token = csrf_from(page.text)
    refused = await client.post(
        f"{screen}/override",
        data={"csrf_token": token, "person_id": str(amina), "outcome": "employed_own_field"},
    )
    assert refused.status_code == 422
    assert f'id="override-{amina}-reason-error"' in refused.text
    assert "Give the reason (at least 3 characters)." in refused.text
    assert (
        await db.fetchval(
            "SELECT override_outcome FROM feedback.outcomes WHERE person_id = $1", amina
        )
        is None
    )

    reason = "Vakituinen työ omalla alalla alkoi elokuussa."
    done = await client.post(
        f"{screen}/override",
        data={
            "csrf_token": csrf_from(refused.text),
            "person_id": str(amina),
            "outcome": "employed_own_field",
            "reason": reason,
        },
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "Outcome saved." in page.text
    assert f'class="override-reason">{reason} (Maria Virtanen)</dd>' in page.text
    assert 'data-outcome="employed_own_field"' in page.text
    assert "set by a coordinator" in page.text

    # interview notes: stored encrypted, shown decrypted
    interview = await db.fetchval(
        "SELECT interview_id FROM feedback.interviews WHERE person_id = $1 AND point = 'start'",
        amina,
    )
    today = datetime.now(UTC).date().isoformat()
    saved = await client.post(
        f"{screen}/interviews/{interview}/record",
        data={"csrf_token": csrf_from(page.text), "held_on": today, "notes": NOTE},
    )
    assert saved.status_code == 303
    page = await client.get(screen)
    assert NOTE in page.text
    ciphertext = await db.fetchval(
        "SELECT notes_ciphertext FROM feedback.interviews WHERE interview_id = $1", interview
    )
    assert NOTE.encode() not in bytes(ciphertext)
    bad_day = await client.post(
        f"{screen}/interviews/{interview}/record",
        data={"csrf_token": csrf_from(page.text), "held_on": "31.02.2026", "notes": "x"},
    )
    assert bad_day.status_code == 422 and f'id="record-{interview}-held_on-error"' in bad_day.text
    assert NOTE in bad_day.text  # the stored notes are unchanged

    # Finnish too
    finnish = await client.get(f"{screen}?lang=fi")
    assert (
        "Tulokset ja haastattelut" in finnish.text and "Työllistyi omalle alalleen" in finnish.text
    )
    await client.aclose()

    # a viewer reads, but has no forms and cannot post
    viewer = await logged_in(
        base, await add_coordinator(stack.database_url, cohort["org"], role="viewer")
    )
    page = await viewer.get(f"{screen}?lang=en")
    assert page.status_code == 200 and NOTE in page.text
    assert "/override" not in page.text and "/record" not in page.text
    forbidden = await viewer.post(
        f"{screen}/override",
        data={
            "csrf_token": csrf_from(page.text),
            "person_id": str(amina),
            "outcome": "other",
            "reason": "not allowed",
        },
    )
    assert forbidden.status_code == 403

    # feedback down: a clear 503, nothing changed
    stack["feedback"].stop()
    page = await viewer.get(f"{screen}?lang=en")
    assert page.status_code == 503 and "The feedback service is not answering" in page.text
    await viewer.aclose()
