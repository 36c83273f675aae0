"""The organisation admin's partners screen: partner systems, their NATS credentials and
the audit trail (`docs/partners.md`).

Only admins (`require_role("admin")`): a credential opens the organisation's feed. A new
credential's secret, and a new webhook's signing secret, are shown once, on the page that
answers the form (never cached, never stored in clear), with the credentials file to
download. Every change is audited by `partners.store` (ids only). A refusal names its field,
and nothing is stored.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.auth import Coordinator, require_role
from services.intake.partners import cli, domain, queries, store
from services.intake.web.csrf import verify_csrf
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.crypto import vault_for
from shared.service import Runtime, RuntimeDep, SessionDep
from shared.settings import Environment

router = APIRouter(
    prefix="/coordinator/partners", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Admin = Annotated[Coordinator, Depends(require_role("admin"))]
SCREEN = "/coordinator/partners"


async def _render(
    request: Request,
    rt: Runtime,
    session: AsyncSession,
    admin: Coordinator,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    partners = await store.list_partners(session, admin.organisation_id)
    return page(
        request,
        "partners/partners.html",
        {
            "partners": partners,
            "audit": await queries.recent_audit(session, admin.organisation_id),
            "now": rt.clock.now(),
            "max_days": rt.settings.partner_credential_days,
            "errors": errors or {},
            "values": values or {},
            "done": request.query_params.get("done"),
        },
        status=status,
    )


async def _partner_to_change(
    session: AsyncSession, admin: Coordinator, partner_id: UUID
) -> store.Partner | None:
    """The partner, if it is of the admin's organisation, read before the change's own
    transaction (which the caller then begins)."""
    partner = await store.find_partner(session, admin.organisation_id, partner_id)
    await session.rollback()
    return partner


def _error_key(problem: domain.PartnerInputError) -> str:
    return f"partners.error.{problem.field}.{problem.code}"


@router.get("", response_class=HTMLResponse)
async def partners_page(
    request: Request, admin: Admin, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _render(request, rt, session, admin)


@router.post("", response_class=HTMLResponse)
async def create_partner(
    request: Request, admin: Admin, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    values = {key: str(form.get(key) or "") for key in ("name", "webhook_url")}
    try:
        async with session.begin():
            partner_id, webhook_secret = await store.create_partner(
                session,
                organisation_id=admin.organisation_id,
                name=values["name"],
                webhook_url=values["webhook_url"],
                vault=vault_for(rt.settings.secret_key),
                require_https=rt.settings.env is Environment.PRODUCTION,
                allow_private=rt.settings.webhook_allow_private,
                now=rt.clock.now(),
                actor=admin.id,
            )
    except domain.PartnerInputError as problem:
        errors = {problem.field: _error_key(problem)}
        return await _render(request, rt, session, admin, errors=errors, values=values, status=422)
    if webhook_secret is None:
        return RedirectResponse(f"{SCREEN}?done=created#partner-{partner_id}", status_code=303)
    return page(
        request,
        "partners/secret.html",
        {"kind": "webhook", "name": values["name"].strip(), "secret": webhook_secret},
    )


@router.post("/{partner_id}/credentials", response_class=HTMLResponse)
async def issue_credential(
    request: Request, partner_id: UUID, admin: Admin, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    days = str(form.get("valid_days") or rt.settings.partner_credential_days)
    partner = await _partner_to_change(session, admin, partner_id)
    if partner is None:
        return not_found(request)
    try:
        valid_days = int(days)
    except ValueError:
        valid_days = 0
    try:
        async with session.begin():
            issued = await store.issue_credential(
                session,
                organisation_id=admin.organisation_id,
                partner_id=partner_id,
                valid_days=valid_days,
                max_days=rt.settings.partner_credential_days,
                now=rt.clock.now(),
                actor=admin.id,
            )
    except domain.PartnerInputError as problem:
        errors = {f"{problem.field}-{partner_id}": _error_key(problem)}
        values = {f"valid_days-{partner_id}": days}
        return await _render(request, rt, session, admin, errors=errors, values=values, status=422)
    document = json.dumps(cli.document_for(issued, rt.settings), indent=2)
    return page(
        request,
        "partners/secret.html",
        {
            "kind": "credential",
            "name": partner.name,
            "document": document,
            "download": "data:application/json;base64,"
            + base64.b64encode(document.encode()).decode(),
            "filename": f"womento-partner-{issued.id}.json",
        },
    )


@router.post("/{partner_id}/credentials/{credential_id}/revoke", response_class=HTMLResponse)
async def revoke_credential(
    request: Request,
    partner_id: UUID,
    credential_id: UUID,
    admin: Admin,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    partner = await _partner_to_change(session, admin, partner_id)
    if partner is None or credential_id not in {c.id for c in partner.credentials}:
        return not_found(request)
    async with session.begin():
        revoked = await store.revoke_credential(
            session,
            organisation_id=admin.organisation_id,
            credential_id=credential_id,
            now=rt.clock.now(),
            actor=admin.id,
        )
    done = "revoked" if revoked else "already_revoked"
    return RedirectResponse(f"{SCREEN}?done={done}#partner-{partner_id}", status_code=303)


@router.post("/{partner_id}/disable", response_class=HTMLResponse)
async def disable_partner(
    request: Request, partner_id: UUID, admin: Admin, session: SessionDep, rt: RuntimeDep
) -> Response:
    if await _partner_to_change(session, admin, partner_id) is None:
        return not_found(request)
    async with session.begin():
        disabled = await store.disable_partner(
            session,
            organisation_id=admin.organisation_id,
            partner_id=partner_id,
            now=rt.clock.now(),
            actor=admin.id,
        )
    done = "disabled" if disabled else "already_disabled"
    return RedirectResponse(f"{SCREEN}?done={done}#partner-{partner_id}", status_code=303)


# --- webhooks -------------------------------------------------------------------------------


async def _render_webhook(
    request: Request,
    session: AsyncSession,
    admin: Coordinator,
    partner: store.Partner,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    webhook = await store.get_webhook(session, admin.organisation_id, partner.id)
    return page(
        request,
        "partners/webhook.html",
        {
            "partner": partner,
            "webhook": webhook,
            "deliveries": await store.list_deliveries(session, admin.organisation_id, partner.id),
            "delivery_errors": domain.DELIVERY_ERRORS,
            "errors": errors or {},
            "values": values or {"webhook_url": (webhook.url if webhook else None) or ""},
            "done": request.query_params.get("done"),
        },
        status=status,
    )


@router.get("/{partner_id}/webhook", response_class=HTMLResponse)
async def webhook_page(
    request: Request, partner_id: UUID, admin: Admin, session: SessionDep
) -> Response:
    partner = await store.find_partner(session, admin.organisation_id, partner_id)
    if partner is None:
        return not_found(request)
    return await _render_webhook(request, session, admin, partner)


@router.post("/{partner_id}/webhook", response_class=HTMLResponse)
async def set_webhook(
    request: Request, partner_id: UUID, admin: Admin, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    values = {"webhook_url": str(form.get("webhook_url") or "")}
    partner = await _partner_to_change(session, admin, partner_id)
    if partner is None:
        return not_found(request)
    try:
        async with session.begin():
            secret = await store.set_webhook(
                session,
                organisation_id=admin.organisation_id,
                partner_id=partner_id,
                url=values["webhook_url"],
                actor=admin.id,
                now=rt.clock.now(),
                settings=rt.settings,
                rotate=form.get("rotate") == "on",
            )
    except domain.PartnerInputError as problem:
        if problem.field == "partner":  # disabled meanwhile: shown as such, without the form
            partner = await store.find_partner(session, admin.organisation_id, partner_id)
            if partner is None:
                return not_found(request)
        errors = {problem.field: _error_key(problem)}
        return await _render_webhook(
            request, session, admin, partner, errors=errors, values=values, status=422
        )
    if secret is not None:
        return page(
            request,
            "partners/secret.html",
            {"kind": "webhook", "name": partner.name, "secret": secret},
        )
    done = "webhook_removed" if not values["webhook_url"].strip() else "webhook_saved"
    return RedirectResponse(f"{SCREEN}/{partner_id}/webhook?done={done}", status_code=303)


@router.post("/{partner_id}/deliveries/{delivery_id}/replay", response_class=HTMLResponse)
async def replay_delivery(
    request: Request,
    partner_id: UUID,
    delivery_id: int,
    admin: Admin,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    partner = await _partner_to_change(session, admin, partner_id)
    if partner is None:
        return not_found(request)
    try:
        async with session.begin():
            replay = await store.replay_delivery(
                session,
                organisation_id=admin.organisation_id,
                delivery_id=delivery_id,
                actor=admin.id,
                now=rt.clock.now(),
            )
    except domain.PartnerInputError as problem:
        if problem.field == "delivery":
            return not_found(request)
        errors = {"replay": _error_key(problem)}
        return await _render_webhook(request, session, admin, partner, errors=errors, status=422)
    where = f"{SCREEN}/{replay.partner_id}/webhook?done=replayed"
    return RedirectResponse(where, status_code=303)
