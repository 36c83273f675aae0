"""Pairs formed by matching.

Revision ID: 0002
"""

from alembic import op

from shared.pairs import create_pairs_table

revision = "0002"
down_revision = "0001"
SCHEMA = "scheduling"


def upgrade() -> None:
    create_pairs_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("pairs", schema=SCHEMA)
