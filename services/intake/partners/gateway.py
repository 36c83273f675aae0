"""intake's door to the partners' NATS account, one worker with four parts:

- the bridge: a durable consumer on `WOMENTO_PARTNER` (in the services' account) whose
  every message is published into `PARTNER_FEED` (in `PARTNERS`) with its own id as
  `Nats-Msg-Id`, and acknowledged only once `PARTNER_FEED` has stored it: nothing lost,
  and a redelivered message is the same message (de-duplicated by the stream and, after
  the duplicate window, by the partner, which de-duplicates by the envelope's `id`);
- the auth callout: the server asks intake about every connection to `PARTNERS`; the
  credential id (NATS user) and secret (password) are checked against the database
  (`domain.refusal`), and an admitted partner gets only its own feed
  (`natsauth.partner_permissions`) for at most `partner_session_minutes`, through the pull
  consumer the gateway keeps for it (partners cannot create consumers: see
  `natsauth.partner_permissions` for why);
- replays: a partner's request on `partner.replay.<partner>` re-creates its consumer
  from the moment it names (`{"start_time": "<ISO 8601>"}`, or `{}` for the whole feed);
- the sweep: every second, connections of revoked credentials or disabled partners are
  disconnected through the system account (`$SYS.REQ.SERVER.<id>.KICK`); their
  reconnection is refused by the callout.

Logs carry ids and refusal codes only; never a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError, NotFoundError

from services.intake.partners import domain, store
from shared import natsauth
from shared.authcallout import AuthRequest, CalloutResponder, Grant
from shared.bus import connect_options, create_or_update_stream, durable_config, stream_config
from shared.service import Runtime, keep_running
from shared.subjects import PARTNER_STREAM, PARTNER_SUBJECTS

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
BRIDGE_BATCH = 64


async def partner_gateway(rt: Runtime) -> None:
    """The worker: run the gateway; if it fails (NATS away too long), start it again."""
    await keep_running("partner gateway", lambda: run_gateway(rt))


async def run_gateway(rt: Runtime) -> None:
    """Connect as the gateway, the callout and the kicker, then bridge and sweep."""
    connections: list[NatsClient] = []
    try:
        gateway = await _connect(rt, natsauth.PARTNER_GATEWAY)
        connections.append(gateway)
        await ensure_feed_stream(rt, gateway)
        # A queue group: with several intake replicas, one of them answers each replay.
        await gateway.subscribe(
            natsauth.partner_replay_subject("*"),
            queue="partner-replay",
            cb=ReplayResponder(gateway.jetstream()).handle,
        )
        callout = await _connect(rt, natsauth.AUTH_CALLOUT)
        connections.append(callout)
        authorizer = Authorizer(rt, gateway.jetstream())
        await CalloutResponder(callout, authorizer, _issuer_seed(rt), rt.clock).start()
        kicker = await _connect(rt, natsauth.SYS_KICK)
        connections.append(kicker)
        log.info("partner gateway started")
        # If one part fails, the other is cancelled before the gateway is started again.
        async with asyncio.TaskGroup() as parts:
            parts.create_task(bridge(rt, gateway))
            parts.create_task(sweep(rt, kicker))
    finally:
        for nc in connections:
            with contextlib.suppress(Exception):
                await nc.close()


async def _connect(rt: Runtime, identity: str) -> NatsClient:
    return await nats.connect(
        rt.settings.nats_url,
        name=f"womento-intake-{identity}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        **connect_options(rt.settings, identity),
    )


def _issuer_seed(rt: Runtime) -> bytes:
    directory = rt.settings.nats_credentials_dir
    if directory is None:
        raise RuntimeError("the auth callout needs WOMENTO_NATS_CREDENTIALS_DIR")
    return (directory / f"{natsauth.CALLOUT_ISSUER}.nk").read_bytes().strip()


async def ensure_feed_stream(rt: Runtime, gateway: NatsClient) -> None:
    config = stream_config(natsauth.PARTNER_FEED_STREAM, [PARTNER_SUBJECTS], rt.settings)
    await create_or_update_stream(gateway.jetstream(), config)


# --- the bridge ---------------------------------------------------------------------------------


async def bridge(rt: Runtime, gateway: NatsClient) -> None:
    source = rt.js()
    target = gateway.jetstream()
    subscription = await source.pull_subscribe(
        PARTNER_SUBJECTS,
        durable=natsauth.GATEWAY_DURABLE,
        stream=PARTNER_STREAM,
        config=durable_config(
            natsauth.GATEWAY_DURABLE, PARTNER_SUBJECTS, rt.settings.ack_wait_seconds
        ),
    )
    try:
        while True:
            try:
                messages = await subscription.fetch(BRIDGE_BATCH, timeout=1.0)
            except (FetchTimeoutError, TimeoutError):
                continue
            except Exception:
                log.warning("partner bridge: fetch failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for msg in messages:
                message_id = (msg.headers or {}).get("Nats-Msg-Id")
                try:
                    await target.publish(
                        msg.subject,
                        msg.data,
                        stream=natsauth.PARTNER_FEED_STREAM,
                        headers={"Nats-Msg-Id": message_id} if message_id else None,
                        timeout=5.0,
                    )
                except Exception:
                    log.warning(
                        "partner bridge: copy failed; will be redelivered",
                        exc_info=True,
                        extra={"message_id": message_id},
                    )
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1.0)
                    continue
                await msg.ack()
    finally:
        # The subscription is on the service's own connection, which is drained on stop.
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


# --- the partners' consumers -------------------------------------------------------------------


def partner_consumer_config(
    partner_id: str, filter_subject: str, start_time: datetime | None = None
) -> ConsumerConfig:
    """A partner's durable: pull (no `deliver_subject`), its own feed subjects only, from
    the start of the feed or from `start_time`."""
    durable = natsauth.partner_durable(partner_id)
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=filter_subject,
        deliver_policy=DeliverPolicy.ALL if start_time is None else DeliverPolicy.BY_START_TIME,
        opt_start_time=start_time,
        ack_policy=AckPolicy.EXPLICIT,
    )


async def ensure_partner_consumer(
    js: JetStreamContext, organisation_id: str, partner_id: str
) -> None:
    """The partner's durable exists as a pull consumer on its own feed; a consumer of that
    name that is anything else (e.g. a push consumer made before partners lost
    `CONSUMER.CREATE`) is replaced. An existing good one keeps its position."""
    feed, durable = natsauth.PARTNER_FEED_STREAM, natsauth.partner_durable(partner_id)
    filter_subject = natsauth.partner_subject_filter(organisation_id, partner_id)
    try:
        info = await js.consumer_info(feed, durable)
    except NotFoundError:
        info = None
    if info is not None:
        config = info.config
        if (
            not config.deliver_subject
            and config.filter_subject == filter_subject
            and not config.filter_subjects
        ):
            return
        log.warning("partner consumer replaced", extra={"partner_id": partner_id})
        await js.delete_consumer(feed, durable)
    await js.add_consumer(feed, config=partner_consumer_config(partner_id, filter_subject))


class ReplayResponder:
    """`partner.replay.<partner>`: re-create the partner's durable from a moment on. Only
    that partner's connections may publish there (`natsauth.partner_permissions`), and the
    filter is taken from the consumer the gateway made at admission, so nothing in the
    request can widen what the partner reads."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def handle(self, msg: Msg) -> None:
        partner_id = msg.subject.rsplit(".", 1)[-1]
        # A partner's own request comes with a reply in its own inbox. Anything else is the
        # server delivering stream messages or pull statuses here on someone's behalf (it
        # does not check a pull request's reply subject): ignored.
        if not msg.reply.startswith(natsauth.partner_inbox_prefix(partner_id) + "."):
            log.warning("partner replay request ignored: not from the partner")
            return
        answer = await self.replay(partner_id, msg.data)
        await msg.respond(json.dumps(answer).encode())

    async def replay(self, partner_id: str, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body or b"{}")
            raw = request.get("start_time") if isinstance(request, dict) else None
            start = None if raw is None else datetime.fromisoformat(str(raw))
        except ValueError:
            return {"ok": False, "error": "invalid_start_time"}
        if start is not None and start.tzinfo is None:
            return {"ok": False, "error": "invalid_start_time"}
        feed, durable = natsauth.PARTNER_FEED_STREAM, natsauth.partner_durable(partner_id)
        try:
            info = await self.js.consumer_info(feed, durable)
            await self.js.delete_consumer(feed, durable)
            config = partner_consumer_config(partner_id, info.config.filter_subject or "", start)
            await self.js.add_consumer(feed, config=config)
        except NotFoundError:
            return {"ok": False, "error": "no_consumer"}
        except Exception:
            log.warning("partner replay failed", exc_info=True, extra={"partner_id": partner_id})
            return {"ok": False, "error": "unavailable"}
        log.info("partner feed replayed", extra={"partner_id": partner_id})
        return {"ok": True, "start_time": None if start is None else start.isoformat()}


# --- the auth callout ---------------------------------------------------------------------------


class Authorizer:
    """Admit or refuse one connection to `PARTNERS`, against intake's database; an admitted
    partner's durable consumer is made ready before the answer."""

    def __init__(self, rt: Runtime, js: JetStreamContext) -> None:
        self.rt, self.js = rt, js

    async def __call__(self, request: AuthRequest) -> Grant | str:
        now = self.rt.clock.now()
        credential_id = domain.parse_credential_id(request.user)
        if credential_id is None:
            log.warning("partner connection refused", extra={"reason": "malformed_credential"})
            return "malformed_credential"
        async with self.rt.sessionmaker() as session, session.begin():
            admission = await store.admission(session, credential_id)
            reason = domain.refusal(
                admission.state if admission else None, request.password or "", now
            )
            if admission is None or reason is not None:
                if admission is not None and reason is not None:
                    await store.audit_refusal(session, admission, reason, now)
                else:
                    log.warning(
                        "partner connection refused",
                        extra={"reason": reason, "credential_id": str(credential_id)},
                    )
                return reason or "unknown_credential"
            expires = min(
                admission.state.expires_at,
                now + timedelta(minutes=self.rt.settings.partner_session_minutes),
            )
            await store.record_connection(
                session,
                admission,
                server_id=request.server_id,
                client_id=request.client_id,
                now=now,
                expires_at=expires,
            )
            await store.audit(
                session,
                organisation_id=admission.organisation_id,
                partner_id=admission.partner_id,
                credential_id=credential_id,
                action="connection_admitted",
                at=now,
            )
        partner = str(admission.partner_id)
        try:
            await ensure_partner_consumer(self.js, str(admission.organisation_id), partner)
        except Exception:
            # Admitted all the same: its pulls fail until a later connection makes it.
            log.warning("partner consumer not ready", exc_info=True, extra={"partner_id": partner})
        return Grant(
            account=natsauth.PARTNER_ACCOUNT,
            name=f"partner-{partner}",
            permissions=natsauth.partner_permissions(
                partner_id=partner, durable=natsauth.partner_durable(partner)
            ),
            expires=expires,
        )


# --- the sweep ----------------------------------------------------------------------------------


async def sweep(rt: Runtime, kicker: NatsClient) -> None:
    """Every replica sweeps: harmless, as a sweep is idempotent (kicking a client already
    gone is answered, and forgetting a connection twice deletes nothing more)."""
    while True:
        try:
            await sweep_once(rt, kicker)
        except Exception:
            log.warning("partner sweep failed; retrying", exc_info=True)
        await asyncio.sleep(SWEEP_SECONDS)


async def sweep_once(rt: Runtime, kicker: NatsClient) -> int:
    """Disconnect the live connections of revoked credentials; returns how many."""
    now = rt.clock.now()
    async with rt.sessionmaker() as session, session.begin():
        ends = await store.connections_to_end(session, now)
    ended = []
    for server_id, client_id in ends:
        if await kick(kicker, server_id, client_id):
            ended.append((server_id, client_id))
    if ended:
        async with rt.sessionmaker() as session, session.begin():
            await store.forget_connections(session, ended)
        log.info("revoked partner connections disconnected", extra={"count": len(ended)})
    return len(ended)


async def kick(kicker: NatsClient, server_id: str, client_id: int) -> bool:
    """Ask the server to disconnect one client; True once it has answered (done, or the
    client is already gone)."""
    try:
        reply = await kicker.request(
            f"$SYS.REQ.SERVER.{server_id}.KICK",
            json.dumps({"cid": client_id}).encode(),
            timeout=2.0,
        )
    except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
        return False
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    if "error" in answer:
        log.info("kick: %s", answer["error"].get("description", "refused"))
    return True
