"""Survey screens in intake: a participant answers her survey on her personal link
(`/survey/<token>`), and coordinators view and edit each programme's survey templates
(`/coordinator/programmes/<id>/surveys`).

Feedback owns surveys and answers; these pages send it commands (`shared/commands.py`,
section "feedback: surveys") and show what it answers. The participant's form is parsed here
question by question (so every error shows next to its question, in her language); feedback
checks the answers again and is the judge. When feedback is down the pages say so (503) and
nothing is stored. Links are signed and checked by `services.intake.portal` and opened,
refused (403, 410) and served in her language by `services.intake.web.links`.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.intake import cycles
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.portal import LinkError, SurveyLink, read_survey_link
from services.intake.web.commands import ask
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import translator
from services.intake.web.links import Visit, link_refused, open_link, unavailable
from services.intake.web.render import page
from shared.commands import (
    CheckSurveyTemplate,
    CommandRejected,
    GetSurvey,
    GetSurveyTemplates,
    SaveSurveyTemplate,
    ServiceUnavailable,
    SubmitSurveyResponse,
)
from shared.events import Role, SurveyKind
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]
SUBMISSION_NAMESPACE = UUID("0b8e3c1e-5d8a-4f4e-9a51-7e2f4c9d1a36")
KINDS = ("baseline", "midway", "end", "follow_up")
ROLES = ("mentee", "mentor")
QUESTION_TYPES = ("likert", "single", "multiple", "text")
LIKERT = (1, 2, 3, 4, 5)
MAX_TEXT = 4000
BLANK_ROWS = 2


# --- the participant's survey ----------------------------------------------------------------


def question_language(lang: str) -> str:
    """Questions are written in Finnish and English; Swedish readers get the English."""
    return lang if lang in ("fi", "en") else "en"


def parse_answers(
    questions: list[dict[str, Any]], form: Any
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(answers, error codes by question key, values to show again) from the posted form."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for q in questions:
        key, kind, name = q["key"], q["type"], f"q_{q['key']}"
        options = [o["key"] for o in q.get("options", [])]
        if kind == "multiple":
            chosen = [str(v) for v in form.getlist(name)]
            values[key] = chosen
            if any(v not in options for v in chosen):
                errors[key] = "not_an_option"
            elif chosen:
                answers[key] = chosen
        else:
            raw = str(form.get(name) or "")
            values[key] = raw
            if kind == "text":
                if len(raw) > MAX_TEXT:
                    errors[key] = "too_long"
                elif raw.strip():
                    answers[key] = raw
            elif raw:
                if kind == "likert":
                    if raw not in {str(n) for n in LIKERT}:
                        errors[key] = "out_of_range"
                    else:
                        answers[key] = int(raw)
                elif raw not in options:
                    errors[key] = "not_an_option"
                else:
                    answers[key] = raw
        if q.get("required") and key not in answers and key not in errors:
            errors[key] = "required"
    return answers, errors, values


def submission_command_id(submission: str, invitation_id: UUID, answers: dict[str, Any]) -> UUID:
    """The same form sent twice is one command; corrected answers are a new command."""
    content = json.dumps(answers, sort_keys=True, ensure_ascii=False)
    return uuid.uuid5(SUBMISSION_NAMESPACE, f"{submission}|{invitation_id}|{content}")


async def _survey(request: Request, rt: Runtime, visit: Visit[SurveyLink]) -> Any:
    """Her survey (questions, state) from feedback, or the page saying why not."""
    try:
        return await ask(
            rt,
            request,
            visit.person.organisation_id,
            GetSurvey(invitation_id=visit.link.invitation_id, person_id=visit.link.person_id),
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, visit.lang)
    except CommandRejected:
        return link_refused(request, LinkError("unknown invitation"))


async def _render_survey(
    request: Request,
    rt: Runtime,
    visit: Visit[SurveyLink],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Response:
    survey = await _survey(request, rt, visit)
    if isinstance(survey, Response):
        return survey
    lang = visit.lang
    _ = translator(lang)
    return page(
        request,
        "surveys/survey.html",
        {
            "lang": lang,
            "_": _,
            "qlang": question_language(lang),
            "token": visit.token,
            "survey": survey,
            "likert": LIKERT,
            "values": values or {},
            "errors": {f"q_{k}": _(f"surveys.error.{v}") for k, v in (errors or {}).items()},
            "form_error": _(f"surveys.error.{form_error}") if form_error else None,
            "submission": uuid.uuid4().hex,
            "done": request.query_params.get("done") == "1",
            "lang_query": f"?lang={lang}" if request.query_params.get("lang") else "",
        },
        status=status,
    )


async def _respondent(
    request: Request, rt: Runtime, session: Any, token: str
) -> Visit[SurveyLink] | Response:
    """The visit of a genuine survey link of someone we (still) know, or the refusal."""
    return await open_link(request, rt, session, token, read_survey_link, "/survey")


@router.get("/survey/{token}", response_class=HTMLResponse)
async def survey_page(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    visit = await _respondent(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    return await _render_survey(request, rt, visit)


@router.post("/survey/{token}", response_class=HTMLResponse)
async def survey_answer(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    visit = await _respondent(request, rt, session, token)
    if isinstance(visit, Response):
        return visit
    survey = await _survey(request, rt, visit)
    if isinstance(survey, Response):
        return survey
    form = await request.form()
    answers, errors, values = parse_answers(survey["questions"], form)
    if errors:
        return await _render_survey(request, rt, visit, values=values, errors=errors, status=422)
    submission = str(form.get("submission") or "")[:64] or uuid.uuid4().hex
    link = visit.link
    try:
        await ask(
            rt,
            request,
            visit.person.organisation_id,
            SubmitSurveyResponse(
                invitation_id=link.invitation_id, person_id=link.person_id, answers=answers
            ),
            command_id=submission_command_id(submission, link.invitation_id, answers),
        )
    except ServiceUnavailable:
        return unavailable(request, visit.home, visit.lang)
    except CommandRejected as refused:
        field = refused.field or ""
        if field.startswith("answers."):
            errors = {field.removeprefix("answers."): refused.code}
            return await _render_survey(
                request, rt, visit, values=values, errors=errors, status=422
            )
        return await _render_survey(
            request, rt, visit, values=values, form_error=refused.code, status=422
        )
    return RedirectResponse(f"/survey/{token}?done=1&lang={visit.lang}", 303)


# --- the coordinator's templates -------------------------------------------------------------


async def _programme(session: Any, coordinator: Coordinator, programme_id: UUID) -> Any:
    found = await cycles.programme(
        session, organisation_id=coordinator.organisation_id, programme_id=programme_id
    )
    if found is None:
        raise HTTPException(status_code=404)
    return found


def _screen(programme_id: UUID) -> str:
    return f"/coordinator/programmes/{programme_id}/surveys"


async def _templates(
    request: Request, rt: Runtime, coordinator: Coordinator, programme_id: UUID
) -> Any:
    """The programme's survey templates from feedback, or the 503 page when it is down."""
    try:
        reply = await ask(
            rt, request, coordinator.organisation_id, GetSurveyTemplates(programme_id=programme_id)
        )
    except ServiceUnavailable:
        return unavailable(request, _screen(programme_id))
    return reply["templates"]


@router.get("/coordinator/programmes/{programme_id}/surveys", response_class=HTMLResponse)
async def templates_page(
    request: Request,
    programme_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    programme = await _programme(session, coordinator, programme_id)
    templates = await _templates(request, rt, coordinator, programme_id)
    if isinstance(templates, Response):
        return templates
    by = {(t["kind"], t["role"]): t for t in templates}
    return page(
        request,
        "surveys/templates.html",
        {
            "programme": programme,
            "kinds": KINDS,
            "roles": ROLES,
            "templates": by,
            "can_edit": coordinator.role in EDITOR_ROLES,
            "saved": request.query_params.get("saved"),
            "updated": request.query_params.get("updated"),
        },
    )


def template_rows(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edit form's rows for a question list, plus blank rows for new questions."""
    rows = []
    for i, q in enumerate(questions):
        rows.append(
            {
                "position": str(i + 1),
                "key": q["key"],
                "type": q["type"],
                "required": bool(q.get("required")),
                "label_fi": q["label"].get("fi", ""),
                "label_en": q["label"].get("en", ""),
                "options": "\n".join(
                    f"{o['key']} | {o['label'].get('fi', '')} | {o['label'].get('en', '')}"
                    for o in q.get("options", [])
                ),
                "remove": False,
            }
        )
    for i in range(BLANK_ROWS):
        n = len(questions) + i + 1
        rows.append(
            {
                "position": str(n),
                "key": "",
                "type": "likert",
                "required": False,
                "label_fi": "",
                "label_en": "",
                "options": "",
                "remove": False,
                "new": True,
            }
        )
    return rows


def parse_template_form(
    form: Any,
) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]], dict[tuple[int, str], str]]:
    """(questions, the row of each question, rows to show again, errors by (row, field)).

    A row without key and texts is left out (a blank row); a row ticked "remove" is left out.
    Options are one per line: `key | Finnish | English`.
    """
    rows: list[dict[str, Any]] = []
    count = min(int(str(form.get("rows") or "0") or 0), 60)
    for i in range(count):
        rows.append(
            {
                "position": str(form.get(f"q-{i}-position") or "").strip(),
                "key": str(form.get(f"q-{i}-key") or "").strip(),
                "type": str(form.get(f"q-{i}-type") or ""),
                "required": form.get(f"q-{i}-required") == "yes",
                "label_fi": str(form.get(f"q-{i}-label_fi") or "").strip(),
                "label_en": str(form.get(f"q-{i}-label_en") or "").strip(),
                "options": str(form.get(f"q-{i}-options") or "").strip(),
                "remove": form.get(f"q-{i}-remove") == "yes",
            }
        )
    errors: dict[tuple[int, str], str] = {}
    kept: list[tuple[float, int]] = []
    for i, row in enumerate(rows):
        if row["remove"] or not (row["key"] or row["label_fi"] or row["label_en"]):
            continue
        try:
            position = float(row["position"])
        except ValueError:
            position = float(i + 1)
        kept.append((position, i))
    kept.sort()
    questions: list[dict[str, Any]] = []
    origin: list[int] = []
    for _, i in kept:
        row = rows[i]
        question: dict[str, Any] = {
            "key": row["key"],
            "type": row["type"],
            "required": row["required"],
            "label": {"fi": row["label_fi"], "en": row["label_en"]},
        }
        if row["type"] in ("single", "multiple"):
            options = []
            for line in row["options"].splitlines():
                if not line.strip():
                    continue
                parts = [p.strip() for p in line.split("|")]
                if len(parts) != 3:
                    errors[(i, "options")] = "bad_options_line"
                    break
                options.append({"key": parts[0], "label": {"fi": parts[1], "en": parts[2]}})
            question["options"] = options
        questions.append(question)
        origin.append(i)
    return questions, origin, rows, errors


def _error_spot(field: str | None, origin: list[int]) -> tuple[int, str] | None:
    """`questions.3.label.en` -> (row of question 3, "label_en"); None for the whole form."""
    parts = (field or "").split(".")
    if len(parts) < 2 or parts[0] != "questions" or not parts[1].isdigit():
        return None
    index = int(parts[1])
    if index >= len(origin):
        return None
    rest = parts[2:]
    if not rest:
        name = "key"
    elif rest[0] == "label" and len(rest) > 1:
        name = f"label_{rest[1]}"
    elif rest[0] in ("key", "type", "required", "options"):
        name = rest[0]
    else:
        name = "key"
    return origin[index], name


def _edit_context(
    programme: Any,
    kind: str,
    role: str,
    rows: list[dict[str, Any]],
    errors: dict[tuple[int, str], str],
    version: int | None,
    form_error: str | None = None,
) -> dict[str, Any]:
    return {
        "programme": programme,
        "kind": kind,
        "role": role,
        "rows": rows,
        "row_errors": {f"{i}-{name}": code for (i, name), code in errors.items()},
        "types": QUESTION_TYPES,
        "version": version,
        "form_error": form_error,
    }


def _check_kind_role(kind: str, role: str) -> None:
    if kind not in KINDS or role not in ROLES:
        raise HTTPException(status_code=404)


@router.get(
    "/coordinator/programmes/{programme_id}/surveys/{kind}/{role}", response_class=HTMLResponse
)
async def edit_template(
    request: Request,
    programme_id: UUID,
    kind: str,
    role: str,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    _check_kind_role(kind, role)
    programme = await _programme(session, coordinator, programme_id)
    templates = await _templates(request, rt, coordinator, programme_id)
    if isinstance(templates, Response):
        return templates
    current = next(t for t in templates if t["kind"] == kind and t["role"] == role)
    rows = template_rows(current["questions"])
    context = _edit_context(programme, kind, role, rows, {}, current["version"])
    return page(request, "surveys/template_form.html", context)


@router.post(
    "/coordinator/programmes/{programme_id}/surveys/{kind}/{role}", response_class=HTMLResponse
)
async def save_template(
    request: Request,
    programme_id: UUID,
    kind: str,
    role: str,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    _check_kind_role(kind, role)
    programme = await _programme(session, coordinator, programme_id)
    form = await request.form()
    questions, origin, rows, errors = parse_template_form(form)
    version = int(str(form.get("version") or "0") or 0)
    if errors:
        context = _edit_context(programme, kind, role, rows, errors, version)
        return page(request, "surveys/template_form.html", context, status=422)
    try:
        checked = await ask(
            rt, request, coordinator.organisation_id, CheckSurveyTemplate(questions=questions)
        )
    except ServiceUnavailable:
        return unavailable(request, _screen(programme_id))
    if checked["problems"]:
        form_error: str | None = None
        for problem in checked["problems"]:
            spot = _error_spot(problem["field"], origin)
            if spot is None:
                form_error = form_error or problem["code"]
            else:
                errors.setdefault(spot, problem["code"])
        context = _edit_context(programme, kind, role, rows, errors, version, form_error)
        return page(request, "surveys/template_form.html", context, status=422)
    try:
        saved = await ask(
            rt,
            request,
            coordinator.organisation_id,
            SaveSurveyTemplate(
                programme_id=programme_id,
                kind=SurveyKind(kind),
                role=Role(role),
                questions=questions,
                updated_by=str(coordinator.id),
            ),
        )
    except ServiceUnavailable:
        return unavailable(request, _screen(programme_id))
    except CommandRejected as refused:
        spot = _error_spot(refused.field, origin)
        if spot is None:
            context = _edit_context(
                programme, kind, role, rows, {}, version, form_error=refused.code
            )
        else:
            context = _edit_context(programme, kind, role, rows, {spot: refused.code}, version)
        return page(request, "surveys/template_form.html", context, status=422)
    return RedirectResponse(
        f"{_screen(programme_id)}?saved={saved['version']}&updated={saved['surveys_updated']}",
        303,
    )
