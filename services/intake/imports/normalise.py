"""Turning what people type into spreadsheets into the codes an application holds (pure).

Every function takes the cell's text and returns the code, or None for an empty cell;
a value that cannot be understood raises `Unrecognised`. Words are compared without case,
accents and punctuation (but ä, ö and å stay letters), in Finnish, English and Swedish.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from services.intake import reference
from shared.events import Cefr


class Unrecognised(ValueError):
    """The value was given but means nothing we know."""


def fold(text: str) -> str:
    """Casefolded, accents other than ä/ö/å stripped, punctuation to single spaces."""
    text = unicodedata.normalize("NFC", text.casefold())
    kept = "".join(
        c if c in "äöå" or c.isascii() else _strip_marks(c) for c in text.replace("\u2019", "'")
    )
    return " ".join(re.sub(r"[^\w]+|_", " ", kept).split())


def _strip_marks(c: str) -> str:
    return "".join(x for x in unicodedata.normalize("NFD", c) if not unicodedata.combining(x))


# --- yes / no --------------------------------------------------------------------------------

YES = frozenset(
    "kyllä kylla k joo juu on yes y ja j x 1 true tosi sant ok checked valittu agree "
    "hyväksyn hyvaksyn accept accepted samtycker godkänner consent".split()
)
NO = frozenset("ei e no n nej nei 0 false epätosi falskt none".split())
CHECK_MARKS = frozenset({"\u2713", "\u2714", "\u2611", "\u2705"})
YES_PHRASES = ("i agree", "i consent", "annan suostumukseni", "jag samtycker")


def yes_no(text: str) -> bool | None:
    """kyllä/ei, yes/no, ja/nej, x, 1/0, true/false; "Kyllä, annan suostumukseni" too."""
    if text.strip() in CHECK_MARKS:
        return True
    value = fold(text)
    if not value:
        return None
    if value in YES:
        return True
    if value in NO:
        return False
    if any(value.startswith(p) for p in YES_PHRASES):
        return True
    first = value.split()[0]
    if first in ("kyllä", "kylla", "yes", "ja", "joo"):
        return True
    if first in ("ei", "no", "nej"):
        return False
    raise Unrecognised(text)


WOMAN = frozenset("nainen naiseksi woman female f kvinna naisena".split())
NOT_WOMAN = frozenset("mies man male m muu other annan".split())


def woman(text: str) -> bool | None:
    """yes/no, or a gender: nainen/woman/female/kvinna -> yes, mies/man/male -> no."""
    value = fold(text)
    if value in WOMAN:
        return True
    if value in NOT_WOMAN:
        return False
    return yes_no(text)


# --- languages and levels ----------------------------------------------------------------------

NATIVE = frozenset(
    {
        "äidinkieli",
        "aidinkieli",
        "äidinkielenä",
        "äidinkielen tasoinen",
        "native",
        "native speaker",
        "mother tongue",
        "first language",
        "modersmål",
        "modersmal",
        "l1",
    }
)
_CEFR = re.compile(r"^\s*(?:cefr\s*)?([abc])\s*([12])(?:[.,]\d)?\b", re.IGNORECASE)


def cefr(text: str) -> Cefr | None:
    """A1..C2 (also "b1.1", "CEFR B2"), or äidinkieli/native/modersmål."""
    if not text.strip():
        return None
    if fold(text) in NATIVE:
        return Cefr.NATIVE
    yki = re.fullmatch(r"yki\s*([1-6])", fold(text))
    if yki:
        return list(Cefr)[int(yki.group(1)) - 1]
    found = _CEFR.match(text)
    if found:
        return Cefr(f"{found.group(1).upper()}{found.group(2)}")
    raise Unrecognised(text)


@cache
def _language_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("en", "fi"):
        for code, name in reference.languages(lang):
            names.setdefault(fold(name), code)
    names.update({"svenska": "sv", "finska": "fi", "engelska": "en", "suomen": "fi"})
    names.update({"englannin": "en", "ruotsin": "sv", "arabiska": "ar", "ryska": "ru"})
    return names


def language(text: str) -> str | None:
    """An ISO 639 code, or a language's name in Finnish or English (e.g. "arabia" -> "ar")."""
    value = fold(text)
    if not value:
        return None
    if reference.is_language(value):
        return value
    found = _language_names().get(value)
    if found is None:
        raise Unrecognised(text)
    return found


CONTACT_LANGUAGES = ("fi", "en", "sv")


def contact_language(text: str) -> str | None:
    """The language to write to the applicant in: fi, en or sv (code or name)."""
    code = language(text)
    if code is not None and code not in CONTACT_LANGUAGES:
        raise Unrecognised(text)
    return code


def other_languages(text: str) -> list[tuple[str, Cefr]]:
    """ "arabia äidinkieli; ranska B2", "ar: native, fr (B1)" -> [("ar", native), ("fr", B1)]."""
    skills: list[tuple[str, Cefr]] = []
    for part in re.split(r"[;,\n]+", text):
        words = fold(part)
        if not words:
            continue
        level: Cefr | None = None
        found = None
        for phrase in sorted(NATIVE, key=len, reverse=True):
            found = re.search(rf"(?:^| ){re.escape(phrase)}(?: |$)", words)
            if found:
                level = Cefr.NATIVE
                break
        if level is None:
            found = re.search(r"(?:^| )([abc])([12])(?: \d)?(?: |$)", words)
            if found is None:
                raise Unrecognised(part.strip())
            level = Cefr(f"{found.group(1).upper()}{found.group(2)}")
        assert found is not None
        code = language(f"{words[: found.start()]} {words[found.end() :]}")
        if code is None:
            raise Unrecognised(part.strip())
        skills.append((code, level))
    return skills


# --- places ----------------------------------------------------------------------------------


@cache
def _region_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code in (c for c, _ in reference.regions("fi")):
        found = reference.region(code)
        assert found is not None
        for name in (found.name_fi, found.name_sv, found.name_en):
            names[fold(name)] = code
    return names


def region(text: str) -> str | None:
    """A region (maakunta) by its code ("1", "01", "MK01") or its fi/sv/en name."""
    value = fold(text)
    if not value:
        return None
    digits = re.sub(r"^(mk|maakunta)\s*", "", value)
    if digits.isdigit() and reference.is_region(digits.zfill(2)):
        return digits.zfill(2)
    bare = re.sub(r"^the ", "", re.sub(r" (region|maakunta|landskap)$", "", value))
    for name in (value, bare):
        if name in _region_names():
            return _region_names()[name]
    raise Unrecognised(text)


@cache
def _municipality_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("fi", "sv"):
        for code, name in reference.municipalities(lang=lang):
            names.setdefault(fold(name), code)
    return names


def municipality(text: str) -> str | None:
    """A municipality by its three-digit code ("91" -> "091") or its fi/sv name."""
    value = fold(text)
    if not value:
        return None
    if value.isdigit() and reference.is_municipality(value.zfill(3)):
        return value.zfill(3)
    found = _municipality_names().get(value)
    if found is None:
        raise Unrecognised(text)
    return found


def region_of_municipality(code: str) -> str | None:
    found = reference.municipality(code)
    return found.region_code if found else None


@cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("en", "fi"):
        for code, name in reference.countries(lang):
            names.setdefault(fold(name), code)
    names.update({"usa": "US", "uk": "GB", "england": "GB", "suomi": "FI", "sverige": "SE"})
    return names


def country(text: str) -> str | None:
    """ISO 3166 alpha-2 code ("ua", "UA") or the country's name in English or Finnish."""
    value = fold(text)
    if not value:
        return None
    if len(value) == 2 and reference.is_country(value.upper()):
        return value.upper()
    found = _country_names().get(value)
    if found is None:
        raise Unrecognised(text)
    return found


# --- education -------------------------------------------------------------------------------

# word starts, checked from the highest level down: "ylempi AMK" is a master's degree
LEVEL_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (8, ("tohtor", "phd", "ph d", "doctor", "doktor", "lisensiaat", "licentia", "dsc", "dr")),
    (7, ("maister", "master", "magister", "ylemp", "msc", "ma", "mba", "diplomi", "diploma eng")),
    (6, ("kandidaat", "kandidat", "bachelor", "alemp", "amk", "ammattikorkeakoul", "bsc", "ba",
         "yrkeshögskol", "university of applied sciences", "lower university")),
    (5, ("opistoaste", "short cycle", "kortcyklisk")),
    (3, ("lukio", "ylioppilas", "upper secondary", "high school", "gymnasi", "ammattikoulu",
         "toinen aste", "vocational school")),
)  # fmt: skip


def education_level(text: str) -> int | None:
    """ISCED 2011 level: a number 0-8 ("ISCED 7" too), or words such as kandidaatti/bachelor
    (6), maisteri/master (7), tohtori/PhD (8)."""
    value = fold(text)
    if not value:
        return None
    number = re.fullmatch(r"(?:isced\s*)?([0-8])", value)
    if number:
        return int(number.group(1))
    for code, label in [*reference.isced_levels("fi"), *reference.isced_levels("en")]:
        if fold(label) == value:
            return int(code)
    padded = f" {value}"
    for level, starts in LEVEL_WORDS:
        if any(f" {start}" in padded for start in starts if len(start) > 3):
            return level
        if any(word in starts for word in value.split()):
            return level
    raise Unrecognised(text)


@cache
def _field_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("fi", "en"):
        for code, label in reference.isced_fields(lang):
            names.setdefault(fold(label), code)
    return names


def education_field(text: str) -> str | None:
    """ISCED-F 2013 code (a spreadsheet's 73 is read as "073") or a field's fi/en name."""
    value = fold(text)
    if not value:
        return None
    code = value.split()[0]
    if code.isdigit() and len(code) <= 4:
        for candidate in (code, code.zfill(2), code.zfill(3), code.zfill(4)):
            if reference.is_isced_field(candidate):
                return candidate
        if len(code) == 4:
            return code  # a detailed (four-digit) field: not in the shipped list, still valid
    found = _field_names().get(value)
    if found is None:
        raise Unrecognised(text)
    return found


# --- occupation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occupation:
    isco_code: str
    guessed_from: str | None = None
    """The text the code was guessed from (None when the file gave the code)."""
    matched_label: str | None = None


def occupation(text: str, lang: str = "fi") -> Occupation | None:
    """An ISCO-08 unit group by its code ("2142", "2142 Civil engineers") or, from a job
    title, the best hit of the occupation search."""
    value = text.strip()
    if not value:
        return None
    code = re.match(r"^\s*(\d{1,4})(?:\s|$|[-\u2013:.,])", value)
    if code:
        candidate = code.group(1).zfill(4)
        if reference.is_isco_unit(candidate):
            return Occupation(candidate)
        if value.isdigit():
            raise Unrecognised(text)
    hit = _top_hit(value, lang)
    if hit is None:  # "Software developer at Nokia", "Sairaanhoitaja (AMK)": the title alone
        title = re.split(r"[,(;/]| at | i | hos | in ", value, maxsplit=1)[0].strip()
        hit = _top_hit(title, lang) if title != value else None
    if hit is None:
        raise Unrecognised(text)
    return Occupation(hit[0], guessed_from=value, matched_label=hit[1])


@lru_cache(maxsize=4096)
def _top_hit(title: str, lang: str) -> tuple[str, str] | None:
    """(ISCO code, matched label) of the search's best hit; files repeat titles, so cached."""
    hits = reference.search_occupations(title, lang, limit=1)
    return (hits[0].isco_code, hits[0].matched_label) if hits else None


# --- numbers ---------------------------------------------------------------------------------


def birth_year(text: str) -> int | None:
    """1988, or the year of a date: 1988-05-01, 1.5.1988, 05/01/1988."""
    value = text.strip()
    if not value:
        return None
    if re.fullmatch(r"\d{4}", value):
        return int(value)
    found = re.fullmatch(r"(\d{4})-\d{1,2}-\d{1,2}(?:[ T].*)?", value) or re.fullmatch(
        r"\d{1,2}[./]\d{1,2}[./](\d{4})", value
    )
    if found:
        return int(found.group(1))
    raise Unrecognised(text)


def whole_number(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if re.fullmatch(r"\d{1,3}", value):
        return int(value)
    raise Unrecognised(text)


def email(text: str) -> str:
    value = text.strip()
    return value[7:] if value.lower().startswith("mailto:") else value


def phone(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    return "+" + value[2:] if value.startswith("00") else value
