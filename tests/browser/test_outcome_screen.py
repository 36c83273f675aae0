"""A coordinator sets a mentee's outcome (the reason is required) and records an interview
with private notes on the outcomes screen in Chromium; the screen passes axe."""

from __future__ import annotations

import asyncio

import asyncpg
import nats
import pytest
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from shared.events import SurveyKind
from tests.browser.a11y import serious_violations
from tests.conftest import eventually
from tests.e2e.test_outcomes import NOTE, answer, make_cohort
from tests.helpers import COORDINATOR_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_coordinator_overrides_an_outcome_and_records_an_interview(
    page: Page, stack
) -> None:
    await asyncio.to_thread(stack.start, "intake", "feedback")
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    nc = await nats.connect(stack.nats_url, **stack.nats_admin)
    try:
        cohort = await make_cohort(stack, conn, nc)
        amina = cohort["ids"]["Amina"]
        await answer(
            conn,
            nc,
            cohort,
            "Amina",
            SurveyKind.END,
            {"employment_status": "still_seeking", "confidence_job_search": 4},
        )
        outcome = "SELECT outcome FROM feedback.outcomes WHERE person_id = $1"
        await eventually(lambda: _is(conn, outcome, "confidence_no_change", amina))
        base = stack["intake"].base_url

        await page.goto(f"{base}/login?lang=fi")
        await page.get_by_label("Sähköpostiosoite").fill(cohort["email"])
        await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
        await page.get_by_role("button", name="Kirjaudu").click()
        await page.goto(f"{base}/coordinator/cycles/{cohort['cycle']}")
        await page.get_by_role("link", name="Tulokset ja haastattelut").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(
            "Tulokset ja haastattelut"
        )
        mentee = page.locator(f"article[aria-labelledby='m-{amina}']")
        await expect(mentee).to_contain_text("Itseluottamus vahvistui, tilanne ei vielä muuttunut")
        await expect(mentee).to_contain_text("kyselyjen mukaan")
        assert await serious_violations(page, "outcomes screen") == ""

        await mentee.get_by_text("Aseta tulos").click()
        await mentee.get_by_label("Tulos", exact=True).select_option("employed_own_field")
        await mentee.get_by_role("button", name="Tallenna tulos").click()
        reason_error = page.locator(f"#override-{amina}-reason-error")
        await expect(reason_error).to_have_text("Kirjoita perustelu (vähintään 3 merkkiä).")
        assert await serious_violations(page, "outcomes screen with an error") == ""
        assert await conn.fetchval(outcome, amina) == "confidence_no_change"

        mentee = page.locator(f"article[aria-labelledby='m-{amina}']")
        await mentee.get_by_label("Perustelu").fill("Vakituinen työ alkoi syyskuussa.")
        await mentee.get_by_role("button", name="Tallenna tulos").click()
        await expect(page.get_by_role("status")).to_have_text("Tulos tallennettu.")
        mentee = page.locator(f"article[aria-labelledby='m-{amina}']")
        await expect(mentee).to_contain_text("Työllistyi omalle alalleen")
        await expect(mentee).to_contain_text("koordinaattorin asettama")
        assert await conn.fetchval(outcome, amina) == "employed_own_field"

        await mentee.get_by_text("Alkuhaastattelu: siirrä tai kirjaa").click()
        await mentee.get_by_label("Yksityiset muistiinpanot").first.fill(NOTE)
        await mentee.get_by_role("button", name="Tallenna haastattelu").first.click()
        await expect(page.get_by_role("status")).to_have_text("Haastattelu tallennettu.")
        mentee = page.locator(f"article[aria-labelledby='m-{amina}']")
        await expect(mentee.locator("td.notes").first).to_have_text(NOTE)
        assert await serious_violations(page, "outcomes screen after saving") == ""
    finally:
        await nc.close()
        await conn.close()


async def _is(conn, sql: str, expected: object, *args: object) -> bool:
    return await conn.fetchval(sql, *args) == expected
