"""Surveys: cycles, participants, per-person keys, templates, surveys, invitations,
responses (closed answers) and their encrypted free text, the clock worker's jobs.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from services.feedback.survey_tables import add_survey_tables

revision = "0003"
down_revision = "0002"
SCHEMA = "feedback"

# Created from their definition (as `shared.pairs.create_pairs_table` does): this is the
# tables' first shape; a later change ships as a new migration step.


def upgrade() -> None:
    metadata = sa.MetaData(schema=SCHEMA)
    add_survey_tables(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata = sa.MetaData(schema=SCHEMA)
    add_survey_tables(metadata)
    metadata.drop_all(op.get_bind())
