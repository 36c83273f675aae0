"""The schedule: cycles, planned and held pair meetings, group meetings, trainings,
invitations (RSVP, attendance), durable due jobs and at-risk flags.

Revision ID: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0003"
down_revision = "0002"
SCHEMA = "scheduling"


def _uuid(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, UUID(as_uuid=True), **kw)


def _at(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("pairs", sa.Column("plan_basis", sa.Text), schema=SCHEMA)
    op.create_table(
        "cycles",
        _uuid("cycle_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        _uuid("programme_id", nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("cadence_days", sa.Integer, nullable=False, server_default="31"),
        sa.Column("grace_days", sa.Integer, nullable=False, server_default="14"),
        schema=SCHEMA,
    )
    op.create_table(
        "planned_meetings",
        _uuid("pair_id", primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("due_on", sa.Date, nullable=False),
        _at("missed_at", nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "meetings",
        _uuid("meeting_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        _uuid("pair_id", nullable=False, index=True),
        _uuid("cycle_id", nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("topic_codes", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("logged_by", sa.Text, nullable=False),
        _at("logged_at"),
        _uuid("command_id", nullable=False, unique=True),
        sa.CheckConstraint("minutes > 0", name="meetings_minutes_positive"),
        sa.CheckConstraint(
            "logged_by IN ('participant', 'coordinator')", name="meetings_logged_by"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "group_meetings",
        _uuid("id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        _uuid("cycle_id", nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("place", sa.Text),
        sa.Column("online_url", sa.Text),
        _at("created_at"),
        sa.CheckConstraint("kind IN ('kick_off', 'midway', 'closing')", name="group_meetings_kind"),
        sa.CheckConstraint("ends_at > starts_at", name="group_meetings_ends_after_start"),
        schema=SCHEMA,
    )
    op.create_table(
        "trainings",
        _uuid("id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("place", sa.Text),
        sa.Column("online_url", sa.Text),
        sa.Column("capacity", sa.Integer, nullable=False),
        _at("created_at"),
        sa.CheckConstraint("capacity > 0", name="trainings_capacity_positive"),
        sa.CheckConstraint("ends_at > starts_at", name="trainings_ends_after_start"),
        schema=SCHEMA,
    )
    op.create_table(
        "invitations",
        _uuid("event_id", primary_key=True),
        _uuid("person_id", primary_key=True, index=True),
        _uuid("organisation_id", nullable=False),
        sa.Column("event_kind", sa.Text, nullable=False),
        _at("invited_at"),
        sa.Column("rsvp", sa.Text),
        _at("rsvp_at", nullable=True),
        sa.Column("attended", sa.Boolean),
        _at("attendance_at", nullable=True),
        sa.CheckConstraint("rsvp IS NULL OR rsvp IN ('yes', 'no')", name="invitations_rsvp"),
        schema=SCHEMA,
    )
    op.create_table(
        "jobs",
        _uuid("job_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        _at("due_at"),
        _at("fired_at", nullable=True),
        _uuid("pair_id", index=True),
        _uuid("event_id", index=True),
        sa.Column("payload", JSONB, nullable=False, server_default="{}"),
        _at("created_at"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint(
            "kind IN ('reminder', 'at_risk_check', 'missed_check')", name="jobs_kind"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "jobs_due",
        "jobs",
        ["due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("fired_at IS NULL"),
    )
    op.create_table(
        "at_risk",
        _uuid("id", primary_key=True),
        _uuid("pair_id", nullable=False, index=True),
        _uuid("organisation_id", nullable=False),
        _uuid("cycle_id", nullable=False),
        sa.Column("last_meeting_on", sa.Date),
        _at("flagged_at"),
        _at("cleared_at", nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "at_risk_one_open_flag",
        "at_risk",
        ["pair_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "at_risk",
        "jobs",
        "invitations",
        "trainings",
        "group_meetings",
        "meetings",
        "planned_meetings",
        "cycles",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.drop_column("pairs", "plan_basis", schema=SCHEMA)
