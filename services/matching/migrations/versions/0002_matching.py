"""Cycles, accepted profiles, the mentor pool, constraints, runs and pairs.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
SCHEMA = "matching"


def _uuid(name: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, UUID(as_uuid=True), **kw)  # type: ignore[arg-type]


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cycles",
        _uuid("cycle_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        _uuid("programme_id", nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "profiles",
        _uuid("person_id", primary_key=True),
        _uuid("cycle_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        _uuid("application_id", nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("profile", JSONB, nullable=False),
        _time("accepted_at"),
        _time("withdrawn_at", nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "mentor_pool",
        _uuid("person_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("resting", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("latest_profile", JSONB, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "pair_constraints",
        _uuid("cycle_id", primary_key=True),
        _uuid("mentee_id", primary_key=True),
        _uuid("mentor_id", primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        _time("set_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "runs",
        _uuid("run_id", primary_key=True),
        _uuid("cycle_id", nullable=False, index=True),
        _uuid("organisation_id", nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("weights", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("total_score", sa.Float, nullable=False),
        sa.Column("result", JSONB, nullable=False),
        _time("created_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "pairs",
        _uuid("pair_id", primary_key=True),
        _uuid("cycle_id", nullable=False, index=True),
        _uuid("organisation_id", nullable=False),
        _uuid("run_id", nullable=True),
        _uuid("mentee_id", nullable=False, index=True),
        _uuid("mentor_id", nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=False),
        _time("formed_at"),
        _time("ended_at", nullable=True),
        sa.Column("end_reason", sa.Text),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("pairs", "runs", "pair_constraints", "mentor_pool", "profiles", "cycles"):
        op.drop_table(table, schema=SCHEMA)
