"""Tables of coordinator accounts, in intake's schema (created by migration 0002)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from services.intake.models import metadata

ROLES = ("admin", "coordinator", "viewer")
LANGUAGES = ("fi", "en", "sv")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


coordinators = sa.Table(
    "coordinators",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("email", sa.Text, nullable=False, comment="work e-mail, lower-cased"),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False, comment="argon2id, PHC string"),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("organisation_id", "email", name="coordinators_organisation_email"),
    sa.CheckConstraint(_in("role", ROLES), name="coordinators_role"),
    sa.CheckConstraint(_in("language", LANGUAGES), name="coordinators_language"),
    sa.CheckConstraint("email = lower(email)", name="coordinators_email_lower"),
    sa.Index("ix_coordinators_email", "email"),
    sa.Index("ix_coordinators_organisation_id", "organisation_id"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.LargeBinary, primary_key=True, comment="sha256 of the cookie's token"),
    sa.Column(
        "coordinator_id",
        sa.ForeignKey("coordinators.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ip", sa.Text, nullable=True),
    sa.Column("user_agent", sa.Text, nullable=True),
    sa.Index("ix_web_sessions_coordinator_id", "coordinator_id"),
    sa.Index("ix_web_sessions_expires_at", "expires_at"),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("email_digest", sa.LargeBinary, nullable=False, comment="keyed hash of the e-mail"),
    sa.Column("ip", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_login_failures_email_digest_at", "email_digest", "at"),
    sa.Index("ix_login_failures_ip_at", "ip", "at"),
    sa.Index("ix_login_failures_at", "at"),
)
