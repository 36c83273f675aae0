"""Uploaded files kept between the steps of an import: `intake.import_batches`.

The parsed rows are personal data, so they are stored encrypted (AES-GCM) under a random
key of the batch's own, wrapped under the installation's key exactly as a person's key is
(`PersonalDataVault`, with the batch id in place of the person id). Once the batch is
imported, or when it expires unimported, the rows and the key are deleted: what remains
is who imported how many rows from which file, when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.imports.parse import ParsedFile
from services.intake.models import metadata
from shared.crypto import PersonalDataVault
from shared.events import Role

BATCH_LIFETIME = timedelta(hours=24)
UPLOADED, CHECKED, IMPORTED = "uploaded", "checked", "imported"
STATUSES = (UPLOADED, CHECKED, IMPORTED)

import_batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column("id", PgUUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("cycle_id", sa.ForeignKey("cycles.id"), nullable=False, index=True),
    sa.Column("coordinator_id", PgUUID(as_uuid=True), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("columns", JSONB, nullable=False, comment="the header row"),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True, comment="NULL once imported/expired"),
    sa.Column("rows", sa.LargeBinary, nullable=True, comment="encrypted JSON of the rows"),
    sa.Column("mapping", JSONB, nullable=True, comment="field -> column, from the last dry run"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("imported_count", sa.Integer, nullable=True),
    sa.CheckConstraint("role IN ('mentee', 'mentor')", name="import_batches_role"),
    sa.CheckConstraint(
        "status IN ('uploaded', 'checked', 'imported')", name="import_batches_status"
    ),
)


def encrypt_rows(
    vault: PersonalDataVault, batch_id: UUID, parsed: ParsedFile
) -> tuple[bytes, bytes]:
    """(wrapped key, ciphertext) of the rows, bound to the batch id."""
    wrapped_key = vault.new_wrapped_key(batch_id)
    rows = [[number, list(values)] for number, values in parsed.rows]
    return wrapped_key, vault.encrypt(wrapped_key, batch_id, {"rows": rows})


def decrypt_rows(
    vault: PersonalDataVault, batch_id: UUID, wrapped_key: bytes, blob: bytes
) -> list[tuple[int, tuple[str, ...]]]:
    rows = vault.decrypt(wrapped_key, batch_id, blob)["rows"]
    return [(int(number), tuple(str(v) for v in values)) for number, values in rows]


@dataclass(frozen=True)
class Batch:
    id: UUID
    organisation_id: UUID
    cycle_id: UUID
    coordinator_id: UUID
    role: Role
    filename: str
    columns: tuple[str, ...]
    row_count: int
    mapping: dict[str, Any] | None
    status: str
    created_at: datetime
    expires_at: datetime
    imported_count: int | None
    wrapped_key: bytes | None
    rows_blob: bytes | None

    def expired(self, now: datetime) -> bool:
        return self.status != IMPORTED and now >= self.expires_at

    def rows(self, vault: PersonalDataVault) -> list[tuple[int, tuple[str, ...]]]:
        if self.wrapped_key is None or self.rows_blob is None:
            return []
        return decrypt_rows(vault, self.id, self.wrapped_key, self.rows_blob)


def _batch(row: Any) -> Batch:
    return Batch(
        id=row.id,
        organisation_id=row.organisation_id,
        cycle_id=row.cycle_id,
        coordinator_id=row.coordinator_id,
        role=Role(row.role),
        filename=row.filename,
        columns=tuple(row.columns),
        row_count=row.row_count,
        mapping=row.mapping,
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        imported_count=row.imported_count,
        wrapped_key=row.wrapped_key,
        rows_blob=row.rows,
    )


async def create_batch(
    session: AsyncSession,
    *,
    vault: PersonalDataVault,
    organisation_id: UUID,
    cycle_id: UUID,
    coordinator_id: UUID,
    role: Role,
    filename: str,
    parsed: ParsedFile,
    now: datetime,
) -> UUID:
    batch_id = uuid4()
    wrapped_key, blob = encrypt_rows(vault, batch_id, parsed)
    await session.execute(
        import_batches.insert().values(
            id=batch_id,
            organisation_id=organisation_id,
            cycle_id=cycle_id,
            coordinator_id=coordinator_id,
            role=role.value,
            filename=filename[:255],
            columns=list(parsed.columns),
            row_count=len(parsed.rows),
            wrapped_key=wrapped_key,
            rows=blob,
            created_at=now,
            expires_at=now + BATCH_LIFETIME,
            status=UPLOADED,
        )
    )
    return batch_id


async def load_batch(
    session: AsyncSession, *, organisation_id: UUID, batch_id: UUID, for_update: bool = False
) -> Batch | None:
    """The batch if it belongs to the organisation (anyone else's is None, as if absent)."""
    query = sa.select(import_batches).where(
        import_batches.c.id == batch_id, import_batches.c.organisation_id == organisation_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    return _batch(row) if row is not None else None


async def save_mapping(session: AsyncSession, batch_id: UUID, mapping: dict[str, Any]) -> None:
    await session.execute(
        import_batches.update()
        .where(import_batches.c.id == batch_id, import_batches.c.status != IMPORTED)
        .values(mapping=mapping, status=CHECKED)
    )


async def mark_imported(session: AsyncSession, batch_id: UUID, count: int, now: datetime) -> None:
    """Imported: the rows and their key are deleted, the record of the import stays."""
    await session.execute(
        import_batches.update()
        .where(import_batches.c.id == batch_id)
        .values(
            status=IMPORTED,
            imported_at=now,
            imported_count=count,
            rows=None,
            wrapped_key=None,
        )
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete batches that expired without being imported."""
    result = await session.execute(
        import_batches.delete().where(
            import_batches.c.expires_at < now, import_batches.c.status != IMPORTED
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
