"""Group meetings and trainings can be changed and cancelled: a change counter (the
iCalendar SEQUENCE), when last changed, and when (and why, a code) cancelled.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
SCHEMA = "scheduling"
TABLES = ("group_meetings", "trainings")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
            schema=SCHEMA,
        )
        op.add_column(table, sa.Column("updated_at", sa.DateTime(timezone=True)), schema=SCHEMA)
        op.add_column(table, sa.Column("cancelled_at", sa.DateTime(timezone=True)), schema=SCHEMA)
        op.add_column(table, sa.Column("cancel_reason", sa.Text), schema=SCHEMA)


def downgrade() -> None:
    for table in TABLES:
        for column in ("cancel_reason", "cancelled_at", "updated_at", "sequence"):
            op.drop_column(table, column, schema=SCHEMA)
