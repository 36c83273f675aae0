"""Participant pages on personal links (`/portal/<token>`, `/survey/<token>`): one way to
open a link, to refuse it, to choose the page's language and to say that the service behind
the page is down.

A link is opened by checking its signature and expiry (`services.intake.portal`) and finding
whom it is for, then its generation against hers (`people.link_generation`): a link made
before her links were revoked (`revoke_links`) is refused. A forged link is refused with 403,
an expired or revoked one, or one for a person since erased, with 410, in Finnish, English
and Swedish side by side: we do not know who is asking. The page's language is the one chosen
(`?lang=`), else the person's own, else Finnish.

    visit = await open_link(request, rt, session, token, read_survey_link, "/survey")
    if isinstance(visit, Response):
        return visit  # the refusal
    ... visit.link.invitation_id, visit.person.organisation_id, visit.lang ...
    return unavailable(request, visit.home, visit.lang)  # when the service is down
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from services.intake import models as m
from services.intake.portal import ErasedLink, LinkError, RevokedLink, check_generation
from services.intake.web.i18n import LANGUAGES, text, translator
from services.intake.web.render import page
from shared.service import Runtime

log = logging.getLogger(__name__)


class SignedLink(Protocol):
    @property
    def person_id(self) -> UUID: ...

    @property
    def generation(self) -> int: ...


L = TypeVar("L", bound=SignedLink)


@dataclass(frozen=True)
class Visit(Generic[L]):
    """A genuine link opened: what it says, whom it is for (id, organisation_id, language)
    and the language of the page."""

    token: str
    link: L
    person: Any
    lang: str
    home: str
    """The participant's page of this link, e.g. `/portal/<token>`."""


def link_refused(request: Request, error: LinkError) -> Response:
    """403 (forged) or 410 (expired, revoked, erased), in Finnish, English and Swedish: we
    do not know who it is."""
    status = 410 if error.reason in ("expired", "revoked", "erased") else 403
    texts = [
        (
            lang,
            text(f"portal.invalid.{error.reason}.title", lang),
            text(f"portal.invalid.{error.reason}.text", lang),
        )
        for lang in LANGUAGES
    ]
    context = {"texts": texts, "lang": "fi", "_": translator("fi")}
    return page(request, "portal/invalid.html", context, status=status)


def unavailable(request: Request, back: str, lang: str | None = None) -> Response:
    """503: the service behind the page is down; nothing was changed. In the participant's
    language when given, else in the request's."""
    context: dict[str, Any] = {"back": back}
    if lang:
        context |= {"lang": lang, "_": translator(lang)}
    return page(request, "schedule/unavailable.html", context, status=503)


def page_language(request: Request, person: Any) -> str:
    """The language chosen on the page (`?lang=`), else the person's own, else Finnish."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return person.language if person.language in LANGUAGES else "fi"


async def open_link(
    request: Request,
    rt: Runtime,
    session: Any,
    token: str,
    read: Callable[[str, str, datetime], L],
    path: str,
) -> Visit[L] | Response:
    """The visit of a genuine link, or the page refusing it. `read` checks the token
    (`read_portal_link`, `read_survey_link`); `path` is the page's path without the token.
    A person whose personal data was erased (no row, or her key shredded) is unknown."""
    try:
        link = read(rt.settings.secret_key, token, rt.clock.now())
    except LinkError as error:
        return link_refused(request, error)
    people = m.people.c
    query = sa.select(
        people.id, people.organisation_id, people.language, people.link_generation
    ).where(people.id == link.person_id, people.wrapped_key.is_not(None))
    person = (await session.execute(query)).one_or_none()
    if person is None:  # signed by us, for someone erased (services/intake/erasure.py)
        return link_refused(request, ErasedLink("erased person"))
    try:
        check_generation(link.generation, person.link_generation)
    except RevokedLink as error:
        return link_refused(request, error)
    lang = page_language(request, person)
    return Visit(token=token, link=link, person=person, lang=lang, home=f"{path}/{token}")


async def revoke_links(
    session: Any, organisation_id: UUID, person_id: UUID, *, by: UUID | None = None
) -> int | None:
    """Refuse every personal link (portal and survey) made for her so far: her link
    generation goes up by one, in the caller's transaction. Her new generation, to sign her
    new links with; None if she is not in the organisation. Logged with ids only (`by`: the
    coordinator who asked)."""
    people = m.people.c
    generation: int | None = await session.scalar(
        m.people.update()
        .where(people.id == person_id, people.organisation_id == organisation_id)
        .values(link_generation=people.link_generation + 1)
        .returning(people.link_generation)
    )
    if generation is not None:
        log.info(
            "personal links revoked",
            extra={
                "person_id": str(person_id),
                "organisation_id": str(organisation_id),
                "coordinator_id": str(by) if by else None,
                "link_generation": generation,
            },
        )
    return generation
