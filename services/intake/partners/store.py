"""Partners' queries and writes: partners, credentials, admitted connections, the audit.

Every write goes through the caller's session and never commits. Every change an admin
makes, and every connection admitted or refused, is written to `partner_audit` and logged,
with ids and short codes only (never a secret, never a name).
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    partners,
)
from shared.crypto import PersonalDataVault

log = logging.getLogger(__name__)

WEBHOOK_SECRET_PREFIX = "whsec_"


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


def new_webhook_secret() -> str:
    """Standard Webhooks' form: `whsec_` and the base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


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
    secret = new_webhook_secret() if url else None
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


async def list_partners(session: AsyncSession, organisation_id: UUID) -> list[Partner]:
    rows = (
        await session.execute(
            sa.select(partners)
            .where(partners.c.organisation_id == organisation_id)
            .order_by(partners.c.name)
        )
    ).all()
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
    for partner in await list_partners(session, organisation_id):
        if partner.id == partner_id:
            return partner
    return None


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
