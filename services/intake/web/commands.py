"""Sending a command from a web request: one way for every intake screen."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request

from shared.commands import Command, ServiceUnavailable, send
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
