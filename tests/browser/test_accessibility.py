"""axe-core on the pages applicants and coordinators use: no serious or critical violations.

Also leaves screenshots of the form and the review queue, on a phone (390x844) and a desktop,
in the test's tmp_path for a person to look at (they are not compared with anything).
"""

from __future__ import annotations

import asyncio
import unicodedata
from pathlib import Path
from uuid import UUID

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import serious_violations
from tests.browser.conftest import DESKTOP, PHONE
from tests.helpers import (
    COORDINATOR_PASSWORD,
    add_coordinator,
    application_payload,
    open_cycle,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def contact(given: str, family: str) -> dict[str, str]:
    # plain ASCII before the "@" (the form refuses other letters there): Mäkinen -> makinen
    local = unicodedata.normalize("NFKD", f"{given}.{family}").encode("ascii", "ignore")
    email = f"{local.decode()}@example.org".lower()
    return {"given_name": given, "family_name": family, "email": email, "language": "fi"}


async def seed_queue(base: str, cycle_id: UUID) -> None:
    """A few applications of each kind, so the queue has rows, badges and reasons."""
    payloads = [
        application_payload(cycle_id, contact=contact("Amina", "Hassan")),
        application_payload(cycle_id, contact=contact("Olena", "Kovalenko")),
        application_payload(cycle_id, contact=contact("Leila", "Ahmadi")),
        application_payload(
            cycle_id,
            role="mentor",
            contact=contact("Sanna", "Mäkinen"),
            identifies_as_woman=None,
            background=None,
            consents={"processing": True, "background": False, "rollover": False},
        ),
    ]
    payloads[1]["profile"] = payloads[1]["profile"] | {"isco_code": "2221"}
    payloads[2]["profile"] = payloads[2]["profile"] | {"education_level": 5}
    payloads[3]["profile"] = payloads[3]["profile"] | {"employer": "Vaisala Oyj", "capacity": 2}
    for payload in payloads:
        response = await submit(base, payload)
        assert response.status_code == 201, response.text


async def shoot(page: Page, folder: Path, name: str) -> None:
    """Full-page screenshots at phone and desktop size; the page ends at desktop size."""
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=folder / f"{name}-{size_name}.png", full_page=True)


async def test_accessibility_of_form_login_and_queue(page: Page, stack, tmp_path: Path) -> None:
    await asyncio.to_thread(stack.start, "intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    await seed_queue(base, cycle_id)
    email = await add_coordinator(stack.database_url, organisation_id)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []

    async def check(where: str) -> None:
        if found := await serious_violations(page, where):
            problems.append(found)

    # The public side, in Finnish and in English.
    await page.goto(f"{base}/?lang=fi")
    await check("landing (fi)")
    await page.goto(f"{base}/apply/{cycle_id}/mentee?lang=fi")
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    await check("mentee form (fi)")
    await shoot(page, shots, "form-fi")
    await page.get_by_role("button", name="Lähetä hakemus").click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await check("mentee form with errors (fi)")
    await shoot(page, shots, "form-errors-fi")
    await page.goto(f"{base}/apply/{cycle_id}/mentee?lang=en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await check("mentee form (en)")
    await page.goto(f"{base}/apply/{cycle_id}/mentor?lang=en")
    await check("mentor form (en)")

    # The coordinator's side.
    await page.goto(f"{base}/login?lang=fi")
    await check("login (fi)")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill("not the password")
    await page.get_by_role("button", name="Kirjaudu").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await check("login refused (fi)")
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await expect(page).to_have_url(f"{base}/coordinator")
    await page.get_by_role("link", name="Test cycle", exact=True).click()
    await expect(page.locator("table tbody tr")).to_have_count(4)
    await check("review queue (fi)")
    await shoot(page, shots, "queue-fi")
    await page.goto(f"{base}/coordinator/cycles/{cycle_id}?lang=en&status=ineligible")
    await expect(page.locator("table tbody tr")).to_have_count(1)
    await check("review queue, filtered (en)")

    print(f"screenshots in {shots}")
    assert not problems, "serious or critical accessibility violations:\n" + "\n".join(problems)
