"""The access log, in the "intake" schema (created by migration 0010_access_audit).

One row per person per access: a page or download that showed the data of ten people is ten
rows sharing one `access_id`, so "who saw her data" is one indexed lookup and erasing her
touches only her rows. A download that names nobody intake can point to (the pseudonymised
research CSV, built by feedback) is one row with `person_id` NULL and the page's `path`
saying which cycle or years it covered.
"""

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from services.intake.auth.models import coordinators
from services.intake.models import metadata


class What(StrEnum):
    """Which of her data was shown or downloaded."""

    QUEUE_VIEWED = "queue_viewed"
    """Her name, e-mail and screening in a cycle's review queue."""
    APPLICATION_VIEWED = "application_viewed"
    """Her application page: contact details, profile, screening, history."""
    NOTES_VIEWED = "notes_viewed"
    """The coordinators' private notes on her application (on its page)."""
    NAMES_VIEWED = "names_viewed"
    """Her name on the matching or schedule screen."""
    INTERVIEW_VIEWED = "interview_viewed"
    """Her outcome, its override reason and her interviews' notes (outcomes screen)."""
    EXPORT_DOWNLOADED = "export_downloaded"
    """Everything held about her, across the four services."""
    RESEARCH_CSV_DOWNLOADED = "research_csv_downloaded"
    """The pseudonymised research CSV of a cycle or of years (one row per mentee)."""


class Why(StrEnum):
    """The purpose. Coordinators state none: each route has its own (see `docs/security.md`)."""

    SCREENING = "screening"
    MATCHING = "matching"
    SCHEDULING = "scheduling"
    OUTCOMES = "outcomes"
    DATA_REQUEST = "data_request"
    """Her own request to see her data (GDPR art. 15 and 20)."""
    RESEARCH = "research"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("access_id", UUID(as_uuid=True), nullable=False, comment="one view or download"),
    sa.Column("coordinator_id", sa.ForeignKey(coordinators.c.id), nullable=False),
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
    sa.CheckConstraint(_in("what", What), name="access_log_what"),
    sa.CheckConstraint(_in("why", Why), name="access_log_why"),
    sa.Index("ix_access_log_person", "organisation_id", "person_id", "id"),
    sa.Index("ix_access_log_coordinator", "organisation_id", "coordinator_id", "id"),
)
