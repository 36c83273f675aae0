"""Screening results, status history, private notes, consents, submission throttling.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0004"
down_revision = "0001"
SCHEMA = "intake"


def upgrade() -> None:
    for column in ("screening_reasons", "screening_notes"):
        op.add_column(
            "applications",
            sa.Column(column, JSONB, nullable=False, server_default="[]"),
            schema=SCHEMA,
        )
    op.add_column("applications", sa.Column("rolled_over_from", UUID(as_uuid=True)), schema=SCHEMA)
    op.add_column(
        "applications", sa.Column("updated_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.create_table(
        "consents",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "person_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.people.id"), nullable=False
        ),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index("ix_consents_person_id", "consents", ["person_id"], schema=SCHEMA)
    op.create_table(
        "application_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "application_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.applications.id"),
            nullable=False,
        ),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason_codes", JSONB, nullable=False, server_default="[]"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_application_transitions_application_id",
        "application_transitions",
        ["application_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "application_notes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "application_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.applications.id"),
            nullable=False,
        ),
        sa.Column("author_id", UUID(as_uuid=True), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_application_notes_application_id",
        "application_notes",
        ["application_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "submission_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("client_digest", sa.LargeBinary, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_submission_attempts_client_digest",
        "submission_attempts",
        ["client_digest"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "submission_attempts",
        "application_notes",
        "application_transitions",
        "consents",
    ):
        op.drop_table(table, schema=SCHEMA)
    for column in ("updated_at", "rolled_over_from", "screening_notes", "screening_reasons"):
        op.drop_column("applications", column, schema=SCHEMA)
