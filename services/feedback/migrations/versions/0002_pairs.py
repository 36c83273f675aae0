"""Pairs formed by matching.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "pairs",
        sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("mentee_id", UUID(as_uuid=True), nullable=False),
        sa.Column("mentor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.Text),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("pairs", schema=SCHEMA)
