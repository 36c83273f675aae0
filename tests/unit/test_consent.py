"""Consent's pure parts: which withdrawal is allowed and why not, her details and sealed
codes without her background answers, and the consent texts: the form shows exactly the
current version's published texts, and a published version is never edited."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from services.intake.consent.domain import (
    Given,
    Purpose,
    WithdrawalRefused,
    check_withdrawal,
    shown_text,
    without_background,
    without_background_codes,
)
from services.intake.domain import SEALED_CODES
from services.intake.schemas import CONSENT_VERSION
from services.intake.web.consent import day
from services.intake.web.i18n import LANGUAGES, text

MIGRATION = (
    Path(__file__).resolve().parents[2] / "services/intake/migrations/versions/0013_consents.py"
)
GIVEN_AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
PUBLISHED = {
    "2026-11": "2009bb67",
    "2026-12": "0d029c5e",
}
"""The first 8 hex digits of each published version's texts' SHA-256: edit a published
text and this fails (publish a new version in a new migration instead)."""


def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("consents_0013", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def given(purpose: str, withdrawn_at: datetime | None = None) -> Given:
    return Given(purpose, "2026-12", "fi", GIVEN_AT, withdrawn_at, "teksti")


def test_a_given_purpose_may_be_withdrawn() -> None:
    consents = [given("processing"), given("rollover")]
    assert check_withdrawal("rollover", consents) is Purpose.ROLLOVER
    assert check_withdrawal("processing", consents) is Purpose.PROCESSING


@pytest.mark.parametrize(
    ("purpose", "reason"),
    [("marketing", "unknown_purpose"), ("", "unknown_purpose"), ("background", "not_given")],
)
def test_an_unknown_or_never_given_purpose_is_refused_by_name(purpose: str, reason: str) -> None:
    with pytest.raises(WithdrawalRefused) as refused:
        check_withdrawal(purpose, [given("processing")])
    assert (refused.value.reason, refused.value.purpose) == (reason, purpose)


def test_a_second_withdrawal_is_refused_with_the_date_of_the_first() -> None:
    first = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with pytest.raises(WithdrawalRefused) as refused:
        check_withdrawal("background", [given("processing"), given("background", first)])
    assert refused.value.reason == "already_withdrawn"
    assert refused.value.withdrawn_at == first


def test_her_details_lose_the_background_answers_and_nothing_else() -> None:
    details = {
        "given_name": "Amina",
        "email": "amina@example.org",
        "background": {"immigrant_background": True, "country_of_origin": "SY"},
    }
    stripped = without_background(details)
    assert stripped == {"given_name": "Amina", "email": "amina@example.org", "background": None}
    assert details["background"] is not None  # the caller's dict is not changed


def test_only_the_codes_derived_from_background_are_dropped() -> None:
    codes = ["age_not_given", "not_in_target_group_background", "not_in_target_group_gender"]
    assert without_background_codes(codes) == ["age_not_given", "not_in_target_group_gender"]
    assert {"not_in_target_group_background"} <= SEALED_CODES


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("purpose", [p.value for p in Purpose])
def test_the_form_shows_the_current_versions_published_text(lang: str, purpose: str) -> None:
    hint_key = f"apply.consent.{purpose}_hint"
    hint = text(hint_key, lang)
    shown = shown_text(
        text(f"apply.consent.{purpose}", lang), None if hint == f"[{hint_key}]" else hint
    )
    assert migration().TEXTS[(purpose, CONSENT_VERSION, lang)] == shown


@pytest.mark.parametrize(("version", "digest"), sorted(PUBLISHED.items()))
def test_a_published_version_is_never_edited(version: str, digest: str) -> None:
    texts = {
        f"{purpose}/{lang}": body
        for (purpose, v, lang), body in migration().TEXTS.items()
        if v == version
    }
    assert len(texts) == len(Purpose) * len(LANGUAGES)
    content = json.dumps(texts, ensure_ascii=False, sort_keys=True).encode()
    assert hashlib.sha256(content).hexdigest()[:8] == digest


def test_every_version_the_form_records_is_published() -> None:
    assert CONSENT_VERSION in migration().VERSIONS


def test_dates_are_shown_in_finnish_time() -> None:
    assert day(datetime(2026, 12, 3, 22, 30, tzinfo=UTC)) == "4.12.2026"
