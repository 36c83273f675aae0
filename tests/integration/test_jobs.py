"""`shared/jobs.py`'s runner against real PostgreSQL: a due job fires once even with two
runners at once (SKIP LOCKED), a failing one is rolled back, recorded and retried later
without blocking the job behind it, and a table without the runner's columns is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shared.clock import FrozenClock
from shared.jobs import JobRunner, retry_delay

START = datetime(2027, 3, 1, 8, tzinfo=UTC)

metadata = sa.MetaData()
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", PgUUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Index("jobs_due", "due_at", postgresql_where=sa.text("fired_at IS NULL")),  # as theirs
)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", PgUUID(as_uuid=True), nullable=False),
    sa.Column("runner", sa.Text, nullable=False),
)


@pytest.fixture
async def sessions(database_url):
    """Two engines (two runners do not share connections) on a fresh database."""
    engines = [create_async_engine(database_url) for _ in range(2)]
    async with engines[0].begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield [async_sessionmaker(engine, expire_on_commit=False) for engine in engines]
    for engine in engines:
        await engine.dispose()


async def add_jobs(sessions: async_sessionmaker[AsyncSession], *rows: dict) -> None:
    async with sessions() as session, session.begin():
        await session.execute(jobs.insert(), list(rows))


async def fetch(sessions: async_sessionmaker[AsyncSession], table: sa.Table) -> list:
    async with sessions() as session:
        return list((await session.execute(sa.select(table))).all())


async def test_each_due_job_fires_once_under_two_concurrent_runners(sessions) -> None:
    clock = FrozenClock(START)
    due = [
        {"job_id": uuid4(), "kind": "k", "due_at": START - timedelta(minutes=i)} for i in range(20)
    ]
    later = {"job_id": uuid4(), "kind": "k", "due_at": START + timedelta(seconds=1)}
    await add_jobs(sessions[0], *due, later)
    a_holds_a_job, b_fired = asyncio.Event(), asyncio.Event()

    def runner(name: str) -> JobRunner:
        async def fire(session: AsyncSession, job: sa.Row, now: datetime) -> None:
            await session.execute(effects.insert().values(job_id=job.job_id, runner=name))
            if name == "a" and not a_holds_a_job.is_set():
                # A keeps its first job locked until B has fired another one: B must skip
                # the locked row, not wait for it (a plain FOR UPDATE would hang here).
                a_holds_a_job.set()
                await asyncio.wait_for(b_fired.wait(), timeout=60)
            if name == "b":
                b_fired.set()

        return JobRunner(jobs, fire, "WOMENTO_TEST_TICK_SECONDS")

    task_a = asyncio.create_task(runner("a").fire_due(sessions[0], clock))
    await a_holds_a_job.wait()
    fired_b = await runner("b").fire_due(sessions[1], clock)
    fired_a = await task_a

    assert fired_a >= 1 and fired_b >= 1
    assert fired_a + fired_b == len(due)
    done = await fetch(sessions[0], effects)
    assert sorted(str(row.job_id) for row in done) == sorted(str(row["job_id"]) for row in due)
    states = {row.job_id: row for row in await fetch(sessions[0], jobs)}
    assert all(states[row["job_id"]].fired_at == START for row in due)
    assert states[later["job_id"]].fired_at is None  # not due yet

    assert await runner("a").fire_due(sessions[0], clock) == 0  # nothing fires twice
    clock.advance(timedelta(seconds=1))
    assert await runner("b").fire_due(sessions[1], clock) == 1
    assert len(await fetch(sessions[0], effects)) == len(due) + 1


async def test_a_failing_job_is_retried_later_without_blocking_the_next(sessions) -> None:
    clock = FrozenClock(START)
    flaky, steady = uuid4(), uuid4()
    await add_jobs(
        sessions[0],
        {"job_id": flaky, "kind": "flaky", "due_at": START - timedelta(minutes=2)},
        {"job_id": steady, "kind": "steady", "due_at": START - timedelta(minutes=1)},
    )

    async def fire(session: AsyncSession, job: sa.Row, now: datetime) -> None:
        await session.execute(effects.insert().values(job_id=job.job_id, runner="r"))
        if job.kind == "flaky" and job.attempts == 0:
            raise RuntimeError("the first try fails")

    runner = JobRunner(jobs, fire, "WOMENTO_TEST_TICK_SECONDS", noun="test job")

    assert await runner.fire_due(sessions[0], clock) == 1
    states = {row.job_id: row for row in await fetch(sessions[0], jobs)}
    assert states[steady].fired_at == START
    failed = states[flaky]
    assert failed.fired_at is None and failed.attempts == 1
    assert "the first try fails" in failed.last_error
    assert failed.due_at == START + retry_delay(0) == START + timedelta(seconds=30)
    # The failed firing's own writes were rolled back with it; the steady job's stayed.
    assert [row.job_id for row in await fetch(sessions[0], effects)] == [steady]

    clock.advance(timedelta(seconds=29))
    assert await runner.fire_due(sessions[0], clock) == 0  # not due again yet
    clock.advance(timedelta(seconds=1))
    assert await runner.fire_due(sessions[0], clock) == 1
    retried = {row.job_id: row for row in await fetch(sessions[0], jobs)}[flaky]
    assert retried.fired_at == clock.now() and retried.attempts == 1
    assert sorted(str(row.job_id) for row in await fetch(sessions[0], effects)) == sorted(
        [str(steady), str(flaky)]
    )


def test_retry_delay_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in range(4)] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert retry_delay(6) == timedelta(seconds=1920)
    assert retry_delay(7) == retry_delay(50) == timedelta(hours=1)


def test_a_table_without_the_runner_columns_is_refused() -> None:
    table = sa.Table("no_attempts", sa.MetaData(), sa.Column("job_id", sa.Integer))

    async def fire(session: AsyncSession, job: sa.Row, now: datetime) -> None: ...

    with pytest.raises(ValueError, match="attempts"):
        JobRunner(table, fire, "WOMENTO_TEST_TICK_SECONDS")


def test_the_tick_comes_from_the_named_variable(monkeypatch) -> None:
    async def fire(session: AsyncSession, job: sa.Row, now: datetime) -> None: ...

    runner = JobRunner(jobs, fire, "WOMENTO_TEST_TICK_SECONDS")
    monkeypatch.delenv("WOMENTO_TEST_TICK_SECONDS", raising=False)
    assert runner.tick_seconds() == 5.0
    monkeypatch.setenv("WOMENTO_TEST_TICK_SECONDS", "0.25")
    assert runner.tick_seconds() == 0.25
