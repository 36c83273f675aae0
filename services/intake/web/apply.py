"""The public application form: one per open cycle and role, in Finnish, English, Swedish.

The form posts plain fields; they are mapped onto the same `ApplicationCreate` model the
JSON API validates, so both doors apply the same rules. Errors are shown next to each
field in the form's language, with a summary at the top that links to them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from services.intake import models as m
from services.intake import reference, service
from services.intake.schemas import ApplicationCreate
from services.intake.web import options
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import negotiate, translator
from services.intake.web.render import page
from shared.crypto import vault_for
from shared.events import Role
from shared.service import RuntimeDep, SessionDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)

HONEYPOT = "website"
SUBMISSIONS_PER_HOUR = 5
"""Per client address; a family or a course may share one, so not lower."""
OTHER_LANGUAGES = 3

# where a validation error's location points on the form
FIELD_OF = {
    ("contact", "given_name"): "given_name",
    ("contact", "family_name"): "family_name",
    ("contact", "email"): "email",
    ("contact", "phone"): "phone",
    ("profile", "isco_code"): "isco_code",
    ("profile", "education_level"): "education_level",
    ("profile", "education_field"): "education_field",
    ("profile", "education_country"): "education_country",
    ("profile", "languages"): "lang_fi",
    ("profile", "region"): "region",
    ("profile", "municipality"): "municipality",
    ("profile", "capacity"): "capacity",
    ("profile", "employer"): "employer",
    ("profile", "goals"): "goals",
    ("profile", "topics"): "topics",
    ("consents", "processing"): "consent_processing",
    ("birth_year",): "birth_year",
    ("identifies_as_woman",): "identifies_as_woman",
    ("background", "country_of_origin"): "country_of_origin",
    ("background", "immigrant_background"): "immigrant_background",
}


def _choice(form: FormData, name: str) -> bool | None:
    value = form.get(name)
    return {"yes": True, "no": False}.get(str(value)) if value else None


def form_to_payload(form: FormData, *, cycle_id: UUID, role: Role, lang: str) -> dict[str, Any]:
    """The posted fields as the JSON API's payload (empty fields left out)."""

    def text(name: str) -> str | None:
        value = form.get(name)
        return str(value).strip() or None if value is not None else None

    languages = []
    if level := text("lang_fi"):
        languages.append({"language": "fi", "level": level})
    if level := text("lang_en"):
        languages.append({"language": "en", "level": level})
    for i in range(1, OTHER_LANGUAGES + 1):
        code, level = text(f"other_lang_{i}"), text(f"other_level_{i}")
        if code and level:
            languages.append({"language": code, "level": level})
    background_consent = form.get("consent_background") == "yes"
    background = None
    if background_consent and _choice(form, "immigrant_background") is not None:
        background = {
            "immigrant_background": _choice(form, "immigrant_background"),
            "country_of_origin": text("country_of_origin"),
        }
    payload: dict[str, Any] = {
        "cycle_id": str(cycle_id),
        "role": role.value,
        "contact": {
            "given_name": text("given_name") or "",
            "family_name": text("family_name") or "",
            "email": text("email") or "",
            "phone": text("phone"),
            "language": lang,
        },
        "profile": {
            "isco_code": text("isco_code") or "",
            "education_level": text("education_level") or "",
            "education_field": text("education_field"),
            "education_country": text("education_country"),
            "languages": languages,
            "region": text("region"),
            "municipality": text("municipality"),
            "remote_ok": form.get("remote_ok") == "yes",
            "topics": form.getlist("topics"),
            "availability": form.getlist("availability"),
            "goals": text("goals"),
            "employer": text("employer") if role is Role.MENTOR else None,
            "capacity": text("capacity") or 1 if role is Role.MENTOR else 1,
        },
        "consents": {
            "processing": form.get("consent_processing") == "yes",
            "background": background_consent,
            "rollover": form.get("consent_rollover") == "yes",
        },
        "birth_year": text("birth_year"),
        "identifies_as_woman": _choice(form, "identifies_as_woman")
        if role is Role.MENTEE
        else None,
        "background": background,
    }
    return payload


def field_errors(error: ValidationError, lang: str) -> dict[str, str]:
    """Each invalid field's message in the form's language (first problem per field)."""
    _ = translator(lang)
    errors: dict[str, str] = {}
    for problem in error.errors():
        loc = tuple(str(part) for part in problem["loc"] if not isinstance(part, int))
        field = FIELD_OF.get(loc[:2]) or FIELD_OF.get(loc[:1])
        if field is None and problem["type"] == "value_error":
            message = str(problem.get("ctx", {}).get("error", ""))
            field = {
                "profile.capacity": "capacity",
                "profile.employer": "employer",
                "background": "immigrant_background",
            }.get(message.split(":")[0], "form")
        field = field or "form"
        if field in errors:
            continue
        kind = problem["type"]
        specific = f"apply.error.{field}"
        if kind == "missing" or problem.get("input") in ("", None):
            errors[field] = _("apply.error.required")
        elif _(specific) != f"[{specific}]":
            errors[field] = _(specific)
        else:
            errors[field] = _("apply.error.invalid")
    return errors


async def _open_cycle(session: SessionDep, cycle_id: UUID) -> Any:
    return (
        await session.execute(
            sa.select(m.cycles, m.organisations.c.name.label("organisation_name"))
            .join(m.organisations, m.organisations.c.id == m.cycles.c.organisation_id)
            .where(m.cycles.c.id == cycle_id)
        )
    ).one_or_none()


def _form_context(lang: str, cycle: Any, role: Role) -> dict[str, Any]:
    _ = translator(lang)
    return {
        "cycle": cycle,
        "role": role.value,
        "occupations": options.occupation_groups(lang),
        "cefr_choices": [(level, _(f"apply.cefr.{level}")) for level in options.CEFR_LEVELS],
        "education_level_choices": [
            (str(level), _(f"apply.education_level.{level}")) for level in options.EDUCATION_LEVELS
        ],
        "education_fields": reference.isced_fields(lang),
        "countries": reference.countries(lang),
        "languages": [(c, n) for c, n in reference.languages(lang) if c not in ("fi", "en")],
        "regions": reference.regions(lang),
        "municipalities": reference.municipalities(lang=lang),
        "topics": options.TOPICS,
        "availability": options.AVAILABILITY,
        "other_language_slots": range(1, OTHER_LANGUAGES + 1),
        "honeypot": HONEYPOT,
    }


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request, session: SessionDep, rt: RuntimeDep) -> Response:
    today = rt.clock.now().date()
    cycles = (
        await session.execute(
            sa.select(m.cycles, m.organisations.c.name.label("organisation_name"))
            .join(m.organisations, m.organisations.c.id == m.cycles.c.organisation_id)
            .where(
                m.cycles.c.status == "open",
                m.cycles.c.applications_open <= today,
                m.cycles.c.applications_close >= today,
            )
            .order_by(m.organisations.c.name, m.cycles.c.applications_close)
        )
    ).all()
    return page(request, "apply/landing.html", {"cycles": cycles})


@router.get("/apply/{cycle_id}/{role}", response_class=HTMLResponse)
async def application_form(
    request: Request, cycle_id: UUID, role: Role, session: SessionDep, rt: RuntimeDep
) -> Response:
    cycle = await _open_cycle(session, cycle_id)
    if cycle is None:
        return page(request, "apply/closed.html", {"cycle": None}, status=404)
    if not _taking_applications(cycle, rt):
        return page(request, "apply/closed.html", {"cycle": cycle}, status=410)
    lang = negotiate(request)
    context = _form_context(lang, cycle, role) | {"values": {}, "errors": {}}
    return page(request, "apply/form.html", context)


@router.post("/apply/{cycle_id}/{role}", response_class=HTMLResponse)
async def submit_form(
    request: Request, cycle_id: UUID, role: Role, session: SessionDep, rt: RuntimeDep
) -> Response:
    lang = negotiate(request)
    form = await request.form()
    cycle = await _open_cycle(session, cycle_id)
    if cycle is None:
        return page(request, "apply/closed.html", {"cycle": None}, status=404)
    if not _taking_applications(cycle, rt):
        return page(request, "apply/closed.html", {"cycle": cycle}, status=410)
    if form.get(HONEYPOT):
        return page(request, "apply/refused.html", {"reason": "apply.refused.spam"}, status=400)
    client = service.keyed_digest(rt.settings.secret_key, "client", _client_address(request))
    if await _too_many_recent(session, client, rt):
        response = page(request, "apply/refused.html", {"reason": "apply.refused.rate"}, status=429)
        response.headers["Retry-After"] = "3600"
        return response

    values = {
        key: form.getlist(key) if key in ("topics", "availability") else form.get(key)
        for key in form.keys()
    }
    errors: dict[str, str] = {}
    request_model = None
    if role is Role.MENTEE and not form.get("lang_fi"):
        errors["lang_fi"] = translator(lang)("apply.error.finnish_required")
    if role is Role.MENTEE and _choice(form, "identifies_as_woman") is None:
        errors["identifies_as_woman"] = translator(lang)("apply.error.identifies_as_woman")
    try:
        request_model = ApplicationCreate.model_validate(
            form_to_payload(form, cycle_id=cycle_id, role=role, lang=lang)
        )
    except ValidationError as error:
        errors = field_errors(error, lang) | errors
    if errors or request_model is None:
        context = _form_context(lang, cycle, role) | {"values": values, "errors": errors}
        return page(request, "apply/form.html", context, status=422)
    await session.rollback()  # end the read-only transaction the checks above began
    try:
        async with session.begin():
            await session.execute(
                m.submission_attempts.insert().values(client_digest=client, at=rt.clock.now())
            )
            await service.submit_application(
                session,
                request=request_model,
                outbox=rt.outbox,
                vault=vault_for(rt.settings.secret_key),
                secret_key=rt.settings.secret_key,
                clock=rt.clock,
                correlation_id=request.state.correlation_id,
            )
    except service.Problem as problem:
        key = {"duplicate": "apply.error.duplicate", "cycle_closed": "apply.closed.text"}.get(
            problem.kind, "apply.error.invalid"
        )
        field = "email" if problem.kind == "duplicate" else "form"
        context = _form_context(lang, cycle, role) | {
            "values": values,
            "errors": {field: translator(lang)(key)},
        }
        return page(request, "apply/form.html", context, status=problem.status)
    return RedirectResponse(f"/apply/thanks?lang={lang}", status_code=303)


@router.get("/apply/thanks", response_class=HTMLResponse)
async def thanks(request: Request) -> Response:
    return page(request, "apply/thanks.html")


@router.get("/reference/occupations", response_class=HTMLResponse)
async def occupation_options(request: Request, occupation_q: str = "") -> Response:
    """htmx: the occupation <select>'s options narrowed to what the applicant typed."""
    lang = negotiate(request)
    hits = options.occupation_hits(occupation_q, lang) if occupation_q.strip() else None
    return page(
        request,
        "apply/occupation_options.html",
        {"hits": hits, "occupations": options.occupation_groups(lang)},
    )


def _taking_applications(cycle: Any, rt: RuntimeDep) -> bool:
    today = rt.clock.now().date()
    return bool(
        cycle.status == "open" and cycle.applications_open <= today <= cycle.applications_close
    )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _too_many_recent(session: SessionDep, client: bytes, rt: RuntimeDep) -> bool:
    since = rt.clock.now() - timedelta(hours=1)
    recent = await session.scalar(
        sa.select(sa.func.count())
        .select_from(m.submission_attempts)
        .where(m.submission_attempts.c.client_digest == client, m.submission_attempts.c.at >= since)
    )
    return int(recent or 0) >= SUBMISSIONS_PER_HOUR
