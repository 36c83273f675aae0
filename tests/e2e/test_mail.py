"""Intake's e-mail end to end: a real intake process, a real SMTP server in the test process.

The applicant is created through the public API, which queues the confirmation; other
mails are queued by calling `enqueue_mail` in a transaction of the test's own. Each test
asserts on what the SMTP server received or what the pages show.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiosmtpd.controller import Controller

from services.intake.mail import enqueue_mail
from services.intake.web.i18n import text
from shared.clock import SystemClock
from shared.db import make_engine, make_sessionmaker
from shared.envelope import Envelope
from shared.events import ReminderDue, SurveyInvitationDue, SurveyKind
from shared.launcher import free_port
from shared.settings import Settings
from tests.conftest import eventually
from tests.helpers import application_payload, count, open_cycle, submit

CYCLE_NAME = "Test cycle"  # the name tests.helpers.open_cycle gives its cycle
DASH = "\N{EN DASH}"


class Inbox:
    """aiosmtpd handler: keeps every message it is given (in the controller's thread)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def with_id(self, mail_id: UUID) -> list[EmailMessage]:
        return [m for _, m in self.received if m["Message-ID"] == f"<{mail_id}@womento>"]


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server on a free port, not yet started (a test may want it down at first)."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


def start_intake_with_smtp(stack: Any, smtp: SmtpServer, **env: str) -> str:
    stack.start("intake", WOMENTO_MAIL_BACKEND="smtp", WOMENTO_SMTP_PORT=str(smtp.port), **env)
    return str(stack["intake"].base_url)


async def applicant(base_url: str, cycle_id: UUID, language: str = "fi") -> tuple[UUID, str]:
    payload = application_payload(cycle_id)
    payload["contact"] |= {"language": language, "given_name": "Amina"}
    response = await submit(base_url, payload)
    assert response.status_code == 201, response.text
    return UUID(response.json()["person_id"]), payload["contact"]["email"]


async def enqueue(
    database_url: str,
    organisation_id: UUID,
    person_id: UUID,
    template: str = "application_received",
) -> UUID:
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await enqueue_mail(
                session,
                organisation_id=organisation_id,
                person_id=person_id,
                template=template,
                context={"cycle_name": CYCLE_NAME, "person_ref": str(person_id)},
                clock=SystemClock(),
            )
    finally:
        await engine.dispose()


async def confirmation_of(db: Any, person_id: UUID) -> UUID:
    """The confirmation that submitting the application queued for this person."""
    mail_id = await db.fetchval(
        "SELECT id FROM intake.mail_queue WHERE person_id = $1 AND template = 'application_received'",
        person_id,
    )
    assert mail_id is not None, "submitting the application queued no confirmation"
    return UUID(str(mail_id))


async def mail_row(db: Any, mail_id: UUID) -> Any:
    return await db.fetchrow(
        "SELECT status, attempts, last_error, sent_at, language FROM intake.mail_queue"
        " WHERE id = $1",
        mail_id,
    )


async def status_is(db: Any, mail_id: UUID, status: str) -> Any:
    row = await mail_row(db, mail_id)
    return row if row is not None and row["status"] == status else None


async def assert_delivered_once(
    db: Any, smtp: SmtpServer, mail_id: UUID, email: str, lang: str
) -> EmailMessage:
    await eventually(lambda: smtp.inbox.with_id(mail_id), timeout=20)
    row = await eventually(lambda: status_is(db, mail_id, "sent"), timeout=20)
    await asyncio.sleep(1.5)  # a duplicate delivery would arrive within this time
    received = smtp.inbox.with_id(mail_id)
    assert len(received) == 1, [m["Message-ID"] for _, m in smtp.inbox.received]
    # nothing else was sent twice either: one SMTP message per queued mail
    assert len(smtp.inbox.received) == await count(db, "intake.mail_queue", "status = 'sent'")
    assert row["language"] == lang and row["sent_at"] is not None

    message = received[0]
    rcpt = next(r for r, m in smtp.inbox.received if m is message)
    assert rcpt == [email]
    assert [a.addr_spec for a in message["To"].addresses] == [email]
    assert message["From"].addresses[0].addr_spec == "womento@example.org"
    assert message["Message-ID"] == f"<{mail_id}@womento>"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert message["Subject"] == text(
        "mail.application_received.subject", lang, cycle_name=CYCLE_NAME
    )
    return message


async def test_confirmation_in_finnish_reaches_the_smtp_server_once(stack, db, smtp) -> None:
    smtp.start()
    base = start_intake_with_smtp(stack, smtp)
    _organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, email = await applicant(base, cycle_id, "fi")

    mail_id = await confirmation_of(db, person_id)

    message = await assert_delivered_once(db, smtp, mail_id, email, "fi")
    assert message["Subject"] == f"Kiitos hakemuksestasi {DASH} Test cycle"
    plain, html = (p.get_content() for p in message.iter_parts())
    assert plain.startswith("Hei Amina,")
    assert "Mitä seuraavaksi?" in plain and "voit vastata tähän viestiin" in plain
    assert "Hei Amina," in html and '<html lang="fi">' in html
    assert "Hello" not in plain


async def test_confirmation_in_english_reaches_the_smtp_server_once(stack, db, smtp) -> None:
    smtp.start()
    base = start_intake_with_smtp(stack, smtp)
    _organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, email = await applicant(base, cycle_id, "en")

    mail_id = await confirmation_of(db, person_id)

    message = await assert_delivered_once(db, smtp, mail_id, email, "en")
    assert message["Subject"] == f"Thank you for your application {DASH} Test cycle"
    plain, html = (p.get_content() for p in message.iter_parts())
    assert plain.startswith("Hello Amina,")
    assert "What happens next?" in plain and "reply to this e-mail" in plain
    assert "Hello Amina," in html and '<html lang="en">' in html
    assert "Hei " not in plain


async def test_smtp_server_down_keeps_the_mail_queued_until_it_comes_up(stack, db, smtp) -> None:
    base = start_intake_with_smtp(stack, smtp, WOMENTO_MAIL_RETRY_SECONDS="1")
    _organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, email = await applicant(base, cycle_id, "fi")

    mail_id = await confirmation_of(db, person_id)

    async def failed_attempt() -> Any:
        row = await mail_row(db, mail_id)
        return row if row is not None and row["attempts"] >= 1 else None

    row = await eventually(failed_attempt, timeout=20)
    assert row["status"] == "queued"
    assert row["last_error"]
    assert row["sent_at"] is None
    assert smtp.inbox.received == []

    await asyncio.to_thread(smtp.start)

    message = await assert_delivered_once(db, smtp, mail_id, email, "fi")
    assert message["Message-ID"] == f"<{mail_id}@womento>"
    sent = await mail_row(db, mail_id)
    assert sent["attempts"] >= 2  # at least one failed attempt, then the one that worked
    assert "mail delivery failed; will retry" in stack.log("intake")


async def test_mailbox_backend_shows_the_message_on_the_dev_pages(stack, db) -> None:
    stack.start("intake")  # the test environment's default backend: the mailbox
    base = stack["intake"].base_url
    _organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, email = await applicant(base, cycle_id, "fi")

    mail_id = await confirmation_of(db, person_id)

    await eventually(lambda: status_is(db, mail_id, "sent"), timeout=20)
    assert await count(db, "intake.dev_mailbox", "mail_id = $1", mail_id) == 1
    subject = f"Kiitos hakemuksestasi {DASH} Test cycle"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        listing = await client.get("/dev/mailbox", params={"lang": "en"})
        assert listing.status_code == 200
        assert "Development mailbox" in listing.text
        assert subject in listing.text and email in listing.text
        links = re.findall(r'href="(/dev/mailbox/[0-9a-f-]{36})"', listing.text)
        assert len(links) == 1

        shown = await client.get(links[0], params={"lang": "en"})
        assert shown.status_code == 200
        assert subject in shown.text
        assert f"&lt;{mail_id}@womento&gt;" in shown.text
        assert "Hei Amina," in shown.text  # the text version, in a <pre>
        iframe = re.search(r"<iframe[^>]*>", shown.text, re.S)
        assert iframe is not None
        assert 'sandbox=""' in iframe.group(0)
        assert 'srcdoc="&lt;!doctype html&gt;' in iframe.group(0)  # escaped, never raw HTML
        assert "<p>Hei Amina," not in shown.text

        missing = await client.get(f"/dev/mailbox/{uuid4()}")
        assert missing.status_code == 404


@pytest.mark.nats_tls
async def test_dev_mailbox_is_404_in_production(stack) -> None:
    stack.start(
        "intake",
        WOMENTO_ENV="production",
        WOMENTO_SECRET_KEY="p" * 48,
        WOMENTO_MAIL_BACKEND="smtp",
        WOMENTO_PUBLIC_BASE_URL="https://womento.example.org",
    )
    async with httpx.AsyncClient(base_url=stack["intake"].base_url, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/dev/mailbox")).status_code == 404
        assert (await client.get(f"/dev/mailbox/{uuid4()}")).status_code == 404


async def test_mail_to_an_erased_person_is_not_sent_and_fails(stack, db, smtp) -> None:
    smtp.start()
    base = start_intake_with_smtp(stack, smtp)
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    erased_id, _erased_email = await applicant(base, cycle_id, "fi")
    kept_id, kept_email = await applicant(base, cycle_id, "en")
    await db.execute("UPDATE intake.people SET wrapped_key = NULL WHERE id = $1", erased_id)

    erased_mail = await enqueue(stack.database_url, organisation_id, erased_id, "decision_accepted")
    kept_mail = await confirmation_of(db, kept_id)

    await assert_delivered_once(db, smtp, kept_mail, kept_email, "en")
    row = await eventually(lambda: status_is(db, erased_mail, "failed"), timeout=20)
    assert row["last_error"] == "recipient erased"
    assert row["sent_at"] is None
    assert smtp.inbox.with_id(erased_mail) == []


async def test_mail_fails_for_good_after_eight_attempts(stack, db, smtp) -> None:
    base = start_intake_with_smtp(stack, smtp, WOMENTO_MAIL_RETRY_SECONDS="0.01")
    _organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, _ = await applicant(base, cycle_id, "fi")

    mail_id = await confirmation_of(db, person_id)

    row = await eventually(lambda: status_is(db, mail_id, "failed"), timeout=40)
    assert row["attempts"] == 8
    assert row["last_error"] and row["last_error"] != "recipient erased"
    await asyncio.sleep(1.0)
    assert (await mail_row(db, mail_id))["attempts"] == 8  # no attempt after giving up
    assert '"level": "error"' in stack.log("intake")
    assert "mail delivery failed for good" in stack.log("intake")


async def test_a_mail_caused_by_an_event_is_queued_once_whatever_its_event_id(
    stack, db, nc
) -> None:
    """Reminders and survey invitations carry their own ids: the same one published again
    under a new event id (a producer's retry after a crash, say) queues no second mail."""
    stack.start("intake")
    base = stack["intake"].base_url
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    person_id, _email = await applicant(base, cycle_id, "en")
    starts = datetime.now(UTC) + timedelta(days=2)
    reminder = ReminderDue(
        reminder_id=uuid4(),
        person_id=person_id,
        event_id=uuid4(),
        event_kind="training",
        title="CV workshop",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        online_url="https://meet.example.org/cv",
    )
    invitation = SurveyInvitationDue(
        invitation_id=uuid4(),
        survey_id=uuid4(),
        person_id=person_id,
        cycle_id=cycle_id,
        kind=SurveyKind.MIDWAY,
        closes_on=starts.date() + timedelta(days=21),
    )
    reminder_of_it = invitation.model_copy(update={"reminder": True})
    js = nc.jetstream()
    for event in (reminder, invitation, reminder, invitation, reminder_of_it):
        envelope = Envelope.wrap(event, organisation_id=organisation_id, clock=SystemClock())
        await js.publish(
            envelope.nats_subject, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
        )

    async def consumed() -> bool:
        return await count(db, "intake.inbox") >= 5

    await eventually(consumed, timeout=20)
    assert await count(db, "intake.mail_queue", "template = 'event_reminder'") == 1
    assert await count(db, "intake.mail_queue", "template = 'survey_invitation'") == 1
    assert await count(db, "intake.mail_queue", "template = 'survey_reminder'") == 1
    keys = await db.fetch("SELECT dedupe_key FROM intake.mail_queue WHERE dedupe_key IS NOT NULL")
    assert sorted(r["dedupe_key"] for r in keys) == sorted(
        [
            f"event_reminder:{reminder.reminder_id}",
            f"survey_invitation:{invitation.invitation_id}",
            f"survey_reminder:{invitation.invitation_id}",
        ]
    )
