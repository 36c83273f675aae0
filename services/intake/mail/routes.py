"""The development mailbox: mail the `mailbox` backend kept instead of sending.

Available only when `WOMENTO_ENV` is `development` or `test`; elsewhere every path is 404,
as if the pages did not exist. The pages show personal data (names, addresses), which is
acceptable only because development and test hold made-up people.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from services.intake.mail.tables import dev_mailbox, mail_queue
from services.intake.web.render import page
from shared.service import RuntimeDep, SessionDep
from shared.settings import Environment

DEV_ENVIRONMENTS = frozenset({Environment.DEVELOPMENT, Environment.TEST})
LIST_LIMIT = 200


def require_development(rt: RuntimeDep) -> None:
    if rt.settings.env not in DEV_ENVIRONMENTS:
        raise HTTPException(status_code=404)


router = APIRouter(
    prefix="/dev/mailbox",
    tags=["development"],
    include_in_schema=False,
    dependencies=[Depends(require_development)],
)


@router.get("")
async def mailbox(request: Request, session: SessionDep) -> Response:
    t = dev_mailbox
    messages = (
        await session.execute(
            sa.select(t.c.id, t.c.to_address, t.c.subject, t.c.created_at)
            .order_by(t.c.created_at.desc(), t.c.id)
            .limit(LIST_LIMIT)
        )
    ).all()
    return page(request, "mail/mailbox.html", {"messages": messages})


@router.get("/{message_id}")
async def message(message_id: UUID, request: Request, session: SessionDep) -> Response:
    t = dev_mailbox
    found = (
        await session.execute(
            sa.select(t, mail_queue.c.template, mail_queue.c.language)
            .join(mail_queue, mail_queue.c.id == t.c.mail_id)
            .where(t.c.id == message_id)
        )
    ).one_or_none()
    if found is None:
        raise HTTPException(status_code=404)
    return page(request, "mail/message.html", {"message": found})
