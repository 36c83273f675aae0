"""A person's export (Art. 15 and 20; docs/privacy.md, "Export"): everything held about her
in the four services, as one JSON document (schema: docs/privacy/person-export.schema.json)
and a readable page in her language. Intake adds its own part (her details and notes
decrypted, and who viewed her data: `access.queries.accesses_of_person`); each other
service answers `ExportPersonData` (`shared.personal_data`). Gathered when asked, never
stored and never mailed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.access.queries import accesses_of_person
from services.intake.mail.tables import mail_queue
from shared.commands import EXPORTS, Command
from shared.crypto import PersonalDataVault
from shared.personal_data import jsonable

SCHEMA_ID = "https://womento.example/schemas/person-export-v1.json"
FORMAT = "womento.person-export.v1"

Ask = Callable[[Command], Awaitable[dict[str, Any]]]
"""Sends a command to its service on the request's behalf (`services.intake.web.commands`)."""


class UnknownPerson(Exception):
    """No such person in the organisation (or her data is erased)."""


async def _rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [
        {k: jsonable(v) for k, v in row.items()}
        for row in (await session.execute(query)).mappings().all()
    ]


async def _opened(
    session: AsyncSession, query: Any, open_text: Callable[[bytes], Any]
) -> list[dict[str, Any]]:
    """The rows as JSON, each ciphertext column (under her key) decrypted."""
    return [
        {
            k: open_text(bytes(v)) if isinstance(v, bytes | memoryview) else jsonable(v)
            for k, v in row.items()
        }
        for row in (await session.execute(query)).mappings().all()
    ]


async def intake_part(
    session: AsyncSession, vault: PersonalDataVault, organisation_id: UUID, person_id: UUID
) -> dict[str, Any]:
    """What intake holds on her, texts decrypted."""
    people = m.people
    person = (
        await session.execute(
            sa.select(people).where(
                people.c.id == person_id,
                people.c.organisation_id == organisation_id,
                people.c.wrapped_key.is_not(None),
            )
        )
    ).one_or_none()
    if person is None:
        raise UnknownPerson(str(person_id))
    key = bytes(person.wrapped_key)

    def open_text(blob: bytes) -> Any:
        return vault.decrypt(key, person_id, blob)

    apps = m.applications
    application_ids = [
        row.id
        for row in (
            await session.execute(sa.select(apps.c.id).where(apps.c.person_id == person_id))
        )
    ]
    notes = m.application_notes
    note_rows = (
        await session.execute(sa.select(notes).where(notes.c.application_id.in_(application_ids)))
    ).all()
    transitions = m.application_transitions
    return {
        "person": {
            "person_id": str(person_id),
            "language": person.language,
            "created_at": jsonable(person.created_at),
            "details": vault.decrypt(key, person_id, bytes(person.details)),
        },
        "applications": await _opened(
            session, sa.select(apps).where(apps.c.person_id == person_id), open_text
        ),
        "consents": await _rows(
            session, sa.select(m.consents).where(m.consents.c.person_id == person_id)
        ),
        "application_history": await _opened(
            session,
            sa.select(transitions).where(transitions.c.application_id.in_(application_ids)),
            open_text,
        ),
        "coordinator_notes": [
            {
                "application_id": str(note.application_id),
                "created_at": jsonable(note.created_at),
                "text": open_text(bytes(note.body)).get("text"),
            }
            for note in note_rows
        ],
        "mails": await _rows(
            session,
            sa.select(
                mail_queue.c.id,
                mail_queue.c.template,
                mail_queue.c.language,
                mail_queue.c.status,
                mail_queue.c.created_at,
                mail_queue.c.sent_at,
            ).where(mail_queue.c.person_id == person_id),
        ),
        "accesses": await accesses_of_person(session, organisation_id, person_id),
    }


async def gather(
    session: AsyncSession,
    vault: PersonalDataVault,
    ask: Ask,
    *,
    organisation_id: UUID,
    person_id: UUID,
    now: datetime,
) -> dict[str, Any]:
    """Her whole export. `UnknownPerson`; `ServiceUnavailable` when a service does not
    answer (no partial export: she is owed all of it)."""
    services: dict[str, Any] = {
        "intake": await intake_part(session, vault, organisation_id, person_id)
    }
    for command in EXPORTS:
        reply = await ask(command(person_id=person_id))
        services[command.target] = reply["tables"]
    return {
        "$schema": SCHEMA_ID,
        "format": FORMAT,
        "generated_at": jsonable(now),
        "organisation_id": str(organisation_id),
        "person_id": str(person_id),
        "services": services,
    }
