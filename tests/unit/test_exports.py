"""The funder's spreadsheet and PDF read back with openpyxl and pypdf, and the research
export's pseudonyms and small-group suppression."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date
from uuid import uuid4

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.feedback.exports import (
    MIN_GROUP,
    RESEARCH_COLUMNS,
    SUPPRESSED,
    report_pdf,
    report_xlsx,
    research_csv,
    research_rows,
    suppress,
)
from services.feedback.report import (
    CycleRow,
    ParticipantRow,
    ReportData,
    ResponseRow,
    build_report_by_year,
)
from tests.unit.test_report_sample import CYCLE, TODAY, sample_data, sample_report

GENERATED = date(2031, 6, 1)


def rows_of(sheet) -> dict[str, list]:  # type: ignore[no-untyped-def]
    return {row[0]: list(row[1:]) for row in sheet.iter_rows(values_only=True) if row and row[0]}


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_xlsx_has_a_sheet_per_section_with_numbers_as_numbers(lang: str) -> None:
    book = load_workbook(io.BytesIO(report_xlsx(sample_report(), lang, "Spring 2030", GENERATED)))
    names = {
        "fi": ["Yhteenveto", "Tulokset", "Kyselyt", "Vastausprosentit", "Tapaamiset"],
        "en": ["Summary", "Outcomes", "Surveys", "Response rates", "Meetings"],
    }
    assert book.sheetnames == names[lang]
    summary = rows_of(book[names[lang][0]])
    pairs = "Pareja muodostettu" if lang == "fi" else "Pairs formed"
    assert summary[pairs] == [10]
    assert summary["Hakijat, mentoroitavat" if lang == "fi" else "Applicants, mentees"] == [25]
    outcomes = rows_of(book[names[lang][1]])
    own = outcomes["Työllistyi omalle alalle" if lang == "fi" else "Employed in own field"]
    assert own[0] == 3 and isinstance(own[0], int)
    assert own[1] == pytest.approx(3 / 9, abs=1e-4)
    assert book[names[lang][1]]["C2"].number_format == "0%"
    first = next(iter(book[names[lang][1]].iter_rows(min_row=1, max_row=1, values_only=True)))
    assert first[1] in ("Lukumäärä", "Count")


def test_xlsx_scores_rates_and_meetings_match_the_input() -> None:
    book = load_workbook(io.BytesIO(report_xlsx(sample_report(), "en", "Spring 2030", GENERATED)))
    scores = list(book["Surveys"].iter_rows(min_row=2, values_only=True))
    assert scores[0][:6] == ("Mentees", "Confidence in job search", 2.1, None, 3.67, None)
    assert scores[0][6:10] == (10, 0, 9, 0)
    assert scores[0][10] == pytest.approx(1.67) and scores[0][11] == 9
    rates = rows_of(book["Response rates"])
    assert rates["End"] == [10, 9, 0.9]
    meetings = rows_of(book["Meetings"])
    assert meetings["Meetings held"] == [64] and meetings["Share of planned months met"] == [0.8]


def test_xlsx_across_years_has_a_row_per_year() -> None:
    later = CycleRow(uuid4(), date(2031, 3, 1), date(2031, 10, 31))
    one, two = sample_data(), sample_data(later)
    data = ReportData(
        cycles=[*one.cycles, *two.cycles],
        pairs=[*one.pairs, *two.pairs],
        outcomes=[*one.outcomes, *two.outcomes[:4]],
    )
    report = build_report_by_year(data, today=TODAY)
    book = load_workbook(io.BytesIO(report_xlsx(report, "en", "All years", GENERATED)))
    years = list(book["By year"].iter_rows(values_only=True))
    header = list(years[0])
    assert [row[0] for row in years[1:]] == [2030, 2031]
    own = header.index("Employed in own field")
    assert [row[own] for row in years[1:]] == [3, 3]
    assert [row[header.index("Pairs formed")] for row in years[1:]] == [10, 10]


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_pdf_reads_back_with_the_figures_and_the_charts(lang: str) -> None:
    reader = PdfReader(io.BytesIO(report_pdf(sample_report(), lang, "Kevät 2030", GENERATED)))
    words = "\n".join(page.extract_text() for page in reader.pages)
    assert "Kevät 2030" in words
    if lang == "fi":
        assert "Pareja muodostettu 10" in words
        assert "Työllistyi omalle alalle 3 (33 %)" in words  # chart label (vector text)
        assert "Työllistyi omalle alalle 3 33 %" in words  # table beside it
        assert "Loppukysely 3,7 (n=9)" in words
        assert "Loppukysely 10 9 90 %" in words
    else:
        assert "Pairs formed 10" in words
        assert "Employed in own field 3 (33%)" in words
        assert "End 3.7 (n=9)" in words
        assert "Meetings held 64" in words
    assert len(reader.pages) >= 4


def test_research_rows_have_no_ids_no_days_no_free_text() -> None:
    data = sample_data()
    ids = {str(p.person_id) for p in data.participants} | {str(p.pair_id) for p in data.pairs}
    exported = research_csv(data, TODAY).decode()
    assert not any(i in exported for i in ids)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", exported)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 10
    assert {r["cohort"] for r in rows} == {"2030-03"}
    assert len({r["pseudonym"] for r in rows}) == 10
    again = {
        r["pseudonym"] for r in csv.DictReader(io.StringIO(research_csv(data, TODAY).decode()))
    }
    assert again.isdisjoint({r["pseudonym"] for r in rows})  # fresh pseudonyms each export


def test_research_export_suppresses_small_groups_in_the_sample() -> None:
    rows = list(csv.DictReader(io.StringIO(research_csv(sample_data(), TODAY).decode())))
    # outcomes: 3 own field, 3 confidence, 1+1+1 others, 1 none: nothing reaches 5
    assert {r["outcome"] for r in rows} == {SUPPRESSED}
    # baseline confidence: five 2s stay; 1 (x2) and 3 (x3) are hidden together (5 people)
    assert sorted(r["confidence_job_search_baseline"] for r in rows) == ["*"] * 5 + ["2"] * 5
    assert {r["employment_status_baseline"] for r in rows} == {"still_seeking"}


def test_a_small_group_is_topped_up_from_a_large_one_not_wiped_out() -> None:
    rows = [{c: "" for c in RESEARCH_COLUMNS} | {"cohort": "2030-03"} for _ in range(40)]
    for i, row in enumerate(rows):
        row["pair"] = "ended_early" if i < 2 else "completed"
    published = suppress(rows, rng=random.Random(7))
    pairs = [r["pair"] for r in published]
    assert pairs.count("completed") == 35 and pairs.count(SUPPRESSED) == 5
    assert "ended_early" not in pairs
    assert all(r["pair"] == SUPPRESSED for r in published[:2])


def test_fewer_than_five_mentees_publishes_nothing() -> None:
    small = ReportData(
        cycles=[CYCLE],
        participants=[ParticipantRow(CYCLE.cycle_id, uuid4(), "mentee") for _ in range(4)],
    )
    exported = research_csv(small, TODAY).decode().splitlines()
    assert exported == [",".join(["pseudonym", *RESEARCH_COLUMNS])]


def test_mentors_and_free_text_never_reach_the_research_export() -> None:
    data = sample_data()
    mentor = next(p for p in data.participants if p.role == "mentor")
    noisy = ReportData(
        **{
            **data.__dict__,
            "responses": [
                *data.responses,
                ResponseRow(CYCLE.cycle_id, mentor.person_id, "mentor", "end", {"x": 1}),
                ResponseRow(
                    CYCLE.cycle_id,
                    data.participants[0].person_id,
                    "mentee",
                    "end",
                    {"comments": "Nimeni on Amina"},
                ),
            ],
        }
    )
    assert len(research_rows(noisy, TODAY)) == 10
    assert "Amina" not in research_csv(noisy, TODAY).decode()


def _random_rows(rng: random.Random, n: int) -> list[dict[str, str]]:
    cohorts = [f"20{rng.randint(28, 31)}-0{rng.choice([3, 9])}" for _ in range(3)]
    return [
        {
            "cohort": rng.choice(cohorts),
            **{
                c: rng.choice(["", "1", "2", "3", "4", "5", "a", "b"][: rng.randint(1, 8)])
                for c in RESEARCH_COLUMNS[1:]
            },
        }
        for _ in range(n)
    ]


@pytest.mark.parametrize("seed", range(200))
def test_suppression_leaves_no_group_smaller_than_five(seed: int) -> None:
    """The rule's guarantee, on random exports: every cohort, and every value of every
    column within its cohort (`*` included), is held by at least five people."""
    rng = random.Random(seed)
    rows = _random_rows(rng, rng.randint(0, 60))
    published = suppress(rows, rng=random.Random(seed))
    if len(rows) < MIN_GROUP:
        assert published == []
        return
    assert len(published) == len(rows)
    cohorts: dict[str, list[dict[str, str]]] = {}
    for row in published:
        cohorts.setdefault(row["cohort"], []).append(row)
    for members in cohorts.values():
        assert len(members) >= MIN_GROUP
        for column in RESEARCH_COLUMNS[1:]:
            for value in {r[column] for r in members}:
                assert sum(r[column] == value for r in members) >= MIN_GROUP
    for before, after in zip(rows, published, strict=True):  # only ever hidden, never changed
        assert all(after[c] in (before[c], SUPPRESSED) for c in RESEARCH_COLUMNS)


def test_pdf_across_years_has_the_year_chart_and_table() -> None:
    later = CycleRow(uuid4(), date(2031, 3, 1), date(2031, 10, 31))
    one, two = sample_data(), sample_data(later)
    data = ReportData(
        cycles=[*one.cycles, *two.cycles],
        pairs=[*one.pairs, *two.pairs],
        participants=[*one.participants, *two.participants],
        outcomes=[*one.outcomes, *two.outcomes[:4]],
    )
    report = build_report_by_year(data, today=TODAY)
    reader = PdfReader(io.BytesIO(report_pdf(report, "en", "All years", GENERATED)))
    last = reader.pages[-1].extract_text()
    assert "Outcomes by year" in last
    assert "Work in own field 3 (75%)" in last  # 2031: 3 of the 4 with an outcome
    assert "2031 0 10 0 4" in last  # year, applicants, pairs formed, completed, with outcome
