"""Scheduling's screens in intake: the participant portal (personal links) and the
coordinator's schedule screen (at-risk list, pair histories, group meetings and trainings
with attendance sheets, calendar feeds).

Scheduling owns the data; these pages send it commands (`shared/commands.py`, section
"scheduling") and show what it answers. When scheduling is down the pages say so (503) and
nothing is changed. Links are signed and checked by `services.intake.portal` and opened,
refused (403, 410) and served in her language by `services.intake.web.links`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.intake import models as m
from services.intake import review
from services.intake.access.tables import What, Why
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.mail import MailRenderError, enqueue_mail
from services.intake.portal import (
    DEFAULT_VALIDITY,
    LinkError,
    PortalLink,
    make_link,
    read_portal_link,
)
from services.intake.web.access import record_access
from services.intake.web.commands import act, ask, back_to
from services.intake.web.consent import portal_section as consent_section
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import negotiate, text, translator
from services.intake.web.links import Visit, link_refused, open_link, revoke_links, unavailable
from services.intake.web.options import TOPICS
from services.intake.web.render import page
from services.intake.web.screens import cycle_name, not_found
from shared.commands import (
    CalendarFeed,
    CancelScheduledEvent,
    Command,
    CommandRejected,
    CreateGroupMeeting,
    CreateTraining,
    FormSmallGroups,
    GetSchedule,
    RecordAttendance,
    RecordMeeting,
    Rsvp,
    ServiceUnavailable,
    SmallGroupPair,
    UpdateScheduledEvent,
)
from shared.crypto import vault_for
from shared.events import MeetingMode
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]
HELSINKI = ZoneInfo("Europe/Helsinki")
MODES = tuple(mode.value for mode in MeetingMode)
GROUP_KINDS = ("kick_off", "midway", "closing")
SUBMISSION_NAMESPACE = UUID("6f1c2a0e-7b1d-4c55-9a43-2d7f3b8e9c10")
ICS = "text/calendar; charset=utf-8"


def _today(rt: Runtime) -> date:
    return rt.clock.now().astimezone(HELSINKI).date()


# --- the participant portal ----------------------------------------------------------------


async def _participant(
    request: Request, rt: Runtime, session: Any, token: str
) -> Visit[PortalLink] | Response:
    """The visit of a genuine portal link (one naming its cycle), or the refusal."""
    visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
    if not isinstance(visit, Response) and visit.link.cycle_id is None:
        return link_refused(request, LinkError("unknown person"))
    return visit


async def _render_portal(
    request: Request,
    rt: Runtime,
    session: Any,
    visit: Visit[PortalLink],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    rsvp_error: str | None = None,
    status: int = 200,
) -> Response:
    link, lang = visit.link, visit.lang
    _ = translator(lang)
    try:
        state = await ask(
            rt, request, visit.person.organisation_id, GetSchedule(cycle_id=link.cycle_id)
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, lang)
    except CommandRejected:
        state = {"pairs": []}
    pair = next((p for p in state["pairs"] if p["pair_id"] == str(link.pair_id)), None)
    return page(
        request,
        "portal/portal.html",
        {
            "lang": lang,
            "_": _,
            "token": visit.token,
            "pair": pair,
            "cycle": state.get("cycle"),
            "expires_at": link.expires_at,
            "topics": TOPICS,
            "modes": MODES,
            "values": values or {"held_on": _today(rt).isoformat(), "mode": "online"},
            "errors": errors or {},
            "submission": uuid.uuid4().hex,
            "today": _today(rt).isoformat(),
            "logged": request.query_params.get("logged") == "1",
            "answered": request.query_params.get("answered") == "1",
            "invitations": invitations_of(state, link.person_id),
            "rsvp_error": rsvp_error,
            "local": lambda iso: datetime.fromisoformat(iso).astimezone(HELSINKI),
            "started": lambda iso: datetime.fromisoformat(iso) <= rt.clock.now(),
            **await consent_section(request, session, link.person_id),
        },
        status=status,
    )


@router.get("/portal/{token}", response_class=HTMLResponse)
async def portal_page(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    visit = await _participant(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    return await _render_portal(request, rt, session, visit)


def submission_command_id(submission: str, pair_id: UUID, command: RecordMeeting) -> UUID:
    """The command id of one form submission: the same form sent twice logs once, while a
    corrected form (another date, length...) is a new command and not the cached refusal."""
    content = command.model_dump_json(include={"held_on", "minutes", "mode", "topic_codes"})
    return uuid.uuid5(SUBMISSION_NAMESPACE, f"{submission}|{pair_id}|{content}")


def _parse_meeting(
    form: Any, pair_id: UUID, logged_by: str
) -> tuple[RecordMeeting | None, dict[str, str], dict[str, Any]]:
    """The command from the form, or the codes of the fields that cannot be read."""
    values: dict[str, Any] = {
        "held_on": str(form.get("held_on") or "").strip(),
        "minutes": str(form.get("minutes") or "").strip(),
        "mode": str(form.get("mode") or ""),
        "topics": [t for t in form.getlist("topics") if t in TOPICS],
    }
    errors: dict[str, str] = {}
    try:
        held_on = date.fromisoformat(values["held_on"])
    except ValueError:
        errors["held_on"] = "invalid_date"
    try:
        minutes = int(values["minutes"])
        if abs(minutes) > 100_000:
            raise ValueError
    except ValueError:
        errors["minutes"] = "invalid_number"
    if values["mode"] not in MODES:
        errors["mode"] = "choose_mode"
    if errors:
        return None, errors, values
    command = RecordMeeting(
        pair_id=pair_id,
        held_on=held_on,
        minutes=minutes,
        mode=MeetingMode(values["mode"]),
        topic_codes=tuple(values["topics"]),
        logged_by=logged_by,  # type: ignore[arg-type]
    )
    return command, errors, values


def _error_field(field: str | None) -> str:
    return field if field in ("held_on", "minutes", "mode") else "form"


@router.post("/portal/{token}/meetings", response_class=HTMLResponse)
async def portal_log_meeting(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    visit = await _participant(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    link, lang = visit.link, visit.lang
    form = await request.form()
    command, errors, values = _parse_meeting(form, link.pair_id, "participant")
    if command is None:
        codes = {k: text(f"portal.error.{v}", lang) for k, v in errors.items()}
        return await _render_portal(
            request, rt, session, visit, values=values, errors=codes, status=422
        )
    submission = str(form.get("submission") or "") or uuid.uuid4().hex
    try:
        await ask(
            rt,
            request,
            visit.person.organisation_id,
            command,
            command_id=submission_command_id(submission[:64], link.pair_id, command),
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, lang)
    except CommandRejected as refused:
        errors = {_error_field(refused.field): text(f"portal.error.{refused.code}", lang)}
        return await _render_portal(
            request, rt, session, visit, values=values, errors=errors, status=422
        )
    return RedirectResponse(f"/portal/{token}?logged=1", 303)


@router.get("/portal/{token}/calendar.ics")
async def portal_calendar(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep, deadlines: str = ""
) -> Response:
    """Her feed; with `?deadlines=1` also her pair's monthly meeting deadlines (all-day)."""
    visit = await _participant(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    try:
        feed = await ask(
            rt,
            request,
            visit.person.organisation_id,
            CalendarFeed(
                person_id=visit.link.person_id,
                language=visit.lang,
                pair_deadlines=deadlines == "1",
            ),
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, visit.lang)
    return Response(feed["ics"], media_type=ICS, headers={"Cache-Control": "no-store"})


# --- the coordinator's schedule screen -------------------------------------------------------


def _screen(cycle_id: UUID) -> str:
    return f"/coordinator/cycles/{cycle_id}/schedule"


def _back(cycle_id: UUID, **query: str) -> RedirectResponse:
    return back_to(_screen(cycle_id), **query)


def _last_meeting(pair: dict[str, Any]) -> str | None:
    return max((mt["held_on"] for mt in pair["meetings"]), default=None)


def _flagged_since(pair: dict[str, Any]) -> str | None:
    open_flags = [f["flagged_at"] for f in pair["at_risk_flags"] if f["cleared_at"] is None]
    return open_flags[-1] if open_flags else None


@router.get("/coordinator/cycles/{cycle_id}/schedule", response_class=HTMLResponse)
async def schedule_page(
    request: Request,
    cycle_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    return await _schedule_screen(request, cycle_id, coordinator, session, rt)


def _month_key(iso: str) -> str:
    return iso[:7]


def calendar_months(state: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Month by month: the group meetings and trainings starting in it (Helsinki time) and
    the pairs' monthly meeting for it (due on its last day): held, missed, still open."""
    months: dict[str, dict[str, Any]] = {}
    if state.get("cycle"):
        first = date.fromisoformat(state["cycle"]["starts_on"]).replace(day=1)
        last = date.fromisoformat(state["cycle"]["ends_on"])
        while first <= last:
            months[first.isoformat()[:7]] = {"month": first.isoformat(), "events": []}
            first = (first + timedelta(days=32)).replace(day=1)
    current = [p for p in state["pairs"] if p["ended_at"] is None]
    for pair in current:
        for planned in pair["planned"]:
            entry = months.setdefault(
                _month_key(planned["month"]), {"month": planned["month"], "events": []}
            )
            entry["due_on"] = planned["due_on"]
            tally = entry.setdefault("pairs", {"held": 0, "missed": 0, "open": 0})
            if planned["held"]:
                tally["held"] += 1
            elif planned["missed_at"]:
                tally["missed"] += 1
            else:
                tally["open"] += 1
    kinds = (("group_meeting", state["group_meetings"]), ("training", state["trainings"]))
    for kind, events in kinds:
        for event in events:
            local = datetime.fromisoformat(event["starts_at"]).astimezone(HELSINKI)
            key = local.date().isoformat()[:7]
            if kind == "group_meeting" and key not in months:  # the cycle's, wherever it falls
                months[key] = {"month": local.date().replace(day=1).isoformat(), "events": []}
            if key in months:  # trainings within the cycle's months
                months[key]["events"].append({**event, "type": kind, "local": local})
    for entry in months.values():
        entry["events"].sort(key=lambda e: e["starts_at"])
        entry["current"] = entry["month"][:7] == today.isoformat()[:7]
    return [months[key] for key in sorted(months)]


async def _schedule_screen(
    request: Request,
    cycle_id: UUID,
    coordinator: Coordinator,
    session: Any,
    rt: Runtime,
    *,
    training: dict[str, Any] | None = None,
    training_errors: dict[str, str] | None = None,
    event_form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    lang = negotiate(request)
    try:
        state = await ask(rt, request, coordinator.organisation_id, GetSchedule(cycle_id=cycle_id))
    except ServiceUnavailable:
        return unavailable(request, _screen(cycle_id))
    except CommandRejected as refused:
        if refused.code == "unknown_cycle":
            state = {"cycle": None, "pairs": [], "group_meetings": [], "trainings": []}
            state["reminders"], state["small_groups"] = [], []
        else:
            raise
    ids = {UUID(p[k]) for p in state["pairs"] for k in ("mentee_id", "mentor_id")}
    for event in state["group_meetings"] + state["trainings"]:
        ids |= {UUID(i["person_id"]) for i in event["invited"]}
    names = await review.names_of(
        session,
        organisation_id=coordinator.organisation_id,
        person_ids=ids,
        vault=vault_for(rt.settings.secret_key),
    )
    name = await cycle_name(session, coordinator.organisation_id, cycle_id)
    if name is None:
        return not_found(request)
    await record_access(
        request, session, coordinator, names.keys(), What.NAMES_VIEWED, Why.SCHEDULING
    )
    await session.commit()
    current = [p for p in state["pairs"] if p["ended_at"] is None]
    return page(
        request,
        "schedule/schedule.html",
        {
            "cycle_id": cycle_id,
            "cycle_name": name,
            "cycle": state["cycle"],
            "pairs": state["pairs"],
            "current": current,
            "at_risk": [p for p in current if p["at_risk"]],
            "missed": [p for p in current if p.get("missed_since_last_meeting")],
            "small_groups": state.get("small_groups", []),
            "pair_names": {
                p["pair_id"]: f"{names.get(UUID(p['mentee_id']), '?')} \N{EN DASH} "
                f"{names.get(UUID(p['mentor_id']), '?')}"
                for p in state["pairs"]
            },
            "calendar": calendar_months(state, _today(rt)),
            "training": training or {"tr_starts": "17:00", "tr_ends": "19:00", "tr_capacity": "20"},
            "training_errors": training_errors or {},
            "event_form": event_form or {"id": None, "values": {}, "errors": {}},
            "group_meetings": state["group_meetings"],
            "trainings": state["trainings"],
            "name": lambda person_id: names.get(UUID(person_id), "?"),
            "last_meeting": _last_meeting,
            "flagged_since": _flagged_since,
            "local": lambda iso: datetime.fromisoformat(iso).astimezone(HELSINKI),
            "started": lambda iso: datetime.fromisoformat(iso) <= rt.clock.now(),
            "can_edit": coordinator.role in EDITOR_ROLES,
            "topics": TOPICS,
            "modes": MODES,
            "kinds": GROUP_KINDS,
            "cancel_reasons": CANCEL_REASONS,
            "today": _today(rt).isoformat(),
            "lang": lang,
            "message": request.query_params.get("message"),
            "error": request.query_params.get("error"),
            "error_field": request.query_params.get("field"),
        },
        status=status,
    )


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
        unavailable=lambda: unavailable(request, _screen(cycle_id)),
    )


async def _schedule_or_back(
    request: Request, rt: Runtime, coordinator: Coordinator, cycle_id: UUID
) -> Any:
    """The cycle's schedule from scheduling, or the page instead: the 503 page when it is
    down, back to the screen with its refusal's code when it refuses."""
    try:
        return await ask(rt, request, coordinator.organisation_id, GetSchedule(cycle_id=cycle_id))
    except ServiceUnavailable:
        return unavailable(request, _screen(cycle_id))
    except CommandRejected as refused:
        return _back(cycle_id, error=refused.code)


@router.get("/coordinator/cycles/{cycle_id}/calendar.ics")
async def cycle_calendar(
    request: Request, cycle_id: UUID, coordinator: CurrentCoordinator, rt: RuntimeDep
) -> Response:
    command = CalendarFeed(cycle_id=cycle_id, language=negotiate(request))
    try:
        feed = await ask(rt, request, coordinator.organisation_id, command)
    except ServiceUnavailable:
        return unavailable(request, _screen(cycle_id))
    except CommandRejected:
        return not_found(request)
    return Response(feed["ics"], media_type=ICS, headers={"Cache-Control": "no-store"})


@router.post("/coordinator/cycles/{cycle_id}/schedule/meetings", response_class=HTMLResponse)
async def coordinator_log_meeting(
    request: Request, cycle_id: UUID, coordinator: Editor, rt: RuntimeDep
) -> Response:
    form = await request.form()
    try:
        pair_id = UUID(str(form.get("pair_id") or ""))
    except ValueError:
        return _back(cycle_id, error="unknown_pair")
    command, errors, _values = _parse_meeting(form, pair_id, "coordinator")
    if command is None:
        return _back(cycle_id, error=next(iter(errors.values())))
    return await _act(request, rt, coordinator, cycle_id, command, "meeting_logged")


def _helsinki(day: str, clock_time: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock_time), HELSINKI)


@router.post("/coordinator/cycles/{cycle_id}/schedule/group-meetings", response_class=HTMLResponse)
async def create_group_meeting(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    kind: Annotated[str, Form()],
    day: Annotated[str, Form()],
    starts: Annotated[str, Form()],
    ends: Annotated[str, Form()],
    place: Annotated[str, Form()] = "",
    online_url: Annotated[str, Form()] = "",
) -> Response:
    if kind not in GROUP_KINDS:
        return _back(cycle_id, error="invalid")
    try:
        starts_at, ends_at = _helsinki(day, starts), _helsinki(day, ends)
        command = CreateGroupMeeting(
            cycle_id=cycle_id,
            kind=kind,  # type: ignore[arg-type]
            starts_at=starts_at,
            ends_at=ends_at,
            place=place.strip() or None,
            online_url=online_url.strip() or None,
        )
    except ValueError:
        return _back(cycle_id, error="invalid")
    return await _act(request, rt, coordinator, cycle_id, command, "group_meeting_created")


@router.post(
    "/coordinator/cycles/{cycle_id}/schedule/events/{event_id}/attendance",
    response_class=HTMLResponse,
)
async def attendance_sheet(
    request: Request, cycle_id: UUID, event_id: UUID, coordinator: Editor, rt: RuntimeDep
) -> Response:
    """The sheet: every listed person is sent as attended (checked) or not (unchecked)."""
    form = await request.form()
    listed = {str(p) for p in form.getlist("person_id")}
    attended = {str(p) for p in form.getlist("attended")}
    try:
        people = sorted(UUID(p) for p in listed | attended)
    except ValueError:
        return _back(cycle_id, error="invalid")
    for person_id in people:
        command = RecordAttendance(
            event_id=event_id, person_id=person_id, attended=str(person_id) in attended
        )
        try:
            await ask(rt, request, coordinator.organisation_id, command)
        except ServiceUnavailable:
            return unavailable(request, _screen(cycle_id))
        except CommandRejected as refused:
            return _back(cycle_id, error=refused.code)
    return _back(cycle_id, message="attendance_saved")


@router.post(
    "/coordinator/cycles/{cycle_id}/schedule/pairs/{pair_id}/send-links",
    response_class=HTMLResponse,
)
async def send_links(
    request: Request,
    cycle_id: UUID,
    pair_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    session: SessionDep,
) -> Response:
    """E-mail both members of the pair their personal portal links (valid 8 months)."""
    state = await _schedule_or_back(request, rt, coordinator, cycle_id)
    if isinstance(state, Response):
        return state
    pair = next((p for p in state["pairs"] if p["pair_id"] == str(pair_id)), None)
    if pair is None:
        return _back(cycle_id, error="unknown_pair")
    if pair["ended_at"] is not None:
        return _back(cycle_id, error="pair_ended")
    try:
        async with session.begin():
            for key in ("mentee_id", "mentor_id"):
                await _mail_portal_link(
                    session, rt, coordinator.organisation_id, cycle_id, pair_id, UUID(pair[key])
                )
    except (MailRenderError, ValueError):
        return _back(cycle_id, error="links_not_sent")
    return _back(cycle_id, message="links_sent")


async def _mail_portal_link(
    session: Any,
    rt: Runtime,
    organisation_id: UUID,
    cycle_id: UUID,
    pair_id: UUID,
    person_id: UUID,
    generation: int | None = None,
) -> None:
    """Queue her `meeting_link` mail with a fresh portal link (valid 8 months) of her
    current link generation; the link is stored encrypted with her key, never in clear."""
    if generation is None:
        generation = await session.scalar(
            sa.select(m.people.c.link_generation).where(
                m.people.c.id == person_id, m.people.c.organisation_id == organisation_id
            )
        )
        if generation is None:
            raise ValueError(f"no person {person_id} in organisation {organisation_id}")
    expires_at = rt.clock.now() + DEFAULT_VALIDITY
    token = make_link(
        rt.settings.secret_key,
        person_id,
        pair_id,
        expires_at,
        cycle_id=cycle_id,
        generation=generation,
    )
    name = await cycle_name(session, organisation_id, cycle_id)
    await enqueue_mail(
        session,
        organisation_id=organisation_id,
        person_id=person_id,
        template="meeting_link",
        context={
            "cycle_name": name or "",
            "cycle_id": str(cycle_id),
            "pair_id": str(pair_id),
            "valid_until": (expires_at.astimezone(HELSINKI) - timedelta(seconds=1))
            .date()
            .isoformat(),
        },
        secret_context={"link": f"{rt.settings.public_base_url.rstrip('/')}/portal/{token}"},
        vault=vault_for(rt.settings.secret_key),
        clock=rt.clock,
    )


@router.post(
    "/coordinator/cycles/{cycle_id}/schedule/pairs/{pair_id}/people/{person_id}/revoke-links",
    response_class=HTMLResponse,
)
async def revoke_and_resend_links(
    request: Request,
    cycle_id: UUID,
    pair_id: UUID,
    person_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    session: SessionDep,
) -> Response:
    """Revoke every personal link of hers (portal and survey) and e-mail her a new portal
    link for this pair, in one transaction: a lost or forwarded link stops working."""
    state = await _schedule_or_back(request, rt, coordinator, cycle_id)
    if isinstance(state, Response):
        return state
    pair = next((p for p in state["pairs"] if p["pair_id"] == str(pair_id)), None)
    if pair is None or str(person_id) not in (pair["mentee_id"], pair["mentor_id"]):
        return _back(cycle_id, error="unknown_pair")
    if pair["ended_at"] is not None:
        return _back(cycle_id, error="pair_ended")
    try:
        async with session.begin():
            generation = await revoke_links(
                session, coordinator.organisation_id, person_id, by=coordinator.id
            )
            if generation is None:
                raise ValueError(f"no person {person_id}")
            await _mail_portal_link(
                session,
                rt,
                coordinator.organisation_id,
                cycle_id,
                pair_id,
                person_id,
                generation,
            )
    except (MailRenderError, ValueError):
        return _back(cycle_id, error="links_not_sent")
    return _back(cycle_id, message="links_revoked")


# --- trainings, small groups ----------------------------------------------------------------

TRAINING_FIELDS = ("tr_title", "tr_day", "tr_starts", "tr_ends", "tr_place", "tr_online_url")
#: The command's refusals and contract errors, as the form field they concern.
_TRAINING_FIELD_OF = {
    "title": "tr_title",
    "starts_at": "tr_day",
    "ends_at": "tr_ends",
    "place": "tr_place",
    "online_url": "tr_online_url",
    "capacity": "tr_capacity",
}


def parse_training(form: Any) -> tuple[CreateTraining | None, dict[str, str], dict[str, str]]:
    """The command from the training form, or error codes per form field."""
    values = {k: str(form.get(k) or "").strip() for k in (*TRAINING_FIELDS, "tr_capacity")}
    errors: dict[str, str] = {}
    if not values["tr_title"]:
        errors["tr_title"] = "title_missing"
    when = _when_and_capacity(values, "tr", errors, capacity_required=True)
    if when is None:
        return None, errors, values
    starts_at, ends_at, capacity = when
    try:
        command = CreateTraining(
            title=values["tr_title"],
            starts_at=starts_at,
            ends_at=ends_at,
            place=values["tr_place"] or None,
            online_url=values["tr_online_url"] or None,
            capacity=capacity,
        )
    except ValidationError as invalid:
        _contract_errors(invalid, _TRAINING_FIELD_OF, "tr_title", errors)
        return None, errors, values
    return command, errors, values


def _when_and_capacity(
    values: dict[str, str], prefix: str, errors: dict[str, str], *, capacity_required: bool
) -> tuple[datetime, datetime, int | None] | None:
    """Start and end (Helsinki) and places from a training's or an event's form fields
    `<prefix>_day`, `_starts`, `_ends`, `_capacity` (checked if required or given) and
    `_online_url` (https only); error codes per field go into `errors`, and then None."""
    day: date | None = None
    try:
        day = date.fromisoformat(values[f"{prefix}_day"])
    except ValueError:
        errors[f"{prefix}_day"] = "invalid_date"
    clock: dict[str, time] = {}
    for key in (f"{prefix}_starts", f"{prefix}_ends"):
        try:
            clock[key] = time.fromisoformat(values[key])
        except ValueError:
            errors[key] = "invalid_time"
    capacity: int | None = None
    if capacity_required or values[f"{prefix}_capacity"]:
        try:
            capacity = int(values[f"{prefix}_capacity"])
            if not 1 <= capacity <= 10_000:
                raise ValueError
        except ValueError:
            errors[f"{prefix}_capacity"] = "invalid_capacity"
    url = values[f"{prefix}_online_url"]
    if url and not url.startswith("https://"):
        errors[f"{prefix}_online_url"] = "https_only"
    if errors or day is None:
        return None
    return (
        datetime.combine(day, clock[f"{prefix}_starts"], HELSINKI),
        datetime.combine(day, clock[f"{prefix}_ends"], HELSINKI),
        capacity,
    )


def _contract_errors(
    invalid: ValidationError, field_of: dict[str, str], fallback: str, errors: dict[str, str]
) -> None:
    """The command contract's refusals, as "invalid" on the form field they concern."""
    for problem in invalid.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        errors[field_of.get(field, fallback)] = "invalid"


@router.post("/coordinator/cycles/{cycle_id}/schedule/trainings", response_class=HTMLResponse)
async def create_training(
    request: Request, cycle_id: UUID, coordinator: Editor, rt: RuntimeDep, session: SessionDep
) -> Response:
    """A training for the organisation's current pairs; errors are shown next to the fields
    (422, the form kept), nothing is stored."""
    lang = negotiate(request)
    command, errors, values = parse_training(await request.form())
    if command is not None:
        try:
            await ask(rt, request, coordinator.organisation_id, command)
        except ServiceUnavailable:
            return unavailable(request, _screen(cycle_id))
        except CommandRejected as refused:
            field = _TRAINING_FIELD_OF.get(refused.field or "", "tr_title")
            errors = {field: refused.code}
        else:
            return _back(cycle_id, message="training_created")
    messages = {k: text(f"schedule.error.{code}", lang) for k, code in errors.items()}
    return await _schedule_screen(
        request,
        cycle_id,
        coordinator,
        session,
        rt,
        training=values,
        training_errors=messages,
        status=422,
    )


# --- changing and cancelling a group meeting or training -------------------------------------

EVENT_FIELDS = ("ev_day", "ev_starts", "ev_ends", "ev_place", "ev_online_url", "ev_title")
_EVENT_FIELD_OF = {
    "title": "ev_title",
    "starts_at": "ev_day",
    "ends_at": "ev_ends",
    "place": "ev_place",
    "online_url": "ev_online_url",
    "capacity": "ev_capacity",
}
CANCEL_REASONS = ("organiser_unavailable", "too_few_participants", "venue_unavailable", "other")


def parse_event_change(
    form: Any, event_id: UUID
) -> tuple[UpdateScheduledEvent | None, dict[str, str], dict[str, str]]:
    """The command from an event's change form, or error codes per form field. A group
    meeting's form has no title or capacity (they stay empty here and are not sent)."""
    values = {k: str(form.get(k) or "").strip() for k in (*EVENT_FIELDS, "ev_capacity")}
    errors: dict[str, str] = {}
    when = _when_and_capacity(values, "ev", errors, capacity_required=False)
    if when is None:
        return None, errors, values
    starts_at, ends_at, capacity = when
    try:
        command = UpdateScheduledEvent(
            event_id=event_id,
            starts_at=starts_at,
            ends_at=ends_at,
            place=values["ev_place"] or None,
            online_url=values["ev_online_url"] or None,
            title=values["ev_title"] or None,
            capacity=capacity,
        )
    except ValidationError as invalid:
        _contract_errors(invalid, _EVENT_FIELD_OF, "ev_day", errors)
        return None, errors, values
    return command, errors, values


@router.post(
    "/coordinator/cycles/{cycle_id}/schedule/events/{event_id}/change",
    response_class=HTMLResponse,
)
async def change_event(
    request: Request,
    cycle_id: UUID,
    event_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    session: SessionDep,
) -> Response:
    """A new time or place (a training also its title and capacity); errors next to the
    fields of that event's form (422, the form kept open), nothing changed."""
    lang = negotiate(request)
    command, errors, values = parse_event_change(await request.form(), event_id)
    if command is not None:
        try:
            await ask(rt, request, coordinator.organisation_id, command)
        except ServiceUnavailable:
            return unavailable(request, _screen(cycle_id))
        except CommandRejected as refused:
            if refused.field in (None, "event_id"):  # ended, cancelled, unknown: no form
                return _back(cycle_id, error=refused.code)
            errors = {_EVENT_FIELD_OF.get(refused.field or "", "ev_day"): refused.code}
        else:
            return _back(cycle_id, message="event_changed")
    messages = {k: text(f"schedule.error.{code}", lang) for k, code in errors.items()}
    return await _schedule_screen(
        request,
        cycle_id,
        coordinator,
        session,
        rt,
        event_form={"id": str(event_id), "values": values, "errors": messages},
        status=422,
    )


@router.post(
    "/coordinator/cycles/{cycle_id}/schedule/events/{event_id}/cancel",
    response_class=HTMLResponse,
)
async def cancel_event(
    request: Request,
    cycle_id: UUID,
    event_id: UUID,
    coordinator: Editor,
    rt: RuntimeDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    if reason and reason not in CANCEL_REASONS:
        return _back(cycle_id, error="invalid")
    command = CancelScheduledEvent(event_id=event_id, reason=reason or None)
    return await _act(request, rt, coordinator, cycle_id, command, "event_cancelled")


async def small_group_codes(
    session: Any, organisation_id: UUID, cycle_id: UUID, pairs: list[dict[str, Any]]
) -> list[SmallGroupPair]:
    """Each current pair's field (ISCO-08 major group of the mentee's occupation) and region
    (the mentee's, else the mentor's), from their applications' matching profiles: codes
    only, never names."""
    people = {UUID(p[k]) for p in pairs for k in ("mentee_id", "mentor_id")}
    a = m.applications
    profiles: dict[UUID, dict[str, Any]] = {}
    if people:
        for row in await session.execute(
            sa.select(a.c.person_id, a.c.profile).where(
                a.c.person_id.in_(people),
                a.c.cycle_id == cycle_id,
                a.c.organisation_id == organisation_id,
            )
        ):
            profiles[row.person_id] = row.profile or {}
    codes = []
    for pair in pairs:
        mentee = profiles.get(UUID(pair["mentee_id"]), {})
        mentor = profiles.get(UUID(pair["mentor_id"]), {})
        isco = str(mentee.get("isco_code") or mentor.get("isco_code") or "0")[:1]
        region = mentee.get("region") or mentor.get("region")
        codes.append(
            SmallGroupPair(
                pair_id=UUID(pair["pair_id"]),
                isco_major=isco if isco.isdigit() else "0",
                region=str(region)[:8] if region else None,
            )
        )
    return codes


@router.post("/coordinator/cycles/{cycle_id}/schedule/small-groups", response_class=HTMLResponse)
async def form_small_groups(
    request: Request, cycle_id: UUID, coordinator: Editor, rt: RuntimeDep, session: SessionDep
) -> Response:
    """(Re)form the cycle's small groups from its current pairs."""
    state = await _schedule_or_back(request, rt, coordinator, cycle_id)
    if isinstance(state, Response):
        return state
    current = [p for p in state["pairs"] if p["ended_at"] is None]
    codes = await small_group_codes(session, coordinator.organisation_id, cycle_id, current)
    command = FormSmallGroups(cycle_id=cycle_id, pairs=tuple(codes))
    return await _act(request, rt, coordinator, cycle_id, command, "small_groups_formed")


# --- RSVP from the portal ----------------------------------------------------------------------


def invitations_of(state: dict[str, Any], person_id: UUID) -> list[dict[str, Any]]:
    """The group meetings and trainings she is invited to, with her answer, soonest first
    (a cancelled one is left out: she was e-mailed about it and cannot answer it)."""
    mine = []
    kinds = (
        ("group_meeting", state.get("group_meetings", [])),
        ("training", state.get("trainings", [])),
    )
    for kind, events in kinds:
        for event in events:
            if event.get("cancelled_at"):
                continue
            invitation = next(
                (i for i in event["invited"] if i["person_id"] == str(person_id)), None
            )
            if invitation is not None:
                mine.append({**event, "type": kind, "rsvp": invitation["rsvp"]})
    return sorted(mine, key=lambda e: e["starts_at"])


@router.post("/portal/{token}/rsvp", response_class=HTMLResponse)
async def portal_rsvp(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    """Her yes or no to a group meeting or training she is invited to."""
    visit = await _participant(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    lang = visit.lang
    form = await request.form()
    answer = str(form.get("answer") or "")
    try:
        event_id = UUID(str(form.get("event_id") or ""))
    except ValueError:
        event_id = None
    if event_id is None or answer not in ("yes", "no"):
        rsvp_error = text("portal.error.invalid", lang)
        return await _render_portal(request, rt, session, visit, rsvp_error=rsvp_error, status=422)
    try:
        await ask(
            rt,
            request,
            visit.person.organisation_id,
            Rsvp(event_id=event_id, person_id=visit.link.person_id, answer=answer),
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, lang)
    except CommandRejected as refused:
        # A cancelled event (answered from a page opened before) is not there any more.
        code = "unknown_event" if refused.code == "cancelled" else refused.code
        rsvp_error = text(f"portal.error.{code}", lang)
        return await _render_portal(request, rt, session, visit, rsvp_error=rsvp_error, status=422)
    query = f"?lang={lang}&answered=1" if request.query_params.get("lang") else "?answered=1"
    return RedirectResponse(f"/portal/{token}{query}", 303)
