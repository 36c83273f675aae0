"""Building the MIME message: multipart/alternative (text, then HTML), UTF-8 throughout."""

from __future__ import annotations

from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from uuid import UUID

from services.intake.mail.render import MailRenderError, RenderedMail


def message_id(mail_id: UUID) -> str:
    """The Message-ID of a queued mail: the same on every attempt, so re-sends are recognisable."""
    return f"<{mail_id}@womento>"


def recipient_address(recipient: dict[str, Any]) -> Address:
    email = str(recipient.get("email") or "").strip()
    name = " ".join(
        str(recipient.get(part) or "").strip() for part in ("given_name", "family_name")
    ).strip()
    if any(c in email for c in "\r\n") or parseaddr(email)[1] != email:
        raise MailRenderError("the recipient has no usable e-mail address")
    try:
        address = Address(display_name=" ".join(name.split()), addr_spec=email)
    except (ValueError, IndexError, TypeError, HeaderParseError) as exc:
        raise MailRenderError("the recipient has no usable e-mail address") from exc
    if not address.username or not address.domain:
        raise MailRenderError("the recipient has no usable e-mail address")
    return address


def build_message(
    *,
    mail_id: UUID,
    sender: str,
    recipient: dict[str, Any],
    rendered: RenderedMail,
    lang: str,
    now: datetime,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient_address(recipient)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail_id)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = lang  # after set_content, which drops Content-* headers
    return message
