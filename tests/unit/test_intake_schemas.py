"""The intake API's request model: what an application may and may not contain."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.intake.schemas import ApplicationCreate
from shared.events import Role


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cycle_id": str(uuid4()),
        "role": "mentee",
        "contact": {
            "given_name": "Päivi",
            "family_name": "Mäkinen",
            "email": "paivi.makinen@example.fi",
            "phone": "+358 (40) 123-4567",
            "language": "fi",
        },
        "profile": {
            "isco_code": "2512",
            "education_level": 7,
            "education_field": "0613",
            "languages": [{"language": "fi", "level": "B1"}, {"language": "en", "level": "C1"}],
            "region": "01",
            "topics": ["cv", "networking"],
            "capacity": 1,
            "goals": "Työ ohjelmistoalalta",
        },
        "consents": {"processing": True},
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            base[section] = {**base[section], name: value}
        else:
            base[section] = value
    return base


def rejected(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        ApplicationCreate.model_validate(data)
    return info.value


def test_accepts_a_valid_payload() -> None:
    app = ApplicationCreate.model_validate(payload())
    assert app.role is Role.MENTEE
    assert app.contact.email == "paivi.makinen@example.fi"
    assert app.profile.languages[1].language == "en"
    assert app.profile.capacity == 1


def test_accepts_a_mentor_with_several_places_and_no_phone() -> None:
    data = payload(role="mentor", profile__capacity=3, profile__employer="Kone Oyj")
    del data["contact"]["phone"]
    app = ApplicationCreate.model_validate(data)
    assert app.role is Role.MENTOR
    assert app.profile.capacity == 3
    assert app.contact.phone is None


@pytest.mark.parametrize("where", ["top", "contact", "profile"])
def test_rejects_extra_fields(where: str) -> None:
    data = payload()
    if where == "top":
        data["is_admin"] = True
    else:
        data[where] = {**data[where], "nationality": "x"}
    error = rejected(data)
    assert any(e["type"] == "extra_forbidden" for e in error.errors())


@pytest.mark.parametrize(
    "email",
    [
        "paivi",
        "paivi@",
        "@example.fi",
        "paivi@example",
        "pa ivi@example.fi",
        "",
        "päivi@example.fi",  # the mail layer cannot send to it (no SMTPUTF8)
        "a@b@example.fi",
    ],
)
def test_rejects_bad_email(email: str) -> None:
    error = rejected(payload(contact__email=email))
    assert error.errors()[0]["loc"] == ("contact", "email")


def test_rejects_empty_languages() -> None:
    error = rejected(payload(profile__languages=[]))
    assert error.errors()[0]["loc"] == ("profile", "languages")


def test_rejects_a_mentee_with_capacity_two() -> None:
    error = rejected(payload(role="mentee", profile__capacity=2))
    assert len(error.errors()) == 1
    assert "capacity" in error.errors()[0]["msg"]


@pytest.mark.parametrize("phone", ["040 ABC 1234", "call me", "+358 40 123 456x", "12"])
def test_rejects_bad_phone(phone: str) -> None:
    error = rejected(payload(contact__phone=phone))
    assert error.errors()[0]["loc"] == ("contact", "phone")


def test_strips_whitespace_in_names_and_email() -> None:
    app = ApplicationCreate.model_validate(
        payload(
            contact__given_name="  Päivi ",
            contact__family_name="\tMäkinen\n",
            contact__email=" paivi.makinen@example.fi ",
        )
    )
    assert app.contact.given_name == "Päivi"
    assert app.contact.family_name == "Mäkinen"
    assert app.contact.email == "paivi.makinen@example.fi"


def test_rejects_a_blank_name() -> None:
    error = rejected(payload(contact__given_name="   "))
    assert error.errors()[0]["loc"] == ("contact", "given_name")


@pytest.mark.parametrize(
    ("key", "value", "loc"),
    [
        ("role", "coordinator", ("role",)),
        ("cycle_id", "not-a-uuid", ("cycle_id",)),
        ("profile__isco_code", "12345", ("profile", "isco_code")),
        ("profile__education_level", 9, ("profile", "education_level")),
        ("profile__capacity", 6, ("profile", "capacity")),
        ("profile__topics", ["Has Spaces"], ("profile", "topics", 0)),
        ("contact__language", "de", ("contact", "language")),
    ],
)
def test_rejects_out_of_range_values(key: str, value: Any, loc: tuple[Any, ...]) -> None:
    error = rejected(payload(**{"role": "mentor", key: value}))
    assert error.errors()[0]["loc"] == loc


def test_a_mentor_names_her_employer() -> None:
    error = rejected(payload(role="mentor", profile__capacity=2))
    assert "profile.employer" in str(error)


def test_processing_consent_is_required_and_background_needs_its_consent() -> None:
    data = payload()
    data["consents"] = {"processing": False}
    assert "consents" in str(rejected(data))
    data = payload()
    data["background"] = {"immigrant_background": True, "country_of_origin": "SY"}
    assert "background" in str(rejected(data))
    data["consents"] = {"processing": True, "background": True}
    assert ApplicationCreate.model_validate(data).background is not None


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("profile__isco_code", "9999", "isco_code"),
        ("profile__isco_code", "214", "isco_code"),
        ("profile__region", "99", "region"),
        ("profile__municipality", "000", "municipality"),
        ("profile__education_country", "QQ", "education_country"),
        ("profile__education_field", "0999", "education_field"),
        (
            "profile__languages",
            [{"language": "fi", "level": "B1"}, {"language": "zz", "level": "A1"}],
            "languages",
        ),
    ],
)
def test_codes_must_exist_in_the_shipped_reference_data(
    key: str, value: object, field: str
) -> None:
    error = rejected(payload(**{key: value}))
    assert any(field in (str(part) for part in e["loc"]) for e in error.errors())
