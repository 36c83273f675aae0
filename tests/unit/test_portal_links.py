"""Personal portal links: signed, expiring, tamper-evident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.intake.portal import (
    DEFAULT_VALIDITY,
    ExpiredLink,
    ForgedLink,
    LinkError,
    make_link,
    read_link,
    read_portal_link,
)

SECRET = "unit-test-secret"
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def test_a_link_reads_back_as_its_person_pair_and_cycle() -> None:
    person, pair, cycle = uuid4(), uuid4(), uuid4()
    token = make_link(SECRET, person, pair, NOW + DEFAULT_VALIDITY, cycle_id=cycle)
    assert read_link(SECRET, token, NOW) == (person, pair)
    link = read_portal_link(SECRET, token, NOW + timedelta(days=240))
    assert (link.cycle_id, link.expires_at) == (cycle, NOW + DEFAULT_VALIDITY)
    assert "/" not in token and "+" not in token and "=" not in token  # safe in a URL path


def test_the_default_validity_covers_eight_months() -> None:
    assert DEFAULT_VALIDITY >= timedelta(days=8 * 30)


@pytest.mark.parametrize("position", [0, 5, 20, -1, -10])
def test_an_altered_link_is_forged(position: int) -> None:
    token = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1))
    flipped = "A" if token[position] != "A" else "B"
    altered = token[:position] + flipped + (token[position + 1 :] if position != -1 else "")
    with pytest.raises(ForgedLink):
        read_link(SECRET, altered, NOW)


def test_a_payload_swapped_between_links_is_forged() -> None:
    mine = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1))
    theirs = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1))
    with pytest.raises(ForgedLink):
        read_link(SECRET, theirs.split(".")[0] + "." + mine.split(".")[1], NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 1000, "é.é"])
def test_garbage_is_forged(token: str) -> None:
    with pytest.raises(ForgedLink):
        read_link(SECRET, token, NOW)


def test_a_link_signed_with_another_secret_is_forged() -> None:
    token = make_link("another-secret", uuid4(), uuid4(), NOW + timedelta(days=1))
    with pytest.raises(ForgedLink):
        read_link(SECRET, token, NOW)


def test_a_link_expires_at_its_time_not_before() -> None:
    expires = NOW + timedelta(days=1)
    token = make_link(SECRET, uuid4(), uuid4(), expires)
    read_link(SECRET, token, expires - timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as expired:
        read_link(SECRET, token, expires)
    assert expired.value.reason == "expired" and isinstance(expired.value, LinkError)


def test_an_expired_and_altered_link_is_forged_not_expired() -> None:
    token = make_link(SECRET, uuid4(), uuid4(), NOW - timedelta(days=1))
    with pytest.raises(ForgedLink):
        read_link(SECRET, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), NOW)


def test_a_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError):
        make_link(SECRET, uuid4(), uuid4(), datetime(2030, 1, 1))
