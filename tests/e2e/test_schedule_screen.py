"""The coordinator's schedule screen on real services: the pair and the at-risk list,
logging for a pair, a group meeting with its attendance sheet, the cycle's and her
calendar feeds, and a 503 page while scheduling is down."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import httpx
import icalendar
import pytest

from services.intake.web.i18n import text
from shared.clock import FileClock, SystemClock
from tests.e2e.test_portal import form_pair, link, today
from tests.helpers import count, csrf_from, logged_in


@pytest.fixture
async def pair(stack, db, nc) -> dict[str, Any]:
    return await form_pair(stack, db, nc)


async def test_the_coordinator_screen_and_the_calendars(pair, db) -> None:
    client = await logged_in(pair["base"], pair["coordinator"])
    try:
        screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
        shown = await client.get(screen)
        assert shown.status_code == 200, shown.text
        assert "Amina Hassan – Liisa Korhonen" in shown.text
        assert "Hiljaiset parit" in shown.text and "Ei hiljaisia pareja." in shown.text
        assert shown.text.index("Hiljaiset parit") < shown.text.index("Parien tapaamiset")
        queue = await client.get(f"/coordinator/cycles/{pair['cycle']}")
        assert screen in queue.text

        # the coordinator logs a meeting for them
        logged = await client.post(
            f"{screen}/meetings",
            data={
                "csrf_token": csrf_from(shown.text),
                "pair_id": str(pair["pair"]),
                "held_on": today(),
                "minutes": "45",
                "mode": "online",
            },
        )
        assert logged.status_code == 303 and "meeting_logged" in logged.headers["location"]
        assert await count(db, "scheduling.meetings", "logged_by = 'coordinator'") == 1

        # a group meeting in the cycle invites the pair
        starts = (SystemClock().now() + timedelta(days=60)).date().isoformat()
        created = await client.post(
            f"{screen}/group-meetings",
            data={
                "csrf_token": csrf_from(shown.text),
                "kind": "kick_off",
                "day": starts,
                "starts": "17:00",
                "ends": "19:00",
                "place": "Helsingin kaupunginkirjasto Oodi",
            },
        )
        assert "group_meeting_created" in created.headers["location"], created.headers
        again = await client.get(screen)
        assert "Aloitustapaaminen" in again.text and "Läsnä" in again.text

        feed = await client.get(f"/coordinator/cycles/{pair['cycle']}/calendar.ics")
        assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
        events = icalendar.Calendar.from_ical(feed.text).walk("VEVENT")
        assert [str(e["SUMMARY"]) for e in events] == ["Aloitustapaaminen"]
    finally:
        await client.aclose()
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as anonymous:
        personal = await anonymous.get(f"/portal/{link(pair)}/calendar.ics")
        assert personal.headers["content-type"] == "text/calendar; charset=utf-8"
        mine = icalendar.Calendar.from_ical(personal.text).walk("VEVENT")
        assert [str(e["LOCATION"]) for e in mine] == ["Helsingin kaupunginkirjasto Oodi"]
        # the portal's own calendar link adds her pair's monthly deadlines as all-day events
        portal = await anonymous.get(f"/portal/{link(pair)}")
        href = re.search(r'href="(/portal/[^"]+/calendar\.ics[^"]*)"', portal.text)
        assert href and href.group(1).endswith("?deadlines=1"), portal.text
        subscribed = await anonymous.get(href.group(1).replace("&amp;", "&"))
        listed = icalendar.Calendar.from_ical(subscribed.text).walk("VEVENT")
        all_day = [e for e in listed if type(e["DTSTART"].dt) is date]
        assert len(listed) == len(all_day) + 1 and all_day
        assert (
            await anonymous.get(f"/coordinator/cycles/{pair['cycle']}/schedule")
        ).status_code in (
            303,
            401,
        )


async def test_the_screen_says_so_while_scheduling_is_down(pair, stack, db) -> None:
    stack["scheduling"].stop(20)
    client = await logged_in(pair["base"], pair["coordinator"])
    try:
        screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
        down = await client.get(screen)
        assert down.status_code == 503 and "Aikataulupalvelu ei vastaa" in down.text
        dashboard = await client.get("/coordinator")  # still there, without the counts
        assert dashboard.status_code == 200 and "schedule-summary" not in dashboard.text
        logged = await client.post(
            f"{screen}/meetings",
            data={
                "csrf_token": csrf_from(down.text),
                "pair_id": str(pair["pair"]),
                "held_on": today(),
                "minutes": "45",
                "mode": "online",
            },
        )
        assert logged.status_code == 503
    finally:
        await client.aclose()
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as anonymous:
        portal = await anonymous.get(f"/portal/{link(pair)}")
        assert portal.status_code == 503 and "Aikataulupalvelu ei vastaa" in portal.text
    assert await count(db, "scheduling.meetings") == 0


async def test_trainings_rsvp_small_groups_calendar_and_attendance(stack, db, nc, tmp_path) -> None:
    """The training form refuses bad input next to the field and stores nothing; a good
    training invites the pair; she answers from her portal; the coordinator forms small
    groups, sees the month-by-month calendar and the dashboard count, and fills the
    attendance sheet once the clock has moved past the training."""
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    env = {"WOMENTO_CLOCK_FILE": str(clock_file), "WOMENTO_SCHEDULING_TICK_SECONDS": "0.3"}
    stack.start(**env)
    pair = await form_pair(stack, db, nc, start=False)
    client = await logged_in(pair["base"], pair["coordinator"])
    screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
    starts_on = await db.fetchval(
        "SELECT starts_on FROM intake.cycles WHERE id = $1", pair["cycle"]
    )
    day = max(starts_on, FileClock(clock_file).now().date()) + timedelta(days=20)
    good = {
        "tr_title": "Työnhaku LinkedInissä",
        "tr_day": day.isoformat(),
        "tr_starts": "17:00",
        "tr_ends": "19:00",
        "tr_place": "",
        "tr_online_url": "https://meet.example/linkedin",
        "tr_capacity": "12",
    }
    try:
        shown = await client.get(screen)
        assert "Jakson kalenteri" in shown.text and "Pienryhmät" in shown.text
        token = csrf_from(shown.text)
        for change, field, message in (
            ({"tr_title": ""}, "tr_title", "Anna koulutukselle nimi."),
            ({"tr_online_url": "http://meet.example/x"}, "tr_online_url", "https://"),
            ({"tr_capacity": "0"}, "tr_capacity", "Anna paikkojen määrä numerona"),
            ({"tr_ends": "16:00"}, "tr_ends", "päätyttävä alkamisen jälkeen"),
            ({"tr_online_url": ""}, "tr_place", "Anna paikka tai verkkolinkki."),
        ):
            refused = await client.post(
                f"{screen}/trainings", data={"csrf_token": token, **good, **change}
            )
            assert refused.status_code == 422, (change, refused.status_code)
            assert f'id="{field}-error"' in refused.text, change
            error = refused.text.split(f'id="{field}-error">')[1].split("<")[0]
            assert error.startswith(message) or message in error, (change, error)
            assert 'value="Työnhaku LinkedInissä"' in refused.text or field == "tr_title"
        assert await count(db, "scheduling.trainings") == 0

        created = await client.post(f"{screen}/trainings", data={"csrf_token": token, **good})
        assert "training_created" in created.headers["location"]
        training = await db.fetchval("SELECT id FROM scheduling.trainings")
        assert await count(db, "scheduling.invitations", "event_id = $1", training) == 2

        # Small groups: one pair makes one group, shown with its field and region codes.
        formed = await client.post(f"{screen}/small-groups", data={"csrf_token": token})
        assert "small_groups_formed" in formed.headers["location"]
        assert await count(db, "scheduling.small_groups", "group_no = 1") == 1
        again = await client.get(screen)
        assert "Ryhmä 1" in again.text and "Amina Hassan – Liisa Korhonen" in again.text
        month = f"{text(f'schedule.calendar.month.{day.month}', 'fi')} {day.year}"
        calendar = again.text.split('id="calendar-title"')[1].split("</section>")[0]
        assert month in calendar and "Työnhaku LinkedInissä" in calendar

        dashboard = await client.get("/coordinator")
        assert "1 paria, riskissä 0, tapaamisia jäänyt väliin 0" in dashboard.text
        assert screen in dashboard.text
    finally:
        await client.aclose()

    # She answers from her portal; her answer is shown and counted.
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as her:
        portal = f"/portal/{link(pair)}"
        page = await her.get(portal)
        assert "Työnhaku LinkedInissä" in page.text and "ei vielä vastattu" in page.text
        answered = await her.post(
            f"{portal}/rsvp",
            data={"csrf_token": csrf_from(page.text), "event_id": str(training), "answer": "yes"},
        )
        assert answered.status_code == 303
        page = await her.get(answered.headers["location"])
        assert "Vastauksesi: tulen" in page.text
        bad = await her.post(
            f"{portal}/rsvp",
            data={"csrf_token": csrf_from(page.text), "event_id": str(uuid4()), "answer": "yes"},
        )
        assert bad.status_code == 422 and "Tilaisuutta ei löytynyt." in bad.text
    assert await count(db, "scheduling.invitations", "rsvp = 'yes'") == 1

    # The attendance sheet opens once the clock has passed the training's start.
    client = await logged_in(pair["base"], pair["coordinator"])
    try:
        page = await client.get(screen)
        sheet = f"{screen}/events/{training}/attendance"
        early = await client.post(
            sheet,
            data={"csrf_token": csrf_from(page.text), "person_id": [str(pair["mentee"])]},
        )
        assert "not_started" in early.headers["location"]
        FileClock.advance_file(
            clock_file, day - FileClock(clock_file).now().date() + timedelta(days=1)
        )
        await client.aclose()  # the session has expired in the meantime: log in again
        client = await logged_in(pair["base"], pair["coordinator"])
        page = await client.get(screen)
        saved = await client.post(
            sheet,
            data={
                "csrf_token": csrf_from(page.text),
                "person_id": [str(pair["mentee"]), str(pair["mentor"])],
                "attended": [str(pair["mentee"])],
            },
        )
        assert "attendance_saved" in saved.headers["location"]
    finally:
        await client.aclose()
    rows = await db.fetch("SELECT person_id, attended FROM scheduling.invitations")
    assert {r["person_id"]: r["attended"] for r in rows} == {
        pair["mentee"]: True,
        pair["mentor"]: False,
    }
