"""Reports on real NATS and PostgreSQL: scheduling's meeting facts reach feedback once."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

from shared.clock import SystemClock
from shared.envelope import Envelope
from shared.events import Event, MeetingHeld, MeetingMissed, MeetingMode
from tests.conftest import eventually
from tests.helpers import count


async def publish(nc: Any, event: Event, org: Any) -> None:
    envelope = Envelope.wrap(event, organisation_id=org, clock=SystemClock())
    await nc.jetstream().publish(
        envelope.nats_subject, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
    )


async def test_meetings_held_and_missed_months_are_kept_once(stack, nc, db) -> None:
    stack.start("feedback")
    org, pair, cycle, meeting = uuid4(), uuid4(), uuid4(), uuid4()
    held = MeetingHeld(
        meeting_id=meeting,
        pair_id=pair,
        cycle_id=cycle,
        held_on=date(2030, 3, 12),
        minutes=60,
        mode=MeetingMode.IN_PERSON,
    )
    missed = MeetingMissed(pair_id=pair, cycle_id=cycle, month=date(2030, 4, 1))
    for event in (held, held, missed, missed):  # each twice, as two different envelopes
        await publish(nc, event, org)
    await eventually(lambda: _at_least(db, "feedback.inbox", 4))
    rows = await db.fetch("SELECT * FROM feedback.meetings")
    assert [(r["meeting_id"], r["pair_id"], r["held_on"], r["minutes"]) for r in rows] == [
        (meeting, pair, date(2030, 3, 12), 60)
    ]
    assert rows[0]["organisation_id"] == org
    missed_rows = await db.fetch("SELECT pair_id, month, cycle_id FROM feedback.missed_months")
    assert [tuple(r) for r in missed_rows] == [(pair, date(2030, 4, 1), cycle)]


async def _at_least(db: Any, table: str, n: int) -> bool:
    return await count(db, table) >= n
