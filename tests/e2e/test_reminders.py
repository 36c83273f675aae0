"""Reminder e-mails before a training and a group meeting, end to end on real NATS,
PostgreSQL and an SMTP server: scheduling's clock worker fires each due reminder once
(`ReminderDue` per invited person who has not declined), intake queues one `event_reminder`
per person and reminder, in her language, and sends it. The clock is moved with a
`FileClock` shared by the services; scheduling is stopped across one reminder's due time."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from services.intake.web.i18n import text
from shared.clock import FileClock
from shared.commands import CreateGroupMeeting, CreateTraining, Rsvp, send
from shared.events import PairEnded, ReminderDue
from shared.subjects import stream_name
from tests.conftest import eventually
from tests.e2e.test_mail import CYCLE_NAME, SmtpServer, smtp  # noqa: F401 - the fixture
from tests.e2e.test_portal import form_pair
from tests.e2e.test_scheduling_cycle import Sim, at
from tests.e2e.test_scheduling_events import sim  # noqa: F401 - the fixture
from tests.helpers import consumers_drained, count

HELSINKI = ZoneInfo("Europe/Helsinki")
REMINDERS = "intake.mail_queue"
TRAINING_MAILS = "template = 'event_reminder' AND context->>'event_kind' = 'training'"
GROUP_MAILS = "template = 'event_reminder' AND context->>'event_kind' = 'group_meeting'"


def helsinki_at(day: datetime, hour: int) -> datetime:
    local = day.astimezone(HELSINKI)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


class Time:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("0")

    def now(self) -> datetime:
        return FileClock(self.path).now()

    def move_to(self, moment: datetime) -> None:
        FileClock.advance_file(self.path, moment - self.now())


async def settled(db: Any, js: Any, now: datetime) -> bool:
    """Every job due by `now` fired, scheduling's outbox published, intake caught up."""
    unpublished = await count(db, "scheduling.outbox", "published_at IS NULL")
    due = await count(db, "scheduling.jobs", "fired_at IS NULL AND due_at <= $1", now)
    return unpublished == 0 and due == 0 and await consumers_drained(js, stream_name("scheduling"))


async def test_reminders_are_mailed_once_per_person_in_her_language(
    stack,
    db,
    nc,
    tmp_path,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    time = Time(tmp_path / "clock")
    env = {"WOMENTO_CLOCK_FILE": str(time.path), "WOMENTO_SCHEDULING_TICK_SECONDS": "0.3"}
    smtp.start()
    stack.start("intake", WOMENTO_MAIL_BACKEND="smtp", WOMENTO_SMTP_PORT=str(smtp.port), **env)
    stack.start("matching", "scheduling", **env)
    pair = await form_pair(stack, db, nc, start=False)  # mentee writes Finnish, mentor English
    mentee, mentor = pair["mentee"], pair["mentor"]

    async def command(cmd: Any) -> dict[str, Any]:
        return await send(
            nc, cmd, organisation_id=pair["org"], clock=FileClock(time.path), wait_seconds=10
        )

    training_starts = helsinki_at(time.now() + timedelta(days=10), 17)
    kick_off_starts = helsinki_at(time.now() + timedelta(days=20), 17)
    training = await command(
        CreateTraining(
            title="Palkkaneuvottelu – salary negotiation",
            starts_at=training_starts,
            ends_at=training_starts + timedelta(hours=2),
            online_url="https://meet.example/salary",
            capacity=10,
        )
    )
    kick_off = await command(
        CreateGroupMeeting(
            cycle_id=pair["cycle"],
            kind="kick_off",
            starts_at=kick_off_starts,
            ends_at=kick_off_starts + timedelta(hours=2),
            place="Kulttuurikeskus Caisa, Helsinki",
        )
    )
    assert training["invited"] == kick_off["invited"] == 2
    # The mentor cannot come to the kick-off: she gets no reminder of it.
    await command(Rsvp(event_id=UUID(kick_off["id"]), person_id=mentor, answer="no"))
    assert await count(db, "scheduling.jobs", "kind = 'reminder'") == 4
    assert await count(db, REMINDERS, "template = 'event_reminder'") == 0

    # A week before the training: one reminder each.
    time.move_to(training_starts - timedelta(days=7) + timedelta(hours=1))

    async def week_before_mailed() -> bool:
        return await count(db, REMINDERS, TRAINING_MAILS) == 2

    await eventually(week_before_mailed, timeout=30)

    # Scheduling is down when the day-before reminder falls due; it fires after the restart.
    stack["scheduling"].stop(20)
    time.move_to(training_starts - timedelta(days=1) + timedelta(hours=1))
    assert await count(db, REMINDERS, TRAINING_MAILS) == 2
    stack.start("scheduling", **env)

    async def day_before_mailed() -> bool:
        return await count(db, REMINDERS, TRAINING_MAILS) == 4

    await eventually(day_before_mailed, timeout=30)
    await eventually(lambda: settled(db, nc.jetstream(), time.now()), timeout=30)

    rows = await db.fetch(
        f"SELECT person_id, language, context, id FROM {REMINDERS} WHERE {TRAINING_MAILS}"
    )
    assert len(rows) == 4  # still four once everything has been delivered and applied
    assert len({r["context"] for r in rows}) == 4  # one per person and reminder time
    assert sorted(str(r["person_id"]) for r in rows) == sorted([str(mentee), str(mentor)] * 2)
    assert {r["person_id"]: r["language"] for r in rows} == {mentee: "fi", mentor: "en"}

    # The SMTP server got them, each in the person's language, with the training's details.
    async def all_sent() -> bool:
        return await count(db, REMINDERS, f"{TRAINING_MAILS} AND status = 'sent'") == 4

    await eventually(all_sent, timeout=30)
    subjects: dict[UUID, list[EmailMessage]] = {mentee: [], mentor: []}
    for row in rows:
        (message,) = smtp.inbox.with_id(row["id"])
        subjects[row["person_id"]].append(message)
    for person, lang in ((mentee, "fi"), (mentor, "en")):
        for message in subjects[person]:
            expected = text("mail.event_reminder.subject", lang, cycle_name=CYCLE_NAME)
            assert message["Subject"] == expected
            body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "Palkkaneuvottelu – salary negotiation" in body
            assert "17:00–19:00" in body
            assert "https://meet.example/salary" in body
    finnish = subjects[mentee][0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Jos et pääse paikalle" in finnish
    english = subjects[mentor][0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "If you cannot come" in english

    # A week before the kick-off: the mentee only (the mentor declined).
    time.move_to(kick_off_starts - timedelta(days=7) + timedelta(hours=1))

    async def kick_off_mailed() -> bool:
        return await count(db, REMINDERS, GROUP_MAILS) == 1

    await eventually(kick_off_mailed, timeout=30)
    await eventually(lambda: settled(db, nc.jetstream(), time.now()), timeout=30)
    (group_mail,) = await db.fetch(
        f"SELECT person_id, context FROM {REMINDERS} WHERE {GROUP_MAILS}"
    )
    assert group_mail["person_id"] == mentee
    assert await count(db, REMINDERS, TRAINING_MAILS) == 4


async def test_reminders_skip_who_declined_or_whose_pair_ended(
    sim: Sim,  # noqa: F811
    db,
) -> None:
    """On scheduling alone: the `ReminderDue` events it publishes, per person and time."""
    await sim.open_cycle()
    staying, leaving = await sim.form_pair(), await sim.form_pair()
    mentee, mentor = await db.fetchrow(
        "SELECT mentee_id, mentor_id FROM scheduling.pairs WHERE pair_id = $1", staying
    )
    training = await sim.command(
        CreateTraining(
            title="Palkkaneuvottelu",
            starts_at=at(4, 10, 9),
            ends_at=at(4, 10, 12),
            place="Caisa",
            capacity=10,
        )
    )
    assert training["invited"] == 4
    await sim.command(Rsvp(event_id=UUID(training["id"]), person_id=mentor, answer="no"))
    await sim.publish(PairEnded(pair_id=leaving, cycle_id=sim.cycle, reason_code="moved_away"))
    await eventually(lambda: count(db, "scheduling.pairs", "ended_at IS NOT NULL"))

    sim.move_to(at(4, 3, 9, 30))  # past the week-before reminder
    await sim.caught_up()
    await eventually(lambda: sim.published_count(ReminderDue, 1), timeout=20)
    sim.move_to(at(4, 9, 9, 30))  # past the day-before reminder
    await sim.caught_up()
    await eventually(lambda: sim.published_count(ReminderDue, 2), timeout=20)
    reminders = await sim.published(ReminderDue)
    assert {r["person_id"] for r in reminders} == {str(mentee)}
    assert len({r["reminder_id"] for r in reminders}) == 2
    assert all(r["title"] == "Palkkaneuvottelu" and r["place"] == "Caisa" for r in reminders)
    assert await count(db, "scheduling.jobs", "kind = 'reminder' AND fired_at IS NULL") == 0
