"""A coordinator logs in, screens the queue, overrides a screening and accepts an applicant."""

from __future__ import annotations

import asyncio
import re
from uuid import UUID

import asyncpg
import pytest
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from tests.helpers import (
    COORDINATOR_PASSWORD,
    add_coordinator,
    application_payload,
    count,
    open_cycle,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def seed_applications(base: str, cycle_id: UUID) -> tuple[str, str]:
    """One eligible and one ineligible (no degree) mentee; returns their application ids."""
    eligible = application_payload(
        cycle_id,
        contact={
            "given_name": "Amina",
            "family_name": "Hassan",
            "email": "amina.hassan@example.org",
            "language": "fi",
        },
    )
    ineligible = application_payload(
        cycle_id,
        contact={
            "given_name": "Leila",
            "family_name": "Ahmadi",
            "email": "leila.ahmadi@example.org",
            "language": "fi",
        },
    )
    ineligible["profile"] = ineligible["profile"] | {"education_level": 5}
    ids = []
    for payload in (eligible, ineligible):
        response = await submit(base, payload)
        assert response.status_code == 201, response.text
        ids.append(response.json()["application_id"])
    return ids[0], ids[1]


async def test_coordinator_logs_in_screens_and_accepts(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start, "intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    amina_id, leila_id = await seed_applications(base, cycle_id)
    email = await add_coordinator(stack.database_url, organisation_id)

    await page.goto(f"{base}/login?lang=fi")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Maria Virtanen")

    await page.get_by_role("link", name="Test cycle", exact=True).click()
    await expect(page).to_have_url(re.compile(f"/coordinator/cycles/{cycle_id}$"))
    rows = page.locator("table tbody tr")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Tila", exact=True).select_option(label="Ei kelpoinen")
    await page.get_by_role("button", name="Näytä").click()
    await expect(page).to_have_url(re.compile(r"[?&]status=ineligible"))
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Leila Ahmadi")
    await expect(rows.first.locator(".badge")).to_have_text("Ei kelpoinen")

    await rows.first.get_by_role("link", name="Leila Ahmadi").click()
    await expect(page).to_have_url(re.compile(f"/coordinator/applications/{leila_id}$"))
    await expect(page.locator("#status")).to_have_text("Ei kelpoinen")

    # Overriding the automatic screening needs a reason.
    await page.get_by_label("Uusi tila").select_option(label="Kelpoinen")
    await page.get_by_role("button", name="Tallenna päätös").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Kirjoita perustelu, kun ohitat automaattisen seulonnan."
    )
    await expect(page.locator("#status")).to_have_text("Ei kelpoinen")

    await page.get_by_label("Uusi tila").select_option(label="Kelpoinen")
    await page.get_by_label("Perustelu").fill("Opistoasteen tutkinto vastaa alan vaatimuksia.")
    await page.get_by_role("button", name="Tallenna päätös").click()
    await expect(page.locator("#status")).to_have_text("Kelpoinen")
    await expect(page.get_by_role("alert")).to_have_count(0)

    await page.get_by_role("link", name=re.compile("^Takaisin")).click()
    await expect(rows).to_have_count(2)
    await rows.filter(has_text="Amina Hassan").get_by_role("link", name="Amina Hassan").click()
    await expect(page).to_have_url(re.compile(f"/coordinator/applications/{amina_id}$"))
    await page.get_by_label("Uusi tila").select_option(label="Hyväksytty")
    await page.get_by_role("button", name="Tallenna päätös").click()
    await expect(page.locator("#status")).to_have_text("Hyväksytty")

    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        statuses = dict(await conn.fetch("SELECT id::text, status FROM intake.applications"))
        assert statuses == {amina_id: "accepted", leila_id: "eligible"}
        accepted = "event_type LIKE '%applicant_accepted%'"
        assert await count(conn, "intake.outbox", accepted) == 1
    finally:
        await conn.close()
