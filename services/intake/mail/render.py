"""Rendering an e-mail from its template, language, recipient and context; no I/O but files.

Templates are `templates/<template>.<lang>.txt` and `.html` (Jinja2; HTML autoescaped), each
extending `_layout.<ext>` (greeting, reply hint, signature, footer). The subject is the
catalogue text `mail.<template>.subject` (`web/locales/<lang>/mail.json`).

Context (stored in `intake.mail_queue.context`, so: ids, codes, dates, cycle and programme
names, never a person's name or address) per template:

- every template: `cycle_name` (required); optional `programme_name`, `role` ("mentee" or
  "mentor"), and any ids (`application_id`, `cycle_id`, ...) the caller wants on record.
- `application_received`: optional `applications_close` (ISO date).
- `decision_accepted`: optional `starts_on` (ISO date).
- `decision_waitlisted`: optional `rolls_over` (bool), `next_cycle_name`.
- `decision_ineligible`: optional `reason`, a screening code with a catalogue text
  `mail.ineligible.reason.<code>` (codes without one are left out of the message).

The recipient is the person's decrypted details (`given_name`, `family_name`, `email`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from services.intake.web.i18n import DEFAULT_LANGUAGE, FALLBACKS, LANGUAGES, catalogue, text

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATES = (
    "application_received",
    "decision_accepted",
    "decision_waitlisted",
    "decision_rejected",
    "decision_ineligible",
    "meeting_link",
    "event_reminder",
    "event_changed",
    "survey_invitation",
    "survey_reminder",
)
REQUIRED_CONTEXT = ("cycle_name",)
OPTIONAL_CONTEXT: dict[str, Any] = {
    "programme_name": None,
    "role": None,
    "applications_close": None,
    "starts_on": None,
    "rolls_over": False,
    "next_cycle_name": None,
    "reason": None,
    "link": None,
    "valid_until": None,
    "meeting_kind": None,
    "title": None,
    "day": None,
    "starts": None,
    "ends": None,
    "place": None,
    "online_url": None,
    "survey_kind": None,
    "closes_on": None,
}
MONTHS = {
    "en": (
        "January February March April May June July August September October November December"
    ).split(),
    "sv": (
        "januari februari mars april maj juni juli augusti september oktober november december"
    ).split(),
}


class MailRenderError(ValueError):
    """This mail cannot be rendered: unknown template, missing context or recipient data."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def mail_language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def format_date(value: date | str, lang: str) -> str:
    """A date as people write it: 1.9.2027, 1 September 2027, 1 september 2027."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if lang in MONTHS:
        return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"
    return f"{day.day}.{day.month}.{day.year}"


def has_text(key: str, lang: str) -> bool:
    return any(key in catalogue(candidate) for candidate in FALLBACKS[lang])


@jinja2.pass_context
def _date_filter(ctx: jinja2.runtime.Context, value: date | str) -> str:
    return format_date(value, ctx["lang"])


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date_filter
    return env


ENV = _environment()


def render_mail(
    template: str, lang: str, recipient: dict[str, Any], context: dict[str, Any]
) -> RenderedMail:
    """Subject, text and HTML of one mail in `lang` (fi if `lang` is not one we write)."""
    if template not in TEMPLATES:
        raise MailRenderError(f"unknown mail template {template!r}")
    missing = [key for key in REQUIRED_CONTEXT if context.get(key) in (None, "")]
    if missing:
        raise MailRenderError(f"{template}: context lacks {', '.join(missing)}")
    given_name = " ".join(str(recipient.get("given_name") or "").split())
    if not given_name:
        raise MailRenderError("the recipient has no given name")
    lang = mail_language(lang)
    values = OPTIONAL_CONTEXT | dict(context)
    subject_key = f"mail.{template}.subject"
    if not has_text(subject_key, lang):
        raise MailRenderError(f"no subject {subject_key} in the catalogue")
    try:
        subject = text(subject_key, lang, **{k: str(v) for k, v in values.items()})
        reason_key = f"mail.ineligible.reason.{values['reason']}"
        variables = values | {
            "lang": lang,
            "name": given_name,
            "recipient": recipient,
            "subject": subject,
            "reason_text": text(reason_key, lang) if has_text(reason_key, lang) else None,
            "_": lambda key, **kw: text(key, lang, **kw),
        }
        return RenderedMail(
            subject=" ".join(subject.split()),
            text=ENV.get_template(f"{template}.{lang}.txt").render(variables),
            html=ENV.get_template(f"{template}.{lang}.html").render(variables),
        )
    except (jinja2.TemplateError, KeyError, ValueError) as exc:
        raise MailRenderError(f"{template}.{lang}: {exc}") from exc
