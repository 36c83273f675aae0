"""`CurrentCoordinator` and `require_role` in a small app, without a database."""

from types import SimpleNamespace
from typing import Annotated
from uuid import uuid4

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from services.intake.auth import (
    EDITOR_ROLES,
    Coordinator,
    CurrentCoordinator,
    current_coordinator,
    require_role,
)
from shared.settings import Settings


def coordinator(role: str) -> Coordinator:
    return Coordinator(
        id=uuid4(),
        organisation_id=uuid4(),
        email="maria@example.org",
        display_name="Maria",
        role=role,
        language="fi",
    )


def make_app(role: str | None) -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/coordinator/things")
    async def things(who: CurrentCoordinator) -> dict[str, str]:
        return {"role": who.role}

    @router.post("/coordinator/things", dependencies=[Depends(require_role(*EDITOR_ROLES))])
    async def change(who: CurrentCoordinator) -> dict[str, str]:
        return {"changed_by": who.role}

    @router.post("/coordinator/admin")
    async def admin_only(
        who: Annotated[Coordinator, Depends(require_role("admin"))],
    ) -> dict[str, str]:
        return {"admin": who.display_name}

    app = FastAPI()
    app.state.runtime = SimpleNamespace(settings=Settings())
    app.include_router(router)
    if role is not None:
        app.dependency_overrides[current_coordinator] = lambda: coordinator(role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://womento.test")


async def test_a_viewer_may_look_but_not_change() -> None:
    async with make_app("viewer") as client:
        looked = await client.get("/coordinator/things")
        refused = await client.post("/coordinator/things", headers={"Accept-Language": "en"})
    assert looked.json() == {"role": "viewer"}
    assert refused.status_code == 403
    assert refused.json()["detail"] == "You are not allowed to do this."


@pytest.mark.parametrize("role", ["admin", "coordinator"])
async def test_editors_may_change(role: str) -> None:
    async with make_app(role) as client:
        response = await client.post("/coordinator/things")
    assert response.status_code == 200
    assert response.json() == {"changed_by": role}


async def test_a_role_list_of_one() -> None:
    async with make_app("coordinator") as client:
        assert (await client.post("/coordinator/admin")).status_code == 403
    async with make_app("admin") as client:
        assert (await client.post("/coordinator/admin")).json() == {"admin": "Maria"}


def test_unknown_roles_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        require_role("superuser")
    with pytest.raises(ValueError):
        require_role()


async def test_without_a_session_a_page_redirects_to_login_with_next() -> None:
    async with make_app(None) as client:
        response = await client.get("/coordinator/things", params={"page": "2"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcoordinator%2Fthings%3Fpage%3D2"
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_session_htmx_and_json_clients_get_401() -> None:
    async with make_app(None) as client:
        htmx = await client.get("/coordinator/things", headers={"HX-Request": "true"})
        api = await client.get("/coordinator/things", headers={"Accept": "application/json"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/login?next=%2Fcoordinator%2Fthings"
    assert api.status_code == 401
    assert "location" not in api.headers
