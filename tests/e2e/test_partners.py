"""Partners on real NATS and PostgreSQL, through intake: a credential issued by command
admits a partner into its own account, which receives its organisation's curated feed (and
nothing of another organisation's); wrong secrets are refused; revoking a credential
disconnects the live connection within seconds and refuses it from then on."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest

from shared import natsauth
from shared.launcher import ServiceProcess
from shared.partner_events import PartnerEnvelope
from tests.conftest import eventually
from tests.helpers import create_organisation, open_cycle, partners_cli

PERSONAL_KEYS = ("person_id", "mentee_id", "mentor_id", "application_id", "pair_id", "email")


def create_partner(stack: Any, organisation_id: UUID, name: str) -> UUID:
    done = partners_cli(stack, "create", "--organisation", str(organisation_id), "--name", name)
    assert done.returncode == 0, done.stderr
    return UUID(json.loads(done.stdout)["partner_id"])


def issue(stack: Any, organisation_id: UUID, partner_id: UUID, out: Path) -> dict[str, str]:
    """Issue a credential into `out`, which a readable stale file occupies: it ends 0600."""
    out.write_text("{}\n")
    out.chmod(0o644)
    done = partners_cli(
        stack,
        "issue",
        "--organisation",
        str(organisation_id),
        "--partner",
        str(partner_id),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    document: dict[str, str] = json.loads(out.read_text())
    return document


class PartnerClient:
    """A partner as the docs tell it to connect: its file, its durable, its inbox."""

    def __init__(self, document: dict[str, str]) -> None:
        self.document = document
        self.errors: list[str] = []
        self.disconnected = asyncio.Event()
        self.nc: Any = None

    async def connect(self, **overrides: Any) -> Any:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        async def on_disconnect() -> None:
            self.disconnected.set()

        options: dict[str, Any] = {
            "user": self.document["user"],
            "password": self.document["password"],
            "inbox_prefix": self.document["inbox_prefix"],
            "error_cb": on_error,
            "disconnected_cb": on_disconnect,
            "allow_reconnect": False,
            "connect_timeout": 3,
            **overrides,
        }
        self.nc = await nats.connect(self.document["nats_url"], **options)
        return self.nc

    async def subscribe(self) -> Any:
        """Bind its durable, which the gateway made when it admitted the connection."""
        js = self.nc.jetstream()
        durable = self.document["durable"]
        return await js.pull_subscribe_bind(durable=durable, stream=self.document["stream"])


async def fetch_all(subscription: Any, want: int, timeout: float = 30) -> list[PartnerEnvelope]:
    got: list[PartnerEnvelope] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        try:
            messages = await subscription.fetch(10, timeout=1)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for msg in messages:
            got.append(PartnerEnvelope.model_validate_json(msg.data))
            await msg.ack()
    return got


async def test_partner_gets_its_organisations_curated_feed_and_nothing_else(
    stack, db, tmp_path
) -> None:
    stack.start("intake")
    ours = await create_organisation(stack.database_url)
    theirs = await create_organisation(stack.database_url)
    partner = create_partner(stack, ours, "Työvoimapalvelut")
    other = create_partner(stack, theirs, "Another NGO's partner")
    document = issue(stack, ours, partner, tmp_path / "partner.json")
    assert document["filter_subject"] == f"womento.partner.{ours}.{partner}.>"

    _, our_cycle = await open_cycle(stack.database_url, ours)
    _, their_cycle = await open_cycle(stack.database_url, theirs)

    client = PartnerClient(document)
    await client.connect()
    subscription = await client.subscribe()
    [opened] = await fetch_all(subscription, 1)
    assert opened.type == "womento.partner.cycle_opened.v1"
    assert opened.organisationid == ours and opened.partnerid == partner
    assert opened.open().cycle_id == our_cycle  # type: ignore[attr-defined]
    body = opened.model_dump_json()
    assert not any(key in body for key in PERSONAL_KEYS)
    # Nothing more: the other organisation's cycle went to its own partner only.
    assert await fetch_all(subscription, 1, timeout=3) == []
    assert client.errors == []

    # The other partner's copy exists (so the silence above is scoping, not a dead feed).
    admin = await nats.connect(stack.nats_url, **stack.nats.connect_options(natsauth.ADMIN))
    try:
        js = admin.jetstream()
        copy = await js.get_last_msg("WOMENTO_PARTNER", f"womento.partner.{theirs}.{other}.>")
        assert PartnerEnvelope.model_validate_json(copy.data).open().cycle_id == their_cycle  # type: ignore[attr-defined]
    finally:
        await admin.close()
    await client.nc.close()


async def test_wrong_secret_and_malformed_credentials_are_refused_and_audited(
    stack, db, tmp_path
) -> None:
    stack.start("intake")
    org = await create_organisation(stack.database_url)
    partner = create_partner(stack, org, "Partner")
    document = issue(stack, org, partner, tmp_path / "partner.json")

    for user, password in (
        (document["user"], document["password"] + "x"),
        ("not-a-credential", document["password"]),
        (str(UUID(int=7)), document["password"]),
        # A client retrying the wrong secret: refused each time, audited once a minute.
        (document["user"], document["password"] + "y"),
        (document["user"], "z"),
    ):
        with pytest.raises(Exception) as refused:
            await PartnerClient({**document, "user": user, "password": password}).connect()
        assert "authorization" in str(refused.value).lower()
    # An expired credential, with its right secret.
    expired = issue(stack, org, partner, tmp_path / "expired.json")
    await db.execute(
        "UPDATE intake.partner_credentials SET expires_at = now() - interval '1 second'"
        " WHERE id = $1",
        UUID(expired["user"]),
    )
    with pytest.raises(Exception) as refused:
        await PartnerClient(expired).connect()
    assert "authorization" in str(refused.value).lower()
    audited = await db.fetch(
        "SELECT action, detail FROM intake.partner_audit WHERE partner_id = $1 ORDER BY id",
        partner,
    )
    assert [tuple(row) for row in audited].count(("connection_refused", "wrong_secret")) == 1
    assert ("connection_refused", "expired") in [tuple(row) for row in audited]
    # The right one still gets in.
    client = PartnerClient(document)
    await client.connect()
    assert client.nc.is_connected
    await client.nc.close()


async def test_revoked_credential_is_disconnected_within_seconds_and_refused(
    stack, db, tmp_path
) -> None:
    stack.start("intake")
    org = await create_organisation(stack.database_url)
    partner = create_partner(stack, org, "Partner")
    document = issue(stack, org, partner, tmp_path / "partner.json")
    client = PartnerClient(document)
    await client.connect()
    await client.subscribe()

    started = time.monotonic()
    done = partners_cli(
        stack, "revoke", "--organisation", str(org), "--credential", document["user"]
    )
    assert done.returncode == 0, done.stderr
    revoked = time.monotonic()  # the revocation is committed by the time the command exits
    await asyncio.wait_for(client.disconnected.wait(), timeout=10)
    disconnected = time.monotonic()
    print(
        f"revoked credential disconnected after {disconnected - started:.2f} s"
        f" ({disconnected - revoked:.2f} s after the command returned)"
    )
    assert disconnected - revoked < 3, "the sweep runs every second"
    with pytest.raises(Exception) as refused:
        await PartnerClient(document).connect()
    assert "authorization" in str(refused.value).lower()
    rows = await db.fetch(
        "SELECT action FROM intake.partner_audit WHERE credential_id = $1 ORDER BY id",
        UUID(document["user"]),
    )
    actions = [row["action"] for row in rows]
    assert actions[:3] == ["credential_issued", "connection_admitted", "credential_revoked"]
    assert actions[-1] == "connection_refused"
    assert await eventually(
        lambda: db.fetchval("SELECT count(*) = 0 FROM intake.partner_connections")
    )


async def test_bad_partner_input_names_the_field_and_stores_nothing(stack, db) -> None:
    stack.start("intake")
    org = await create_organisation(stack.database_url)
    for args, field in (
        (("--name", "   "), "name"),
        (("--name", "x" * 200), "name"),
        (("--name", "Hook", "--webhook-url", "ftp://example.org/x"), "webhook_url"),
        (("--name", "Hook", "--webhook-url", "https://10.0.0.5/hook"), "webhook_url"),
        (("--name", "Hook", "--webhook-url", "https://user:pw@example.org/"), "webhook_url"),
    ):
        done = partners_cli(stack, "create", "--organisation", str(org), *args)
        assert done.returncode == 2
        assert done.stderr.startswith(f"{field}:"), done.stderr
    assert await db.fetchval("SELECT count(*) FROM intake.partners") == 0
    assert await db.fetchval("SELECT count(*) FROM intake.partner_audit") == 0
    partner = create_partner(stack, org, "Partner")
    done = partners_cli(
        stack, "issue", "--organisation", str(org), "--partner", str(partner), "--days", "0"
    )
    assert done.returncode == 2 and done.stderr.startswith("valid_days:")
    assert await db.fetchval("SELECT count(*) FROM intake.partner_credentials") == 0


async def test_two_intake_replicas_decide_each_connection_and_replay_once(
    stack, db, tmp_path
) -> None:
    """As Kubernetes runs intake (two replicas): one of them answers each authorization
    request (one audit row per connection) and each replay request (one answer), and a
    revocation still disconnects the partner."""
    stack.start("intake")
    second = ServiceProcess(
        "intake", {**stack.env, "WOMENTO_SERVICE": "intake"}, tmp_path / "second-intake"
    )
    second.start()
    try:
        org = await create_organisation(stack.database_url)
        partner = create_partner(stack, org, "Partner")
        document = issue(stack, org, partner, tmp_path / "partner.json")
        await open_cycle(stack.database_url, org)
        credential = UUID(document["user"])
        admitted = (
            "SELECT count(*) FROM intake.partner_audit"
            " WHERE credential_id = $1 AND action = 'connection_admitted'"
        )
        for connection in (1, 2):
            client = PartnerClient(document)
            await client.connect()
            await asyncio.sleep(1.0)  # time for a second replica's answer, if any
            assert await db.fetchval(admitted, credential) == connection
            if connection == 1:
                await client.nc.close()
        [opened] = await fetch_all(await client.subscribe(), 1)
        assert opened.organisationid == org

        # One replay request, one answer (a raw subscription sees every answer).
        answers: list[bytes] = []
        inbox = f"{document['inbox_prefix']}.replay"

        async def answered(msg: Any) -> None:
            answers.append(msg.data)

        await client.nc.subscribe(inbox, cb=answered)
        await client.nc.publish(document["replay_subject"], b"{}", reply=inbox)
        await asyncio.sleep(2.0)
        assert len(answers) == 1 and json.loads(answers[0])["ok"] is True

        done = partners_cli(
            stack, "revoke", "--organisation", str(org), "--credential", document["user"]
        )
        assert done.returncode == 0, done.stderr
        await asyncio.wait_for(client.disconnected.wait(), timeout=10)
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await PartnerClient(document).connect()
    finally:
        second.stop()
