"""One imported row -> an `ApplicationCreate`, or the reasons it cannot be one (pure).

Each row is mapped onto the same payload the public form and the JSON API produce, and
validated by the same model, so the three doors apply the same rules. What the form asks
on top of the model (a mentee gives her Finnish level; background answers only with the
background consent; employer and capacity only from mentors) applies here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ValidationError

from services.intake.imports import normalise as n
from services.intake.imports.fields import FIELDS
from services.intake.schemas import ApplicationCreate
from shared.events import Cefr, Role

T = TypeVar("T")
MAX_LANGUAGES = 12
SHOWN_VALUE_CHARS = 60

# where a validation error's location points, as an import field
FIELD_OF: dict[tuple[str, ...], str] = {
    ("contact", "given_name"): "given_name",
    ("contact", "family_name"): "family_name",
    ("contact", "email"): "email",
    ("contact", "phone"): "phone",
    ("contact", "language"): "language",
    ("profile", "isco_code"): "occupation",
    ("profile", "education_level"): "education_level",
    ("profile", "education_field"): "education_field",
    ("profile", "education_country"): "education_country",
    ("profile", "languages"): "languages",
    ("profile", "region"): "region",
    ("profile", "municipality"): "municipality",
    ("profile", "remote_ok"): "remote_ok",
    ("profile", "capacity"): "capacity",
    ("profile", "employer"): "employer",
    ("profile", "goals"): "goals",
    ("consents", "processing"): "consent_processing",
    ("birth_year",): "birth_year",
    ("identifies_as_woman",): "identifies_as_woman",
    ("background", "immigrant_background"): "immigrant_background",
    ("background", "country_of_origin"): "country_of_origin",
}
SPECIFIC = {
    "email": "bad_email",
    "consent_processing": "consent_missing",
    "occupation": "unknown_occupation",
}


@dataclass(frozen=True)
class Reason:
    """Why a row cannot be imported: `imports.reason.<code>` with the field and value."""

    code: str
    field: str | None = None
    value: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class RowResult:
    row: int
    given_name: str
    family_name: str
    email: str
    occupation: n.Occupation | None
    application: ApplicationCreate | None
    reasons: tuple[Reason, ...] = ()
    notes: tuple[Reason, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.application is not None and not self.reasons

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def email_key(self) -> str:
        return email_key(self.email)


def email_key(email: str) -> str:
    """What counts as the same e-mail (as the service's keyed digest sees it)."""
    return email.strip().casefold()


def _shown(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= SHOWN_VALUE_CHARS else value[: SHOWN_VALUE_CHARS - 1] + "…"


def build_row(
    number: int,
    values: Sequence[str],
    mapping: Mapping[str, int | None],
    *,
    cycle_id: UUID,
    role: Role,
    lang: str = "fi",
    default_language: str = "fi",
) -> RowResult:
    """The application one row describes, or the reasons it does not make one."""
    reasons: dict[str, Reason] = {}
    notes: list[Reason] = []

    def cell(name: str) -> str:
        index = mapping.get(name)
        return values[index].strip() if index is not None and 0 <= index < len(values) else ""

    def refuse(name: str, code: str, value: str | None = None) -> None:
        reasons.setdefault(name, Reason(code, name, _shown(value) if value else None))

    def read(name: str, parse: Callable[[str], T | None]) -> T | None:
        text = cell(name)
        try:
            return parse(text)
        except n.Unrecognised:
            refuse(name, SPECIFIC.get(name, "unrecognised"), text)
            return None

    def required(name: str) -> str:
        text = cell(name)
        if not text:
            refuse(name, "required")
        return text

    given, family = required("given_name"), required("family_name")
    email = n.email(required("email"))
    occupation = read("occupation", lambda text: n.occupation(text, lang))
    if occupation is None and not cell("occupation"):
        refuse("occupation", "required")
    education_level = read("education_level", n.education_level)
    if education_level is None and not cell("education_level"):
        refuse("education_level", "required")

    languages: list[dict[str, str]] = []

    def add_language(code: str, level: Cefr) -> None:
        if code not in {skill["language"] for skill in languages}:
            languages.append({"language": code, "level": level.value})

    finnish = read("finnish", n.cefr)
    if finnish:
        add_language("fi", finnish)
    english = read("english", n.cefr)
    if english:
        add_language("en", english)
    native = read("native_language", n.language)
    if native:
        add_language(native, Cefr.NATIVE)
    for code, level in read("other_languages", n.other_languages) or ():
        add_language(code, level)
    if role is Role.MENTEE and finnish is None and "finnish" not in reasons:
        refuse("finnish", "finnish_required")
    if not languages and not reasons.keys() & {"finnish", "english", "other_languages"}:
        refuse("languages", "languages_missing")
    if len(languages) > MAX_LANGUAGES:
        refuse("other_languages", "too_many_languages")

    municipality = read("municipality", n.municipality)
    region = read("region", n.region)
    if region is None and municipality and "region" not in reasons:
        region = n.region_of_municipality(municipality)
    if region is None and "region" not in reasons:
        refuse("region", "required")

    processing = read("consent_processing", n.yes_no)
    if not processing and "consent_processing" not in reasons:
        refuse("consent_processing", "consent_missing")
    background_consent = bool(read("consent_background", n.yes_no))
    immigrant = read("immigrant_background", n.yes_no)
    origin = read("country_of_origin", n.country)
    background = None
    if background_consent and immigrant is not None:
        background = {"immigrant_background": immigrant, "country_of_origin": origin}
    elif not background_consent and (immigrant is not None or origin):
        notes.append(Reason("background_ignored"))

    mentor = role is Role.MENTOR
    capacity = read("capacity", n.whole_number) if mentor else None
    employer = cell("employer") or None if mentor else None
    if mentor and not employer:
        refuse("employer", "employer_required")
    remote = read("remote_ok", n.yes_no)
    payload: dict[str, Any] = {
        "cycle_id": str(cycle_id),
        "role": role.value,
        "contact": {
            "given_name": given,
            "family_name": family,
            "email": email,
            "phone": read("phone", n.phone),
            "language": read("language", n.contact_language) or default_language,
        },
        "profile": {
            "isco_code": occupation.isco_code if occupation else "",
            "education_level": education_level,
            "education_field": read("education_field", n.education_field),
            "education_country": read("education_country", n.country),
            "languages": languages,
            "region": region,
            "municipality": municipality,
            "remote_ok": True if remote is None else remote,
            "goals": cell("goals") or None,
            "employer": employer,
            "capacity": (capacity or 1) if mentor else 1,
        },
        "consents": {
            "processing": bool(processing),
            "background": background_consent,
            "rollover": bool(read("consent_rollover", n.yes_no)),
        },
        "birth_year": read("birth_year", n.birth_year),
        "identifies_as_woman": None if mentor else read("identifies_as_woman", n.woman),
        "background": background,
    }
    application = None
    try:
        application = ApplicationCreate.model_validate(payload)
    except ValidationError as error:
        for name, code in validation_reasons(error):
            refuse(name, code, cell(name) if name in FIELDS else None)
    ordered = sorted(reasons.values(), key=lambda r: _order(r.field))
    return RowResult(
        row=number,
        given_name=given,
        family_name=family,
        email=email,
        occupation=occupation,
        application=None if ordered else application,
        reasons=tuple(ordered),
        notes=tuple(notes),
    )


def _order(name: str | None) -> int:
    return FIELDS.index(name) if name in FIELDS else len(FIELDS)


def validation_reasons(error: ValidationError) -> list[tuple[str, str]]:
    """(import field, reason code) for each problem the model found, first per field."""
    found: list[tuple[str, str]] = []
    for problem in error.errors():
        loc = tuple(str(part) for part in problem["loc"] if not isinstance(part, int))
        name = FIELD_OF.get(loc[:2]) or FIELD_OF.get(loc[:1])
        if name is None and problem["type"] == "value_error":
            message = str(problem.get("ctx", {}).get("error", ""))
            prefix = message.split(":")[0]
            name = {"profile.capacity": "capacity", "profile.employer": "employer"}.get(prefix)
            if name == "employer":
                found.append((name, "employer_required"))
                continue
        name = name or "form"
        code = SPECIFIC.get(name, "invalid")
        if problem["type"] == "missing" or (
            problem["type"] == "string_too_short" and problem.get("input") == ""
        ):
            code = "required"
        found.append((name, code))
    return found


def check_rows(
    rows: Iterable[tuple[int, Sequence[str]]],
    mapping: Mapping[str, int | None],
    *,
    cycle_id: UUID,
    role: Role,
    lang: str = "fi",
    default_language: str = "fi",
) -> list[RowResult]:
    """Every row's result; a later row with an e-mail seen on an earlier row is refused."""
    results = []
    first_row: dict[str, int] = {}
    for number, values in rows:
        result = build_row(
            number,
            values,
            mapping,
            cycle_id=cycle_id,
            role=role,
            lang=lang,
            default_language=default_language,
        )
        key = result.email_key
        if key and key in first_row:
            duplicate = Reason("duplicate_in_file", "email", _shown(result.email), first_row[key])
            result = _with_reason(result, duplicate)
        elif key:
            first_row[key] = number
        results.append(result)
    return results


def mark_existing(results: Iterable[RowResult], existing: set[str]) -> list[RowResult]:
    """Refuse the rows whose e-mail (`email_key`) already has an application in the cycle."""
    marked = []
    for result in results:
        if result.email_key and result.email_key in existing:
            result = _with_reason(
                result, Reason("duplicate_in_cycle", "email", _shown(result.email))
            )
        marked.append(result)
    return marked


def _with_reason(result: RowResult, reason: Reason) -> RowResult:
    if any(r.field == reason.field for r in result.reasons):
        return result
    return replace(result, application=None, reasons=(*result.reasons, reason))


@dataclass(frozen=True)
class Summary:
    total: int
    valid: int
    bad: int


def summarise(results: Sequence[RowResult]) -> Summary:
    valid = sum(1 for r in results if r.valid)
    return Summary(total=len(results), valid=valid, bad=len(results) - valid)
