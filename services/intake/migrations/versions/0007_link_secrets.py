"""Personal links: never in clear in the mail queue, and revocable per person.

- `mail_queue.secret_context`: context keys (a personal link) encrypted with the recipient's
  own key; erasing her (deleting `people.wrapped_key`) makes a queued link unreadable.
- `people.link_generation`: tokens of an older generation are refused (revoked).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
SCHEMA = "intake"


def upgrade() -> None:
    op.add_column(
        "mail_queue",
        sa.Column(
            "secret_context",
            sa.LargeBinary,
            nullable=True,
            comment="context keys encrypted with the person's key (links), migration 0007",
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "people",
        sa.Column(
            "link_generation",
            sa.Integer,
            nullable=False,
            server_default="0",
            comment="personal links of an older generation are revoked (migration 0007)",
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("people", "link_generation", schema=SCHEMA)
    op.drop_column("mail_queue", "secret_context", schema=SCHEMA)
