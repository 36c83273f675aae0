"""Nothing derived from background in plaintext (issue 12, point 6), on real PostgreSQL and
NATS: applicants ineligible for background, age or gender, and a coordinator's override
reason; then a `pg_dump` of the whole database and every message of every JetStream stream
hold none of the sealed codes nor the reason, in clear or as bytes, while the coordinator
still reads them on her screens, and reads none of them once the person's key is gone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.intake.domain import SEALED_CODES
from shared.crypto import vault_for
from shared.settings import DEV_SECRET_KEY
from tests.conftest import eventually
from tests.e2e.test_review import apply, post
from tests.helpers import (
    add_coordinator,
    csrf_from,
    every_stream_message,
    found_in_dump,
    logged_in,
    open_cycle,
    pg_dump,
)

OVERRIDE_REASON = "Ohitusperuste-7F3A: vakituinen työ Nokialla elokuusta"
SECRETS = (*sorted(SEALED_CODES), OVERRIDE_REASON)
"""Among them the issue's `not_in_target_group_background` and `age_outside_working_age`."""


async def published(db, schema: str) -> bool:
    unpublished = await db.fetchval(
        f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
    )
    return unpublished == 0


@pytest.fixture
async def applicants(stack, db) -> dict[str, Any]:
    stack.start("intake", "feedback")
    org, cycle = await open_cycle(stack.database_url)
    ids = {
        "amina": await apply(stack, cycle, contact={"given_name": "Amina"}),
        "nadia": await apply(
            stack,
            cycle,
            contact={"given_name": "Nadia"},
            background={"immigrant_background": False},
        ),
        "olga": await apply(stack, cycle, contact={"given_name": "Olga"}, birth_year=1940),
        "farah": await apply(
            stack,
            cycle,
            contact={"given_name": "Farah"},
            profile={"education_level": 5},
            identifies_as_woman=False,
        ),
        "sara": await apply(
            stack,
            cycle,
            contact={"given_name": "Sara"},
            birth_year=None,
            background=None,
            consents={"processing": True},
        ),
    }
    client = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, org)
    )
    yield {"org": org, "cycle": cycle, "ids": ids, "client": client}
    await client.aclose()


async def test_nothing_derived_from_background_is_stored_or_broadcast_in_clear(
    applicants, stack, db, nc
) -> None:
    client, cycle, ids = applicants["client"], applicants["cycle"], applicants["ids"]
    amina_page = f"/coordinator/applications/{ids['amina']}"
    accepted = await post(client, amina_page, f"{amina_page}/status", {"to": "accepted"})
    assert accepted.status_code == 303
    await eventually(lambda: _one(db, "SELECT count(*) FROM feedback.participants"))
    await eventually(lambda: _one(db, "SELECT count(*) FROM feedback.cycles"))
    amina = await db.fetchval(
        "SELECT person_id FROM intake.applications WHERE id = $1", ids["amina"]
    )
    screen = f"/coordinator/cycles/{cycle}/outcomes"
    page = await client.get(screen)
    done = await client.post(
        f"{screen}/override",
        data={
            "csrf_token": csrf_from(page.text),
            "person_id": str(amina),
            "outcome": "employed_own_field",
            "reason": OVERRIDE_REASON,
        },
    )
    assert done.status_code == 303, done.text
    await eventually(lambda: published(db, "intake"))
    await eventually(lambda: published(db, "feedback"))

    # (c) the coordinator still reads the real reasons and the override's reason
    shown = {
        name: (await client.get(f"/coordinator/applications/{i}?lang=en")).text
        for name, i in ids.items()
    }
    assert "No immigrant background" in shown["nadia"]
    assert "Not of working age (18–67)" in shown["olga"]
    assert "Not in the target group (women)" in shown["farah"]
    assert "No higher-education degree" in shown["farah"]
    assert "Year of birth not given" in shown["sara"] and "Background not asked" in shown["sara"]
    assert "Not in the target group</li>" not in shown["nadia"]  # the stand-in is not shown
    queue = (await client.get(f"/coordinator/cycles/{cycle}?lang=en")).text
    assert "No immigrant background" in queue and "Not of working age" in queue
    outcomes = (await client.get(f"{screen}?lang=en")).text
    assert f'class="override-reason">{OVERRIDE_REASON} (Maria Virtanen)</dd>' in outcomes

    # (a) the whole database: none in clear, as text or bytes
    dump = await asyncio.to_thread(pg_dump, stack.database_url)
    for secret in SECRETS:
        assert not found_in_dump(dump, secret), secret
    # ... and the dump would have shown them: public codes, as JSONB text and outbox bytes
    assert "degree_below_bachelor" in dump and "not_in_target_group" in dump
    assert b"degree_below_bachelor".hex() in dump  # ApplicationScreened in the outbox
    # ... and the sealed ones are there, encrypted under her key
    vault = vault_for(DEV_SECRET_KEY)
    nadia = await db.fetchrow(
        "SELECT a.person_id, p.wrapped_key, a.sealed_reasons, a.screening_reasons::text AS plain"
        " FROM intake.applications a JOIN intake.people p ON p.id = a.person_id WHERE a.id = $1",
        ids["nadia"],
    )
    assert nadia["plain"] == '["not_in_target_group"]'
    opened = vault.decrypt(nadia["wrapped_key"], nadia["person_id"], nadia["sealed_reasons"])
    assert opened == {"codes": ["not_in_target_group_background"]}
    feedback_key = await db.fetchval(
        "SELECT wrapped_key FROM feedback.person_keys WHERE person_id = $1", amina
    )
    sealed_reason = await db.fetchval(
        "SELECT override_reason_ciphertext FROM feedback.outcomes WHERE person_id = $1", amina
    )
    assert vault.decrypt(feedback_key, amina, sealed_reason) == {"reason": OVERRIDE_REASON}

    # (b) every message of every stream: none, in the data or the headers
    messages = await every_stream_message(nc)
    for secret in SECRETS:
        assert not [m for m in messages if secret.encode() in m], secret
    screened = [m for m in messages if b"application_screened" in m]
    assert len(screened) == len(ids)  # ... and the stream was read: every screening is there
    assert any(b'"reason_codes":["not_in_target_group"]' in m for m in screened)
    assert any(b'"reason_codes":["degree_below_bachelor"]' in m for m in screened)
    assert any(b"outcome_recorded" in m and b"coordinator" in m for m in messages)

    # her key erased (as erasure will): nothing sealed left to show
    await db.execute(
        "UPDATE intake.people SET wrapped_key = NULL WHERE id = $1", nadia["person_id"]
    )
    await db.execute("DELETE FROM feedback.person_keys WHERE person_id = $1", amina)
    erased = (await client.get(f"/coordinator/applications/{ids['nadia']}?lang=en")).text
    assert "No immigrant background" not in erased and "Not in the target group</li>" in erased
    outcomes = (await client.get(f"{screen}?lang=en")).text
    assert OVERRIDE_REASON not in outcomes and "(erased with her personal data)" in outcomes


async def _one(db, sql: str) -> bool:
    return await db.fetchval(sql) == 1
