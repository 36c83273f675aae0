"""Partner systems, their NATS credentials, live connections and audit trail.

See `services/intake/partners/tables.py` and `docs/partners.md`.

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0008"
down_revision = "0001"
SCHEMA = "intake"


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.{table}.id")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), _fk("organisations"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False, comment="the partner's data key"),
        sa.Column("webhook_secret", sa.LargeBinary, comment="encrypted with the partner's key"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True), comment="coordinator id; null: by command"),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("organisation_id", "name", name="partners_name_unique"),
        schema=SCHEMA,
    )
    op.create_index("ix_partners_organisation_id", "partners", ["organisation_id"], schema=SCHEMA)
    op.create_table(
        "partner_credentials",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="the NATS user name"),
        sa.Column("partner_id", UUID(as_uuid=True), _fk("partners"), nullable=False),
        sa.Column("secret_digest", sa.LargeBinary, nullable=False, comment="SHA-256 of the secret"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", UUID(as_uuid=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_partner_credentials_partner_id", "partner_credentials", ["partner_id"], schema=SCHEMA
    )
    op.create_table(
        "partner_connections",
        sa.Column("server_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.BigInteger, primary_key=True),
        sa.Column("credential_id", UUID(as_uuid=True), _fk("partner_credentials"), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_partner_connections_credential_id",
        "partner_connections",
        ["credential_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "partner_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("partner_id", UUID(as_uuid=True)),
        sa.Column("credential_id", UUID(as_uuid=True)),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, comment="a short code (why refused), never a secret"),
        sa.Column("actor", UUID(as_uuid=True), comment="coordinator id; null: system or command"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    for column in ("organisation_id", "partner_id"):
        op.create_index(f"ix_partner_audit_{column}", "partner_audit", [column], schema=SCHEMA)


def downgrade() -> None:
    for table in ("partner_audit", "partner_connections", "partner_credentials", "partners"):
        op.drop_table(table, schema=SCHEMA)
