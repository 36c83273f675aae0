"""Mail queue: an optional de-duplication key, unique, so that a mail caused by an event
(a reminder, a survey invitation) is queued once whatever the redeliveries.

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
SCHEMA = "intake"


def upgrade() -> None:
    op.add_column(
        "mail_queue",
        sa.Column("dedupe_key", sa.Text, nullable=True, comment="what caused it, once"),
        schema=SCHEMA,
    )
    op.create_index(
        "mail_queue_dedupe_key",
        "mail_queue",
        ["dedupe_key"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("mail_queue_dedupe_key", table_name="mail_queue", schema=SCHEMA)
    op.drop_column("mail_queue", "dedupe_key", schema=SCHEMA)
