"""Tables of the intake service, all in the PostgreSQL schema "intake"."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import add_messaging_tables
from shared.erasure import add_erased_table

SCHEMA = "intake"
metadata = sa.MetaData(schema=SCHEMA)
outbox, inbox = add_messaging_tables(metadata)
erased_people = add_erased_table(metadata)

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

programmes = sa.Table(
    "programmes",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("settings", JSONB, nullable=False),
)

cycles = sa.Table(
    "cycles",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("programme_id", sa.ForeignKey("programmes.id"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("applications_open", sa.Date, nullable=False),
    sa.Column("applications_close", sa.Date, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True, comment="NULL once erased"),
    sa.Column("details", sa.LargeBinary, nullable=False, comment="encrypted with the person's key"),
    sa.Column("email_digest", sa.LargeBinary, nullable=False, comment="keyed hash, for duplicates"),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "link_generation",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="personal links of an older generation are revoked (migration 0007)",
    ),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("cycle_id", sa.ForeignKey("cycles.id"), nullable=False, index=True),
    sa.Column("person_id", sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("profile", JSONB, nullable=False, comment="codes only: the matching profile"),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "screening_reasons",
        JSONB,
        nullable=False,
        server_default="[]",
        comment="public codes only (domain.public_reasons)",
    ),
    sa.Column("screening_notes", JSONB, nullable=False, server_default="[]"),
    sa.Column(
        "sealed_reasons",
        sa.LargeBinary,
        nullable=True,
        comment="her sealed screening reasons, encrypted with her key (migration 0010)",
    ),
    sa.Column(
        "sealed_notes",
        sa.LargeBinary,
        nullable=True,
        comment="her sealed screening notes, encrypted with her key (migration 0010)",
    ),
    sa.Column("rolled_over_from", UUID(as_uuid=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

consent_texts = sa.Table(
    "consent_texts",
    metadata,
    sa.Column("purpose", sa.Text, primary_key=True),
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("language", sa.Text, primary_key=True),
    sa.Column("text", sa.Text, nullable=False, comment="exactly as the form showed it"),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    comment="consent texts per purpose, version and language; never updated (migration 0013)",
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("person_id", sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("language", sa.Text, nullable=False, comment="the language the text was shown in"),
    sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.ForeignKeyConstraint(
        ["purpose", "version", "language"],
        ["consent_texts.purpose", "consent_texts.version", "consent_texts.language"],
        name="consents_text_fkey",
    ),
)

application_transitions = sa.Table(
    "application_transitions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("application_id", sa.ForeignKey("applications.id"), nullable=False, index=True),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False, comment="coordinator id, 'applicant' or 'system'"),
    sa.Column("reason_codes", JSONB, nullable=False, server_default="[]"),
    sa.Column(
        "sealed_reason_codes",
        sa.LargeBinary,
        nullable=True,
        comment="sealed codes of the step, encrypted with the person's key (migration 0010)",
    ),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

application_notes = sa.Table(
    "application_notes",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("application_id", sa.ForeignKey("applications.id"), nullable=False, index=True),
    sa.Column("author_id", UUID(as_uuid=True), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False, comment="encrypted with the person's key"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

submission_attempts = sa.Table(
    "submission_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("client_digest", sa.LargeBinary, nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
