"""Every auth text a page or message uses exists in Finnish and English."""

import json
import re
from pathlib import Path

import pytest

from services.intake.auth import ROLES

WEB = Path(__file__).resolve().parents[2] / "services" / "intake" / "web"
AUTH = WEB.parent / "auth"


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((WEB / "locales" / lang / "auth.json").read_text(encoding="utf-8"))


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*(WEB / "templates" / "auth").glob("*.html"), *AUTH.glob("*.py")]:
        keys |= set(re.findall(r"""["'](auth\.[a-z_]+\.[a-z_]+)["']""", path.read_text()))
    keys |= {f"auth.role.{role}" for role in ROLES}
    return keys


def test_the_scan_finds_the_keys() -> None:
    keys = used_keys()
    assert {"auth.login.email", "auth.error.throttled", "auth.password.too_short"} <= keys


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_finnish_and_english_are_complete(lang: str) -> None:
    texts = catalogue(lang)
    assert used_keys() <= set(texts)
    assert set(texts) == set(catalogue("en"))
    assert all(key.startswith("auth.") for key in texts)
    assert all(value.strip() for value in texts.values())


def test_swedish_has_only_known_keys() -> None:
    assert set(catalogue("sv")) <= set(catalogue("en"))


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
def test_placeholders_match_english(lang: str) -> None:
    english = catalogue("en")
    for key, value in catalogue(lang).items():
        assert set(re.findall(r"{(\w+)}", value)) == set(re.findall(r"{(\w+)}", english[key])), key
