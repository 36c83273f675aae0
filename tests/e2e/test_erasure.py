"""Erasure (issue 12 point 1) on the four real services, NATS and PostgreSQL: a person with
data in every service — application, note, profile, pair, meeting, survey answer with free
text, a mail queued for later — is erased by a coordinator from her page; every service
reports completion; afterwards neither a `pg_dump` of the whole database nor any message
of any stream holds her name, e-mail, texts, person id, application id or e-mail digest;
her links answer 410; the funder's report still counts her. Her own erasure from the
portal (with its confirmation) and a service that is killed mid-erasure are tested too."""

from __future__ import annotations

import json
import re
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import jsonschema

from services.intake.portal import make_link
from shared.clock import FileClock
from shared.commands import GetReport, RecordMeeting
from shared.events import MeetingMode
from shared.settings import DEV_SECRET_KEY
from tests.conftest import eventually
from tests.e2e.test_feedback_cycle import Run, _by_link, _mails_on_the_morning, _pair_of
from tests.e2e.test_feedback_cycle import _people_in_intake as people_in_intake
from tests.e2e.test_feedback_cycle import run as run  # the fixture
from tests.fault.test_delivery import crashing_at
from tests.helpers import (
    count,
    csrf_from,
    every_stream_message,
    found_in_dump,
    logged_in,
    pg_dump,
)

SCHEMA_PATH = "docs/privacy/person-export.schema.json"
FREE_TEXT = "Haaveilen työstä Kumpulan kemian laboratoriossa."
NOTE = "Soitettu 3.2.: toivoo mentoria Vantaalta."


def portal_link(run: Run, person: UUID, pair: UUID) -> str:
    """Her portal link as intake mails it (valid 30 days by the services' moved clock)."""
    expires = FileClock(run.clock_file).now() + timedelta(days=30)
    return make_link(DEV_SECRET_KEY, person, pair, expires, cycle_id=run.cycle_id)


async def erase_from_her_page(run: Run, application_id: UUID, **form: str) -> httpx.Response:
    client = await logged_in(run.stack["intake"].base_url, run.email)
    try:
        page = await client.get(f"/coordinator/applications/{application_id}")
        assert page.status_code == 200
        assert 'action="/coordinator/applications/' in page.text and "/erase" in page.text
        return await client.post(
            f"/coordinator/applications/{application_id}/erase",
            data={"csrf_token": csrf_from(page.text), **form},
        )
    finally:
        await client.aclose()


async def erasure_page(run: Run, erasure_path: str) -> str:
    client = await logged_in(run.stack["intake"].base_url, run.email)
    try:
        shown = await client.get(f"{erasure_path}?lang=en")
        assert shown.status_code == 200
        return shown.text
    finally:
        await client.aclose()


async def finished(run: Run, erasure_id: UUID) -> bool:
    return await run.db.fetchval(
        "SELECT scrubbed_at IS NOT NULL FROM intake.erasures WHERE id = $1", erasure_id
    )


async def test_a_coordinator_erases_a_person_from_every_service_database_and_stream(
    run: Run, db, nc
) -> None:
    await people_in_intake(run)
    amina, grace = run.ids["Amina"], run.ids["Grace"]
    starts_on = await db.fetchval("SELECT starts_on FROM intake.cycles WHERE id = $1", run.cycle_id)
    invited = await _mails_on_the_morning(run, "baseline", starts_on, 3)
    her_mail = next(r for r in invited if r["person_id"] == amina)
    await _by_link(
        run,
        her_mail,
        {
            "q_confidence_job_search": "2",
            "q_finnish_at_work": "3",
            "q_professional_network": "2",
            "q_employment_status": "still_seeking",
            "q_comments": FREE_TEXT,
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
    pair = await _pair_of(run, "Amina")
    await run.command(
        RecordMeeting(
            pair_id=pair,
            held_on=starts_on,
            minutes=60,
            mode=MeetingMode.ONLINE,
            logged_by="participant",
        )
    )
    await eventually(lambda: _meetings_in_feedback(db, pair))
    application_id = await db.fetchval(
        "SELECT id FROM intake.applications WHERE person_id = $1", amina
    )
    base = run.stack["intake"].base_url
    client = await logged_in(base, run.email)
    page = await client.get(f"/coordinator/applications/{application_id}")
    noted = await client.post(
        f"/coordinator/applications/{application_id}/notes",
        data={"csrf_token": csrf_from(page.text), "text": NOTE},
    )
    assert noted.status_code == 303
    await client.aclose()
    # A mail queued for next month: erasure drops it.
    await db.execute(
        "INSERT INTO intake.mail_queue (id, organisation_id, person_id, template, language,"
        " context, status, not_before, created_at) VALUES ($1, $2, $3, 'portal_links', 'fi',"
        " '{}', 'queued', now() + interval '30 days', now())",
        uuid4(),
        run.org,
        amina,
    )
    her_email = re.search(
        r"[\w.+-]+@[\w.-]+",
        await db.fetchval(
            "SELECT to_address FROM intake.dev_mailbox WHERE mail_id = (SELECT id FROM"
            " intake.mail_queue WHERE person_id = $1 AND template = 'survey_invitation')",
            amina,
        ),
    ).group(0)
    digest = await db.fetchval("SELECT email_digest FROM intake.people WHERE id = $1", amina)
    survey_token = her_mail["text_body"] and re.search(
        r"/survey/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", her_mail["text_body"]
    ).group(1)
    portal = portal_link(run, amina, pair)
    async with httpx.AsyncClient(base_url=base, timeout=15) as web:
        assert (await web.get(f"/portal/{portal}")).status_code == 200
    report_before = (await run.command(GetReport(cycle_ids=[run.cycle_id], language="en")))[
        "report"
    ]
    await export_checks(run, application_id, portal, her_email)
    needles = [str(amina), str(application_id), her_email, "Amina", FREE_TEXT, NOTE, digest.hex()]
    dump = pg_dump(run.stack.database_url)
    messages = await every_stream_message(nc)
    # The greps can find her before: each needle that was stored is found.
    assert str(amina) in dump and str(application_id) in dump and digest.hex() in dump
    assert her_email in dump  # the development mailbox keeps what was sent
    assert any(str(amina).encode() in m for m in messages)

    # Bad input first: no reason, no confirmation: nothing erased.
    refused = await erase_from_her_page(run, application_id, confirm="yes")
    assert refused.status_code == 303 and "error=erase_reason" in refused.headers["location"]
    refused = await erase_from_her_page(run, application_id, reason="person_request")
    assert refused.status_code == 303 and "error=erase_confirm" in refused.headers["location"]
    assert await count(db, "intake.people", "id = $1", amina) == 1

    erased = await erase_from_her_page(run, application_id, reason="person_request", confirm="yes")
    assert erased.status_code == 303, erased.text
    path = erased.headers["location"]
    erasure_id = UUID(path.rsplit("/", 1)[1])
    await eventually(lambda: finished(run, erasure_id), timeout=60)
    shown = await erasure_page(run, path)
    assert "Erased in all four services." in shown
    completions = await db.fetch(
        "SELECT service FROM intake.erasure_completions WHERE erasure_id = $1", erasure_id
    )
    assert sorted(r["service"] for r in completions) == [
        "feedback",
        "intake",
        "matching",
        "scheduling",
    ]

    dump = pg_dump(run.stack.database_url)
    messages = await every_stream_message(nc)
    for needle in needles:
        assert not found_in_dump(dump, needle), f"{needle!r} is still in the database"
        assert not any(needle.encode() in m for m in messages), f"{needle!r} is in a stream"
    # ...while the others are all still there (the greps can find what is there).
    assert str(grace) in dump and any(str(grace).encode() in m for m in messages)
    async with httpx.AsyncClient(base_url=base, timeout=15) as web:
        assert (await web.get(f"/portal/{portal}")).status_code == 410
        assert (await web.get(f"/portal/{portal}/export.json")).status_code == 410
        gone = await web.get(f"/survey/{survey_token}")
        assert gone.status_code == 410
        assert "The link is no longer in use" in gone.text
        assert "Länken används inte längre" in gone.text
    assert await count(db, "intake.mail_queue", "status = 'queued' AND not_before > now()") == 0

    # The report counts her still, as an anonymous number.
    report_after = (await run.command(GetReport(cycle_ids=[run.cycle_id], language="en")))["report"]
    assert report_after["applicants"] == report_before["applicants"] == {"mentee": 3, "mentor": 3}
    assert report_after["pairs_formed"] == report_before["pairs_formed"] == 3
    # Her mentor keeps his pair, with an anonymous mentee.
    mentee_now = await db.fetchval(
        "SELECT mentee_id FROM scheduling.pairs WHERE pair_id = $1", pair
    )
    assert mentee_now is not None and mentee_now != amina
    # A second request for her: "already erased" (410), nothing changes; an id never
    # known is still "not found".
    client = await logged_in(base, run.email)
    again = await client.get(f"/coordinator/applications/{application_id}?lang=en")
    assert again.status_code == 410
    assert "data has already been erased." in again.text
    token = csrf_from((await client.get("/coordinator/erasures")).text)
    twice = await client.post(
        f"/coordinator/applications/{application_id}/erase",
        data={"csrf_token": token, "reason": "person_request", "confirm": "yes"},
    )
    assert twice.status_code == 410
    assert (await client.get(f"/coordinator/applications/{uuid4()}")).status_code == 404
    await client.aclose()
    assert await count(db, "intake.erasures") == 1


async def export_checks(run: Run, application_id: UUID, portal: str, her_email: str) -> None:
    """Her export (point 2), from her page and from her portal: one JSON document valid
    against the documented schema, gathered from all four services, texts decrypted; a
    readable page in her language; unknown ids 404; a service down: 503, no partial file."""
    schema = json.loads((Path(__file__).parents[2] / SCHEMA_PATH).read_text())
    client = await logged_in(run.stack["intake"].base_url, run.email)
    try:
        got = await client.get(f"/coordinator/applications/{application_id}/export.json")
        assert got.status_code == 200, got.text
        assert got.headers["cache-control"] == "no-store"
        assert "attachment" in got.headers["content-disposition"]
        data = got.json()
        jsonschema.validate(data, schema)
        intake, matching = data["services"]["intake"], data["services"]["matching"]
        assert intake["person"]["details"]["email"] == her_email
        assert intake["person"]["details"]["given_name"] == "Amina"
        assert [n["text"] for n in intake["coordinator_notes"]] == [NOTE]
        assert [p["person_id"] for p in matching["profiles"]] == [str(run.ids["Amina"])]
        assert len(matching["pairs"]) == 1
        assert len(data["services"]["scheduling"]["meetings"]) == 1
        feedback = data["services"]["feedback"]
        assert FREE_TEXT in [a["text"] for a in feedback["free_text_answers"]]
        assert "person_keys" not in feedback
        readable = await client.get(f"/coordinator/applications/{application_id}/export.html")
        assert readable.status_code == 200
        assert '<html lang="fi">' in readable.text and "Sinusta tallennetut tiedot" in readable.text
        assert FREE_TEXT in readable.text and NOTE in readable.text
        assert (
            await client.get(f"/coordinator/applications/{uuid4()}/export.json")
        ).status_code == 404
        assert (
            await client.get(f"/coordinator/applications/{application_id}/export.xml")
        ).status_code == 404
        run.stack["feedback"].stop(20)
        down = await client.get(f"/coordinator/applications/{application_id}/export.json")
        assert down.status_code == 503
        run.stack.start("feedback", **run.env)
    finally:
        await client.aclose()
    async with httpx.AsyncClient(base_url=run.stack["intake"].base_url, timeout=15) as web:
        hers = await web.get(f"/portal/{portal}/export.json")
        assert hers.status_code == 200
        assert hers.json()["person_id"] == str(run.ids["Amina"])


async def _meetings_in_feedback(db: Any, pair: UUID) -> bool:
    return await count(db, "feedback.meetings", "pair_id = $1", pair) == 1


async def test_she_erases_herself_from_her_portal_after_confirming(run: Run, db, nc) -> None:
    await people_in_intake(run)
    olena = run.ids["Olena"]
    pair = await _pair_of(run, "Olena")
    token = portal_link(run, olena, pair)
    base = run.stack["intake"].base_url
    async with httpx.AsyncClient(base_url=base, timeout=15) as web:
        portal = await web.get(f"/portal/{token}?lang=sv")
        assert f"/portal/{token}/erase" in portal.text
        for lang, title in (
            ("fi", "Poista tietosi"),
            ("en", "Erase your data"),
            ("sv", "Radera dina uppgifter"),
        ):
            form = await web.get(f"/portal/{token}/erase?lang={lang}")
            assert form.status_code == 200 and title in form.text
            assert form.headers["cache-control"] == "no-store"
        unconfirmed = await web.post(
            f"/portal/{token}/erase?lang=en", data={"csrf_token": csrf_from(form.text)}
        )
        assert unconfirmed.status_code == 422
        assert "Confirm by ticking the box." in unconfirmed.text
        assert await count(db, "intake.people", "id = $1", olena) == 1
        done = await web.post(
            f"/portal/{token}/erase?lang=en",
            data={"csrf_token": csrf_from(form.text), "confirm": "yes"},
        )
        assert done.status_code == 200 and "Your data has been erased" in done.text
        assert (await web.get(f"/portal/{token}")).status_code == 410
        twice = await web.post(
            f"/portal/{token}/erase", data={"csrf_token": csrf_from(form.text), "confirm": "yes"}
        )
        assert twice.status_code == 410
    erasure_id, reason, by = await db.fetchrow(
        "SELECT id, reason, requested_by FROM intake.erasures"
    )
    assert (reason, by) == ("self_service", None)
    await eventually(lambda: finished(run, erasure_id), timeout=60)
    assert not found_in_dump(pg_dump(run.stack.database_url), str(olena))


async def test_a_service_killed_mid_erasure_finishes_it_once_when_it_comes_back(
    run: Run, db, nc
) -> None:
    await people_in_intake(run)
    grace = run.ids["Grace"]
    participants = await count(db, "feedback.participants")
    application_id = await db.fetchval(
        "SELECT id FROM intake.applications WHERE person_id = $1", grace
    )
    run.stack["feedback"].stop(20)
    erased = await erase_from_her_page(
        run, application_id, reason="consent_withdrawn", confirm="yes"
    )
    path = erased.headers["location"]
    erasure_id = UUID(path.rsplit("/", 1)[1])

    async def others_done() -> bool:
        return await count(db, "intake.erasure_completions", "erasure_id = $1", erasure_id) == 3

    await eventually(others_done, timeout=30)
    shown = await erasure_page(run, path)
    assert "Still pending: Feedback and outcomes." in shown
    assert await count(db, "feedback.participants", "person_id = $1", grace) == 1

    # Killed with the erasure applied but not committed; then started again.
    run.stack["feedback"].start(wait=False, **run.env, **crashing_at("inbox.before_commit"))
    assert run.stack["feedback"].proc.wait(30) == -signal.SIGKILL
    assert await count(db, "feedback.participants", "person_id = $1", grace) == 1
    run.stack.start("feedback", **run.env, WOMENTO_CRASHPOINTS="[]")
    await eventually(lambda: finished(run, erasure_id), timeout=60)
    assert "Erased in all four services." in await erasure_page(run, path)
    assert await count(db, "feedback.participants", "person_id = $1", grace) == 0
    assert await count(db, "feedback.participants") == participants  # anonymised, not lost
    assert await count(db, "feedback.erased_people") == 1
    done = await count(db, "feedback.inbox", "event_type = 'womento.intake.person_erased.v1'")
    assert done == 1
    published = await db.fetchval(
        "SELECT count(*) FROM intake.inbox WHERE event_type = $1",
        "womento.feedback.person_erased_in_feedback.v1",
    )
    assert published == 1
    assert not found_in_dump(pg_dump(run.stack.database_url), str(grace))
