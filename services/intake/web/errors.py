"""Error pages for people: 403 and 404 on web pages as HTML in the page's language.

The JSON API and htmx requests keep FastAPI's JSON errors; redirects pass through.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response

from services.intake.web.render import page

HTML_STATUSES = {403: "error.forbidden", 404: "error.not_found"}


def _wants_html(request: Request) -> bool:
    return (
        not request.url.path.startswith("/api/")
        and "hx-request" not in request.headers
        and "text/html" in request.headers.get("accept", "")
    )


async def html_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    key = HTML_STATUSES.get(exc.status_code)
    if key is None or not _wants_html(request):
        return await http_exception_handler(request, exc)
    return page(request, "error.html", {"message_key": key}, status=exc.status_code)
