"""One way to render a page: language, texts, CSRF token and cookies handled together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from services.intake.web.csrf import CSRF_FIELD, csrf_token, remember_csrf
from services.intake.web.i18n import LANG_COOKIE, LANGUAGE_NAMES, LANGUAGES, negotiate, translator
from shared.settings import Environment

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals.update(
    LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES, CSRF_FIELD=CSRF_FIELD
)


def secure_cookies(request: Request) -> bool:
    """Cookies are `Secure` everywhere but local development and tests (plain http)."""
    return bool(request.app.state.runtime.settings.env is Environment.PRODUCTION)


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    lang = negotiate(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "_": translator(lang),
            "csrf_token": csrf_token(request),
            "coordinator": getattr(request.state, "coordinator", None),
            **(context or {}),
        },
        status_code=status,
    )
    if getattr(request.state, "coordinator", None) is not None:
        response.headers["Cache-Control"] = "no-store"  # personal data: never cached
    finish(request, response)
    return response


def finish(request: Request, response: Response) -> None:
    """Cookies every web response may need: the language chosen and a new CSRF token."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=365 * 86400,
            samesite="lax",
            secure=secure_cookies(request),
            httponly=True,
        )
    remember_csrf(request, response, secure=secure_cookies(request))
