"""An applicant fills in the public form in Finnish, in a real browser, as a person would."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from tests.helpers import count, open_cycle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_applicant_fills_and_submits_the_form_in_finnish(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start, "intake")
    _, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url

    await page.goto(f"{base}/?lang=fi")
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    cycle = page.get_by_role("listitem").filter(has_text="Test cycle")
    await cycle.get_by_role("link", name="Hae mentoroitavaksi").click()
    await expect(page).to_have_url(re.compile(f"/apply/{cycle_id}/mentee"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hakemus mentoroitavaksi")

    # Contact details, typed; the e-mail is forgotten at first.
    await page.get_by_label("Etunimi").press_sequentially("Olena")
    await page.get_by_label("Sukunimi").press_sequentially("Kovalenko")
    await page.get_by_label("Syntymävuosi").press_sequentially("1987")
    await page.get_by_role("group", name="Oletko nainen?").get_by_label("Kyllä").check()

    # Occupation: the search box narrows the select below it (htmx).
    occupation = page.get_by_role("combobox", name="Ammattiala", exact=True)
    options_before = await occupation.locator("option").count()
    await page.get_by_label("Hae ammattia").press_sequentially("sairaanhoitaja", delay=20)
    options = occupation.locator("option")
    await expect(options).not_to_have_count(options_before)
    assert await options.count() < 25, "the occupation list did not narrow"
    nurse = occupation.locator("option", has_text="Sairaanhoitajat")
    await expect(nurse).to_have_count(1)
    await occupation.select_option(label=(await nurse.inner_text()).strip())
    await expect(occupation).to_have_value("2221")

    await page.get_by_label("Korkein tutkinto").select_option(
        label="Ylempi korkeakoulututkinto (maisteri, ylempi AMK)"
    )
    await page.get_by_label("Suomen kielen taito").select_option(label="B1 – keskitaso")
    await page.get_by_label("Englannin kielen taito").select_option(label="C1 – taitava")
    await page.get_by_label("Maakunta").select_option(label="Uusimaa")
    await page.get_by_label("Etätapaamiset sopivat minulle").check()
    await page.locator("label[for=consent_processing]").click()
    await expect(page.locator("#consent_processing")).to_be_checked()

    await page.get_by_role("button", name="Lähetä hakemus").click()

    # The error is named next to the e-mail field, and the summary links to it.
    email = page.get_by_label("Sähköposti")
    message = re.compile(r"Tämä tieto tarvitaan|Kirjoita sähköpostiosoite")
    await expect(page.locator("#email-error")).to_have_text(message)
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_attribute("aria-describedby", re.compile(r"\bemail-error\b"))
    field = page.locator(".field", has=page.locator("#email"))
    await expect(field.locator(".error")).to_have_text(message)
    summary = page.locator("#error-summary")
    await expect(summary).to_have_attribute("role", "alert")
    await expect(summary).to_have_attribute("tabindex", "-1")
    link = summary.get_by_role("link", name=re.compile("^Sähköposti"))
    await expect(link).to_have_attribute("href", "#email")
    await link.click()
    await expect(email).to_be_focused()
    # What was typed and chosen is still there.
    await expect(page.get_by_label("Etunimi")).to_have_value("Olena")
    await expect(occupation).to_have_value("2221")
    await expect(page.locator("#consent_processing")).to_be_checked()

    await email.press_sequentially("olena.kovalenko@example.org")
    await page.get_by_role("button", name="Lähetä hakemus").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Kiitos hakemuksestasi!")
    await expect(page.get_by_role("status")).to_contain_text("Hakemuksesi on vastaanotettu")

    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        assert await count(conn, "intake.applications") == 1
        row = await conn.fetchrow("SELECT status, role, profile FROM intake.applications")
        assert (row["status"], row["role"]) == ("eligible", "mentee")
    finally:
        await conn.close()
