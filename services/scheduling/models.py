"""Tables of the scheduling service, all in the PostgreSQL schema "scheduling"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.db import add_messaging_tables
from shared.erasure import add_erased_table
from shared.pairs import add_pairs_table

SCHEMA = "scheduling"
metadata = sa.MetaData(schema=SCHEMA)
outbox, inbox = add_messaging_tables(metadata)
erased_people = add_erased_table(metadata)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("application_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("person_id", UUID(as_uuid=True), nullable=False),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    comment="the people whom meetings and trainings will invite",
)

pairs = add_pairs_table(metadata)

# --- the schedule (migration 0003) --------------------------------------------------------

# Extra columns of `pairs`, filled by scheduling's own PairFormed handler (shared.pairs
# writes the rest): on what the monthly plan is based ("cycle" when the cycle's dates were
# known, "formation" when the pair arrived before its CycleOpened: eight months from formation).
pairs.append_column(sa.Column("plan_basis", sa.Text))

cycles = sa.Table(
    "cycles",
    metadata,
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("programme_id", UUID(as_uuid=True), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
    sa.Column("cadence_days", sa.Integer, nullable=False, server_default="31"),
    sa.Column("grace_days", sa.Integer, nullable=False, server_default="14"),
    comment="cycles heard of (CycleOpened): the dates pair meetings are planned in",
)

planned_meetings = sa.Table(
    "planned_meetings",
    metadata,
    sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("month", sa.Date, primary_key=True, comment="first day of the month"),
    sa.Column("due_on", sa.Date, nullable=False, comment="last day of the month"),
    sa.Column("missed_at", sa.DateTime(timezone=True)),
    comment="one planned meeting per pair and calendar month of its cycle",
)

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("meeting_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("pair_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("topic_codes", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("logged_by", sa.Text, nullable=False),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "command_id",
        UUID(as_uuid=True),
        nullable=False,
        unique=True,
        comment="the RecordMeeting command: a retried log is the same meeting",
    ),
    sa.CheckConstraint("minutes > 0", name="meetings_minutes_positive"),
    sa.CheckConstraint("logged_by IN ('participant', 'coordinator')", name="meetings_logged_by"),
    comment="pair meetings logged as held",
)

group_meetings = sa.Table(
    "group_meetings",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("place", sa.Text),
    sa.Column("online_url", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('kick_off', 'midway', 'closing')", name="group_meetings_kind"),
    sa.CheckConstraint("ends_at > starts_at", name="group_meetings_ends_after_start"),
    comment="the cycle's group meetings: kick-off, mid-way, closing",
)

trainings = sa.Table(
    "trainings",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("place", sa.Text),
    sa.Column("online_url", sa.Text),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("capacity > 0", name="trainings_capacity_positive"),
    sa.CheckConstraint("ends_at > starts_at", name="trainings_ends_after_start"),
    comment="trainings of the organisation, open to its participants",
)

invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("person_id", UUID(as_uuid=True), primary_key=True, index=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_kind", sa.Text, nullable=False, comment="group_meeting | training"),
    sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rsvp", sa.Text, comment="yes | no | null (no answer)"),
    sa.Column("rsvp_at", sa.DateTime(timezone=True)),
    sa.Column("attended", sa.Boolean, comment="null until attendance is recorded"),
    sa.Column("attendance_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("rsvp IS NULL OR rsvp IN ('yes', 'no')", name="invitations_rsvp"),
    comment="who is invited to a group meeting or training, their RSVP and attendance",
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
    sa.Column("pair_id", UUID(as_uuid=True), index=True),
    sa.Column("event_id", UUID(as_uuid=True), index=True),
    sa.Column("payload", JSONB, nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.CheckConstraint("kind IN ('reminder', 'at_risk_check', 'missed_check')", name="jobs_kind"),
    sa.Index("jobs_due", "due_at", postgresql_where=sa.text("fired_at IS NULL")),
    comment="durable due jobs, fired by the clock worker once each",
)

at_risk = sa.Table(
    "at_risk",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("pair_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False),
    sa.Column("last_meeting_on", sa.Date),
    sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cleared_at", sa.DateTime(timezone=True)),
    sa.Index(
        "at_risk_one_open_flag",
        "pair_id",
        unique=True,
        postgresql_where=sa.text("cleared_at IS NULL"),
    ),
    comment="at-risk flags of pairs: open until a meeting is logged (or the pair ends)",
)

# --- small groups (migration 0004) ----------------------------------------------------------

small_groups = sa.Table(
    "small_groups",
    metadata,
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("group_no", sa.Integer, nullable=False),
    sa.Column("isco_major", sa.Text, nullable=False),
    sa.Column("region", sa.Text),
    sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("group_no >= 1", name="small_groups_number_positive"),
    comment="the cycle's small groups: each current pair's group number",
)

# --- changing and cancelling group meetings and trainings (migration 0005) ------------------

for _table in (group_meetings, trainings):
    _table.append_column(
        sa.Column(
            "sequence",
            sa.Integer,
            nullable=False,
            server_default="0",
            comment="changes so far: the iCalendar SEQUENCE",
        )
    )
    _table.append_column(sa.Column("updated_at", sa.DateTime(timezone=True)))
    _table.append_column(
        sa.Column("cancelled_at", sa.DateTime(timezone=True), comment="kept for history")
    )
    _table.append_column(sa.Column("cancel_reason", sa.Text, comment="a reason code"))
