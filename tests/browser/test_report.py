"""A coordinator opens a finished cycle's report in Chromium: the three charts are drawn and
named, the outcome table beside them matches the answers, the spreadsheet downloads and
opens, the page passes axe, in Finnish and in English. Real intake and feedback, moved clock."""

from __future__ import annotations

import asyncio
import io

import asyncpg
import nats
import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from shared.db import asyncpg_dsn
from tests.browser.a11y import serious_violations
from tests.e2e.test_reports import simulate_cycle
from tests.e2e.test_reports_screen import CYCLE_NAME, intake_cycle
from tests.e2e.test_surveys_feedback import START, Sim
from tests.helpers import COORDINATOR_PASSWORD, add_coordinator, clock_file_at

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_coordinator_reads_the_report_and_downloads_the_spreadsheet(
    page: Page, stack, tmp_path
) -> None:
    nc = await nats.connect(stack.nats_url, **stack.nats_admin)
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        sim = Sim(stack, nc, conn, clock_file_at(tmp_path, START))
        await asyncio.to_thread(lambda: stack.start("intake", "feedback", **sim.env))
        sim.org, sim.cycle = await intake_cycle(stack.database_url)
        await simulate_cycle(sim, conn)
        email = await add_coordinator(stack.database_url, sim.org)
    finally:
        await conn.close()
        await nc.close()
    base = stack["intake"].base_url

    await page.goto(f"{base}/login?lang=fi")
    await page.get_by_label("Sähköpostiosoite").fill(email)
    await page.get_by_label("Salasana").fill(COORDINATOR_PASSWORD)
    await page.get_by_role("button", name="Kirjaudu").click()
    await page.goto(f"{base}/coordinator/cycles/{sim.cycle}")
    await page.get_by_role("link", name="Raportti", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Raportti - {CYCLE_NAME}")

    charts = page.locator("svg[role=img]")
    await expect(charts).to_have_count(3)
    for i in range(3):
        await expect(charts.nth(i)).to_be_visible()
        box = await charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
    outcome_chart = page.get_by_role("img", name="Mentoroitavien tulokset", exact=False).first
    await expect(outcome_chart).to_be_visible()
    await expect(outcome_chart.locator("text", has_text="2 (50 %)")).to_have_count(1)
    own_field = page.locator('#outcome-table tr[data-outcome="employed_own_field"]')
    await expect(own_field).to_contain_text("Työllistyi omalle alalle")
    await expect(own_field.locator("td")).to_have_text(["2", "50 %"])
    await expect(page.locator('#rate-table tr[data-kind="end"] td')).to_have_text(
        ["8", "4", "50 %"]
    )
    await page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert await serious_violations(page, "report page (fi)") == ""

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Taulukko (XLSX)").click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
    outcomes = {r[0]: r[1] for r in book["Tulokset"].iter_rows(values_only=True) if r[0]}
    assert outcomes["Työllistyi omalle alalle"] == 2

    await page.get_by_role("link", name="In English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Report - {CYCLE_NAME}")
    await expect(
        page.get_by_role("img", name="Outcomes of the mentees", exact=False).first
    ).to_be_visible()
    assert await serious_violations(page, "report page (en)") == ""

    await page.get_by_role("link", name="Reports across years").click()
    await expect(page.locator('#year-table tr[data-year="2031"] th')).to_have_text("2031")
    await expect(page.locator("svg[role=img]")).to_have_count(4)  # and outcomes by year
    await expect(
        page.get_by_role("img", name="Outcomes by year", exact=False).locator(
            "text", has_text="2 (50%)"
        )
    ).to_have_count(1)
    assert await serious_violations(page, "reports across years") == ""

    # feedback goes down: the download button leads to a page saying so, not a broken file
    await asyncio.to_thread(lambda: stack["feedback"].stop(20))
    await page.get_by_role("link", name="PDF for the funder").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Reports are not available right now"
    )
    await expect(page.get_by_role("alert")).to_contain_text("feedback service is not answering")
