"""Outcomes of mentees (derived from surveys, overridden by coordinators) and coordinator
interviews with their encrypted private notes.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0002"
SCHEMA = "feedback"

OUTCOMES = (
    "'employed_own_field', 'employed_other_field', 'internship_or_temporary', "
    "'further_education', 'confidence_no_change', 'other'"
)


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("person_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("cycle_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("derived_outcome", sa.Text),
        sa.Column("derived_from_response_id", UUID(as_uuid=True)),
        sa.Column("override_outcome", sa.Text),
        sa.Column("override_reason", sa.Text),
        sa.Column("overridden_by", UUID(as_uuid=True)),
        sa.Column("outcome", sa.Text),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"derived_outcome IN ({OUTCOMES})", name="outcomes_derived"),
        sa.CheckConstraint(f"override_outcome IN ({OUTCOMES})", name="outcomes_override"),
        sa.CheckConstraint(f"outcome IN ({OUTCOMES})", name="outcomes_effective"),
        sa.CheckConstraint(
            "(override_outcome IS NULL) = (override_reason IS NULL)", name="outcomes_reason"
        ),
        sa.Index("outcomes_cycle", "cycle_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "interviews",
        sa.Column("interview_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("person_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("scheduled_on", sa.Date, nullable=False),
        sa.Column("held_on", sa.Date),
        sa.Column("notes_ciphertext", sa.LargeBinary),
        sa.Column("updated_by", UUID(as_uuid=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("point IN ('start', 'midway', 'end')", name="interviews_point"),
        sa.UniqueConstraint("cycle_id", "person_id", "point", name="interviews_one_per_point"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("interviews", schema=SCHEMA)
    op.drop_table("outcomes", schema=SCHEMA)
