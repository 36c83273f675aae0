"""Intake's mail tables, in the "intake" schema (created by migration 0003)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from services.intake.models import metadata

STATUSES = ("queued", "sent", "failed")

mail_queue = sa.Table(
    "mail_queue",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="also the Message-ID"),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("person_id", sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("context", JSONB, nullable=False, comment="ids, codes, dates: no personal data"),
    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("dedupe_key", sa.Text, comment="what caused it, once"),
    sa.Column(
        "secret_context",
        sa.LargeBinary,
        comment="context keys encrypted with the person's key (links), migration 0007",
    ),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="mail_queue_status_known"),
    sa.Index("mail_queue_due", "not_before", postgresql_where=sa.text("status = 'queued'")),
    sa.Index(
        "mail_queue_dedupe_key",
        "dedupe_key",
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    ),
)

dev_mailbox = sa.Table(
    "dev_mailbox",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("mail_id", sa.ForeignKey("mail_queue.id"), nullable=False, index=True),
    sa.Column("to_address", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
