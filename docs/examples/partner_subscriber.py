"""A partner's subscriber to a Womento installation's partner feed, in plain nats-py.

Copy this file; it needs only `pip install nats-py` (Python 3.11+) and the credentials file
the programme's administrator gave you (keep it secret: it holds your password).

    python partner_subscriber.py credentials.json                      # follow the feed
    python partner_subscriber.py credentials.json --once               # stop when caught up
    python partner_subscriber.py credentials.json --since 2027-01-01   # replay from that day

What it does (docs/partners.md explains why):

- connects with the file's `user`, `password` and `inbox_prefix` (TLS, verified with the
  file's `tls_ca_pem`, when there is one); the installation ends each session after a few
  minutes and the client reconnects by itself, its credential checked again;
- reads its own durable pull consumer (`durable`, filtered to `filter_subject`), which the
  installation keeps for it (so it keeps its place between runs); `--since` asks the
  installation to start it again at that day (UTC);
- "processes" each event by storing it in a local SQLite database together with its id, in
  one transaction, then acknowledges it. An event whose id is already there (a redelivery, or
  a replay) is acknowledged and not processed again: the feed delivers at least once, and the
  envelope's `id` is the same on every delivery of one event;
- prints one line per event: `new <id> <type> <time> <data>` or `seen <id> <type>`.

Replace `process` with what your system does, in the same transaction as `remember`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import ssl
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext

BATCH = 50
WAIT_SECONDS = 2.0


def load_credentials(path: Path) -> dict[str, str]:
    credentials: dict[str, str] = json.loads(path.read_text())
    expires = datetime.fromisoformat(credentials["expires_at"])
    days_left = (expires - datetime.now(UTC)).days
    if days_left < 30:
        print(f"warning: these credentials expire in {days_left} days", file=sys.stderr)
    return credentials


async def connect(credentials: dict[str, str], *, once: bool) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        print(f"nats: {exc}", file=sys.stderr)

    tls = None
    if credentials.get("tls_ca_pem"):
        tls = ssl.create_default_context(cadata=credentials["tls_ca_pem"])
    return await nats.connect(
        credentials["nats_url"],
        user=credentials["user"],
        password=credentials["password"],
        inbox_prefix=credentials["inbox_prefix"],  # the only inbox you may subscribe to
        tls=tls,
        name="womento-partner-example",
        error_cb=on_error,
        max_reconnect_attempts=3 if once else -1,
        reconnect_time_wait=2,
    )


async def consumer(
    nc: nats.NATS, credentials: dict[str, str], since: date | None
) -> JetStreamContext.PullSubscription:
    """Your durable consumer, bound. The installation makes it when it admits your
    connection (a pull consumer on your own feed; it keeps your place between runs). A
    consumer's start cannot change, so a replay from a day is a request to the installation,
    which makes it again from that day (UTC)."""
    if since is not None:
        start = datetime.combine(since, time(0), tzinfo=UTC)
        reply = await nc.request(
            credentials.get("replay_subject") or f"partner.replay.{credentials['partner_id']}",
            json.dumps({"start_time": start.isoformat()}).encode(),
            timeout=10,
        )
        answer = json.loads(reply.data)
        if not answer.get("ok"):
            raise SystemExit(f"replay refused: {answer.get('error')}")
    js = nc.jetstream()
    return await js.pull_subscribe_bind(
        durable=credentials["durable"], stream=credentials["stream"]
    )


def open_database(path: Path) -> sqlite3.Connection:
    database = sqlite3.connect(path)
    database.execute(
        "CREATE TABLE IF NOT EXISTS events ("
        " id TEXT PRIMARY KEY, type TEXT NOT NULL, time TEXT NOT NULL, data TEXT NOT NULL)"
    )
    database.commit()
    return database


def remember(database: sqlite3.Connection, envelope: dict[str, Any]) -> bool:
    """Record the event's id (and the event); False if it was recorded before."""
    cursor = database.execute(
        "INSERT INTO events (id, type, time, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (envelope["id"], envelope["type"], envelope["time"], json.dumps(envelope["data"])),
    )
    return cursor.rowcount == 1


def process(database: sqlite3.Connection, envelope: dict[str, Any]) -> None:
    """Your system's part, in the same transaction as `remember`; here: nothing more."""


def read_envelope(body: bytes) -> dict[str, Any] | None:
    """The CloudEvents envelope (docs/partners/schemas/), or None if the body is not one."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or not all(
        key in envelope for key in ("id", "type", "time", "data")
    ):
        return None
    return envelope


def handle(database: sqlite3.Connection, envelope: dict[str, Any]) -> str:
    """Process one event at most once; the line to print."""
    with database:  # one transaction: committed on success, rolled back on an exception
        if not remember(database, envelope):
            return f"seen {envelope['id']} {envelope['type']}"
        process(database, envelope)
    data = json.dumps(envelope["data"], sort_keys=True)
    return f"new {envelope['id']} {envelope['type']} {envelope['time']} {data}"


async def caught_up(subscription: JetStreamContext.PullSubscription) -> bool:
    """Nothing left to deliver, nothing delivered and waiting for its acknowledgement."""
    info = await subscription.consumer_info()
    return info.num_pending == 0 and info.num_ack_pending == 0


async def run(arguments: argparse.Namespace) -> int:
    credentials = load_credentials(arguments.credentials)
    database = open_database(arguments.database or arguments.credentials.with_suffix(".sqlite"))
    nc = await connect(credentials, once=arguments.once)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        subscription = await consumer(nc, credentials, arguments.since)
        while not stop.is_set():
            if arguments.once and await caught_up(subscription):
                break
            try:
                messages = await subscription.fetch(BATCH, timeout=WAIT_SECONDS)
            except nats.errors.TimeoutError:
                if arguments.once:
                    break  # nothing more for now: caught up
                continue
            for msg in messages:
                envelope = read_envelope(msg.data)
                if envelope is None:  # not an event, and never will be: do not redeliver
                    print(f"unreadable message: {msg.data[:80]!r}", file=sys.stderr)
                    await msg.term()
                    continue
                try:
                    line = handle(database, envelope)
                except Exception as exc:  # your system failed: try again a little later
                    print(f"failed {envelope['id']}: {exc}; to be redelivered", file=sys.stderr)
                    await msg.nak(delay=5)
                    continue
                print(line, flush=True)
                await msg.ack_sync()  # after the commit: at worst it comes again, and is seen
    finally:
        # Acknowledgements were confirmed one by one (`ack_sync`), so nothing is left to
        # send; `drain` would wait for the server's status messages to the pull inbox.
        if nc.is_connected:
            await nc.flush(timeout=2)
        await nc.close()
        database.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("credentials", type=Path, help="the credentials JSON file")
    parser.add_argument(
        "--since",
        type=date.fromisoformat,
        help="replay the feed from this day (YYYY-MM-DD, UTC); events already processed "
        "are recognised by their id and not processed again",
    )
    parser.add_argument("--once", action="store_true", help="exit when caught up")
    parser.add_argument(
        "--database",
        type=Path,
        help="the SQLite file of processed events (default: beside the credentials file)",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
