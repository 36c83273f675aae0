"""Erasure: the requests and their progress per service, and the people erased.

See `services/intake/erasure.py`, `shared/erasure.py` and `docs/privacy.md` ("Erasure").

Revision ID: 0012
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.erasure import create_erased_table

revision = "0012"
down_revision = "0001"
SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="the erasure id in events"),
        sa.Column(
            "organisation_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.organisations.id"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "person_digest",
            sa.LargeBinary,
            nullable=False,
            index=True,
            comment="keyed HMAC of her id",
        ),
        sa.Column("person_id", UUID(as_uuid=True), comment="until the streams are scrubbed"),
        sa.Column("subject_ids", JSONB, comment="her ids to scrub from streams; NULL once done"),
        sa.Column("requested_by", UUID(as_uuid=True), comment="the coordinator; NULL: she did"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scrubbed_at", sa.DateTime(timezone=True)),
        sa.Column("scrubbed_messages", sa.Integer),
        comment="erasure requests and their progress; without her id once finished",
        schema=SCHEMA,
    )
    op.create_table(
        "erasure_completions",
        sa.Column(
            "erasure_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.erasures.id"),
            primary_key=True,
        ),
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    create_erased_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("erased_people", schema=SCHEMA)
    op.drop_table("erasure_completions", schema=SCHEMA)
    op.drop_table("erasures", schema=SCHEMA)
