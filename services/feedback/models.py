"""Tables of the feedback service, all in the PostgreSQL schema "feedback"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables

SCHEMA = "feedback"
metadata = sa.MetaData(schema=SCHEMA)
outbox, inbox = add_messaging_tables(metadata)

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

pairs = sa.Table(
    "pairs",
    metadata,
    sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("mentee_id", UUID(as_uuid=True), nullable=False),
    sa.Column("mentor_id", UUID(as_uuid=True), nullable=False),
    sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("end_reason", sa.Text),
    comment="pairs formed by matching (PairFormed / PairEnded)",
)
