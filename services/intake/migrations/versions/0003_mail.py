"""Mail: the queue of e-mails to send and the development mailbox.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0001"
SCHEMA = "intake"


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.{table}.id")


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="also the Message-ID"),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("person_id", UUID(as_uuid=True), _fk("people"), nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("context", JSONB, nullable=False, comment="ids, codes, dates: no personal data"),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')", name="mail_queue_status_known"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "mail_queue_due",
        "mail_queue",
        ["not_before"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_mail_queue_organisation_id", "mail_queue", ["organisation_id"], schema=SCHEMA
    )
    op.create_index("ix_mail_queue_person_id", "mail_queue", ["person_id"], schema=SCHEMA)
    op.create_table(
        "dev_mailbox",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("mail_id", UUID(as_uuid=True), _fk("mail_queue"), nullable=False),
        sa.Column("to_address", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_dev_mailbox_mail_id", "dev_mailbox", ["mail_id"], schema=SCHEMA)
    op.create_index("ix_dev_mailbox_created_at", "dev_mailbox", ["created_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("dev_mailbox", schema=SCHEMA)
    op.drop_table("mail_queue", schema=SCHEMA)
