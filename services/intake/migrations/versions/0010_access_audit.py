"""Access audit: `access_log`, one row per person per view or download of her data by a
coordinator, append-only.

A trigger refuses UPDATE, DELETE and TRUNCATE. The one change let through is erasure's
(`services.intake.access.store.anonymise_subject`): an UPDATE that changes only
`person_id`, while the transaction-local setting `womento.erasing` is `on`.
See `services/intake/access/tables.py` and docs/security.md ("Access audit").

Revision ID: 0010_access_audit
Revises: 0002 (the coordinators it names; the migrations branch per feature from 0001)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0010_access_audit"
down_revision = "0002"
SCHEMA = "intake"
WHATS = (
    "queue_viewed",
    "application_viewed",
    "notes_viewed",
    "names_viewed",
    "interview_viewed",
    "export_downloaded",
    "research_csv_downloaded",
)
WHYS = ("screening", "matching", "scheduling", "outcomes", "data_request", "research")

APPEND_ONLY = (
    f"""
CREATE FUNCTION {SCHEMA}.access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF current_setting('womento.erasing', true) = 'on'
           AND (to_jsonb(NEW) - 'person_id') = (to_jsonb(OLD) - 'person_id') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'intake.access_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'only erasure may replace a person id (access.store.anonymise_subject)';
END
$$""",
    f"""CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.access_log
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.access_log_append_only()""",
    f"""CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON {SCHEMA}.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.access_log_append_only()""",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "organisation_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.organisations.id"),
            nullable=False,
        ),
        sa.Column("access_id", UUID(as_uuid=True), nullable=False, comment="one view or download"),
        sa.Column(
            "coordinator_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.coordinators.id"),
            nullable=False,
        ),
        sa.Column("coordinator_role", sa.Text, nullable=False, comment="her role at the time"),
        sa.Column(
            "person_id",
            UUID(as_uuid=True),
            comment="whose data; NULL: a download naming nobody; an erasure id once she is erased",
        ),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False, comment="the route, no person's ids, no query"),
        sa.Column("client_address", sa.Text, comment="the request's client address"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("what", WHATS), name="access_log_what"),
        sa.CheckConstraint(_in("why", WHYS), name="access_log_why"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_access_log_person",
        "access_log",
        ["organisation_id", "person_id", "id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_access_log_coordinator",
        "access_log",
        ["organisation_id", "coordinator_id", "id"],
        schema=SCHEMA,
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP TABLE {SCHEMA}.access_log")
    op.execute(f"DROP FUNCTION {SCHEMA}.access_log_append_only()")
