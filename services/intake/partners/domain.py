"""Partners' pure rules: what a partner may see of each event, pseudonyms, credentials,
and the checks on what an organisation admin types. No I/O.

- `partner_event` turns one of the services' events into what partners get, or None:
  pairs under `pseudonym`, meetings by month only, outcomes without a person or a pair.
- A pseudonym is an HMAC of the pair id under a key of the partner's own, so the same pair
  has the same pseudonym in every event one partner gets, and different ones for two
  partners (who therefore cannot join what they hold).
- A partner's copy of an event has an id derived from the source event's id and the
  partner's, so a redelivered source event makes the same message (de-duplicated).
- A credential's secret is 256 random bits; only its SHA-256 digest is stored (a random
  secret of that length needs no slow hash), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from shared import events as ev
from shared import natsauth
from shared import partner_events as pe

MAX_NAME_LENGTH = 120
MAX_URL_LENGTH = 500
SECRET_BYTES = 32
MESSAGE_NAMESPACE = UUID("9a4c4f7e-5d43-4c8e-9b8a-6f1f4c3e2a10")

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
    user names or passwords in the address; an address literally on a private, loopback,
    link-local or reserved network unless `allow_private` (development and tests). Names
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
    """A host name or address that must not be a webhook target outside development."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        (".localhost", ".local", ".internal")
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def credentials_document(
    *,
    credential_id: UUID,
    secret: str,
    organisation_id: UUID,
    partner_id: UUID,
    expires_at: datetime,
    nats_url: str,
    tls_ca_file: str | None = None,
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
        "expires_at": expires_at.isoformat(),
    }
    if tls_ca_file:
        document["tls_ca_file"] = tls_ca_file
    return document
