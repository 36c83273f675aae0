"""The thin slice across all four services, on real NATS and PostgreSQL."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.conftest import eventually
from tests.helpers import (
    application_payload,
    consumers_drained,
    count,
    effects,
    open_cycle,
    submit,
)


async def test_one_application_yields_one_row_and_one_effect_per_service(stack, db, nc) -> None:
    stack.start()
    _, cycle_id = await open_cycle(stack.database_url)

    response = await submit(stack["intake"].base_url, application_payload(cycle_id))

    assert response.status_code == 201, response.text
    application_id = UUID(response.json()["application_id"])
    assert await count(db, "intake.applications") == 1
    once_each = {"matching": 1, "scheduling": 1, "feedback": 1}

    async def recorded_everywhere() -> bool:
        return await effects(db, application_id) == once_each

    await eventually(recorded_everywhere, timeout=20)
    js = nc.jetstream()
    await eventually(lambda: consumers_drained(js))
    assert await effects(db, application_id) == once_each  # and still once after draining
    stream = await js.stream_info("WOMENTO_INTAKE")
    assert stream.state.messages == 3  # CycleOpened, ApplicationReceived, ApplicationScreened
    assert await count(db, "intake.outbox", "published_at IS NULL") == 0


async def test_personal_data_is_encrypted_and_events_carry_only_ids(stack, db, nc) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    payload = application_payload(cycle_id)

    response = await submit(stack["intake"].base_url, payload)
    assert response.status_code == 201

    email = payload["contact"]["email"].encode()
    stored = await db.fetchrow("SELECT details, email_digest FROM intake.people")
    assert email not in stored["details"] and b"Amina" not in stored["details"]
    js = nc.jetstream()
    sub = await js.pull_subscribe("womento.intake.application_received", stream="WOMENTO_INTAKE")
    msgs = await sub.fetch(1, timeout=10)
    assert b"Amina" not in msgs[0].data and email not in msgs[0].data
    assert msgs[0].headers["Nats-Msg-Id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "coordinator"}, "role"),
        ({"cycle_id": "not-a-uuid"}, "cycle_id"),
        ({"contact": {"given_name": "A", "family_name": "B", "email": "nope"}}, "email"),
        ({"profile": {"isco_code": "21x", "education_level": 7, "languages": []}}, "isco_code"),
    ],
)
async def test_invalid_input_is_422_naming_the_field_and_nothing_is_stored(
    stack, db, nc, change, field
) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)

    response = await submit(stack["intake"].base_url, application_payload(cycle_id) | change)

    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(field in loc for loc in locations), locations
    assert await count(db, "intake.applications") == 0
    assert await count(db, "intake.people") == 0
    assert await count(db, "intake.outbox", "event_type LIKE '%application_received%'") == 0
    stream = await nc.jetstream().stream_info("WOMENTO_INTAKE")
    assert stream.state.messages == 1  # only the CycleOpened of the fixture


async def test_unknown_cycle_and_duplicate_submission_are_refused(stack, db) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url

    unknown = await submit(base, application_payload(UUID(int=7)))
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "cycle_id"]

    payload = application_payload(cycle_id)
    assert (await submit(base, payload)).status_code == 201
    again = await submit(base, payload)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "contact", "email"]
    assert await count(db, "intake.applications") == 1
