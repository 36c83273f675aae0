"""The coordinator's report screens on real services: a simulated cycle's figures in the
tables beside the charts, the XLSX / PDF / research downloads as attachments that open, the
across-years page, and a 503 page while feedback is down."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from uuid import UUID, uuid4

from openpyxl import load_workbook
from pypdf import PdfReader

from services.intake import cycles as intake_cycles
from services.intake import service as intake_service
from services.intake.domain import CycleDates
from shared.clock import SystemClock
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from tests.e2e.test_reports import sim, simulate_cycle  # noqa: F401 (fixture)
from tests.e2e.test_surveys_feedback import Sim
from tests.helpers import add_coordinator, logged_in

CYCLE_NAME = "Kevät 2031"


async def intake_cycle(database_url: str) -> tuple[UUID, UUID]:
    """The organisation and the (draft) cycle in intake, for the names on the screens."""
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            org = await intake_service.create_organisation(
                session, name="Test NGO", slug=f"t-{uuid4().hex[:8]}", clock=SystemClock()
            )
            programme = await intake_cycles.create_programme(
                session, organisation_id=org, name="Career mentoring"
            )
            cycle = await intake_cycles.create_cycle(
                session,
                organisation_id=org,
                programme_id=programme,
                name=CYCLE_NAME,
                dates=CycleDates(
                    applications_open=date(2031, 1, 1),
                    applications_close=date(2031, 2, 15),
                    starts_on=date(2031, 3, 1),
                    ends_on=date(2031, 10, 31),
                ),
            )
        return org, cycle
    finally:
        await engine.dispose()


def rows_of(sheet) -> dict:  # type: ignore[no-untyped-def]
    return {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if r and r[0]}


def row(html: str, attribute: str) -> list[str]:
    """The cells of the table row marked `attribute` (e.g. data-outcome="other")."""
    found = re.search(rf"<tr {attribute}>(.*?)</tr>", html, re.S)
    assert found, attribute
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)
    ]


async def test_report_screen_downloads_and_across_years(sim: Sim, stack, db) -> None:  # noqa: F811
    stack.start("intake", **sim.env)
    sim.org, sim.cycle = await intake_cycle(stack.database_url)
    await simulate_cycle(sim, db)
    email = await add_coordinator(stack.database_url, sim.org)
    client = await logged_in(stack["intake"].base_url, email)
    try:
        screen = f"/coordinator/cycles/{sim.cycle}/report"
        shown = await client.get(screen)
        assert shown.status_code == 200, shown.text
        html = shown.text
        assert f"Raportti - {CYCLE_NAME}" in html
        assert row(html, 'data-outcome="employed_own_field"') == [
            "Työllistyi omalle alalle",
            "2",
            "50 %",
        ]
        assert row(html, 'data-outcome="none"')[:2] == ["Ei tulosta vielä", "2"]
        assert row(html, 'data-kind="baseline"') == ["Alkukysely", "6", "5", "83 %"]
        assert 'data-figure="pairs_formed">6<' in html
        assert 'data-figure="pairs_ended_early">1<' in html
        assert "Luottamus työnhakuun (Mentoroitavat)" in html and "+2,0" in html
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 3
        assert "Työllistyi omalle alalle" in html.split("<svg", 1)[1]  # the chart's own label
        queue = await client.get(f"/coordinator/cycles/{sim.cycle}")
        assert screen in queue.text

        english = (await client.get(f"{screen}?lang=en")).text
        assert row(english, 'data-outcome="employed_own_field"')[1:] == ["2", "50%"]

        xlsx = await client.get(f"{screen}/export/xlsx?lang=fi")
        assert xlsx.status_code == 200
        assert xlsx.headers["content-disposition"].startswith("attachment; filename=")
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        book = load_workbook(io.BytesIO(xlsx.content))
        summary = {r[0]: r[1] for r in book["Yhteenveto"].iter_rows(values_only=True) if r[0]}
        assert summary[CYCLE_NAME] is None and summary["Pareja muodostettu"] == 6

        pdf = await client.get(f"{screen}/export/pdf?lang=en")
        assert pdf.headers["content-type"] == "application/pdf"
        assert "attachment" in pdf.headers["content-disposition"]
        words = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert CYCLE_NAME in words and "Employed in own field 2 (50%)" in words

        research = await client.get(f"{screen}/export/research")
        assert research.headers["content-disposition"].endswith('.csv"')
        rows = list(csv.DictReader(io.StringIO(research.text)))
        assert len(rows) == 6 and {r["cohort"] for r in rows} == {"2031-03"}

        assert (await client.get(f"{screen}/export/docx")).status_code == 404
        assert (await client.get(f"/coordinator/cycles/{uuid4()}/report")).status_code == 404

        years = (await client.get("/coordinator/reports")).text
        assert row(years, 'data-year="2031"')[:9] == [
            "2031",
            "1",
            "10",
            "6",
            "5",
            "2 (50%)",
            "1 (25%)",
            "1 (25%)",
            "2",
        ]
        one_year = await client.get("/coordinator/reports/export/pdf?year=2031&lang=en")
        assert one_year.headers["content-type"] == "application/pdf"
        first_page = PdfReader(io.BytesIO(one_year.content)).pages[0].extract_text()
        assert "Womento programme report\n2031" in first_page
        none_then = await client.get("/coordinator/reports/export/xlsx?year=2029&lang=en")
        assert rows_of(load_workbook(io.BytesIO(none_then.content))["Summary"])["Cycles"] == 0
        assert (await client.get("/coordinator/reports/export/pdf?year=99")).status_code == 422
        across = await client.get("/coordinator/reports/export/xlsx?lang=en")
        assert [
            r[0]
            for r in load_workbook(io.BytesIO(across.content))["By year"].iter_rows(
                values_only=True
            )
        ] == ["Year", 2031]

        sim.stop()
        down = await client.get(f"{screen}?lang=fi")
        assert down.status_code == 503 and "Palautepalvelu ei vastaa" in down.text
        assert (await client.get(f"{screen}/export/pdf")).status_code == 503
    finally:
        await client.aclose()


async def test_a_cycle_feedback_has_not_seen_shows_no_figures_yet(stack, db) -> None:
    stack.start("intake", "feedback")
    org, cycle = await intake_cycle(stack.database_url)
    client = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, org)
    )
    try:
        shown = await client.get(f"/coordinator/cycles/{cycle}/report")
        assert shown.status_code == 200
        assert "Tälle jaksolle ei ole vielä lukuja" in shown.text
        other_org, _ = await intake_cycle(stack.database_url)
        stranger = await logged_in(
            stack["intake"].base_url, await add_coordinator(stack.database_url, other_org)
        )
        assert (await stranger.get(f"/coordinator/cycles/{cycle}/report")).status_code == 404
        assert (
            await stranger.get(f"/coordinator/cycles/{cycle}/report/export/pdf")
        ).status_code == 404
        await stranger.aclose()
    finally:
        await client.aclose()
