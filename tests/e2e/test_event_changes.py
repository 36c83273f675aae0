"""Moving and cancelling a training and a group meeting, end to end on real NATS and
PostgreSQL: intake, matching and scheduling as processes, the clock moved with a `FileClock`.

A moved training: its fired reminder stays fired, its unfired one is gone, new ones are
planned for the new time and fire once; the invitees are mailed once each in their language.
A cancelled group meeting: no more reminders, one mail to whom had not declined, and her feed
keeps it as STATUS:CANCELLED with a higher SEQUENCE. Refusals (ended, capacity below the
yes-answers, no place) change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from icalendar import Calendar

from services.intake.web.i18n import text
from shared.clock import FileClock, SystemClock
from shared.commands import (
    CalendarFeed,
    CancelScheduledEvent,
    CommandRejected,
    CreateGroupMeeting,
    CreateTraining,
    Rsvp,
    UpdateScheduledEvent,
    send,
)
from shared.envelope import Envelope
from shared.events import ScheduledEventChanged
from shared.subjects import stream_name
from tests.conftest import eventually
from tests.e2e.test_portal import form_pair, link
from tests.e2e.test_reminders import REMINDERS, TRAINING_MAILS, Time, helsinki_at, settled
from tests.helpers import count, csrf_from, logged_in

CHANGE_MAILS = "template = 'event_changed'"


async def has(db: Any, where: str, n: int) -> bool:
    return await count(db, REMINDERS, where) == n


async def test_moving_and_cancelling_replans_reminders_and_mails_once(
    stack, db, nc, tmp_path
) -> None:
    time = Time(tmp_path / "clock")
    env = {"WOMENTO_CLOCK_FILE": str(time.path), "WOMENTO_SCHEDULING_TICK_SECONDS": "0.3"}
    stack.start("intake", **env)
    stack.start("matching", "scheduling", **env)
    pair = await form_pair(stack, db, nc, start=False)  # mentee writes Finnish, mentor English
    mentee, mentor = pair["mentee"], pair["mentor"]
    js = nc.jetstream()

    async def command(cmd: Any) -> dict[str, Any]:
        return await send(
            nc, cmd, organisation_id=pair["org"], clock=FileClock(time.path), wait_seconds=10
        )

    async def refused(cmd: Any) -> tuple[str, str | None]:
        with pytest.raises(CommandRejected) as error:
            await command(cmd)
        return error.value.code, error.value.field

    async def reminder_jobs(event_id: str) -> list[Any]:
        return list(
            await db.fetch(
                "SELECT job_id, due_at, fired_at FROM scheduling.jobs"
                " WHERE kind = 'reminder' AND event_id = $1 ORDER BY due_at, fired_at",
                UUID(event_id),
            )
        )

    starts = helsinki_at(time.now() + timedelta(days=10), 17)
    kick_off_starts = helsinki_at(time.now() + timedelta(days=20), 17)
    training = await command(
        CreateTraining(
            title="Palkkaneuvottelu",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            place="Kulttuurikeskus Caisa",
            capacity=10,
        )
    )
    kick_off = await command(
        CreateGroupMeeting(
            cycle_id=pair["cycle"],
            kind="kick_off",
            starts_at=kick_off_starts,
            ends_at=kick_off_starts + timedelta(hours=2),
            place="Kulttuurikeskus Caisa",
        )
    )
    training_id, kick_off_id = UUID(training["id"]), UUID(kick_off["id"])
    for person in (mentee, mentor):
        await command(Rsvp(event_id=training_id, person_id=person, answer="yes"))
    await command(Rsvp(event_id=kick_off_id, person_id=mentor, answer="no"))

    # The week-before reminder of the training fires and is mailed to both.
    time.move_to(starts - timedelta(days=7) + timedelta(hours=1))
    await eventually(lambda: has(db, TRAINING_MAILS, 2), timeout=30)
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    (fired, unfired) = await reminder_jobs(training["id"])
    assert fired["fired_at"] is not None and unfired["fired_at"] is None

    # Refusals change nothing: capacity below the two yes-answers, no place, unknown event.
    before = await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
    outbox_before = await count(db, "scheduling.outbox")
    moved_starts = starts + timedelta(days=7)
    move = UpdateScheduledEvent(
        event_id=training_id,
        starts_at=moved_starts,
        ends_at=moved_starts + timedelta(hours=2),
        place="Kulttuurikeskus Caisa, sali 2",
        capacity=10,
    )
    assert await refused(move.model_copy(update={"capacity": 1})) == (
        "below_yes_answers",
        "capacity",
    )
    assert await refused(move.model_copy(update={"place": None})) == ("no_place", "place")
    after = await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
    assert dict(after) == dict(before)
    assert await count(db, "scheduling.outbox") == outbox_before
    assert [j["job_id"] for j in await reminder_jobs(training["id"])] == [
        fired["job_id"],
        unfired["job_id"],
    ]

    # Moved a week later (and to another room, capacity 2 = the yes-answers).
    result = await command(move.model_copy(update={"capacity": 2}))
    assert result == {"id": training["id"], "sequence": 1, "moved": True, "told": 2}
    jobs = await reminder_jobs(training["id"])
    assert [j["job_id"] for j in jobs if j["fired_at"] is not None] == [fired["job_id"]]
    assert unfired["job_id"] not in [j["job_id"] for j in jobs]
    assert sorted(j["due_at"] for j in jobs if j["fired_at"] is None) == [
        moved_starts - timedelta(days=7),
        moved_starts - timedelta(days=1),
    ]

    # Both are told once, each in her language.
    await eventually(lambda: has(db, CHANGE_MAILS, 2), timeout=30)
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    mails = await db.fetch(
        f"SELECT person_id, language, context FROM {REMINDERS} WHERE {CHANGE_MAILS}"
    )
    assert {m["person_id"]: m["language"] for m in mails} == {mentee: "fi", mentor: "en"}

    # A redelivered change (republished under another message id) mails nobody again.
    stream = stream_name("scheduling")
    info = await js.stream_info(stream)
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        envelope = Envelope.from_bytes((await js.get_msg(stream, seq)).data)
        if envelope.type == ScheduledEventChanged.type_name():
            again = Envelope.wrap(
                ScheduledEventChanged.model_validate(envelope.data),
                organisation_id=pair["org"],
                clock=FileClock(time.path),
            )
            await js.publish(
                again.nats_subject, again.to_bytes(), headers={"Nats-Msg-Id": str(again.id)}
            )
            break
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    assert await count(db, REMINDERS, CHANGE_MAILS) == 2

    # The old day-before time passes: nothing. The new week-before time: one reminder each.
    time.move_to(starts - timedelta(days=1) + timedelta(hours=1))
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    assert await count(db, REMINDERS, TRAINING_MAILS) == 2
    time.move_to(moved_starts - timedelta(days=7) + timedelta(hours=1))
    await eventually(lambda: has(db, TRAINING_MAILS, 4), timeout=30)
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    assert await count(db, REMINDERS, TRAINING_MAILS) == 4

    # The kick-off is cancelled: its reminders dropped, the mentee told (the mentor declined).
    assert len(await reminder_jobs(kick_off["id"])) == 2
    cancelled = await command(
        CancelScheduledEvent(event_id=kick_off_id, reason="venue_unavailable")
    )
    assert cancelled == {"id": kick_off["id"], "sequence": 1, "told": 1}
    assert await reminder_jobs(kick_off["id"]) == []
    await eventually(lambda: has(db, CHANGE_MAILS, 3), timeout=30)
    (cancel_mail,) = await db.fetch(
        f"SELECT person_id, language, context FROM {REMINDERS}"
        f" WHERE {CHANGE_MAILS} AND context->>'change' = 'cancelled'"
    )
    assert cancel_mail["person_id"] == mentee and cancel_mail["language"] == "fi"
    assert await refused(CancelScheduledEvent(event_id=kick_off_id)) == ("cancelled", "event_id")
    assert await refused(Rsvp(event_id=kick_off_id, person_id=mentee, answer="yes")) == (
        "cancelled",
        "event_id",
    )

    # Her feed keeps the kick-off, cancelled, under its UID with a higher SEQUENCE; the
    # moved training with SEQUENCE 1; and her pair's monthly deadlines as all-day events.
    feed = await command(CalendarFeed(person_id=mentee, language="en", pair_deadlines=True))
    events = {
        str(e["UID"]).split("@")[0]: e for e in Calendar.from_ical(feed["ics"]).walk("VEVENT")
    }
    gone = events[kick_off["id"]]
    assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == 1
    assert int(events[training["id"]]["SEQUENCE"]) == 1
    assert "STATUS" not in events[training["id"]]
    deadlines = [e for uid, e in events.items() if uid.startswith(f"pair-{pair['pair']}")]
    assert deadlines
    assert all(str(e["SUMMARY"]).startswith("Pair meeting this month: by") for e in deadlines)

    # Through her personal link: the portal feed, in her language (Finnish), with the
    # deadlines when asked for them.
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        plain = await client.get(f"/portal/{link(pair)}/calendar.ics")
        full = await client.get(f"/portal/{link(pair)}/calendar.ics?deadlines=1")
        # Her portal no longer offers the cancelled kick-off; an answer from an old page
        # is refused in her language and records nothing.
        portal = await client.get(f"/portal/{link(pair)}")
        assert f'id="invitation-{training["id"]}"' in portal.text
        assert f'id="invitation-{kick_off["id"]}"' not in portal.text
        stale = await client.post(
            f"/portal/{link(pair)}/rsvp",
            data={
                "csrf_token": csrf_from(portal.text),
                "event_id": kick_off["id"],
                "answer": "yes",
            },
        )
        assert stale.status_code == 422
        assert text("portal.error.unknown_event", "fi") in stale.text
        assert (
            await count(db, "scheduling.invitations", "rsvp = 'yes' AND event_id = $1", kick_off_id)
            == 0
        )
    assert plain.status_code == full.status_code == 200
    plain_summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(plain.text).walk("VEVENT")]
    full_summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(full.text).walk("VEVENT")]
    assert not any(s.startswith("Paritapaaminen") for s in plain_summaries)
    finnish = [
        s for s in full_summaries if s.startswith("Paritapaaminen tässä kuussa: viimeistään")
    ]
    assert len(finnish) == len(deadlines)

    # Once the training has ended it can be neither changed nor cancelled.
    time.move_to(moved_starts + timedelta(hours=3))
    assert await refused(move) == ("ended", "event_id")
    assert await refused(CancelScheduledEvent(event_id=training_id)) == ("ended", "event_id")
    await eventually(lambda: settled(db, js, time.now()), timeout=30)
    assert await count(db, REMINDERS, CHANGE_MAILS) == 3


async def test_the_schedule_screen_changes_and_cancels_a_training(stack, db, nc) -> None:
    """The coordinator's forms: errors next to the field (422, nothing changed), a change,
    CSRF required, a cancellation shown struck through with its label."""
    pair = await form_pair(stack, db, nc)
    client = await logged_in(pair["base"], pair["coordinator"])
    try:
        screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
        shown = await client.get(screen)
        day = (SystemClock().now() + timedelta(days=60)).date()
        created = await client.post(
            f"{screen}/trainings",
            data={
                "csrf_token": csrf_from(shown.text),
                "tr_title": "Palkkaneuvottelu",
                "tr_day": day.isoformat(),
                "tr_starts": "17:00",
                "tr_ends": "19:00",
                "tr_place": "Caisa",
                "tr_capacity": "20",
            },
        )
        assert created.status_code == 303, created.text
        training_id = await db.fetchval("SELECT id FROM scheduling.trainings")
        for person in (pair["mentee"], pair["mentor"]):
            await send(
                nc,
                Rsvp(event_id=training_id, person_id=person, answer="yes"),
                organisation_id=pair["org"],
                clock=SystemClock(),
                wait_seconds=10,
            )
        shown = await client.get(screen)
        action = f"{screen}/events/{training_id}"
        assert f'action="{action}/change"' in shown.text
        assert f'id="ev-{training_id}-ev_capacity" name="ev_capacity" value="20"' in shown.text
        before = dict(
            await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
        )
        form = {
            "csrf_token": csrf_from(shown.text),
            "ev_title": "Palkkaneuvottelu",
            "ev_day": (day + timedelta(days=1)).isoformat(),
            "ev_starts": "16:00",
            "ev_ends": "18:00",
            "ev_place": "Oodi",
            "ev_capacity": "20",
        }

        # Below the two yes-answers, and a time that is no time: next to the field, 422.
        small = await client.post(f"{action}/change", data=form | {"ev_capacity": "1"})
        assert small.status_code == 422
        error = f'<span class="error" id="ev-{training_id}-ev_capacity-error">'
        assert error + text("schedule.error.below_yes_answers", "fi") in small.text
        assert 'value="Oodi"' in small.text  # the form kept
        bad_time = await client.post(f"{action}/change", data=form | {"ev_starts": "25:00"})
        assert bad_time.status_code == 422
        assert f'id="ev-{training_id}-ev_starts-error"' in bad_time.text
        no_csrf = await client.post(f"{action}/cancel", data={"reason": "other"})
        assert no_csrf.status_code == 403
        after = await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
        assert dict(after) == before

        changed = await client.post(f"{action}/change", data=form)
        assert changed.status_code == 303 and "event_changed" in changed.headers["location"]
        row = await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
        assert row["place"] == "Oodi" and row["sequence"] == 1
        assert row["starts_at"] == before["starts_at"] + timedelta(days=1, hours=-1)

        cancelled = await client.post(
            f"{action}/cancel",
            data={"csrf_token": csrf_from(shown.text), "reason": "too_few_participants"},
        )
        assert cancelled.status_code == 303
        assert "event_cancelled" in cancelled.headers["location"]
        row = await db.fetchrow("SELECT * FROM scheduling.trainings WHERE id = $1", training_id)
        assert row["cancelled_at"] is not None and row["cancel_reason"] == "too_few_participants"
        shown = await client.get(screen)
        assert f'action="{action}/change"' not in shown.text
        assert f"</s> <strong>{text('schedule.cancelled', 'fi')}</strong>" in shown.text
        assert '<li class="cancelled"><s>' in shown.text  # the month-by-month view too
        again = await client.post(f"{action}/change", data=form)
        assert again.status_code == 303 and "error=cancelled" in again.headers["location"]
        explained = await client.get(again.headers["location"])
        assert text("schedule.error.cancelled", "fi") in explained.text
    finally:
        await client.aclose()
