"""Imports of applications from files: uploaded batches, their rows encrypted.

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0005"
down_revision = "0001"
SCHEMA = "intake"


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.{table}.id")


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("cycle_id", UUID(as_uuid=True), _fk("cycles"), nullable=False),
        sa.Column("coordinator_id", UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("columns", JSONB, nullable=False, comment="the header row"),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column(
            "wrapped_key", sa.LargeBinary, nullable=True, comment="NULL once imported/expired"
        ),
        sa.Column("rows", sa.LargeBinary, nullable=True, comment="encrypted JSON of the rows"),
        sa.Column(
            "mapping", JSONB, nullable=True, comment="field -> column, from the last dry run"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_count", sa.Integer, nullable=True),
        sa.CheckConstraint("role IN ('mentee', 'mentor')", name="import_batches_role"),
        sa.CheckConstraint(
            "status IN ('uploaded', 'checked', 'imported')", name="import_batches_status"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_import_batches_organisation_id", "import_batches", ["organisation_id"], schema=SCHEMA
    )
    op.create_index("ix_import_batches_cycle_id", "import_batches", ["cycle_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("import_batches", schema=SCHEMA)
