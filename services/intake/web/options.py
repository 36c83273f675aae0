"""Choices shown on forms, in the page's language, from the shipped reference data."""

from __future__ import annotations

from services.intake import reference
from shared.events import Cefr

CEFR_LEVELS = [level.value for level in Cefr]
TOPICS = (
    "cv_and_applications",
    "job_search_strategy",
    "networking",
    "finnish_at_work",
    "interview_practice",
    "recognition_of_degree",
    "workplace_culture",
    "career_change",
    "entrepreneurship",
    "further_education",
)
AVAILABILITY = ("weekday_daytime", "weekday_evening", "weekend")
EDUCATION_LEVELS = (5, 6, 7, 8)


def occupation_groups(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """ISCO-08 unit groups under their major groups, for a <select> with <optgroup>s."""
    groups = reference.isco_groups()
    majors = sorted(code for code, g in groups.items() if g.level == 1)
    result = []
    for major in majors:
        units = sorted(
            (code, f"{groups[code].label(lang)} ({code})")
            for code, g in groups.items()
            if g.level == 4 and code.startswith(major)
        )
        result.append((groups[major].label(lang), units))
    return result


def occupation_hits(query: str, lang: str) -> list[tuple[str, str]]:
    return [
        (hit.isco_code, f"{hit.isco_label} ({hit.isco_code}) · {hit.matched_label}")
        for hit in reference.search_occupations(query, lang, limit=20)
    ]
