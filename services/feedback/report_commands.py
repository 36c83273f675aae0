"""Report queries: the figures with their charts (`GetReport`) and the files for the funder
and for research (`ExportReport`). Read-only; scoped to the envelope's organisation."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import charts, exports
from services.feedback.report import (
    Report,
    ReportData,
    build_report,
    build_report_by_year,
    cycles_of,
    gather,
)
from shared.commands import (
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    CommandRoute,
    ExportReport,
    GetReport,
    ReportQuery,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
MAX_FILE_BYTES = 700_000
"""NATS refuses messages over 1 MB; base64 adds a third, and the reply its envelope."""
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "research": "text/csv; charset=utf-8",
}


async def _scope(session: AsyncSession, query: ReportQuery, organisation_id: UUID) -> list[UUID]:
    given = [query.cycle_ids is not None, query.year is not None, query.all_years]
    if sum(given) != 1:
        raise CommandRejected(
            "scope", "give exactly one of cycle_ids, year or all_years", "cycle_ids"
        )
    if query.cycle_ids is not None:
        known = set(await cycles_of(session, organisation_id))
        if not query.cycle_ids or not set(query.cycle_ids) <= known:
            raise CommandRejected("unknown_cycle", "no such cycle", "cycle_ids")
        return list(dict.fromkeys(query.cycle_ids))
    return await cycles_of(session, organisation_id, year=query.year)


async def _figures(
    session: AsyncSession, query: ReportQuery, envelope: CommandEnvelope, ctx: CommandContext
) -> tuple[ReportData, Report, date]:
    cycle_ids = await _scope(session, query, envelope.organisationid)
    today = ctx.clock.now().astimezone(HELSINKI).date()
    data = await gather(session, envelope.organisationid, cycle_ids)
    across_years = query.cycle_ids is None
    build = build_report_by_year if across_years else build_report
    return data, build(data, today=today), today


async def get_report(
    session: AsyncSession, query: GetReport, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    data, report, _ = await _figures(session, query, envelope, ctx)
    return {
        "cycle_ids": [str(c.cycle_id) for c in data.cycles],
        "report": report.to_dict(),
        "charts": charts.all_charts(report, query.language, prefix="report-"),
    }


async def export_report(
    session: AsyncSession, query: ExportReport, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    data, report, today = await _figures(session, query, envelope, ctx)
    title = query.title or (str(query.year) if query.year else "")
    if query.format == "xlsx":
        content = exports.report_xlsx(report, query.language, title, today)
        filename = f"womento-report-{today.isoformat()}.xlsx"
    elif query.format == "pdf":
        content = exports.report_pdf(report, query.language, title, today)
        filename = f"womento-report-{today.isoformat()}.pdf"
    else:
        content = exports.research_csv(data, today)
        filename = f"womento-research-{today.isoformat()}.csv"
    return file_reply(content, filename, query.format)


def file_reply(content: bytes, filename: str, fmt: str) -> dict[str, Any]:
    """The reply carrying a file, or `too_large` when it would not fit in a NATS message."""
    if len(content) > MAX_FILE_BYTES:
        raise CommandRejected(
            "too_large",
            f"the file would be {len(content)} bytes, more than {MAX_FILE_BYTES}: "
            "choose fewer cycles",
            "format",
        )
    return {
        "filename": filename,
        "content_type": CONTENT_TYPES[fmt],
        "content_base64": base64.b64encode(content).decode(),
        "size": len(content),
    }


ROUTES = [CommandRoute(GetReport, get_report), CommandRoute(ExportReport, export_report)]
