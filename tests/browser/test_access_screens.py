"""axe-core on the admin's access-log screens (per person, the coordinators, one
coordinator's log), in Finnish and English: no serious or critical violations, and the
"who viewed her data" link on the application page leads there."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import serious_violations
from tests.helpers import (
    COORDINATOR_PASSWORD,
    add_coordinator,
    application_payload,
    open_cycle,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_accessibility_of_the_access_log(page: Page, stack) -> None:
    await asyncio.to_thread(stack.start, "intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    applied = await submit(base, application_payload(cycle_id))
    application_id = UUID(applied.json()["application_id"])
    email = await add_coordinator(stack.database_url, organisation_id, role="admin")
    problems: list[str] = []

    async def check(where: str) -> None:
        if found := await serious_violations(page, where):
            problems.append(found)

    await page.goto(f"{base}/login?lang=fi")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await expect(page).to_have_url(f"{base}/coordinator")
    await page.goto(f"{base}/coordinator/applications/{application_id}?lang=en")
    await page.get_by_role("link", name="Who viewed her data").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await check("who viewed her data (en)")
    await page.get_by_role("link", name="Maria Virtanen").click()
    await expect(page.locator("h1")).to_contain_text("Access log of Maria Virtanen")
    await check("a coordinator's log (en)")
    await page.goto(f"{base}/coordinator/access?lang=fi")
    await expect(page.locator("h1")).to_have_text("Käyttöloki")
    await check("coordinators (fi)")
    assert not problems, "serious or critical accessibility violations:\n" + "\n".join(problems)
