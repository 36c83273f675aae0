"""Partner webhooks on real NATS and PostgreSQL, through intake, to a real HTTP receiver on
127.0.0.1 started by the test: signed per Standard Webhooks, retried with backoff, logged,
independent per partner, replayable with the same `webhook-id`, stopped by 410 Gone, and
still delivered after intake is killed (at-least-once; the id makes it exactly-once for a
receiver that de-duplicates)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.partners import domain, store
from shared.clock import SystemClock
from shared.db import make_engine, make_sessionmaker
from shared.launcher import free_port
from shared.partner_events import PartnerEnvelope
from shared.settings import Environment, Settings
from tests.conftest import eventually
from tests.helpers import create_organisation, open_cycle, partners_cli

T = TypeVar("T")

WEBHOOK_ENV = {
    "WOMENTO_WEBHOOK_ALLOW_PRIVATE": "1",
    "WOMENTO_WEBHOOK_RETRY_SECONDS": "0.05",  # 0.05 s, 3 s, 18 s, ...
    "WOMENTO_WEBHOOK_SCAN_SECONDS": "0.5",
    "WOMENTO_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def envelope(self) -> PartnerEnvelope:
        return PartnerEnvelope.model_validate_json(self.body)


@dataclass
class Receiver:
    """A partner's endpoint: answers each path from its plan (then 200), or hangs."""

    port: int = field(default_factory=free_port)
    plans: dict[str, list[int]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def delivered(self, path: str) -> list[Received]:
        return [r for r in self.at(path) if 200 <= r.status <= 299]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path in self.hang:
            self.received.append(Received(path, _headers(scope), body, 0, time.monotonic()))
            await self.closing.wait()  # the sender has given up or died: not a delivery
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        plan = self.plans.get(path, [])
        status = plan.pop(0) if plan else 200
        self.received.append(Received(path, _headers(scope), body, status, time.monotonic()))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _headers(scope: Any) -> dict[str, str]:
    return {name.decode().lower(): value.decode() for name, value in scope["headers"]}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(r, host="127.0.0.1", port=r.port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10)
    yield r
    r.closing.set()
    server.should_exit = True
    server.force_exit = True
    await asyncio.wait_for(task, timeout=10)


def create_partner(stack: Any, organisation_id: UUID, name: str, url: str) -> tuple[UUID, str]:
    done = partners_cli(
        stack,
        "create",
        "--organisation",
        str(organisation_id),
        "--name",
        name,
        "--webhook-url",
        url,
        env=WEBHOOK_ENV,
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    return UUID(created["partner_id"]), created["webhook_secret"]


def settings_for(stack: Any, **changes: Any) -> Settings:
    settings = Settings(
        service="intake", DATABASE_URL=stack.database_url, webhook_allow_private=True
    )
    return settings.model_copy(update=changes)


async def in_session(stack: Any, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings_for(stack), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def deliveries(stack: Any, org: UUID, partner: UUID) -> list[store.WebhookDelivery]:
    return await in_session(stack, lambda s: store.list_deliveries(s, org, partner))


def verified(secret: str, request: Received) -> str:
    return domain.verify_webhook(secret, request.headers, request.body, now=time.time())


async def test_signed_retried_logged_and_a_partner_that_is_down_holds_up_nothing(
    stack, receiver
) -> None:
    stack.start("intake", **WEBHOOK_ENV)
    org = await create_organisation(stack.database_url)
    receiver.plans["/a"] = [500, 500]
    receiver.hang.add("/down")
    down, _ = create_partner(stack, org, "Down partner", receiver.url("/down"))
    partner, secret = create_partner(stack, org, "Partner", receiver.url("/a"))
    _, cycle = await open_cycle(stack.database_url, org)

    await eventually(lambda: receiver.delivered("/a"), timeout=30)
    attempts = receiver.at("/a")
    assert [r.status for r in attempts] == [500, 500, 200]
    event_id = verified(secret, attempts[0])
    assert all(verified(secret, r) == event_id for r in attempts)
    assert all(r.headers["content-type"] == "application/json" for r in attempts)
    envelope = attempts[-1].envelope()
    assert str(envelope.id) == event_id and envelope.partnerid == partner
    assert envelope.type == "womento.partner.cycle_opened.v1"
    assert envelope.open().cycle_id == cycle  # type: ignore[attr-defined]
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    print(f"gaps between attempts: {[round(g, 2) for g in gaps]} s")
    assert gaps[0] >= 0.05 and gaps[1] >= 2.9  # the schedule: 1x, then 60x the base

    log = await deliveries(stack, org, partner)
    assert [(d.attempt, d.outcome, d.status_code) for d in log] == [
        (3, "delivered", 200),
        (2, "retrying", 500),
        (1, "retrying", 500),
    ]
    assert all(str(d.event_id) == event_id and d.trigger == "feed" for d in log)
    assert log[0].next_attempt_at is None and log[1].next_attempt_at is not None
    other_org = await create_organisation(stack.database_url)
    assert await deliveries(stack, other_org, partner) == []

    # The other partner's endpoint hangs until the timeout on every attempt; a new event
    # still reaches the first partner at once.
    assert receiver.at("/down")
    published = time.monotonic()
    await open_cycle(stack.database_url, org)
    await eventually(lambda: len(receiver.delivered("/a")) == 2, timeout=30)
    latency = receiver.delivered("/a")[-1].at - published
    print(f"second event reached the healthy partner after {latency:.2f} s")
    assert latency < 4.0  # less than one timeout (5 s) of the partner that is down
    down_log = await eventually(lambda: deliveries(stack, org, down), timeout=15)
    assert {(d.outcome, d.error) for d in down_log} == {("retrying", "timeout")}


async def test_replay_sends_the_same_webhook_id_again_and_410_stops_the_webhook(
    stack, receiver
) -> None:
    stack.start("intake", **WEBHOOK_ENV)
    org = await create_organisation(stack.database_url)
    partner, secret = create_partner(stack, org, "Partner", receiver.url("/a"))
    await open_cycle(stack.database_url, org)
    [first] = await eventually(lambda: receiver.delivered("/a"), timeout=30)
    [delivered] = await eventually(lambda: deliveries(stack, org, partner))

    other_org = await create_organisation(stack.database_url)
    with pytest.raises(domain.PartnerInputError) as refused:
        await in_session(
            stack,
            lambda s: store.replay_delivery(
                s, organisation_id=other_org, delivery_id=delivered.id, actor=None, now=_now()
            ),
        )
    assert refused.value.field == "delivery"

    def replay() -> Callable[[AsyncSession], Awaitable[store.WebhookDelivery]]:
        return lambda s: store.replay_delivery(
            s, organisation_id=org, delivery_id=delivered.id, actor=None, now=_now()
        )

    pending = await in_session(stack, replay())
    assert pending.outcome == "pending" and pending.trigger == "replay"
    again = await eventually(lambda: receiver.delivered("/a")[1:], timeout=15)
    assert verified(secret, again[0]) == first.webhook_id == str(delivered.event_id)
    assert again[0].body == first.body
    log = await eventually(
        lambda: _with_outcome(deliveries(stack, org, partner), "replay", "delivered")
    )
    assert log[0].id == pending.id and log[0].status_code == 200

    # 410 Gone: the webhook stops (audited); a replay is refused until it is set again.
    receiver.plans["/a"] = [410]
    await in_session(stack, replay())
    await eventually(lambda: _with_outcome(deliveries(stack, org, partner), "replay", "failed"))
    webhook = await in_session(stack, lambda s: store.get_webhook(s, org, partner))
    assert webhook is not None and webhook.stopped_at is not None
    await open_cycle(stack.database_url, org)  # arrives while stopped: kept, not sent
    await asyncio.sleep(2)
    assert len(receiver.at("/a")) == 3
    with pytest.raises(domain.PartnerInputError) as stopped:
        await in_session(stack, replay())
    assert (stopped.value.field, stopped.value.code) == ("webhook_url", "stopped")
    secret_again = await in_session(
        stack,
        lambda s: store.set_webhook(
            s,
            organisation_id=org,
            partner_id=partner,
            url=receiver.url("/a"),
            actor=None,
            now=_now(),
            settings=settings_for(stack),
        ),
    )
    assert secret_again is None  # same secret: only a rotation gives a new one
    resumed = await eventually(lambda: receiver.delivered("/a")[2:], timeout=15)
    assert resumed[0].webhook_id not in (first.webhook_id,)
    assert verified(secret, resumed[0])
    audited = await in_session(stack, lambda s: _audit_actions(s, partner))
    assert "webhook_replayed" in audited and "webhook_stopped" in audited


async def test_bad_webhook_url_names_the_field_and_stores_nothing(stack, receiver) -> None:
    stack.start("intake", **WEBHOOK_ENV)
    org = await create_organisation(stack.database_url)
    partner, secret = create_partner(stack, org, "Partner", receiver.url("/a"))
    production = settings_for(stack, env=Environment.PRODUCTION, webhook_allow_private=False)
    development = settings_for(stack, webhook_allow_private=False)
    for url, settings, code in (
        ("http://partner.example.org/hook", production, "https_required"),
        ("https://10.0.0.5/hook", development, "private_address"),
        ("https://localhost/hook", development, "private_address"),
        ("https://[::1]/hook", development, "private_address"),
        ("not a url", development, "invalid"),
        ("ftp://partner.example.org/hook", development, "invalid"),
        ("https://user:pw@partner.example.org/", development, "credentials_in_url"),
    ):
        with pytest.raises(domain.PartnerInputError) as refused:
            await in_session(
                stack,
                lambda s, url=url, settings=settings: store.set_webhook(
                    s,
                    organisation_id=org,
                    partner_id=partner,
                    url=url,
                    actor=None,
                    now=_now(),
                    settings=settings,
                ),
            )
        assert (refused.value.field, refused.value.code) == ("webhook_url", code), url
    webhook = await in_session(stack, lambda s: store.get_webhook(s, org, partner))
    assert webhook is not None and webhook.url == receiver.url("/a")
    assert "webhook_changed" not in await in_session(stack, lambda s: _audit_actions(s, partner))

    # Another organisation's admin cannot touch it; a rotation gives a new secret.
    other_org = await create_organisation(stack.database_url)

    def set_to(url: str, organisation: UUID, rotate: bool = False) -> Any:
        return lambda s: store.set_webhook(
            s,
            organisation_id=organisation,
            partner_id=partner,
            url=url,
            actor=None,
            now=_now(),
            settings=production,
            rotate=rotate,
        )

    with pytest.raises(domain.PartnerInputError) as not_ours:
        await in_session(stack, set_to("https://partner.example.org/hook", other_org))
    assert not_ours.value.field == "partner"
    assert await in_session(stack, set_to("https://partner.example.org/hook", org)) is None
    rotated = await in_session(stack, set_to("https://partner.example.org/hook", org, True))
    assert rotated is not None and rotated != secret and rotated.startswith("whsec_")
    assert await in_session(stack, set_to("", org)) is None
    webhook = await in_session(stack, lambda s: store.get_webhook(s, org, partner))
    assert webhook is not None and webhook.url is None
    audited = await in_session(stack, lambda s: _audit_details(s, partner))
    assert audited == ["changed", "rotated", "removed"]


@pytest.mark.kills
async def test_killed_while_deliveries_are_pending_every_event_is_still_delivered(
    stack, receiver
) -> None:
    env = {**WEBHOOK_ENV, "WOMENTO_WEBHOOK_RETRY_SECONDS": "2"}
    stack.start("intake", **env)
    org = await create_organisation(stack.database_url)
    partner, secret = create_partner(stack, org, "Partner", receiver.url("/a"))
    receiver.plans["/a"] = [500] * 100
    cycles = {(await open_cycle(stack.database_url, org))[1] for _ in range(3)}
    await eventually(lambda: len({r.webhook_id for r in receiver.at("/a")}) == 3, timeout=30)
    stack["intake"].kill()  # three deliveries are waiting for their retry
    receiver.plans["/a"] = []
    assert not receiver.delivered("/a")
    stack.start("intake", **env)

    await eventually(lambda: len({r.webhook_id for r in receiver.delivered("/a")}) == 3, timeout=60)
    delivered = receiver.delivered("/a")
    assert {r.envelope().open().cycle_id for r in delivered} == cycles  # type: ignore[attr-defined]
    assert all(verified(secret, r) == str(r.envelope().id) for r in receiver.at("/a"))
    ids = [r.webhook_id for r in delivered]
    print(f"{len(ids)} 2xx deliveries of {len(set(ids))} events after the kill")
    log = await deliveries(stack, org, partner)
    assert {str(d.event_id) for d in log if d.outcome == "delivered"} == set(ids)

    # Killed in the middle of a request: sent again (same id) once the message's
    # acknowledgement time has run out after the restart.
    receiver.hang.add("/a")
    _, last_cycle = await open_cycle(stack.database_url, org)
    [in_flight] = await eventually(lambda: [r for r in receiver.at("/a") if r.status == 0])
    stack["intake"].kill()
    receiver.hang.discard("/a")
    receiver.closing.set()
    stack.start("intake", **env)
    await eventually(lambda: len({r.webhook_id for r in receiver.delivered("/a")}) == 4, timeout=60)
    [again] = [r for r in receiver.delivered("/a") if r.webhook_id == in_flight.webhook_id]
    assert again.envelope().open().cycle_id == last_cycle  # type: ignore[attr-defined]
    assert verified(secret, again) == in_flight.webhook_id


def _now() -> Any:
    return SystemClock().now()


async def _with_outcome(
    rows: Awaitable[list[store.WebhookDelivery]], trigger: str, outcome: str
) -> list[store.WebhookDelivery]:
    return [d for d in await rows if d.trigger == trigger and d.outcome == outcome]


async def _audit_actions(session: AsyncSession, partner: UUID) -> list[str]:
    from services.intake.partners.tables import partner_audit

    rows = await session.scalars(
        partner_audit.select()
        .with_only_columns(partner_audit.c.action)
        .where(partner_audit.c.partner_id == partner)
        .order_by(partner_audit.c.id)
    )
    return list(rows)


async def _audit_details(session: AsyncSession, partner: UUID) -> list[str]:
    from services.intake.partners.tables import partner_audit

    rows = await session.scalars(
        partner_audit.select()
        .with_only_columns(partner_audit.c.detail)
        .where(partner_audit.c.partner_id == partner, partner_audit.c.action == "webhook_changed")
        .order_by(partner_audit.c.id)
    )
    return [str(detail) for detail in rows]
