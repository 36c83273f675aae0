"""Feedback's survey tables (schema "feedback"): cycles and participants as feedback knows
them, per-person keys, templates, the cycles' surveys, invitations, responses and the clock
worker's durable jobs. Created by migration 0003; `models.py` adds them to its metadata.

Invariants:
- `responses.answers` holds closed answers only (`int` for Likert, `str` for single choice,
  `list[str]` for multiple choice); free text is in `response_texts`, encrypted under the
  person's key in `person_keys`. Deleting that key erases her free text.
- one response per invitation (`responses.invitation_id` unique), one invitation per
  (survey, person), one job per (invitation, kind).
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID


class SurveyTables(NamedTuple):
    cycles: sa.Table
    participants: sa.Table
    person_keys: sa.Table
    survey_templates: sa.Table
    surveys: sa.Table
    invitations: sa.Table
    responses: sa.Table
    response_texts: sa.Table
    survey_jobs: sa.Table


def _uuid(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), **kw)  # type: ignore[arg-type]


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def add_survey_tables(metadata: sa.MetaData) -> SurveyTables:
    cycles = sa.Table(
        "cycles",
        metadata,
        _uuid("cycle_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        _uuid("programme_id", nullable=False, index=True),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        comment="cycles (CycleOpened)",
    )
    participants = sa.Table(
        "participants",
        metadata,
        _uuid("person_id", primary_key=True),
        _uuid("cycle_id", primary_key=True),
        _uuid("organisation_id", nullable=False, index=True),
        sa.Column("role", sa.Text, nullable=False),
        _at("accepted_at", nullable=False),
        _at("withdrawn_at"),
        sa.CheckConstraint("role IN ('mentee', 'mentor')", name="participants_role"),
        comment="accepted applicants (ApplicantAccepted; ApplicationWithdrawn)",
    )
    person_keys = sa.Table(
        "person_keys",
        metadata,
        _uuid("person_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        comment="per-person data keys (shared.crypto); erasing a person deletes the row",
    )
    survey_templates = sa.Table(
        "survey_templates",
        metadata,
        _uuid("template_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        _uuid("programme_id", nullable=True, comment="NULL: the organisation's default"),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("questions", JSONB, nullable=False),
        _at("updated_at", nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Index(
            "survey_templates_lookup", "organisation_id", "programme_id", "kind", "role", "version"
        ),
        comment="coordinators' versions of the survey questions (defaults are in code)",
    )
    surveys = sa.Table(
        "surveys",
        metadata,
        _uuid("survey_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        _uuid("cycle_id", nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("questions", JSONB, nullable=False, comment="snapshot of the template"),
        sa.Column("opens_on", sa.Date, nullable=False),
        sa.Column("closes_on", sa.Date, nullable=False),
        sa.UniqueConstraint("cycle_id", "kind", "role", name="surveys_one_per_kind_role"),
    )
    invitations = sa.Table(
        "invitations",
        metadata,
        _uuid("invitation_id", primary_key=True),
        _uuid("survey_id", nullable=False, index=True),
        _uuid("organisation_id", nullable=False),
        _uuid("cycle_id", nullable=False, index=True),
        _uuid("person_id", nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        _at("due_at", nullable=False),
        _at("invited_at"),
        _at("reminder_due_at"),
        _at("reminded_at"),
        _at("completed_at"),
        _at("cancelled_at"),
        sa.UniqueConstraint("survey_id", "person_id", name="invitations_one_per_person"),
    )
    responses = sa.Table(
        "responses",
        metadata,
        _uuid("response_id", primary_key=True),
        _uuid("invitation_id", nullable=False, unique=True),
        _uuid("survey_id", nullable=False),
        _uuid("organisation_id", nullable=False),
        _uuid("cycle_id", nullable=False, index=True),
        _uuid("person_id", nullable=False, index=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("answers", JSONB, nullable=False, comment="closed answers only, no free text"),
        _at("completed_at", nullable=False),
    )
    response_texts = sa.Table(
        "response_texts",
        metadata,
        _uuid("response_id", primary_key=True),
        sa.Column("question_key", sa.Text, primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        comment="free-text answers, encrypted under the person's key",
    )
    survey_jobs = sa.Table(
        "survey_jobs",
        metadata,
        _uuid("job_id", primary_key=True),
        _uuid("organisation_id", nullable=False),
        _uuid("invitation_id", nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        _at("due_at", nullable=False),
        _at("fired_at"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint("kind IN ('invite', 'remind')", name="survey_jobs_kind"),
        sa.UniqueConstraint("invitation_id", "kind", name="survey_jobs_one_per_kind"),
        sa.Index("survey_jobs_due", "due_at", postgresql_where=sa.text("fired_at IS NULL")),
        comment="the clock worker's durable jobs: invitations and their one reminder",
    )
    return SurveyTables(
        cycles,
        participants,
        person_keys,
        survey_templates,
        surveys,
        invitations,
        responses,
        response_texts,
        survey_jobs,
    )


def add_withdrawals_table(metadata: sa.MetaData) -> sa.Table:
    """Withdrawn applications (`ApplicationWithdrawn`), kept so that an acceptance consumed
    after its withdrawal (separate consumers) invites nobody. Migration 0003b."""
    return sa.Table(
        "survey_withdrawals",
        metadata,
        _uuid("application_id", primary_key=True),
        _uuid("person_id", nullable=False),
        _uuid("cycle_id", nullable=False),
        _uuid("organisation_id", nullable=False),
        _at("withdrawn_at", nullable=False),
        comment="withdrawn applications, whichever of acceptance and withdrawal comes first",
    )
