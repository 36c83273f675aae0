"""In Chromium: the coordinator creates a training on the schedule screen (a bad link is
refused next to its field, the form kept), forms small groups, and the mentee answers the
invitation from her personal link; every page passes axe."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import nats
import pytest
from playwright.async_api import Page, expect

from shared.clock import SystemClock
from shared.db import asyncpg_dsn
from tests.browser.a11y import serious_violations
from tests.e2e.test_portal import form_pair, link
from tests.helpers import COORDINATOR_PASSWORD, count

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_training_created_and_answered(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start)
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    nc = await nats.connect(stack.nats_url, **stack.nats_admin)
    try:
        pair = await form_pair(stack, conn, nc, start=False)
        base = pair["base"]
        await page.goto(f"{base}/login?lang=fi")
        await page.get_by_label("Sähköpostiosoite").fill(pair["coordinator"])
        await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
        await page.get_by_role("button", name="Kirjaudu").click()
        await page.goto(f"{base}/coordinator/cycles/{pair['cycle']}/schedule")
        await expect(page.get_by_role("heading", name="Jakson kalenteri")).to_be_visible()

        day = (SystemClock().now() + timedelta(days=14)).date().isoformat()
        form = page.locator("form[aria-labelledby=new-training-title]")
        await form.get_by_label("Koulutuksen nimi").fill("CV-työpaja")
        await form.get_by_label("Päivä").fill(day)
        await form.get_by_label("Verkkolinkki", exact=False).fill("http://meet.example/cv")
        await form.get_by_label("Paikkoja").fill("10")
        await form.get_by_role("button", name="Luo koulutus").click()
        await expect(page.locator("#tr_online_url-error")).to_contain_text("https://")
        await expect(page.get_by_label("Koulutuksen nimi")).to_have_value("CV-työpaja")
        assert await serious_violations(page, "training form with an error") == ""
        assert await count(conn, "scheduling.trainings") == 0

        await form.get_by_label("Verkkolinkki", exact=False).fill("https://meet.example/cv")
        await form.get_by_role("button", name="Luo koulutus").click()
        await expect(page.get_by_role("status")).to_contain_text("Koulutus luotu")
        await expect(page.get_by_role("heading", name="CV-työpaja", exact=False)).to_be_visible()
        assert await count(conn, "scheduling.invitations") == 2

        await page.get_by_role("button", name="Muodosta pienryhmät").click()
        await expect(page.get_by_role("heading", name="Ryhmä 1")).to_be_visible()
        assert await serious_violations(page, "schedule screen with a training") == ""

        await page.goto(f"{base}/portal/{link(pair)}")
        invitations = page.locator("section[aria-labelledby=invitations-title]")
        await expect(invitations).to_contain_text("CV-työpaja")
        await expect(invitations).to_contain_text("ei vielä vastattu")
        assert await serious_violations(page, "portal with an invitation") == ""
        await invitations.get_by_role("button", name="Tulen").click()
        await expect(page.get_by_role("status")).to_contain_text("vastauksesi on tallennettu")
        await expect(invitations).to_contain_text("Vastauksesi: tulen")
        assert await count(conn, "scheduling.invitations", "rsvp = 'yes'") == 1
    finally:
        await nc.close()
        await conn.close()
