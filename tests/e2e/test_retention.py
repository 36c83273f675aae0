"""Retention (issue 12 point 3) on real intake, NATS and PostgreSQL, with the clock moved
(`FileClock`): a programme sets its retention; a month before it ends for a person the
coordinators see her on the retention page; once it has ended the clock-driven sweep
erases her through the ordinary erasure path (reason `retention`, `PersonErased`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from services.intake.domain import add_months
from shared.clock import FileClock
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

HELSINKI = ZoneInfo("Europe/Helsinki")


def move_to(clock_file, day) -> None:  # type: ignore[no-untyped-def]
    moment = datetime.combine(day, time(10), HELSINKI)
    FileClock.advance_file(clock_file, moment - FileClock(clock_file).now())


async def test_people_are_previewed_a_month_ahead_and_erased_when_retention_ends(
    stack, db, tmp_path
) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    env = {"WOMENTO_CLOCK_FILE": str(clock_file), "WOMENTO_RETENTION_SWEEP_SECONDS": "0.3"}
    stack.start("intake", **env)
    base = stack["intake"].base_url
    org, cycle = await open_cycle(stack.database_url)
    payload = application_payload(cycle)
    payload["contact"] |= {"given_name": "Selam", "family_name": "Tesfaye"}
    person = UUID((await submit(base, payload)).json()["person_id"])
    ends_on = await db.fetchval("SELECT ends_on FROM intake.cycles WHERE id = $1", cycle)
    programme = await db.fetchval("SELECT programme_id FROM intake.cycles WHERE id = $1", cycle)
    email = await add_coordinator(stack.database_url, org)
    client = await logged_in(base, email)
    try:
        shown = await client.get("/coordinator/retention?lang=en")
        assert shown.status_code == 200
        assert 'value="12"' in shown.text  # the default
        assert "Nobody is due for erasure within the next month." in shown.text
        token = csrf_from(shown.text)
        bad = await client.post(
            f"/coordinator/programmes/{programme}/retention",
            data={"csrf_token": token, "months": "0"},
        )
        assert "error=months" in bad.headers["location"]
        assert await db.fetchval(
            "SELECT settings->>'retention_months' FROM intake.programmes WHERE id = $1",
            programme,
        ) in (None, "12")
        saved = await client.post(
            f"/coordinator/programmes/{programme}/retention",
            data={"csrf_token": token, "months": "6"},
        )
        assert saved.status_code == 303
        erase_on = add_months(ends_on, 6)

        move_to(clock_file, erase_on - timedelta(days=20))
        await client.aclose()
        client = await logged_in(base, email)  # the session ended with the moved clock
        preview = await client.get("/coordinator/retention?lang=en")
        assert "Selam Tesfaye" in preview.text
        assert erase_on.strftime("%d.%m.%Y") in preview.text
        move_to(clock_file, erase_on - timedelta(days=1))
        await asyncio.sleep(1)  # the sweep looks every 0.3 s: she is not due yet
        assert await count(db, "intake.people", "id = $1", person) == 1

        move_to(clock_file, erase_on)

        async def erased() -> bool:
            return await count(db, "intake.people", "id = $1", person) == 0

        await eventually(erased, timeout=20)
        reason = await db.fetchval("SELECT reason FROM intake.erasures")
        assert reason == "retention"
        assert (
            await count(db, "intake.outbox", "event_type = 'womento.intake.person_erased.v1'") == 1
        )
        await client.aclose()
        client = await logged_in(base, email)
        listed = await client.get("/coordinator/erasures?lang=en")
        assert "The retention period ended" in listed.text
    finally:
        await client.aclose()
