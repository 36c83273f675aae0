"""The report's charts as plain SVG: no script, readable at a glance, in greyscale and by a
screen reader.

- Every chart is `role="img"` with a `<title>` and a `<desc>` that states all its numbers.
- Every bar carries its number as text; colours come from the Okabe-Ito palette (safe for
  colour-blind readers), and the series of a paired chart differ in lightness and pattern
  (light, dark, hatched), so a greyscale print still tells them apart.
- Texts are in Finnish or English (`LABELS`); the same labels serve the exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from services.feedback.report import KINDS, OUTCOMES, Report

LANGS = ("fi", "en")
DARK_BLUE, ORANGE, SKY, GREY = "#0072B2", "#E69F00", "#56B4E9", "#6B6B6B"
TEXT = "#1A1A1A"

LABELS: dict[str, dict[str, str]] = {
    "fi": {
        "outcome.employed_own_field": "Työllistyi omalle alalle",
        "outcome.employed_other_field": "Työllistyi muulle alalle",
        "outcome.internship_or_temporary": "Harjoittelu tai määräaikainen työ",
        "outcome.further_education": "Jatko-opinnot",
        "outcome.confidence_no_change": "Itseluottamus kasvoi, ei muutosta vielä",
        "outcome.other": "Muu",
        "outcome.none": "Ei tulosta vielä",
        "group.work_in_own_field": "Työ omalla alalla",
        "group.step_forward": "Muu työ, harjoittelu tai opinnot",
        "group.confidence": "Itseluottamus kasvoi",
        "group.other": "Muu",
        "kind.baseline": "Alkukysely",
        "kind.midway": "Väliarvio",
        "kind.end": "Loppukysely",
        "kind.follow_up": "Seurantakysely",
        "question.confidence_job_search": "Luottamus työnhakuun",
        "question.finnish_at_work": "Suomen kieli työssä",
        "question.professional_network": "Ammatillinen verkosto",
        "question.satisfaction_pair": "Tyytyväisyys pariin",
        "role.mentee": "Mentoroitavat",
        "role.mentor": "Mentorit",
        "chart.outcomes": "Mentoroitavien tulokset",
        "chart.outcomes.desc": "Mentoroitavien tulokset: {items}.",
        "chart.scores": "Kyselyjen keskiarvot ennen ja jälkeen (1-5)",
        "chart.scores.desc": "Keskiarvot asteikolla 1-5: {items}.",
        "chart.rates": "Vastausprosentit kyselyittäin",
        "chart.rates.desc": "Vastanneet / kutsutut: {items}.",
        "chart.years": "Tulokset vuosittain (osuus mentoroitavista, joilla tulos)",
        "chart.years.desc": "Tulokset vuosittain: {items}.",
        "chart.empty": "Ei vielä lukuja",
        "n": "n",
    },
    "en": {
        "outcome.employed_own_field": "Employed in own field",
        "outcome.employed_other_field": "Employed in another field",
        "outcome.internship_or_temporary": "Internship or temporary job",
        "outcome.further_education": "Further education",
        "outcome.confidence_no_change": "Confidence gained, no change yet",
        "outcome.other": "Other",
        "outcome.none": "No outcome yet",
        "group.work_in_own_field": "Work in own field",
        "group.step_forward": "Other work, internship or studies",
        "group.confidence": "Confidence gained",
        "group.other": "Other",
        "kind.baseline": "Baseline",
        "kind.midway": "Mid-way",
        "kind.end": "End",
        "kind.follow_up": "Follow-up",
        "question.confidence_job_search": "Confidence in job search",
        "question.finnish_at_work": "Finnish at work",
        "question.professional_network": "Professional network",
        "question.satisfaction_pair": "Satisfaction with the pair",
        "role.mentee": "Mentees",
        "role.mentor": "Mentors",
        "chart.outcomes": "Outcomes of the mentees",
        "chart.outcomes.desc": "Outcomes of the mentees: {items}.",
        "chart.scores": "Survey scores before and after (1-5)",
        "chart.scores.desc": "Means on a 1-5 scale: {items}.",
        "chart.rates": "Response rates per survey",
        "chart.rates.desc": "Answered / invited: {items}.",
        "chart.years": "Outcomes by year (share of the mentees with an outcome)",
        "chart.years.desc": "Outcomes by year: {items}.",
        "chart.empty": "No figures yet",
        "n": "n",
    },
}


def label(key: str, lang: str) -> str:
    """A chart or export text; an unknown question key shows as itself."""
    texts = LABELS.get(lang, LABELS["en"])
    return texts.get(key, key.split(".", 1)[-1].replace("_", " "))


def percent(value: float | None, lang: str) -> str:
    if value is None:
        return "-"
    number = f"{value * 100:.0f}"
    return f"{number} %" if lang == "fi" else f"{number}%"


def decimal(value: float | None, lang: str, places: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if lang == "fi" else text


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    colour: str = DARK_BLUE
    hatched: bool = False


WIDTH, LABEL_W, BAR_H, GAP, TOP = 720, 300, 22, 8, 40
PLOT_W = WIDTH - LABEL_W - 150


def _svg(chart_id: str, title: str, desc: str, height: int, body: list[str]) -> str:
    t, d = f"{chart_id}-title", f"{chart_id}-desc"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{t} {d}" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="14">'
        f'<title id="{t}">{escape(title)}</title><desc id="{d}">{escape(desc)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="#FFFFFF"/>'
        f'<text x="0" y="20" font-size="16" font-weight="bold" fill="{TEXT}">'
        f"{escape(title)}</text>" + "".join(body) + "</svg>"
    )


def _hatch(x: float, y: float, width: float, height: float, step: float = 6) -> str:
    """Diagonal lines inside a rectangle (drawn, not a <pattern>, so that PDF shows them)."""
    lines = []
    offset = step
    while offset < width + height:
        x1, y1 = x + max(offset - height, 0), y + min(offset, height)
        x2, y2 = x + min(offset, width), y + max(offset - width, 0)
        lines.append(f"M{x1:.1f} {y1:.1f} L{x2:.1f} {y2:.1f}")
        offset += step
    if not lines:
        return ""
    return f'<path d="{" ".join(lines)}" stroke="{TEXT}" stroke-width="1.2" fill="none"/>'


def _bars(chart_id: str, bars: Sequence[Bar], top: float, scale_max: float) -> list[str]:
    body = []
    for i, bar in enumerate(bars):
        y = top + i * (BAR_H + GAP)
        width = PLOT_W * (bar.value / scale_max) if scale_max else 0
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H * 0.7:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{max(width, 1):.1f}" height="{BAR_H}" '
            f'fill="{bar.colour}" stroke="{TEXT}" stroke-width="0.5"/>'
            + (_hatch(LABEL_W, y, width, BAR_H) if bar.hatched else "")
            + f'<text x="{LABEL_W + width + 6:.1f}" y="{y + BAR_H * 0.7:.1f}" fill="{TEXT}">'
            f"{escape(bar.text)}</text>"
        )
    return body


def _horizontal(chart_id: str, title: str, desc: str, bars: Sequence[Bar], scale_max: float) -> str:
    height = TOP + len(bars) * (BAR_H + GAP) + 10
    return _svg(chart_id, title, desc, height, _bars(chart_id, bars, TOP, scale_max))


def outcome_chart(report: Report, lang: str, chart_id: str = "outcomes") -> str:
    """Horizontal bars: mentees per outcome (share of those with an outcome), and the number
    with no outcome yet in grey."""
    bars = [
        Bar(
            label(f"outcome.{o}", lang),
            report.outcome_counts.get(o, 0),
            f"{report.outcome_counts.get(o, 0)} ({percent(report.outcome_shares.get(o), lang)})",
        )
        for o in OUTCOMES
    ]
    bars.append(
        Bar(label("outcome.none", lang), report.no_outcome_yet, str(report.no_outcome_yet), GREY)
    )
    items = "; ".join(f"{b.label} {b.text}" for b in bars)
    scale = max([b.value for b in bars] + [1])
    return _horizontal(
        chart_id,
        label("chart.outcomes", lang),
        label("chart.outcomes.desc", lang).format(items=items),
        bars,
        scale,
    )


Style = dict[str, tuple[str, bool]]
"""Series key -> (fill colour, hatched)."""


def _grouped(
    chart_id: str,
    title: str,
    desc: str,
    legend: list[tuple[str, str, bool]],
    groups: list[tuple[str, list[Bar]]],
    scale_max: float,
    empty: str,
) -> str:
    """A legend, then per group its heading and its bars."""
    body: list[str] = []
    legend_x = 0
    for words, colour, hatched in legend:
        body.append(
            f'<rect x="{legend_x}" y="{TOP - 8}" width="14" height="14" fill="{colour}" '
            f'stroke="{TEXT}" stroke-width="0.5"/>'
            + (_hatch(legend_x, TOP - 8, 14, 14) if hatched else "")
            + f'<text x="{legend_x + 20}" y="{TOP + 4}" fill="{TEXT}">{escape(words)}</text>'
        )
        legend_x += 20 + 8 * len(words) + 24
    y = float(TOP + 24)
    for heading, bars in groups:
        body.append(
            f'<text x="0" y="{y + 14}" font-weight="bold" fill="{TEXT}">{escape(heading)}</text>'
        )
        y += 22
        body += _bars(chart_id, bars, y, scale_max)
        y += len(bars) * (BAR_H + GAP) + 6
    if not groups:
        body.append(f'<text x="0" y="{y + 14}" fill="{TEXT}">{escape(empty)}</text>')
        y += 24
    return _svg(chart_id, title, desc, int(y + 10), body)


def scores_chart(report: Report, lang: str, role: str = "mentee", chart_id: str = "scores") -> str:
    """Paired bars per Likert question: baseline (light blue), end (dark blue) and follow-up
    (white, hatched) means on the 1-5 scale, each with its n."""
    style: Style = {
        "baseline": (SKY, False),
        "end": (DARK_BLUE, False),
        "follow_up": ("#FFFFFF", True),
    }
    items: list[str] = []
    groups: list[tuple[str, list[Bar]]] = []
    for row in (s for s in report.scores if s.role == role):
        question = label(f"question.{row.question}", lang)
        bars = []
        for kind, (colour, hatched) in style.items():
            mean = row.by_kind.get(kind)
            if mean is None or mean.n == 0:
                continue
            text = f"{decimal(mean.mean, lang)} ({label('n', lang)}={mean.n})"
            bars.append(Bar(label(f"kind.{kind}", lang), mean.mean or 0, text, colour, hatched))
            items.append(f"{question}, {label(f'kind.{kind}', lang)} {text}")
        groups.append((question, bars))
    empty = label("chart.empty", lang)
    return _grouped(
        chart_id,
        label("chart.scores", lang),
        label("chart.scores.desc", lang).format(items="; ".join(items) or empty),
        [(label(f"kind.{k}", lang), c, h) for k, (c, h) in style.items()],
        groups,
        5,
        empty,
    )


YEAR_GROUPS: Style = {
    "work_in_own_field": (DARK_BLUE, False),
    "step_forward": (ORANGE, False),
    "confidence": ("#FFFFFF", True),
}


def years_chart(report: Report, lang: str, chart_id: str = "years") -> str:
    """Per year, Womento's three groups of outcomes: mentees and their share of those with an
    outcome (dark blue, orange, white hatched)."""
    items: list[str] = []
    groups: list[tuple[str, list[Bar]]] = []
    for year, figures in report.years.items():
        bars = []
        for group, (colour, hatched) in YEAR_GROUPS.items():
            n = figures.outcome_groups.get(group, 0)
            whole = figures.with_outcome
            text = f"{n} ({percent(n / whole if whole else None, lang)})"
            bars.append(
                Bar(label(f"group.{group}", lang), n / whole if whole else 0, text, colour, hatched)
            )
            items.append(f"{year}, {label(f'group.{group}', lang)} {text}")
        groups.append((year, bars))
    empty = label("chart.empty", lang)
    return _grouped(
        chart_id,
        label("chart.years", lang),
        label("chart.years.desc", lang).format(items="; ".join(items) or empty),
        [(label(f"group.{g}", lang), c, h) for g, (c, h) in YEAR_GROUPS.items()],
        groups,
        1,
        empty,
    )


def rates_chart(report: Report, lang: str, chart_id: str = "rates") -> str:
    """Horizontal bars: the share of invited people who answered, per survey kind."""
    bars = [
        Bar(
            label(f"kind.{r.kind}", lang),
            r.rate or 0,
            f"{r.completed}/{r.invited} ({percent(r.rate, lang)})",
            SKY,
        )
        for r in report.response_rates
        if r.kind in KINDS
    ]
    items = "; ".join(f"{b.label} {b.text}" for b in bars)
    return _horizontal(
        chart_id,
        label("chart.rates", lang),
        label("chart.rates.desc", lang).format(items=items),
        bars,
        1,
    )


def all_charts(report: Report, lang: str, prefix: str = "") -> dict[str, str]:
    """The charts of a report (and `years` across years), with ids unique on a page when
    `prefix` differs."""
    charts = {
        "outcomes": outcome_chart(report, lang, f"{prefix}outcomes"),
        "scores": scores_chart(report, lang, chart_id=f"{prefix}scores"),
        "rates": rates_chart(report, lang, f"{prefix}rates"),
    }
    if report.years:
        charts["years"] = years_chart(report, lang, f"{prefix}years")
    return charts
