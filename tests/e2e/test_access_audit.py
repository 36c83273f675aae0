"""The access audit over HTTP against the real intake process (docs/security.md, "Access
audit"): each view or download of a person's data is one row per person (who, whose, what,
why, when, from where), a viewer's too; the admin reads it per person and per coordinator
in fi/en/sv, others get 403, another organisation's ids 404; erasing her puts the erasure's
id in her rows; her export lists who viewed her data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tests.conftest import eventually
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)


async def apply(stack, cycle_id, given_name: str) -> UUID:
    payload = application_payload(cycle_id)
    payload["contact"]["given_name"] = given_name
    response = await submit(stack["intake"].base_url, payload)
    assert response.status_code == 201, response.text
    return UUID(response.json()["application_id"])


async def coordinator_id(db, email: str) -> UUID:
    return await db.fetchval("SELECT id FROM intake.coordinators WHERE email = $1", email)


async def person_of(db, application_id: UUID) -> UUID:
    return await db.fetchval(
        "SELECT person_id FROM intake.applications WHERE id = $1", application_id
    )


async def log(db, *where: str) -> list:
    clause = " AND ".join(where) or "true"
    return await db.fetch(f"SELECT * FROM intake.access_log WHERE {clause} ORDER BY id")


@pytest.fixture
async def org(stack, db):
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    amina = await apply(stack, cycle_id, "Amina")
    farah = await apply(stack, cycle_id, "Farah")
    emails = {
        role: await add_coordinator(stack.database_url, organisation_id, role=role)
        for role in ("admin", "coordinator", "viewer")
    }
    clients = {role: await logged_in(stack["intake"].base_url, e) for role, e in emails.items()}
    yield {
        "cycle": cycle_id,
        "amina": amina,
        "farah": farah,
        "ids": {role: await coordinator_id(db, e) for role, e in emails.items()},
        **clients,
    }
    for client in clients.values():
        await client.aclose()


async def test_each_view_is_recorded_with_who_whose_what_why_and_when(org, db) -> None:
    coordinator, viewer = org["coordinator"], org["viewer"]
    application = f"/coordinator/applications/{org['amina']}"
    amina = await person_of(db, org["amina"])
    assert (await coordinator.get(application)).status_code == 200

    [row] = await log(db)
    assert row["coordinator_id"] == org["ids"]["coordinator"]
    assert row["coordinator_role"] == "coordinator"
    assert row["person_id"] == amina
    assert (row["what"], row["why"]) == ("application_viewed", "screening")
    assert row["path"] == "/coordinator/applications/{application_id}"  # no id of hers
    assert abs(row["at"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert row["client_address"]

    # Once she has a private note, the page shows it: that is recorded too.
    token = csrf_from((await coordinator.get(application)).text)
    await coordinator.post(f"{application}/notes", data={"text": "Call back", "csrf_token": token})
    await coordinator.get(application)
    assert [r["what"] for r in await log(db)][-2:] == ["application_viewed", "notes_viewed"]

    # A viewer changes nothing, but what she sees is recorded all the same.
    assert (await viewer.get(application)).status_code == 200
    seen = await log(db, f"coordinator_id = '{org['ids']['viewer']}'")
    assert [(r["what"], r["coordinator_role"]) for r in seen] == [
        ("application_viewed", "viewer"),
        ("notes_viewed", "viewer"),
    ]

    # The queue: one row per person listed, one access id; a search's text is not kept.
    assert (await viewer.get(f"/coordinator/cycles/{org['cycle']}?q=a")).status_code == 200
    queue = await log(db, "what = 'queue_viewed'")
    assert {r["person_id"] for r in queue} == {amina, await person_of(db, org["farah"])}
    assert len({r["access_id"] for r in queue}) == 1
    assert all(r["path"] == f"/coordinator/cycles/{org['cycle']}" for r in queue)

    # Not found, or the export failing (the other services are not running): nothing.
    before = len(await log(db))
    assert (await viewer.get(f"/coordinator/applications/{org['cycle']}")).status_code == 404
    assert (await viewer.get(f"{application}/export.json")).status_code == 503
    assert len(await log(db)) == before


async def test_the_admin_reads_the_log_per_person_and_per_coordinator(org, db, stack) -> None:
    admin, coordinator = org["admin"], org["coordinator"]
    application = f"/coordinator/applications/{org['amina']}"
    await coordinator.get(application)
    await coordinator.get(f"/coordinator/cycles/{org['cycle']}")

    page = await admin.get(f"{application}?lang=en")
    assert f'href="/coordinator/access/applications/{org["amina"]}"' in page.text
    assert "/coordinator/access/applications/" not in (await coordinator.get(application)).text

    hers = await admin.get(f"/coordinator/access/applications/{org['amina']}?lang=en")
    assert hers.status_code == 200 and hers.headers["cache-control"] == "no-store"
    assert "Who viewed her data" in hers.text and "[access." not in hers.text
    rows = re.findall(r'<tr data-what="([a-z_]+)">', hers.text)
    # Newest first: the coordinator's second look, the admin's, the queue, the first look.
    assert rows == [
        "application_viewed",
        "application_viewed",
        "queue_viewed",
        "application_viewed",
    ]
    assert f'href="/coordinator/access/coordinators/{org["ids"]["coordinator"]}"' in hers.text
    assert "Amina" not in hers.text  # ids and codes, never her name

    listing = await admin.get("/coordinator/access?lang=sv")
    assert listing.status_code == 200 and "Åtkomstlogg" in listing.text
    for who in org["ids"].values():
        assert f'href="/coordinator/access/coordinators/{who}"' in listing.text

    theirs = await admin.get(
        f"/coordinator/access/coordinators/{org['ids']['coordinator']}?lang=fi"
    )
    assert theirs.status_code == 200 and "Käyttöloki" in theirs.text
    assert re.findall(r'<tr data-what="([a-z_]+)">', theirs.text) == [
        "application_viewed",
        "queue_viewed",
        "application_viewed",
    ]
    assert "<td>2</td>" in theirs.text  # the queue showed two people
    assert "[access." not in theirs.text
    amina = await person_of(db, org["amina"])
    assert f'href="/coordinator/access/people/{amina}"' in theirs.text  # whose, when one
    by_id = await admin.get(f"/coordinator/access/people/{amina}")
    assert len(re.findall(r"<tr data-what=", by_id.text)) == 4

    # Only admins; 403 for the others, whatever the page.
    pages = (
        "/coordinator/access",
        f"/coordinator/access/coordinators/{org['ids']['admin']}",
        f"/coordinator/access/applications/{org['amina']}",
        f"/coordinator/access/people/{amina}",
    )
    for role in ("coordinator", "viewer"):
        for path in pages:
            assert (await org[role].get(path)).status_code == 403, (role, path)

    # Another organisation's admin: these ids are not found.
    elsewhere, _ = await open_cycle(stack.database_url)
    stranger = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, elsewhere, role="admin")
    )
    try:
        for path in pages[1:]:
            assert (await stranger.get(path)).status_code == 404, path
        assert str(org["ids"]["coordinator"]) not in (await stranger.get(pages[0])).text
    finally:
        await stranger.aclose()


async def test_show_more_pages_through_older_entries(org, db) -> None:
    application = f"/coordinator/applications/{org['farah']}"
    for _ in range(52):
        await org["viewer"].get(application)
    path = f"/coordinator/access/applications/{org['farah']}?lang=en"
    first = await org["admin"].get(path)
    assert len(re.findall(r"<tr data-what=", first.text)) == 50
    more = re.search(r'href="\?before=(\d+)" rel="next">Show older entries', first.text)
    assert more
    rest = await org["admin"].get(
        f"/coordinator/access/applications/{org['farah']}?before={more[1]}"
    )
    assert len(re.findall(r"<tr data-what=", rest.text)) == 2
    assert 'rel="next"' not in rest.text


async def test_erasing_her_puts_the_erasure_id_where_her_id_was(org, db) -> None:
    coordinator = org["coordinator"]
    application = f"/coordinator/applications/{org['amina']}"
    amina = await person_of(db, org["amina"])
    token = csrf_from((await coordinator.get(application)).text)
    await coordinator.get(f"/coordinator/cycles/{org['cycle']}")
    erased = await coordinator.post(
        f"{application}/erase",
        data={"reason": "person_request", "confirm": "yes", "csrf_token": token},
    )
    assert erased.status_code == 303, erased.text
    erasure_id = await db.fetchval("SELECT id FROM intake.erasures")
    assert await log(db, f"person_id = '{amina}'") == []
    hers = await log(db, f"person_id = '{erasure_id}'")
    assert [r["what"] for r in hers] == ["application_viewed", "queue_viewed"]
    assert all(r["coordinator_id"] == org["ids"]["coordinator"] for r in hers)


async def test_downloads_are_recorded_and_her_export_lists_who_viewed_her(stack, db) -> None:
    stack.start("intake", "matching", "scheduling", "feedback")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    application_id = await apply(stack, cycle_id, "Amina")
    amina = await person_of(db, application_id)
    email = await add_coordinator(stack.database_url, organisation_id)
    client = await logged_in(stack["intake"].base_url, email)
    try:
        application = f"/coordinator/applications/{application_id}"
        await client.get(application)
        got = await client.get(f"{application}/export.json")
        assert got.status_code == 200, got.text
        accesses = got.json()["services"]["intake"]["accesses"]
        assert [(a["what"], a["why"], a["coordinator_name"]) for a in accesses] == [
            ("application_viewed", "screening", "Maria Virtanen")
        ]
        [export] = await log(db, "what = 'export_downloaded'")
        assert (export["person_id"], export["why"]) == (amina, "data_request")

        research = await client.get("/coordinator/reports/export/research?year=2027")
        assert research.status_code == 200, research.text
        [row] = await log(db, "what = 'research_csv_downloaded'")
        assert row["person_id"] is None and row["why"] == "research"
        assert row["path"] == "/coordinator/reports/export/research?year=2027"
        xlsx = await client.get("/coordinator/reports/export/xlsx?year=2027")
        assert xlsx.status_code == 200
        assert len(await log(db)) == 3  # the funder's figures are not personal data

        # The screens that show her among others: outcomes (interview notes), matching.
        queue = f"/coordinator/cycles/{cycle_id}"
        token = csrf_from((await client.get(queue)).text)
        accepted = await client.post(
            f"{queue}/bulk-accept",
            data={"csrf_token": token, "application_id": [str(application_id)]},
        )
        assert "accepted=1" in accepted.headers["location"]

        async def in_feedback() -> bool:
            return await count(db, "feedback.participants", "person_id = $1", amina) == 1

        await eventually(in_feedback, timeout=30)
        assert (await client.get(f"{queue}/outcomes")).status_code == 200
        [row] = await log(db, "what = 'interview_viewed'")
        assert (row["person_id"], row["why"]) == (amina, "outcomes")
        # No proposal yet: the matching screen shows no mentee's name, and records none.
        matching = await client.get(f"{queue}/matching")
        assert matching.status_code == 200 and "Amina" not in matching.text
        assert await log(db, "what = 'names_viewed'") == []
    finally:
        await client.aclose()
