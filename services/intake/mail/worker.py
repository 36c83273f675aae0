"""The mail worker: claims due mails, renders them for their recipient and delivers them.

Invariants (mirroring `shared/outbox.py`):
- Due queued mails are claimed in small batches with `FOR UPDATE SKIP LOCKED`, so several
  copies of intake can send side by side without sending a mail twice.
- Delivery is at-least-once: a mail is marked sent in the claiming transaction after the
  SMTP server accepted it. A crash (or a lost database connection) in between sends it again
  later with the same `Message-ID: <{mail_id}@womento>`, so the copy is recognisable.
  At most one batch (`BATCH_SIZE`) can be sent twice that way.
- A failed delivery counts an attempt and waits `retry_seconds * 2**(attempts-1)` (capped at
  one hour) before the next; after `MAX_ATTEMPTS` the mail is `failed`, logged at error level.
- A mail whose recipient was erased (`people.wrapped_key IS NULL`) is never sent: it is marked
  `failed` with `last_error = 'recipient erased'`. A mail that cannot be rendered (unknown
  template, missing context, no usable address) fails at once too: retrying cannot help.
- The worker wakes on `NOTIFY womento_mail` (sent by `enqueue_mail`, delivered at commit) on
  a dedicated asyncpg connection, and otherwise polls every `poll_seconds` or at the next
  retry's due time, whichever comes first.

Tuning (environment variables, read when the worker starts):
- `Settings.mail_retry_seconds` (`WOMENTO_MAIL_RETRY_SECONDS`, default 30): the first retry delay.
- `Settings.mail_poll_seconds` (`WOMENTO_MAIL_POLL_SECONDS`, default 5): the safety-net poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol
from uuid import UUID, uuid4

import aiosmtplib
import asyncpg
import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake import models as m
from services.intake.mail.message import build_message
from services.intake.mail.queue import NOTIFY_CHANNEL
from services.intake.mail.render import MailRenderError, RenderedMail, render_mail
from services.intake.mail.tables import dev_mailbox, mail_queue
from shared.clock import Clock
from shared.crypto import vault_for
from shared.db import asyncpg_dsn
from shared.service import Runtime
from shared.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
BATCH_SIZE = 10
SMTP_TIMEOUT_SECONDS = 30.0
ERASED = "recipient erased"

MAIL_OUTCOMES = Counter(
    "womento_mail_total",
    "Mail delivery attempts by outcome: sent, retried, failed",
    ["template", "outcome"],
)
MAIL_PENDING = Gauge("womento_mail_queued", "Mails queued and not yet sent")


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """Wait before the next attempt, after `attempts` failed ones: base, 2 * base, ... up to 1 h."""
    exponent = max(attempts - 1, 0)
    return min(timedelta(seconds=base_seconds * 2 ** min(exponent, 32)), MAX_BACKOFF)


class PermanentDeliveryError(Exception):
    """The server refused the mail for good (e.g. 5xx for the recipient); do not retry."""


class Delivery(Protocol):
    async def deliver(
        self,
        session: AsyncSession,
        *,
        mail_id: UUID,
        message: EmailMessage,
        rendered: RenderedMail,
        now: datetime,
    ) -> None: ...


class SmtpDelivery:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def deliver(
        self,
        session: AsyncSession,
        *,
        mail_id: UUID,
        message: EmailMessage,
        rendered: RenderedMail,
        now: datetime,
    ) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_port == 465,  # SMTPS; STARTTLS on other ports when asked for
                start_tls=s.smtp_starttls and s.smtp_port != 465,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(r.code >= 500 for r in exc.recipients):
                raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
            raise


class MailboxDelivery:
    """Development and tests: the rendered mail is kept in `intake.dev_mailbox`."""

    async def deliver(
        self,
        session: AsyncSession,
        *,
        mail_id: UUID,
        message: EmailMessage,
        rendered: RenderedMail,
        now: datetime,
    ) -> None:
        await session.execute(
            dev_mailbox.insert().values(
                id=uuid4(),
                mail_id=mail_id,
                to_address=str(message["To"]),
                subject=rendered.subject,
                text_body=rendered.text,
                html_body=rendered.html,
                created_at=now,
            )
        )


def delivery_for(settings: Settings) -> Delivery:
    return SmtpDelivery(settings) if settings.mail_backend == "smtp" else MailboxDelivery()


class MailWorker:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        sessionmaker: async_sessionmaker[AsyncSession],
        delivery: Delivery | None = None,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float | None = None,
        retry_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sessionmaker = sessionmaker
        self.delivery = delivery or delivery_for(settings)
        self.vault = vault_for(settings.secret_key)
        self.dsn = asyncpg_dsn(settings.database_url)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds or settings.mail_poll_seconds
        self.retry_seconds = retry_seconds or settings.mail_retry_seconds
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    async def run(self) -> None:
        """Send until cancelled; a failing pass backs off and retries, never drops a mail."""
        log.info(
            "mail worker started",
            extra={"mail_backend": self.settings.mail_backend, "retry_seconds": self.retry_seconds},
        )
        backoff = 0.1
        try:
            while True:
                try:
                    await self._ensure_listener()
                    handled = await self.send_batch()
                    backoff = 0.1
                    if handled == self.batch_size:
                        continue
                    await self._sleep(await self._seconds_until_due())
                except Exception:
                    log.warning("mail worker pass failed; retrying", exc_info=True)
                    await self._drop_listener()
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await self._drop_listener()

    async def send_batch(self) -> int:
        """Claim up to `batch_size` due mails, deliver each, record the outcome; one commit."""
        q, p = mail_queue, m.people
        async with self.sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(
                        q.c.id,
                        q.c.template,
                        q.c.language,
                        q.c.context,
                        q.c.secret_context,
                        q.c.attempts,
                        q.c.person_id,
                        p.c.wrapped_key,
                        p.c.details,
                    )
                    .join(p, p.c.id == q.c.person_id)
                    .where(q.c.status == "queued", q.c.not_before <= self.clock.now())
                    .order_by(q.c.not_before, q.c.created_at)
                    .limit(self.batch_size)
                    .with_for_update(of=q, skip_locked=True)
                )
            ).all()
            for row in rows:
                await self._send_one(session, row)
        await self._record_backlog()
        return len(rows)

    async def _send_one(self, session: AsyncSession, row: Any) -> None:
        extra = {"mail_id": str(row.id), "template": row.template}
        if row.wrapped_key is None:
            log.warning("mail not sent: its recipient was erased", extra=extra)
            await self._give_up(session, row, ERASED, attempts=row.attempts)
            return
        try:
            recipient = self.vault.decrypt(row.wrapped_key, row.person_id, row.details)
            context = dict(row.context)
            if row.secret_context is not None:
                context |= self.vault.decrypt(row.wrapped_key, row.person_id, row.secret_context)
            rendered = render_mail(row.template, row.language, recipient, context)
            message = build_message(
                mail_id=row.id,
                sender=self.settings.mail_from,
                recipient=recipient,
                rendered=rendered,
                lang=row.language,
                now=self.clock.now(),
            )
        except MailRenderError as exc:
            log.error("mail cannot be rendered; giving up", extra=extra | {"error": str(exc)})
            await self._give_up(session, row, f"cannot render: {exc}", attempts=row.attempts)
            return
        except Exception as exc:
            await self._retry_later(session, row, exc, extra)
            return
        try:
            async with session.begin_nested():
                await self.delivery.deliver(
                    session,
                    mail_id=row.id,
                    message=message,
                    rendered=rendered,
                    now=self.clock.now(),
                )
        except PermanentDeliveryError as exc:
            log.error("mail refused by the server; giving up", extra=extra | {"error": str(exc)})
            await self._give_up(session, row, str(exc), attempts=row.attempts + 1)
            return
        except Exception as exc:
            await self._retry_later(session, row, exc, extra)
            return
        await session.execute(
            mail_queue.update()
            .where(mail_queue.c.id == row.id)
            .values(status="sent", sent_at=self.clock.now(), attempts=row.attempts + 1)
        )
        MAIL_OUTCOMES.labels(row.template, "sent").inc()
        log.info("mail sent", extra=extra | {"attempt": row.attempts + 1})

    async def _retry_later(
        self, session: AsyncSession, row: Any, exc: Exception, extra: dict[str, Any]
    ) -> None:
        attempts = row.attempts + 1
        error = repr(exc)[:500]
        if attempts >= MAX_ATTEMPTS:
            log.error(
                "mail delivery failed for good",
                extra=extra | {"attempts": attempts, "error": error},
            )
            await self._give_up(session, row, error, attempts=attempts)
            return
        delay = retry_delay(attempts, self.retry_seconds)
        await session.execute(
            mail_queue.update()
            .where(mail_queue.c.id == row.id)
            .values(attempts=attempts, not_before=self.clock.now() + delay, last_error=error)
        )
        MAIL_OUTCOMES.labels(row.template, "retried").inc()
        log.warning(
            "mail delivery failed; will retry",
            extra=extra | {"attempts": attempts, "retry_in_seconds": delay.total_seconds()},
        )

    async def _give_up(
        self, session: AsyncSession, row: Any, reason: str, *, attempts: int
    ) -> None:
        await session.execute(
            mail_queue.update()
            .where(mail_queue.c.id == row.id)
            .values(status="failed", attempts=attempts, last_error=reason[:500])
        )
        MAIL_OUTCOMES.labels(row.template, "failed").inc()

    async def _seconds_until_due(self) -> float:
        """Until the next queued mail is due (at least 0.5 s), but no longer than the poll."""
        async with self.sessionmaker() as session:
            due = await session.scalar(
                sa.select(sa.func.min(mail_queue.c.not_before)).where(
                    mail_queue.c.status == "queued"
                )
            )
        if due is None:
            return self.poll_seconds
        wait: float = (due - self.clock.now()).total_seconds()
        return min(max(wait, 0.5), self.poll_seconds)

    async def _record_backlog(self) -> None:
        async with self.sessionmaker() as session:
            pending = await session.scalar(
                sa.select(sa.func.count()).where(mail_queue.c.status == "queued")
            )
        MAIL_PENDING.set(pending or 0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        listener = await asyncpg.connect(self.dsn)
        await listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        self._listener = listener

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None


async def mail_worker(runtime: Runtime) -> None:
    """`ServiceDefinition.workers` entry: intake's mail loop, cancelled at shutdown."""
    await MailWorker(
        settings=runtime.settings, clock=runtime.clock, sessionmaker=runtime.sessionmaker
    ).run()
