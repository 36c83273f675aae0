"""The admin's partners screen on real intake, NATS and PostgreSQL: only admins see it; a
partner added there gets a credential shown once, which really connects to NATS; revoking it
there disconnects the partner within seconds; every step is audited with the admin's id; a
bad name or webhook address names the field and stores nothing; another organisation's
admin cannot touch the partner."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from uuid import UUID

import pytest

from services.intake.partners import domain
from tests.conftest import eventually
from tests.e2e.test_partners import PartnerClient
from tests.e2e.test_webhooks import WEBHOOK_ENV, Receiver, receiver  # noqa: F401
from tests.helpers import add_coordinator, create_organisation, csrf_from, logged_in, open_cycle

SCREEN = "/coordinator/partners"


def credentials_on(page: str) -> dict[str, str]:
    found = re.search(r'<pre id="secret"[^>]*>(.*?)</pre>', page, re.S)
    assert found, "no credentials file on the page"
    document: dict[str, str] = json.loads(html.unescape(found.group(1)))
    return document


async def test_admin_adds_a_partner_issues_and_revokes_a_credential(stack, db) -> None:
    stack.start("intake")
    base = stack["intake"].base_url
    org = await create_organisation(stack.database_url)
    admin_email = await add_coordinator(stack.database_url, org, role="admin")
    admin_id = await db.fetchval("SELECT id FROM intake.coordinators WHERE email = $1", admin_email)
    for role in ("coordinator", "viewer"):
        other = await logged_in(base, await add_coordinator(stack.database_url, org, role=role))
        assert (await other.get(SCREEN)).status_code == 403
        dashboard = await other.get("/coordinator")
        assert SCREEN not in dashboard.text  # no menu entry either
        await other.aclose()

    admin = await logged_in(base, admin_email)
    screen = await admin.get(SCREEN)
    assert screen.status_code == 200 and "Kumppanijärjestelmät" in screen.text
    assert f'href="{SCREEN}"' in (await admin.get("/coordinator")).text
    for lang, title in (("sv", "Partnersystem"), ("en", "Partner systems")):
        screen = await admin.get(f"{SCREEN}?lang={lang}")
        assert title in screen.text  # English from here on (the cookie)

    # Bad input: the field is named, nothing is stored.
    token = csrf_from(screen.text)
    for form, field, text in (
        ({"name": "  "}, "name", "Give the partner a name"),
        ({"name": "Hook", "webhook_url": "ftp://example.org/x"}, "webhook_url", "https://"),
        ({"name": "Hook", "webhook_url": "https://10.0.0.5/x"}, "webhook_url", "private network"),
    ):
        refused = await admin.post(SCREEN, data={**form, "csrf_token": token})
        assert refused.status_code == 422
        assert 'id="' + field + '"' in refused.text and 'aria-invalid="true"' in refused.text
        assert text in refused.text
        token = csrf_from(refused.text)
    assert await db.fetchval("SELECT count(*) FROM intake.partners") == 0

    created = await admin.post(SCREEN, data={"name": "TE-palvelut", "csrf_token": token})
    assert created.status_code == 303
    partner_id = await db.fetchval("SELECT id FROM intake.partners WHERE organisation_id = $1", org)
    screen = await admin.get(SCREEN)
    assert "TE-palvelut" in screen.text
    duplicate = await admin.post(
        SCREEN, data={"name": "TE-palvelut", "csrf_token": csrf_from(screen.text)}
    )
    assert duplicate.status_code == 422 and "already has a partner" in duplicate.text

    too_long = await admin.post(
        f"{SCREEN}/{partner_id}/credentials",
        data={"valid_days": "100000", "csrf_token": csrf_from(duplicate.text)},
    )
    assert too_long.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM intake.partner_credentials") == 0
    issued = await admin.post(
        f"{SCREEN}/{partner_id}/credentials",
        data={"valid_days": "30", "csrf_token": csrf_from(too_long.text)},
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    document = credentials_on(issued.text)
    assert document["partner_id"] == str(partner_id) and document["organisation_id"] == str(org)
    assert "download=" in issued.text
    # Only the digest is kept.
    stored = await db.fetchval(
        "SELECT secret_digest FROM intake.partner_credentials WHERE id = $1",
        UUID(document["user"]),
    )
    assert document["password"].encode() not in stored

    client = PartnerClient(document)
    await client.connect()
    assert client.nc.is_connected
    screen = await admin.get(SCREEN)
    assert document["user"] in screen.text and ">never<" not in screen.text  # last used

    # Another organisation's admin cannot revoke or disable it.
    stranger_org = await create_organisation(stack.database_url)
    stranger = await logged_in(
        base, await add_coordinator(stack.database_url, stranger_org, role="admin")
    )
    stranger_token = csrf_from((await stranger.get(SCREEN)).text)
    for path in (
        f"{SCREEN}/{partner_id}/credentials/{document['user']}/revoke",
        f"{SCREEN}/{partner_id}/disable",
        f"{SCREEN}/{partner_id}/credentials",
    ):
        assert (await stranger.post(path, data={"csrf_token": stranger_token})).status_code == 404
    assert "TE-palvelut" not in (await stranger.get(SCREEN)).text
    await stranger.aclose()
    assert client.nc.is_connected

    revoked = await admin.post(
        f"{SCREEN}/{partner_id}/credentials/{document['user']}/revoke",
        data={"csrf_token": csrf_from(screen.text)},
    )
    assert revoked.status_code == 303 and "done=revoked" in revoked.headers["location"]
    await asyncio.wait_for(client.disconnected.wait(), timeout=10)
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await PartnerClient(document).connect()

    audited = await db.fetch(
        "SELECT action, actor FROM intake.partner_audit WHERE partner_id = $1 ORDER BY id",
        partner_id,
    )
    by_admin = [row["action"] for row in audited if row["actor"] == admin_id]
    assert by_admin == ["partner_created", "credential_issued", "credential_revoked"]
    screen = await admin.get(SCREEN)
    assert "credential revoked" in screen.text and "Maria Virtanen" in screen.text

    disabled = await admin.post(
        f"{SCREEN}/{partner_id}/disable", data={"csrf_token": csrf_from(screen.text)}
    )
    assert disabled.status_code == 303
    assert await db.fetchval(
        "SELECT disabled_at IS NOT NULL FROM intake.partners WHERE id = $1", partner_id
    )
    # A page opened before the partner was disabled: its forms are refused by name.
    stale_token = csrf_from(screen.text)
    late_issue = await admin.post(
        f"{SCREEN}/{partner_id}/credentials", data={"valid_days": "30", "csrf_token": stale_token}
    )
    assert late_issue.status_code == 422 and "disabled in the meantime" in late_issue.text
    assert f'href="#partner-{partner_id}"' in late_issue.text
    late_hook = await admin.post(
        f"{SCREEN}/{partner_id}/webhook",
        data={"webhook_url": "https://hooks.example.org/w", "csrf_token": stale_token},
    )
    assert late_hook.status_code == 422 and "disabled in the meantime" in late_hook.text
    assert 'name="webhook_url"' not in late_hook.text  # no form for a disabled partner
    assert await db.fetchval("SELECT count(*) FROM intake.partner_credentials") == 1
    assert await db.fetchval("SELECT webhook_url FROM intake.partners") is None
    await admin.aclose()


async def test_a_webhook_partner_gets_its_signing_secret_once_and_the_log_names_errors(
    stack, db
) -> None:
    stack.start("intake", **WEBHOOK_ENV)
    base = stack["intake"].base_url
    org = await create_organisation(stack.database_url)
    admin = await logged_in(base, await add_coordinator(stack.database_url, org, role="admin"))
    token = csrf_from((await admin.get(SCREEN)).text)
    created = await admin.post(
        SCREEN,
        data={"name": "Funder", "webhook_url": "http://127.0.0.1:9/hook", "csrf_token": token},
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = html.unescape(re.search(r'<pre id="secret"[^>]*>(.*?)</pre>', created.text).group(1))  # type: ignore[union-attr]
    assert secret.startswith("whsec_")
    stored = await db.fetchval("SELECT webhook_secret FROM intake.partners")
    assert secret.encode() not in stored and secret[6:].encode() not in stored
    assert secret not in (await admin.get(SCREEN)).text

    # Nothing listens on port 9: the log shows the event and the error by name, and codes.
    await open_cycle(stack.database_url, org)
    assert await eventually(
        lambda: db.fetchval(
            "SELECT count(*) > 0 FROM intake.partner_webhook_deliveries"
            " WHERE error = 'connect_error'"
        ),
        timeout=30,
    )
    partner_id = await db.fetchval("SELECT id FROM intake.partners WHERE organisation_id = $1", org)
    log = (await admin.get(f"{SCREEN}/{partner_id}/webhook?lang=en")).text
    assert "Cycle opened" in log and "<code>womento.partner.cycle_opened.v1</code>" in log
    assert "could not connect <code>connect_error</code>" in log
    await admin.aclose()


def secret_on(page: str) -> str:
    found = re.search(r'<pre id="secret"[^>]*>(.*?)</pre>', page, re.S)
    assert found, "no secret on the page"
    return html.unescape(found.group(1))


async def test_admin_sets_a_webhook_reads_the_log_and_replays(
    stack,
    db,
    receiver: Receiver,  # noqa: F811
) -> None:
    stack.start("intake", **WEBHOOK_ENV)
    base = stack["intake"].base_url
    org = await create_organisation(stack.database_url)
    admin = await logged_in(base, await add_coordinator(stack.database_url, org, role="admin"))
    token = csrf_from((await admin.get(SCREEN)).text)
    assert (
        await admin.post(SCREEN, data={"name": "Funder", "csrf_token": token})
    ).status_code == 303
    partner_id = await db.fetchval("SELECT id FROM intake.partners WHERE organisation_id = $1", org)
    hook = f"{SCREEN}/{partner_id}/webhook"
    screen = await admin.get(f"{hook}?lang=en")
    assert screen.status_code == 200 and "Nothing delivered yet" in screen.text

    refused = await admin.post(
        hook, data={"webhook_url": "gopher://example.org/", "csrf_token": csrf_from(screen.text)}
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert await db.fetchval("SELECT webhook_url FROM intake.partners") is None

    receiver.plans["/hook"] = [500]
    saved = await admin.post(
        hook, data={"webhook_url": receiver.url("/hook"), "csrf_token": csrf_from(refused.text)}
    )
    assert saved.status_code == 200 and saved.headers["cache-control"] == "no-store"
    secret = secret_on(saved.text)
    assert secret.startswith("whsec_")

    await open_cycle(stack.database_url, org)
    assert await eventually(lambda: len(receiver.delivered("/hook")) == 1, timeout=30)
    first = receiver.delivered("/hook")[0]
    assert (
        domain.verify_webhook(secret, first.headers, first.body, now=time.time())
        == first.webhook_id
    )
    screen = await admin.get(f"{hook}?lang=en")
    assert "HTTP 500" in screen.text and "HTTP 200" in screen.text
    assert "Cycle opened" in screen.text
    assert "failed, will retry" in screen.text and "delivered" in screen.text

    delivered = await db.fetchval(
        "SELECT id FROM intake.partner_webhook_deliveries WHERE outcome = 'delivered'"
    )
    replayed = await admin.post(
        f"{SCREEN}/{partner_id}/deliveries/{delivered}/replay",
        data={"csrf_token": csrf_from(screen.text)},
    )
    assert replayed.status_code == 303 and "done=replayed" in replayed.headers["location"]
    assert await eventually(lambda: len(receiver.delivered("/hook")) == 2, timeout=30)
    again = receiver.delivered("/hook")[1]
    assert again.webhook_id == first.webhook_id and again.body == first.body

    # Another organisation's admin sees and replays nothing of it.
    stranger = await logged_in(
        base,
        await add_coordinator(
            stack.database_url, await create_organisation(stack.database_url), role="admin"
        ),
    )
    stranger_token = csrf_from((await stranger.get(SCREEN)).text)
    assert (await stranger.get(hook)).status_code == 404
    assert (
        await stranger.post(
            f"{SCREEN}/{partner_id}/deliveries/{delivered}/replay",
            data={"csrf_token": stranger_token},
        )
    ).status_code == 404
    await stranger.aclose()

    removed = await admin.post(hook, data={"webhook_url": "", "csrf_token": csrf_from(screen.text)})
    assert removed.status_code == 303 and "done=webhook_removed" in removed.headers["location"]
    audit = (await admin.get(SCREEN)).text
    assert "webhook changed (set)" in audit and "webhook changed (removed)" in audit
    assert "delivery sent again" in audit
    await admin.aclose()
