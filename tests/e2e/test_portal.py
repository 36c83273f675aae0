"""The participant portal and the coordinator's schedule screen on real services: a pair
formed the realistic way (applications → accepted → matching → confirmed), then her
personal link, meetings logged once, bad input refused, calendars parsed back."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.intake.portal import DEFAULT_VALIDITY, make_link
from shared.clock import SystemClock
from shared.commands import ConfirmPairs, ProposeMatches, send
from shared.settings import DEV_SECRET_KEY
from tests.conftest import eventually
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

MEETING_HELD = "event_type = 'womento.scheduling.meeting_held.v1'"


async def form_pair(stack: Any, db: Any, nc: Any, *, start: bool = True) -> dict[str, Any]:
    """One mentee (Finnish) and one mentor, accepted, matched and confirmed as a pair."""
    if start:
        stack.start()
    org, cycle = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    mentee = application_payload(cycle)
    mentee["contact"] |= {"given_name": "Amina", "family_name": "Hassan", "language": "fi"}
    mentor = application_payload(cycle, role="mentor", identifies_as_woman=None, background=None)
    mentor["consents"] = {"processing": True}
    mentor["contact"] |= {"given_name": "Liisa", "family_name": "Korhonen", "language": "en"}
    mentor["profile"] |= {"employer": "Kone"}
    for payload in (mentee, mentor):
        assert (await submit(base, payload)).status_code == 201
    email = await add_coordinator(stack.database_url, org)
    client = await logged_in(base, email)
    queue = f"/coordinator/cycles/{cycle}"
    ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM intake.applications")]
    token = csrf_from((await client.get(queue)).text)
    await client.post(f"{queue}/bulk-accept", data={"csrf_token": token, "application_id": ids})
    await client.aclose()

    async def profiles() -> bool:
        return await count(db, "matching.profiles") == 2

    await eventually(profiles, timeout=20)

    async def command(cmd: Any) -> dict[str, Any]:
        return await send(nc, cmd, organisation_id=org, clock=SystemClock(), wait_seconds=10)

    run = await command(ProposeMatches(cycle_id=cycle))
    await command(ConfirmPairs(cycle_id=cycle, run_id=UUID(run["run_id"])))

    async def planned() -> bool:
        return await count(db, "scheduling.pairs") == 1

    await eventually(planned, timeout=20)
    row = await db.fetchrow("SELECT pair_id, mentee_id, mentor_id FROM scheduling.pairs")
    return {
        "org": org,
        "cycle": cycle,
        "pair": row["pair_id"],
        "mentee": row["mentee_id"],
        "mentor": row["mentor_id"],
        "base": base,
        "coordinator": email,
    }


@pytest.fixture
async def pair(stack, db, nc) -> dict[str, Any]:
    return await form_pair(stack, db, nc)


def link(pair: dict[str, Any], *, valid_for: timedelta = DEFAULT_VALIDITY) -> str:
    expires = SystemClock().now() + valid_for
    return make_link(DEV_SECRET_KEY, pair["mentee"], pair["pair"], expires, cycle_id=pair["cycle"])


def form_of(html: str) -> dict[str, str]:
    submission = re.search(r'name="submission" value="([^"]+)"', html)
    assert submission
    return {"csrf_token": csrf_from(html), "submission": submission.group(1)}


def today() -> str:
    from zoneinfo import ZoneInfo

    return SystemClock().now().astimezone(ZoneInfo("Europe/Helsinki")).date().isoformat()


async def test_she_logs_a_meeting_once_through_her_link(pair, db) -> None:
    token = link(pair)
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        shown = await client.get(f"/portal/{token}")
        assert shown.status_code == 200
        assert '<html lang="fi">' in shown.text and "Kirjaa pidetty tapaaminen" in shown.text
        assert "Tapaamisia ei ole vielä kirjattu." in shown.text
        data = form_of(shown.text) | {
            "held_on": today(),
            "minutes": "75",
            "mode": "in_person",
            "topics": ["networking", "cv_and_applications"],
        }
        first = await client.post(f"/portal/{token}/meetings", data=data)
        assert first.status_code == 303, first.text
        again = await client.post(f"/portal/{token}/meetings", data=data)  # a double submit
        assert again.status_code == 303, again.text
        assert await count(db, "scheduling.meetings") == 1
        row = await db.fetchrow("SELECT * FROM scheduling.meetings")
        assert (row["minutes"], row["mode"], row["logged_by"]) == (75, "in_person", "participant")
        assert sorted(row["topic_codes"]) == ["cv_and_applications", "networking"]
        assert await count(db, "scheduling.outbox", MEETING_HELD) == 1
        history = await client.get(first.headers["location"])
        assert "Tapaaminen on kirjattu" in history.text
        assert "75 min, kasvokkain" in history.text and "Ammatillinen verkosto" in history.text


async def test_a_refused_meeting_is_explained_and_nothing_is_recorded(pair, db) -> None:
    token = link(pair)
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        shown = await client.get(f"/portal/{token}")
        base_form = form_of(shown.text) | {"minutes": "60", "mode": "online"}
        future = (SystemClock().now() + timedelta(days=3)).date().isoformat()
        refused = await client.post(
            f"/portal/{token}/meetings", data=base_form | {"held_on": future}
        )
        assert refused.status_code == 422
        assert "ei voi olla tulevaisuudessa" in refused.text
        assert 'id="held_on-error"' in refused.text and 'aria-invalid="true"' in refused.text
        zero = await client.post(
            f"/portal/{token}/meetings", data=base_form | {"held_on": today(), "minutes": "0"}
        )
        assert zero.status_code == 422 and 'id="minutes-error"' in zero.text
        garbage = await client.post(
            f"/portal/{token}/meetings", data=base_form | {"held_on": "eilen"}
        )
        assert garbage.status_code == 422 and 'id="held_on-error"' in garbage.text
        assert await count(db, "scheduling.meetings") == 0
        assert await count(db, "scheduling.outbox", MEETING_HELD) == 0
        # corrected on the same page (same hidden submission id): now it is logged
        fixed = await client.post(
            f"/portal/{token}/meetings", data=base_form | {"held_on": today()}
        )
        assert fixed.status_code == 303
        assert await count(db, "scheduling.meetings") == 1


async def test_a_forged_or_expired_link_is_refused_and_records_nothing(pair, db) -> None:
    token = link(pair)
    payload, signature = token.split(".")
    tampered = f"{payload}.{('A' if signature[0] != 'A' else 'B')}{signature[1:]}"
    other = make_link(
        "someone-elses-secret",
        pair["mentee"],
        pair["pair"],
        SystemClock().now() + timedelta(days=30),
        cycle_id=pair["cycle"],
    )
    expired = link(pair, valid_for=timedelta(seconds=-1))
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        good = form_of((await client.get(f"/portal/{token}")).text)
        data = good | {"held_on": today(), "minutes": "60", "mode": "online"}
        for bad in (tampered, other, "nonsense"):
            shown = await client.get(f"/portal/{bad}")
            assert shown.status_code == 403
            assert "Linkki ei kelpaa" in shown.text and "The link is not valid" in shown.text
            posted = await client.post(f"/portal/{bad}/meetings", data=data)
            assert posted.status_code == 403
            assert (await client.get(f"/portal/{bad}/calendar.ics")).status_code == 403
        gone = await client.get(f"/portal/{expired}")
        assert gone.status_code == 410
        assert "Linkki on vanhentunut" in gone.text and "The link has expired" in gone.text
        assert (await client.post(f"/portal/{expired}/meetings", data=data)).status_code == 410
    assert await count(db, "scheduling.meetings") == 0
    assert await count(db, "scheduling.outbox", MEETING_HELD) == 0


async def test_the_portal_speaks_her_language(pair) -> None:
    mentor_token = make_link(
        DEV_SECRET_KEY,
        pair["mentor"],
        pair["pair"],
        SystemClock().now() + timedelta(days=30),
        cycle_id=pair["cycle"],
    )
    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        shown = await client.get(f"/portal/{mentor_token}")
        assert '<html lang="en">' in shown.text and "Log a meeting held" in shown.text
        swedish = await client.get(f"/portal/{mentor_token}?lang=sv")
        assert "Registrera ett hållet möte" in swedish.text


async def test_the_coordinator_sends_both_their_links(pair, db) -> None:
    client = await logged_in(pair["base"], pair["coordinator"])
    try:
        screen = f"/coordinator/cycles/{pair['cycle']}/schedule"
        token = csrf_from((await client.get(screen)).text)
        sent = await client.post(
            f"{screen}/pairs/{pair['pair']}/send-links", data={"csrf_token": token}
        )
        assert "links_sent" in sent.headers["location"]
    finally:
        await client.aclose()
    rows = await db.fetch(
        "SELECT person_id, context FROM intake.mail_queue WHERE template = 'meeting_link'"
    )
    assert {r["person_id"] for r in rows} == {pair["mentee"], pair["mentor"]}
