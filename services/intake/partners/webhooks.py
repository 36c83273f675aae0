"""Webhooks for partners without NATS: each partner message in `PARTNER_FEED` is POSTed,
signed (Standard Webhooks, `domain.webhook_headers`), to the partner's webhook.

- One durable pull consumer per partner, `webhook_<partner hex>`, filtered to the partner's
  own subjects, and one task per partner with its own HTTP client: a partner's endpoint
  that is slow or down holds up nothing but its own deliveries.
- A failed attempt is recorded and the message is nak'ed with the schedule's delay
  (`domain.classify_attempt`), so the consumer goes on with the next ones; after the last
  attempt (about 3 days) it is terminated as `failed`. Order is therefore not kept: a
  receiver de-duplicates by `webhook-id` (the envelope's id, the same on every attempt and
  replay) and orders by the envelope's `time` if it needs to.
- Delivery is at-least-once: the attempt is recorded and then the message acknowledged;
  a crash in between sends it again with the same `webhook-id`. A redelivered message
  whose event the log shows delivered is acknowledged without being sent again.
- The receiver's 410 Gone stops the webhook (`partners.webhook_stopped_at`) until an admin
  sets it again; the consumer keeps its place, so nothing is lost when it resumes. The
  consumer of a disabled partner is deleted.
- Replays (`store.replay_delivery`) are rows of the delivery log, read again from the stream
  by sequence (`$JS.API.STREAM.MSG.GET.PARTNER_FEED`) and sent by the partner's task.
- SSRF: the host is resolved at each attempt and every address must be public (unless
  `webhook_allow_private`); the request goes to that very address (TLS still checks the
  name), so a second lookup cannot swap it (DNS rebinding). Redirects are not followed;
  proxy variables from the environment are ignored.
- Partners' webhooks are re-read every `webhook_scan_seconds`: added, changed (address or
  secret, used from the next attempt on), removed, stopped or disabled, without a restart.

Logs and the delivery log carry ids, status codes and short error codes; never a body, a
secret or a webhook's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import httpx
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, FetchTimeoutError, NotFoundError
from prometheus_client import Counter
from pydantic import ValidationError

from services.intake.partners import domain, store
from services.intake.partners.gateway import ensure_feed_stream
from shared import natsauth
from shared.bus import connect_options, durable_config
from shared.crypto import vault_for
from shared.partner_events import PartnerEnvelope
from shared.service import Runtime, keep_running

log = logging.getLogger(__name__)

CONSUMER_PREFIX = "webhook_"
FETCH_BATCH = 10
USER_AGENT = "Womento-Webhooks/1"

WEBHOOK_ATTEMPTS = Counter(
    "womento_webhook_attempts_total",
    "Partner webhook attempts by outcome: delivered, retrying, failed",
    ["outcome"],
)


def webhook_durable(partner_id: UUID) -> str:
    return f"{CONSUMER_PREFIX}{partner_id.hex}"


# --- one attempt -------------------------------------------------------------------------------


class AddressRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def deliverable_address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to send to: `host` resolved now; `AddressRefused` (`dns_error`,
    `private_address`) unless every address it has is public or `allow_private`."""
    if not allow_private and domain.is_private_host(host):
        raise AddressRefused("private_address")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused("dns_error") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused("dns_error")
    if not allow_private and not all(domain.is_public_address(a) for a in addresses):
        raise AddressRefused("private_address")
    return addresses[0]


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    allow_private: bool,
    limit_seconds: float,
) -> Attempt:
    """POST `body` to `url`, pinned to the address checked; never raises (an error code)."""
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(limit_seconds):
            address = await deliverable_address(host, port, allow_private=allow_private)
            pinned_host = f"[{address}]" if ":" in address else address
            pinned = urlunsplit(
                (parts.scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, "")
            )
            async with client.stream(
                "POST",
                pinned,
                content=body,
                headers={**headers, "host": parts.netloc, "user-agent": USER_AGENT},
                extensions={"sni_hostname": host},
            ) as response:
                retry_after = domain.parse_retry_after(response.headers.get("retry-after"))
                return Attempt(response.status_code, None, took(), retry_after)
    except AddressRefused as exc:
        return Attempt(None, exc.code, took())
    except (TimeoutError, httpx.TimeoutException):
        return Attempt(None, "timeout", took())
    except httpx.ConnectError as exc:
        text = str(exc).lower()
        tls = "ssl" in text or "certificate" in text or "tls" in text
        return Attempt(None, "tls_error" if tls else "connect_error", took())
    except httpx.HTTPError:
        return Attempt(None, "request_error", took())


# --- one partner ---------------------------------------------------------------------------------


class PartnerDeliveries:
    """The task delivering one partner's messages and replays."""

    def __init__(
        self,
        rt: Runtime,
        js: JetStreamContext,
        targets: dict[UUID, store.WebhookTarget],
        partner_id: UUID,
    ) -> None:
        self.rt, self.js, self.targets, self.partner_id = rt, js, targets, partner_id
        self.replays_due = asyncio.Event()
        self.replays_due.set()
        self.task = asyncio.create_task(self.run(), name=f"webhooks-{partner_id.hex[:8]}")

    def target(self) -> store.WebhookTarget | None:
        return self.targets.get(self.partner_id)

    async def run(self) -> None:
        s = self.rt.settings
        async with httpx.AsyncClient(
            follow_redirects=False, trust_env=False, timeout=s.webhook_timeout_seconds
        ) as client:
            while self.target() is not None:
                try:
                    await self.consume(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning(
                        "webhooks: partner loop failed; restarting",
                        exc_info=True,
                        extra={"partner_id": str(self.partner_id)},
                    )
                    await asyncio.sleep(2.0)

    async def consume(self, client: httpx.AsyncClient) -> None:
        subscription = await self.subscribe()
        try:
            while self.target() is not None:
                if self.replays_due.is_set():
                    self.replays_due.clear()
                    await self.send_replays(client)
                try:
                    messages = await subscription.fetch(FETCH_BATCH, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    continue
                for msg in messages:
                    await self.deliver(client, msg)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        target = self.target()
        assert target is not None
        durable = webhook_durable(self.partner_id)
        s = self.rt.settings
        config = durable_config(
            durable,
            natsauth.partner_subject_filter(str(target.organisation_id), str(target.partner_id)),
            s.webhook_timeout_seconds + s.ack_wait_seconds,
        )
        try:
            await self.js.add_consumer(natsauth.PARTNER_FEED_STREAM, config)
        except BadRequestError:
            log.warning("webhooks: consumer not updated", extra={"consumer": durable})
        return await self.js.pull_subscribe_bind(
            durable=durable, stream=natsauth.PARTNER_FEED_STREAM
        )

    async def attempt(
        self, client: httpx.AsyncClient, target: store.WebhookTarget, body: bytes, event_id: UUID
    ) -> Attempt:
        s = self.rt.settings
        timestamp = int(self.rt.clock.now().timestamp())
        headers = domain.webhook_headers(target.secret, str(event_id), timestamp, body)
        return await post_webhook(
            client,
            target.url,
            headers,
            body,
            allow_private=s.webhook_allow_private,
            limit_seconds=s.webhook_timeout_seconds,
        )

    def decide(self, result: Attempt, attempt: int) -> domain.DeliveryDecision:
        return domain.classify_attempt(
            status_code=result.status_code,
            attempt=attempt,
            base_seconds=self.rt.settings.webhook_retry_seconds,
            retry_after=result.retry_after,
            jitter=random.random(),
        )

    def envelope(self, body: bytes) -> PartnerEnvelope | None:
        try:
            envelope = PartnerEnvelope.model_validate_json(body)
        except ValidationError:
            return None
        return envelope if envelope.partnerid == self.partner_id else None

    async def deliver(self, client: httpx.AsyncClient, msg: Msg) -> None:
        """The event's own delivery: one attempt, recorded, then ack / nak / term."""
        target = self.target()
        if target is None:  # removed or stopped meanwhile: keep it for when it resumes
            await msg.nak(delay=self.rt.settings.webhook_scan_seconds)
            return
        envelope = self.envelope(msg.data)
        meta = msg.metadata
        if envelope is None:
            log.error(
                "webhooks: not a partner message; dropped", extra={"seq": meta.sequence.stream}
            )
            await msg.term()
            return
        async with self.rt.sessionmaker() as session:
            if await store.was_delivered(session, self.partner_id, envelope.id):
                await msg.ack()
                return
        result = await self.attempt(client, target, msg.data, envelope.id)
        decision = self.decide(result, meta.num_delivered)
        await self.record(
            target,
            envelope,
            result,
            decision,
            stream_sequence=meta.sequence.stream,
            trigger="feed",
            attempt=meta.num_delivered,
        )
        if decision.outcome == domain.DELIVERED:
            await msg.ack()
        elif decision.stop_webhook:  # kept: sent again once the webhook is set again
            await msg.nak(delay=self.rt.settings.webhook_scan_seconds)
        elif decision.retry_in_seconds is not None:
            await msg.nak(delay=decision.retry_in_seconds)
        else:
            await msg.term()

    async def record(
        self,
        target: store.WebhookTarget,
        envelope: PartnerEnvelope,
        result: Attempt,
        decision: domain.DeliveryDecision,
        *,
        stream_sequence: int,
        trigger: str,
        attempt: int,
        replay: store.WebhookDelivery | None = None,
    ) -> None:
        now = self.rt.clock.now()
        next_at = (
            now + timedelta(seconds=decision.retry_in_seconds)
            if decision.retry_in_seconds is not None
            else None
        )
        async with self.rt.sessionmaker() as session, session.begin():
            if replay is None:
                await store.record_attempt(
                    session,
                    target=target,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    stream_sequence=stream_sequence,
                    trigger=trigger,
                    attempt=attempt,
                    outcome=decision.outcome,
                    attempted_at=now,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                    next_attempt_at=next_at,
                )
            else:
                await store.finish_replay(
                    session,
                    replay,
                    outcome=decision.outcome,
                    attempted_at=now,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                    next_attempt_at=next_at,
                )
            if decision.stop_webhook and result.status_code is not None:
                await store.stop_webhook(session, target, now=now, status_code=result.status_code)
        if decision.stop_webhook:
            self.targets.pop(self.partner_id, None)
        WEBHOOK_ATTEMPTS.labels(decision.outcome).inc()
        level = logging.ERROR if decision.outcome == domain.FAILED else logging.INFO
        log.log(
            level,
            "webhook %s",
            decision.outcome,
            extra={
                "partner_id": str(self.partner_id),
                "event_id": str(envelope.id),
                "trigger": trigger,
                "attempt": attempt,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
            },
        )

    async def send_replays(self, client: httpx.AsyncClient) -> None:
        """Every due pending replay of this partner, one at a time."""
        lease = timedelta(
            seconds=self.rt.settings.webhook_timeout_seconds + self.rt.settings.ack_wait_seconds
        )
        while (target := self.target()) is not None:
            async with self.rt.sessionmaker() as session, session.begin():
                replay = await store.claim_replay(
                    session, self.partner_id, self.rt.clock.now(), lease
                )
            if replay is None:
                return
            await self.send_replay(client, target, replay)

    async def send_replay(
        self, client: httpx.AsyncClient, target: store.WebhookTarget, replay: store.WebhookDelivery
    ) -> None:
        sequence = replay.stream_sequence
        try:
            raw = await self.js.get_msg(natsauth.PARTNER_FEED_STREAM, sequence)
            body = raw.data or b""
        except NotFoundError:
            body = b""
        envelope = self.envelope(body)
        if envelope is None or envelope.id != replay.event_id:
            async with self.rt.sessionmaker() as session, session.begin():
                await store.finish_replay(
                    session,
                    replay,
                    outcome=domain.FAILED,
                    attempted_at=self.rt.clock.now(),
                    status_code=None,
                    error="not_in_stream",
                    duration_ms=0,
                    next_attempt_at=None,
                )
            return
        result = await self.attempt(client, target, body, envelope.id)
        decision = self.decide(result, replay.attempt)
        if decision.stop_webhook:
            decision = domain.DeliveryDecision(domain.FAILED, stop_webhook=True)
        await self.record(
            target,
            envelope,
            result,
            decision,
            stream_sequence=sequence,
            trigger="replay",
            attempt=replay.attempt,
            replay=replay,
        )


# --- the worker ----------------------------------------------------------------------------------


async def webhook_worker(rt: Runtime) -> None:
    """The worker: deliver webhooks; if it fails (NATS away too long), start it again."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the path
    await keep_running("webhook worker", lambda: run_webhooks(rt))


async def run_webhooks(rt: Runtime) -> None:
    nc: NatsClient = await nats.connect(
        rt.settings.nats_url,
        name="womento-intake-webhooks",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        **connect_options(rt.settings, natsauth.PARTNER_GATEWAY),
    )
    deliveries: dict[UUID, PartnerDeliveries] = {}
    try:
        await ensure_feed_stream(rt, nc)
        js = nc.jetstream()
        targets: dict[UUID, store.WebhookTarget] = {}
        log.info("webhook worker started")
        while True:
            try:
                await scan(rt, js, targets, deliveries)
            except Exception:
                log.warning("webhooks: scan failed; retrying", exc_info=True)
            await asyncio.sleep(rt.settings.webhook_scan_seconds)
    finally:
        for delivery in deliveries.values():
            delivery.task.cancel()
        await asyncio.gather(*(d.task for d in deliveries.values()), return_exceptions=True)
        with contextlib.suppress(Exception):
            await nc.close()


async def scan(
    rt: Runtime,
    js: JetStreamContext,
    targets: dict[UUID, store.WebhookTarget],
    deliveries: dict[UUID, PartnerDeliveries],
) -> None:
    """Bring the per-partner tasks and consumers in line with the partners' webhooks."""
    consumers = [
        info.name
        for info in await js.consumers_info(natsauth.PARTNER_FEED_STREAM)
        if info.name.startswith(CONSUMER_PREFIX)
    ]
    async with rt.sessionmaker() as session:
        found = await store.webhook_targets(session, vault_for(rt.settings.secret_key))
        enabled = await store.enabled_partner_ids(session)
        due = await store.partners_with_due_replays(session, rt.clock.now())
    targets.clear()
    targets.update({target.partner_id: target for target in found})
    for partner_id, delivery in list(deliveries.items()):
        if partner_id not in targets or delivery.task.done():
            delivery.task.cancel()
            del deliveries[partner_id]
    for partner_id in targets:
        if partner_id not in deliveries:
            deliveries[partner_id] = PartnerDeliveries(rt, js, targets, partner_id)
        if partner_id in due:
            deliveries[partner_id].replays_due.set()
    keep = {webhook_durable(partner_id) for partner_id in enabled}
    for name in consumers:
        if name not in keep:
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(natsauth.PARTNER_FEED_STREAM, name)
            log.info("webhooks: consumer of a disabled partner deleted", extra={"consumer": name})
