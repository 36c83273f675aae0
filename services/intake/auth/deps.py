"""Who is asking: the session cookie, the `CurrentCoordinator` dependency and role checks.

Not logged in (no cookie, unknown, idle or expired session):

- a browser page request gets `303 See Other` to `/login?next=<where they were going>`;
- an htmx request gets `401` with `HX-Redirect` (htmx then loads the login page whole,
  instead of swapping it into a fragment);
- a request that asks for JSON only gets `401`.

These are `HTTPException`s, which FastAPI's default handler turns into responses with
the given headers, so no exception handler needs registering.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.responses import Response

from services.intake.auth.models import ROLES
from services.intake.auth.service import Coordinator, resume_session
from services.intake.web.i18n import negotiate, text
from shared.service import get_runtime

SESSION_COOKIE = "womento_session"
LOGIN_PATH = "/login"
DEFAULT_NEXT = "/coordinator"
MAX_NEXT_LENGTH = 2000


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """`value` if it is a path on this site, else `default`: no open redirects.

    Only a local absolute path is kept: it starts with one "/" (not "//", which browsers
    read as another host), has no backslash (some browsers read "/\\host" as "//host"),
    no whitespace or control character (browsers drop tabs and newlines inside URLs), and
    no scheme or host. The login and logout pages themselves are not destinations.
    """
    if not value or len(value) > MAX_NEXT_LENGTH:
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    if parts.path in (LOGIN_PATH, "/logout"):
        return default
    return value


def login_location(request: Request) -> str:
    """`/login?next=...`, pointing back to where the request was going (or came from)."""
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        # After logging in, the browser comes back with a GET: send it to the page the form
        # was on (when it is ours), not to the form's action.
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc
        target = (
            (referer.path + (f"?{referer.query}" if referer.query else "")) if same_site else ""
        )
    target = safe_next(target, default="")
    return LOGIN_PATH + (f"?{urlencode({'next': target})}" if target else "")


def _clear_cookie_header() -> str:
    response = Response()
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response.headers["set-cookie"]


def _wants_json_only(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def not_logged_in(request: Request, *, stale_cookie: bool = False) -> HTTPException:
    location = login_location(request)
    headers = {"Cache-Control": "no-store"}
    if stale_cookie:
        headers["Set-Cookie"] = _clear_cookie_header()
    if request.headers.get("hx-request"):
        return HTTPException(401, "login required", headers={**headers, "HX-Redirect": location})
    if _wants_json_only(request):
        return HTTPException(401, "login required", headers=headers)
    return HTTPException(303, "login required", headers={**headers, "Location": location})


async def current_coordinator(request: Request) -> Coordinator:
    """The logged-in coordinator (also put on `request.state.coordinator` for templates)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise not_logged_in(request)
    rt = get_runtime(request)
    async with rt.sessionmaker() as session, session.begin():
        coordinator = await resume_session(
            session, token=token, clock=rt.clock, settings=rt.settings
        )
    if coordinator is None:
        raise not_logged_in(request, stale_cookie=True)
    request.state.coordinator = coordinator
    return coordinator


CurrentCoordinator = Annotated[Coordinator, Depends(current_coordinator)]


def require_role(*roles: str) -> Callable[..., Awaitable[Coordinator]]:
    """A dependency that lets only these roles through (403 for the others).

    `dependencies=[Depends(require_role("admin", "coordinator"))]` on a route or router,
    or `coordinator: Annotated[Coordinator, Depends(require_role("admin"))]`.
    """
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require_role needs roles among {ROLES}, got {roles}")
    allowed = frozenset(roles)

    async def role_required(request: Request, coordinator: CurrentCoordinator) -> Coordinator:
        if coordinator.role not in allowed:
            raise HTTPException(403, text("error.forbidden", negotiate(request)))
        return coordinator

    role_required.__name__ = f"require_role_{'_'.join(sorted(allowed))}"
    return role_required
