"""Partners' tables, in the "intake" schema (created by migration 0008).

- `partners`: a partner system of one organisation, with its optional webhook; the
  webhook's signing secret is encrypted (`shared.crypto`, under a key of the partner's own).
- `partner_credentials`: NATS credentials; only the SHA-256 of the secret is kept.
- `partner_connections`: live connections the auth callout admitted, so that revoking a
  credential can disconnect them (`server_id`, `client_id` are the server's own).
- `partner_audit`: who issued, revoked or used what, and what was refused (ids only).
- `partner_webhook_deliveries` (migration 0009): one row per webhook attempt, or per replay
  an admin asked for and not yet attempted; status codes and short error codes only, never
  a body. `partners.webhook_stopped_at` is set when the receiver answered 410 Gone.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from services.intake.models import metadata

AUDIT_ACTIONS = (
    "partner_created",
    "partner_disabled",
    "webhook_changed",
    "webhook_stopped",
    "webhook_replayed",
    "credential_issued",
    "credential_revoked",
    "connection_admitted",
    "connection_refused",
)

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("webhook_url", sa.Text),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False, comment="the partner's data key"),
    sa.Column("webhook_secret", sa.LargeBinary, comment="encrypted with the partner's key"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", UUID(as_uuid=True), comment="coordinator id; null: by command"),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
    sa.Column("webhook_stopped_at", sa.DateTime(timezone=True), comment="410 Gone; 0009"),
    sa.UniqueConstraint("organisation_id", "name", name="partners_name_unique"),
)

partner_credentials = sa.Table(
    "partner_credentials",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="the NATS user name"),
    sa.Column("partner_id", sa.ForeignKey("partners.id"), nullable=False, index=True),
    sa.Column("secret_digest", sa.LargeBinary, nullable=False, comment="SHA-256 of the secret"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", UUID(as_uuid=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_by", UUID(as_uuid=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
)

partner_connections = sa.Table(
    "partner_connections",
    metadata,
    sa.Column("server_id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.BigInteger, primary_key=True),
    sa.Column("credential_id", sa.ForeignKey("partner_credentials.id"), nullable=False, index=True),
    sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

partner_audit = sa.Table(
    "partner_audit",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("partner_id", UUID(as_uuid=True), index=True),
    sa.Column("credential_id", UUID(as_uuid=True)),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, comment="a short code (why refused), never a secret"),
    sa.Column("actor", UUID(as_uuid=True), comment="coordinator id; null: system or command"),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

partner_webhook_deliveries = sa.Table(
    "partner_webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("partner_id", sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, comment="envelope id = webhook-id"),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("stream_sequence", sa.BigInteger, nullable=False, comment="in PARTNER_FEED"),
    sa.Column("trigger", sa.Text, nullable=False, comment="feed or replay"),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False, comment="pending/delivered/retrying/failed"),
    sa.Column("attempted_at", sa.DateTime(timezone=True), comment="null while pending"),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text, comment="a short code (timeout, connect_error...), never a body"),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("requested_by", UUID(as_uuid=True), comment="replays: the coordinator"),
    sa.Column("requested_at", sa.DateTime(timezone=True), comment="replays"),
    sa.Index("ix_partner_webhook_deliveries_partner", "organisation_id", "partner_id", "id"),
    sa.Index("ix_partner_webhook_deliveries_event", "partner_id", "event_id"),
    sa.Index(
        "ix_partner_webhook_deliveries_pending",
        "partner_id",
        "next_attempt_at",
        postgresql_where=sa.text("outcome = 'pending'"),
    ),
)
