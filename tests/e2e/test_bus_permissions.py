"""The bus refuses each known attack, on a real NATS (issue 11, points 2 and 5).

Every refusal is what the server answers: a permissions violation reported to the client's
error callback (and the request dropped, so no reply ever comes), or a refused connection.
Each attack has a positive control beside it: the same operation by the identity that is
allowed to do it works, so no test passes because everything is broken.

What the server does not check, found here (nats-server 2.15): a push consumer's
`deliver_subject`, and the reply subject of a pull request (`CONSUMER.MSG.NEXT`), are not
checked against the creator's or requester's permissions (nats-io/nats-server#8274); the
server delivers the stream's messages there on their behalf. Hence partners may no longer
create or delete consumers at all: the gateway keeps each partner's durable as a pull
consumer, and a replay from a date is a request to the gateway (`natsauth.partner_permissions`).
A service that consumes its own stream (feedback) can still use either route to have a
payload of its choosing delivered into another service's command subscription; the command
responder ignores it, as the last service test shows (`natsauth.command_reply_prefixes`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import nats
import nkeys
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from shared import natsauth
from shared.clock import SystemClock
from shared.commands import CommandEnvelope, CommandRejected, GetMatching, send
from shared.events import SERVICES, ApplicationReceived
from shared.subjects import DLQ_STREAM, durable_name, stream_name
from tests.conftest import NatsHandle, eventually
from tests.e2e.test_partners import PartnerClient, create_partner, fetch_all, issue
from tests.helpers import create_organisation, open_cycle

REFUSED_WAIT = 1.0
"""How long a dropped request is waited for (a refused one is never answered)."""


class Client:
    """One connection that records the errors the server reports to it."""

    def __init__(self, nc: Any, errors: list[str]) -> None:
        self.nc, self.errors = nc, errors

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Client:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())

        nc = await nats.connect(
            url, error_cb=on_error, allow_reconnect=False, connect_timeout=3, **options
        )
        return cls(nc, errors)

    async def violation(self, kind: str, subject: str) -> None:
        """The server reported a permissions violation for `kind` ("publish" or
        "subscription") on exactly `subject`."""
        wanted = f'permissions violation for {kind} to "{subject.lower()}"'
        deadline = time.monotonic() + 10  # returns as soon as it is seen; slack for a busy CI
        while not any(wanted in error for error in self.errors):
            assert time.monotonic() < deadline, f"no {wanted!r} in {self.errors}"
            await asyncio.sleep(0.02)

    async def refused_requests(self, requests: Iterable[tuple[str, Any]]) -> None:
        """Each request is dropped by the server (violation reported, never answered)."""

        async def one(subject: str, body: Any) -> None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            with pytest.raises(nats.errors.TimeoutError):
                await self.nc.request(subject, payload, timeout=REFUSED_WAIT)
            await self.violation("publish", subject)

        await asyncio.gather(*(one(subject, body) for subject, body in requests))

    async def refused_subscriptions(self, subjects: Iterable[str]) -> None:
        for subject in subjects:
            await self.nc.subscribe(subject)
        await self.nc.flush()
        for subject in subjects:
            await self.violation("subscription", subject)

    async def close(self) -> None:
        await self.nc.close()


async def as_identity(nats_server: NatsHandle, identity: str) -> Client:
    return await Client.connect(nats_server.url, **nats_server.connect_options(identity))


async def refused_connection(url: str, **options: Any) -> str:
    """The server refuses the connection; nats-py (no reconnect) either raises or hands
    back a closed client. Returns what it said."""
    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3, **options)
    except Exception as refused:
        return str(refused) or type(refused).__name__
    assert not nc.is_connected
    await nc.close()
    return "closed"


def jetstream_reply(msg: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(msg.data)
    return answer


# --- services (issue 11.2) ---------------------------------------------------------------------


async def test_connections_without_a_known_identity_are_refused(
    nats_server: NatsHandle, tmp_path: Path
) -> None:
    """Anonymous clients and unknown nkeys go to the auth callout; with no intake to answer
    it (as here), the server refuses them once the callout times out."""
    assert "authorization" in (await refused_connection(nats_server.url)).lower()
    stranger = tmp_path / "stranger.nk"
    stranger.write_bytes(nkeys.encode_seed(b"\x07" * 32, nkeys.PREFIX_BYTE_USER))
    said = await refused_connection(nats_server.url, nkeys_seed=str(stranger))
    assert "authorization" in said.lower()
    # Control: a service's own seed is admitted.
    matching = await as_identity(nats_server, "matching")
    assert matching.nc.is_connected
    await matching.close()


async def test_matching_cannot_publish_schedulings_events(nats_server: NatsHandle) -> None:
    admin = await as_identity(nats_server, natsauth.ADMIN)
    js = admin.nc.jetstream()
    stream = stream_name("scheduling")
    await js.add_stream(StreamConfig(name=stream, subjects=["womento.scheduling.>"]))
    matching = await as_identity(nats_server, "matching")
    scheduling = await as_identity(nats_server, "scheduling")
    try:
        subject = "womento.scheduling.meeting_held"
        await matching.nc.publish(subject, b'{"forged": true}')
        await matching.nc.flush()
        await matching.violation("publish", subject)
        with pytest.raises(nats.errors.TimeoutError):  # no stream ack: it never got there
            await matching.nc.jetstream(timeout=REFUSED_WAIT).publish(subject, b"{}")
        assert (await js.stream_info(stream)).state.messages == 0
        # Control: the owner's publish is stored.
        await scheduling.nc.jetstream().publish(subject, b"{}")
        assert (await js.stream_info(stream)).state.messages == 1
        assert scheduling.errors == []
    finally:
        for client in (admin, matching, scheduling):
            await client.close()


async def test_matching_cannot_answer_feedbacks_commands_nor_read_anothers_replies(
    nats_server: NatsHandle,
) -> None:
    matching = await as_identity(nats_server, "matching")
    feedback = await as_identity(nats_server, "feedback")
    intake = await as_identity(nats_server, "intake")
    stolen: list[bytes] = []

    async def steal(msg: Any) -> None:
        stolen.append(msg.data)

    try:
        for subject in (
            "womento.cmd.feedback.>",
            "womento.cmd.feedback.get_outcomes",
            f"{natsauth.inbox_prefix('intake')}.>",
            f"{natsauth.inbox_prefix('feedback')}.>",
            "_INBOX.>",
            ">",
        ):
            await matching.nc.subscribe(subject, cb=steal)
            await matching.nc.flush()
            await matching.violation("subscription", subject)
        # Nobody answers feedback's commands: matching's subscriptions were refused.
        command = "womento.cmd.feedback.get_outcomes"
        with pytest.raises(nats.errors.NoRespondersError):
            await intake.nc.request(command, b"{}", timeout=10)

        # Control: feedback answers them, and the reply reaches intake only.
        async def answer(msg: Any) -> None:
            await msg.respond(b"notes of the interview")

        await feedback.nc.subscribe("womento.cmd.feedback.>", cb=answer)
        await feedback.nc.flush()
        reply = await intake.nc.request(command, b"{}", timeout=10)
        assert reply.data == b"notes of the interview"
        assert reply.subject.startswith(natsauth.inbox_prefix("intake") + ".")
        await matching.nc.flush()
        assert stolen == []
        # Control: matching may answer its own commands on its own inbox prefix.
        await matching.nc.subscribe("womento.cmd.matching.>")
        await matching.nc.subscribe(f"{natsauth.inbox_prefix('matching')}.>")
        await matching.nc.flush()
        assert not any("womento.cmd.matching" in error for error in matching.errors)
        assert not any("_inbox_matching" in error for error in matching.errors)
    finally:
        for client in (matching, feedback, intake):
            await client.close()


async def test_matching_consumes_only_the_streams_it_consumes(nats_server: NatsHandle) -> None:
    admin = await as_identity(nats_server, natsauth.ADMIN)
    js = admin.nc.jetstream()  # the streams exist: the provisioner made them at NATS start
    await js.publish("womento.dlq.feedback.feedback__meeting_held", b'{"dead": "letter"}')
    await js.publish("womento.scheduling.meeting_held", b"{}")
    await js.publish("womento.intake.application_received", b'{"to": "matching"}')
    matching = await as_identity(nats_server, "matching")
    try:
        durable = "matching__application_received"
        config = {"stream_name": DLQ_STREAM, "config": {"ack_policy": "explicit"}}
        await matching.refused_requests(
            [
                # The dead-letter stream: no consumer of any kind, no direct read.
                (f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}", config),
                (f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}.{durable}", config),
                (f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}.{durable}.womento.dlq.>", config),
                (f"$JS.API.CONSUMER.DURABLE.CREATE.{DLQ_STREAM}.{durable}", config),
                (f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}", {"seq": 1}),
                (f"$JS.API.DIRECT.GET.{DLQ_STREAM}", {"seq": 1}),
                # A stream it does not consume, even under its own durable's name.
                (f"$JS.API.CONSUMER.CREATE.WOMENTO_SCHEDULING.{durable}", {}),
                ("$JS.API.CONSUMER.CREATE.WOMENTO_SCHEDULING", {}),
                # Another service's durable on a stream it does consume.
                ("$JS.API.CONSUMER.CREATE.WOMENTO_INTAKE.feedback__application_received", {}),
                ("$JS.API.CONSUMER.MSG.NEXT.WOMENTO_INTAKE.feedback__application_received", {}),
                # Its own durable, but with another filter than its event's, or with the
                # filter in the body only (which the server would not check).
                (f"$JS.API.CONSUMER.CREATE.WOMENTO_INTAKE.{durable}", {}),
                (f"$JS.API.CONSUMER.CREATE.WOMENTO_INTAKE.{durable}.womento.intake.>", {}),
                (
                    f"$JS.API.CONSUMER.CREATE.WOMENTO_INTAKE.{durable}.womento.intake.cycle_opened",
                    {},
                ),
                (f"$JS.API.CONSUMER.DURABLE.CREATE.WOMENTO_INTAKE.{durable}", {}),
                # No stream configuration, not even its own stream's: a stream that also
                # captured `_INBOX_intake.>` and republished it would hand it intake's
                # command replies.
                (
                    "$JS.API.STREAM.UPDATE.WOMENTO_MATCHING",
                    {
                        "name": "WOMENTO_MATCHING",
                        "subjects": ["womento.matching.>", "_INBOX_intake.>"],
                    },
                ),
                ("$JS.API.STREAM.CREATE.WOMENTO_MATCHING", {"name": "WOMENTO_MATCHING"}),
                (f"$JS.API.STREAM.CREATE.{DLQ_STREAM}", {"name": DLQ_STREAM}),
                ("$JS.API.STREAM.CREATE.EXFILTRATE", {"name": "EXFILTRATE", "subjects": [">"]}),
                # Nor delete or list.
                (f"$JS.API.STREAM.DELETE.{DLQ_STREAM}", {}),
                (f"$JS.API.STREAM.PURGE.{DLQ_STREAM}", {}),
                ("$JS.API.STREAM.NAMES", {}),
                (f"$JS.API.CONSUMER.LIST.{DLQ_STREAM}", {}),
            ]
        )
        # Control: its own durable on WOMENTO_INTAKE, and the message it is meant to read.
        subscription = await matching.nc.jetstream().pull_subscribe(
            "womento.intake.application_received",
            durable=durable,
            stream="WOMENTO_INTAKE",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
        [msg] = await subscription.fetch(1, timeout=3)
        assert msg.data == b'{"to": "matching"}'
        await msg.ack()
        # The dead letter is still there, unread (the admin sees it).
        assert (await js.stream_info(DLQ_STREAM)).state.messages == 1
        # Controls: matching may look at its streams; the provisioner may change them.
        own = await matching.nc.jetstream().stream_info("WOMENTO_MATCHING")
        assert own.config.subjects == ["womento.matching.>"]
        provisioner = await as_identity(nats_server, natsauth.PROVISIONER)
        pjs = provisioner.nc.jetstream()
        info = await pjs.stream_info("WOMENTO_MATCHING")
        updated = await pjs.update_stream(info.config)
        assert updated.config.subjects == ["womento.matching.>"]
        await provisioner.refused_requests([(f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}", {"seq": 1})])
        await provisioner.close()
    finally:
        await matching.close()
        await admin.close()


async def test_only_intake_may_ask_for_personal_data(nats_server: NatsHandle) -> None:
    """Queries whose replies hold personal data (outcomes with decrypted interview notes,
    surveys, reports): only intake may send them; the other services' requests never leave."""
    feedback = await as_identity(nats_server, "feedback")
    asked: list[str] = []

    async def answer(msg: Any) -> None:
        asked.append(msg.subject)
        await msg.respond(b"personal data")

    await feedback.nc.subscribe("womento.cmd.feedback.>", cb=answer)
    await feedback.nc.flush()
    queries = (
        "womento.cmd.feedback.get_outcomes",
        "womento.cmd.feedback.get_survey",
        "womento.cmd.feedback.get_report",
        "womento.cmd.scheduling.get_schedule",
    )
    try:
        for service in ("matching", "scheduling"):
            client = await as_identity(nats_server, service)
            own = f"womento.cmd.{service}."
            await client.refused_requests([(q, {}) for q in queries if not q.startswith(own)])
            await client.close()
        assert asked == []
        # Control: intake asks and gets the answer.
        intake = await as_identity(nats_server, "intake")
        reply = await intake.nc.request("womento.cmd.feedback.get_outcomes", b"{}", timeout=10)
        assert reply.data == b"personal data" and asked == ["womento.cmd.feedback.get_outcomes"]
        await intake.close()
    finally:
        await feedback.close()


async def test_no_service_can_deliver_into_another_services_commands(stack) -> None:
    """nats-server does not check a push consumer's deliver_subject nor a pull request's reply
    subject against anyone's permissions (nats-io/nats-server#8274), so feedback, which may
    create its durable on a stream it consumes (WOMENTO_INTAKE, with its own filter), can
    have the server deliver that stream's messages into matching's command subscription, by
    either route. matching's responder ignores such a delivery (its reply is `$JS.ACK...` or
    nothing, not the inbox of a service that may send commands:
    `natsauth.command_reply_prefixes`), counts it and never answers; intake's genuine
    command, on the same subscription, is answered. (The message here is published by the
    admin; in an attack it would be any message of a stream the attacker consumes.)"""
    stack.start("matching")
    admin = await as_identity(stack.nats, natsauth.ADMIN)
    js = admin.nc.jetstream()
    feedback = await as_identity(stack.nats, "feedback")
    intake = await as_identity(stack.nats, "intake")
    target = GetMatching.subject()
    forged_id = uuid4()
    forged = CommandEnvelope(
        id=forged_id,
        type=GetMatching.command_name(),
        time=datetime.now(UTC),
        organisationid=uuid4(),
        correlationid=forged_id,
        data={"cycle_id": str(uuid4())},
    ).model_dump_json()
    source = ApplicationReceived.subject()
    durable = durable_name("feedback", ApplicationReceived)

    async def forged_count() -> float:
        async with httpx.AsyncClient(base_url=stack["matching"].base_url) as http:
            metrics = (await http.get("/metrics")).text
        for line in metrics.splitlines():
            if line.startswith("womento_forged_commands_total{") and "get_matching" in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    try:
        # Control: intake's command reaches matching's responder and is answered (a refusal
        # naming the unknown cycle is an answer).
        with pytest.raises(CommandRejected, match="no such cycle"):
            await send(
                intake.nc,
                GetMatching(cycle_id=uuid4()),
                organisation_id=uuid4(),
                clock=SystemClock(),
                wait_seconds=10,
            )

        await js.publish(source, forged.encode())
        fjs = feedback.nc.jetstream()
        # 1. Its durable as a push consumer delivering into matching's command subject, in
        # matching's queue group.
        await fjs.add_consumer(
            "WOMENTO_INTAKE",
            ConsumerConfig(
                name=durable,
                durable_name=durable,
                filter_subject=source,
                deliver_subject=target,
                deliver_group="matching-commands",
                ack_policy=AckPolicy.NONE,
            ),
        )
        assert await eventually(lambda: _at_least(forged_count, 1))
        await js.delete_consumer("WOMENTO_INTAKE", durable)  # (feedback may not delete)
        # 2. Its durable as a pull consumer, whose pull request names matching's command
        # subject as the reply.
        await fjs.add_consumer(
            "WOMENTO_INTAKE",
            ConsumerConfig(
                name=durable,
                durable_name=durable,
                filter_subject=source,
                ack_policy=AckPolicy.EXPLICIT,
            ),
        )
        await feedback.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.WOMENTO_INTAKE.{durable}", b'{"batch": 1}', reply=target
        )
        assert await eventually(lambda: _at_least(forged_count, 2))
        log = stack.log("matching")
        assert log.count("forged command ignored") == 2
        # Handled once only: intake's genuine command (a forged one would log a refusal too).
        assert log.count('"command refused"') + log.count('"command applied"') == 1
    finally:
        for client in (admin, feedback, intake):
            await client.close()


async def _at_least(count: Any, n: float) -> bool:
    return bool(await count() >= n)


# --- partners (issue 11.5) ---------------------------------------------------------------------


async def test_partner_attacks_are_refused_and_its_own_feed_works(stack, db, tmp_path) -> None:
    """One intake, two organisations with a partner each, real credentials issued by command;
    partner A tries everything it must not do."""
    stack.start("intake")
    ours = await create_organisation(stack.database_url)
    theirs = await create_organisation(stack.database_url)
    partner = create_partner(stack, ours, "Partner A")
    other = create_partner(stack, theirs, "Partner B")
    document = issue(stack, ours, partner, tmp_path / "a.json")
    other_document = issue(stack, theirs, other, tmp_path / "b.json")
    await open_cycle(stack.database_url, ours)
    await open_cycle(stack.database_url, theirs)

    feed = natsauth.PARTNER_FEED_STREAM
    durable, own_filter = document["durable"], document["filter_subject"]
    other_durable, other_filter = other_document["durable"], other_document["filter_subject"]
    other_inbox = other_document["inbox_prefix"]
    gateway = await Client.connect(
        stack.nats_url, **stack.nats.connect_options(natsauth.PARTNER_GATEWAY)
    )
    gjs = gateway.nc.jetstream()

    # A push consumer made under A's durable name before partners lost CONSUMER.CREATE,
    # pointed at B's inbox: replaced by a pull consumer when A is admitted.
    async def feed_has(subject: str) -> bool:
        try:
            await gjs.get_last_msg(feed, subject)
        except nats.js.errors.NotFoundError:
            return False
        return True

    deadline = time.monotonic() + 30
    while not (await feed_has(own_filter) and await feed_has(other_filter)):
        assert time.monotonic() < deadline, "the cycles never reached PARTNER_FEED"
        await asyncio.sleep(0.2)
    await gjs.add_consumer(
        feed,
        ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=own_filter,
            deliver_subject=f"{other_inbox}.x",
        ),
    )

    a = PartnerClient(document)
    await a.connect()
    client = Client(a.nc, a.errors)
    b = PartnerClient(other_document)
    await b.connect()
    try:
        replaced = await gjs.consumer_info(feed, durable)
        assert replaced.config.deliver_subject is None
        assert replaced.config.filter_subject == own_filter
        await _partner_attacks(client, a, b, gjs, durable, own_filter, other_durable, other_filter)
        await _partner_feed_and_replay(client, a, b, gjs, document, other_document)
    finally:
        await a.nc.close()
        await b.nc.close()
        await gateway.close()
    # The redirected pull did reach the gateway's replay subject, and was ignored.
    assert "partner replay request ignored: not from the partner" in stack.log("intake")

    # Nobody without a credential gets in, nor does an unknown nkey (intake's callout refuses).
    assert "authorization" in (await refused_connection(stack.nats_url)).lower()
    stranger = tmp_path / "stranger.nk"
    stranger.write_bytes(nkeys.encode_seed(b"\x09" * 32, nkeys.PREFIX_BYTE_USER))
    said = await refused_connection(stack.nats_url, nkeys_seed=str(stranger))
    assert "authorization" in said.lower()


async def _partner_attacks(
    client: Client,
    a: PartnerClient,
    b: PartnerClient,
    gjs: Any,
    durable: str,
    own_filter: str,
    other_durable: str,
    other_filter: str,
) -> None:
    feed = natsauth.PARTNER_FEED_STREAM
    other_inbox = b.document["inbox_prefix"]
    await client.refused_subscriptions(
        [
            "womento.>",
            "womento.intake.>",
            "womento.partner.>",
            other_filter,
            "$JS.API.>",
            f"{other_inbox}.>",
            "_INBOX.>",
            ">",
        ]
    )
    stored = (await gjs.stream_info(feed)).state.messages

    def consumer(**config: Any) -> dict[str, Any]:
        return {"stream_name": feed, "config": {"ack_policy": "explicit", **config}}

    own = consumer(durable_name=durable, name=durable, filter_subject=own_filter)
    create = f"$JS.API.CONSUMER.CREATE.{feed}"
    await client.refused_requests(
        [
            # The services' streams are not in PARTNERS; their names are refused anyway.
            *(
                (f"$JS.API.CONSUMER.CREATE.{stream_name(s)}.{durable}", consumer())
                for s in SERVICES
            ),
            ("$JS.API.CONSUMER.CREATE.WOMENTO_PARTNER", consumer()),
            (f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}", consumer()),
            # PARTNER_FEED: ephemeral, unfiltered, another partner's filter or durable.
            (create, consumer()),
            (f"{create}.{durable}", consumer(durable_name=durable, name=durable)),
            (f"{create}.{durable}.{other_filter}", {**own, "filter_subject": other_filter}),
            (f"{create}.{other_durable}.{other_filter}", consumer(filter_subject=other_filter)),
            (f"{create}.another_durable.{own_filter}", consumer(filter_subject=own_filter)),
            (f"$JS.API.CONSUMER.DURABLE.CREATE.{feed}.{durable}", own),
            # Even its own durable and filter: consumers are the gateway's to make, so no
            # push consumer can aim at another partner's inbox or anywhere else.
            (f"{create}.{durable}.{own_filter}", own),
            (
                f"{create}.{durable}.{own_filter}",
                {**own, "config": {**own["config"], "deliver_subject": f"{other_inbox}.x"}},
            ),
            (
                f"{create}.{durable}.{own_filter}",
                {
                    **own,
                    "config": {
                        **own["config"],
                        "deliver_subject": f"{a.document['inbox_prefix']}.x",
                    },
                },
            ),
            (f"$JS.API.CONSUMER.DELETE.{feed}.{durable}", {}),
            (f"$JS.API.CONSUMER.DELETE.{feed}.{other_durable}", {}),
            (f"$JS.API.CONSUMER.MSG.NEXT.{feed}.{other_durable}", {"batch": 1}),
            (f"$JS.API.CONSUMER.INFO.{feed}.{other_durable}", {}),
            # Stream and consumer inventory, direct reads.
            ("$JS.API.INFO", {}),
            (f"$JS.API.STREAM.INFO.{feed}", {}),
            ("$JS.API.STREAM.NAMES", {}),
            ("$JS.API.STREAM.LIST", {}),
            (f"$JS.API.DIRECT.GET.{feed}", {"seq": 1}),
            (f"$JS.API.DIRECT.GET.{feed}.{other_filter[:-2]}.cycle_opened", b""),
            (f"$JS.API.STREAM.MSG.GET.{feed}", {"seq": 1}),
            (f"$JS.API.CONSUMER.LIST.{feed}", {}),
            (f"$JS.API.CONSUMER.NAMES.{feed}", {}),
            (f"$JS.API.STREAM.DELETE.{feed}", {}),
            (f"$JS.API.STREAM.PURGE.{feed}", {}),
            # Publishing: the services' subjects, its own feed subjects, commands.
            ("womento.intake.application_received", {}),
            ("womento.matching.pair_formed", {}),
            (f"{own_filter[:-2]}.cycle_opened", {}),
            (f"{other_filter[:-2]}.cycle_opened", {}),
            ("womento.cmd.feedback.get_outcomes", {}),
            ("womento.cmd.matching.confirm_pairs", {}),
            # Another partner's replay.
            (natsauth.partner_replay_subject(str(b.document["partner_id"])), {}),
        ]
    )
    assert (await gjs.stream_info(feed)).state.messages == stored
    assert {c.name for c in await gjs.consumers_info(feed)} >= {durable, other_durable}
    still = await gjs.consumer_info(feed, durable)
    assert still.config.deliver_subject is None and still.config.filter_subject == own_filter


async def _partner_feed_and_replay(
    client: Client,
    a: PartnerClient,
    b: PartnerClient,
    gjs: Any,
    document: dict[str, str],
    other_document: dict[str, str],
) -> None:
    feed, durable = natsauth.PARTNER_FEED_STREAM, document["durable"]
    js = a.nc.jetstream()
    # Control: its own durable (made by the gateway) is there and delivers its own feed.
    info = await js.consumer_info(feed, durable)
    assert info.config.filter_subject == document["filter_subject"]
    subscription = await js.pull_subscribe_bind(durable=durable, stream=feed)
    [opened] = await fetch_all(subscription, 1)
    assert str(opened.partnerid) == document["partner_id"]
    assert await fetch_all(subscription, 1, timeout=2) == []

    # A pull request whose reply names B's replay subject: the server delivers A's feed
    # message there, and the gateway ignores it (its reply is no inbox of B's).
    other_before = await gjs.consumer_info(feed, other_document["durable"])
    replay_b = natsauth.partner_replay_subject(other_document["partner_id"])
    await a.nc.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.{feed}.{durable}",
        b'{"batch": 1, "expires": 300000000}',
        reply=replay_b,
    )
    await asyncio.sleep(0.8)
    other_after = await gjs.consumer_info(feed, other_document["durable"])
    assert other_after.created == other_before.created

    # Replay from a moment on: a request to the gateway, answered on A's own inbox.
    replay = natsauth.partner_replay_subject(document["partner_id"])
    since = datetime.now(UTC) - timedelta(hours=1)
    answer = await a.nc.request(replay, json.dumps({"start_time": since.isoformat()}).encode())
    assert json.loads(answer.data)["ok"] is True
    replayed = await gjs.consumer_info(feed, durable)
    assert replayed.config.deliver_policy == DeliverPolicy.BY_START_TIME
    assert replayed.config.deliver_subject is None
    assert replayed.config.filter_subject == document["filter_subject"]
    subscription = await js.pull_subscribe_bind(durable=durable, stream=feed)
    [again] = await fetch_all(subscription, 1)
    assert again.id == opened.id
    # From a moment after everything: nothing.
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    answer = await a.nc.request(replay, json.dumps({"start_time": later}).encode())
    assert json.loads(answer.data)["ok"] is True
    subscription = await js.pull_subscribe_bind(durable=durable, stream=feed)
    assert await fetch_all(subscription, 1, timeout=2) == []
    bad = await a.nc.request(replay, b'{"start_time": "yesterday"}')
    assert json.loads(bad.data) == {"ok": False, "error": "invalid_start_time"}
    own_replay = f'permissions violation for publish to "{replay}"'
    assert not any(own_replay in error for error in client.errors)
