"""Partner webhooks' pure rules: Standard Webhooks signatures (with the spec's published test
vector), verification as a receiver does it, the retry schedule and what each response means."""

from __future__ import annotations

import pytest

from services.intake.partners import domain

# From the Standard Webhooks reference libraries' tests (libraries/python/tests/test_webhooks.py).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specs_test_vector() -> None:
    assert domain.sign_webhook(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    # The prefix is optional when given the secret, as in the spec's libraries.
    bare = SPEC_SECRET.removeprefix("whsec_")
    assert domain.sign_webhook(bare, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_are_the_three_standard_ones_and_json() -> None:
    headers = domain.webhook_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == {
        "content-type": "application/json",
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_verify_accepts_the_signed_body_and_returns_the_id() -> None:
    headers = domain.webhook_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert domain.verify_webhook(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP) == SPEC_ID
    # Header names are case-insensitive; one good signature among several is enough.
    mixed = {
        "Webhook-Id": SPEC_ID,
        "Webhook-Timestamp": str(SPEC_TIMESTAMP),
        "Webhook-Signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SPEC_SIGNATURE,
    }
    assert domain.verify_webhook(SPEC_SECRET, mixed, SPEC_BODY, now=SPEC_TIMESTAMP + 60) == SPEC_ID


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="},
        {"webhook-signature": "v2," + SPEC_SIGNATURE.removeprefix("v1,")},
        {"webhook-id": "msg_other"},
        {"webhook-timestamp": "hello"},
        {"webhook-timestamp": str(SPEC_TIMESTAMP - domain.WEBHOOK_TOLERANCE_SECONDS - 1)},
        {"webhook-timestamp": str(SPEC_TIMESTAMP + domain.WEBHOOK_TOLERANCE_SECONDS + 1)},
        {"webhook-id": ""},
    ],
)
def test_verify_refuses_tampering_and_stale_or_missing_headers(change: dict[str, str]) -> None:
    headers = {**domain.webhook_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), **change}
    with pytest.raises(domain.WebhookVerificationError):
        domain.verify_webhook(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_verify_refuses_another_body_or_secret() -> None:
    headers = domain.webhook_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    with pytest.raises(domain.WebhookVerificationError):
        domain.verify_webhook(SPEC_SECRET, headers, SPEC_BODY + b" ", now=SPEC_TIMESTAMP)
    with pytest.raises(domain.WebhookVerificationError):
        domain.verify_webhook(domain.new_webhook_secret(), headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = domain.new_webhook_secret()
    assert secret.startswith("whsec_") and len(domain.webhook_key(secret)) == 32
    assert domain.new_webhook_secret() != secret


def test_the_schedule_is_the_specs_example_and_gives_up_after_about_three_days() -> None:
    delays = [domain.retry_delay(n, 5.0) for n in range(1, domain.MAX_WEBHOOK_ATTEMPTS)]
    hours = 3600
    assert delays == [
        5,
        300,
        1800,
        2 * hours,
        5 * hours,
        10 * hours,
        14 * hours,
        20 * hours,
        24 * hours,
    ]
    assert domain.retry_delay(domain.MAX_WEBHOOK_ATTEMPTS, 5.0) is None
    assert 3 * 24 * hours < sum(d for d in delays if d) < 3.5 * 24 * hours
    # Jitter adds at most 10 %, never less than the schedule.
    assert domain.retry_delay(2, 5.0, jitter=0.999) == pytest.approx(330, rel=1e-3)
    assert domain.retry_delay(2, 5.0, jitter=-1) == 300


@pytest.mark.parametrize(
    ("status", "attempt", "outcome", "delay", "stop"),
    [
        (200, 1, "delivered", None, False),
        (204, 7, "delivered", None, False),
        (299, 1, "delivered", None, False),
        (410, 1, "failed", None, True),
        (500, 1, "retrying", 5.0, False),
        (404, 2, "retrying", 300.0, False),
        (301, 1, "retrying", 5.0, False),  # redirects are not followed
        (None, 1, "retrying", 5.0, False),  # timeout, refused, TLS, private address
        (500, domain.MAX_WEBHOOK_ATTEMPTS - 1, "retrying", 24 * 3600.0, False),
        (500, domain.MAX_WEBHOOK_ATTEMPTS, "failed", None, False),
        (None, domain.MAX_WEBHOOK_ATTEMPTS, "failed", None, False),
    ],
)
def test_classification(
    status: int | None, attempt: int, outcome: str, delay: float | None, stop: bool
) -> None:
    decision = domain.classify_attempt(status_code=status, attempt=attempt, base_seconds=5.0)
    assert decision == domain.DeliveryDecision(outcome, delay, stop)


def test_retry_after_lengthens_but_never_beyond_the_longest_step() -> None:
    slow = domain.classify_attempt(status_code=503, attempt=1, base_seconds=5.0, retry_after=120)
    assert slow.retry_in_seconds == 120
    short = domain.classify_attempt(status_code=429, attempt=2, base_seconds=5.0, retry_after=1)
    assert short.retry_in_seconds == 300
    huge = domain.classify_attempt(status_code=503, attempt=1, base_seconds=5.0, retry_after=1e9)
    assert huge.retry_in_seconds == 24 * 3600
    assert domain.parse_retry_after(" 30 ") == 30.0
    assert domain.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert domain.parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:0a00:0001::1", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::169.254.169.254", False),
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("64:ff9b:1::5db8:d822", False),  # local-use NAT64 prefix
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("not-an-address", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert domain.is_public_address(address) is public
