"""Sealed screening codes: the codes derived from age, gender or background
(`domain.SEALED_CODES`) move from the plain JSONB columns into ciphertexts under the
person's key; the plain columns keep the public codes (`domain.public_reasons`).

- `applications.sealed_reasons`, `applications.sealed_notes` and
  `application_transitions.sealed_reason_codes` are added and filled for every existing
  application and screening step of a person whose key exists (encrypted with the
  service's secret key, which `shared.db.migrate` passes; the step fails without it).
- An erased person's codes cannot be encrypted (no key): the sealed ones are dropped, the
  neutral `not_in_target_group` stands in when nothing else says why she was ineligible.
- `ApplicationScreened` rows still in the outbox (published ones are kept 7 days) carry the
  public codes only. Messages already in the JetStream stream are not reached from here:
  see docs/security.md ("Sealed screening codes").

Revision ID: 0010_sealed_screening
Revises: 0004 (the screening columns and the history; the migrations branch per feature from 0001)
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from services.intake.domain import public_reasons, split_sealed, unseal
from shared.crypto import PersonalDataVault
from shared.envelope import Envelope
from shared.events import ApplicationScreened
from shared.migrations_env import migration_vault

revision = "0010_sealed_screening"
down_revision = "0004"
SCHEMA = "intake"
WHAT = "the screening codes derived from age, gender or background"

applications = sa.table(
    "applications",
    sa.column("id", UUID(as_uuid=True)),
    sa.column("person_id", UUID(as_uuid=True)),
    sa.column("screening_reasons", JSONB),
    sa.column("screening_notes", JSONB),
    sa.column("sealed_reasons", sa.LargeBinary),
    sa.column("sealed_notes", sa.LargeBinary),
    schema=SCHEMA,
)
transitions = sa.table(
    "application_transitions",
    sa.column("id", sa.BigInteger),
    sa.column("application_id", UUID(as_uuid=True)),
    sa.column("from_status", sa.Text),
    sa.column("actor", sa.Text),
    sa.column("reason_codes", JSONB),
    sa.column("sealed_reason_codes", sa.LargeBinary),
    schema=SCHEMA,
)
people = sa.table(
    "people",
    sa.column("id", UUID(as_uuid=True)),
    sa.column("wrapped_key", sa.LargeBinary),
    schema=SCHEMA,
)
outbox = sa.table(
    "outbox",
    sa.column("id", UUID(as_uuid=True)),
    sa.column("event_type", sa.Text),
    sa.column("payload", sa.LargeBinary),
    schema=SCHEMA,
)


class _Keys:
    """Each person's data key as the vault needs it; the vault fetched on first need."""

    def __init__(self) -> None:
        self._vault: PersonalDataVault | None = None

    @property
    def vault(self) -> PersonalDataVault:
        if self._vault is None:
            self._vault = migration_vault(WHAT)
        return self._vault

    def seal(self, wrapped_key: bytes, person_id: Any, codes: list[str]) -> bytes:
        sealed = list(split_sealed(tuple(codes))[1])
        return self.vault.encrypt(bytes(wrapped_key), person_id, {"codes": sealed})

    def open(self, wrapped_key: bytes, person_id: Any, blob: bytes) -> tuple[str, ...]:
        found = self.vault.decrypt(bytes(wrapped_key), person_id, bytes(blob))
        return tuple(found["codes"])


def upgrade() -> None:
    for table, column in (
        ("applications", "sealed_reasons"),
        ("applications", "sealed_notes"),
        ("application_transitions", "sealed_reason_codes"),
    ):
        op.add_column(
            table,
            sa.Column(column, sa.LargeBinary, comment="encrypted with the person's key; 0010"),
            schema=SCHEMA,
        )
    bind, keys = op.get_bind(), _Keys()
    for row in bind.execute(
        sa.select(
            applications.c.id,
            applications.c.person_id,
            applications.c.screening_reasons,
            applications.c.screening_notes,
            people.c.wrapped_key,
        ).join(people, people.c.id == applications.c.person_id)
    ).all():
        reasons, notes = list(row.screening_reasons), list(row.screening_notes)
        values: dict[str, Any] = {
            "screening_reasons": list(public_reasons(tuple(reasons))),
            "screening_notes": list(split_sealed(tuple(notes))[0]),
        }
        if row.wrapped_key is not None:
            values["sealed_reasons"] = keys.seal(row.wrapped_key, row.person_id, reasons)
            values["sealed_notes"] = keys.seal(row.wrapped_key, row.person_id, notes)
        bind.execute(applications.update().where(applications.c.id == row.id).values(**values))

    screening_step = sa.and_(
        transitions.c.from_status == "submitted", transitions.c.actor == "system"
    )
    for row in bind.execute(
        sa.select(
            transitions.c.id,
            transitions.c.reason_codes,
            applications.c.person_id,
            people.c.wrapped_key,
        )
        .join(applications, applications.c.id == transitions.c.application_id)
        .join(people, people.c.id == applications.c.person_id)
        .where(sa.or_(screening_step, transitions.c.reason_codes != sa.text("'[]'::jsonb")))
    ).all():
        codes = list(row.reason_codes)
        values = {"reason_codes": list(public_reasons(tuple(codes)))}
        if row.wrapped_key is not None:
            values["sealed_reason_codes"] = keys.seal(row.wrapped_key, row.person_id, codes)
        bind.execute(transitions.update().where(transitions.c.id == row.id).values(**values))

    for row in bind.execute(
        sa.select(outbox.c.id, outbox.c.payload).where(
            outbox.c.event_type == ApplicationScreened.type_name()
        )
    ).all():
        envelope = Envelope.from_bytes(bytes(row.payload))
        codes = tuple(envelope.data.get("reason_codes", ()))
        data = envelope.data | {"reason_codes": list(public_reasons(codes))}
        bind.execute(
            outbox.update()
            .where(outbox.c.id == row.id)
            .values(payload=envelope.model_copy(update={"data": data}).to_bytes())
        )


def downgrade() -> None:
    """The sealed codes back into the plain columns (while the person's key exists)."""
    bind, keys = op.get_bind(), _Keys()
    for row in bind.execute(
        sa.select(
            applications.c.id,
            applications.c.person_id,
            applications.c.screening_reasons,
            applications.c.screening_notes,
            applications.c.sealed_reasons,
            applications.c.sealed_notes,
            people.c.wrapped_key,
        )
        .join(people, people.c.id == applications.c.person_id)
        .where(people.c.wrapped_key.is_not(None))
    ).all():
        values: dict[str, Any] = {}
        for plain, sealed in (
            ("screening_reasons", "sealed_reasons"),
            ("screening_notes", "sealed_notes"),
        ):
            if getattr(row, sealed) is not None:
                opened = keys.open(row.wrapped_key, row.person_id, getattr(row, sealed))
                values[plain] = list(unseal(tuple(getattr(row, plain)), opened))
        if values:
            bind.execute(applications.update().where(applications.c.id == row.id).values(**values))
    for row in bind.execute(
        sa.select(
            transitions.c.id,
            transitions.c.reason_codes,
            transitions.c.sealed_reason_codes,
            applications.c.person_id,
            people.c.wrapped_key,
        )
        .join(applications, applications.c.id == transitions.c.application_id)
        .join(people, people.c.id == applications.c.person_id)
        .where(people.c.wrapped_key.is_not(None), transitions.c.sealed_reason_codes.is_not(None))
    ).all():
        opened = keys.open(row.wrapped_key, row.person_id, row.sealed_reason_codes)
        bind.execute(
            transitions.update()
            .where(transitions.c.id == row.id)
            .values(reason_codes=list(unseal(tuple(row.reason_codes), opened)))
        )
    op.drop_column("application_transitions", "sealed_reason_codes", schema=SCHEMA)
    op.drop_column("applications", "sealed_notes", schema=SCHEMA)
    op.drop_column("applications", "sealed_reasons", schema=SCHEMA)
