"""Queueing an e-mail in the caller's transaction."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.mail.render import mail_language, render_mail
from services.intake.mail.tables import mail_queue
from shared.clock import Clock
from shared.crypto import PersonalDataVault

NOTIFY_CHANNEL = "womento_mail"

# Stands in for the recipient when a mail is checked at enqueue time (the real details are
# read and decrypted only when the mail is sent).
_PROBE_RECIPIENT = {"given_name": "Probe", "family_name": "Probe", "email": "probe@example.org"}


async def enqueue_mail(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    person_id: UUID,
    template: str,
    context: dict[str, Any],
    clock: Clock,
    dedupe_key: str | None = None,
    secret_context: dict[str, str] | None = None,
    vault: PersonalDataVault | None = None,
) -> UUID | None:
    """Queue `template` for `person_id`, to be sent after the caller's transaction commits.

    Writes through the caller's session and never commits: the mail is queued if and only
    if the state change that causes it commits. `context` holds ids, codes, dates and cycle
    or programme names only (stored as JSON; dates and UUIDs become strings); the
    recipient's name and address are read from their encrypted details when the mail is
    sent. The mail is rendered once here with a stand-in recipient, so an unknown template
    or a missing context key fails the caller's transaction instead of a later send.
    Returns the mail id (the Message-ID's local part).

    A mail caused by an event passes `dedupe_key` (e.g. "survey_invitation:<invitation id>"):
    a second mail with the same key is not queued (unique index) and None is returned, so a
    redelivered or republished event never mails twice.

    `secret_context` holds what must never be readable in the database, above all a personal
    link (a bearer credential): it is encrypted with the person's own key (`vault`, from
    `shared.crypto.vault_for(settings.secret_key)`) into `secret_context`, and merged into the
    context only when the worker renders the mail for sending. An erased person (no key)
    raises ValueError, like an unknown one.
    """
    person = (
        await session.execute(
            sa.select(m.people.c.language, m.people.c.wrapped_key).where(
                m.people.c.id == person_id, m.people.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()
    if person is None:
        raise ValueError(f"no person {person_id} in organisation {organisation_id}")
    language = mail_language(person.language)
    context = json.loads(json.dumps(context, default=str))  # dates and ids as ISO strings
    sealed = None
    if secret_context:
        if vault is None:
            raise ValueError("secret_context needs the vault to encrypt it with")
        if person.wrapped_key is None:
            raise ValueError(f"person {person_id} was erased: no key to encrypt a link with")
        shared_keys = set(secret_context) & set(context)
        if shared_keys:
            raise ValueError(f"keys both in context and secret_context: {sorted(shared_keys)}")
        secrets = {str(k): str(v) for k, v in secret_context.items()}
        sealed = vault.encrypt(person.wrapped_key, person_id, secrets)
        render_mail(template, language, _PROBE_RECIPIENT, context | secrets)
    else:
        render_mail(template, language, _PROBE_RECIPIENT, context)
    mail_id = uuid4()
    now = clock.now()
    inserted = await session.scalar(
        insert(mail_queue)
        .values(
            id=mail_id,
            organisation_id=organisation_id,
            person_id=person_id,
            template=template,
            language=language,
            context=context,
            status="queued",
            attempts=0,
            not_before=now,
            created_at=now,
            dedupe_key=dedupe_key,
            secret_context=sealed,
        )
        .on_conflict_do_nothing(
            index_elements=["dedupe_key"], index_where=mail_queue.c.dedupe_key.is_not(None)
        )
        .returning(mail_queue.c.id)
    )
    if inserted is None:
        return None
    await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return mail_id
