"""Partners' pure rules: what a partner may see of each event, pseudonyms, credentials,
and the checks on what an organisation admin types. No I/O.

- `partner_event` turns one of the services' events into what partners get, or None:
  pairs under `pseudonym`, meetings by month only, outcomes without a person or a pair;
  `partner_envelope` wraps it for one partner, with a `time` no finer than its data
  (`partner_time`: a meeting's month, an outcome's day).
- A pseudonym is an HMAC of the pair id under a key of the partner's own, so the same pair
  has the same pseudonym in every event one partner gets, and different ones for two
  partners (who therefore cannot join what they hold).
- A partner's copy of an event has an id derived from the source event's id and the
  partner's, so a redelivered source event makes the same message (de-duplicated).
- A credential's secret is 256 random bits; only its SHA-256 digest is stored (a random
  secret of that length needs no slow hash), compared in constant time.
- Webhooks: Standard Webhooks signing and verifying, the retry schedule and what each
  response means (`classify_attempt`); the delivery itself is `partners.webhooks`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from shared import events as ev
from shared import natsauth
from shared import partner_events as pe
from shared.envelope import Envelope

MAX_NAME_LENGTH = 120
MAX_URL_LENGTH = 500
SECRET_BYTES = 32
MESSAGE_NAMESPACE = UUID("9a4c4f7e-5d43-4c8e-9b8a-6f1f4c3e2a10")
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_PREFIX = ipaddress.IPv6Network("64:ff9b:1::/48")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Pseudonym = Callable[[UUID], UUID]


class PartnerInputError(ValueError):
    """What an admin typed cannot be stored; `field` names the input, `code` the problem."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


def partner_event(
    event: ev.Event, pseudonym: Pseudonym, applications: tuple[int, int] = (0, 0)
) -> pe.PartnerEvent | None:
    """What a partner gets of `event` (None: nothing); `applications` = (mentees, mentors)
    received in the cycle, for `CycleClosed`."""
    match event:
        case ev.CycleOpened():
            return pe.CycleOpened(
                cycle_id=event.cycle_id,
                programme_id=event.programme_id,
                applications_open=event.applications_open,
                applications_close=event.applications_close,
                starts_on=event.starts_on,
                ends_on=event.ends_on,
            )
        case ev.CycleClosed():
            return pe.CycleClosed(
                cycle_id=event.cycle_id,
                mentee_applications=applications[0],
                mentor_applications=applications[1],
            )
        case ev.PairFormed():
            return pe.PairFormed(pair=pseudonym(event.pair_id), cycle_id=event.cycle_id)
        case ev.PairEnded():
            return pe.PairEnded(pair=pseudonym(event.pair_id), cycle_id=event.cycle_id)
        case ev.MeetingHeld():
            return pe.MeetingHeld(
                pair=pseudonym(event.pair_id),
                cycle_id=event.cycle_id,
                month=event.held_on.strftime("%Y-%m"),
                minutes=event.minutes,
                mode=event.mode,
            )
        case ev.OutcomeRecorded():
            return pe.OutcomeRecorded(cycle_id=event.cycle_id, outcome=event.outcome)
    return None


FED_EVENTS: tuple[type[ev.Event], ...] = (
    ev.CycleOpened,
    ev.CycleClosed,
    ev.PairFormed,
    ev.PairEnded,
    ev.MeetingHeld,
    ev.OutcomeRecorded,
)
"""The services' events that become partner events (the rest never reach partners)."""


def partner_time(partner_event: pe.PartnerEvent, source_time: datetime) -> datetime:
    """The `time` of a partner's copy: the source event's, unless that says more than the
    data does. A meeting has only its month (its day could single out the pair), so its
    copy's time is the first of the month, 00:00 UTC; an outcome, its day at 00:00 UTC (the
    exact moment could be matched with a survey answer or a call)."""
    at = source_time.astimezone(UTC)
    match partner_event:
        case pe.MeetingHeld():
            return datetime(at.year, at.month, 1, tzinfo=UTC)
        case pe.OutcomeRecorded():
            return datetime(at.year, at.month, at.day, tzinfo=UTC)
    return source_time


def partner_envelope(
    event: ev.Event,
    source: Envelope,
    partner_id: UUID,
    pseudonym: Pseudonym,
    applications: tuple[int, int] = (0, 0),
) -> pe.PartnerEnvelope | None:
    """The partner's copy of `event` (published in `source`), or None: it gets nothing."""
    copy = partner_event(event, pseudonym, applications)
    if copy is None:
        return None
    return pe.PartnerEnvelope(
        id=message_id(source.id, partner_id),
        type=copy.type_name(),
        time=partner_time(copy, source.time),
        organisationid=source.organisationid,
        partnerid=partner_id,
        data=copy.model_dump(mode="json"),
    )


def pseudonym_key(secret_key: str, partner_id: UUID) -> bytes:
    """The partner's own pseudonym key, derived from the installation's secret."""
    return hmac.new(
        secret_key.encode(), b"partner-pseudonym:" + partner_id.bytes, "sha256"
    ).digest()


def pseudonym(key: bytes, entity_id: UUID) -> UUID:
    digest = hmac.new(key, entity_id.bytes, "sha256").digest()
    return UUID(bytes=digest[:16], version=4)


def pseudonymiser(secret_key: str, partner_id: UUID) -> Pseudonym:
    """The partner's pseudonym of any id."""
    key = pseudonym_key(secret_key, partner_id)
    return lambda entity_id: pseudonym(key, entity_id)


def message_id(source_event_id: UUID, partner_id: UUID) -> UUID:
    return uuid5(MESSAGE_NAMESPACE, f"{source_event_id}:{partner_id}")


# --- credentials ---------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class CredentialState:
    digest: bytes
    expires_at: datetime
    revoked_at: datetime | None
    partner_disabled_at: datetime | None


def refusal(state: CredentialState | None, secret: str, now: datetime) -> str | None:
    """Why a connection with `secret` is refused (a short code), or None to admit it."""
    if state is None:
        return "unknown_credential"
    if not hmac.compare_digest(state.digest, secret_digest(secret)):
        return "wrong_secret"
    if state.revoked_at is not None:
        return "revoked"
    if state.partner_disabled_at is not None:
        return "partner_disabled"
    if state.expires_at <= now:
        return "expired"
    return None


def parse_credential_id(user: str | None) -> UUID | None:
    """The credential id a partner connects with as its user name; None if malformed."""
    if not user or len(user) > 64:
        return None
    try:
        return UUID(user)
    except ValueError:
        return None


# --- what an admin types -----------------------------------------------------------------------


def check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise PartnerInputError("name", "required", "the partner needs a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise PartnerInputError(
            "name", "too_long", f"a partner's name has at most {MAX_NAME_LENGTH} characters"
        )
    if any(not c.isprintable() for c in cleaned):
        raise PartnerInputError("name", "invalid", "the name has characters that cannot be shown")
    return cleaned


def check_webhook_url(url: str, *, require_https: bool, allow_private: bool) -> str | None:
    """The webhook address to store (None when left empty), or `PartnerInputError`.

    Refused: anything but http(s) with a host; http where https is required (production);
    user names or passwords in the address; a local name, or an address literally on a
    private, loopback, link-local or reserved network (`is_private_host`, which reads
    `127.1` as a resolver would) unless `allow_private` (development and tests). Names
    are resolved again at each delivery, which refuses private addresses the same way
    (`webhooks.deliverable_address`).
    """
    url = url.strip()
    if not url:
        return None
    if len(url) > MAX_URL_LENGTH:
        raise PartnerInputError("webhook_url", "too_long", "the address is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PartnerInputError(
            "webhook_url", "invalid", "give a full address starting with https://"
        )
    if parts.scheme != "https" and require_https:
        raise PartnerInputError("webhook_url", "https_required", "the address must use https://")
    if parts.username or parts.password:
        raise PartnerInputError(
            "webhook_url", "credentials_in_url", "the address must not contain a password"
        )
    if not allow_private and is_private_host(parts.hostname):
        raise PartnerInputError(
            "webhook_url", "private_address", "the address points to a private network"
        )
    return url


def is_private_host(host: str) -> bool:
    """A host name or address that must not be a webhook target outside development: a
    local name, or an address literal (in any form a resolver reads) that is not public."""
    name = host.lower().rstrip(".")
    if name in ("localhost", "localhost.localdomain") or name.endswith(
        (".localhost", ".local", ".internal")
    ):
        return True
    address = ip_literal(name)
    return address is not None and not is_public_ip(address)


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells, if it is one: IPv6 (bracketed or not), dotted IPv4, and
    the shorthand, decimal, octal and hex IPv4 forms that resolvers also accept (`127.1`,
    `2130706433`, `0x7f.1`), read as `socket.inet_aton` reads them."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def credentials_document(
    *,
    credential_id: UUID,
    secret: str,
    organisation_id: UUID,
    partner_id: UUID,
    expires_at: datetime,
    nats_url: str,
    tls_ca_pem: str | None = None,
) -> dict[str, str]:
    """What a partner is given to connect (`docs/partners.md`): a JSON file it keeps secret."""
    partner = str(partner_id)
    document = {
        "nats_url": nats_url,
        "user": str(credential_id),
        "password": secret,
        "organisation_id": str(organisation_id),
        "partner_id": partner,
        "stream": natsauth.PARTNER_FEED_STREAM,
        "durable": natsauth.partner_durable(partner),
        "filter_subject": natsauth.partner_subject_filter(str(organisation_id), partner),
        "inbox_prefix": natsauth.partner_inbox_prefix(partner),
        "replay_subject": natsauth.partner_replay_subject(partner),
        "expires_at": expires_at.isoformat(),
    }
    if tls_ca_pem:
        document["tls_ca_pem"] = tls_ca_pem
    return document


# --- webhooks (Standard Webhooks 1.0, https://www.standardwebhooks.com) -------------------------
#
# A webhook is a POST of the partner's message (the envelope JSON exactly as stored in
# `PARTNER_FEED`) with `webhook-id` (the envelope's id: the same on every retry and replay,
# the receiver's idempotency key), `webhook-timestamp` (unix seconds of this attempt) and
# `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
# secret's bytes: the base64 after `whsec_`).

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
"""How far a receiver should accept `webhook-timestamp` from its own clock (the spec's)."""

WEBHOOK_RETRY_SCHEDULE: tuple[int, ...] = (1, 60, 360, 1440, 3600, 7200, 10080, 14400, 17280)
"""Delays before the 2nd, 3rd, ... attempt, in units of `Settings.webhook_retry_seconds`.
With the default 5 s this is the Standard Webhooks example schedule: 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 14 h, 20 h and 24 h, i.e. ten attempts over about 3 days and 4 hours;
after the last one the delivery is `failed` (an admin can replay it)."""
MAX_WEBHOOK_ATTEMPTS = len(WEBHOOK_RETRY_SCHEDULE) + 1
RETRY_JITTER = 0.1
"""Up to 10 % is added to each delay so that retries after an outage do not arrive at once."""

DELIVERED, RETRYING, FAILED, PENDING = "delivered", "retrying", "failed", "pending"
DELIVERY_OUTCOMES = (PENDING, DELIVERED, RETRYING, FAILED)
DELIVERY_ERRORS = (
    "dns_error",
    "private_address",
    "timeout",
    "tls_error",
    "connect_error",
    "request_error",
    "not_in_stream",
)
"""An attempt's error code when the receiver gave no answer (`webhooks.post_webhook`), or
the event was no longer in the stream; each has a label on the partners screen."""


class WebhookVerificationError(ValueError):
    """A webhook whose headers or signature do not check out."""


def new_webhook_secret() -> str:
    """Standard Webhooks' form: `whsec_` and the base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret (the prefix is optional, as in the spec)."""
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is `whsec_` and base64") from exc


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the body as sent."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_key(secret), signed, "sha256").digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(secret, message_id, timestamp, body),
    }


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = WEBHOOK_TOLERANCE_SECONDS,
) -> str:
    """What a receiver does: returns the `webhook-id` (to de-duplicate by) or raises
    `WebhookVerificationError`. Any one of the space-separated `v1` signatures may match
    (several are sent while a secret is rotated); compared in constant time."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not signatures:
        raise WebhookVerificationError("missing webhook headers")
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise WebhookVerificationError("invalid webhook-timestamp") from exc
    if abs(now - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp too old or too new")
    expected = sign_webhook(secret, message_id, timestamp, body)
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return message_id
    raise WebhookVerificationError("no matching signature")


@dataclass(frozen=True)
class DeliveryDecision:
    """What follows one attempt: its outcome, the delay before the next (when retrying), and
    whether the receiver asked to stop the webhook altogether (410 Gone)."""

    outcome: str
    retry_in_seconds: float | None = None
    stop_webhook: bool = False


def retry_delay(attempt: int, base_seconds: float, jitter: float = 0.0) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None: give up.
    `jitter` in [0, 1) adds up to `RETRY_JITTER` of the delay."""
    if attempt < 1 or attempt > len(WEBHOOK_RETRY_SCHEDULE):
        return None
    delay = WEBHOOK_RETRY_SCHEDULE[attempt - 1] * base_seconds
    return delay * (1 + RETRY_JITTER * min(max(jitter, 0.0), 1.0))


def classify_attempt(
    *,
    status_code: int | None,
    attempt: int,
    base_seconds: float,
    retry_after: float | None = None,
    jitter: float = 0.0,
) -> DeliveryDecision:
    """The spec's status handling. 2xx: delivered. 410: failed, and the webhook is stopped
    (an admin sets it again to resume). Anything else, including 3xx (redirects are not
    followed), 4xx, 5xx and no response at all (`status_code` None: timeout, refused, TLS,
    a private address): retried on the schedule, honouring a longer `Retry-After` up to the
    schedule's longest step, until `MAX_WEBHOOK_ATTEMPTS`, then failed."""
    if status_code is not None and 200 <= status_code <= 299:
        return DeliveryDecision(DELIVERED)
    if status_code == 410:
        return DeliveryDecision(FAILED, stop_webhook=True)
    delay = retry_delay(attempt, base_seconds, jitter)
    if delay is None:
        return DeliveryDecision(FAILED)
    if retry_after is not None:
        longest = WEBHOOK_RETRY_SCHEDULE[-1] * base_seconds
        delay = max(delay, min(retry_after, longest))
    return DeliveryDecision(RETRYING, retry_in_seconds=delay)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the HTTP-date form is ignored); None if absent or bad."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def is_public_address(address: str) -> bool:
    """A resolved IP address a webhook may be sent to outside development (`is_public_ip`)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return is_public_ip(ip)


def is_public_ip(ip: IPAddress) -> bool:
    """Globally routable, and not hiding a non-public IPv4 address in an IPv6 form that
    reaches it: mapped (`::ffff:10.0.0.1`), 6to4 (`2002:a00:1::`) or NAT64
    (`64:ff9b::a00:1`, RFC 6052; the local-use NAT64 prefix `64:ff9b:1::/48` is refused
    whole, as what it embeds depends on the network)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_PREFIX:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_ip(embedded):
            return False
    return ip.is_global and not ip.is_multicast
