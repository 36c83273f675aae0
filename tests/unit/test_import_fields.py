"""Guessing which column holds which field from the header (services/intake/imports/fields.py)."""

from __future__ import annotations

from services.intake.imports.fields import FIELDS, NAMES, guess_mapping, mapping_from_form


def guessed(columns: list[str]) -> dict[str, str]:
    return {f: columns[i] for f, i in guess_mapping(columns).items() if i is not None}


def test_finnish_headers() -> None:
    columns = [
        "Aikaleima",
        "Etunimi",
        "Sukunimi",
        "Sähköposti",
        "Puhelin",
        "Syntymävuosi",
        "Ammatti",
        "Korkein tutkinto",
        "Koulutusala",
        "Suomen kielen taso",
        "Englannin kielen taso",
        "Muut kielet",
        "Maakunta",
        "Kunta",
        "Etätapaamiset",
        "Tavoitteet",
        "Suostumus tietojen käsittelyyn",
        "Suostumus taustatietoihin",
        "Siirto seuraavaan ryhmään",
        "Maahanmuuttajatausta",
        "Lähtömaa",
    ]
    found = guessed(columns)
    assert found == {
        "given_name": "Etunimi",
        "family_name": "Sukunimi",
        "email": "Sähköposti",
        "phone": "Puhelin",
        "birth_year": "Syntymävuosi",
        "occupation": "Ammatti",
        "education_level": "Korkein tutkinto",
        "education_field": "Koulutusala",
        "finnish": "Suomen kielen taso",
        "english": "Englannin kielen taso",
        "other_languages": "Muut kielet",
        "region": "Maakunta",
        "municipality": "Kunta",
        "remote_ok": "Etätapaamiset",
        "goals": "Tavoitteet",
        "consent_processing": "Suostumus tietojen käsittelyyn",
        "consent_background": "Suostumus taustatietoihin",
        "consent_rollover": "Siirto seuraavaan ryhmään",
        "immigrant_background": "Maahanmuuttajatausta",
        "country_of_origin": "Lähtömaa",
    }


def test_english_form_tool_headers_with_questions_and_punctuation() -> None:
    columns = [
        "Timestamp",
        "First name",
        "Last name",
        "What is your e-mail address?",
        "Phone number",
        "Occupation / job title",
        "Highest degree",
        "Finnish language level",
        "English level",
        "Region",
        "Employer",
        "Number of mentees",
        "Consent",
    ]
    found = guessed(columns)
    assert found["given_name"] == "First name"
    assert found["family_name"] == "Last name"
    assert found["email"] == "What is your e-mail address?"
    assert found["occupation"] == "Occupation / job title"
    assert found["finnish"] == "Finnish language level"
    assert found["english"] == "English level"
    assert found["employer"] == "Employer"
    assert found["capacity"] == "Number of mentees"
    assert found["consent_processing"] == "Consent"
    assert "language" not in found  # "Finnish language level" is not the contact language
    assert "Timestamp" not in found.values()


def test_swedish_headers_and_case_and_spacing_do_not_matter() -> None:
    found = guessed(["FÖRNAMN", "  efternamn ", "E-post", "Landskap", "Kommun", "Modersmål"])
    assert found == {
        "given_name": "FÖRNAMN",
        "family_name": "  efternamn ",
        "email": "E-post",
        "region": "Landskap",
        "municipality": "Kommun",
        "native_language": "Modersmål",
    }


def test_each_column_goes_to_one_field_and_whole_matches_win() -> None:
    # "Suostumus" alone is the processing consent; the longer one is the background consent
    found = guessed(["Suostumus taustatietoihin", "Suostumus"])
    assert found == {
        "consent_background": "Suostumus taustatietoihin",
        "consent_processing": "Suostumus",
    }
    # two e-mail columns: the first takes the field, the second stays unmapped
    mapping = guess_mapping(["Email", "E-mail"])
    assert mapping["email"] == 0
    assert list(mapping.values()).count(1) == 0


def test_unknown_headers_map_to_nothing() -> None:
    assert set(guess_mapping(["Foo", "Bar", ""]).values()) == {None}


def test_every_field_has_names_and_a_field_guesses_its_own_names() -> None:
    assert set(NAMES) == set(FIELDS)
    for field in FIELDS:
        assert guess_mapping([NAMES[field][0]])[field] == 0, field


def test_the_posted_mapping_keeps_only_columns_of_the_file() -> None:
    mapping, problems = mapping_from_form(
        {"map_email": "1", "map_given_name": "0", "map_phone": "", "map_region": "9"},
        ["Etunimi", "Sähköposti"],
    )
    assert (mapping["email"], mapping["given_name"], mapping["phone"]) == (1, 0, None)
    assert mapping["region"] is None and problems == ["region"]
