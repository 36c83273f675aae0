"""Tables of the matching service, all in the PostgreSQL schema "matching"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import add_messaging_tables
from shared.erasure import add_erased_table

SCHEMA = "matching"
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
    comment="the applicant pool; profiles follow with ApplicantAccepted",
)

cycles = sa.Table(
    "cycles",
    metadata,
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("programme_id", UUID(as_uuid=True), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
    comment="cycles matching has heard of (CycleOpened)",
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("person_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("application_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("profile", JSONB, nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    comment="accepted applicants' matching profiles (ApplicantAccepted), codes only",
)

mentor_pool = sa.Table(
    "mentor_pool",
    metadata,
    sa.Column("person_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("capacity", sa.Integer, nullable=False, comment="mentees per cycle"),
    sa.Column("resting", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("latest_profile", JSONB, nullable=False),
    comment="mentors stay available across cycles unless resting",
)

constraints = sa.Table(
    "pair_constraints",
    metadata,
    sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("mentee_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("mentor_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False, comment="locked or excluded"),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("weights", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False, comment="proposed, confirmed or superseded"),
    sa.Column("total_score", sa.Float, nullable=False),
    sa.Column("result", JSONB, nullable=False, comment="pairs with scores and reasons; unmatched"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

pairs = sa.Table(
    "pairs",
    metadata,
    sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("mentee_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("mentor_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("end_reason", sa.Text),
)
