"""Every text a person sees exists in Finnish and English (Swedish may fall back)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.intake.partners.domain import DELIVERY_ERRORS
from services.intake.web.i18n import LOCALES, catalogue
from shared.partner_events import PARTNER_EVENTS

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "intake" / "web" / "templates"
STATIC_KEY = re.compile(r"""_\(\s*["']([a-z0-9_.]+)["']\s*[,)]""")


def keys(lang: str) -> dict[str, set[str]]:
    return {
        p.name: set(json.loads(p.read_text(encoding="utf-8")))
        for p in (LOCALES / lang).glob("*.json")
    }


def test_finnish_and_english_have_the_same_texts_in_every_catalogue() -> None:
    fi, en = keys("fi"), keys("en")
    assert fi.keys() == en.keys()
    for name in fi:
        assert fi[name] == en[name], (
            f"{name}: only fi {fi[name] - en[name]}, only en {en[name] - fi[name]}"
        )


def test_swedish_has_no_text_the_others_lack() -> None:
    fi = set().union(*keys("fi").values())
    for name, sv in keys("sv").items():
        assert sv <= fi, f"{name}: {sv - fi}"


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_every_fixed_text_key_in_a_template_exists(template: Path) -> None:
    used = set(STATIC_KEY.findall(template.read_text(encoding="utf-8")))
    missing = {key for key in used if key not in catalogue("fi") or key not in catalogue("en")}
    assert not missing, f"{template.relative_to(TEMPLATES)} uses texts missing in fi/en: {missing}"


def test_no_text_is_empty() -> None:
    for lang in ("fi", "en", "sv"):
        assert all(value.strip() for value in catalogue(lang).values())


def test_every_partner_event_and_delivery_error_has_a_label_in_every_language() -> None:
    """The webhook delivery log shows these by name (with the raw code beside them)."""
    wanted = {f"partners.event.{cls.event_name()}" for cls in PARTNER_EVENTS.values()}
    wanted |= {f"partners.hook.error.{code}" for code in DELIVERY_ERRORS}
    for lang in ("fi", "en", "sv"):
        assert not wanted - catalogue(lang).keys(), lang
