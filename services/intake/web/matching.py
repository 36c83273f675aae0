"""The coordinator's matching screen: the proposal with names, scores and reasons in words;
lock, exclude, re-run in either mode, confirm; formed pairs and ending one.

Matching owns the data; this page sends it commands and shows what it answers. When the
matching service is down the page says so (503) and nothing is changed.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.intake import cycles, reference, review
from services.intake.access.tables import What, Why
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.web.access import record_access
from services.intake.web.commands import act, ask, back_to
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import Translate, negotiate, translator
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.commands import (
    Command,
    CommandRejected,
    ConfirmPairs,
    EndPair,
    GetMatching,
    ProposeMatches,
    ServiceUnavailable,
    SetMentorAvailability,
    SetPairConstraint,
)
from shared.crypto import vault_for
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(
    prefix="/coordinator", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]
END_REASONS = ("mentee_found_work", "mentee_withdrew", "mentor_withdrew", "poor_fit", "other")


def reason_text(reason: dict[str, Any], _: Translate, lang: str) -> str:
    """A reason code from matching in the coordinator's words."""
    code, params = reason["code"], dict(reason.get("params", {}))
    if "isco" in params:
        params["label"] = reference.isco_label(str(params["isco"]), lang)
    if "isco_major" in params:
        params["label"] = reference.isco_label(str(params["isco_major"]), lang)
    if "language" in params:
        params["language"] = dict(reference.languages(lang)).get(
            params["language"], params["language"]
        )
    if "region" in params:
        params["region"] = dict(reference.regions(lang)).get(params["region"], params["region"])
    if "topics" in params:
        params["topics"] = "; ".join(_(f"apply.topic.{t}") for t in params["topics"])
    if "slots" in params:
        params["slots"] = "; ".join(_(f"apply.availability.{s}") for s in params["slots"])
    return _(f"matching.reason.{code}", **params)


@router.get("/cycles/{cycle_id}/matching", response_class=HTMLResponse)
async def matching_page(
    request: Request,
    cycle_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    lang = negotiate(request)
    try:
        state = await ask(rt, request, coordinator.organisation_id, GetMatching(cycle_id=cycle_id))
    except ServiceUnavailable:
        return page(request, "matching/unavailable.html", {"cycle_id": cycle_id}, status=503)
    except CommandRejected as refused:
        if refused.code == "unknown_cycle":
            return not_found(request)
        raise
    run = state["run"] or {"pairs": [], "unmatched": []}
    ids = {UUID(p[k]) for p in run["pairs"] for k in ("mentee_id", "mentor_id")}
    ids |= {UUID(u["mentee_id"]) for u in run["unmatched"]}
    ids |= {UUID(c["mentor_id"]) for u in run["unmatched"] for c in u["nearest"]}
    ids |= {UUID(p[k]) for p in state["pairs"] for k in ("mentee_id", "mentor_id")}
    ids |= {UUID(r["mentor_id"]) for r in state["pool"]}
    names = await review.names_of(
        session,
        organisation_id=coordinator.organisation_id,
        person_ids=ids,
        vault=vault_for(rt.settings.secret_key),
    )
    await record_access(
        request, session, coordinator, names.keys(), What.NAMES_VIEWED, Why.MATCHING
    )
    await session.commit()
    _ = translator(lang)
    constraint = {(c["mentee_id"], c["mentor_id"]): c["kind"] for c in state["constraints"]}
    return page(
        request,
        "matching/proposal.html",
        {
            "cycle_id": cycle_id,
            "run": state["run"],
            "pairs": run["pairs"],
            "unmatched": run["unmatched"],
            "formed": [p for p in state["pairs"] if p["ended_at"] is None],
            "ended": [p for p in state["pairs"] if p["ended_at"] is not None],
            "constraint": constraint,
            "excluded": [c for c in state["constraints"] if c["kind"] == "excluded"],
            "name": lambda person_id: names.get(UUID(person_id), "?"),
            "reason": lambda r: reason_text(r, _, lang),
            "can_edit": coordinator.role in EDITOR_ROLES,
            "end_reasons": END_REASONS,
            "pool": sorted(state["pool"], key=lambda r: names.get(UUID(r["mentor_id"]), "")),
            "isco_label": lambda code: reference.isco_label(code, lang),
            "message": request.query_params.get("message"),
            "error": request.query_params.get("error"),
        },
    )


def _screen(cycle_id: UUID) -> str:
    return f"/coordinator/cycles/{cycle_id}/matching"


def _back(cycle_id: UUID, **query: str) -> RedirectResponse:
    return back_to(_screen(cycle_id), **query)


async def _act(
    request: Request,
    rt: Runtime,
    coordinator: Coordinator,
    cycle_id: UUID,
    command: Command,
    done: str,
) -> Response:
    return await act(
        request,
        rt,
        coordinator.organisation_id,
        command,
        screen=_screen(cycle_id),
        done=done,
        unavailable=lambda: page(
            request, "matching/unavailable.html", {"cycle_id": cycle_id}, status=503
        ),
    )


@router.post("/cycles/{cycle_id}/matching/propose", response_class=HTMLResponse)
async def propose(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    session: SessionDep,
    mode: Annotated[str, Form()] = "best_total_fit",
) -> Response:
    """Propose with the weights of the cycle's programme (its settings tune them)."""
    chosen = "most_matched" if mode == "most_matched" else "best_total_fit"
    weights = await cycles.matching_weights(
        session, organisation_id=coordinator.organisation_id, cycle_id=cycle_id
    )
    command = ProposeMatches(cycle_id=cycle_id, mode=chosen, weights=weights)
    return await _act(request, rt, coordinator, cycle_id, command, "proposed")


@router.post("/cycles/{cycle_id}/matching/mentor", response_class=HTMLResponse)
async def mentor_availability(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    mentor_id: Annotated[UUID, Form()],
    capacity: Annotated[int, Form(ge=1, le=5)],
    resting: Annotated[str, Form()] = "",
) -> Response:
    command = SetMentorAvailability(
        mentor_id=mentor_id, capacity=capacity, resting=resting == "yes"
    )
    return await _act(request, rt, coordinator, cycle_id, command, "mentor")


@router.post("/cycles/{cycle_id}/matching/constraint", response_class=HTMLResponse)
async def constrain(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    mentee_id: Annotated[UUID, Form()],
    mentor_id: Annotated[UUID, Form()],
    kind: Annotated[str, Form()],
) -> Response:
    if kind not in ("locked", "excluded", "none"):
        return _back(cycle_id, error="invalid")
    command = SetPairConstraint(
        cycle_id=cycle_id, mentee_id=mentee_id, mentor_id=mentor_id, kind=kind
    )  # type: ignore[arg-type]
    return await _act(request, rt, coordinator, cycle_id, command, kind)


@router.post("/cycles/{cycle_id}/matching/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    run_id: Annotated[UUID, Form()],
) -> Response:
    return await _act(
        request,
        rt,
        coordinator,
        cycle_id,
        ConfirmPairs(cycle_id=cycle_id, run_id=run_id),
        "confirmed",
    )


@router.post("/cycles/{cycle_id}/pairs/{pair_id}/end", response_class=HTMLResponse)
async def end_pair(
    request: Request,
    cycle_id: UUID,
    pair_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    reason: Annotated[str, Form()] = "other",
) -> Response:
    code = reason if reason in END_REASONS else "other"
    return await _act(
        request, rt, coordinator, cycle_id, EndPair(pair_id=pair_id, reason_code=code), "ended"
    )
