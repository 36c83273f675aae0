"""Helpers shared by the integration, end-to-end and fault tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from uuid import UUID, uuid4

import asyncpg
import httpx
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.intake import cycles
from services.intake import models as intake_models
from services.intake import service as intake_service
from services.intake.domain import CycleDates, CycleStatus
from shared.clock import Clock, FileClock, SystemClock
from shared.commands import send
from shared.db import make_engine, make_sessionmaker
from shared.envelope import Envelope
from shared.events import ApplicationReceived, Event, Role
from shared.launcher import ROOT
from shared.outbox import Outbox
from shared.settings import Settings
from shared.subjects import stream_name
from tests.conftest import eventually

CONSUMERS = ("matching", "scheduling", "feedback")


def partners_cli(
    stack: Any, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run intake's partners command (`python -m services.intake.partners`) against the
    stack, with `env` added to its environment."""
    return subprocess.run(
        [sys.executable, "-m", "services.intake.partners", *args],
        env={**os.environ, **stack.env, **(env or {}), "WOMENTO_SERVICE": "intake"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def create_organisation(database_url: str) -> UUID:
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await intake_service.create_organisation(
                session, name="Test NGO", slug=f"test-{uuid4().hex[:8]}", clock=SystemClock()
            )
    finally:
        await engine.dispose()


async def open_cycle(database_url: str, organisation_id: UUID | None = None) -> tuple[UUID, UUID]:
    """An organisation (a new one unless given) with an open cycle, written through intake's
    service layer."""
    if organisation_id is None:
        organisation_id = await create_organisation(database_url)
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    clock = SystemClock()
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            org = organisation_id
            programme = await cycles.create_programme(
                session, organisation_id=org, name="Career mentoring"
            )
            today = clock.now().date()
            cycle = await cycles.create_cycle(
                session,
                organisation_id=org,
                programme_id=programme,
                name="Test cycle",
                dates=CycleDates(
                    applications_open=today - timedelta(days=1),
                    applications_close=today + timedelta(days=30),
                    starts_on=today + timedelta(days=45),
                    ends_on=today + timedelta(days=290),
                ),
            )
            await cycles.advance_cycle(
                session,
                organisation_id=org,
                cycle_id=cycle,
                to=CycleStatus.OPEN,
                outbox=Outbox(service="intake", table=intake_models.outbox),
                clock=clock,
            )
        return org, cycle
    finally:
        await engine.dispose()


def application_payload(cycle_id: UUID, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "cycle_id": str(cycle_id),
        "role": "mentee",
        "contact": {
            "given_name": "Amina",
            "family_name": "Hassan",
            "email": f"amina.{uuid4().hex[:6]}@example.org",
            "language": "fi",
        },
        "profile": {
            "isco_code": "2142",
            "education_level": 7,
            "education_field": "0732",
            "languages": [{"language": "fi", "level": "B1"}, {"language": "ar", "level": "native"}],
            "region": "01",
            "remote_ok": True,
            "topics": ["networking"],
        },
        "consents": {"processing": True, "background": True, "rollover": True},
        "birth_year": 1988,
        "identifies_as_woman": True,
        "background": {"immigrant_background": True, "country_of_origin": "SY"},
    }
    payload.update(overrides)
    return payload


async def submit(base_url: str, payload: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return await client.post("/api/v1/applications", json=payload)


async def count(db: asyncpg.Connection, table: str, where: str = "true", *args: Any) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args))


async def effects(
    db: asyncpg.Connection, application_id: UUID | str, services: tuple[str, ...] = CONSUMERS
) -> dict[str, int]:
    """How many times each consuming service recorded this application."""
    return {
        svc: await count(
            db, f"{svc}.applications", "application_id = $1", UUID(str(application_id))
        )
        for svc in services
    }


async def consumers_drained(js: JetStreamContext, stream: str = "WOMENTO_INTAKE") -> bool:
    """Every durable consumer on `stream` has nothing pending and nothing unacked."""
    infos = await js.consumers_info(stream)
    return bool(infos) and all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos)


def application_received(cycle_id: UUID, organisation_id: UUID) -> Envelope:
    """A well-formed `ApplicationReceived` envelope, as intake would publish it."""
    event = ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=cycle_id,
        role=Role.MENTEE,
        submitted_at=SystemClock().now(),
    )
    return Envelope.wrap(event, organisation_id=organisation_id, clock=SystemClock())


async def publish(
    nc: NATS, event: Event, *, organisation_id: UUID, clock: Clock | None = None
) -> Envelope:
    """`event` straight to JetStream as its producer's outbox relay would (its envelope's
    subject, `Nats-Msg-Id`), stamped by `clock` (the system clock unless given)."""
    envelope = Envelope.wrap(event, organisation_id=organisation_id, clock=clock or SystemClock())
    await nc.jetstream().publish(
        envelope.nats_subject, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
    )
    return envelope


def clock_file_at(folder: Path, moment: datetime) -> Path:
    """A `FileClock` file in `folder` whose clocks read `moment` now (and run on from it)."""
    path = folder / "clock"
    path.write_text(repr((moment - datetime.now(UTC)).total_seconds()))
    return path


class ServiceSim:
    """One service process on a moved clock, driven by the events other services would publish:
    the handle of the clock-driven e2e tests (scheduling's and feedback's `Sim` subclass it).

    The process reads `WOMENTO_CLOCK_FILE` and runs its worker every 0.3 s; `org` and `cycle`
    are fresh ids for the test's organisation and cycle.
    """

    service: str
    jobs_table: str
    """The service's clock-fired jobs (`due_at`, `fired_at`), for `caught_up`."""

    def __init__(self, stack: Any, nc: NATS, db: asyncpg.Connection, clock_file: Path) -> None:
        self.stack, self.nc, self.db, self.clock_file = stack, nc, db, clock_file
        self.js = nc.jetstream()
        self.org, self.cycle = uuid4(), uuid4()
        self.env = {
            "WOMENTO_CLOCK_FILE": str(clock_file),
            f"WOMENTO_{self.service.upper()}_TICK_SECONDS": "0.3",
        }

    @classmethod
    def started(
        cls, stack: Any, nc: NATS, db: asyncpg.Connection, folder: Path, now: datetime
    ) -> Self:
        """A simulation whose clock reads `now` (its file in `folder`), its service started."""
        simulation = cls(stack, nc, db, clock_file_at(folder, now))
        simulation.start()
        return simulation

    @property
    def clock(self) -> FileClock:
        return FileClock(self.clock_file)

    def start(self) -> None:
        self.stack.start(self.service, **self.env)

    def stop(self) -> None:
        self.stack[self.service].stop(20)

    def move_to(self, moment: datetime) -> None:
        FileClock.advance_file(self.clock_file, moment - self.clock.now())

    async def publish(self, event: Event) -> Envelope:
        return await publish(self.nc, event, organisation_id=self.org, clock=self.clock)

    async def command(
        self, command: Any, *, command_id: UUID | None = None, org: UUID | None = None
    ) -> dict[str, Any]:
        """`command` to its service over NATS, as the test's organisation unless `org`."""
        reply: dict[str, Any] = await send(
            self.nc,
            command,
            organisation_id=org or self.org,
            clock=self.clock,
            wait_seconds=10,
            command_id=command_id,
        )
        return reply

    async def due_unfired(self, now: datetime) -> int:
        """How many of the service's jobs are due by `now` and not fired yet."""
        return await count(self.db, self.jobs_table, "fired_at IS NULL AND due_at <= $1", now)

    async def caught_up(self) -> None:
        """Every job due by now has fired."""
        now = self.clock.now()

        async def none_due() -> bool:
            return await self.due_unfired(now) == 0

        await eventually(none_due, timeout=20)

    async def published(self, event: type[Event]) -> list[dict[str, Any]]:
        """The data of every `event` in the service's stream (what left its outbox)."""
        stream = stream_name(self.service)
        try:
            info = await self.js.stream_info(stream)
        except Exception:
            return []  # no such stream (yet)
        found: list[dict[str, Any]] = []
        if info.state.messages == 0:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(stream, seq)
            envelope = Envelope.from_bytes(msg.data)
            if envelope.type == event.type_name():
                found.append(envelope.data)
        return found

    async def published_count(self, event: type[Event], n: int) -> bool:
        return len(await self.published(event)) == n


COORDINATOR_PASSWORD = "correct horse battery staple"


async def add_coordinator(
    database_url: str, organisation_id: UUID, *, role: str = "coordinator"
) -> str:
    """A coordinator account in the organisation; returns the e-mail to log in with."""
    from services.intake.auth import create_coordinator

    email = f"coordinator.{uuid4().hex[:6]}@example.org"
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await create_coordinator(
                session,
                organisation_id=organisation_id,
                email=email,
                display_name="Maria Virtanen",
                password=COORDINATOR_PASSWORD,
                role=role,
                language="fi",
                clock=SystemClock(),
            )
        return email
    finally:
        await engine.dispose()


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def logged_in(base_url: str, email: str) -> httpx.AsyncClient:
    """An HTTP client holding a coordinator's session (and CSRF) cookies."""
    client = httpx.AsyncClient(base_url=base_url, timeout=10, follow_redirects=False)
    token = csrf_from((await client.get("/login")).text)
    response = await client.post(
        "/login",
        data={"email": email, "password": COORDINATOR_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303, response.text
    return client


def pg_dump(database_url: str) -> str:
    """The whole database as SQL, by the test server's own pg_dump (bytea shown as hex)."""
    from shared.db import asyncpg_dsn
    from shared.launcher import find_postgres_bindir

    binary = str(find_postgres_bindir() / "pg_dump")
    done = subprocess.run(
        [binary, "--no-owner", asyncpg_dsn(database_url)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def found_in_dump(dump: str, text: str) -> bool:
    """`text` in the dump as text (JSONB, text columns) or as bytes (bytea, e.g. the outbox)."""
    return text in dump or text.encode().hex() in dump


async def every_stream_message(nc: NATS) -> list[bytes]:
    """Headers, subject and data of every message of every stream of the account, as a
    replay reads them (deleted messages leave gaps: each read asks for the next one)."""
    from nats.js.errors import NotFoundError

    js = nc.jetstream()
    messages = []
    for info in await js.streams_info():
        seq = info.state.first_seq
        while info.state.messages and seq <= info.state.last_seq:
            try:
                msg = await js.get_msg(info.config.name, seq=seq, subject=">", next=True)
            except NotFoundError:
                break
            headers = "".join(f"{k}:{v}\n" for k, v in (msg.headers or {}).items())
            messages.append(headers.encode() + (msg.subject or "").encode() + (msg.data or b""))
            seq = (msg.seq or seq) + 1
    return messages
