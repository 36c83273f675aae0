"""The coordinator's outcomes screen for a cycle: each mentee (names joined here, feedback
knows only ids) with the outcome derived from her surveys, a coordinator's override with
its required reason, and her interviews with their private notes.

Feedback owns the data; this page sends it commands (`shared/commands.py`, section
"feedback: outcomes and interviews") and shows what it answers. A refusal is shown next
to the field it names, nothing stored; when feedback is down the page says so (503) and
nothing is changed. A viewer sees everything but no forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import review
from services.intake.access.tables import What, Why
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.auth.models import coordinators
from services.intake.web.access import record_access
from services.intake.web.commands import ask, back_to
from services.intake.web.csrf import verify_csrf
from services.intake.web.render import page
from services.intake.web.screens import cycle_name, not_found
from shared.commands import (
    ClearOutcomeOverride,
    Command,
    CommandRejected,
    GetOutcomes,
    OverrideOutcome,
    RecordInterview,
    ScheduleInterview,
    ServiceUnavailable,
)
from shared.crypto import vault_for
from shared.events import Outcome
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(
    prefix="/coordinator", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]
OUTCOMES = tuple(outcome.value for outcome in Outcome)
KNOWN_ERRORS = (
    "reason_required",
    "reason_too_long",
    "choose_outcome",
    "not_a_mentee",
    "date",
    "in_the_future",
    "outside_cycle",
    "unknown_interview",
    "notes_too_long",
)
Errors = dict[str, dict[str, str]]
"""Refusals per form (a person's override form, an interview's forms): field -> code."""


def _screen(cycle_id: UUID) -> str:
    return f"/coordinator/cycles/{cycle_id}/outcomes"


def _unavailable(request: Request, cycle_id: UUID) -> Response:
    return page(request, "outcomes/unavailable.html", {"back": _screen(cycle_id)}, status=503)


async def _render(
    request: Request,
    rt: Runtime,
    session: AsyncSession,
    coordinator: Coordinator,
    cycle_id: UUID,
    *,
    errors: Errors | None = None,
    values: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    name = await cycle_name(session, coordinator.organisation_id, cycle_id)
    if name is None:
        return not_found(request)
    try:
        state = await ask(rt, request, coordinator.organisation_id, GetOutcomes(cycle_id=cycle_id))
    except ServiceUnavailable:
        return _unavailable(request, cycle_id)
    except CommandRejected as refused:
        if refused.code != "unknown_cycle":
            raise
        state = {"cycle": None, "mentees": []}
    names = await review.names_of(
        session,
        organisation_id=coordinator.organisation_id,
        person_ids={UUID(row["person_id"]) for row in state["mentees"]},
        vault=vault_for(rt.settings.secret_key),
    )
    mentees = sorted(state["mentees"], key=lambda row: names.get(UUID(row["person_id"]), ""))
    shown = {UUID(row["person_id"]) for row in mentees}
    await record_access(request, session, coordinator, shown, What.INTERVIEW_VIEWED, Why.OUTCOMES)
    await session.commit()
    authors = {row["overridden_by"] for row in mentees if row["overridden_by"]}
    colleagues = dict(
        (
            await session.execute(
                sa.select(coordinators.c.id, coordinators.c.display_name).where(
                    coordinators.c.organisation_id == coordinator.organisation_id,
                    coordinators.c.id.in_([UUID(a) for a in authors]),
                )
            )
        ).all()
    )
    counts: dict[str, int] = {}
    for row in mentees:
        key = row["outcome"] or "none"
        counts[key] = counts.get(key, 0) + 1
    return page(
        request,
        "outcomes/outcomes.html",
        {
            "cycle_id": cycle_id,
            "cycle_name": name,
            "cycle": state["cycle"],
            "mentees": mentees,
            "counts": counts,
            "outcomes": OUTCOMES,
            "name": lambda person_id: names.get(UUID(person_id), "?"),
            "author": lambda coordinator_id: colleagues.get(UUID(coordinator_id), ""),
            "can_edit": coordinator.role in EDITOR_ROLES,
            "today": rt.clock.now().date().isoformat(),
            "errors": errors or {},
            "values": values or {},
            "message": request.query_params.get("message"),
        },
        status=status,
    )


@router.get("/cycles/{cycle_id}/outcomes", response_class=HTMLResponse)
async def outcomes_page(
    request: Request,
    cycle_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    return await _render(request, rt, session, coordinator, cycle_id)


@dataclass(frozen=True)
class _Posted:
    """One form posted on the screen: `key` names it (a person's override form, an
    interview's forms) and `values` are shown again with a refusal."""

    request: Request
    rt: Runtime
    session: AsyncSession
    coordinator: Coordinator
    cycle_id: UUID
    key: str
    values: dict[str, str]

    @classmethod
    def of(
        cls,
        request: Request,
        rt: Runtime,
        session: AsyncSession,
        coordinator: Coordinator,
        cycle_id: UUID,
        key: str,
        form: Any,
        *names: str,
    ) -> _Posted:
        """The form `key` with the values of its fields `names` (missing ones empty)."""
        values = {name: str(form.get(name) or "") for name in names}
        return cls(request, rt, session, coordinator, cycle_id, key, values)

    async def refuse(self, field: str, code: str) -> Response:
        """The screen again with the refusal next to the field (422), nothing sent."""
        return await _render(
            self.request,
            self.rt,
            self.session,
            self.coordinator,
            self.cycle_id,
            errors={self.key: {field: code}},
            values={self.key: self.values},
            status=422,
        )

    async def send(self, command: Command, *, fields: tuple[str, ...], done: str) -> Response:
        """Send the change; back to the screen, or the screen again with the refusal next to
        the field it names (422; the first of `fields` when it names none of them), or the
        503 page."""
        try:
            await ask(self.rt, self.request, self.coordinator.organisation_id, command)
        except ServiceUnavailable:
            return _unavailable(self.request, self.cycle_id)
        except CommandRejected as refused:
            field = refused.field if refused.field in fields else fields[0]
            code = refused.code if refused.code in KNOWN_ERRORS else "invalid"
            return await self.refuse(field, code)
        return back_to(_screen(self.cycle_id), message=done)


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value or ""))
    except ValueError:
        return None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@router.post("/cycles/{cycle_id}/outcomes/override", response_class=HTMLResponse)
async def override(
    request: Request, cycle_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    person_id = _uuid(form.get("person_id"))
    if person_id is None:
        return back_to(_screen(cycle_id))
    key = f"override-{person_id}"
    posted = _Posted.of(request, rt, session, coordinator, cycle_id, key, form, "outcome", "reason")
    if posted.values["outcome"] not in OUTCOMES:
        return await posted.refuse("outcome", "choose_outcome")
    command = OverrideOutcome(
        person_id=person_id,
        cycle_id=cycle_id,
        outcome=Outcome(posted.values["outcome"]),
        reason=posted.values["reason"][:2000],
        coordinator_id=coordinator.id,
    )
    return await posted.send(command, fields=("reason", "outcome"), done="overridden")


@router.post("/cycles/{cycle_id}/outcomes/clear", response_class=HTMLResponse)
async def clear(
    request: Request, cycle_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    person_id = _uuid(form.get("person_id"))
    if person_id is None:
        return back_to(_screen(cycle_id))
    key = f"override-{person_id}"
    posted = _Posted.of(request, rt, session, coordinator, cycle_id, key, form)
    command = ClearOutcomeOverride(
        person_id=person_id, cycle_id=cycle_id, coordinator_id=coordinator.id
    )
    return await posted.send(command, fields=("outcome",), done="cleared")


@router.post(
    "/cycles/{cycle_id}/outcomes/interviews/{interview_id}/schedule",
    response_class=HTMLResponse,
)
async def schedule(
    request: Request,
    cycle_id: UUID,
    interview_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    form = await request.form()
    key = f"schedule-{interview_id}"
    posted = _Posted.of(request, rt, session, coordinator, cycle_id, key, form, "scheduled_on")
    day = _day(posted.values["scheduled_on"])
    if day is None:
        return await posted.refuse("scheduled_on", "date")
    command = ScheduleInterview(
        interview_id=interview_id, scheduled_on=day, coordinator_id=coordinator.id
    )
    return await posted.send(command, fields=("scheduled_on",), done="scheduled")


@router.post(
    "/cycles/{cycle_id}/outcomes/interviews/{interview_id}/record",
    response_class=HTMLResponse,
)
async def record(
    request: Request,
    cycle_id: UUID,
    interview_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    form = await request.form()
    key = f"record-{interview_id}"
    posted = _Posted.of(request, rt, session, coordinator, cycle_id, key, form, "held_on", "notes")
    day = _day(posted.values["held_on"])
    if day is None:
        return await posted.refuse("held_on", "date")
    if len(posted.values["notes"]) > 5000:
        return await posted.refuse("notes", "notes_too_long")
    command = RecordInterview(
        interview_id=interview_id,
        held_on=day,
        notes=posted.values["notes"],
        coordinator_id=coordinator.id,
    )
    return await posted.send(command, fields=("held_on", "notes"), done="recorded")
