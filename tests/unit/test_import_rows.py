"""Rows -> applications or reasons (services/intake/imports/rows.py); pure, no database."""

from __future__ import annotations

from uuid import uuid4

from services.intake.imports.fields import guess_mapping
from services.intake.imports.rows import build_row, check_rows, mark_existing, summarise
from services.intake.schemas import ApplicationCreate
from shared.events import Cefr, Role

CYCLE = uuid4()
COLUMNS = [
    "Etunimi",
    "Sukunimi",
    "Sähköposti",
    "Ammatti",
    "Tutkinto",
    "Suomen kielen taso",
    "Muut kielet",
    "Maakunta",
    "Kunta",
    "Suostumus",
    "Suostumus taustatietoihin",
    "Maahanmuuttajatausta",
    "Lähtömaa",
    "Nainen",
    "Syntymävuosi",
    "Työnantaja",
    "Kapasiteetti",
]
MAPPING = guess_mapping(COLUMNS)
GOOD = {
    "Etunimi": "Olena",
    "Sukunimi": "Kovalenko",
    "Sähköposti": "olena@example.org",
    "Ammatti": "2142",
    "Tutkinto": "maisteri",
    "Suomen kielen taso": "B1",
    "Muut kielet": "ukraina äidinkieli; englanti C1",
    "Maakunta": "Uusimaa",
    "Kunta": "",
    "Suostumus": "kyllä",
    "Suostumus taustatietoihin": "kyllä",
    "Maahanmuuttajatausta": "kyllä",
    "Lähtömaa": "Ukraina",
    "Nainen": "kyllä",
    "Syntymävuosi": "1987",
    "Työnantaja": "",
    "Kapasiteetti": "",
}


def row(**changes: str) -> tuple[str, ...]:
    values = GOOD | changes
    return tuple(values[c] for c in COLUMNS)


def build(values: tuple[str, ...], role: Role = Role.MENTEE, number: int = 2):  # type: ignore[no-untyped-def]
    return build_row(number, values, MAPPING, cycle_id=CYCLE, role=role, lang="fi")


def codes(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [reason.code for reason in result.reasons]


def test_the_mapping_guessed_every_column() -> None:
    assert None not in {MAPPING[f] for f in ("given_name", "occupation", "consent_background")}


def test_a_good_row_becomes_the_same_model_the_form_and_api_build() -> None:
    result = build(row())

    assert result.valid and result.reasons == ()
    application = result.application
    assert isinstance(application, ApplicationCreate)
    assert application.cycle_id == CYCLE and application.role is Role.MENTEE
    assert application.contact.email == "olena@example.org"
    assert application.contact.language == "fi"
    assert application.profile.isco_code == "2142"
    assert application.profile.education_level == 7
    assert application.profile.region == "01"
    assert [(s.language, s.level) for s in application.profile.languages] == [
        ("fi", Cefr.B1),
        ("uk", Cefr.NATIVE),
        ("en", Cefr.C1),
    ]
    assert application.consents.processing and application.consents.background
    assert application.background is not None
    assert application.background.country_of_origin == "UA"
    assert application.identifies_as_woman is True and application.birth_year == 1987
    assert application.profile.employer is None and application.profile.capacity == 1


def test_missing_consent_bad_email_unknown_occupation_are_named() -> None:
    result = build(row(**{"Suostumus": "ei", "Sähköposti": "olena(at)example", "Ammatti": "xyzzy"}))

    assert not result.valid and result.application is None
    assert codes(result) == ["bad_email", "unknown_occupation", "consent_missing"]
    email = result.reasons[0]
    assert (email.field, email.value) == ("email", "olena(at)example")


def test_empty_required_fields_are_each_reported_once() -> None:
    result = build(row(**{"Etunimi": "", "Sähköposti": "", "Tutkinto": "", "Maakunta": ""}))

    assert [(r.code, r.field) for r in result.reasons] == [
        ("required", "given_name"),
        ("required", "email"),
        ("required", "education_level"),
        ("required", "region"),
    ]


def test_an_unknown_value_is_reported_with_the_value() -> None:
    result = build(row(**{"Maakunta": "Narnia", "Suomen kielen taso": "sujuva"}))

    assert {(r.code, r.field, r.value) for r in result.reasons} == {
        ("unrecognised", "region", "Narnia"),
        ("unrecognised", "finnish", "sujuva"),
    }


def test_mentees_need_finnish_as_on_the_form() -> None:
    result = build(row(**{"Suomen kielen taso": ""}))
    assert codes(result) == ["finnish_required"]


def test_region_comes_from_the_municipality_when_missing() -> None:
    result = build(row(**{"Maakunta": "", "Kunta": "Tampere"}))
    assert result.valid and result.application is not None
    assert (result.application.profile.region, result.application.profile.municipality) == (
        "06",
        "837",
    )


def test_background_without_its_consent_is_left_out_with_a_note() -> None:
    result = build(row(**{"Suostumus taustatietoihin": "ei"}))

    assert result.valid and result.application is not None
    assert result.application.background is None
    assert [note.code for note in result.notes] == ["background_ignored"]


def test_mentors_need_an_employer_and_may_take_several_mentees() -> None:
    no_employer = build(row(), role=Role.MENTOR)
    assert codes(no_employer) == ["employer_required"]

    mentor = build(row(**{"Työnantaja": "Kone Oyj", "Kapasiteetti": "3"}), role=Role.MENTOR)
    assert mentor.valid and mentor.application is not None
    assert mentor.application.profile.employer == "Kone Oyj"
    assert mentor.application.profile.capacity == 3
    assert mentor.application.identifies_as_woman is None  # asked of mentees only

    too_many = build(row(**{"Työnantaja": "Kone", "Kapasiteetti": "9"}), role=Role.MENTOR)
    assert [(r.code, r.field) for r in too_many.reasons] == [("invalid", "capacity")]


def test_mentees_capacity_and_employer_are_ignored() -> None:
    result = build(row(**{"Työnantaja": "Kone", "Kapasiteetti": "4"}))
    assert result.valid and result.application is not None
    assert result.application.profile.capacity == 1 and result.application.profile.employer is None


def test_occupation_text_is_guessed_and_the_guess_kept_for_the_dry_run() -> None:
    result = build(row(**{"Ammatti": "sairaanhoitaja"}))
    assert result.valid and result.occupation is not None
    assert (result.occupation.isco_code, result.occupation.guessed_from) == (
        "2221",
        "sairaanhoitaja",
    )


def test_duplicates_within_the_file_refuse_the_later_rows() -> None:
    rows = [
        (2, row()),
        (3, row(**{"Sähköposti": "other@example.org"})),
        (4, row(**{"Sähköposti": " OLENA@example.org "})),
    ]

    results = check_rows(rows, MAPPING, cycle_id=CYCLE, role=Role.MENTEE)

    assert [r.valid for r in results] == [True, True, False]
    duplicate = results[2].reasons[0]
    assert (duplicate.code, duplicate.row) == ("duplicate_in_file", 2)
    assert summarise(results).valid == 2 and summarise(results).bad == 1


def test_rows_already_in_the_cycle_are_refused() -> None:
    results = check_rows(
        [(2, row()), (3, row(**{"Sähköposti": "new@example.org"}))],
        MAPPING,
        cycle_id=CYCLE,
        role=Role.MENTEE,
    )

    marked = mark_existing(results, {"olena@example.org"})

    assert [r.valid for r in marked] == [False, True]
    assert marked[0].reasons[0].code == "duplicate_in_cycle" and marked[0].application is None


def test_a_mapping_without_the_required_columns_makes_every_row_bad() -> None:
    result = build_row(2, row(), {}, cycle_id=CYCLE, role=Role.MENTEE)
    assert not result.valid
    assert {"required", "consent_missing", "finnish_required"} <= set(codes(result))
