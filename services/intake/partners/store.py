"""Partners' queries and writes: partners, credentials, admitted connections, the audit.

Every write goes through the caller's session and never commits. Every change an admin
makes, and every connection admitted or refused, is written to `partner_audit` and logged,
with ids and short codes only (never a secret, never a name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.partners import domain
from services.intake.partners.tables import (
    partner_audit,
    partner_connections,
    partner_credentials,
    partner_webhook_deliveries,
    partners,
)
from shared import partner_events as pe
from shared.crypto import PersonalDataVault, vault_for
from shared.settings import Environment, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credential:
    id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True)
class Partner:
    id: UUID
    organisation_id: UUID
    name: str
    webhook_url: str | None
    created_at: datetime
    disabled_at: datetime | None
    credentials: tuple[Credential, ...] = ()


@dataclass(frozen=True)
class IssuedCredential:
    """Shown once: the secret is not kept (only its digest)."""

    id: UUID
    partner_id: UUID
    organisation_id: UUID
    secret: str
    expires_at: datetime


@dataclass(frozen=True)
class Admission:
    """What the auth callout needs to decide on one connection."""

    credential_id: UUID
    partner_id: UUID
    organisation_id: UUID
    state: domain.CredentialState


async def audit(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    action: str,
    at: datetime,
    partner_id: UUID | None = None,
    credential_id: UUID | None = None,
    actor: UUID | None = None,
    detail: str | None = None,
) -> None:
    await session.execute(
        partner_audit.insert().values(
            organisation_id=organisation_id,
            partner_id=partner_id,
            credential_id=credential_id,
            action=action,
            detail=detail,
            actor=actor,
            at=at,
        )
    )
    log.info(
        "partner %s",
        action,
        extra={
            "organisation_id": str(organisation_id),
            "partner_id": str(partner_id) if partner_id else None,
            "credential_id": str(credential_id) if credential_id else None,
            "actor": str(actor) if actor else None,
            "detail": detail,
        },
    )


REFUSAL_AUDIT_SECONDS = 60
"""At most one `connection_refused` row per credential, reason and minute: a client retrying
a wrong secret in a loop cannot fill the audit trail (each refusal is still logged)."""


async def audit_refusal(
    session: AsyncSession, admission: Admission, reason: str, at: datetime
) -> bool:
    """Audit a refused connection of a known credential, unless the same refusal of it is
    already recorded within `REFUSAL_AUDIT_SECONDS`; True if a row was written."""
    a = partner_audit
    recent = await session.scalar(
        sa.select(sa.func.count())
        .select_from(a)
        .where(
            a.c.credential_id == admission.credential_id,
            a.c.action == "connection_refused",
            a.c.detail == reason,
            a.c.at > at - timedelta(seconds=REFUSAL_AUDIT_SECONDS),
        )
    )
    if recent:
        log.warning(
            "partner connection refused again",
            extra={"credential_id": str(admission.credential_id), "reason": reason},
        )
        return False
    await audit(
        session,
        organisation_id=admission.organisation_id,
        partner_id=admission.partner_id,
        credential_id=admission.credential_id,
        action="connection_refused",
        detail=reason,
        at=at,
    )
    return True


async def create_partner(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    name: str,
    webhook_url: str,
    vault: PersonalDataVault,
    require_https: bool,
    allow_private: bool,
    now: datetime,
    actor: UUID | None,
) -> tuple[UUID, str | None]:
    """A new partner; returns its id and, with a webhook, the signing secret (shown once).
    `PartnerInputError` names the field, before anything is written."""
    cleaned = domain.check_name(name)
    url = domain.check_webhook_url(
        webhook_url, require_https=require_https, allow_private=allow_private
    )
    taken = await session.scalar(
        sa.select(partners.c.id).where(
            partners.c.organisation_id == organisation_id, partners.c.name == cleaned
        )
    )
    if taken is not None:
        raise domain.PartnerInputError(
            "name", "taken", "this organisation already has a partner with that name"
        )
    partner_id = uuid4()
    wrapped = vault.new_wrapped_key(partner_id)
    secret = domain.new_webhook_secret() if url else None
    await session.execute(
        partners.insert().values(
            id=partner_id,
            organisation_id=organisation_id,
            name=cleaned,
            webhook_url=url,
            wrapped_key=wrapped,
            webhook_secret=(
                vault.encrypt(wrapped, partner_id, {"secret": secret}) if secret else None
            ),
            created_at=now,
            created_by=actor,
        )
    )
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=partner_id,
        action="partner_created",
        actor=actor,
        at=now,
    )
    return partner_id, secret


async def webhook_secret(
    session: AsyncSession, partner_id: UUID, vault: PersonalDataVault
) -> str | None:
    row = (
        await session.execute(
            sa.select(partners.c.wrapped_key, partners.c.webhook_secret).where(
                partners.c.id == partner_id
            )
        )
    ).one_or_none()
    if row is None or row.webhook_secret is None:
        return None
    return str(vault.decrypt(row.wrapped_key, partner_id, row.webhook_secret)["secret"])


async def disable_partner(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    partner_id: UUID,
    now: datetime,
    actor: UUID | None,
) -> bool:
    """Stop the partner's feed and refuse all its credentials; False if not found."""
    disabled = await session.scalar(
        partners.update()
        .where(
            partners.c.id == partner_id,
            partners.c.organisation_id == organisation_id,
            partners.c.disabled_at.is_(None),
        )
        .values(disabled_at=now)
        .returning(partners.c.id)
    )
    if disabled is None:
        return False
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=partner_id,
        action="partner_disabled",
        actor=actor,
        at=now,
    )
    return True


async def list_partners(
    session: AsyncSession, organisation_id: UUID, partner_id: UUID | None = None
) -> list[Partner]:
    """The organisation's partners with their credentials (only `partner_id`'s if given)."""
    query = sa.select(partners).where(partners.c.organisation_id == organisation_id)
    if partner_id is not None:
        query = query.where(partners.c.id == partner_id)
    rows = (await session.execute(query.order_by(partners.c.name))).all()
    credentials = (
        await session.execute(
            sa.select(partner_credentials)
            .where(partner_credentials.c.partner_id.in_([row.id for row in rows]))
            .order_by(partner_credentials.c.created_at.desc())
        )
    ).all()
    by_partner: dict[UUID, list[Credential]] = {}
    for c in credentials:
        by_partner.setdefault(c.partner_id, []).append(
            Credential(c.id, c.created_at, c.expires_at, c.revoked_at, c.last_used_at)
        )
    return [
        Partner(
            id=row.id,
            organisation_id=row.organisation_id,
            name=row.name,
            webhook_url=row.webhook_url,
            created_at=row.created_at,
            disabled_at=row.disabled_at,
            credentials=tuple(by_partner.get(row.id, ())),
        )
        for row in rows
    ]


async def find_partner(
    session: AsyncSession, organisation_id: UUID, partner_id: UUID
) -> Partner | None:
    found = await list_partners(session, organisation_id, partner_id)
    return found[0] if found else None


async def issue_credential(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    partner_id: UUID,
    valid_days: int,
    max_days: int,
    now: datetime,
    actor: UUID | None,
) -> IssuedCredential:
    if not 1 <= valid_days <= max_days:
        raise domain.PartnerInputError(
            "valid_days", "out_of_range", f"choose between 1 and {max_days} days"
        )
    partner = await session.scalar(
        sa.select(partners.c.id).where(
            partners.c.id == partner_id,
            partners.c.organisation_id == organisation_id,
            partners.c.disabled_at.is_(None),
        )
    )
    if partner is None:
        raise domain.PartnerInputError("partner", "not_found", "no such partner")
    credential_id, secret = uuid4(), domain.new_secret()
    expires_at = now + timedelta(days=valid_days)
    await session.execute(
        partner_credentials.insert().values(
            id=credential_id,
            partner_id=partner_id,
            secret_digest=domain.secret_digest(secret),
            created_at=now,
            created_by=actor,
            expires_at=expires_at,
        )
    )
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=partner_id,
        credential_id=credential_id,
        action="credential_issued",
        actor=actor,
        at=now,
    )
    return IssuedCredential(credential_id, partner_id, organisation_id, secret, expires_at)


async def revoke_credential(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    credential_id: UUID,
    now: datetime,
    actor: UUID | None,
) -> bool:
    """Refuse the credential from now on (its live connections are disconnected by the
    gateway's sweep, `partners.gateway`); False if not found or already revoked."""
    partner_id = await session.scalar(
        sa.update(partner_credentials)
        .where(
            partner_credentials.c.id == credential_id,
            partner_credentials.c.revoked_at.is_(None),
            partner_credentials.c.partner_id.in_(
                sa.select(partners.c.id).where(partners.c.organisation_id == organisation_id)
            ),
        )
        .values(revoked_at=now, revoked_by=actor)
        .returning(partner_credentials.c.partner_id)
    )
    if partner_id is None:
        return False
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=partner_id,
        credential_id=credential_id,
        action="credential_revoked",
        actor=actor,
        at=now,
    )
    return True


# --- the auth callout and the gateway -----------------------------------------------------------


async def admission(session: AsyncSession, credential_id: UUID) -> Admission | None:
    row = (
        await session.execute(
            sa.select(
                partner_credentials.c.secret_digest,
                partner_credentials.c.expires_at,
                partner_credentials.c.revoked_at,
                partners.c.id.label("partner_id"),
                partners.c.organisation_id,
                partners.c.disabled_at,
            )
            .join(partners, partners.c.id == partner_credentials.c.partner_id)
            .where(partner_credentials.c.id == credential_id)
        )
    ).one_or_none()
    if row is None:
        return None
    state = domain.CredentialState(
        digest=row.secret_digest,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        partner_disabled_at=row.disabled_at,
    )
    return Admission(credential_id, row.partner_id, row.organisation_id, state)


async def record_connection(
    session: AsyncSession,
    admission: Admission,
    *,
    server_id: str,
    client_id: int,
    now: datetime,
    expires_at: datetime,
) -> None:
    insert = pg_insert(partner_connections).values(
        server_id=server_id,
        client_id=client_id,
        credential_id=admission.credential_id,
        admitted_at=now,
        expires_at=expires_at,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["server_id", "client_id"],
            set_={
                "credential_id": admission.credential_id,
                "admitted_at": now,
                "expires_at": expires_at,
            },
        )
    )
    await session.execute(
        partner_credentials.update()
        .where(partner_credentials.c.id == admission.credential_id)
        .values(last_used_at=now)
    )


async def connections_to_end(session: AsyncSession, now: datetime) -> list[tuple[str, int]]:
    """Recorded connections whose credential was revoked or whose partner was disabled
    (to disconnect); forgets those that ended by themselves (their time ran out)."""
    await session.execute(
        partner_connections.delete().where(partner_connections.c.expires_at <= now)
    )
    revoked = (
        sa.select(partner_connections.c.server_id, partner_connections.c.client_id)
        .join(
            partner_credentials,
            partner_credentials.c.id == partner_connections.c.credential_id,
        )
        .join(partners, partners.c.id == partner_credentials.c.partner_id)
        .where(
            sa.or_(
                partner_credentials.c.revoked_at.is_not(None),
                partners.c.disabled_at.is_not(None),
            )
        )
    )
    return [(row.server_id, row.client_id) for row in (await session.execute(revoked)).all()]


async def forget_connections(session: AsyncSession, ended: list[tuple[str, int]]) -> None:
    for server_id, client_id in ended:
        await session.execute(
            partner_connections.delete().where(
                partner_connections.c.server_id == server_id,
                partner_connections.c.client_id == client_id,
            )
        )


# --- the feed ------------------------------------------------------------------------------------


async def fed_partners(session: AsyncSession, organisation_id: UUID) -> list[UUID]:
    """The organisation's partners that get its events (not disabled)."""
    rows = await session.scalars(
        sa.select(partners.c.id)
        .where(partners.c.organisation_id == organisation_id, partners.c.disabled_at.is_(None))
        .order_by(partners.c.id)
    )
    return list(rows)


async def application_counts(session: AsyncSession, cycle_id: UUID) -> tuple[int, int]:
    """(mentees, mentors) who applied to the cycle."""
    rows = (
        await session.execute(
            sa.select(m.applications.c.role, sa.func.count())
            .where(m.applications.c.cycle_id == cycle_id)
            .group_by(m.applications.c.role)
        )
    ).all()
    counts = {role: count for role, count in rows}
    return counts.get("mentee", 0), counts.get("mentor", 0)


# --- webhooks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookDelivery:
    """One row of a partner's webhook delivery log: an attempt, or a replay not yet tried.

    `outcome`: `pending` (a replay waiting for its attempt), `delivered` (2xx), `retrying`
    (failed; the next attempt is at `next_attempt_at`) or `failed` (given up, or 410 Gone).
    `trigger`: `feed` (the event's own delivery) or `replay` (asked for by `requested_by`).
    `status_code` is the receiver's answer; `error` a short code when there was none
    (`timeout`, `connect_error`, `tls_error`, `private_address`, `dns_error`, ...)."""

    id: int
    partner_id: UUID
    event_id: UUID
    event_type: str
    stream_sequence: int
    trigger: str
    attempt: int
    outcome: str
    attempted_at: datetime | None
    status_code: int | None
    error: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None
    requested_by: UUID | None
    requested_at: datetime | None

    @property
    def event_name(self) -> str | None:
        """The partner event's name (`meeting_held`), None for a type this code does not know."""
        known = pe.PARTNER_EVENTS.get(self.event_type)
        return known.event_name() if known else None


@dataclass(frozen=True)
class Webhook:
    """A partner's webhook as its admin sees it (the secret is never shown again)."""

    partner_id: UUID
    url: str | None
    stopped_at: datetime | None
    """When the receiver answered 410 Gone; nothing is sent until the webhook is set again."""


@dataclass(frozen=True)
class WebhookTarget:
    """What the worker needs to deliver to one partner (`partners.webhooks`)."""

    partner_id: UUID
    organisation_id: UUID
    url: str
    secret: str


def _delivery(row: sa.Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        partner_id=row.partner_id,
        event_id=row.event_id,
        event_type=row.event_type,
        stream_sequence=row.stream_sequence,
        trigger=row.trigger,
        attempt=row.attempt,
        outcome=row.outcome,
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
        next_attempt_at=row.next_attempt_at,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
    )


async def set_webhook(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    partner_id: UUID,
    url: str,
    actor: UUID | None,
    now: datetime,
    settings: Settings,
    rotate: bool = False,
) -> str | None:
    """Set, change or (with an empty `url`) remove a partner's webhook; returns the new
    signing secret, shown once, when the webhook had none or `rotate` is asked, else None.
    Setting it resumes a webhook its receiver stopped (410). `PartnerInputError` names the
    field (`webhook_url`, or `partner` when not found in this organisation) and nothing is
    written. The change reaches the worker within `webhook_scan_seconds`."""
    cleaned = domain.check_webhook_url(
        url,
        require_https=settings.env is Environment.PRODUCTION,
        allow_private=settings.webhook_allow_private,
    )
    row = (
        await session.execute(
            sa.select(partners.c.wrapped_key, partners.c.webhook_url, partners.c.webhook_secret)
            .where(
                partners.c.id == partner_id,
                partners.c.organisation_id == organisation_id,
                partners.c.disabled_at.is_(None),
            )
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise domain.PartnerInputError("partner", "not_found", "no such partner")
    secret: str | None = None
    values: dict[str, Any] = {"webhook_url": cleaned, "webhook_stopped_at": None}
    if cleaned is None:
        values["webhook_secret"] = None
        detail = "removed"
    else:
        if row.webhook_secret is None or rotate:
            secret = domain.new_webhook_secret()
            values["webhook_secret"] = vault_for(settings.secret_key).encrypt(
                row.wrapped_key, partner_id, {"secret": secret}
            )
        detail = "set" if row.webhook_url is None else "rotated" if rotate else "changed"
    await session.execute(partners.update().where(partners.c.id == partner_id).values(**values))
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=partner_id,
        action="webhook_changed",
        actor=actor,
        detail=detail,
        at=now,
    )
    return secret


async def get_webhook(
    session: AsyncSession, organisation_id: UUID, partner_id: UUID
) -> Webhook | None:
    row = (
        await session.execute(
            sa.select(partners.c.webhook_url, partners.c.webhook_stopped_at).where(
                partners.c.id == partner_id, partners.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()
    return None if row is None else Webhook(partner_id, row.webhook_url, row.webhook_stopped_at)


async def list_deliveries(
    session: AsyncSession, organisation_id: UUID, partner_id: UUID, limit: int = 50
) -> list[WebhookDelivery]:
    """The partner's delivery log, newest first (attempts and pending replays)."""
    rows = (
        await session.execute(
            sa.select(partner_webhook_deliveries)
            .where(
                partner_webhook_deliveries.c.organisation_id == organisation_id,
                partner_webhook_deliveries.c.partner_id == partner_id,
            )
            .order_by(partner_webhook_deliveries.c.id.desc())
            .limit(max(1, min(limit, 500)))
        )
    ).all()
    return [_delivery(row) for row in rows]


async def replay_delivery(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    delivery_id: int,
    actor: UUID | None,
    now: datetime,
) -> WebhookDelivery:
    """The replay button: deliver that row's event again, whatever its outcome, with the
    same `webhook-id` (the message is read again from `PARTNER_FEED` by its sequence).
    Returns the pending replay (an existing one for the same event, if any: pressing twice
    replays once). `PartnerInputError`: `delivery` not found in this organisation, or
    `webhook_url` when the partner has no webhook, is disabled or its webhook stopped."""
    d = partner_webhook_deliveries
    found = (
        await session.execute(
            sa.select(d, partners.c.webhook_url, partners.c.webhook_stopped_at)
            .join(partners, partners.c.id == d.c.partner_id)
            .where(
                d.c.id == delivery_id,
                d.c.organisation_id == organisation_id,
                partners.c.organisation_id == organisation_id,
                partners.c.disabled_at.is_(None),
            )
        )
    ).one_or_none()
    if found is None:
        raise domain.PartnerInputError("delivery", "not_found", "no such delivery")
    if found.webhook_url is None:
        raise domain.PartnerInputError("webhook_url", "no_webhook", "the partner has no webhook")
    if found.webhook_stopped_at is not None:
        raise domain.PartnerInputError(
            "webhook_url", "stopped", "the receiver stopped this webhook; set it again first"
        )
    pending = (
        await session.execute(
            sa.select(d).where(
                d.c.partner_id == found.partner_id,
                d.c.event_id == found.event_id,
                d.c.outcome == domain.PENDING,
            )
        )
    ).first()
    if pending is not None:
        return _delivery(pending)
    row = (
        await session.execute(
            d.insert()
            .values(
                organisation_id=organisation_id,
                partner_id=found.partner_id,
                event_id=found.event_id,
                event_type=found.event_type,
                stream_sequence=found.stream_sequence,
                trigger="replay",
                attempt=1,
                outcome=domain.PENDING,
                next_attempt_at=now,
                requested_by=actor,
                requested_at=now,
            )
            .returning(d)
        )
    ).one()
    await audit(
        session,
        organisation_id=organisation_id,
        partner_id=found.partner_id,
        action="webhook_replayed",
        actor=actor,
        detail=str(found.event_id),
        at=now,
    )
    return _delivery(row)


# --- the webhook worker ---------------------------------------------------------------------------


async def webhook_targets(session: AsyncSession, vault: PersonalDataVault) -> list[WebhookTarget]:
    """Every partner to deliver webhooks to: a webhook set, not stopped, partner enabled."""
    rows = (
        await session.execute(
            sa.select(
                partners.c.id,
                partners.c.organisation_id,
                partners.c.webhook_url,
                partners.c.wrapped_key,
                partners.c.webhook_secret,
            ).where(
                partners.c.webhook_url.is_not(None),
                partners.c.webhook_secret.is_not(None),
                partners.c.webhook_stopped_at.is_(None),
                partners.c.disabled_at.is_(None),
            )
        )
    ).all()
    return [
        WebhookTarget(
            partner_id=row.id,
            organisation_id=row.organisation_id,
            url=row.webhook_url,
            secret=str(vault.decrypt(row.wrapped_key, row.id, row.webhook_secret)["secret"]),
        )
        for row in rows
    ]


async def enabled_partner_ids(session: AsyncSession) -> set[UUID]:
    """Partners not disabled (a disabled partner's webhook consumer is deleted)."""
    return set(
        await session.scalars(sa.select(partners.c.id).where(partners.c.disabled_at.is_(None)))
    )


async def was_delivered(session: AsyncSession, partner_id: UUID, event_id: UUID) -> bool:
    """Whether the event's own delivery already got a 2xx (a redelivered message after a
    crash between the response and the acknowledgement is then not sent again)."""
    d = partner_webhook_deliveries
    found = await session.scalar(
        sa.select(d.c.id)
        .where(
            d.c.partner_id == partner_id,
            d.c.event_id == event_id,
            d.c.trigger == "feed",
            d.c.outcome == domain.DELIVERED,
        )
        .limit(1)
    )
    return found is not None


async def record_attempt(
    session: AsyncSession,
    *,
    target: WebhookTarget,
    event_id: UUID,
    event_type: str,
    stream_sequence: int,
    trigger: str,
    attempt: int,
    outcome: str,
    attempted_at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    next_attempt_at: datetime | None,
    requested_by: UUID | None = None,
    requested_at: datetime | None = None,
) -> None:
    await session.execute(
        partner_webhook_deliveries.insert().values(
            organisation_id=target.organisation_id,
            partner_id=target.partner_id,
            event_id=event_id,
            event_type=event_type,
            stream_sequence=stream_sequence,
            trigger=trigger,
            attempt=attempt,
            outcome=outcome,
            attempted_at=attempted_at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            next_attempt_at=next_attempt_at,
            requested_by=requested_by,
            requested_at=requested_at,
        )
    )


async def claim_replay(
    session: AsyncSession, partner_id: UUID, now: datetime, lease: timedelta
) -> WebhookDelivery | None:
    """The partner's next due pending replay, leased for `lease` (its `next_attempt_at` moves
    on by that much, so another copy of intake skips it, and a crash retries it later)."""
    d = partner_webhook_deliveries
    due = (
        sa.select(d.c.id)
        .where(
            d.c.partner_id == partner_id, d.c.outcome == domain.PENDING, d.c.next_attempt_at <= now
        )
        .order_by(d.c.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            d.update().where(d.c.id == due).values(next_attempt_at=now + lease).returning(d)
        )
    ).one_or_none()
    return None if row is None else _delivery(row)


async def partners_with_due_replays(session: AsyncSession, now: datetime) -> set[UUID]:
    d = partner_webhook_deliveries
    rows = await session.scalars(
        sa.select(d.c.partner_id)
        .where(d.c.outcome == domain.PENDING, d.c.next_attempt_at <= now)
        .distinct()
    )
    return set(rows)


async def finish_replay(
    session: AsyncSession,
    replay: WebhookDelivery,
    *,
    outcome: str,
    attempted_at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    next_attempt_at: datetime | None,
) -> None:
    """Record a replay's attempt on its row; when it is to be retried, the next attempt is
    a new pending row (so the log keeps one row per attempt)."""
    d = partner_webhook_deliveries
    await session.execute(
        d.update()
        .where(d.c.id == replay.id)
        .values(
            outcome=outcome,
            attempted_at=attempted_at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            next_attempt_at=next_attempt_at,
        )
    )
    if outcome == domain.RETRYING:
        await session.execute(
            d.insert().values(
                organisation_id=(
                    sa.select(d.c.organisation_id).where(d.c.id == replay.id).scalar_subquery()
                ),
                partner_id=replay.partner_id,
                event_id=replay.event_id,
                event_type=replay.event_type,
                stream_sequence=replay.stream_sequence,
                trigger="replay",
                attempt=replay.attempt + 1,
                outcome=domain.PENDING,
                next_attempt_at=next_attempt_at,
                requested_by=replay.requested_by,
                requested_at=replay.requested_at,
            )
        )


async def stop_webhook(
    session: AsyncSession, target: WebhookTarget, *, now: datetime, status_code: int
) -> None:
    """The receiver answered 410 Gone: nothing more is sent until an admin sets it again."""
    stopped = await session.scalar(
        partners.update()
        .where(partners.c.id == target.partner_id, partners.c.webhook_stopped_at.is_(None))
        .values(webhook_stopped_at=now)
        .returning(partners.c.id)
    )
    if stopped is not None:
        await audit(
            session,
            organisation_id=target.organisation_id,
            partner_id=target.partner_id,
            action="webhook_stopped",
            detail=f"http_{status_code}",
            at=now,
        )
