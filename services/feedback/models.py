"""Tables of the feedback service, all in the PostgreSQL schema "feedback"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables
from shared.pairs import add_pairs_table

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

pairs = add_pairs_table(metadata)
