"""Personal links on real services: never stored in clear in the mail queue, sent in the
e-mail she receives (dev mailbox), and revocable per person by an editor, who e-mails her a
new one; her old links (portal and survey) are then refused as replaced, and a survey
reminder sent after the revocation carries a working link. Erasing her makes a queued link
unreadable and its mail fails."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from services.intake.mail import enqueue_mail
from services.intake.portal import make_survey_link
from shared.clock import FrozenClock, SystemClock
from shared.crypto import vault_for
from shared.db import make_engine, make_sessionmaker
from shared.settings import DEV_SECRET_KEY, Settings
from tests.conftest import eventually
from tests.e2e.test_portal import form_pair, link
from tests.e2e.test_surveys import Cycle, accepted_mentees, at_morning, token_of
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

PORTAL_TOKEN = re.compile(r"/portal/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


async def _sent_links(db: Any, person_id: UUID, n: int) -> list[str]:
    """The tokens of her first `n` meeting_link mails, as sent, oldest first."""

    async def sent() -> list[Any]:
        rows = await db.fetch(
            "SELECT m.text_body, m.html_body FROM intake.mail_queue q"
            " JOIN intake.dev_mailbox m ON m.mail_id = q.id"
            " WHERE q.template = 'meeting_link' AND q.person_id = $1 ORDER BY q.created_at",
            person_id,
        )
        return rows if len(rows) == n else []

    rows = await eventually(sent, timeout=20)
    tokens = []
    for row in rows:
        found = PORTAL_TOKEN.search(row["text_body"])
        assert found, row["text_body"]
        assert found.group(1) in row["html_body"]
        tokens.append(found.group(1))
    return tokens


async def _post(base: str, email: str, path: str) -> httpx.Response:
    client = await logged_in(base, email)
    try:
        screen = path.split("/pairs/")[0]
        token = csrf_from((await client.get(screen)).text)
        return await client.post(path, data={"csrf_token": token})
    finally:
        await client.aclose()


async def test_a_mailed_link_is_encrypted_in_the_queue_and_works_from_the_mail(
    stack, db, nc
) -> None:
    pair = await form_pair(stack, db, nc)
    screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
    sent = await _post(
        pair["base"], pair["coordinator"], f"{screen}/pairs/{pair['pair']}/send-links"
    )
    assert "links_sent" in sent.headers["location"]
    (mentee_token,) = await _sent_links(db, pair["mentee"], 1)
    (mentor_token,) = await _sent_links(db, pair["mentor"], 1)
    rows = await db.fetch(
        "SELECT q::text AS row, q.context::text AS context, q.secret_context, q.status"
        " FROM intake.mail_queue q WHERE q.template = 'meeting_link'"
    )
    assert len(rows) == 2 and {r["status"] for r in rows} == {"sent"}
    for row in rows:
        for token in (mentee_token, mentor_token):
            assert token not in row["row"] and token.split(".")[1] not in row["row"]
        assert "link" not in row["context"] and "/portal/" not in row["row"]
        assert row["secret_context"] is not None and b"/portal/" not in row["secret_context"]
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        assert (await client.get(f"/portal/{mentee_token}")).status_code == 200
        assert (await client.get(f"/portal/{mentor_token}")).status_code == 200


async def test_revoking_her_links_refuses_the_old_ones_and_mails_a_new_one(stack, db, nc) -> None:
    pair = await form_pair(stack, db, nc)
    screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
    sent = await _post(
        pair["base"], pair["coordinator"], f"{screen}/pairs/{pair['pair']}/send-links"
    )
    assert "links_sent" in sent.headers["location"]
    (mailed,) = await _sent_links(db, pair["mentee"], 1)
    (mentor_token,) = await _sent_links(db, pair["mentor"], 1)
    made_before = link(pair)  # a generation-0 token as made before revocation existed
    survey = make_survey_link(
        DEV_SECRET_KEY, pair["mentee"], uuid4(), SystemClock().now() + timedelta(days=30)
    )
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        assert (await client.get(f"/portal/{made_before}")).status_code == 200
        assert (await client.get(f"/survey/{survey}")).status_code == 403  # no such invitation

        client_page = await logged_in(pair["base"], pair["coordinator"])
        try:
            shown = await client_page.get(screen)
            revoke = f"{screen}/pairs/{pair['pair']}/people/{pair['mentee']}/revoke-links"
            assert f'action="{revoke}"' in shown.text
            assert "Peru henkilön Amina Hassan linkit ja lähetä uusi" in shown.text
            done = await client_page.post(revoke, data={"csrf_token": csrf_from(shown.text)})
            assert done.status_code == 303 and "links_revoked" in done.headers["location"]
            assert (
                "Vanhat linkit on peruttu" in (await client_page.get(done.headers["location"])).text
            )
        finally:
            await client_page.aclose()

        _, fresh = await _sent_links(db, pair["mentee"], 2)
        assert fresh not in (mailed, made_before)
        for old in (mailed, made_before):
            for path in (f"/portal/{old}", f"/portal/{old}/calendar.ics"):
                refused = await client.get(path)
                assert refused.status_code == 410, path
                assert "Linkki on korvattu uudella" in refused.text
                assert "The link has been replaced" in refused.text
                assert "ask your coordinator" in refused.text
        refused_survey = await client.get(f"/survey/{survey}")
        assert refused_survey.status_code == 410 and "has been replaced" in refused_survey.text
        assert (await client.get(f"/portal/{fresh}")).status_code == 200
        assert (await client.get(f"/portal/{mentor_token}")).status_code == 200  # hers only
    generation = await db.fetchval(
        "SELECT link_generation FROM intake.people WHERE id = $1", pair["mentee"]
    )
    assert generation == 1


async def test_a_viewer_cannot_revoke_links(stack, db, nc) -> None:
    pair = await form_pair(stack, db, nc)
    viewer = await add_coordinator(stack.database_url, pair["org"], role="viewer")
    screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
    client = await logged_in(pair["base"], viewer)
    try:
        shown = await client.get(screen)
        assert shown.status_code == 200 and "revoke-links" not in shown.text
        revoke = f"{screen}/pairs/{pair['pair']}/people/{pair['mentee']}/revoke-links"
        refused = await client.post(revoke, data={"csrf_token": csrf_from(shown.text)})
        assert refused.status_code == 403
    finally:
        await client.aclose()
    generation = await db.fetchval(
        "SELECT link_generation FROM intake.people WHERE id = $1", pair["mentee"]
    )
    assert generation == 0
    assert await count(db, "intake.mail_queue", "template = 'meeting_link'") == 0


async def test_revoking_someone_outside_the_pair_changes_nothing(stack, db, nc) -> None:
    pair = await form_pair(stack, db, nc)
    screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
    stranger = uuid4()
    refused = await _post(
        pair["base"],
        pair["coordinator"],
        f"{screen}/pairs/{pair['pair']}/people/{stranger}/revoke-links",
    )
    assert refused.status_code == 303 and "error=unknown_pair" in refused.headers["location"]
    assert await db.fetchval("SELECT max(link_generation) FROM intake.people") == 0
    assert await count(db, "intake.mail_queue", "template = 'meeting_link'") == 0


async def _queue_link(database_url: str, org: UUID, person_id: UUID, url: str, at: Any) -> UUID:
    """A meeting_link mail with her link as secret context, due at `at`."""
    settings = Settings(service="intake", DATABASE_URL=database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            mail_id = await enqueue_mail(
                session,
                organisation_id=org,
                person_id=person_id,
                template="meeting_link",
                context={"cycle_name": "Test cycle"},
                secret_context={"link": url},
                vault=vault_for(DEV_SECRET_KEY),
                clock=FrozenClock(at),
            )
            assert mail_id is not None
            return mail_id
    finally:
        await engine.dispose()


async def test_erasing_her_makes_a_queued_link_unreadable_and_the_mail_fails(stack, db) -> None:
    stack.start("intake")
    org, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    people = []
    for language in ("fi", "en"):
        payload = application_payload(cycle_id)
        payload["contact"] |= {"language": language}
        response = await submit(base, payload)
        assert response.status_code == 201, response.text
        people.append(UUID(response.json()["person_id"]))
    erased = people[1]
    later = SystemClock().now() + timedelta(days=1)  # queued, not yet due
    url = f"{base}/portal/secret-token-{uuid4().hex}"
    mails = [await _queue_link(stack.database_url, org, p, url, later) for p in people]
    sealed = await db.fetchval(
        "SELECT secret_context FROM intake.mail_queue WHERE id = $1", mails[1]
    )
    await db.execute("UPDATE intake.people SET wrapped_key = NULL WHERE id = $1", erased)
    await db.execute(
        "UPDATE intake.mail_queue SET not_before = now() WHERE id = ANY($1::uuid[])", mails
    )
    await db.execute("SELECT pg_notify('womento_mail', '')")

    async def settled() -> list[Any]:
        rows = await db.fetch(
            "SELECT id, status, last_error FROM intake.mail_queue WHERE id = ANY($1::uuid[])"
            " AND status <> 'queued'",
            mails,
        )
        return rows if len(rows) == 2 else []

    rows = {r["id"]: r for r in await eventually(settled, timeout=20)}
    assert rows[mails[0]]["status"] == "sent"
    assert (rows[mails[1]]["status"], rows[mails[1]]["last_error"]) == (
        "failed",
        "recipient erased",
    )
    body = await db.fetchval(
        "SELECT text_body FROM intake.dev_mailbox WHERE mail_id = $1", mails[0]
    )
    assert url in body  # the kept one: her link, decrypted only to render the mail
    assert await count(db, "intake.dev_mailbox", "mail_id = $1", mails[1]) == 0
    assert url.encode() not in sealed
    # Nothing can read the erased one's link any more: her key is gone.
    assert await db.fetchval("SELECT wrapped_key FROM intake.people WHERE id = $1", erased) is None
    # And no new link can be queued for her.
    with pytest.raises(ValueError, match="erased"):
        await _queue_link(stack.database_url, org, erased, url, later)


@pytest.fixture
def survey_cycle(stack, db, nc, tmp_path) -> Cycle:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    c = Cycle(stack, db, nc, clock_file)
    stack.start("intake", "feedback", **c.env)
    return c


async def test_a_survey_link_is_encrypted_in_the_queue_and_the_reminder_replaces_a_revoked_one(
    survey_cycle: Cycle, db
) -> None:
    """Her invitation's link is only in the sent mail; revoking her links (her generation up
    by one, as the coordinator's action does) refuses it, and the reminder a week later
    carries a link of her new generation that opens the survey."""
    cycle = survey_cycle
    base = cycle.stack["intake"].base_url
    _, cycle_id, people = await accepted_mentees(cycle.stack, db, {"Grace": "en"})
    starts_on = await db.fetchval("SELECT starts_on FROM intake.cycles WHERE id = $1", cycle_id)
    cycle.move_to(at_morning(starts_on))
    await cycle.caught_up()
    (invitation,) = await cycle.sent("survey_invitation", 1)
    old = token_of(invitation)
    row = await db.fetchrow(
        "SELECT q::text AS row, secret_context FROM intake.mail_queue q"
        " WHERE q.template = 'survey_invitation'"
    )
    assert old not in row["row"] and old.split(".")[1] not in row["row"]
    assert "/survey/" not in row["row"] and row["secret_context"] is not None
    async with httpx.AsyncClient(base_url=base, timeout=10) as web:
        assert (await web.get(f"/survey/{old}")).status_code == 200
        await db.execute(
            "UPDATE intake.people SET link_generation = link_generation + 1 WHERE id = $1",
            people["en"],
        )
        refused = await web.get(f"/survey/{old}")
        assert refused.status_code == 410 and "The link has been replaced" in refused.text
        cycle.move_to(at_morning(starts_on + timedelta(days=7), 10))
        await cycle.caught_up()
        (reminder,) = await cycle.sent("survey_reminder", 1)
        fresh = token_of(reminder)
        assert fresh != old
        opened = await web.get(f"/survey/{fresh}")
        assert opened.status_code == 200 and "How confident" in opened.text
