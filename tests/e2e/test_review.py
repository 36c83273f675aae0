"""The coordinator's review over HTTP against the real intake process: queue, decisions,
notes, organisation boundaries, programmes and cycles."""

from __future__ import annotations

import re
from uuid import UUID

import pytest

from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)


async def apply(stack, cycle_id, **changes) -> UUID:
    payload = application_payload(cycle_id)
    for section, values in changes.items():
        payload[section] = payload[section] | values if isinstance(values, dict) else values
    response = await submit(stack["intake"].base_url, payload)
    assert response.status_code == 201, response.text
    return UUID(response.json()["application_id"])


async def post(client, page_path: str, action: str, data: dict):
    token = csrf_from((await client.get(page_path)).text)
    return await client.post(action, data=data | {"csrf_token": token})


@pytest.fixture
async def review(stack):
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    eligible = await apply(stack, cycle_id, contact={"given_name": "Amina"})
    ineligible = await apply(
        stack, cycle_id, contact={"given_name": "Farah"}, profile={"education_level": 5}
    )
    mentor = await apply(
        stack,
        cycle_id,
        role="mentor",
        contact={"given_name": "Liisa"},
        profile={"employer": "Kone", "capacity": 2},
        identifies_as_woman=None,
        background=None,
        consents={"processing": True},
    )
    email = await add_coordinator(stack.database_url, organisation_id)
    client = await logged_in(stack["intake"].base_url, email)
    yield {
        "client": client,
        "org": organisation_id,
        "cycle": cycle_id,
        "eligible": eligible,
        "ineligible": ineligible,
        "mentor": mentor,
    }
    await client.aclose()


async def test_queue_lists_filters_searches_and_sorts(review) -> None:
    client, cycle = review["client"], review["cycle"]
    everything = (await client.get(f"/coordinator/cycles/{cycle}?lang=en")).text
    assert all(name in everything for name in ("Amina", "Farah", "Liisa"))
    assert "No higher-education degree" in everything  # the screening reason is shown
    assert "[review." not in everything and "[apply." not in everything  # no missing texts

    mentors = (await client.get(f"/coordinator/cycles/{cycle}?role=mentor")).text
    assert "Liisa" in mentors and "Amina" not in mentors
    ineligible = (await client.get(f"/coordinator/cycles/{cycle}?status=ineligible")).text
    assert "Farah" in ineligible and "Amina" not in ineligible
    searched = (await client.get(f"/coordinator/cycles/{cycle}?q=FARAH")).text
    assert "Farah" in searched and "Liisa" not in searched and ">Amina" not in searched
    by_name = (await client.get(f"/coordinator/cycles/{cycle}?sort=name&desc=1")).text
    assert by_name.index("Liisa") < by_name.index("Farah") < by_name.index("Amina")
    nothing = (await client.get(f"/coordinator/cycles/{cycle}?region=19")).text
    assert "Amina" not in nothing and "Liisa" not in nothing


async def test_accepting_records_who_and_when_emits_the_event_and_queues_the_mail(
    review, db
) -> None:
    client, eligible = review["client"], review["eligible"]
    page = f"/coordinator/applications/{eligible}"

    response = await post(client, page, f"{page}/status", {"to": "accepted"})

    assert response.status_code == 303
    assert await db.fetchval("SELECT status FROM intake.applications WHERE id = $1", eligible) == (
        "accepted"
    )
    last = await db.fetchrow(
        "SELECT from_status, to_status, actor FROM intake.application_transitions"
        " WHERE application_id = $1 ORDER BY id DESC LIMIT 1",
        eligible,
    )
    assert (last["from_status"], last["to_status"]) == ("eligible", "accepted")
    assert UUID(last["actor"])  # the coordinator's id, not a name
    payload = await db.fetchval(
        "SELECT convert_from(payload, 'UTF8') FROM intake.outbox"
        " WHERE event_type = 'womento.intake.applicant_accepted.v1'"
    )
    assert payload and str(eligible) in payload and '"isco_code":"2142"' in payload
    assert "Amina" not in payload
    assert await count(db, "intake.mail_queue", "template = 'decision_accepted'") == 1
    shown = (await client.get(f"{page}?lang=en")).text
    assert "Accepted" in shown


async def test_overriding_the_screening_needs_a_note_which_stays_private(review, db) -> None:
    client, ineligible = review["client"], review["ineligible"]
    page = f"/coordinator/applications/{ineligible}"

    refused = await post(client, page, f"{page}/status", {"to": "eligible", "note": " "})
    assert refused.status_code == 303 and "error=note_required" in refused.headers["location"]
    assert await db.fetchval(
        "SELECT status FROM intake.applications WHERE id = $1", ineligible
    ) == ("ineligible")

    note = "Tutkinto tunnustettu OPH:n päätöksellä"
    done = await post(client, page, f"{page}/status", {"to": "eligible", "note": note})
    assert done.status_code == 303 and "error" not in done.headers["location"]
    assert await db.fetchval(
        "SELECT status FROM intake.applications WHERE id = $1", ineligible
    ) == ("eligible")
    stored = await db.fetchval("SELECT body FROM intake.application_notes")
    assert note.encode() not in stored  # encrypted with the applicant's key
    assert note in (await client.get(page)).text
    assert await count(db, "intake.outbox", "event_type LIKE '%application_screened%'") == 4


async def test_a_move_the_life_cycle_forbids_changes_nothing(review, db) -> None:
    client, ineligible = review["client"], review["ineligible"]
    page = f"/coordinator/applications/{ineligible}"
    response = await post(client, page, f"{page}/status", {"to": "accepted"})
    assert "error=not_allowed" in response.headers["location"]
    assert await db.fetchval(
        "SELECT status FROM intake.applications WHERE id = $1", ineligible
    ) == ("ineligible")
    assert await count(db, "intake.outbox", "event_type LIKE '%applicant_accepted%'") == 0


async def test_bulk_accept_accepts_the_allowed_and_reports_the_rest(review, db) -> None:
    client, cycle = review["client"], review["cycle"]
    queue = f"/coordinator/cycles/{cycle}"
    token = csrf_from((await client.get(queue)).text)
    response = await client.post(
        f"{queue}/bulk-accept",
        data={
            "csrf_token": token,
            "application_id": [
                str(review["eligible"]),
                str(review["mentor"]),
                str(review["ineligible"]),
            ],
        },
    )
    assert response.status_code == 303
    assert (
        "accepted=2" in response.headers["location"] and "refused=1" in response.headers["location"]
    )
    statuses = dict(await db.fetch("SELECT id, status FROM intake.applications"))
    assert statuses[review["eligible"]] == statuses[review["mentor"]] == "accepted"
    assert statuses[review["ineligible"]] == "ineligible"
    assert await count(db, "intake.outbox", "event_type LIKE '%applicant_accepted%'") == 2


async def test_another_organisation_sees_nothing_of_ours(review, stack) -> None:
    other_org, _ = await open_cycle(stack.database_url)
    stranger = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, other_org)
    )
    headers = {"accept": "text/html"}
    application = await stranger.get(
        f"/coordinator/applications/{review['eligible']}", headers=headers
    )
    cycle = await stranger.get(f"/coordinator/cycles/{review['cycle']}", headers=headers)
    assert application.status_code == 404 and cycle.status_code == 404
    assert "Amina" not in application.text + cycle.text
    token = csrf_from((await stranger.get("/coordinator")).text)
    change = await stranger.post(
        f"/coordinator/applications/{review['eligible']}/status",
        data={"to": "accepted", "csrf_token": token},
    )
    assert change.status_code == 404
    await stranger.aclose()


async def test_a_viewer_reads_but_cannot_decide(review, stack, db) -> None:
    viewer = await logged_in(
        stack["intake"].base_url,
        await add_coordinator(stack.database_url, review["org"], role="viewer"),
    )
    page = f"/coordinator/applications/{review['eligible']}"
    shown = await viewer.get(page)
    assert shown.status_code == 200 and "Amina" in shown.text
    assert 'name="to"' not in shown.text
    response = await post(viewer, page, f"{page}/status", {"to": "accepted"})
    assert response.status_code == 403
    assert await db.fetchval(
        "SELECT status FROM intake.applications WHERE id = $1", review["eligible"]
    ) == ("eligible")
    await viewer.aclose()


async def test_missing_csrf_token_is_403(review, db) -> None:
    response = await review["client"].post(
        f"/coordinator/applications/{review['eligible']}/status", data={"to": "accepted"}
    )
    assert response.status_code == 403
    assert await count(db, "intake.outbox", "event_type LIKE '%applicant_accepted%'") == 0


async def test_programme_and_cycle_are_created_opened_and_closed_with_events(review, db) -> None:
    client = review["client"]
    created = await post(
        client,
        "/coordinator/programmes/new",
        "/coordinator/programmes",
        {
            "name": "Womento Tampere",
            "cycle_months": "8",
            "group_meetings": "4",
            "pair_meeting_cadence_days": "31",
            "application_months": ["1", "8"],
        },
    )
    assert created.status_code == 303
    programme_id = await db.fetchval(
        "SELECT id FROM intake.programmes WHERE name = 'Womento Tampere'"
    )
    form = (await client.get(f"/coordinator/programmes/{programme_id}/cycles/new")).text
    suggested = dict(
        re.findall(
            r'name="(applications_open|applications_close|starts_on|ends_on)" required value="([\d-]+)"',
            form,
        )
    )
    assert suggested["applications_open"].endswith("-01") and len(suggested) == 4

    bad = await post(
        client,
        f"/coordinator/programmes/{programme_id}/cycles/new",
        f"/coordinator/programmes/{programme_id}/cycles",
        {"name": "Kevät", **suggested, "starts_on": suggested["applications_open"]},
    )
    assert bad.status_code == 422
    made = await post(
        client,
        f"/coordinator/programmes/{programme_id}/cycles/new",
        f"/coordinator/programmes/{programme_id}/cycles",
        {"name": "Kevät 2027", **suggested},
    )
    assert made.status_code == 303
    cycle_id = await db.fetchval("SELECT id FROM intake.cycles WHERE name = 'Kevät 2027'")
    assert await db.fetchval("SELECT status FROM intake.cycles WHERE id = $1", cycle_id) == "draft"

    for step, event in (("open", "cycle_opened"), ("screening", "cycle_closed")):
        moved = await post(
            client, "/coordinator", f"/coordinator/cycles/{cycle_id}/advance", {"to": step}
        )
        assert moved.status_code == 303 and moved.headers["location"] == f"/coordinator?done={step}"
        assert await db.fetchval("SELECT status FROM intake.cycles WHERE id = $1", cycle_id) == step
        assert (
            await count(
                db,
                "intake.outbox",
                f"event_type = 'womento.intake.{event}.v1' AND convert_from(payload, 'UTF8') LIKE $1",
                f"%{cycle_id}%",
            )
            == 1
        )
    again = await post(
        client, "/coordinator", f"/coordinator/cycles/{cycle_id}/advance", {"to": "open"}
    )
    assert again.headers["location"] == "/coordinator?done=refused"


async def test_waitlisted_applicants_who_consented_roll_over_to_the_next_cycle(review, db) -> None:
    client = review["client"]
    page = f"/coordinator/applications/{review['eligible']}"
    await post(client, page, f"{page}/status", {"to": "waitlisted"})
    waitlist_event = await db.fetchval(
        "SELECT convert_from(payload, 'UTF8') FROM intake.outbox WHERE event_type LIKE '%applicant_waitlisted%'"
    )
    assert '"rolls_over":true' in waitlist_event
    programme_id = await db.fetchval(
        "SELECT programme_id FROM intake.cycles WHERE id = $1", review["cycle"]
    )
    form = (await client.get(f"/coordinator/programmes/{programme_id}/cycles/new")).text
    suggested = dict(
        re.findall(
            r'name="(applications_open|applications_close|starts_on|ends_on)" required value="([\d-]+)"',
            form,
        )
    )
    await post(
        client,
        "/coordinator",
        f"/coordinator/programmes/{programme_id}/cycles",
        {"name": "Next", **suggested},
    )
    next_cycle = await db.fetchval("SELECT id FROM intake.cycles WHERE name = 'Next'")

    await post(client, "/coordinator", f"/coordinator/cycles/{next_cycle}/advance", {"to": "open"})

    rolled = await db.fetchrow(
        "SELECT status, rolled_over_from FROM intake.applications WHERE cycle_id = $1", next_cycle
    )
    assert rolled["rolled_over_from"] == review["eligible"] and rolled["status"] == "eligible"
    assert await count(db, "intake.applications", "cycle_id = $1", next_cycle) == 1


async def test_dashboard_lists_the_cycles_with_counts(review) -> None:
    page = (await review["client"].get("/coordinator?lang=en")).text
    assert "Test cycle" in page and f"/coordinator/cycles/{review['cycle']}" in page
    assert re.search(r"<td>3</td>", page)
    assert "Open for applications" in page
    assert "[review." not in page and "[auth." not in page
