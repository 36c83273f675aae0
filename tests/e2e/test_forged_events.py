"""Forged events do no harm, on real NATS and PostgreSQL: intake refuses a `ReminderDue`
whose CloudEvents source is not the producer owning the subject it arrived on (or whose type
is not that producer's), however it got onto the bus. It is dead-lettered with a `forged:`
reason, never applied (no mail), counted in /metrics and logged with ids only; a genuine
`ReminderDue` published right after is applied, so the consumer was running all along.

The forgeries are published with the test's admin connection: what a stolen credential
with publish rights on those subjects could send.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from shared.clock import SystemClock
from shared.envelope import Envelope
from shared.events import ReminderDue, SurveyInvitationDue
from shared.subjects import DLQ_STREAM, stream_name
from tests.conftest import eventually
from tests.helpers import application_payload, consumers_drained, count, open_cycle, submit

REMINDERS = ReminderDue.subject()  # womento.scheduling.reminder_due
SURVEYS = SurveyInvitationDue.subject()  # womento.feedback.survey_invitation_due
MARKER = "Forged training 7f3c"  # in every forged payload; must never reach a log line


async def known_person(stack: Any, db: Any) -> tuple[UUID, UUID]:
    """An organisation and a person intake knows (she applied), so a reminder for her would
    be mailed."""
    org, cycle = await open_cycle(stack.database_url)
    response = await submit(stack["intake"].base_url, application_payload(cycle))
    assert response.status_code == 201, response.text
    person = await db.fetchval(
        "SELECT person_id FROM intake.applications WHERE id = $1",
        UUID(response.json()["application_id"]),
    )
    return org, person


def reminder(org: UUID, person: UUID, title: str = MARKER) -> Envelope:
    """A well-formed `ReminderDue` envelope as scheduling would publish it."""
    starts = SystemClock().now() + timedelta(days=7)
    event = ReminderDue(
        reminder_id=uuid4(),
        person_id=person,
        event_id=uuid4(),
        event_kind="training",
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        online_url="https://meet.example/training",
    )
    return Envelope.wrap(event, organisation_id=org, clock=SystemClock())


async def publish_on(js: Any, subject: str, envelope: Envelope) -> None:
    await js.publish(subject, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)})


async def mails_for(db: Any, envelope: Envelope) -> int:
    key = f"event_reminder:{envelope.data['reminder_id']}"
    return await count(db, "intake.mail_queue", "dedupe_key = $1", key)


async def dead_letters(js: Any) -> dict[UUID, dict[str, str]]:
    """The headers of every message in the dead-letter stream, by envelope id."""
    info = await js.stream_info(DLQ_STREAM)
    letters: dict[UUID, dict[str, str]] = {}
    if info.state.messages == 0:
        return letters
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(DLQ_STREAM, seq)
        letters[Envelope.from_bytes(msg.data).id] = dict(msg.headers or {})
    return letters


def forged_counts(base_url: str) -> dict[str, float]:
    """intake's `womento_forged_events_total`, by subject, from /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("womento_forged_events_total{"):
            labels, value = line.rsplit(" ", 1)
            subject = labels.split('subject="', 1)[1].split('"', 1)[0]
            counts[subject] = float(value)
    return counts


async def test_forged_events_are_dead_lettered_counted_and_never_applied(stack, db, nc) -> None:
    stack.start("intake")
    org, person = await known_person(stack, db)
    js = nc.jetstream()

    # Scheduling's subject, but the envelope says matching sent it.
    claims_matching = reminder(org, person).model_copy(update={"source": "/womento/matching"})
    # Scheduling's own envelope, put on feedback's subject (intake's survey consumer reads it).
    on_feedback_subject = reminder(org, person)
    # Feedback's source on feedback's subject, but a type only scheduling publishes.
    disguised = reminder(org, person).model_copy(update={"source": "/womento/feedback"})
    await publish_on(js, REMINDERS, claims_matching)
    await publish_on(js, SURVEYS, on_feedback_subject)
    await publish_on(js, SURVEYS, disguised)
    # The control: a genuine reminder right after the forged one on the same consumer.
    genuine = reminder(org, person, title="Palkkaneuvottelu")
    await publish_on(js, REMINDERS, genuine)

    await eventually(lambda: mails_for(db, genuine), timeout=30)
    await eventually(lambda: consumers_drained(js, stream_name("scheduling")))
    await eventually(lambda: consumers_drained(js, stream_name("feedback")))

    forged = (claims_matching, on_feedback_subject, disguised)
    for envelope in forged:
        assert await mails_for(db, envelope) == 0
        assert await count(db, "intake.inbox", "event_id = $1", envelope.id) == 0
    assert await mails_for(db, genuine) == 1

    letters = await dead_letters(js)
    assert set(letters) == {e.id for e in forged}
    reasons = {envelope.id: letters[envelope.id]["Womento-Reason"] for envelope in forged}
    assert reasons == {
        claims_matching.id: f"forged: source /womento/matching does not own {REMINDERS}",
        on_feedback_subject.id: f"forged: source /womento/scheduling does not own {SURVEYS}",
        disguised.id: (
            f"forged: {ReminderDue.type_name()} is not an event of /womento/feedback,"
            f" which owns {SURVEYS}"
        ),
    }
    assert letters[claims_matching.id]["Womento-Original-Subject"] == REMINDERS
    assert letters[disguised.id]["Womento-Original-Stream"] == stream_name("feedback")

    assert forged_counts(stack["intake"].base_url) == {REMINDERS: 1.0, SURVEYS: 2.0}
    log = stack.log("intake")
    assert log.count('"message": "forged event refused"') == 3
    assert str(claims_matching.id) in log
    assert MARKER not in log  # ids only: the payload is never logged
