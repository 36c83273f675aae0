"""Broker factory, streams, and the idempotent, dead-lettering event consumer."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.security import NatsNKey, NatsSecurity
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import natsauth
from shared.envelope import BadEnvelope, Envelope
from shared.events import EVENT_TYPES, SERVICES, Event
from shared.faults import crashpoint
from shared.inbox import Inbox
from shared.observability import DEAD_LETTERS, EVENTS_CONSUMED, FORGED_EVENTS, correlation
from shared.settings import Settings
from shared.subjects import (
    DLQ_STREAM,
    DLQ_SUBJECTS,
    PARTNER_STREAM,
    PARTNER_SUBJECTS,
    dead_letter_subject,
    durable_name,
    stream_name,
    stream_subjects,
)

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, Envelope], Awaitable[None]]
MAX_RETRY_DELAY = 60.0


class PermanentError(Exception):
    """The event can never be applied (it contradicts the service's state): dead-letter it."""


@dataclass(frozen=True)
class Subscription:
    """`handler(session, event, envelope)` applies `event` inside the consumer's transaction."""

    event: type[Event]
    handler: Handler


def connect_options(settings: Settings, identity: str | None = None) -> dict[str, Any]:
    """Credentials and TLS for a NATS connection as `identity` (default: the service itself).

    Each identity has its own nkey seed and its own reply-subject prefix, which its
    permissions alone may subscribe to (`shared.natsauth`).
    """
    identity = identity or settings.service
    options: dict[str, Any] = natsauth.client_options(settings.nats_credentials_dir, identity)
    if settings.nats_tls_ca_file is not None or settings.nats_url.startswith("tls://"):
        options["tls"] = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None
        )
    return options


def make_broker(settings: Settings) -> NatsBroker:
    """A broker that reconnects forever; nothing connects until `connect()`/`start()`.

    FastStream's per-message log lines are left to DEBUG: the consumer logs its own.
    """
    options = connect_options(settings)
    tls, seed = options.get("tls"), options.get("nkeys_seed")
    security: NatsSecurity | None = None
    if seed is not None:
        security = NatsNKey.from_file(seed, ssl_context=tls)
    elif tls is not None:
        security = NatsSecurity(ssl_context=tls)
    broker_log = logging.getLogger(f"womento.{settings.service}.broker")
    broker_log.setLevel(max(logging.WARNING, logging.getLogger().level))
    return NatsBroker(
        settings.nats_url,
        name=f"womento-{settings.service}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        graceful_timeout=settings.ack_wait_seconds,
        logger=broker_log,
        inbox_prefix=options["inbox_prefix"],
        security=security,
    )


def stream_config(name: str, subjects: list[str], settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_seconds,
    )


def durable_config(durable: str, filter_subject: str, ack_wait: float) -> ConsumerConfig:
    """A durable pull consumer of everything on `filter_subject`, each message acknowledged
    explicitly and redelivered after `ack_wait` seconds until it is (the services'
    consumers, the partner gateway's bridge, the webhook consumers)."""
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=filter_subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=JsAckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
    )


def platform_stream_configs(settings: Settings) -> list[StreamConfig]:
    """Every stream of the services' account (`natsauth.platform_streams`), as configured."""
    configs = [stream_config(stream_name(p), list(stream_subjects(p)), settings) for p in SERVICES]
    configs.append(stream_config(DLQ_STREAM, list(DLQ_SUBJECTS), settings))
    configs.append(stream_config(PARTNER_STREAM, [PARTNER_SUBJECTS], settings))
    return configs


async def provision_streams(js: JetStreamContext, settings: Settings) -> list[str]:
    """Create or update every stream of the services' account; returns their names. Run
    as `natsauth.PROVISIONER` (`python -m shared.provision`): services may not."""
    configs = platform_stream_configs(settings)
    for config in configs:
        await create_or_update_stream(js, config)
    return [str(config.name) for config in configs]


class StreamsMissing(RuntimeError):
    """A stream the service needs does not exist: the platform's provisioning has not run."""


async def check_streams(
    js: JetStreamContext,
    settings: Settings,
    consumes: Iterable[str] = (),
    wait_seconds: float = 30.0,
) -> None:
    """Wait (up to `wait_seconds`) until the streams the service uses exist: its own, the
    dead letters', those it consumes, and for intake the partner feed. It looks only:
    streams are made by the provisioner (`provision_streams`), so that no service can
    change a stream's configuration (`natsauth.provisioner_permissions` says why)."""
    own = settings.service
    names = [stream_name(own), DLQ_STREAM, *(stream_name(p) for p in consumes)]
    if own == "intake":
        names.append(PARTNER_STREAM)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        missing = []
        for name in dict.fromkeys(names):
            try:
                await js.stream_info(name)
            except NotFoundError:
                missing.append(name)
        if not missing:
            return
        if asyncio.get_running_loop().time() >= deadline:
            raise StreamsMissing(
                f"stream(s) {', '.join(missing)} do not exist after {wait_seconds:.0f} s; the"
                " platform creates them (python -m shared.provision, as the NATS identity"
                f" {natsauth.PROVISIONER}); services may not"
            )
        log.warning("waiting for streams to be provisioned", extra={"missing": missing})
        await asyncio.sleep(1.0)


async def create_or_update_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Make the stream, or bring an existing one to `config` (the provisioner's, and the
    partner gateway's for `PARTNER_FEED` in the partners' account)."""
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


def retry_delay(deliveries: int, base: float) -> float:
    """Exponential backoff for the n-th failed delivery (1-based), capped at a minute."""
    exponent = min(max(deliveries - 1, 0), 16)
    return float(min(base * 2**exponent, MAX_RETRY_DELAY))


def forgery(event: type[Event], envelope: Envelope, subject: str) -> str | None:
    """Why a delivery for `event`'s consumer, arriving on `subject`, is forged; None if not.

    Only `event`'s producer publishes on its subject, and its envelopes carry its own source
    (`/womento/<producer>`: `Envelope.wrap`, and its outbox refuses any other) and its own
    events' types. Another source, another subject or another producer's type means someone
    else published it, whatever the bus allowed. Non-printable characters of the claimed
    source are replaced in the reason, which goes into a header.
    """
    owner = f"/womento/{event.producer}"
    if envelope.source != owner:
        claimed = "".join(c if c.isprintable() else "?" for c in envelope.source[:200])
        return f"forged: source {claimed} does not own {subject}"
    if subject != event.subject():
        return f"forged: {event.type_name()} arrived on {subject}, not {event.subject()}"
    claimed_type = EVENT_TYPES.get(envelope.type)
    if claimed_type is not None and claimed_type.producer != event.producer:
        return (
            f"forged: {claimed_type.type_name()} is not an event of {owner}, which owns {subject}"
        )
    return None


Skip = Callable[[AsyncSession, Event, Envelope], Awaitable[bool]]
"""A guard run before the handler, in its transaction: True applies nothing (the event is
still recorded as processed), e.g. an event about an erased person (`shared.erasure`)."""


class EventConsumer:
    """One durable pull consumer of one event type for one service."""

    def __init__(
        self,
        *,
        service: str,
        subscription: Subscription,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        inbox: Inbox,
        jetstream: Callable[[], JetStreamContext],
        settings: Settings,
        skips: Skip | None = None,
    ) -> None:
        self.service = service
        self.skips = skips
        self.subscription = subscription
        self.event = subscription.event
        self.durable = durable_name(service, self.event)
        self._sessionmaker = sessionmaker
        self._jetstream = jetstream
        self.inbox = inbox
        self.settings = settings

    def register(self, broker: NatsBroker) -> None:
        subject = self.event.subject()

        async def on_message(msg: NatsMessage) -> None:
            await self.handle(msg.raw_message)

        broker.subscriber(
            subject,
            stream=JStream(name=stream_name(self.event.producer), declare=False),
            durable=self.durable,
            pull_sub=PullSub(batch_size=16, timeout=1.0),
            inbox_prefix=f"{natsauth.inbox_prefix(self.service)}.".encode(),
            config=durable_config(self.durable, subject, self.settings.ack_wait_seconds),
            ack_policy=AckPolicy.MANUAL,
            title=self.durable,
        )(on_message)

    async def handle(self, msg: Msg) -> None:
        """Apply one delivery: effect and inbox row in one transaction, then ack."""
        deliveries = msg.metadata.num_delivered
        try:
            envelope = Envelope.from_bytes(msg.data)
        except BadEnvelope as exc:
            await self._dead_letter(msg, f"malformed event: {exc}", "unknown")
            return
        if (forged := forgery(self.event, envelope, msg.subject)) is not None:
            # Never applied, whatever it holds; ids only in the log, never the payload.
            FORGED_EVENTS.labels(self.service, msg.subject).inc()
            log.error(
                "forged event refused",
                extra={
                    "event_id": str(envelope.id),
                    "subject": msg.subject,
                    "claimed_source": envelope.source[:200],
                    "claimed_type": envelope.type[:200],
                },
            )
            await self._dead_letter(msg, forged, "unknown")
            return
        try:
            event = envelope.open()
            if not isinstance(event, self.event):
                raise ValueError(f"expected {self.event.type_name()}, got {envelope.type}")
        except BadEnvelope as exc:
            await self._dead_letter(msg, f"malformed event: {exc}", "unknown")
            return
        with correlation(envelope.correlationid, envelope.id):
            try:
                async with self._sessionmaker()() as session, session.begin():
                    fresh = await self.inbox.claim(session, self.durable, envelope)
                    if fresh and deliveries > self.settings.max_deliver:
                        # Its earlier deliveries never finished (the process died each time).
                        raise PermanentError(f"not applied after {deliveries - 1} deliveries")
                    if fresh and not (self.skips and await self.skips(session, event, envelope)):
                        await self.subscription.handler(session, event, envelope)
                    crashpoint("inbox.before_commit")
                crashpoint("inbox.after_commit")
            except PermanentError as exc:
                await self._dead_letter(msg, f"rejected: {exc}", envelope.type)
                return
            except Exception as exc:
                if deliveries >= self.settings.max_deliver:
                    await self._dead_letter(msg, f"retries exhausted: {exc!r}", envelope.type)
                    return
                delay = retry_delay(deliveries, self.settings.retry_backoff_seconds)
                log.warning(
                    "event handling failed; will retry",
                    exc_info=True,
                    extra={"event_id": str(envelope.id), "delivery": deliveries, "delay": delay},
                )
                EVENTS_CONSUMED.labels(self.service, envelope.type, "retried").inc()
                await msg.nak(delay=delay)
                return
            await msg.ack()
            outcome = "processed" if fresh else "duplicate"
            EVENTS_CONSUMED.labels(self.service, envelope.type, outcome).inc()
            log.info(
                "event %s", outcome, extra={"event_id": str(envelope.id), "type": envelope.type}
            )

    async def _dead_letter(self, msg: Msg, reason: str, event_type: str) -> None:
        """Move the message to the dead-letter stream, then ack it; nak if that fails."""
        seq = msg.metadata.sequence.stream
        try:
            await self._jetstream().publish(
                dead_letter_subject(self.service, self.durable),
                msg.data,
                stream=DLQ_STREAM,
                headers={
                    "Nats-Msg-Id": f"{self.durable}-{msg.metadata.stream}-{seq}",
                    "Womento-Reason": reason[:1000],
                    "Womento-Original-Subject": msg.subject,
                    "Womento-Original-Stream": msg.metadata.stream,
                    "Womento-Original-Sequence": str(seq),
                    "Womento-Deliveries": str(msg.metadata.num_delivered),
                },
            )
        except Exception:
            log.exception("could not dead-letter message; leaving it for redelivery")
            await msg.nak(delay=retry_delay(msg.metadata.num_delivered, 1.0))
            return
        await msg.ack()
        DEAD_LETTERS.labels(self.service).inc()
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            extra={"reason": reason, "subject": msg.subject, "stream_sequence": seq},
        )
