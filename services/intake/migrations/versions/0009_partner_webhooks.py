"""Partner webhooks: the delivery log, and webhooks stopped by their receiver (410 Gone).

See `services/intake/partners/tables.py`, `services/intake/partners/webhooks.py` and
`docs/partners.md` ("Webhooks").

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0009"
down_revision = "0008"
SCHEMA = "intake"
TABLE = "partner_webhook_deliveries"


def upgrade() -> None:
    op.add_column(
        "partners",
        sa.Column("webhook_stopped_at", sa.DateTime(timezone=True), comment="410 Gone; 0009"),
        schema=SCHEMA,
    )
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "partner_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.partners.id"), nullable=False
        ),
        sa.Column(
            "event_id", UUID(as_uuid=True), nullable=False, comment="envelope id = webhook-id"
        ),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False, comment="in PARTNER_FEED"),
        sa.Column("trigger", sa.Text, nullable=False, comment="feed or replay"),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False, comment="pending/delivered/retrying/failed"),
        sa.Column("attempted_at", sa.DateTime(timezone=True), comment="null while pending"),
        sa.Column("status_code", sa.Integer),
        sa.Column(
            "error", sa.Text, comment="a short code (timeout, connect_error...), never a body"
        ),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("requested_by", UUID(as_uuid=True), comment="replays: the coordinator"),
        sa.Column("requested_at", sa.DateTime(timezone=True), comment="replays"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_partner_webhook_deliveries_partner",
        TABLE,
        ["organisation_id", "partner_id", "id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_partner_webhook_deliveries_event", TABLE, ["partner_id", "event_id"], schema=SCHEMA
    )
    op.create_index(
        "ix_partner_webhook_deliveries_pending",
        TABLE,
        ["partner_id", "next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("outcome = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table(TABLE, schema=SCHEMA)
    op.drop_column("partners", "webhook_stopped_at", schema=SCHEMA)
