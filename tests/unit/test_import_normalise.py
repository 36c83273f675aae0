"""What people type into spreadsheets -> codes (services/intake/imports/normalise.py)."""

from __future__ import annotations

import pytest

from services.intake.imports import normalise as n
from shared.events import Cefr


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Kyllä", True),
        ("kylla", True),
        ("ei", False),
        ("Ja", True),
        ("nej", False),
        ("x", True),
        ("X", True),
        ("1", True),
        ("0", False),
        ("TRUE", True),
        ("false", False),
        ("yes", True),
        ("No", False),
        ("✓", True),
        ("Kyllä, annan suostumukseni", True),
        ("Ei, en anna", False),
        ("I agree", True),
        ("", None),
        ("  ", None),
    ],
)
def test_yes_no_in_finnish_english_swedish(text: str, value: bool | None) -> None:
    assert n.yes_no(text) is value


@pytest.mark.parametrize("text", ["maybe", "ehkä", "2"])
def test_an_unclear_yes_no_is_not_guessed(text: str) -> None:
    with pytest.raises(n.Unrecognised):
        n.yes_no(text)


def test_woman_takes_genders_too() -> None:
    assert n.woman("Nainen") is True and n.woman("female") is True and n.woman("kyllä") is True
    assert n.woman("mies") is False and n.woman("ei") is False and n.woman("") is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("A1", Cefr.A1),
        ("b2", Cefr.B2),
        ("C1.1", Cefr.C1),
        ("B1 (intermediate)", Cefr.B1),
        ("YKI 4", Cefr.B2),
        ("äidinkieli", Cefr.NATIVE),
        ("Native", Cefr.NATIVE),
        ("modersmål", Cefr.NATIVE),
        ("", None),
    ],
)
def test_cefr_levels(text: str, level: Cefr | None) -> None:
    assert n.cefr(text) == level


@pytest.mark.parametrize("text", ["D1", "fluent", "hyvä"])
def test_unknown_levels(text: str) -> None:
    with pytest.raises(n.Unrecognised):
        n.cefr(text)


def test_other_languages_with_levels() -> None:
    assert n.other_languages("arabia äidinkieli; ranska B2") == [
        ("ar", Cefr.NATIVE),
        ("fr", Cefr.B2),
    ]
    assert n.other_languages("ar: native, fr (B1.2)") == [("ar", Cefr.NATIVE), ("fr", Cefr.B1)]
    assert n.other_languages("Russian C2") == [("ru", Cefr.C2)]
    assert n.other_languages("") == []
    with pytest.raises(n.Unrecognised):
        n.other_languages("French")  # no level
    with pytest.raises(n.Unrecognised):
        n.other_languages("Klingon B2")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("01", "01"),
        ("1", "01"),
        ("Uusimaa", "01"),
        ("uusimaa", "01"),
        ("Nyland", "01"),
        ("Varsinais-Suomi", "02"),
        ("Egentliga Finland", "02"),
        ("Southwest Finland", "02"),
        ("Pirkanmaa", "06"),
        ("Lapland", "19"),
        ("Lappi", "19"),
        ("", None),
    ],
)
def test_region_by_code_or_name(text: str, code: str | None) -> None:
    assert n.region(text) == code


def test_unknown_region_and_municipalities() -> None:
    with pytest.raises(n.Unrecognised):
        n.region("Narnia")
    assert n.municipality("Helsinki") == "091"
    assert n.municipality("Helsingfors") == "091"
    assert n.municipality("91") == "091"
    assert n.region_of_municipality("091") == "01"
    with pytest.raises(n.Unrecognised):
        n.municipality("Gotham")


def test_occupation_by_code_or_by_text() -> None:
    by_code = n.occupation("2142")
    assert by_code == n.Occupation("2142")
    assert n.occupation("110") == n.Occupation("0110")  # a spreadsheet dropped the zero
    assert n.occupation("2142 Civil engineers") == n.Occupation("2142")
    nurse = n.occupation("Sairaanhoitaja", "fi")
    assert nurse is not None and nurse.isco_code == "2221"
    assert nurse.guessed_from == "Sairaanhoitaja"
    developer = n.occupation("Software developer at Nokia", "en")
    assert developer is not None and developer.isco_code == "2512"
    assert n.occupation("") is None


@pytest.mark.parametrize("text", ["21", "9999", "xyzzy qwerty"])
def test_unknown_occupations(text: str) -> None:
    with pytest.raises(n.Unrecognised):
        n.occupation(text)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("6", 6),
        ("ISCED 7", 7),
        ("kandidaatti", 6),
        ("Bachelor of Science", 6),
        ("AMK-insinööri", 6),
        ("maisteri", 7),
        ("Master's degree", 7),
        ("Ylempi AMK", 7),
        ("Diplomi-insinööri", 7),
        ("tohtori", 8),
        ("PhD", 8),
        ("Ph.D.", 8),
        ("kandidatexamen", 6),
        ("lukio", 3),
        ("", None),
    ],
)
def test_education_level_by_number_or_words(text: str, level: int | None) -> None:
    assert n.education_level(text) == level


def test_education_field_country_language_birth_year() -> None:
    assert n.education_field("73") == "073"  # a spreadsheet's number
    assert n.education_field("Arkkitehtuuri ja rakentaminen") == "073"
    assert n.country("ua") == "UA" and n.country("Ukraine") == "UA" and n.country("Syyria") == "SY"
    assert n.contact_language("suomi") == "fi" and n.contact_language("svenska") == "sv"
    with pytest.raises(n.Unrecognised):
        n.contact_language("arabia")  # a language, but not one we write e-mails in
    assert n.language("arabia") == "ar" and n.language("Arabic") == "ar"
    assert n.birth_year("1.5.1988") == 1988 and n.birth_year("1988-05-01") == 1988
    with pytest.raises(n.Unrecognised):
        n.birth_year("eighty-eight")
    assert n.phone("00358 40 123") == "+358 40 123"
    assert n.email(" mailto:a@b.fi ") == "a@b.fi"
