"""The report for the funder as a spreadsheet (XLSX) and a PDF, in Finnish or English, and
a pseudonymised export for research.

The research export has one row per mentee, a random pseudonym made for that export only,
no ids, names, free text or dates finer than a month, and small-group suppression (see
`suppress`): no published value of any column stands for fewer than `MIN_GROUP` people of
its cohort.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from services.feedback.charts import all_charts, decimal, label, percent
from services.feedback.report import (
    KINDS,
    LIKERT_KEYS,
    OUTCOME_GROUPS,
    OUTCOMES,
    ROLES,
    Report,
    ReportData,
)

MIN_GROUP = 5
SUPPRESSED = "*"

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "Womento-ohjelman raportti",
        "generated": "Laadittu",
        "summary": "Yhteenveto",
        "outcomes": "Tulokset",
        "scores": "Kyselyt",
        "rates": "Vastausprosentit",
        "meetings": "Tapaamiset",
        "years": "Vuosittain",
        "figure": "Luku",
        "value": "Arvo",
        "count": "Lukumäärä",
        "share": "Osuus",
        "group": "Ryhmä",
        "role": "Rooli",
        "question": "Kysymys",
        "kind": "Kysely",
        "mean": "Keskiarvo",
        "change": "Muutos alusta loppuun",
        "invited": "Kutsuttu",
        "completed": "Vastannut",
        "rate": "Vastausprosentti",
        "year": "Vuosi",
        "cycles": "Jaksoja",
        "applicants.mentee": "Hakijat, mentoroitavat",
        "applicants.mentor": "Hakijat, mentorit",
        "accepted.mentee": "Hyväksytyt, mentoroitavat",
        "accepted.mentor": "Hyväksytyt, mentorit",
        "withdrawn.mentee": "Keskeyttäneet, mentoroitavat",
        "withdrawn.mentor": "Keskeyttäneet, mentorit",
        "pairs_formed": "Pareja muodostettu",
        "pairs_completed": "Pareja loppuun asti",
        "pairs_running": "Pareja käynnissä",
        "pairs_ended_early": "Pareja päättyi kesken",
        "mentees": "Mentoroitavia",
        "with_outcome": "Mentoroitavia, joilla tulos",
        "no_outcome_yet": "Ei tulosta vielä",
        "meetings_held": "Tapaamisia pidetty",
        "meetings_per_pair": "Tapaamisia paria kohden",
        "months_met": "Kuukausia, joina tavattiin",
        "months_missed": "Kuukausia ilman tapaamista",
        "months_met_share": "Osuus suunnitelluista kuukausista",
        "pairs_meeting_monthly": "Pareja, jotka tapasivat joka kuukausi",
        "pairs_meeting_monthly_share": "Osuus pareista",
        "shares_note": "Osuudet lasketaan mentoroitavista, joilla on tulos.",
    },
    "en": {
        "title": "Womento programme report",
        "generated": "Generated",
        "summary": "Summary",
        "outcomes": "Outcomes",
        "scores": "Surveys",
        "rates": "Response rates",
        "meetings": "Meetings",
        "years": "By year",
        "figure": "Figure",
        "value": "Value",
        "count": "Count",
        "share": "Share",
        "group": "Group",
        "role": "Role",
        "question": "Question",
        "kind": "Survey",
        "mean": "Mean",
        "change": "Change baseline to end",
        "invited": "Invited",
        "completed": "Answered",
        "rate": "Response rate",
        "year": "Year",
        "cycles": "Cycles",
        "applicants.mentee": "Applicants, mentees",
        "applicants.mentor": "Applicants, mentors",
        "accepted.mentee": "Accepted, mentees",
        "accepted.mentor": "Accepted, mentors",
        "withdrawn.mentee": "Withdrawn, mentees",
        "withdrawn.mentor": "Withdrawn, mentors",
        "pairs_formed": "Pairs formed",
        "pairs_completed": "Pairs completed",
        "pairs_running": "Pairs still running",
        "pairs_ended_early": "Pairs ended early",
        "mentees": "Mentees",
        "with_outcome": "Mentees with an outcome",
        "no_outcome_yet": "No outcome yet",
        "meetings_held": "Meetings held",
        "meetings_per_pair": "Meetings per pair",
        "months_met": "Months with a meeting",
        "months_missed": "Months missed",
        "months_met_share": "Share of planned months met",
        "pairs_meeting_monthly": "Pairs meeting every month",
        "pairs_meeting_monthly_share": "Share of pairs",
        "shares_note": "Shares are over the mentees with an outcome.",
    },
}


def text(key: str, lang: str) -> str:
    return TEXTS.get(lang, TEXTS["en"]).get(key, key)


def summary_rows(report: Report, lang: str) -> list[tuple[str, int | float | None, str]]:
    """(label, number, number format) of the summary, in order; shares are 0-1 fractions."""
    rows: list[tuple[str, int | float | None, str]] = [(text("cycles", lang), report.cycles, "0")]
    for section in ("applicants", "accepted", "withdrawn"):
        counts: dict[str, int] = getattr(report, section)
        rows += [(text(f"{section}.{role}", lang), counts[role], "0") for role in ROLES]
    for key in ("pairs_formed", "pairs_completed", "pairs_running", "pairs_ended_early"):
        rows.append((text(key, lang), getattr(report, key), "0"))
    rows += [
        (text("mentees", lang), report.mentees, "0"),
        (text("with_outcome", lang), report.with_outcome, "0"),
        (text("no_outcome_yet", lang), report.no_outcome_yet, "0"),
    ]
    return rows


def meeting_rows(report: Report, lang: str) -> list[tuple[str, int | float | None, str]]:
    return [
        (text("meetings_held", lang), report.meetings_held, "0"),
        (text("meetings_per_pair", lang), report.meetings_per_pair, "0.0"),
        (text("months_met", lang), report.months_met, "0"),
        (text("months_missed", lang), report.months_missed, "0"),
        (text("months_met_share", lang), report.months_met_share, "0%"),
        (text("pairs_meeting_monthly", lang), report.pairs_meeting_monthly, "0"),
        (text("pairs_meeting_monthly_share", lang), report.pairs_meeting_monthly_share, "0%"),
    ]


# --- XLSX ---------------------------------------------------------------------------------


def _sheet(book: Workbook, title: str, header: Sequence[str]) -> Worksheet:
    sheet = book.create_sheet(title[:31])
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    sheet.column_dimensions["A"].width = 42
    for column in "BCDEFGHIJ":
        sheet.column_dimensions[column].width = 16
    return sheet


def _append(sheet: Worksheet, values: Sequence[Any], formats: Sequence[str | None]) -> None:
    sheet.append(list(values))
    for cell, number_format in zip(sheet[sheet.max_row], formats, strict=False):
        if number_format is not None and isinstance(cell.value, int | float):
            cell.number_format = number_format


def report_xlsx(report: Report, lang: str, title: str, generated: date) -> bytes:
    """One sheet per section; header rows; numbers as numbers, shares as percentages."""
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    summary = _sheet(book, text("summary", lang), [text("figure", lang), text("value", lang)])
    summary.append([title])
    summary.append([text("generated", lang), generated])
    summary.cell(summary.max_row, 2).number_format = "yyyy-mm-dd"
    for name, value, fmt in summary_rows(report, lang):
        _append(summary, [name, value], [None, fmt])

    outcomes = _sheet(
        book,
        text("outcomes", lang),
        [text("outcomes", lang), text("count", lang), text("share", lang)],
    )
    for outcome in OUTCOMES:
        _append(
            outcomes,
            [
                label(f"outcome.{outcome}", lang),
                report.outcome_counts[outcome],
                report.outcome_shares[outcome],
            ],
            [None, "0", "0%"],
        )
    _append(outcomes, [label("outcome.none", lang), report.no_outcome_yet], [None, "0"])
    outcomes.append([])
    outcomes.append([text("group", lang), text("count", lang), text("share", lang)])
    for group in OUTCOME_GROUPS:
        n = report.outcome_groups[group]
        share = n / report.with_outcome if report.with_outcome else None
        _append(outcomes, [label(f"group.{group}", lang), n, share], [None, "0", "0%"])
    outcomes.append([text("shares_note", lang)])

    kinds_header = [label(f"kind.{k}", lang) for k in KINDS]
    scores = _sheet(
        book,
        text("scores", lang),
        [
            text("role", lang),
            text("question", lang),
            *(f"{k} ({text('mean', lang)})" for k in kinds_header),
            *(f"{k} (n)" for k in kinds_header),
            text("change", lang),
            f"{text('change', lang)} (n)",
        ],
    )
    for row in report.scores:
        means = [row.by_kind[k].mean for k in KINDS]
        ns = [row.by_kind[k].n for k in KINDS]
        _append(
            scores,
            [
                label(f"role.{row.role}", lang),
                label(f"question.{row.question}", lang),
                *means,
                *ns,
                row.change.mean,
                row.change.n,
            ],
            [None, None, *["0.00"] * 4, *["0"] * 4, "+0.00;-0.00;0.00", "0"],
        )
    scores.column_dimensions["B"].width = 32

    rates = _sheet(
        book,
        text("rates", lang),
        [text("kind", lang), text("invited", lang), text("completed", lang), text("rate", lang)],
    )
    for rate in report.response_rates:
        _append(
            rates,
            [label(f"kind.{rate.kind}", lang), rate.invited, rate.completed, rate.rate],
            [None, "0", "0", "0%"],
        )

    meetings = _sheet(book, text("meetings", lang), [text("figure", lang), text("value", lang)])
    for name, value, fmt in meeting_rows(report, lang):
        _append(meetings, [name, value], [None, fmt])

    if report.years:
        years = _sheet(
            book,
            text("years", lang),
            [
                text("year", lang),
                *(name for name, _, _ in summary_rows(report, lang)),
                *(label(f"outcome.{o}", lang) for o in OUTCOMES),
            ],
        )
        for year, figures in report.years.items():
            numbers = [value for _, value, _ in summary_rows(figures, lang)]
            _append(
                years,
                [int(year), *numbers, *(figures.outcome_counts[o] for o in OUTCOMES)],
                ["0"] * (1 + len(numbers) + len(OUTCOMES)),
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- PDF ----------------------------------------------------------------------------------


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, str(self.page_no()), align="C")


def _table(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    pdf.set_font("Helvetica", size=9)
    first = 80 if len(header) <= 3 else 60
    rest = (pdf.epw - first) / max(len(header) - 1, 1)
    with pdf.table(
        col_widths=(first, *[rest] * (len(header) - 1)),
        text_align=("LEFT", *["RIGHT"] * (len(header) - 1)),
        first_row_as_headings=True,
        line_height=5.5,
    ) as table:
        table.row(list(header))
        for row in rows:
            table.row([str(cell) for cell in row])
    pdf.ln(4)


def _heading(pdf: FPDF, words: str) -> None:
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.cell(0, 9, words, new_x="LMARGIN", new_y="NEXT")


def _number(value: int | float | None, fmt: str, lang: str) -> str:
    if fmt == "0%":
        return percent(value, lang)
    if fmt == "0.0":
        return decimal(value, lang)
    return "-" if value is None else str(value)


def _for_pdf(svg: str) -> io.BytesIO:
    """fpdf2 draws the chart as vectors; it has no use for the accessible title/desc."""
    return io.BytesIO(re.sub(r"<(title|desc)\b[^>]*>.*?</\1>", "", svg).encode())


def report_pdf(report: Report, lang: str, title: str, generated: date) -> bytes:
    """The report with its charts (vector, from the same SVG as the screen) and tables."""
    pdf = _Pdf(format="A4")
    pdf.set_title(f"{text('title', lang)}: {title}")
    pdf.set_lang(lang)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=17)
    pdf.multi_cell(0, 9, f"{text('title', lang)}\n{title}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(
        0, 7, f"{text('generated', lang)} {generated.isoformat()}", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(3)
    _heading(pdf, text("summary", lang))
    _table(
        pdf,
        [text("figure", lang), text("value", lang)],
        [(name, _number(value, fmt, lang)) for name, value, fmt in summary_rows(report, lang)],
    )
    charts = all_charts(report, lang)
    pdf.add_page()
    _heading(pdf, text("outcomes", lang))
    pdf.image(_for_pdf(charts["outcomes"]), w=pdf.epw)
    pdf.ln(3)
    _table(
        pdf,
        [text("outcomes", lang), text("count", lang), text("share", lang)],
        [
            (
                label(f"outcome.{o}", lang),
                report.outcome_counts[o],
                percent(report.outcome_shares[o], lang),
            )
            for o in OUTCOMES
        ]
        + [(label("outcome.none", lang), report.no_outcome_yet, "")],
    )
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(0, 5, text("shares_note", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    _heading(pdf, text("scores", lang))
    pdf.image(_for_pdf(charts["scores"]), w=pdf.epw)
    pdf.ln(3)
    _table(
        pdf,
        [
            text("question", lang),
            *(label(f"kind.{k}", lang) for k in KINDS),
            text("change", lang),
        ],
        [
            (
                f"{label(f'question.{s.question}', lang)} ({label(f'role.{s.role}', lang)})",
                *(f"{decimal(s.by_kind[k].mean, lang)} (n={s.by_kind[k].n})" for k in KINDS),
                f"{decimal(s.change.mean, lang)} (n={s.change.n})",
            )
            for s in report.scores
        ],
    )
    pdf.add_page()
    _heading(pdf, text("rates", lang))
    pdf.image(_for_pdf(charts["rates"]), w=pdf.epw)
    pdf.ln(3)
    _table(
        pdf,
        [text("kind", lang), text("invited", lang), text("completed", lang), text("rate", lang)],
        [
            (label(f"kind.{r.kind}", lang), r.invited, r.completed, percent(r.rate, lang))
            for r in report.response_rates
        ],
    )
    _heading(pdf, text("meetings", lang))
    _table(
        pdf,
        [text("figure", lang), text("value", lang)],
        [(name, _number(value, fmt, lang)) for name, value, fmt in meeting_rows(report, lang)],
    )
    if report.years:
        pdf.add_page()
        _heading(pdf, text("years", lang))
        pdf.image(_for_pdf(charts["years"]), w=pdf.epw)
        pdf.ln(3)
        keys = ["applicants.mentee", "pairs_formed", "pairs_completed", "with_outcome"]
        _table(
            pdf,
            [text("year", lang), *(text(k, lang) for k in keys)],
            [
                (
                    year,
                    y.applicants["mentee"],
                    y.pairs_formed,
                    y.pairs_completed,
                    y.with_outcome,
                )
                for year, y in report.years.items()
            ],
        )
    return bytes(pdf.output())


# --- research export ----------------------------------------------------------------------

RESEARCH_KINDS = ("baseline", "end", "follow_up")


def research_rows(data: ReportData, today: date) -> list[dict[str, str]]:
    """One row per mentee: cohort month, outcome, how the pair went, closed answers at
    baseline, end and follow-up. No ids, names, free text or days."""
    starts = {c.cycle_id: c.starts_on for c in data.cycles}
    ends = {c.cycle_id: c.ends_on for c in data.cycles}
    people = {
        (p.cycle_id, p.person_id)
        for p in data.participants
        if p.role == "mentee" and not p.withdrawn
    }
    outcome = {(o.cycle_id, o.person_id): o.outcome for o in data.outcomes}
    people |= set(outcome)
    pair_state: dict[tuple[Any, Any], str] = {}
    for pair in data.pairs:
        end = ends.get(pair.cycle_id)
        if pair.ended_on is not None and (end is None or pair.ended_on < end):
            state = "ended_early"
        elif end is not None and today >= end:
            state = "completed"
        else:
            state = "running"
        pair_state[(pair.cycle_id, pair.mentee_id)] = state
    answers: dict[tuple[Any, Any], dict[str, str]] = {}
    for response in data.responses:
        if response.role != "mentee" or response.kind not in RESEARCH_KINDS:
            continue
        row = answers.setdefault((response.cycle_id, response.person_id), {})
        for key in (*LIKERT_KEYS, "employment_status"):
            value = response.answers.get(key)
            if isinstance(value, int | str) and not isinstance(value, bool):
                row[f"{key}_{response.kind}"] = str(value)
    rows = []
    for cycle_id, person_id in people:
        start = starts.get(cycle_id)
        rows.append(
            {
                "cohort": start.strftime("%Y-%m") if start else "",
                "outcome": outcome.get((cycle_id, person_id)) or "",
                "pair": pair_state.get((cycle_id, person_id), "no_pair"),
                **{c: answers.get((cycle_id, person_id), {}).get(c, "") for c in ANSWER_COLUMNS},
            }
        )
    return rows


ANSWER_COLUMNS = tuple(
    f"{key}_{kind}" for key in (*LIKERT_KEYS, "employment_status") for kind in RESEARCH_KINDS
)
RESEARCH_COLUMNS = ("cohort", "outcome", "pair", *ANSWER_COLUMNS)


def _suppress_column(rows: list[dict[str, str]], column: str, k: int, rng: random.Random) -> None:
    """Replace the values of `column` held by fewer than `k` of `rows` with `*`. When those
    together are fewer than `k` people, `*` would stand for one small, guessable group, so
    it is topped up to `k`: with randomly chosen rows of the rarest value that keeps at least
    `k` afterwards, or (if no value can spare them) with whole values, rarest first."""
    counts = Counter(row[column] for row in rows)
    ranked = sorted(counts, key=lambda value: (counts[value], value))
    hidden = {value for value in ranked if counts[value] < k}
    short = k - sum(counts[value] for value in hidden) if hidden else 0
    topped_up: list[dict[str, str]] = []
    if short > 0:
        donor = next((v for v in ranked if v not in hidden and counts[v] - short >= k), None)
        if donor is not None:
            topped_up = rng.sample([row for row in rows if row[column] == donor], short)
        else:
            for value in ranked:
                if sum(counts[h] for h in hidden) >= k:
                    break
                hidden.add(value)
    for row in rows:
        if row[column] in hidden:
            row[column] = SUPPRESSED
    for row in topped_up:
        row[column] = SUPPRESSED


def suppress(
    rows: list[dict[str, str]], k: int = MIN_GROUP, rng: random.Random | None = None
) -> list[dict[str, str]]:
    """Small-group suppression, precisely:

    1. fewer than `k` rows in all: nothing is published;
    2. `cohort`: a cohort of fewer than `k` mentees becomes `*`, topped up to `k` as in
       `_suppress_column`;
    3. every other column, within each cohort value (published or `*`): a value held by fewer
       than `k` rows becomes `*`, topped up in the same way.

    Afterwards every value of every column, `*` included, is held by at least `k` rows of its
    cohort, and every cohort has at least `k` rows.
    """
    if len(rows) < k:
        return []
    rng = rng or secrets.SystemRandom()
    rows = [dict(row) for row in rows]
    _suppress_column(rows, "cohort", k, rng)
    cohorts: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        cohorts.setdefault(row["cohort"], []).append(row)
    for members in cohorts.values():
        for column in RESEARCH_COLUMNS[1:]:
            _suppress_column(members, column, k, rng)
    return rows


def research_csv(data: ReportData, today: date, k: int = MIN_GROUP) -> bytes:
    """The pseudonymised, suppressed rows as CSV, in random order with random pseudonyms."""
    rows = suppress(research_rows(data, today), k)
    secrets.SystemRandom().shuffle(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["pseudonym", *RESEARCH_COLUMNS], lineterminator="\n")
    writer.writeheader()
    used: set[str] = set()
    for row in rows:
        pseudonym = secrets.token_hex(4)
        while pseudonym in used:
            pseudonym = secrets.token_hex(4)
        used.add(pseudonym)
        writer.writerow({"pseudonym": f"R{pseudonym}", **row})
    return out.getvalue().encode("utf-8")
