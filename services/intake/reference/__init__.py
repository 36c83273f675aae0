"""Reference data for the application form and matching: occupations, places, languages, education.

The data are CSV files shipped in ``data/`` (see its README for sources and attribution).
Nothing is read at import time: every loader is cached with :func:`functools.cache` and
reads its file on first use.

Languages: ``"fi"``, ``"en"`` and ``"sv"`` (a tag such as ``"fi-FI"`` is accepted too).
Swedish labels exist only for regions and municipalities; elsewhere ``"sv"`` falls back to
English. Lists meant for a form come as ``(code, label)`` pairs sorted by label in the
requested language; for Finnish and Swedish the sort puts å, ä, ö after z, in that order.
The ISCED lists are the exception: they keep their natural code order (levels 0-8, broad
field followed by its narrow fields).
"""

from __future__ import annotations

import bisect
import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "SUPPORTED_LANGUAGES",
    "Country",
    "IscoGroup",
    "Lang",
    "Language",
    "Municipality",
    "Occupation",
    "OccupationHit",
    "Region",
    "countries",
    "esco_occupations",
    "is_country",
    "is_isced_field",
    "is_isced_level",
    "is_isco_unit",
    "is_language",
    "is_municipality",
    "is_region",
    "isced_fields",
    "isced_levels",
    "isco_ancestors",
    "isco_children",
    "isco_group",
    "isco_groups",
    "isco_label",
    "isco_parent",
    "languages",
    "municipalities",
    "municipality",
    "normalize_lang",
    "occupation_terms_fi",
    "region",
    "regions",
    "search_occupations",
    "sort_key",
]

Lang = Literal["fi", "en", "sv"]
SUPPORTED_LANGUAGES: tuple[Lang, ...] = ("fi", "en", "sv")

_DATA_PACKAGE = f"{__name__}.data"


# --- languages and sorting ------------------------------------------------------------------


def normalize_lang(lang: str) -> Lang:
    """``"fi"``, ``"FI"``, ``"fi-FI"``, ``"sv_FI"`` -> ``"fi"`` / ``"sv"``; anything else raises."""
    base = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    if base == "fi":
        return "fi"
    if base == "en":
        return "en"
    if base == "sv":
        return "sv"
    raise ValueError(f"unsupported language {lang!r}; expected one of {SUPPORTED_LANGUAGES}")


# å, ä, ö (and their Danish/Norwegian/German look-alikes) sort after z, in that order.
_NORDIC_ORDER = {"å": "\x7b", "ä": "\x7c", "æ": "\x7c", "ö": "\x7d", "ø": "\x7d", "ü": "y"}


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def sort_key(text: str, lang: str = "fi") -> tuple[str, str]:
    """A key for sorting labels the way a reader of ``lang`` expects.

    Case-insensitive; accents are ignored (é sorts as e), except that for Finnish and Swedish
    å, ä and ö are letters of their own after z (and ü sorts as y).
    """
    folded = unicodedata.normalize("NFC", text.casefold())
    if normalize_lang(lang) in ("fi", "sv"):
        primary = "".join(_NORDIC_ORDER.get(c) or _strip_marks(c) for c in folded)
    else:
        primary = _strip_marks(folded)
    return primary, text


def _sorted_pairs(pairs: Iterator[tuple[str, str]], lang: Lang) -> list[tuple[str, str]]:
    return sorted(pairs, key=lambda p: (*sort_key(p[1], lang), p[0]))


# --- loading --------------------------------------------------------------------------------


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files(_DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


# --- ISCO-08 --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IscoGroup:
    """One ISCO-08 group: major (1 digit), sub-major (2), minor (3) or unit group (4)."""

    code: str
    level: int
    label_en: str
    label_fi: str

    def label(self, lang: str = "fi") -> str:
        """Finnish for ``"fi"``; English for ``"en"`` and ``"sv"`` (no Swedish labels yet)."""
        return self.label_fi if normalize_lang(lang) == "fi" else self.label_en

    @property
    def parent(self) -> str | None:
        return self.code[:-1] if self.level > 1 else None

    @property
    def is_unit(self) -> bool:
        return self.level == 4


@cache
def isco_groups() -> dict[str, IscoGroup]:
    """Every ISCO-08 group by code, in hierarchical (file) order. Do not mutate."""
    return {
        r["code"]: IscoGroup(r["code"], int(r["level"]), r["label_en"], r["label_fi"])
        for r in _read("isco08.csv")
    }


def isco_group(code: str) -> IscoGroup | None:
    return isco_groups().get(code)


def _isco(code: str) -> IscoGroup:
    group = isco_groups().get(code)
    if group is None:
        raise KeyError(f"unknown ISCO-08 code {code!r}")
    return group


def isco_parent(code: str) -> str | None:
    """The code one level up (``"2221"`` -> ``"222"``), ``None`` for a major group."""
    return _isco(code).parent


def isco_ancestors(code: str) -> list[str]:
    """Codes above ``code``, nearest first: ``"2221"`` -> ``["222", "22", "2"]``."""
    _isco(code)
    return [code[:n] for n in range(len(code) - 1, 0, -1)]


def isco_children(code: str | None = None) -> list[str]:
    """Codes one level below ``code``, in code order; the major groups for ``None``."""
    if code is None:
        return [c for c, g in isco_groups().items() if g.level == 1]
    level = _isco(code).level + 1
    return [c for c, g in isco_groups().items() if g.level == level and c.startswith(code)]


def isco_label(code: str, lang: str = "fi") -> str:
    return _isco(code).label(lang)


def is_isco_unit(code: str) -> bool:
    group = isco_groups().get(code)
    return group is not None and group.is_unit


# --- occupations (ESCO + Finnish terms) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Occupation:
    """An ESCO occupation and the ISCO-08 unit group it belongs to."""

    isco_code: str
    name_en: str
    alt_labels_en: tuple[str, ...]


@cache
def esco_occupations() -> tuple[Occupation, ...]:
    return tuple(
        Occupation(
            r["isco_code"],
            r["occupation_en"],
            tuple(a.strip() for a in r["alt_labels_en"].split(" | ") if a.strip()),
        )
        for r in _read("esco_occupations.csv")
    )


@cache
def occupation_terms_fi() -> tuple[tuple[str, str], ...]:
    """``(isco_code, term_fi)`` pairs: common Finnish occupation words (a search aid)."""
    return tuple((r["isco_code"], r["term_fi"]) for r in _read("occupation_terms_fi.csv"))


MatchKind = Literal["exact", "prefix", "word_prefix", "substring", "words"]
_KINDS: dict[int, MatchKind] = {
    4: "exact",
    3: "prefix",
    2: "word_prefix",
    1: "substring",
    0: "words",
}


@dataclass(frozen=True, slots=True)
class OccupationHit:
    """One ISCO-08 unit group found by :func:`search_occupations`."""

    isco_code: str
    matched_label: str
    """The label that matched best, as written in its source."""
    matched_lang: Lang
    """Language of ``matched_label`` (``"en"`` for ESCO, ``"fi"`` for Finnish terms)."""
    isco_label: str
    """The unit group's label in the requested language."""
    match: MatchKind


_NON_WORD = re.compile(r"[\W_]+")
_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o"})


def _search_form(text: str) -> str:
    """Casefolded, accents stripped except å/ä/ö, punctuation to single spaces."""
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFC", folded)
        folded = "".join(c if c in "åäö" or c.isascii() else _strip_marks(c) for c in folded)
    return _NON_WORD.sub(" ", folded).strip()


@dataclass(frozen=True, slots=True)
class _Entry:
    isco_code: str
    label: str
    lang: Lang
    source_rank: int  # 0 ISCO unit label, 1 ESCO preferred / Finnish term, 2 ESCO alternative


@dataclass(frozen=True, slots=True)
class _Keys:
    """Search keys of every entry joined by newlines, with the offset where each starts."""

    text: str
    starts: tuple[int, ...]
    keys: tuple[str, ...]
    exact: dict[str, tuple[int, ...]]

    @classmethod
    def build(cls, keys: list[str]) -> _Keys:
        starts, pos = [], 0
        exact: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            starts.append(pos)
            pos += len(key) + 1
            exact.setdefault(key, []).append(i)
        return cls(
            "\n".join(keys),
            tuple(starts),
            tuple(keys),
            {k: tuple(v) for k, v in exact.items()},
        )

    def containing(self, needle: str, word_start: bool = False) -> set[int]:
        """Indexes of the entries whose key contains ``needle`` (at a word start if asked)."""
        found: set[int] = set()
        text, starts = self.text, self.starts
        if word_start:
            pattern = re.compile(r"(?:^|[ \n])" + re.escape(needle), re.MULTILINE)
            for m in pattern.finditer(text):
                found.add(bisect.bisect_right(starts, m.end() - 1) - 1)
            return found
        pos = text.find(needle)
        while pos != -1:
            i = bisect.bisect_right(starts, pos) - 1
            found.add(i)
            # skip the rest of this entry: its key is classified as a whole
            nxt = starts[i + 1] if i + 1 < len(starts) else len(text)
            pos = text.find(needle, nxt)
        return found


@dataclass(frozen=True, slots=True)
class _Index:
    entries: tuple[_Entry, ...]
    precise: _Keys  # keeps å/ä/ö
    folded: _Keys  # å/ä -> a, ö -> o


@cache
def _occupation_index() -> _Index:
    seen: dict[tuple[str, str], int] = {}
    entries: list[_Entry] = []
    precise: list[str] = []

    def add(code: str, label: str, lang: Lang, rank: int) -> None:
        key = _search_form(label)
        if not key:
            return
        at = seen.get((key, code))
        if at is None:
            seen[(key, code)] = len(entries)
            entries.append(_Entry(code, label, lang, rank))
            precise.append(key)
        elif rank < entries[at].source_rank:
            entries[at] = _Entry(code, label, lang, rank)

    for group in isco_groups().values():
        if group.is_unit:
            add(group.code, group.label_en, "en", 0)
            add(group.code, group.label_fi, "fi", 0)
    for code, term in occupation_terms_fi():
        add(code, term, "fi", 1)
    for occ in esco_occupations():
        add(occ.isco_code, occ.name_en, "en", 1)
        for alt in occ.alt_labels_en:
            add(occ.isco_code, alt, "en", 2)
    return _Index(
        tuple(entries),
        _Keys.build(precise),
        _Keys.build([k.translate(_FOLD) for k in precise]),
    )


def _classify(key: str, query: str) -> tuple[int, bool]:
    """(match class, whether the query ends at a word boundary there)."""
    if key == query:
        return 4, True
    if key.startswith(query):
        return 3, key[len(query)] == " "
    at = f" {key} ".find(f" {query}")
    if at != -1:
        return 2, f" {key} "[at + len(query) + 1] == " "
    return 1, False


_SHORT_QUERY = 3
"""Queries shorter than this match only at word starts (no substring search)."""


def search_occupations(query: str, lang: str = "fi", limit: int = 15) -> list[OccupationHit]:
    """ISCO-08 unit groups whose names match ``query``, best first, one hit per unit group.

    Searched: ESCO's English preferred and alternative occupation names, the project's
    Finnish occupation terms and the unit groups' own English and Finnish labels. Matching
    ignores case, accents and punctuation; å, ä and ö count as letters, but a query typed
    without them (``"insinoori"``) also finds the words that have them (``"insinööri"``).

    Ranking: exact label > label starts with the query > a word starts with the query >
    the query occurs inside a word > (several words) every word occurs somewhere. Within a
    class, a match of whole words beats a partial word ("nurse" before "nursery"); then the
    unit group with more matching names wins; then its own label and preferred names over
    alternative ones, labels in ``lang``, and shorter labels. Queries of one or two
    characters match only at the start of words.
    """
    wanted = normalize_lang(lang)
    q = _search_form(query)
    if not q or limit <= 0:
        return []
    index = _occupation_index()
    folded_query = q.translate(_FOLD)
    keys, q = (index.folded, folded_query) if q == folded_query else (index.precise, q)

    matched: dict[int, tuple[int, bool]] = {}
    for i in keys.exact.get(q, ()):
        matched[i] = (4, True)
    for i in keys.containing(q, word_start=len(q) < _SHORT_QUERY):
        if i not in matched:
            matched[i] = _classify(keys.keys[i], q)
    words = q.split()
    if len(words) > 1:
        common: set[int] | None = None
        for word in words:
            having = keys.containing(word, word_start=len(word) < _SHORT_QUERY)
            common = having if common is None else common & having
            if not common:
                break
        for i in common or ():
            matched.setdefault(i, (0, False))

    # per unit group: the best-ranked label, and how many of its labels matched at all
    best: dict[str, tuple[tuple[int, int, int, bool, int, str], int]] = {}
    counts: dict[str, int] = {}
    for i, (kind, whole) in matched.items():
        entry = index.entries[i]
        code = entry.isco_code
        counts[code] = counts.get(code, 0) + 1
        rank = (
            -kind,
            -whole,
            entry.source_rank,
            entry.lang != wanted,
            len(entry.label),
            entry.label,
        )
        if code not in best or rank < best[code][0]:
            best[code] = (rank, i)

    ordered = sorted(best, key=lambda c: (best[c][0][:2], -counts[c], best[c][0][2:], c))
    hits = []
    for code in ordered[:limit]:
        rank, i = best[code]
        entry = index.entries[i]
        hits.append(
            OccupationHit(code, entry.label, entry.lang, isco_label(code, wanted), _KINDS[-rank[0]])
        )
    return hits


# --- regions and municipalities ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Region:
    """A region of Finland (maakunta), by Statistics Finland's two-digit code."""

    code: str
    name_fi: str
    name_sv: str
    name_en: str

    def name(self, lang: str = "fi") -> str:
        lang = normalize_lang(lang)
        return self.name_fi if lang == "fi" else self.name_sv if lang == "sv" else self.name_en


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality (kunta), by Statistics Finland's three-digit code."""

    code: str
    name_fi: str
    name_sv: str
    region_code: str

    def name(self, lang: str = "fi") -> str:
        """English uses the Finnish name, except in Swedish-speaking Åland (Mariehamn)."""
        lang = normalize_lang(lang)
        if lang == "sv" or (lang == "en" and self.region_code == _ALAND):
            return self.name_sv
        return self.name_fi


_ALAND = "21"


@cache
def _regions() -> dict[str, Region]:
    return {
        r["code"]: Region(r["code"], r["name_fi"], r["name_sv"], r["name_en"])
        for r in _read("regions.csv")
    }


@cache
def _municipalities() -> dict[str, Municipality]:
    return {
        r["code"]: Municipality(r["code"], r["name_fi"], r["name_sv"], r["region_code"])
        for r in _read("municipalities.csv")
    }


def region(code: str) -> Region | None:
    return _regions().get(code)


def municipality(code: str) -> Municipality | None:
    return _municipalities().get(code)


@cache
def _region_pairs(lang: Lang) -> tuple[tuple[str, str], ...]:
    return tuple(_sorted_pairs(((r.code, r.name(lang)) for r in _regions().values()), lang))


def regions(lang: str = "fi") -> list[tuple[str, str]]:
    """The 19 regions (18 mainland + Åland) as ``(code, name)``, sorted by name."""
    return list(_region_pairs(normalize_lang(lang)))


@cache
def _municipality_pairs(region_code: str | None, lang: Lang) -> tuple[tuple[str, str], ...]:
    chosen = (
        m for m in _municipalities().values() if region_code is None or m.region_code == region_code
    )
    return tuple(_sorted_pairs(((m.code, m.name(lang)) for m in chosen), lang))


def municipalities(region_code: str | None = None, *, lang: str = "fi") -> list[tuple[str, str]]:
    """Municipalities as ``(code, name)``, sorted by name; only one region's if given."""
    return list(_municipality_pairs(region_code, normalize_lang(lang)))


def is_region(code: str) -> bool:
    return code in _regions()


def is_municipality(code: str) -> bool:
    return code in _municipalities()


# --- countries and languages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name_en: str
    name_fi: str

    def name(self, lang: str = "fi") -> str:
        return self.name_fi if normalize_lang(lang) == "fi" else self.name_en


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name_en: str
    name_fi: str

    def name(self, lang: str = "fi") -> str:
        return self.name_fi if normalize_lang(lang) == "fi" else self.name_en


@cache
def _countries() -> dict[str, Country]:
    return {
        r["code"]: Country(r["code"], r["name_en"], r["name_fi"]) for r in _read("countries.csv")
    }


@cache
def _languages() -> dict[str, Language]:
    return {
        r["code"]: Language(r["code"], r["name_en"], r["name_fi"]) for r in _read("languages.csv")
    }


@cache
def _country_pairs(lang: Lang) -> tuple[tuple[str, str], ...]:
    return tuple(_sorted_pairs(((c.code, c.name(lang)) for c in _countries().values()), lang))


@cache
def _language_pairs(lang: Lang) -> tuple[tuple[str, str], ...]:
    return tuple(_sorted_pairs(((c.code, c.name(lang)) for c in _languages().values()), lang))


def countries(lang: str = "fi") -> list[tuple[str, str]]:
    """Countries and territories (ISO 3166-1 alpha-2, plus XK Kosovo), sorted by name."""
    return list(_country_pairs(normalize_lang(lang)))


def languages(lang: str = "fi") -> list[tuple[str, str]]:
    """Languages (ISO 639-1, ISO 639-3 where there is no two-letter code), sorted by name."""
    return list(_language_pairs(normalize_lang(lang)))


def is_country(code: str) -> bool:
    return code in _countries()


def is_language(code: str) -> bool:
    return code in _languages()


# --- education (ISCED) ----------------------------------------------------------------------


@cache
def _isced(name: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((r["code"], r["label_en"], r["label_fi"]) for r in _read(name))


def _isced_pairs(name: str, lang: str) -> list[tuple[str, str]]:
    fi = normalize_lang(lang) == "fi"
    return [(code, label_fi if fi else label_en) for code, label_en, label_fi in _isced(name)]


def isced_levels(lang: str = "fi") -> list[tuple[str, str]]:
    """ISCED 2011 levels ``"0"`` … ``"8"`` as ``(code, label)``, in level order."""
    return _isced_pairs("isced.csv", lang)


def isced_fields(lang: str = "fi") -> list[tuple[str, str]]:
    """ISCED-F 2013 broad (2-digit) and narrow (3-digit) fields, in code order."""
    return _isced_pairs("isced_fields.csv", lang)


def is_isced_level(code: str) -> bool:
    return any(code == c for c, _, _ in _isced("isced.csv"))


def is_isced_field(code: str) -> bool:
    return any(code == c for c, _, _ in _isced("isced_fields.csv"))
