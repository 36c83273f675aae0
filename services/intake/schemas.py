"""The public JSON API's request and response models (validated at the edge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.intake import reference
from shared.events import IscoCode, LanguageSkill, Role

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The part before "@" in plain ASCII: mail servers that take other letters there (SMTPUTF8)
# are rare, and an address the mail layer cannot send to would leave her without any mail.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[^@\s]+\.[^@\s]+$",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactDetails(Strict):
    given_name: Name
    family_name: Name
    email: Email
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    language: Literal["fi", "en", "sv"] = "fi"


def _known(check: Callable[[str], bool], what: str) -> Callable[[str], str]:
    def validate(code: str) -> str:
        if not check(code):
            raise ValueError(f"unknown {what} code {code!r}")
        return code

    return validate


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_known(reference.is_country, "country")),
]
Availability = Literal["weekday_daytime", "weekday_evening", "weekend"]
CONSENT_VERSION = "2026-12"
"""Version of the consent texts the form shows (`intake.consent_texts`, migration 0013); a
change to their wording gets a new version, published by a migration."""


class ConsentsIn(Strict):
    processing: Literal[True] = Field(description="consent to handling the application (required)")
    background: bool = Field(
        default=False,
        description="consent to being asked about immigrant background and country of origin "
        "(special-category data)",
    )
    rollover: bool = Field(
        default=False, description="if waitlisted, move the application to the next cycle"
    )


class BackgroundIn(Strict):
    immigrant_background: bool
    country_of_origin: CountryCode | None = None


class ProfileIn(Strict):
    isco_code: IscoCode
    education_level: int = Field(
        ge=0, le=8, description="ISCED 2011 level (6 bachelor, 7 master, 8 PhD)"
    )
    education_field: str | None = Field(default=None, pattern=r"^\d{2,4}$")
    languages: tuple[LanguageSkill, ...] = Field(min_length=1, max_length=12)
    region: str = Field(min_length=2, max_length=8, description="Finnish region code")
    remote_ok: bool = True
    topics: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")], ...] = ()
    capacity: int = Field(default=1, ge=1, le=5)
    employer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    goals: Annotated[str, StringConstraints(max_length=4000)] | None = None
    education_country: CountryCode | None = None
    municipality: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] | None = None
    availability: tuple[Availability, ...] = ()

    @field_validator("isco_code")
    @classmethod
    def _isco_unit(cls, code: str) -> str:
        if not reference.is_isco_unit(code):
            raise ValueError(f"{code!r} is not an ISCO-08 unit group (4 digits)")
        return code

    @field_validator("education_field")
    @classmethod
    def _isced_field(cls, code: str | None) -> str | None:
        if code is not None and not (
            reference.is_isced_field(code) or reference.is_isced_field(code[:3])
        ):
            raise ValueError(f"unknown ISCED-F field {code!r}")
        return code

    @field_validator("region")
    @classmethod
    def _region(cls, code: str) -> str:
        return _known(reference.is_region, "region")(code)

    @field_validator("municipality")
    @classmethod
    def _municipality(cls, code: str | None) -> str | None:
        return None if code is None else _known(reference.is_municipality, "municipality")(code)

    @field_validator("languages")
    @classmethod
    def _languages(cls, skills: tuple[LanguageSkill, ...]) -> tuple[LanguageSkill, ...]:
        for skill in skills:
            _known(reference.is_language, "language")(skill.language)
        return skills


class ApplicationCreate(Strict):
    cycle_id: UUID
    role: Role
    contact: ContactDetails
    profile: ProfileIn
    consents: ConsentsIn
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    identifies_as_woman: bool | None = None
    background: BackgroundIn | None = Field(
        default=None, description="only with consents.background"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ApplicationCreate:
        if self.role is Role.MENTEE and self.profile.capacity != 1:
            raise ValueError("profile.capacity: only mentors take more than one mentee")
        if self.role is Role.MENTOR and not self.profile.employer:
            raise ValueError("profile.employer: a mentor names her employer")
        if self.background is not None and not self.consents.background:
            raise ValueError("background: asked only with consents.background")
        return self


class ApplicationPublic(Strict):
    application_id: UUID
    person_id: UUID
    status: str
