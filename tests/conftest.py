"""Real NATS and real PostgreSQL for the suite.

By default the session starts its own servers with the same launcher code as `make run`
(random ports, temporary folders). `WOMENTO_TEST_BACKEND=containers` uses testcontainers
instead (needs Docker). With `NATS_URL` / `DATABASE_URL` set, those servers are used, and
tests marked `kills` (which kill or restart NATS) are skipped.

Every test gets a fresh database and a NATS whose streams are empty.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import ssl
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from shared import natsauth
from shared.bus import provision_streams
from shared.db import asyncpg_dsn
from shared.events import SERVICES
from shared.launcher import NatsServer, PostgresServer, ServiceProcess
from shared.settings import Settings

EXTERNAL_NATS = os.environ.get("NATS_URL")
EXTERNAL_NATS_CREDENTIALS = (
    Path(os.environ["WOMENTO_NATS_CREDENTIALS_DIR"])
    if os.environ.get("WOMENTO_NATS_CREDENTIALS_DIR")
    else None
)
EXTERNAL_DATABASE = os.environ.get("DATABASE_URL")
BACKEND = os.environ.get("WOMENTO_TEST_BACKEND", "embedded")

TEST_ENV = {
    "WOMENTO_ENV": "test",
    "WOMENTO_ACK_WAIT_SECONDS": "3",
    "WOMENTO_RETRY_BACKOFF_SECONDS": "0.2",
    "WOMENTO_OUTBOX_POLL_SECONDS": "0.5",
    "WOMENTO_MAX_DELIVER": "4",
    "WOMENTO_LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="womento-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url(workdir: Path) -> Iterator[str]:
    """URL of a server where the suite may create databases."""
    if EXTERNAL_DATABASE:
        yield EXTERNAL_DATABASE
        return
    if BACKEND == "containers":
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="asyncpg") as container:
            yield container.get_connection_url()
        return
    server = PostgresServer(workdir / "postgres", durable=False)
    server.start()
    yield server.url("postgres")
    server.stop()


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = asyncpg_dsn(postgres_admin_url)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class NatsHandle:
    """The test's NATS: its URL, its credentials, and (when the suite started it) the power
    to kill it. `connect_options(identity)` connects as one of `shared.natsauth`'s
    identities (default: `admin`, which may do anything in the services' account)."""

    def __init__(
        self,
        url: str,
        server: NatsServer | None,
        credentials_dir: Path | None,
        tls_ca_file: Path | None = None,
    ) -> None:
        self.url, self.server, self.credentials_dir = url, server, credentials_dir
        self.tls_ca_file = tls_ca_file

    def connect_options(self, identity: str = natsauth.ADMIN) -> dict[str, Any]:
        options: dict[str, Any] = natsauth.client_options(self.credentials_dir, identity)
        if self.tls_ca_file is not None:
            options["tls"] = ssl.create_default_context(cafile=str(self.tls_ca_file))
        return options

    def restart(self, *, hard: bool) -> None:
        if self.server is None:
            pytest.skip("cannot restart an external NATS")
        if hard:
            self.server.kill()
        else:
            self.server.stop()
        self.server.start()


async def _fresh_womento_streams(url: str, options: dict[str, Any]) -> None:
    """Empty slate on a shared server: only this project's streams are deleted, then made
    again as the provisioner would (`shared.provision`; services only check them)."""
    nc = await nats.connect(url, **options)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith("WOMENTO_"):
                await js.delete_stream(info.config.name)
        await provision_streams(js, Settings(NATS_URL=url))
    finally:
        await nc.close()


@pytest.fixture
def nats_server(workdir: Path, request: pytest.FixtureRequest) -> Iterator[NatsHandle]:
    if EXTERNAL_NATS:
        if request.node.get_closest_marker("kills"):
            pytest.skip("kills NATS: needs a NATS started by the suite")
        if request.node.get_closest_marker("nats_tls"):
            pytest.skip("needs a NATS with TLS started by the suite")
        handle = NatsHandle(EXTERNAL_NATS, None, EXTERNAL_NATS_CREDENTIALS)
        asyncio.run(_fresh_womento_streams(EXTERNAL_NATS, handle.connect_options()))
        yield handle
        return
    if BACKEND == "containers":
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.10", jetstream=True) as container:
            asyncio.run(_fresh_womento_streams(container.nats_uri(), {}))
            yield NatsHandle(container.nats_uri(), None, None)
        return
    # `nats_tls`: clients must use TLS (production settings refuse NATS without it).
    tls = request.node.get_closest_marker("nats_tls") is not None
    server = NatsServer(workdir / f"nats-{uuid.uuid4().hex[:8]}", tls=tls)
    server.start()
    yield NatsHandle(server.url, server, server.credentials_dir, server.tls_ca_file)
    server.kill()


class Stack:
    """The services of one test, as real processes against the test's NATS and database."""

    def __init__(self, nats: NatsHandle, database_url: str, log_dir: Path) -> None:
        self.env = {**TEST_ENV, "NATS_URL": nats.url, "DATABASE_URL": database_url}
        if nats.credentials_dir is not None:
            self.env["WOMENTO_NATS_CREDENTIALS_DIR"] = str(nats.credentials_dir)
        if nats.tls_ca_file is not None:
            self.env["WOMENTO_NATS_TLS_CA_FILE"] = str(nats.tls_ca_file)
        self.database_url = database_url
        self.nats_url = nats.url
        self.nats = nats
        self.nats_admin = nats.connect_options()
        self.log_dir = log_dir
        self.services: dict[str, ServiceProcess] = {}

    def start(self, *names: str, **extra_env: str) -> dict[str, ServiceProcess]:
        started = []
        for name in names or SERVICES:
            service = self.services.get(name)
            if service is None:
                service = ServiceProcess(name, {**self.env, "WOMENTO_SERVICE": name}, self.log_dir)
                self.services[name] = service
            service.start(wait=False, **extra_env)
            started.append(service)
        for service in started:
            service.wait_ready()
        return self.services

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def log(self, name: str) -> str:
        return self.services[name].proc.log_path.read_text(errors="replace")

    def stop_all(self) -> None:
        for service in self.services.values():
            service.proc.send(signal.SIGTERM)
        for service in self.services.values():
            service.stop(20)


@pytest.fixture
def stack(nats_server: NatsHandle, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    tmp_path.chmod(0o755)
    s = Stack(nats_server, database_url, tmp_path / "logs")
    yield s
    s.stop_all()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    yield conn
    await conn.close()


@pytest.fixture
async def nc(nats_server: NatsHandle) -> AsyncIterator[Any]:
    client = await nats.connect(
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **nats_server.connect_options(),
    )
    yield client
    await client.close()


async def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)
