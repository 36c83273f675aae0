"""Personal links to the participant portal: signed, expiring, no password.

A link token is `<payload>.<signature>`, both base64url without padding. The payload is
compact JSON (`p` person, `r` pair, `c` cycle, `e` expiry as Unix seconds, `g` the person's
link generation when above 0); the signature is
HMAC-SHA256 over the encoded payload under a key derived from `WOMENTO_SECRET_KEY` for this
purpose only (so a portal token can never stand in for anything else signed with the
secret). Whoever holds the link can log meetings for that pair until it expires: it is a
bearer credential, e-mailed to the participant herself.

Revocation: each person has a link generation (`intake.people.link_generation`, 0 at first).
A token carries the generation it was made in (`g`, left out when 0, so tokens made before
revocation existed read as generation 0 and stay valid until her first revocation). Raising
her generation (`services.intake.web.links.revoke_links`) refuses every older token of hers,
portal and survey alike; `links.open_link` compares them (`check_generation`).

    token = make_link(settings.secret_key, person_id, pair_id, expires_at, cycle_id=cycle_id)
    person_id, pair_id = read_link(settings.secret_key, token, clock.now())
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

LINK_PURPOSE = b"womento/portal-link/v1"
DEFAULT_VALIDITY = timedelta(days=8 * 31)  # the eight months of a cycle, rounded up
MAX_TOKEN_LENGTH = 400


class LinkError(ValueError):
    """The link cannot be used; `reason` is "forged", "expired", "revoked" or "erased"."""

    reason = "forged"


class ForgedLink(LinkError):
    """Not a link we made: malformed, altered, or signed with another key."""

    reason = "forged"


class ExpiredLink(LinkError):
    """A genuine link whose validity has ended."""

    reason = "expired"


class RevokedLink(LinkError):
    """A genuine link made before the person's links were revoked (replaced by a new one)."""

    reason = "revoked"


class ErasedLink(LinkError):
    """A genuine link for a person who is no longer known: her personal data was erased."""

    reason = "erased"


@dataclass(frozen=True)
class PortalLink:
    person_id: UUID
    pair_id: UUID
    cycle_id: UUID | None
    expires_at: datetime
    generation: int = 0


class _Expiring(Protocol):
    @property
    def expires_at(self) -> datetime: ...


_Link = TypeVar("_Link", bound=_Expiring)


def _key(secret_key: str, purpose: bytes = LINK_PURPOSE) -> bytes:
    return hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret_key: str, payload: str, purpose: bytes = LINK_PURPOSE) -> str:
    key = _key(secret_key, purpose)
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def _token(
    secret_key: str,
    purpose: bytes,
    expires_at: datetime,
    body: dict[str, str],
    generation: int = 0,
) -> str:
    """`<payload>.<signature>`: the body, expiry (`e`, Unix seconds) and the person's link
    generation (`g`, only when above 0) as compact JSON, signed under the purpose's key."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if generation < 0:
        raise ValueError("generation must not be negative")
    content: dict[str, str | int] = {**body, "e": int(expires_at.timestamp())}
    if generation:
        content["g"] = generation
    payload = _b64(json.dumps(content, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(secret_key, payload, purpose)}"


def _read(
    secret_key: str, token: str, purpose: bytes, contents: Callable[[dict[str, Any]], _Link]
) -> _Link:
    """The token's contents (`contents` of its JSON body) if we signed it under `purpose`;
    `ForgedLink` otherwise. Expiry is the caller's to check."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 1:
        raise ForgedLink("the link is malformed")
    payload, signature = token.split(".")
    if not hmac.compare_digest(_sign(secret_key, payload, purpose).encode(), signature.encode()):
        raise ForgedLink("the link's signature does not match")
    try:
        return contents(json.loads(_unb64(payload)))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:  # signed but unreadable
        raise ForgedLink("the link's contents are unreadable") from exc


def _unexpired(link: _Link, now: datetime) -> _Link:
    if now >= link.expires_at:
        raise ExpiredLink(f"the link expired at {link.expires_at.isoformat()}")
    return link


def _generation(body: dict[str, Any]) -> int:
    generation = int(body.get("g", 0))
    if generation < 0:
        raise ValueError("negative generation")
    return generation


def check_generation(link_generation: int, current_generation: int) -> None:
    """`RevokedLink` if the link was made before the person's links were last revoked."""
    if link_generation < current_generation:
        raise RevokedLink(
            f"the link is of generation {link_generation}, revoked (now {current_generation})"
        )


def make_link(
    secret_key: str,
    person_id: UUID,
    pair_id: UUID,
    expires_at: datetime,
    *,
    cycle_id: UUID | None = None,
    generation: int = 0,
) -> str:
    """A token for `person_id`'s portal of `pair_id`, valid until `expires_at` (aware), in
    her current link `generation` (`people.link_generation`)."""
    body = {"p": str(person_id), "r": str(pair_id)}
    if cycle_id is not None:
        body["c"] = str(cycle_id)
    return _token(secret_key, LINK_PURPOSE, expires_at, body, generation)


def read_portal_link(secret_key: str, token: str, now: datetime) -> PortalLink:
    """The link's contents; `ForgedLink` unless we signed it, `ExpiredLink` once expired."""

    def contents(body: dict[str, Any]) -> PortalLink:
        return PortalLink(
            person_id=UUID(body["p"]),
            pair_id=UUID(body["r"]),
            cycle_id=UUID(body["c"]) if "c" in body else None,
            expires_at=datetime.fromtimestamp(int(body["e"]), tz=UTC),
            generation=_generation(body),
        )

    return _unexpired(_read(secret_key, token, LINK_PURPOSE, contents), now)


def read_link(secret_key: str, token: str, now: datetime) -> tuple[UUID, UUID]:
    """(person_id, pair_id) of a genuine, unexpired link; see `read_portal_link`."""
    link = read_portal_link(secret_key, token, now)
    return link.person_id, link.pair_id


# --- survey links (services/intake/surveys.py, web/surveys.py) ------------------------------

SURVEY_LINK_PURPOSE = b"womento/survey-link/v1"
#: A survey link outlives its survey's closing day by this much, so that a late click shows
#: "the survey has closed" rather than "the link has expired".
SURVEY_LINK_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class SurveyLink:
    person_id: UUID
    invitation_id: UUID
    expires_at: datetime
    generation: int = 0


def make_survey_link(
    secret_key: str,
    person_id: UUID,
    invitation_id: UUID,
    expires_at: datetime,
    *,
    generation: int = 0,
) -> str:
    """A token for `person_id` to answer the survey of `invitation_id`, signed under its own
    purpose key (a portal token is never a survey token, nor the reverse), in her current
    link `generation`."""
    body = {"p": str(person_id), "i": str(invitation_id)}
    return _token(secret_key, SURVEY_LINK_PURPOSE, expires_at, body, generation)


def read_survey_link(secret_key: str, token: str, now: datetime) -> SurveyLink:
    """The survey link's contents; `ForgedLink` unless we signed it for surveys,
    `ExpiredLink` once expired."""

    def contents(body: dict[str, Any]) -> SurveyLink:
        return SurveyLink(
            person_id=UUID(body["p"]),
            invitation_id=UUID(body["i"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), tz=UTC),
            generation=_generation(body),
        )

    return _unexpired(_read(secret_key, token, SURVEY_LINK_PURPOSE, contents), now)
