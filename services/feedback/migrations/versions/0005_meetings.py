"""Pair meetings held and months missed, from scheduling's events (for the reports'
meeting regularity).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0002"
SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("meeting_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("pair_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "missed_months",
        sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("missed_months", schema=SCHEMA)
    op.drop_table("meetings", schema=SCHEMA)
