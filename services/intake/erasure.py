"""Erasing a person (docs/privacy.md, "Erasure"): intake's part, the progress, the streams.

`erase_person` runs in the caller's transaction (a coordinator's request, her own from the
portal): everything intake holds on her goes — her details and key, applications, notes,
consents, transitions, queued mails (so none is sent), the outbox rows that name her — her
id in the access log gives way to the erasure's id (`access.store.anonymise_subject`), her
personal links stop opening (410: nobody they are for), and `PersonErased` is staged. Each
other service erases what it holds and answers with its `ErasureCompleted`
(`shared.erasure`); `on_erasure_completed` records it. When all four are done, `scrub`
deletes every stream message that names her or one of her applications (JetStream's
secure erase, which overwrites the message) and the erasure forgets her id: what is left
is the request (when, by whom, why, how far) and a keyed digest of her id, by which a
second request for her is answered "already erased".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.access import store as access_store
from services.intake.mail.tables import dev_mailbox, mail_queue
from shared import natsauth
from shared.bus import Subscription
from shared.clock import FrozenClock
from shared.envelope import Envelope
from shared.erasure import ErasedPeople, Erasure, payload_names, person_digest
from shared.events import COMPLETIONS, ErasureCompleted, PersonErased
from shared.outbox import Outbox
from shared.personal_data import ERASE_DELETE, Holding, Purpose, apply_erasure
from shared.service import Runtime, keep_running

log = logging.getLogger(__name__)

SERVICES = ("intake", *COMPLETIONS)
"""Where a person is erased: intake at once, the others on `PersonErased`."""

SCRUB_EVERY_SECONDS = 5.0


class Reason(StrEnum):
    """Why a person is erased: a code, never free text about her."""

    PERSON_REQUEST = "person_request"
    """She asked (by mail, phone, in person): Art. 17(1)(a)."""
    CONSENT_WITHDRAWN = "consent_withdrawn"
    NO_LONGER_NEEDED = "no_longer_needed"
    SELF_SERVICE = "self_service"
    """She erased herself in her portal."""
    RETENTION = "retention"
    """Her programme's retention period after her latest cycle ended (`retention`)."""


COORDINATOR_REASONS = (Reason.PERSON_REQUEST, Reason.CONSENT_WITHDRAWN, Reason.NO_LONGER_NEEDED)

erasures = sa.Table(
    "erasures",
    m.metadata,
    sa.Column("id", PgUUID(as_uuid=True), primary_key=True, comment="the erasure id in events"),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column(
        "person_digest", sa.LargeBinary, nullable=False, index=True, comment="keyed HMAC of her id"
    ),
    sa.Column("person_id", PgUUID(as_uuid=True), comment="until the streams are scrubbed"),
    sa.Column("subject_ids", JSONB, comment="her ids to scrub from streams; NULL once done"),
    sa.Column("requested_by", PgUUID(as_uuid=True), comment="the coordinator; NULL: she did"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("scrubbed_at", sa.DateTime(timezone=True)),
    sa.Column("scrubbed_messages", sa.Integer),
    comment="erasure requests and their progress; without her id once finished",
)

erasure_completions = sa.Table(
    "erasure_completions",
    m.metadata,
    sa.Column("erasure_id", sa.ForeignKey("erasures.id"), primary_key=True),
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
)


HOLDINGS = (
    Holding(mail_queue, ("person_id",), Purpose.PROGRAMME, ERASE_DELETE),
    Holding(m.consents, ("person_id",), Purpose.APPLICATION, ERASE_DELETE),
    Holding(m.applications, ("person_id",), Purpose.APPLICATION, ERASE_DELETE),
    Holding(m.people, ("id",), Purpose.APPLICATION, ERASE_DELETE),
)
"""What intake holds on a person by her id (shared/personal_data.py), in the order erasure
deletes it; her applications' notes and history, and the development mailbox's copies of
her mails, are reached through them and deleted first (`erase_person`)."""


class ErasureRefused(Exception):
    """`reason`: `unknown_person` (not in this organisation) or `already_erased`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Progress:
    erasure_id: UUID
    reason: str
    requested_by: UUID | None
    requested_at: datetime
    completed: dict[str, datetime]
    scrubbed_at: datetime | None

    @property
    def pending(self) -> list[str]:
        return [service for service in SERVICES if service not in self.completed]

    @property
    def done(self) -> bool:
        return not self.pending and self.scrubbed_at is not None


async def erase_person(
    session: AsyncSession,
    *,
    secret_key: str,
    organisation_id: UUID,
    person_id: UUID,
    reason: Reason,
    requested_by: UUID | None,
    now: datetime,
) -> UUID:
    """Erase her in intake and stage `PersonErased`, in the caller's transaction; the
    erasure id. `ErasureRefused` when she is not in the organisation or already erased."""
    people = m.people.c
    found = await session.scalar(
        sa.select(people.id)
        .where(people.id == person_id, people.organisation_id == organisation_id)
        .with_for_update()
    )
    digest = person_digest(secret_key, person_id)
    if found is None:
        earlier = await session.scalar(
            sa.select(erasures.c.id).where(
                erasures.c.person_digest == digest, erasures.c.organisation_id == organisation_id
            )
        )
        raise ErasureRefused("already_erased" if earlier else "unknown_person")
    apps = m.applications
    application_ids = list(
        (await session.scalars(sa.select(apps.c.id).where(apps.c.person_id == person_id))).all()
    )
    her_mails = sa.select(mail_queue.c.id).where(mail_queue.c.person_id == person_id)
    await session.execute(dev_mailbox.delete().where(dev_mailbox.c.mail_id.in_(her_mails)))
    await session.execute(mail_queue.delete().where(mail_queue.c.person_id == person_id))
    for table in (m.application_notes, m.application_transitions):
        await session.execute(table.delete().where(table.c.application_id.in_(application_ids)))
    erasure = Erasure(session, person_id, pseudonym=uuid4())
    await apply_erasure(session, HOLDINGS, person_id, erasure.pseudonym)
    outbox = m.outbox
    for subject in (person_id, *application_ids):  # intake's events about her: none goes out
        await session.execute(outbox.delete().where(payload_names(outbox, subject)))
    await erasure.scrub_json(m.inbox, "outcome")
    erased = ErasedPeople(m.erased_people, secret_key)
    for subject in (person_id, *application_ids):  # "already erased", not "not found"
        await erased.remember(session, subject, now)

    erasure_id = uuid4()
    await access_store.anonymise_subject(session, person_id, erasure_id)
    await session.execute(
        erasures.insert().values(
            id=erasure_id,
            organisation_id=organisation_id,
            person_digest=digest,
            person_id=person_id,
            subject_ids=[str(i) for i in (person_id, *application_ids)],
            requested_by=requested_by,
            reason=reason.value,
            requested_at=now,
        )
    )
    await session.execute(
        erasure_completions.insert().values(
            erasure_id=erasure_id, service="intake", completed_at=now
        )
    )
    await Outbox(service="intake", table=m.outbox).add(
        session,
        Envelope.wrap(
            PersonErased(erasure_id=erasure_id, person_id=person_id),
            organisation_id=organisation_id,
            clock=FrozenClock(now),
        ),
    )
    log.info(
        "person erased in intake",
        extra={
            "erasure_id": str(erasure_id),
            "reason": reason.value,
            "applications": len(application_ids),
        },
    )
    return erasure_id


async def on_erasure_completed(
    session: AsyncSession, event: ErasureCompleted, envelope: Envelope
) -> None:
    """A service has erased her: record it (once; an erasure of another organisation or
    unknown here is logged and ignored)."""
    known = await session.scalar(
        sa.select(erasures.c.id).where(
            erasures.c.id == event.erasure_id,
            erasures.c.organisation_id == envelope.organisationid,
        )
    )
    if known is None:
        log.warning("completion of an unknown erasure", extra={"erasure_id": str(event.erasure_id)})
        return
    await session.execute(
        insert(erasure_completions)
        .values(erasure_id=event.erasure_id, service=event.producer, completed_at=envelope.time)
        .on_conflict_do_nothing()
    )


async def application_erased(session: AsyncSession, secret_key: str, application_id: UUID) -> bool:
    """Whether `application_id` was an erased person's (intake keeps the keyed digests of
    her application ids with hers), so that her old page says so instead of "not found"."""
    return await ErasedPeople(m.erased_people, secret_key).any_erased(session, [application_id])


SUBSCRIPTIONS = [Subscription(event, on_erasure_completed) for event in COMPLETIONS.values()]


async def progress(
    session: AsyncSession, organisation_id: UUID, erasure_id: UUID | None = None
) -> list[Progress]:
    """The organisation's erasures, newest first (one when `erasure_id` is given)."""
    query = sa.select(erasures).where(erasures.c.organisation_id == organisation_id)
    if erasure_id is not None:
        query = query.where(erasures.c.id == erasure_id)
    rows = (await session.execute(query.order_by(erasures.c.requested_at.desc()))).all()
    done = (
        await session.execute(
            sa.select(erasure_completions).where(
                erasure_completions.c.erasure_id.in_([row.id for row in rows])
            )
        )
    ).all()
    completed: dict[UUID, dict[str, datetime]] = {}
    for row in done:
        completed.setdefault(row.erasure_id, {})[row.service] = row.completed_at
    return [
        Progress(
            erasure_id=row.id,
            reason=row.reason,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            completed=completed.get(row.id, {}),
            scrubbed_at=row.scrubbed_at,
        )
        for row in rows
    ]


# --- the streams ------------------------------------------------------------------------


async def scrub_streams(js: JetStreamContext, needles: list[str]) -> int:
    """Delete (securely: overwritten) every message of the platform's streams whose data
    names one of `needles`; how many were deleted."""
    wanted = [needle.encode() for needle in needles]
    deleted = 0
    for stream in natsauth.platform_streams():
        seq = 1
        while True:
            try:
                msg = await js.get_msg(stream, seq=seq, subject=">", next=True)
            except NotFoundError:
                break
            found = msg.seq or seq
            if msg.data and any(needle in msg.data for needle in wanted):
                await js.delete_msg(stream, found)
                deleted += 1
            seq = found + 1
    return deleted


async def scrub_finished(runtime: Runtime) -> int:
    """Scrub the streams for each erasure that every service has completed and forget her
    id; how many erasures were finished. Several intake copies: each erasure row is taken
    by one (`SKIP LOCKED`)."""
    finished = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            done = (
                sa.select(erasure_completions.c.erasure_id)
                .group_by(erasure_completions.c.erasure_id)
                .having(sa.func.count() >= len(SERVICES))
            )
            row = (
                await session.execute(
                    sa.select(erasures.c.id, erasures.c.subject_ids)
                    .where(erasures.c.scrubbed_at.is_(None), erasures.c.id.in_(done))
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return finished
            subjects = list(row.subject_ids or [])
            deleted = await scrub_streams(runtime.js(), subjects)
            # Her `PersonErased` itself, published by now: the outbox's copy goes too.
            outbox = m.outbox
            for subject in subjects:
                await session.execute(
                    outbox.delete().where(
                        outbox.c.published_at.is_not(None), payload_names(outbox, UUID(subject))
                    )
                )
            await session.execute(
                erasures.update()
                .where(erasures.c.id == row.id)
                .values(
                    scrubbed_at=runtime.clock.now(),
                    scrubbed_messages=deleted,
                    person_id=None,
                    subject_ids=None,
                )
            )
            log.info(
                "erasure finished: streams scrubbed",
                extra={"erasure_id": str(row.id), "messages": deleted},
            )
            finished += 1


async def scrub_worker(runtime: Runtime) -> None:
    """`ServiceDefinition.workers` entry: finish erasures as their completions come in."""

    async def loop() -> None:
        while True:
            await scrub_finished(runtime)
            await asyncio.sleep(SCRUB_EVERY_SECONDS)

    await keep_running("erasure scrub", loop)
