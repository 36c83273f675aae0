"""The migrations that seal what existing rows hold in clear (intake 0010_sealed_screening,
feedback 0006): on a real PostgreSQL, rows written by the schema before them are encrypted
under each person's key, an erased person's sealed codes give way to the neutral code, and
without the service's secret key the step refuses rather than drop the text."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from alembic import command

from services.feedback.app import DEFINITION as FEEDBACK
from services.intake.app import DEFINITION as INTAKE
from shared.clock import FrozenClock
from shared.crypto import vault_for
from shared.db import alembic_config, migrate
from shared.envelope import Envelope
from shared.events import ApplicationScreened

SECRET = "a-test-secret-key-of-more-than-32-characters"
NOW = datetime(2027, 1, 15, 9, tzinfo=UTC)


async def upgrade_to(definition, database_url: str, revision: str) -> None:
    cfg = alembic_config(definition.migrations_dir, database_url, definition.name)
    await asyncio.to_thread(command.upgrade, cfg, revision)


async def an_application(db, org: UUID, cycle: UUID, reasons, notes, *, erased: bool) -> UUID:
    person, application = uuid4(), uuid4()
    key = None if erased else vault_for(SECRET).new_wrapped_key(person)
    await db.execute(
        "INSERT INTO intake.people (id, organisation_id, wrapped_key, details, email_digest,"
        " language, created_at) VALUES ($1, $2, $3, '\\x00', '\\x00', 'fi', $4)",
        person,
        org,
        key,
        NOW,
    )
    await db.execute(
        "INSERT INTO intake.applications (id, organisation_id, cycle_id, person_id, role, status,"
        " profile, submitted_at, screening_reasons, screening_notes)"
        " VALUES ($1, $2, $3, $4, 'mentee', 'ineligible', '{}', $5, $6::jsonb, $7::jsonb)",
        application,
        org,
        cycle,
        person,
        NOW,
        json.dumps(reasons),
        json.dumps(notes),
    )
    await db.execute(
        "INSERT INTO intake.application_transitions (application_id, from_status, to_status,"
        " actor, reason_codes, at) VALUES ($1, 'submitted', 'ineligible', 'system', $2::jsonb, $3)",
        application,
        json.dumps(reasons),
        NOW,
    )
    screened = ApplicationScreened(
        application_id=application, person_id=person, eligible=False, reason_codes=reasons
    )
    envelope = Envelope.wrap(screened, organisation_id=org, clock=FrozenClock(NOW))
    await db.execute(
        "INSERT INTO intake.outbox (id, subject, event_type, payload, created_at, published_at)"
        " VALUES ($1, $2, $3, $4, $5, $5)",
        envelope.id,
        envelope.nats_subject,
        envelope.type,
        envelope.to_bytes(),
        NOW,
    )
    return application


async def test_intake_seals_the_codes_existing_rows_hold_in_clear(database_url, db) -> None:
    await upgrade_to(INTAKE, database_url, "0004")
    org, programme, cycle = uuid4(), uuid4(), uuid4()
    await db.execute("INSERT INTO intake.organisations VALUES ($1, 'NGO', 'ngo', $2)", org, NOW)
    await db.execute("INSERT INTO intake.programmes VALUES ($1, $2, 'P', '{}')", programme, org)
    await db.execute(
        "INSERT INTO intake.cycles VALUES ($1, $2, $3, 'C', 'open', $4, $4, $5, $6)",
        cycle,
        org,
        programme,
        date(2027, 1, 1),
        date(2027, 3, 1),
        date(2027, 10, 31),
    )
    kept = await an_application(
        db,
        org,
        cycle,
        ["degree_below_bachelor", "not_in_target_group_background"],
        ["age_not_given"],
        erased=False,
    )
    erased = await an_application(
        db, org, cycle, ["age_outside_working_age"], ["background_not_asked"], erased=True
    )

    await migrate(INTAKE.migrations_dir, database_url, "intake", secret_key=SECRET)

    vault = vault_for(SECRET)
    row = await db.fetchrow(
        "SELECT a.*, p.wrapped_key FROM intake.applications a"
        " JOIN intake.people p ON p.id = a.person_id WHERE a.id = $1",
        kept,
    )
    assert json.loads(row["screening_reasons"]) == ["degree_below_bachelor"]
    assert json.loads(row["screening_notes"]) == []

    def opened(blob: bytes) -> list[str]:
        return vault.decrypt(row["wrapped_key"], row["person_id"], blob)["codes"]

    assert opened(row["sealed_reasons"]) == ["not_in_target_group_background"]
    assert opened(row["sealed_notes"]) == ["age_not_given"]
    step = await db.fetchrow(
        "SELECT reason_codes, sealed_reason_codes FROM intake.application_transitions"
        " WHERE application_id = $1",
        kept,
    )
    assert json.loads(step["reason_codes"]) == ["degree_below_bachelor"]
    assert opened(step["sealed_reason_codes"]) == ["not_in_target_group_background"]

    gone = await db.fetchrow("SELECT * FROM intake.applications WHERE id = $1", erased)
    assert json.loads(gone["screening_reasons"]) == ["not_in_target_group"]
    assert json.loads(gone["screening_notes"]) == []
    assert gone["sealed_reasons"] is None and gone["sealed_notes"] is None

    payloads = b"".join(r["payload"] for r in await db.fetch("SELECT payload FROM intake.outbox"))
    assert b"not_in_target_group_background" not in payloads
    assert b"age_outside_working_age" not in payloads
    assert b'"reason_codes":["degree_below_bachelor"]' in payloads
    assert b'"reason_codes":["not_in_target_group"]' in payloads
    for table in ("applications", "application_transitions"):
        text = await db.fetchval(f"SELECT string_agg(t::text, '') FROM intake.{table} t")
        assert "not_in_target_group_background" not in text
        assert "age_outside_working_age" not in text


async def test_feedback_encrypts_existing_override_reasons_under_her_key(database_url, db) -> None:
    await upgrade_to(FEEDBACK, database_url, "0004")
    person, cycle, org = uuid4(), uuid4(), uuid4()
    reason = "Kertoi puhelimessa saaneensa työn omalta alaltaan"
    await db.execute(
        "INSERT INTO feedback.outcomes (person_id, cycle_id, organisation_id, override_outcome,"
        " override_reason, outcome, recorded_at)"
        " VALUES ($1, $2, $3, 'employed_own_field', $4, 'employed_own_field', $5)",
        person,
        cycle,
        org,
        reason,
        NOW,
    )
    with pytest.raises(RuntimeError, match="secret key"):
        await migrate(FEEDBACK.migrations_dir, database_url, "feedback")

    await migrate(FEEDBACK.migrations_dir, database_url, "feedback", secret_key=SECRET)

    key = await db.fetchval(
        "SELECT wrapped_key FROM feedback.person_keys WHERE person_id = $1", person
    )
    sealed = await db.fetchval(
        "SELECT override_reason_ciphertext FROM feedback.outcomes WHERE person_id = $1", person
    )
    assert reason.encode() not in sealed
    assert vault_for(SECRET).decrypt(key, person, sealed) == {"reason": reason}
    columns = await db.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'feedback' AND table_name = 'outcomes'"
    )
    assert "override_reason" not in {c["column_name"] for c in columns}
