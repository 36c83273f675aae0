"""Personal portal links: signed, expiring, tamper-evident, revocable per person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.intake.portal import (
    DEFAULT_VALIDITY,
    ExpiredLink,
    ForgedLink,
    LinkError,
    RevokedLink,
    check_generation,
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


# --- revocation: the person's link generation ---------------------------------------------


def test_a_link_carries_her_link_generation() -> None:
    token = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1), generation=3)
    assert read_portal_link(SECRET, token, NOW).generation == 3


def test_a_link_made_before_revocation_existed_reads_as_generation_zero() -> None:
    """Generation 0 is left out of the token, so older tokens are byte for byte the same."""
    person, pair = uuid4(), uuid4()
    token = make_link(SECRET, person, pair, NOW + timedelta(days=1))
    assert token == make_link(SECRET, person, pair, NOW + timedelta(days=1), generation=0)
    assert read_portal_link(SECRET, token, NOW).generation == 0
    check_generation(0, 0)  # valid until her first revocation


def test_a_link_of_an_older_generation_is_revoked() -> None:
    token = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1), generation=1)
    link = read_portal_link(SECRET, token, NOW)
    check_generation(link.generation, 1)
    with pytest.raises(RevokedLink) as revoked:
        check_generation(link.generation, 2)
    assert revoked.value.reason == "revoked" and isinstance(revoked.value, LinkError)


def test_the_generation_cannot_be_raised_without_the_key() -> None:
    import base64
    import json

    token = make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1), generation=1)
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["g"] = 9
    raised = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(ForgedLink):
        read_portal_link(SECRET, f"{raised}.{signature}", NOW)


def test_a_negative_generation_is_refused() -> None:
    with pytest.raises(ValueError):
        make_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1), generation=-1)
