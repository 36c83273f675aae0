"""A mentee opens the survey link from her invitation e-mail in Chromium, switches language,
is told what is missing next to each question, answers in Finnish and is thanked; the
survey page passes axe, with and without errors. Real intake and feedback, moved clock."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Page, expect

from shared.clock import FileClock
from shared.db import asyncpg_dsn
from tests.browser.a11y import serious_violations
from tests.conftest import eventually
from tests.e2e.test_surveys import accepted_mentees, token_of
from tests.helpers import COORDINATOR_PASSWORD, add_coordinator, count, open_cycle

pytestmark = pytest.mark.asyncio(loop_scope="session")
HELSINKI = ZoneInfo("Europe/Helsinki")


async def test_she_answers_her_survey_in_finnish(page: Page, stack, tmp_path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    env = {"WOMENTO_CLOCK_FILE": str(clock_file), "WOMENTO_FEEDBACK_TICK_SECONDS": "0.3"}
    await asyncio.to_thread(lambda: stack.start("intake", "feedback", **env))
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        _, cycle_id, _ = await accepted_mentees(stack, conn, {"Amina": "fi"})
        starts_on = await conn.fetchval(
            "SELECT starts_on FROM intake.cycles WHERE id = $1", cycle_id
        )
        opening = datetime(starts_on.year, starts_on.month, starts_on.day, 9, 5, tzinfo=HELSINKI)
        FileClock.advance_file(clock_file, opening - FileClock(clock_file).now())

        async def mailed() -> object:
            return await conn.fetchrow(
                "SELECT m.text_body FROM intake.mail_queue q"
                " JOIN intake.dev_mailbox m ON m.mail_id = q.id"
                " WHERE q.template = 'survey_invitation'"
            )

        mail = await eventually(mailed, timeout=30)
        base = stack["intake"].base_url
        await page.goto(f"{base}/survey/{token_of(mail)}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Alkukysely")
        await expect(page.get_by_text("Kuinka luottavainen olet työnhaussasi?")).to_be_visible()
        assert await serious_violations(page, "survey page") == ""

        await page.get_by_role("link", name="In English").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Starting survey")
        await expect(
            page.get_by_text("How confident do you feel in your job search?")
        ).to_be_visible()
        await page.get_by_role("link", name="Suomeksi").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Alkukysely")

        await page.locator("#q_confidence_job_search-4").check()
        await page.get_by_role("button", name="Lähetä vastaukset").click()
        await expect(page.get_by_role("alert")).to_have_text("Tarkista merkityt kohdat.")
        await expect(page.locator("#q_finnish_at_work-error")).to_have_text(
            "Vastaa tähän kysymykseen."
        )
        await expect(page.locator("#q_employment_status-error")).to_have_text(
            "Vastaa tähän kysymykseen."
        )
        await expect(page.locator("#q_confidence_job_search-4")).to_be_checked()
        assert await serious_violations(page, "survey page with errors") == ""
        assert await count(conn, "feedback.responses") == 0

        await page.locator("#q_finnish_at_work-3").check()
        await page.locator("#q_professional_network-2").check()
        await page.get_by_label("Etsin vielä työtä").check()
        await page.get_by_label("Muuta kommentoitavaa?").fill("Kiitos mentorilleni!")
        await page.get_by_role("button", name="Lähetä vastaukset").click()
        await expect(page.get_by_role("status")).to_have_text("Kiitos! Vastauksesi on tallennettu.")

        async def stored() -> bool:
            return await count(conn, "feedback.responses") == 1

        await eventually(stored)
        answers = await conn.fetchval("SELECT answers::text FROM feedback.responses")
        assert '"finnish_at_work": 3' in answers and "Kiitos" not in answers
        await page.goto(f"{base}/survey/{token_of(mail)}")  # the link again, later
        await expect(page.get_by_role("status")).to_contain_text("Olet jo vastannut")
    finally:
        await conn.close()


async def test_a_coordinator_edits_a_programme_s_survey(page: Page, stack) -> None:
    await asyncio.to_thread(lambda: stack.start("intake", "feedback"))
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        org, cycle_id = await open_cycle(stack.database_url)
        email = await add_coordinator(stack.database_url, org)

        async def surveys_made() -> bool:
            return await count(conn, "feedback.surveys", "cycle_id = $1", cycle_id) > 0

        await eventually(surveys_made)
        base = stack["intake"].base_url
        await page.goto(f"{base}/login?lang=fi")
        await page.get_by_label("Sähköpostiosoite").fill(email)
        await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
        await page.get_by_role("button", name="Kirjaudu").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Maria Virtanen")
        await page.get_by_role("link", name=re.compile(r"^Kyselyt\s*:\s*Career mentoring$")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Kyselyt – Career mentoring"
        )
        await expect(
            page.get_by_text("Kuinka luottavainen olet työnhaussasi?").first
        ).to_be_visible()
        assert await serious_violations(page, "survey templates") == ""

        await page.get_by_role(
            "link", name=re.compile("Muokkaa kysymyksiä.*Väliarviointi, Mentorit")
        ).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Väliarviointi: Mentorit")
        assert await serious_violations(page, "survey template form") == ""
        new = page.locator("fieldset.question-row").nth(3)  # the first blank block
        await new.get_by_label("Tunniste").fill("would_mentor_again")
        await new.get_by_label("Kysymys suomeksi").fill("Toimisitko mentorina uudelleen?")
        await new.get_by_label("Tyyppi").select_option("single")
        await page.get_by_role("button", name="Tallenna uusi versio").click()
        await expect(page.get_by_role("alert")).to_have_text("Tarkista merkityt kohdat.")
        await expect(page.locator("#q-3-label_en-error")).to_contain_text("sekä suomeksi että")
        assert await serious_violations(page, "survey template form with an error") == ""
        assert await count(conn, "feedback.survey_templates") == 0

        new = page.locator("fieldset.question-row").nth(3)
        await new.get_by_label("Kysymys englanniksi").fill("Would you mentor again?")
        await new.get_by_label("Vaihtoehdot").fill("yes | Kyllä | Yes\nno | En | No")
        await page.get_by_role("button", name="Tallenna uusi versio").click()
        await expect(page.get_by_role("status")).to_contain_text("Tallennettu versio 2")
        await expect(page.get_by_text("Toimisitko mentorina uudelleen?")).to_be_visible()
        assert await count(conn, "feedback.survey_templates") == 1
    finally:
        await conn.close()
