"""Finnish, English and Swedish texts for every screen and e-mail a person sees.

Catalogues are JSON files, one per feature, in `locales/<lang>/` (key -> text, `{name}`
placeholders; keys start with the feature's name). Finnish and English are complete (a
unit test checks); Swedish falls back to English, then Finnish.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request

LANGUAGES = ("fi", "en", "sv")
DEFAULT_LANGUAGE = "fi"
LANGUAGE_NAMES = {"fi": "Suomeksi", "en": "In English", "sv": "På svenska"}
LANG_COOKIE = "womento_lang"
LOCALES = Path(__file__).parent / "locales"
FALLBACKS = {"fi": ("fi", "en"), "en": ("en", "fi"), "sv": ("sv", "en", "fi")}

Translate = Callable[..., str]


@cache
def catalogue(lang: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.json")):
        texts.update(json.loads(path.read_text(encoding="utf-8")))
    return texts


def text(key: str, lang: str, **values: object) -> str:
    """The text for `key` in `lang` (with fallbacks); a missing key shows itself, loudly."""
    for candidate in FALLBACKS.get(lang, FALLBACKS[DEFAULT_LANGUAGE]):
        found = catalogue(candidate).get(key)
        if found is not None:
            return found.format(**values) if values else found
    return f"[{key}]"


def translator(lang: str) -> Translate:
    def translate(key: str, **values: object) -> str:
        return text(key, lang, **values)

    return translate


def negotiate(request: Request) -> str:
    """`?lang=` beats the language cookie, which beats the browser's Accept-Language."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    header = request.headers.get("accept-language", "")
    ranked = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            ranked.append((float(q or 1), tag.split("-")[0].lower()))
        except ValueError:
            continue
    for _, tag in sorted(ranked, reverse=True):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
