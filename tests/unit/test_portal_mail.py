"""The `meeting_link` e-mail renders in fi, en and sv with the link and its last day."""

from __future__ import annotations

import pytest

from services.intake.mail.render import ENV
from services.intake.web.i18n import text

CONTEXT = {
    "cycle_name": "Kevät 2030",
    "link": "https://womento.example.org/portal/abc.def",
    "valid_until": "2030-11-01",
}


@pytest.mark.parametrize(
    ("lang", "day"), [("fi", "1.11.2030"), ("en", "1 November 2030"), ("sv", "1 november 2030")]
)
@pytest.mark.parametrize("ext", ["txt", "html"])
def test_the_meeting_link_mail_has_greeting_link_and_last_day(
    lang: str, day: str, ext: str
) -> None:
    subject = text("mail.meeting_link.subject", lang, cycle_name=CONTEXT["cycle_name"])
    body = ENV.get_template(f"meeting_link.{lang}.{ext}").render(
        CONTEXT
        | {
            "lang": lang,
            "name": "Amina",
            "subject": subject,
            "_": lambda k, **kw: text(k, lang, **kw),
        }
    )
    assert "Amina" in body and CONTEXT["link"] in body and day in body
    assert "Kevät 2030" in subject
