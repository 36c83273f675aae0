"""A coordinator proposes pairs, locks one, re-runs and confirms on the matching screen."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from tests.browser.a11y import serious_violations
from tests.conftest import eventually
from tests.helpers import (
    COORDINATOR_PASSWORD,
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def accepted_cohort(stack) -> tuple[str, str]:
    """Two mentees and two mentors, accepted; returns (organisation, cycle) ids."""
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    people = [
        ("mentee", "Amina", "2142", None),
        ("mentee", "Olena", "2211", None),
        ("mentor", "Liisa", "2142", "Kone"),
        ("mentor", "Sanna", "2211", "HUS"),
    ]
    for role, name, isco, employer in people:
        payload = application_payload(cycle_id, role=role)
        payload["contact"] |= {"given_name": name, "family_name": "Testinen"}
        payload["profile"] |= {"isco_code": isco, "employer": employer}
        if role == "mentor":
            payload |= {
                "identifies_as_woman": None,
                "background": None,
                "consents": {"processing": True},
            }
        response = await submit(base, payload)
        assert response.status_code == 201, response.text
    email = await add_coordinator(stack.database_url, organisation_id)
    client = await logged_in(base, email)
    queue = f"/coordinator/cycles/{cycle_id}"
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        ids = [str(r["id"]) for r in await conn.fetch("SELECT id FROM intake.applications")]
        token = csrf_from((await client.get(queue)).text)
        await client.post(f"{queue}/bulk-accept", data={"csrf_token": token, "application_id": ids})

        async def profiles_arrived() -> bool:
            return await count(conn, "matching.profiles") == 4

        await eventually(profiles_arrived, timeout=20)
    finally:
        await conn.close()
        await client.aclose()
    return email, str(cycle_id)


async def test_coordinator_proposes_locks_and_confirms_pairs(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start)
    email, cycle_id = await accepted_cohort(stack)
    base = stack["intake"].base_url

    await page.goto(f"{base}/login?lang=fi")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await page.goto(f"{base}/coordinator/cycles/{cycle_id}")
    await page.get_by_role("link", name="Muodosta parit").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Parien muodostus")

    await page.get_by_label("Mahdollisimman moni saa parin").check()
    await page.get_by_role("button", name="Ehdota pareja").click()
    await expect(page.get_by_role("status")).to_have_text("Uusi ehdotus on valmis.")
    rows = page.locator("section[aria-labelledby=proposal-h] table tbody tr")
    await expect(rows).to_have_count(2)
    amina = rows.filter(has_text="Amina Testinen")
    await expect(amina).to_contain_text("Liisa Testinen")
    await expect(amina).to_contain_text("sama ammatti")

    await amina.get_by_role("button", name=re.compile("^Lukitse")).click()
    await expect(page.get_by_role("status")).to_contain_text("Pari lukittu")
    await page.get_by_role("button", name="Ehdota uudelleen").click()
    await expect(rows.filter(has_text="Amina Testinen")).to_contain_text("lukittu")
    assert await serious_violations(page, "matching screen") == ""

    await page.get_by_role("button", name="Vahvista 2 paria").click()
    await expect(page.get_by_role("status")).to_have_text("Parit vahvistettu.")
    await expect(page.get_by_role("heading", name="Muodostetut parit (2)")).to_be_visible()

    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        pairs = await conn.fetch("SELECT mentee_id, mentor_id FROM matching.pairs")
        assert len(pairs) == 2
        assert await count(conn, "matching.outbox", "event_type LIKE '%pair_formed%'") == 2
    finally:
        await conn.close()
