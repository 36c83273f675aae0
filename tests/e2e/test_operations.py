"""What an operator sees: health, readiness, metrics, OpenAPI, and traceable logs."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from shared.events import SERVICES
from tests.conftest import eventually
from tests.helpers import CONSUMERS, application_payload, open_cycle


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5)


async def test_every_service_answers_health_readiness_and_metrics(stack) -> None:
    stack.start()
    for name in SERVICES:
        base = stack[name].base_url
        assert get(f"{base}/healthz").json() == {"status": "ok"}
        ready = get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"nats": True, "postgres": True, "migrations": True}
        metrics = get(f"{base}/metrics")
        assert "text/plain" in metrics.headers["content-type"]
        assert "womento_http_requests_total" in metrics.text


async def test_openapi_documents_the_application_endpoint(stack) -> None:
    stack.start("intake")
    spec = get(f"{stack['intake'].base_url}/openapi.json").json()
    operation = spec["paths"]["/api/v1/applications"]["post"]
    assert {"201", "409", "422"} <= set(operation["responses"])
    schema = spec["components"]["schemas"]["ApplicationCreate"]
    assert {"cycle_id", "role", "contact", "profile"} <= set(schema["required"])


@pytest.mark.kills
async def test_readiness_follows_nats_and_comes_back_by_itself(stack, nats_server) -> None:
    stack.start("matching")
    url = f"{stack['matching'].base_url}/readyz"
    nats_server.server.stop()

    down = await eventually(lambda: get(url).status_code == 503 and get(url).json())
    assert down["checks"]["nats"] is False
    assert get(f"{stack['matching'].base_url}/healthz").status_code == 200  # alive, not ready

    await asyncio.to_thread(nats_server.server.start)
    await eventually(lambda: get(url).status_code == 200, timeout=30)


async def test_one_correlation_id_follows_the_request_through_every_service(stack, db) -> None:
    stack.start()
    _, cycle_id = await open_cycle(stack.database_url)
    correlation_id = str(uuid.uuid4())

    async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
        response = await client.post(
            "/api/v1/applications",
            json=application_payload(cycle_id),
            headers={"X-Correlation-ID": correlation_id},
        )
    assert response.status_code == 201
    assert response.headers["x-correlation-id"] == correlation_id

    def processed_lines(name: str) -> list[dict]:
        lines = [json.loads(line) for line in stack.log(name).splitlines() if line.startswith("{")]
        return [
            line
            for line in lines
            if line["message"] == "event processed"
            and line.get("type") == "womento.intake.application_received.v1"
        ]

    for name in CONSUMERS:
        lines = await eventually(lambda name=name: processed_lines(name))
        assert [line["correlation_id"] for line in lines] == [correlation_id]
        assert lines[0]["service"] == name
