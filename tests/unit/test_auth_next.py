"""Where a login may send the browser afterwards: only to local paths."""

import pytest
from starlette.requests import Request

from services.intake.auth.deps import DEFAULT_NEXT, login_location, safe_next


@pytest.mark.parametrize(
    "value",
    [
        "/coordinator",
        "/coordinator/cycles/3f2a?status=open&page=2",
        "/coordinator#pairs",
        "/coordinator/%2F%2Fevil.example",  # encoded slashes stay part of the path
        "/",
    ],
)
def test_local_paths_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/coordinator",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "coordinator",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /evil.example",
        "/login",
        "/login?next=/coordinator",
        "/logout",
        "/" + "a" * 2500,
    ],
)
def test_anything_else_falls_back_to_the_dashboard(value: str | None) -> None:
    assert safe_next(value) == DEFAULT_NEXT


def test_the_fallback_can_be_chosen() -> None:
    assert safe_next("//evil.example", default="") == ""


def _request(method: str, path: str, query: str = "", referer: str | None = None) -> Request:
    headers = [(b"host", b"womento.example")]
    if referer is not None:
        headers.append((b"referer", referer.encode()))
    return Request(
        {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "scheme": "https",
            "server": ("womento.example", 443),
        }
    )


def test_login_location_returns_to_the_requested_page() -> None:
    request = _request("GET", "/coordinator/cycles", "status=open")
    assert login_location(request) == "/login?next=%2Fcoordinator%2Fcycles%3Fstatus%3Dopen"


def test_login_location_after_a_post_returns_to_the_page_the_form_was_on() -> None:
    ours = _request("POST", "/coordinator/x/save", referer="https://womento.example/coordinator/x")
    theirs = _request("POST", "/coordinator/x/save", referer="https://evil.example/coordinator")
    assert login_location(ours) == "/login?next=%2Fcoordinator%2Fx"
    assert login_location(theirs) == "/login"
