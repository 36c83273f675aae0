"""Coordinator accounts, logins and web sessions: functions of a session and a clock.

Nothing here commits: callers own the transaction (`async with session.begin()`). A failed
login records its failure, so the caller commits after `authenticate` returns, whatever it
returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.auth import passwords
from services.intake.auth.models import LANGUAGES, ROLES, coordinators, login_failures, web_sessions
from shared.clock import Clock
from shared.settings import Settings

EDITOR_ROLES = ("admin", "coordinator")
"""Roles that may change things; a viewer only looks."""

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128
MAX_USER_AGENT_LENGTH = 512


@dataclass(frozen=True)
class Coordinator:
    """The logged-in coordinator, as every coordinator page sees them."""

    id: UUID
    organisation_id: UUID
    email: str
    display_name: str
    role: str
    language: str

    @property
    def can_edit(self) -> bool:
        return self.role in EDITOR_ROLES


@dataclass(frozen=True)
class LoginOk:
    coordinator: Coordinator


@dataclass(frozen=True)
class BadCredentials:
    """Unknown e-mail, wrong password or disabled account: deliberately indistinguishable."""


@dataclass(frozen=True)
class Throttled:
    """Too many recent failures for this e-mail or from this address; nothing was checked."""

    retry_after: timedelta

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


LoginResult = LoginOk | BadCredentials | Throttled


class AccountError(ValueError):
    """An account that cannot be created as asked; `code` is the key of the reason's text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- pure parts -------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_digest(token: str) -> bytes:
    """What the database keeps of a session token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).digest()


def email_digest(secret_key: str, email: str) -> bytes:
    """Keyed hash of an attempted login e-mail: failures are counted without keeping it."""
    key = hmac.new(secret_key.encode(), b"womento-login-email", hashlib.sha256).digest()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).digest()


def lockout_remaining(
    failures: Sequence[datetime], *, now: datetime, max_failures: int, window: timedelta
) -> timedelta | None:
    """How long attempts stay refused, given the times of earlier failures; None: not locked.

    Attempts are refused while `max_failures` or more failures lie inside the last
    `window`; they are allowed again when the `max_failures`-th most recent one leaves it.
    """
    recent = sorted((at for at in failures if at > now - window), reverse=True)
    if len(recent) < max_failures:
        return None
    return recent[max_failures - 1] + window - now


def session_expired(
    *, last_seen_at: datetime, expires_at: datetime, now: datetime, idle: timedelta
) -> bool:
    """A session ends at its absolute expiry, or when idle for longer than `idle`."""
    return now >= expires_at or now - last_seen_at > idle


def _idle(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.session_idle_minutes)


def _lock_key(*parts: bytes) -> int:
    digest = hashlib.sha256(b"womento-login\x00" + b"\x00".join(parts)).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _coordinator(row: sa.Row[tuple[object, ...]]) -> Coordinator:
    return Coordinator(
        id=row.id,
        organisation_id=row.organisation_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        language=row.language,
    )


# --- accounts -------------------------------------------------------------------------------


async def create_coordinator(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    email: str,
    display_name: str,
    password: str,
    role: str,
    clock: Clock,
    language: str = "fi",
    coordinator_id: UUID | None = None,
) -> UUID:
    """Add a coordinator account; `AccountError` / `passwords.WeakPassword` when refused."""
    email = normalise_email(email)
    display_name = display_name.strip()
    if role not in ROLES:
        raise AccountError("auth.account.bad_role", f"role must be one of {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise AccountError("auth.account.bad_language", f"language must be one of {LANGUAGES}")
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in email):
        raise AccountError("auth.account.bad_email", "not an e-mail address")
    if not display_name:
        raise AccountError("auth.account.no_name", "a display name is needed")
    passwords.check_policy(password, email=email)
    exists = await session.scalar(
        sa.select(coordinators.c.id).where(
            coordinators.c.organisation_id == organisation_id, coordinators.c.email == email
        )
    )
    if exists is not None:
        raise AccountError("auth.account.exists", "this organisation already has this e-mail")
    coordinator_id = coordinator_id or uuid4()
    await session.execute(
        coordinators.insert().values(
            id=coordinator_id,
            organisation_id=organisation_id,
            email=email,
            display_name=display_name,
            password_hash=await asyncio.to_thread(passwords.hash_password, password),
            role=role,
            language=language,
            created_at=clock.now(),
        )
    )
    return coordinator_id


# --- logins ---------------------------------------------------------------------------------


async def authenticate(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    ip: str,
    clock: Clock,
    settings: Settings,
) -> LoginResult:
    """Check a login attempt, with throttling by e-mail (any address) and by address.

    Concurrent attempts for one e-mail or from one address are serialised by transaction
    advisory locks, so a burst of parallel guesses cannot slip past the count.
    """
    now = clock.now()
    window = timedelta(minutes=settings.login_lockout_minutes)
    digest = email_digest(settings.secret_key, email)
    # Always e-mail first, then address: two attempts never wait on each other in a cycle.
    for key in (_lock_key(b"email", digest), _lock_key(b"ip", ip.encode())):
        await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    locked = []
    for condition in (login_failures.c.email_digest == digest, login_failures.c.ip == ip):
        times = (
            await session.scalars(
                sa.select(login_failures.c.at)
                .where(condition, login_failures.c.at > now - window)
                .order_by(login_failures.c.at.desc())
                .limit(settings.login_max_failures)
            )
        ).all()
        remaining = lockout_remaining(
            times, now=now, max_failures=settings.login_max_failures, window=window
        )
        if remaining is not None:
            locked.append(remaining)
    if locked:
        return Throttled(retry_after=max(locked))

    candidates = (
        await session.execute(
            sa.select(coordinators)
            .where(
                coordinators.c.email == normalise_email(email),
                coordinators.c.disabled_at.is_(None),
            )
            .order_by(coordinators.c.created_at, coordinators.c.id)
        )
    ).all()
    match = None
    if not candidates:
        await asyncio.to_thread(passwords.verify_password, passwords.dummy_hash(), password)
    for row in candidates:
        if await asyncio.to_thread(passwords.verify_password, row.password_hash, password):
            match = row
            break

    if match is None:
        await session.execute(login_failures.insert().values(email_digest=digest, ip=ip, at=now))
        await session.execute(login_failures.delete().where(login_failures.c.at <= now - window))
        return BadCredentials()

    if passwords.needs_rehash(match.password_hash):
        await session.execute(
            coordinators.update()
            .where(coordinators.c.id == match.id)
            .values(password_hash=await asyncio.to_thread(passwords.hash_password, password))
        )
    await session.execute(login_failures.delete().where(login_failures.c.email_digest == digest))
    return LoginOk(_coordinator(match))


# --- sessions -------------------------------------------------------------------------------


async def start_session(
    session: AsyncSession,
    *,
    coordinator_id: UUID,
    clock: Clock,
    settings: Settings,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new session; returns the token for the cookie (only its hash is stored)."""
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await session.execute(
        web_sessions.delete().where(
            web_sessions.c.coordinator_id == coordinator_id,
            sa.or_(
                web_sessions.c.expires_at <= now,
                web_sessions.c.last_seen_at < now - _idle(settings),
            ),
        )
    )
    await session.execute(
        web_sessions.insert().values(
            id=token_digest(token),
            coordinator_id=coordinator_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
            ip=ip,
            user_agent=(user_agent or "")[:MAX_USER_AGENT_LENGTH] or None,
        )
    )
    return token


async def resume_session(
    session: AsyncSession, *, token: str, clock: Clock, settings: Settings
) -> Coordinator | None:
    """The coordinator of a live session (and mark it seen now); None when there is none.

    An expired session (idle too long or past its absolute end) or one of a disabled
    account is deleted.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = clock.now()
    digest = token_digest(token)
    row = (
        await session.execute(
            sa.select(
                coordinators,
                web_sessions.c.last_seen_at,
                web_sessions.c.expires_at,
            )
            .join(web_sessions, web_sessions.c.coordinator_id == coordinators.c.id)
            .where(web_sessions.c.id == digest)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.disabled_at is not None or session_expired(
        last_seen_at=row.last_seen_at, expires_at=row.expires_at, now=now, idle=_idle(settings)
    ):
        await session.execute(web_sessions.delete().where(web_sessions.c.id == digest))
        return None
    if now > row.last_seen_at:
        await session.execute(
            web_sessions.update().where(web_sessions.c.id == digest).values(last_seen_at=now)
        )
    return _coordinator(row)


async def end_session(session: AsyncSession, *, token: str) -> bool:
    """Log out: delete the session; True when there was one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    result = await session.execute(
        web_sessions.delete().where(web_sessions.c.id == token_digest(token))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_all_sessions(session: AsyncSession, *, coordinator_id: UUID) -> int:
    """Log a coordinator out everywhere (after disabling them or changing their password)."""
    result = await session.execute(
        web_sessions.delete().where(web_sessions.c.coordinator_id == coordinator_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
