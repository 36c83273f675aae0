"""Her consents in her portal: each purpose with the version, date and text she agreed to,
and withdrawing one after a confirmation in her language. The work is
`services.intake.consent`'s (and, for `processing`, `services.intake.erasure`'s); these
are thin routes. A refusal (an unknown purpose, one she never gave, one already
withdrawn) says which and changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import erasure
from services.intake.consent import store
from services.intake.consent.domain import Purpose, WithdrawalRefused, check_withdrawal
from services.intake.portal import ErasedLink, read_portal_link
from services.intake.web.csrf import verify_csrf
from services.intake.web.links import link_refused, open_link
from services.intake.web.privacy import _portal_page as portal_page
from shared.crypto import vault_for
from shared.service import RuntimeDep, SessionDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
HELSINKI = ZoneInfo("Europe/Helsinki")
REFUSED_STATUS = {"unknown_purpose": 404, "not_given": 404, "already_withdrawn": 409}


def day(moment: datetime) -> str:
    """A date as Finland writes it, in Finnish time: 4.12.2026."""
    local = moment.astimezone(HELSINKI)
    return f"{local.day}.{local.month}.{local.year}"


async def portal_section(
    request: Request, session: AsyncSession, person_id: UUID
) -> dict[str, Any]:
    """What the portal's "Your consents" section shows (`consent/_portal.html`)."""
    withdrawn = request.query_params.get("withdrawn")
    return {
        "consents": await store.consents_of(session, person_id),
        "consent_day": day,
        "withdrawn": withdrawn if withdrawn in {p.value for p in Purpose} else None,
    }


def _refused(request: Request, lang: str, token: str, refused: WithdrawalRefused) -> Response:
    return portal_page(
        request,
        "consent/refused.html",
        lang,
        REFUSED_STATUS[refused.reason],
        token=token,
        refused=refused,
        shown_purpose=refused.purpose[:40],
        consent_day=day,
    )


@router.get("/portal/{token}/consents/{purpose}/withdraw", response_class=HTMLResponse)
async def withdraw_form(
    request: Request, token: str, purpose: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    async with session.begin():
        visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
        if isinstance(visit, Response):
            return visit
        consents = await store.consents_of(session, visit.person.id)
    try:
        check_withdrawal(purpose, consents)
    except WithdrawalRefused as refused:
        return _refused(request, visit.lang, token, refused)
    given = next(c for c in consents if c.purpose == purpose and not c.withdrawn)
    return portal_page(
        request, "consent/withdraw.html", visit.lang, token=token, given=given, error=None
    )


@router.post("/portal/{token}/consents/{purpose}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request,
    token: str,
    purpose: str,
    rt: RuntimeDep,
    session: SessionDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    lang = "fi"
    try:
        async with session.begin():
            visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
            if isinstance(visit, Response):
                return visit
            lang = visit.lang
            consents = await store.consents_of(session, visit.person.id)
            chosen = check_withdrawal(purpose, consents)
            if confirm != "yes":
                given = next(c for c in consents if c.purpose == purpose and not c.withdrawn)
                return portal_page(
                    request,
                    "consent/withdraw.html",
                    visit.lang,
                    422,
                    token=token,
                    given=given,
                    error="confirm",
                )
            if chosen is Purpose.PROCESSING:
                await erasure.erase_person(
                    session,
                    secret_key=rt.settings.secret_key,
                    organisation_id=visit.person.organisation_id,
                    person_id=visit.person.id,
                    reason=erasure.Reason.CONSENT_WITHDRAWN,
                    requested_by=None,
                    now=rt.clock.now(),
                )
            else:
                await store.withdraw(
                    session,
                    vault=vault_for(rt.settings.secret_key),
                    person_id=visit.person.id,
                    purpose=chosen,
                    now=rt.clock.now(),
                )
    except WithdrawalRefused as refused:  # rolled back: nothing changed
        return _refused(request, lang, token, refused)
    except erasure.ErasureRefused:  # a second submission racing the first
        return link_refused(request, ErasedLink("erased person"))
    if chosen is Purpose.PROCESSING:
        return portal_page(request, "erasure/erased.html", visit.lang)
    return RedirectResponse(
        f"{visit.home}?lang={visit.lang}&withdrawn={chosen.value}#consents", status_code=303
    )
