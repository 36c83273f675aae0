"""Sending a command from a web request, and going back to the screen: one way for every
intake screen that talks to another service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from shared.commands import Command, CommandRejected, ServiceUnavailable, send
from shared.service import Runtime


async def ask(
    rt: Runtime,
    request: Request,
    organisation_id: UUID,
    command: Command,
    command_id: UUID | None = None,
) -> dict[str, Any]:
    """The command's reply, on behalf of the request's organisation and correlation id."""
    if rt.nats is None:
        raise ServiceUnavailable(command.target)
    return await send(
        rt.nats,
        command,
        organisation_id=organisation_id,
        clock=rt.clock,
        wait_seconds=rt.settings.command_timeout_seconds,
        correlation_id=request.state.correlation_id,
        command_id=command_id,
    )


def back_to(screen: str, **query: str) -> RedirectResponse:
    """Back to a screen after a change, with `?message=` or `?error=` for it to show."""
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return RedirectResponse(f"{screen}{'?' + suffix if suffix else ''}", status_code=303)


async def act(
    request: Request,
    rt: Runtime,
    organisation_id: UUID,
    command: Command,
    *,
    screen: str,
    done: str,
    unavailable: Callable[[], Response],
) -> Response:
    """Send a change and go back to the screen: done, refused (by code) or unavailable (503)."""
    try:
        await ask(rt, request, organisation_id, command)
    except ServiceUnavailable:
        return unavailable()
    except CommandRejected as refused:
        return back_to(screen, error=refused.code)
    return back_to(screen, message=done)
