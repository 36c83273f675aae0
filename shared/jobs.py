"""Clock-fired durable jobs: the one runner behind every service's jobs table.

A service keeps its jobs in its own table (scheduling's `jobs`, feedback's `survey_jobs`)
with at least the columns of `JOB_COLUMNS`, and gives a `JobRunner` that table, its
`fire(session, job, now)` and the environment variable of its tick. At start and then every
tick the runner claims the jobs that are due (`fired_at IS NULL AND due_at <= clock.now()`,
earliest first) one at a time with `FOR UPDATE SKIP LOCKED` and fires each in the transaction
that sets its `fired_at`: whatever `fire` writes (its effect, its outgoing events through the
outbox) and the mark commit together or not at all. So a job fires once, even with several
copies of the service, and a job that fell due while the service was down fires after the
restart (late, never lost).

A `fire` that raises is rolled back to a savepoint; the job's `attempts` and `last_error` are
recorded and its `due_at` pushed back (`retry_delay`: 30 s doubling, at most an hour), and the
pass goes on with the jobs behind it, skipping that one until the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock

log = logging.getLogger(__name__)

JOB_COLUMNS = ("job_id", "kind", "due_at", "fired_at", "attempts", "last_error")
"""The columns the runner reads and writes; a jobs table may have more (the fire's own)."""
DEFAULT_TICK_SECONDS = 5.0
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)

Fire = Callable[[AsyncSession, "sa.Row[Any]", datetime], Awaitable[None]]
"""Fires one job in the caller's transaction; raises to have it retried later."""


def retry_delay(attempts: int) -> timedelta:
    """How long a job that has failed `attempts` times before waits after failing again."""
    return min(FIRST_RETRY * (1 << min(attempts, 10)), MAX_RETRY)


@dataclass(frozen=True)
class JobRunner:
    """Fires the due jobs of `table` with `fire`.

    `noun` and `worker` only word the log lines ("<noun>s fired", "a <noun> failed; it will
    be retried", "<worker>'s pass failed; will try again"), written to `logger` (the
    service worker's own, so its lines keep their logger name).
    """

    table: sa.Table
    fire: Fire
    tick_env: str
    noun: str = "due job"
    worker: str = "the clock worker"
    logger: logging.Logger = log

    def __post_init__(self) -> None:
        missing = [name for name in JOB_COLUMNS if name not in self.table.c]
        if missing:
            raise ValueError(f"jobs table {self.table.fullname} lacks columns {missing}")

    def tick_seconds(self) -> float:
        """Seconds between two passes: `tick_env` if set (tests make it short), else 5."""
        return float(os.environ.get(self.tick_env, DEFAULT_TICK_SECONDS))

    async def run(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        """Fire due jobs now and every tick until cancelled; a failed pass is logged."""
        tick = self.tick_seconds()
        while True:
            try:
                fired = await self.fire_due(sessionmaker, clock)
                if fired:
                    self.logger.info(f"{self.noun}s fired", extra={"jobs": fired})
            except asyncio.CancelledError:
                raise
            except Exception:
                self.logger.exception(f"{self.worker}'s pass failed; will try again")
            await asyncio.sleep(tick)

    async def fire_due(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
        """Fire every job due now, each in its own transaction; returns how many fired."""
        fired = 0
        skip: set[Any] = set()
        while True:
            now = clock.now()
            async with sessionmaker() as session, session.begin():
                job = await self._claim(session, now, skip)
                if job is None:
                    return fired
                failure = await self._fire_one(session, job, now)
            if failure is None:
                fired += 1
                continue
            skip.add(job.job_id)
            self.logger.error(
                f"a {self.noun} failed; it will be retried",
                exc_info=failure,
                extra={"job_id": str(job.job_id), "kind": job.kind},
            )

    async def _claim(
        self, session: AsyncSession, now: datetime, skip: set[Any]
    ) -> sa.Row[Any] | None:
        c = self.table.c
        return (
            await session.execute(
                sa.select(self.table)
                .where(
                    c.fired_at.is_(None),
                    c.due_at <= now,
                    c.job_id.not_in(skip) if skip else sa.true(),
                )
                .order_by(c.due_at, c.job_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).one_or_none()

    async def _fire_one(
        self, session: AsyncSession, job: sa.Row[Any], now: datetime
    ) -> Exception | None:
        """Fire and mark `job` in a savepoint; on failure record it for a later retry."""
        this_job = self.table.update().where(self.table.c.job_id == job.job_id)
        try:
            async with session.begin_nested():
                await self.fire(session, job, now)
                await session.execute(this_job.values(fired_at=now))
        except Exception as exc:
            await session.execute(
                this_job.values(
                    attempts=job.attempts + 1,
                    last_error=repr(exc)[:500],
                    due_at=now + retry_delay(job.attempts),
                )
            )
            return exc
        return None
