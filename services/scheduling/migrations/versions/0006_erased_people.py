"""People erased (shared/erasure.py): the keyed digests by which late events about them are
skipped.

Revision ID: 0006
"""

from alembic import op

from shared.erasure import create_erased_table

revision = "0006"
down_revision = "0001"
SCHEMA = "scheduling"


def upgrade() -> None:
    create_erased_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("erased_people", schema=SCHEMA)
