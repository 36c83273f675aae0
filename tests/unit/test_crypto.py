"""Personal data encryption (one key per person) and keyed digests."""

from __future__ import annotations

from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from services.intake.service import keyed_digest
from shared.crypto import NONCE_BYTES, PersonalDataVault, vault_for

SECRET = "s" * 40
OTHER_SECRET = "t" * 40
DETAILS = {
    "given_name": "Päivi",
    "family_name": "Mäkinen",
    "email": "paivi.makinen@example.fi",
    "phone": "+358 40 123 4567",
    "goals": "Löytää työ ohjelmistokehityksestä — 日本語も",
}


@pytest.fixture
def vault() -> PersonalDataVault:
    return PersonalDataVault(SECRET)


def test_round_trip_with_non_ascii(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = vault.encrypt(wrapped, person, DETAILS)
    assert vault.decrypt(wrapped, person, blob) == DETAILS
    assert vault.decrypt(wrapped, person, blob)["family_name"] == "Mäkinen"


def test_round_trip_survives_a_new_vault_with_the_same_secret(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = vault.encrypt(wrapped, person, DETAILS)
    assert PersonalDataVault(SECRET).decrypt(wrapped, person, blob) == DETAILS


def test_ciphertext_hides_the_details(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = vault.encrypt(wrapped, person, DETAILS)
    for secret in ("Päivi Mäkinen", "Päivi", "Mäkinen", "paivi.makinen@example.fi", "example.fi"):
        for encoding in ("utf-8", "utf-16-le", "latin-1"):
            try:
                needle = secret.encode(encoding)
            except UnicodeEncodeError:
                continue
            assert needle not in blob
            assert needle not in wrapped
    assert b"given_name" not in blob
    assert len(blob) > NONCE_BYTES + 16


def test_decrypt_with_another_persons_id_fails(vault: PersonalDataVault) -> None:
    person, other = uuid4(), uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = vault.encrypt(wrapped, person, DETAILS)
    with pytest.raises(InvalidTag):
        vault.decrypt(wrapped, other, blob)


def test_blob_cannot_be_moved_to_another_persons_key(vault: PersonalDataVault) -> None:
    person, other = uuid4(), uuid4()
    blob = vault.encrypt(vault.new_wrapped_key(person), person, DETAILS)
    with pytest.raises(InvalidTag):
        vault.decrypt(vault.new_wrapped_key(other), other, blob)


def test_a_vault_with_another_secret_cannot_decrypt(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = vault.encrypt(wrapped, person, DETAILS)
    with pytest.raises(InvalidTag):
        PersonalDataVault(OTHER_SECRET).decrypt(wrapped, person, blob)


def test_tampered_ciphertext_fails(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    blob = bytearray(vault.encrypt(wrapped, person, DETAILS))
    blob[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        vault.decrypt(wrapped, person, bytes(blob))


def test_two_encryptions_of_the_same_data_differ(vault: PersonalDataVault) -> None:
    person = uuid4()
    wrapped = vault.new_wrapped_key(person)
    first = vault.encrypt(wrapped, person, DETAILS)
    second = vault.encrypt(wrapped, person, DETAILS)
    assert first != second
    assert first[:NONCE_BYTES] != second[:NONCE_BYTES]
    assert vault.decrypt(wrapped, person, first) == vault.decrypt(wrapped, person, second)


def test_each_person_gets_a_fresh_key(vault: PersonalDataVault) -> None:
    person = uuid4()
    assert vault.new_wrapped_key(person) != vault.new_wrapped_key(person)


def test_vault_for_is_cached_per_secret() -> None:
    assert vault_for(SECRET) is vault_for(SECRET)
    assert vault_for(SECRET) is not vault_for(OTHER_SECRET)


def test_keyed_digest_ignores_case_and_surrounding_whitespace() -> None:
    a = keyed_digest(SECRET, "email", "Paivi.Makinen@Example.FI")
    b = keyed_digest(SECRET, "email", "  paivi.makinen@example.fi\n")
    assert a == b
    assert len(a) == 32
    assert keyed_digest(SECRET, "email", "PÄIVI@EXAMPLE.FI") == keyed_digest(
        SECRET, "email", "päivi@example.fi"
    )


def test_keyed_digest_distinguishes_values() -> None:
    assert keyed_digest(SECRET, "email", "a@example.fi") != keyed_digest(
        SECRET, "email", "b@example.fi"
    )


def test_keyed_digest_differs_per_purpose() -> None:
    value = "Nokia Oyj"
    assert keyed_digest(SECRET, "email", value) != keyed_digest(SECRET, "employer", value)


def test_keyed_digest_differs_per_secret() -> None:
    value = "paivi.makinen@example.fi"
    assert keyed_digest(SECRET, "email", value) != keyed_digest(OTHER_SECRET, "email", value)


def test_keyed_digest_is_not_a_plain_hash() -> None:
    import hashlib

    value = "paivi.makinen@example.fi"
    assert keyed_digest(SECRET, "email", value) != hashlib.sha256(value.encode()).digest()
