"""Coordinator accounts: argon2id passwords, throttled logins, server-side web sessions.

Pages for coordinators take the logged-in coordinator as a dependency:

    from services.intake.auth import CurrentCoordinator, require_role

    @router.get("/coordinator/cycles")
    async def cycles(request: Request, coordinator: CurrentCoordinator) -> Response: ...

    @router.post("/coordinator/cycles", dependencies=[Depends(require_role(*EDITOR_ROLES))])
    async def create_cycle(...) -> Response: ...
"""

from services.intake.auth.deps import (
    SESSION_COOKIE,
    CurrentCoordinator,
    current_coordinator,
    require_role,
    safe_next,
)
from services.intake.auth.models import ROLES, coordinators, login_failures, web_sessions
from services.intake.auth.passwords import WeakPassword, check_policy
from services.intake.auth.service import (
    EDITOR_ROLES,
    AccountError,
    BadCredentials,
    Coordinator,
    LoginOk,
    LoginResult,
    Throttled,
    authenticate,
    create_coordinator,
    end_all_sessions,
    end_session,
    resume_session,
    start_session,
)

__all__ = [
    "EDITOR_ROLES",
    "ROLES",
    "SESSION_COOKIE",
    "AccountError",
    "BadCredentials",
    "Coordinator",
    "CurrentCoordinator",
    "LoginOk",
    "LoginResult",
    "Throttled",
    "WeakPassword",
    "authenticate",
    "check_policy",
    "coordinators",
    "create_coordinator",
    "current_coordinator",
    "end_all_sessions",
    "end_session",
    "login_failures",
    "require_role",
    "resume_session",
    "safe_next",
    "start_session",
    "web_sessions",
]
