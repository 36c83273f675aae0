"""Intake's public JSON API (`/api/v1`), documented in the OpenAPI schema at `/docs`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.intake import service
from services.intake.schemas import ApplicationCreate, ApplicationPublic
from shared.crypto import vault_for
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["applications"])

PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    409: {"description": "An application with the same e-mail, role and cycle already exists"},
    422: {"description": "Invalid input; `detail[].loc` names the field"},
}


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationPublic,
    responses=PROBLEM_RESPONSES,
    summary="Submit an application to an open cycle",
)
async def submit_application(
    body: ApplicationCreate, request: Request, rt: RuntimeDep, session: SessionDep
) -> ApplicationPublic | JSONResponse:
    try:
        async with session.begin():
            return await service.submit_application(
                session,
                request=body,
                outbox=rt.outbox,
                vault=vault_for(rt.settings.secret_key),
                secret_key=rt.settings.secret_key,
                clock=rt.clock,
                correlation_id=request.state.correlation_id,
            )
    except service.Problem as problem:
        return problem_response(problem)


def problem_response(problem: service.Problem) -> JSONResponse:
    """The same shape as FastAPI's own validation errors, so clients parse one format."""
    return JSONResponse(
        {
            "detail": [
                {"loc": ["body", *problem.field], "msg": problem.message, "type": problem.kind}
            ]
        },
        status_code=problem.status,
    )
