"""Log in, log out, and the coordinator's landing page (`/coordinator`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from services.intake.auth.deps import (
    LOGIN_PATH,
    SESSION_COOKIE,
    safe_next,
)
from services.intake.auth.service import (
    BadCredentials,
    LoginOk,
    Throttled,
    authenticate,
    end_session,
    resume_session,
    start_session,
)
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import LANG_COOKIE, negotiate, text
from services.intake.web.render import finish, page, secure_cookies
from shared.service import RuntimeDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)

MAX_EMAIL_LENGTH = 320


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "next": next_path,
        "email": email,
        "errors": errors or {},
        "message": message,
    }
    return _no_store(page(request, "auth/login.html", context, status))


@router.get(LOGIN_PATH)
async def login_form(
    request: Request, rt: RuntimeDep, next_: Annotated[str, Query(alias="next")] = ""
) -> Response:
    next_path = safe_next(next_)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with rt.sessionmaker() as session, session.begin():
            already = await resume_session(
                session, token=token, clock=rt.clock, settings=rt.settings
            )
        if already is not None:
            return _no_store(RedirectResponse(next_path, status_code=303))
    return _login_page(request, next_path=next_path)


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    rt: RuntimeDep,
    email: Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    next_path = safe_next(next_)
    lang = negotiate(request)
    email = email.strip()
    errors = {}
    if not email:
        errors["email"] = text("auth.error.email_required", lang)
    if not password:
        errors["password"] = text("auth.error.password_required", lang)
    if errors:
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            errors=errors,
            message=text("auth.error.summary", lang),
            status=422,
        )

    old_token = request.cookies.get(SESSION_COOKIE)
    token = None
    async with rt.sessionmaker() as session, session.begin():
        result = await authenticate(
            session,
            email=email,
            password=password,
            ip=_client_ip(request),
            clock=rt.clock,
            settings=rt.settings,
        )
        if isinstance(result, LoginOk):
            if old_token:
                await end_session(session, token=old_token)
            token = await start_session(
                session,
                coordinator_id=result.coordinator.id,
                clock=rt.clock,
                settings=rt.settings,
                ip=_client_ip(request),
                user_agent=request.headers.get("user-agent"),
            )

    if isinstance(result, Throttled):
        response = _login_page(
            request,
            next_path=next_path,
            email=email,
            message=text("auth.error.throttled", lang, minutes=result.retry_after_minutes),
            status=429,
        )
        response.headers["Retry-After"] = str(result.retry_after_seconds)
        return response
    if isinstance(result, BadCredentials) or token is None:
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            message=text("auth.error.invalid", lang),
            status=401,
        )

    response = _no_store(RedirectResponse(next_path, status_code=303))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    if request.cookies.get(LANG_COOKIE) is None:
        # The coordinator's own language, until they pick another one on a page.
        response.set_cookie(
            LANG_COOKIE,
            result.coordinator.language,
            max_age=365 * 86400,
            samesite="lax",
            secure=secure_cookies(request),
            httponly=True,
        )
    return response


@router.post("/logout")
async def logout(request: Request, rt: RuntimeDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with rt.sessionmaker() as session, session.begin():
            await end_session(session, token=token)
    response = _no_store(RedirectResponse(LOGIN_PATH, status_code=303))
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )
    finish(request, response)
    return response
