"""Initial schema: organisations, programmes, cycles, people, applications, outbox, inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.migrations_env import create_messaging_tables

revision = "0001"
down_revision = None
SCHEMA = "intake"


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.{table}.id")


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    op.create_table(
        "organisations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slug", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "programmes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "cycles",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("programme_id", UUID(as_uuid=True), _fk("programmes"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("applications_open", sa.Date, nullable=False),
        sa.Column("applications_close", sa.Date, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "people",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True, comment="NULL once erased"),
        sa.Column("details", sa.LargeBinary, nullable=False),
        sa.Column("email_digest", sa.LargeBinary, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "applications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("cycle_id", UUID(as_uuid=True), _fk("cycles"), nullable=False),
        sa.Column("person_id", UUID(as_uuid=True), _fk("people"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("profile", JSONB, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    for table, column in [
        ("programmes", "organisation_id"),
        ("cycles", "organisation_id"),
        ("cycles", "programme_id"),
        ("people", "organisation_id"),
        ("people", "email_digest"),
        ("applications", "organisation_id"),
        ("applications", "cycle_id"),
        ("applications", "person_id"),
    ]:
        op.create_index(f"ix_{table}_{column}", table, [column], schema=SCHEMA)


def downgrade() -> None:
    for table in ("applications", "people", "cycles", "programmes", "organisations"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
