"""The report's SVG charts: valid, accessible, every number written, texts in fi and en."""

from __future__ import annotations

import re
from datetime import date
from uuid import uuid4
from xml.etree import ElementTree

import pytest

from services.feedback.charts import (
    LABELS,
    all_charts,
    outcome_chart,
    rates_chart,
    scores_chart,
    years_chart,
)
from services.feedback.report import CycleRow, ReportData, build_report, build_report_by_year
from tests.unit.test_report_sample import CYCLE, TODAY, sample_data, sample_report

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_every_chart_is_an_accessible_image_with_title_and_desc(lang: str) -> None:
    for name, svg in all_charts(sample_report(), lang, prefix="p-").items():
        root = ElementTree.fromstring(svg)
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and desc is not None and title.text and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert title.get("id", "").startswith(f"p-{name}")
        assert "<script" not in svg and "[" not in (title.text + desc.text)


def test_outcome_chart_writes_each_count_and_share() -> None:
    svg = outcome_chart(sample_report(), "en")
    words = texts(svg)
    assert "Employed in own field" in words and "3 (33%)" in words
    assert "Confidence gained, no change yet" in words
    assert "No outcome yet" in words and "1" in words
    desc = ElementTree.fromstring(svg).find(f"{SVG}desc")
    assert desc is not None and "Employed in own field 3 (33%)" in (desc.text or "")
    widths = {
        float(r.get("width", 0))
        for r in ElementTree.fromstring(svg).iter(f"{SVG}rect")
        if r.get("y") != "0" and r.get("x") == "300"
    }
    assert len(widths) >= 3  # bars differ with their counts


def test_outcome_chart_in_finnish_uses_decimal_comma_style_percent() -> None:
    words = texts(outcome_chart(sample_report(), "fi"))
    assert "Työllistyi omalle alalle" in words and "3 (33 %)" in words


def test_scores_chart_pairs_baseline_and_end_with_n() -> None:
    words = texts(scores_chart(sample_report(), "fi"))
    assert "Luottamus työnhakuun" in words
    assert "2,1 (n=10)" in words and "3,7 (n=9)" in words
    english = texts(scores_chart(sample_report(), "en"))
    assert "2.1 (n=10)" in english and "Baseline" in english and "End" in english


def test_series_differ_in_lightness_not_only_hue() -> None:
    svg = scores_chart(sample_report(), "en")
    fills = set(re.findall(r'<rect x="300"[^>]*fill="(#[0-9A-F]{6})"', svg))
    assert len(fills) == 2  # baseline and end present in the sample

    def luminance(colour: str) -> float:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted(luminance(f) for f in fills)
    assert dark - light > 0.25 or light - dark > 0.25


def test_rates_chart_answered_over_invited() -> None:
    words = texts(rates_chart(sample_report(), "en"))
    assert "10/10 (100%)" in words and "9/10 (90%)" in words and "0/0 (-)" in words


def test_empty_report_still_draws_and_says_so() -> None:
    empty = build_report(ReportData(cycles=[CYCLE]), today=TODAY)
    for lang in ("fi", "en"):
        for svg in all_charts(empty, lang).values():
            ElementTree.fromstring(svg)
        assert LABELS[lang]["chart.empty"] in texts(scores_chart(empty, lang))


def test_labels_are_complete_in_both_languages_and_pdf_safe() -> None:
    assert LABELS["fi"].keys() == LABELS["en"].keys()
    for lang in ("fi", "en"):
        for words in LABELS[lang].values():
            words.encode("latin-1")  # the PDF's core font


def test_years_chart_shows_womentos_groups_per_year() -> None:
    later = CycleRow(uuid4(), date(2031, 3, 1), date(2031, 10, 31))
    one, two = sample_data(), sample_data(later)
    data = ReportData(
        cycles=[*one.cycles, *two.cycles],
        participants=[*one.participants, *two.participants],
        outcomes=[*one.outcomes, *two.outcomes[:3]],  # 2031: three in own field so far
    )
    report = build_report_by_year(data, today=TODAY)
    charts = all_charts(report, "en")
    assert "years" in charts and "years" not in all_charts(sample_report(), "en")
    words = texts(charts["years"])
    assert "2030" in words and "2031" in words
    assert words.count("Work in own field") == 3  # legend and one bar per year
    # 2030: 3 own field, 3 other work / internship / studies, 3 confidence, of 9 with an outcome
    assert words.count("3 (33%)") == 3
    assert "3 (100%)" in words and words.count("0 (0%)") == 2  # 2031: 3 of 3 so far
    finnish = texts(years_chart(report, "fi"))
    assert "Työ omalla alalla" in finnish and "3 (100 %)" in finnish
