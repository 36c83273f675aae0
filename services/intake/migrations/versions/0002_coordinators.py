"""Coordinator accounts: coordinators, web sessions, login failures (for throttling).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "coordinators",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "organisation_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.organisations.id"),
            nullable=False,
        ),
        sa.Column("email", sa.Text, nullable=False, comment="work e-mail, lower-cased"),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False, comment="argon2id, PHC string"),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("organisation_id", "email", name="coordinators_organisation_email"),
        sa.CheckConstraint("role IN ('admin', 'coordinator', 'viewer')", name="coordinators_role"),
        sa.CheckConstraint("language IN ('fi', 'en', 'sv')", name="coordinators_language"),
        sa.CheckConstraint("email = lower(email)", name="coordinators_email_lower"),
        schema=SCHEMA,
    )
    op.create_index("ix_coordinators_email", "coordinators", ["email"], schema=SCHEMA)
    op.create_index(
        "ix_coordinators_organisation_id", "coordinators", ["organisation_id"], schema=SCHEMA
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.LargeBinary, primary_key=True, comment="sha256 of the cookie's token"),
        sa.Column(
            "coordinator_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.coordinators.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.Text, nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_web_sessions_coordinator_id", "web_sessions", ["coordinator_id"], schema=SCHEMA
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"], schema=SCHEMA)
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("email_digest", sa.LargeBinary, nullable=False),
        sa.Column("ip", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_login_failures_email_digest_at",
        "login_failures",
        ["email_digest", "at"],
        schema=SCHEMA,
    )
    op.create_index("ix_login_failures_ip_at", "login_failures", ["ip", "at"], schema=SCHEMA)
    op.create_index("ix_login_failures_at", "login_failures", ["at"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("login_failures", "web_sessions", "coordinators"):
        op.drop_table(table, schema=SCHEMA)
