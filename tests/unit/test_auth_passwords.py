"""Password policy and argon2id hashing of coordinators' passwords."""

import pytest
from argon2 import PasswordHasher

from services.intake.auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    WeakPassword,
    check_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("", "auth.password.too_short"),
        ("a" * (MIN_LENGTH - 1), "auth.password.too_short"),
        (" " * MIN_LENGTH, "auth.password.blank"),
        ("x" * (MAX_LENGTH + 1), "auth.password.too_long"),
        ("Maria.Virtanen@Example.org", "auth.password.is_email"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, code: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_policy(password, email="maria.virtanen@example.org")
    assert refused.value.code == code


@pytest.mark.parametrize(
    "password",
    ["a" * MIN_LENGTH, "correct horse battery staple", "sälasana ÅÄÖ 12", "x" * MAX_LENGTH],
)
def test_long_enough_passwords_pass_without_composition_rules(password: str) -> None:
    assert check_policy(password, email="maria@example.org") is None


def test_minimum_length_is_twelve() -> None:
    assert MIN_LENGTH == 12


def test_hashes_are_argon2id_salted_and_verify_only_the_right_password() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert first != second  # salted
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not verify_password("not a hash at all", "correct horse battery")


def test_weaker_parameters_need_a_rehash_and_current_ones_do_not() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("pw"))


def test_the_dummy_hash_is_a_real_hash_that_matches_no_ordinary_password() -> None:
    assert dummy_hash().startswith("$argon2id$")
    assert dummy_hash() is dummy_hash()  # computed once
    assert not verify_password(dummy_hash(), "correct horse battery staple")
