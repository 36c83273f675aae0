"""Intake's e-mail: a queue in PostgreSQL, a background sender, templates in fi/en/sv.

    from services.intake.mail import enqueue_mail

    async with session.begin():
        ...  # the state change
        await enqueue_mail(
            session,
            organisation_id=org_id,
            person_id=person_id,
            template="application_received",
            context={"application_id": str(app_id), "cycle_name": cycle.name},
            clock=clock,
        )

`enqueue_mail` writes through the caller's transaction (never commits) and wakes the
worker with `NOTIFY womento_mail`; `mail_worker` (registered in `services/intake/app.py`)
renders each mail in the person's language from their encrypted details and delivers it by
SMTP (`WOMENTO_MAIL_BACKEND=smtp`) or into the development mailbox (`/dev/mailbox`).
Templates and their context keys: `services/intake/mail/render.py`; delivery guarantees
and the tuning variables `WOMENTO_MAIL_RETRY_SECONDS` / `WOMENTO_MAIL_POLL_SECONDS`:
`services/intake/mail/worker.py`; the whole picture: `services/intake/mail/README.md`.
"""

from services.intake.mail.message import build_message, message_id
from services.intake.mail.queue import NOTIFY_CHANNEL, enqueue_mail
from services.intake.mail.render import (
    TEMPLATES,
    MailRenderError,
    RenderedMail,
    format_date,
    render_mail,
)
from services.intake.mail.routes import router
from services.intake.mail.tables import dev_mailbox, mail_queue
from services.intake.mail.worker import MAX_ATTEMPTS, MailWorker, mail_worker, retry_delay

__all__ = [
    "MAX_ATTEMPTS",
    "NOTIFY_CHANNEL",
    "TEMPLATES",
    "MailRenderError",
    "MailWorker",
    "RenderedMail",
    "build_message",
    "dev_mailbox",
    "enqueue_mail",
    "format_date",
    "mail_queue",
    "mail_worker",
    "message_id",
    "render_mail",
    "retry_delay",
    "router",
]
