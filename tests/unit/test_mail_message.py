"""The MIME message, the retry schedule and the dev mailbox's gate, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from types import SimpleNamespace
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.mail import (
    MAX_ATTEMPTS,
    MailRenderError,
    build_message,
    message_id,
    render_mail,
    retry_delay,
    router,
)
from services.intake.mail.message import recipient_address
from shared.settings import Environment, Settings

RECIPIENT = {"given_name": "Päivi", "family_name": "Mäkinen", "email": "paivi@example.fi"}
NOW = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)


def build(recipient=RECIPIENT, lang="fi"):
    mail_id = uuid4()
    rendered = render_mail("application_received", lang, recipient, {"cycle_name": "Kevät 2027"})
    message = build_message(
        mail_id=mail_id,
        sender="Womento <womento@example.org>",
        recipient=recipient,
        rendered=rendered,
        lang=lang,
        now=NOW,
    )
    return mail_id, rendered, message


def test_message_is_multipart_alternative_utf8_with_stable_message_id() -> None:
    mail_id, rendered, message = build()

    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content() == rendered.text
    assert parts[1].get_content() == rendered.html
    assert parsed["Message-ID"] == f"<{mail_id}@womento>" == message_id(mail_id)
    assert parsed["Subject"] == rendered.subject == "Kiitos hakemuksestasi \N{EN DASH} Kevät 2027"
    assert parsed["From"].addresses[0].addr_spec == "womento@example.org"
    assert parsed["To"].addresses[0].addr_spec == "paivi@example.fi"
    assert parsed["To"].addresses[0].display_name == "Päivi Mäkinen"
    assert parsed["Content-Language"] == "fi"
    assert parsed["Date"].datetime == NOW


def test_a_name_cannot_inject_headers() -> None:
    _, _, message = build(RECIPIENT | {"given_name": "Ann\r\nBcc: evil@example.org"})
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["paivi@example.fi"]
    assert b"\nBcc:" not in message.as_bytes()  # not in the body's greeting either


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@", "@example.org", "a@b.fi\nBcc: x@y.fi", "a b@c.fi"]
)
def test_an_unusable_address_is_refused(email: str) -> None:
    with pytest.raises(MailRenderError):
        recipient_address(RECIPIENT | {"email": email})


def test_retry_delay_starts_at_the_base_doubles_and_caps_at_an_hour() -> None:
    assert retry_delay(1, 30) == timedelta(seconds=30)
    assert retry_delay(2, 30) == timedelta(seconds=60)
    assert retry_delay(7, 30) == timedelta(seconds=1920)
    assert retry_delay(8, 30) == timedelta(hours=1)
    assert retry_delay(500, 30) == timedelta(hours=1)
    assert retry_delay(1, 1) == timedelta(seconds=1)
    assert MAX_ATTEMPTS == 8


def _app(env: Environment) -> FastAPI:
    def no_database():
        raise AssertionError("the gate must refuse before any database access")

    app = FastAPI()
    app.include_router(router)
    app.state.runtime = SimpleNamespace(
        settings=Settings.model_construct(env=env), sessionmaker=no_database
    )
    return app


def test_dev_mailbox_is_404_outside_development_and_test() -> None:
    client = TestClient(_app(Environment.PRODUCTION))
    assert client.get("/dev/mailbox").status_code == 404
    assert client.get(f"/dev/mailbox/{uuid4()}").status_code == 404


def test_dev_mailbox_gate_lets_development_through() -> None:
    client = TestClient(_app(Environment.DEVELOPMENT), raise_server_exceptions=True)
    with pytest.raises(AssertionError, match="before any database access"):
        client.get("/dev/mailbox")
