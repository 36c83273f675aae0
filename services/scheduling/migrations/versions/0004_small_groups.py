"""Small groups of pairs for group work (formed, and re-formed, by the coordinator).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
SCHEMA = "scheduling"


def upgrade() -> None:
    op.create_table(
        "small_groups",
        sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("group_no", sa.Integer, nullable=False),
        sa.Column("isco_major", sa.Text, nullable=False),
        sa.Column("region", sa.Text),
        sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("group_no >= 1", name="small_groups_number_positive"),
        schema=SCHEMA,
        comment="the cycle's small groups: each current pair's group number",
    )


def downgrade() -> None:
    op.drop_table("small_groups", schema=SCHEMA)
