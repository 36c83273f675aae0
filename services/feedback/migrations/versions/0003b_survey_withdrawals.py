"""Surveys: withdrawn applications, so that an acceptance consumed after its withdrawal
invites nobody.

Revision ID: 0003b
"""

import sqlalchemy as sa
from alembic import op

from services.feedback.survey_tables import add_withdrawals_table

revision = "0003b"
down_revision = "0003"
SCHEMA = "feedback"


def upgrade() -> None:
    metadata = sa.MetaData(schema=SCHEMA)
    add_withdrawals_table(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("survey_withdrawals", schema=SCHEMA)
