"""A participant opens her personal link in Chromium, logs a meeting and sees it in her
history; the portal and the coordinator's schedule screen pass axe."""

from __future__ import annotations

import asyncio

import asyncpg
import nats
import pytest
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from tests.browser.a11y import serious_violations
from tests.e2e.test_portal import form_pair, link
from tests.helpers import COORDINATOR_PASSWORD, count

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_she_logs_a_meeting_through_her_link(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start)
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    nc = await nats.connect(stack.nats_url, **stack.nats_admin)
    try:
        pair = await form_pair(stack, conn, nc, start=False)
        base = pair["base"]

        await page.goto(f"{base}/portal/{link(pair)}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Mentorointitapaamiset")
        await expect(page.get_by_text("Tapaamisia ei ole vielä kirjattu.")).to_be_visible()
        assert await serious_violations(page, "participant portal") == ""

        await page.get_by_label("Kesto (minuuttia)").fill("0")
        await page.get_by_label("kasvokkain").check()
        await page.get_by_role("button", name="Kirjaa tapaaminen").click()
        await expect(page.locator("#minutes-error")).to_contain_text("vähintään yksi minuutti")
        assert await serious_violations(page, "participant portal with an error") == ""
        assert await count(conn, "scheduling.meetings") == 0

        await page.get_by_label("Kesto (minuuttia)").fill("90")
        await page.get_by_label("Ammatillinen verkosto").check()
        await page.get_by_role("button", name="Kirjaa tapaaminen").click()
        await expect(page.get_by_role("status")).to_have_text("Kiitos! Tapaaminen on kirjattu.")
        history = page.locator("section[aria-labelledby=history-title]")
        await expect(history).to_contain_text("90 min, kasvokkain")
        await expect(history).to_contain_text("Ammatillinen verkosto")
        assert await count(conn, "scheduling.meetings", "logged_by = 'participant'") == 1

        await page.goto(f"{base}/login?lang=fi")
        await page.get_by_label("Sähköpostiosoite").fill(pair["coordinator"])
        await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
        await page.get_by_role("button", name="Kirjaudu").click()
        await page.goto(f"{base}/coordinator/cycles/{pair['cycle']}")
        await page.get_by_role("link", name="Tapaamiset ja kalenteri").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Tapaamiset")
        await expect(page.get_by_role("heading", name="Hiljaiset parit")).to_be_visible()
        await expect(page.get_by_text("Amina Hassan – Liisa Korhonen").first).to_be_visible()
        assert await serious_violations(page, "schedule screen") == ""
    finally:
        await nc.close()
        await conn.close()
