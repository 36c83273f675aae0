"""The coordinator's schedule screen on real services: the pair and the at-risk list,
logging for a pair, a group meeting with its attendance sheet, the cycle's and her
calendar feeds, and a 503 page while scheduling is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import icalendar
import pytest

from shared.clock import SystemClock
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
