"""An organisation admin adds a partner system, issues it a credential and revokes it in
Chromium; the screen and the shown-once credentials page pass axe."""

from __future__ import annotations

import asyncio
import json

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import serious_violations
from tests.helpers import COORDINATOR_PASSWORD, add_coordinator, create_organisation

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_admin_adds_a_partner_issues_and_revokes_a_credential(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start, "intake")
    organisation_id = await create_organisation(stack.database_url)
    email = await add_coordinator(stack.database_url, organisation_id, role="admin")
    base = stack["intake"].base_url

    await page.goto(f"{base}/login?lang=fi")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await page.get_by_role("link", name="Kumppanijärjestelmät").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kumppanijärjestelmät")

    await page.get_by_label("Webhook-osoite (valinnainen)").fill("ftp://example.org/hook")
    await page.get_by_label("Nimi", exact=True).fill("TE-palvelut")
    await page.get_by_role("button", name="Lisää kumppani").click()
    await expect(page.get_by_role("alert")).to_contain_text("https://")
    await expect(page.get_by_label("Webhook-osoite (valinnainen)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert await serious_violations(page, "partners screen with an error") == ""

    await page.get_by_label("Webhook-osoite (valinnainen)").fill("")
    await page.get_by_role("button", name="Lisää kumppani").click()
    await expect(page.get_by_role("status")).to_contain_text("Kumppani lisätty")
    await expect(page.get_by_role("heading", name="TE-palvelut")).to_be_visible()
    assert await serious_violations(page, "partners screen") == ""

    await page.get_by_role("button", name="Myönnä tunnus").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Uusi tunnus")
    document = json.loads(await page.locator("#secret").inner_text())
    assert document["organisation_id"] == str(organisation_id)
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Lataa tunnustiedosto").click()
    downloaded = await (await downloading.value).path()
    assert json.loads(downloaded.read_text()) == document
    assert await serious_violations(page, "credentials shown once") == ""

    await page.get_by_role("link", name="Takaisin kumppanijärjestelmiin").first.click()
    credentials = page.get_by_role("table", name="Kumppanin TE-palvelut tunnukset")
    row = credentials.get_by_role("row").filter(has_text=document["user"])
    await expect(row).to_contain_text("voimassa")
    await row.get_by_role("button", name=f"Peru tunnus {document['user']}").click()
    await expect(page.get_by_role("status")).to_contain_text("Tunnus peruttu")
    await expect(row).to_contain_text("peruttu")
    await expect(row.get_by_role("button")).to_have_count(0)
    audit = page.get_by_role("table").filter(has_text="Milloin")
    await expect(audit).to_contain_text("tunnus peruttu")
