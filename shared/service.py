"""The composition root every service shares: `build_app()` and `run()`.

A service describes itself with a `ServiceDefinition` (tables, migrations, event
subscriptions, HTTP routers); `build_app` wires settings, clock, database, broker,
outbox relay and consumers into a FastAPI app whose lifespan migrates, connects and
starts, and on SIGTERM stops taking messages, lets handlers finish and closes cleanly.
Nothing connects before the lifespan starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import faults
from shared.bus import EventConsumer, Subscription, check_streams, make_broker
from shared.clock import Clock, FileClock, SystemClock
from shared.commands import CommandResponder, CommandRoute
from shared.db import make_engine, make_sessionmaker, migrate, migrations_current
from shared.erasure import ErasedPeople
from shared.events import Event
from shared.inbox import Inbox
from shared.observability import HTTP_DURATION, HTTP_REQUESTS, configure_logging, correlation
from shared.outbox import Outbox, OutboxRelay
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    metadata: sa.MetaData
    outbox_table: sa.Table
    inbox_table: sa.Table
    migrations_dir: Path
    erased_table: sa.Table | None = None
    """`shared.erasure.add_erased_table`: events about people erased are skipped."""
    subscriptions: Sequence[Subscription] = ()
    commands: Sequence[CommandRoute] = ()
    routers: Sequence[APIRouter] = ()
    description: str = ""
    static_dir: Path | None = None
    exception_handlers: Mapping[Any, Callable[..., Any]] = field(default_factory=dict)
    """Extra FastAPI exception handlers (e.g. HTML error pages for a web front)."""
    workers: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    """Background loops started with the service and cancelled at shutdown (e.g. mail)."""

    @property
    def consumed_events(self) -> list[type[Event]]:
        return [subscription.event for subscription in self.subscriptions]

    @property
    def command_subjects(self) -> list[str]:
        return [route.command.subject() for route in self.commands]


@dataclass
class Runtime:
    """Everything a request or a handler may need, built once per process."""

    definition: ServiceDefinition
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    broker: NatsBroker
    outbox: Outbox
    inbox: Inbox
    nats: NatsClient | None = None
    jetstream: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def js(self) -> JetStreamContext:
        if self.jetstream is None:
            raise RuntimeError("the service has not connected to NATS yet")
        return self.jetstream


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessionmaker() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


def build_app(
    definition: ServiceDefinition, settings: Settings | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings(service=definition.name)
    if clock is None:
        clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    engine = make_engine(settings)
    runtime = Runtime(
        definition=definition,
        settings=settings,
        clock=clock,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        broker=make_broker(settings),
        outbox=Outbox(service=definition.name, table=definition.outbox_table),
        inbox=Inbox(table=definition.inbox_table, clock=clock),
    )
    erased = (
        ErasedPeople(definition.erased_table, settings.secret_key)
        if definition.erased_table is not None
        else None
    )
    for subscription in definition.subscriptions:
        EventConsumer(
            service=definition.name,
            subscription=subscription,
            sessionmaker=lambda: runtime.sessionmaker,
            inbox=runtime.inbox,
            jetstream=runtime.js,
            settings=settings,
            skips=erased.skips if erased else None,
        ).register(runtime.broker)

    for route in definition.commands:
        CommandResponder(
            service=definition.name,
            route=route,
            sessionmaker=lambda: runtime.sessionmaker,
            inbox_table=definition.inbox_table,
            context=runtime,
        ).register(runtime.broker)

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="1",
        lifespan=lambda app: _lifespan(runtime),
    )
    app.state.runtime = runtime
    for exception, handler in definition.exception_handlers.items():
        app.add_exception_handler(exception, handler)
    app.include_router(_operations_router())
    for router in definition.routers:
        app.include_router(router)
    if definition.static_dir is not None:
        app.mount("/static", StaticFiles(directory=definition.static_dir), name="static")
    _add_http_middleware(app, definition.name)
    app.add_middleware(RequestSizeLimit, limit=settings.max_request_bytes)
    return app


WORKER_STOP_SECONDS = 10.0


async def keep_running(what: str, run: Callable[[], Awaitable[None]], delay: float = 5.0) -> None:
    """A worker's loop: run `run` again `delay` seconds after it fails (NATS away too long,
    say), until the worker is cancelled."""
    while True:
        try:
            await run()
        except Exception:
            log.exception("%s failed; restarting in %.0f s", what, delay)
            await asyncio.sleep(delay)


async def _cancel_workers(workers: list[asyncio.Task[None]]) -> None:
    """Cancel the workers and wait for them, at most `WORKER_STOP_SECONDS`: a worker that
    has not finished by then is logged with where each of the process' tasks is waiting
    (so that a hang can be found), and the service stops without it."""
    for worker_task in workers:
        worker_task.cancel()
    if not workers:
        return
    _, pending = await asyncio.wait(workers, timeout=WORKER_STOP_SECONDS)
    if pending:
        waiting = {
            task.get_name(): " <- ".join(
                f"{frame.f_code.co_name} ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:"
                f"{frame.f_lineno})"
                for frame in task.get_stack(limit=8)
            )
            for task in asyncio.all_tasks()
            if not task.done()
        }
        log.error(
            "workers did not stop; stopping without them",
            extra={"workers": sorted(t.get_name() for t in pending), "tasks": waiting},
        )


@asynccontextmanager
async def _lifespan(rt: Runtime) -> AsyncIterator[None]:
    d, s = rt.definition, rt.settings
    faults.arm(s.crashpoints)
    await migrate(d.migrations_dir, s.database_url, d.name, secret_key=s.secret_key)
    rt.nats = await rt.broker.connect()
    rt.jetstream = rt.nats.jetstream()
    await check_streams(rt.jetstream, s, consumes=[e.producer for e in d.consumed_events])
    rt.relay = OutboxRelay(
        outbox=rt.outbox,
        sessionmaker=rt.sessionmaker,
        jetstream=rt.jetstream,
        database_url=s.database_url,
        clock=rt.clock,
        batch_size=s.outbox_batch_size,
        poll_seconds=s.outbox_poll_seconds,
    )
    rt.tasks.append(asyncio.create_task(rt.relay.run(), name=f"{d.name}-outbox-relay"))
    workers = [asyncio.create_task(worker(rt), name=worker.__name__) for worker in d.workers]
    await rt.broker.start()
    log.info("service started", extra={"port": s.port, "subscriptions": len(d.subscriptions)})
    try:
        yield
    finally:
        log.info("service stopping")
        # Workers first: they may hold subscriptions on the broker's connection, which
        # the broker drains on stop (a pull subscription mid-fetch would hold it 30 s).
        await _cancel_workers(workers)
        await rt.broker.stop()
        await rt.relay.stop()
        for task in rt.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        await rt.engine.dispose()
        log.info("service stopped")


def _operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: NATS and PostgreSQL reachable, schema migrated")
    async def readyz(rt: RuntimeDep) -> JSONResponse:
        checks = {"nats": bool(rt.nats is not None and rt.nats.is_connected)}
        try:
            async with rt.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
                checks["postgres"] = True
                checks["migrations"] = await migrations_current(
                    conn, rt.definition.migrations_dir, rt.definition.name
                )
        except Exception:
            checks.setdefault("postgres", False)
            checks["migrations"] = False
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestSizeLimit:
    """Refuse bodies over `limit` bytes with 413 before anything reads them (pure ASGI)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = b'{"detail":"request body too large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _add_http_middleware(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        cid = _uuid_or_new(request.headers.get("x-correlation-id"))
        request.state.correlation_id = uuid.UUID(cid)
        with correlation(cid):
            response: Response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, path, str(response.status_code)).inc()
        HTTP_DURATION.labels(service, path).observe(time.perf_counter() - started)
        response.headers["x-correlation-id"] = cid
        return response


def _uuid_or_new(value: str | None) -> str:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return str(uuid.uuid4())


def run(definition: ServiceDefinition) -> None:
    """`python -m services.<name>`: serve until SIGTERM/SIGINT, then shut down cleanly."""
    settings = Settings(service=definition.name)
    configure_logging(definition.name, settings.log_level)
    app = build_app(definition, settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.ack_wait_seconds),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
