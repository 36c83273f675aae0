"""Tables of the feedback service, all in the PostgreSQL schema "feedback"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from services.feedback.survey_tables import add_survey_tables, add_withdrawals_table
from shared.db import add_messaging_tables
from shared.erasure import add_erased_table
from shared.pairs import add_pairs_table

SCHEMA = "feedback"
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
    comment="applicants per cycle, the denominator of the funder's report",
)

pairs = add_pairs_table(metadata)

# --- surveys (services/feedback/survey_tables.py, migration 0003) -------------------------

(
    cycles,
    participants,
    person_keys,
    survey_templates,
    surveys,
    invitations,
    responses,
    response_texts,
    survey_jobs,
) = add_survey_tables(metadata)
survey_withdrawals = add_withdrawals_table(metadata)

# --- reports (from scheduling's MeetingHeld / MeetingMissed) -----------------------------

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("meeting_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("pair_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    comment="pair meetings held (MeetingHeld), for meeting regularity in reports",
)

missed_months = sa.Table(
    "missed_months",
    metadata,
    sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    comment="planned months a pair missed (MeetingMissed), for meeting regularity in reports",
)

# --- outcomes and interviews (services/feedback/outcome_commands.py, migration 0004) ------

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("person_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("derived_outcome", sa.Text, comment="from her end / follow-up survey"),
    sa.Column("derived_from_response_id", UUID(as_uuid=True)),
    sa.Column("override_outcome", sa.Text, comment="a coordinator's, with its reason"),
    sa.Column(
        "override_reason_ciphertext",
        sa.LargeBinary,
        comment="the override's reason, under the person's key (migration 0006)",
    ),
    sa.Column("overridden_by", UUID(as_uuid=True)),
    sa.Column("outcome", sa.Text, comment="effective: the override, else the derived one"),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    comment="each mentee's outcome per cycle (OutcomeRecorded on every change of `outcome`)",
)

interviews = sa.Table(
    "interviews",
    metadata,
    sa.Column("interview_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("person_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("point", sa.Text, nullable=False, comment="start | midway | end"),
    sa.Column("scheduled_on", sa.Date, nullable=False),
    sa.Column("held_on", sa.Date),
    sa.Column("notes_ciphertext", sa.LargeBinary, comment="under the person's key"),
    sa.Column("updated_by", UUID(as_uuid=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("cycle_id", "person_id", "point", name="interviews_one_per_point"),
    comment="coordinator interviews with each mentee at set points; private notes encrypted",
)
