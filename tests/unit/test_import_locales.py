"""Every import text a page uses exists in Finnish and English; Swedish only known keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.intake.imports.fields import FIELDS
from services.intake.imports.parse import ParseError

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "services" / "intake" / "web"
CODE = ROOT / "services" / "intake" / "imports"
REASONS = (
    "required unrecognised invalid unknown_occupation bad_email consent_missing "
    "finnish_required languages_missing too_many_languages employer_required "
    "duplicate_in_file duplicate_in_cycle background_ignored cycle_closed store_failed"
).split()
UPLOAD_ERRORS = (
    "role cycle_closed no_file wrong_type too_large empty no_rows unreadable "
    "too_many_columns too_many_rows"
).split()


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((WEB / "locales" / lang / "imports.json").read_text(encoding="utf-8"))


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*(WEB / "templates" / "imports").glob("*.html"), *CODE.glob("*.py")]:
        keys |= set(re.findall(r"""["'](imports\.[a-z_.]+[a-z_])["']""", path.read_text()))
    keys |= {f"imports.field.{f}" for f in (*FIELDS, "languages", "form")}
    keys |= {f"imports.hint.{f}" for f in FIELDS}
    keys |= {f"imports.reason.{r}" for r in REASONS}
    keys |= {f"imports.upload.error.{e}" for e in UPLOAD_ERRORS}
    keys |= {f"imports.role.{r}" for r in ("mentee", "mentor")}
    for reason in ("imported", "expired", "stale"):
        keys |= {f"imports.closed.{reason}.title", f"imports.closed.{reason}.text"}
    return keys


def test_the_scan_finds_the_keys() -> None:
    assert {
        "imports.upload.title",
        "imports.dry_run.summary",
        "imports.import.submit",
    } <= used_keys()


def test_every_parse_error_has_a_message() -> None:
    source = (CODE / "parse.py").read_text()
    kinds = set(re.findall(r'ParseError\("([a-z_]+)"', source))
    assert kinds and kinds <= set(UPLOAD_ERRORS)
    assert ParseError("empty").kind == "empty"


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_finnish_and_english_are_complete(lang: str) -> None:
    texts = catalogue(lang)
    missing = used_keys() - set(texts)
    assert not missing, missing
    assert set(texts) == set(catalogue("en"))
    assert all(key.startswith("imports.") for key in texts)
    assert all(value.strip() for value in texts.values())


def test_swedish_has_only_known_keys() -> None:
    assert set(catalogue("sv")) <= set(catalogue("en"))


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
def test_placeholders_match_english(lang: str) -> None:
    english = catalogue("en")
    for key, value in catalogue(lang).items():
        assert set(re.findall(r"{(\w+)}", value)) == set(re.findall(r"{(\w+)}", english[key])), key
