"""The access log on a real PostgreSQL (migration 0010_access_audit): rows are recorded one
per person and read back per person and per coordinator; the table refuses UPDATE, DELETE
and TRUNCATE, even by its owner; erasure's `anonymise_subject` is the one change let
through, and only for `person_id`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access import queries, store
from services.intake.access.tables import What, Why, access_log
from services.intake.app import DEFINITION as INTAKE
from services.intake.auth import Coordinator
from shared.db import make_engine, make_sessionmaker, migrate
from shared.settings import Settings

SECRET = "a-test-secret-key-of-more-than-32-characters"
NOW = datetime(2027, 1, 15, 9, tzinfo=UTC)


@pytest.fixture
async def intake(database_url, db):
    """A migrated intake schema with one organisation and two coordinators; sessions."""
    await migrate(INTAKE.migrations_dir, database_url, "intake", secret_key=SECRET)
    org = uuid4()
    await db.execute("INSERT INTO intake.organisations VALUES ($1, 'NGO', 'ngo', $2)", org, NOW)
    people = []
    for role in ("coordinator", "viewer"):
        person = Coordinator(uuid4(), org, f"{role}@example.org", role.title(), role, "fi")
        await db.execute(
            "INSERT INTO intake.coordinators (id, organisation_id, email, display_name,"
            " password_hash, role, language, created_at) VALUES ($1, $2, $3, $4, 'x', $5, 'fi', $6)",
            person.id,
            org,
            person.email,
            person.display_name,
            role,
            NOW,
        )
        people.append(person)
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    yield make_sessionmaker(engine), people
    await engine.dispose()


async def record(session: AsyncSession, by: Coordinator, people, what: What, why: Why, at=NOW):
    return await store.record(
        session,
        coordinator=by,
        person_ids=people,
        what=what,
        why=why,
        path="/coordinator/somewhere",
        client_address="192.0.2.7",
        at=at,
    )


async def test_one_row_per_person_read_per_person_and_per_coordinator(intake) -> None:
    sessions, (maria, viewer) = intake
    amina, liisa = uuid4(), uuid4()
    async with sessions() as session, session.begin():
        queue = await record(session, maria, {amina, liisa}, What.QUEUE_VIEWED, Why.SCREENING)
        later = NOW + timedelta(minutes=1)
        await record(session, viewer, [amina], What.APPLICATION_VIEWED, Why.SCREENING, later)
        assert await record(session, maria, [], What.NAMES_VIEWED, Why.MATCHING) is None
        await record(session, maria, None, What.RESEARCH_CSV_DOWNLOADED, Why.RESEARCH)
    async with sessions() as session:
        rows = (await session.execute(sa.select(access_log).order_by(access_log.c.id))).all()
        assert [(r.person_id, r.access_id) for r in rows[:2]] == sorted(
            [(amina, queue), (liisa, queue)]
        )
        assert len(rows) == 4 and rows[3].person_id is None  # nobody in the list: no row

        hers = await queries.person_accesses(session, maria.organisation_id, amina)
        assert [(a.coordinator_name, a.coordinator_role, a.what) for a in hers] == [
            ("Viewer", "viewer", "application_viewed"),  # newest first
            ("Coordinator", "coordinator", "queue_viewed"),
        ]
        assert hers[0].client_address == "192.0.2.7" and hers[0].at == NOW + timedelta(minutes=1)
        assert await queries.person_accesses(session, uuid4(), amina) == []  # not their org

        by_maria = await queries.coordinator_accesses(session, maria.organisation_id, maria.id)
        assert [(a.what, a.why, a.people) for a in by_maria] == [
            ("research_csv_downloaded", "research", 0),
            ("queue_viewed", "screening", 2),
        ]
        one = await queries.coordinator_accesses(
            session, maria.organisation_id, maria.id, before=by_maria[0].id, limit=1
        )
        assert [a.what for a in one] == ["queue_viewed"]  # "show more"

        colleagues = {
            c.display_name: c for c in await queries.colleagues(session, maria.organisation_id)
        }
        assert colleagues["Coordinator"].accesses == 3 and colleagues["Viewer"].accesses == 1
        assert await queries.colleague(session, uuid4(), maria.id) is None

        exported = await queries.accesses_of_person(session, maria.organisation_id, amina)
        assert [(e["what"], e["coordinator_name"]) for e in exported] == [
            ("queue_viewed", "Coordinator"),  # oldest first, as her export lists them
            ("application_viewed", "Viewer"),
        ]
        assert exported[0]["at"] == NOW.isoformat() and exported[0]["why"] == "screening"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE intake.access_log SET why = 'research'",
        "UPDATE intake.access_log SET person_id = gen_random_uuid()",
        "DELETE FROM intake.access_log",
        "TRUNCATE intake.access_log",
    ],
)
async def test_the_log_refuses_every_change_even_by_its_owner(intake, db, statement) -> None:
    sessions, (maria, _) = intake
    async with sessions() as session, session.begin():
        await record(session, maria, [uuid4()], What.APPLICATION_VIEWED, Why.SCREENING)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM intake.access_log") == 1


async def test_erasure_replaces_her_id_and_nothing_else(intake, db) -> None:
    sessions, (maria, viewer) = intake
    amina, liisa, erasure = uuid4(), uuid4(), uuid4()
    async with sessions() as session, session.begin():
        await record(session, maria, [amina, liisa], What.QUEUE_VIEWED, Why.SCREENING)
        await record(session, viewer, [amina], What.NOTES_VIEWED, Why.SCREENING)
    before = {r["id"]: dict(r) for r in await db.fetch("SELECT * FROM intake.access_log")}

    async with sessions() as session, session.begin():
        assert await store.anonymise_subject(session, amina, erasure) == 2
        # The setting is back off at once: the same transaction cannot change more.
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(access_log.update().values(why="research"))

    after = {r["id"]: dict(r) for r in await db.fetch("SELECT * FROM intake.access_log")}
    assert before.keys() == after.keys()
    for row_id, row in after.items():
        was = before[row_id]
        assert row["person_id"] == (erasure if was["person_id"] == amina else was["person_id"])
        assert {k: v for k, v in row.items() if k != "person_id"} == {
            k: v for k, v in was.items() if k != "person_id"
        }
    assert (
        await db.fetchval("SELECT count(*) FROM intake.access_log WHERE person_id = $1", amina) == 0
    )

    # Even with erasure's setting on, only person_id may change, and nothing is deleted.
    async with db.transaction():
        await db.execute("SET LOCAL womento.erasing = 'on'")
        for statement in (
            "UPDATE intake.access_log SET at = now()",
            "DELETE FROM intake.access_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with db.transaction():  # a savepoint
                    await db.execute(statement)


def test_the_migration_allows_exactly_the_codes_the_code_knows() -> None:
    from importlib import import_module

    migration = import_module("services.intake.migrations.versions.0010_access_audit")
    assert set(migration.WHATS) == {w.value for w in What}
    assert set(migration.WHYS) == {w.value for w in Why}
