"""Commands: imperatives from intake to the service that owns the data, over NATS
request/reply (not stored in a stream).

- A command is a frozen contract naming its `target` service; its subject is
  `womento.cmd.<target>.<command>`; it travels in a small envelope with its id and the
  organisation and correlation ids.
- The target handles it in one transaction and records the command id with the reply
  in its inbox, so a retried command (same id, e.g. after a timeout) is answered from the
  record instead of being applied twice.
- A refusal (`CommandRejected`) comes back as an error reply naming the problem; a target
  that is down or slow is `ServiceUnavailable` for the caller after `timeout` seconds,
  never a hang.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol
from uuid import UUID, uuid4

import sqlalchemy as sa
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import natsauth
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import Contract, Event
from shared.observability import FORGED_COMMANDS, correlation
from shared.outbox import Outbox
from shared.subjects import command_subject

log = logging.getLogger(__name__)


class Command(Contract):
    target: ClassVar[str]
    remember_reply: ClassVar[bool] = True
    """False for a query whose reply holds decrypted personal data (e.g. interview notes):
    its reply is not kept in the inbox, and a retried query is answered afresh."""

    @classmethod
    def command_name(cls) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    @classmethod
    def subject(cls) -> str:
        return command_subject(cls.target, cls.command_name())


class CommandEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    type: str
    time: AwareDatetime
    organisationid: UUID
    correlationid: UUID
    data: dict[str, Any]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class Reply(BaseModel):
    ok: bool
    data: dict[str, Any] | None = None
    error: ErrorDetail | None = None


class CommandRejected(Exception):
    """The target refused the command; nothing changed. `field` names the bad input."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class ServiceUnavailable(Exception):
    """The target service did not answer (down, or slower than the timeout)."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} service is not answering")
        self.service = service


async def send(
    nc: NatsClient,
    command: Command,
    *,
    organisation_id: UUID,
    clock: Clock,
    wait_seconds: float,
    correlation_id: UUID | None = None,
    command_id: UUID | None = None,
) -> dict[str, Any]:
    """Send one command and wait for its reply; raises `CommandRejected` or `ServiceUnavailable`."""
    command_id = command_id or uuid4()
    envelope = CommandEnvelope(
        id=command_id,
        type=command.command_name(),
        time=clock.now(),
        organisationid=organisation_id,
        correlationid=correlation_id or command_id,
        data=command.model_dump(mode="json"),
    )
    try:
        msg = await nc.request(
            command.subject(), envelope.model_dump_json().encode(), timeout=wait_seconds
        )
    except (NoRespondersError, NatsTimeout, TimeoutError) as exc:
        raise ServiceUnavailable(command.target) from exc
    reply = Reply.model_validate_json(msg.data)
    if not reply.ok:
        error = reply.error or ErrorDetail(code="unknown", message="the command failed")
        raise CommandRejected(error.code, error.message, error.field)
    return reply.data or {}


class CommandContext(Protocol):
    """What a command handler may use besides its session: the service's outbox and clock."""

    outbox: Outbox
    clock: Clock


async def emit(
    session: AsyncSession, ctx: CommandContext, event: Event, caused_by: CommandEnvelope
) -> None:
    """Stage an event a command caused, in the command's transaction and correlation."""
    await ctx.outbox.add(
        session,
        Envelope.wrap(
            event,
            organisation_id=caused_by.organisationid,
            clock=ctx.clock,
            correlation_id=caused_by.correlationid,
        ),
    )


CommandHandler = Callable[
    [AsyncSession, Any, CommandEnvelope, CommandContext], Awaitable[dict[str, Any]]
]


@dataclass(frozen=True)
class CommandRoute:
    command: type[Command]
    handler: CommandHandler


class CommandResponder:
    """Answers one command type for the owning service, once per command id."""

    def __init__(
        self,
        *,
        service: str,
        route: CommandRoute,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        inbox_table: sa.Table,
        context: CommandContext,
    ) -> None:
        self.service, self.route = service, route
        self.consumer = f"cmd:{route.command.command_name()}"
        self._sessionmaker, self.inbox, self.context = sessionmaker, inbox_table, context

    def register(self, broker: NatsBroker) -> None:
        senders = natsauth.command_reply_prefixes()
        command = self.route.command.command_name()

        async def on_command(msg: NatsMessage) -> None:
            raw = msg.raw_message
            if not raw.reply.startswith(senders):
                # Not a request: a message the server delivered here (see
                # `natsauth.command_reply_prefixes`). Never handled, never answered.
                FORGED_COMMANDS.labels(self.service, command).inc()
                log.warning(
                    "forged command ignored",
                    extra={"command": command, "reply": raw.reply[:80]},
                )
                return
            await raw.respond((await self.handle(raw.data)).model_dump_json().encode())

        broker.subscriber(
            self.route.command.subject(),
            queue=f"{self.service}-commands",
            title=self.consumer,
            no_reply=True,
        )(on_command)

    async def handle(self, raw: bytes) -> Reply:
        try:
            envelope = CommandEnvelope.model_validate_json(raw)
            command = self.route.command.model_validate(envelope.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            return Reply(
                ok=False, error=ErrorDetail(code="invalid", message=first["msg"], field=field)
            )
        with correlation(envelope.correlationid, envelope.id):
            try:
                async with self._sessionmaker()() as session, session.begin():
                    remember = self.route.command.remember_reply
                    done = await self._previous(session, envelope.id) if remember else None
                    if done is not None:
                        return Reply(ok=True, data=done)
                    data = await self.route.handler(session, command, envelope, self.context)
                    if remember:
                        await session.execute(
                            self.inbox.insert().values(
                                consumer=self.consumer,
                                event_id=envelope.id,
                                event_type=envelope.type,
                                correlation_id=envelope.correlationid,
                                processed_at=self.context.clock.now(),
                                outcome=data,
                            )
                        )
            except CommandRejected as refused:
                log.info("command refused", extra={"code": refused.code, "field": refused.field})
                return Reply(
                    ok=False,
                    error=ErrorDetail(
                        code=refused.code, message=refused.message, field=refused.field
                    ),
                )
            except Exception:
                log.exception("command failed")
                return Reply(
                    ok=False, error=ErrorDetail(code="internal", message="the command failed")
                )
        log.info("command applied", extra={"command": envelope.type})
        return Reply(ok=True, data=data)

    async def _previous(self, session: AsyncSession, command_id: UUID) -> dict[str, Any] | None:
        outcome = await session.scalar(
            sa.select(self.inbox.c.outcome).where(
                self.inbox.c.consumer == self.consumer, self.inbox.c.event_id == command_id
            )
        )
        return dict(outcome) if outcome is not None else None


# --- personal data (shared/personal_data.py) ---------------------------------------------


class ExportPersonData(Command):
    """Everything the target holds on one person, for her export (Art. 15 and 20): each
    table's rows that name her, encrypted texts decrypted. Reply: `service`, `tables`.
    Not kept in the inbox (it holds her data); asking again is harmless."""

    remember_reply: ClassVar[bool] = False

    person_id: UUID


class ExportFromMatching(ExportPersonData):
    target: ClassVar[str] = "matching"


class ExportFromScheduling(ExportPersonData):
    target: ClassVar[str] = "scheduling"


class ExportFromFeedback(ExportPersonData):
    target: ClassVar[str] = "feedback"


EXPORTS: tuple[type[ExportPersonData], ...] = (
    ExportFromMatching,
    ExportFromScheduling,
    ExportFromFeedback,
)


# --- matching -------------------------------------------------------------------------

MatchMode = Literal["best_total_fit", "most_matched"]


class MatchingCommand(Command):
    target: ClassVar[str] = "matching"


class ProposeMatches(MatchingCommand):
    """Match the cycle's whole cohort now; replaces the cycle's earlier proposal."""

    cycle_id: UUID
    mode: MatchMode = "best_total_fit"
    weights: dict[str, float] | None = None


class SetPairConstraint(MatchingCommand):
    """Lock a pair (always made), exclude it (never made), or clear what was set."""

    cycle_id: UUID
    mentee_id: UUID
    mentor_id: UUID
    kind: Literal["locked", "excluded", "none"]


class ConfirmPairs(MatchingCommand):
    """Form the pairs of the cycle's current proposal: one `PairFormed` each."""

    cycle_id: UUID
    run_id: UUID


class EndPair(MatchingCommand):
    pair_id: UUID
    reason_code: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]


class SetMentorAvailability(MatchingCommand):
    """A mentor of the pool: how many mentees she takes per cycle, or resting for now."""

    mentor_id: UUID
    capacity: int = Field(ge=1, le=5)
    resting: bool = False


class GetMatching(MatchingCommand):
    """The cycle's latest proposal, constraints and formed pairs (a query)."""

    cycle_id: UUID


# --- scheduling -----------------------------------------------------------------------

from datetime import date  # noqa: E402

from shared.events import MeetingMode  # noqa: E402

TopicCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://\S+$", max_length=500)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
GroupMeetingKind = Literal["kick_off", "midway", "closing"]


class SchedulingCommand(Command):
    target: ClassVar[str] = "scheduling"


class RecordMeeting(SchedulingCommand):
    """A pair meeting held (from the participant portal, or a coordinator on her behalf).

    `minutes` is checked by the service (not the contract), so that a zero or negative
    length is refused with the service's own reason code on the field `minutes`.
    """

    pair_id: UUID
    held_on: date
    minutes: int
    mode: MeetingMode
    topic_codes: tuple[TopicCode, ...] = Field(default=(), max_length=20)
    logged_by: Literal["participant", "coordinator"]


class CreateGroupMeeting(SchedulingCommand):
    """One of the cycle's group meetings; its pairs' participants are invited."""

    cycle_id: UUID
    kind: GroupMeetingKind
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: Place | None = None
    online_url: HttpsUrl | None = None


class CreateTraining(SchedulingCommand):
    """A training of the organisation; the participants of its current pairs are invited."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: Place | None = None
    online_url: HttpsUrl | None = None
    capacity: int = Field(ge=1, le=10_000)


class UpdateScheduledEvent(SchedulingCommand):
    """Change an upcoming group meeting or training: the whole new time and place (and, for a
    training, title and capacity; ignored for a group meeting). Refused once it has ended;
    capacity not below the yes-answers. Unfired reminders are re-planned for the new time;
    a new time or place tells the invitees (`ScheduledEventChanged`, change "moved")."""

    event_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: Place | None = None
    online_url: HttpsUrl | None = None
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    capacity: int | None = Field(default=None, ge=1, le=10_000)


CancelReason = Literal[
    "organiser_unavailable", "too_few_participants", "venue_unavailable", "other"
]


class CancelScheduledEvent(SchedulingCommand):
    """Cancel an upcoming group meeting or training (kept, marked cancelled, for history):
    its unfired reminders are dropped and the invitees told (`ScheduledEventChanged`)."""

    event_id: UUID
    reason: CancelReason | None = None


class Rsvp(SchedulingCommand):
    """An invited person's answer to a group meeting or training."""

    event_id: UUID
    person_id: UUID
    answer: Literal["yes", "no"]


class RecordAttendance(SchedulingCommand):
    """Whether a person attended a group meeting or training (from the attendance sheet)."""

    event_id: UUID
    person_id: UUID
    attended: bool


class GetSchedule(SchedulingCommand):
    """The cycle's schedule (a query): pairs with planned months, meetings held and at-risk
    flags, group meetings, trainings and reminders; ids only (intake joins the names)."""

    cycle_id: UUID


class CalendarFeed(SchedulingCommand):
    """An iCalendar feed (a query) of one person's or one cycle's events: `{"ics": text}`.
    `pair_deadlines` adds to a person's feed her pair's monthly meeting deadlines not yet met
    (all-day events; the participant portal's feed asks for them)."""

    person_id: UUID | None = None
    cycle_id: UUID | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = "fi"
    pair_deadlines: bool = False


class ScheduleSummary(SchedulingCommand):
    """Counts per cycle (a query) for the coordinator's dashboard: current pairs, pairs at
    risk, pairs whose latest planned month passed without a meeting."""

    cycle_ids: tuple[UUID, ...] = Field(max_length=500)


class SmallGroupPair(Contract):
    """Non-personal codes of one pair, for balancing small groups."""

    pair_id: UUID
    isco_major: Annotated[str, StringConstraints(pattern=r"^\d$")]
    region: Annotated[str, StringConstraints(max_length=8)] | None = None


class FormSmallGroups(SchedulingCommand):
    """(Re)form the cycle's small groups (5-8 pairs) for group work, balanced by field (ISCO-08
    major group) and region; `pairs` gives those codes for the cycle's current pairs."""

    cycle_id: UUID
    pairs: tuple[SmallGroupPair, ...] = Field(max_length=2000)


# --- feedback ----------------------------------------------------------------------------


class FeedbackCommand(Command):
    target: ClassVar[str] = "feedback"


# --- feedback: outcomes and interviews (services/feedback/outcome_commands.py) -------------

from shared.events import Outcome  # noqa: E402

InterviewNotes = Annotated[str, StringConstraints(max_length=5000)]


class OverrideOutcome(FeedbackCommand):
    """A coordinator sets a mentee's outcome, with her reason (3-500 characters, checked by
    feedback: code `reason_required` / `reason_too_long` on the field `reason`). A later
    survey does not replace it; `ClearOutcomeOverride` does."""

    person_id: UUID
    cycle_id: UUID
    outcome: Outcome
    reason: Annotated[str, StringConstraints(max_length=2000)]
    coordinator_id: UUID


class ClearOutcomeOverride(FeedbackCommand):
    """Back to the outcome derived from her surveys (if any)."""

    person_id: UUID
    cycle_id: UUID
    coordinator_id: UUID


class ScheduleInterview(FeedbackCommand):
    """Move a planned interview to another day."""

    interview_id: UUID
    scheduled_on: date
    coordinator_id: UUID


class RecordInterview(FeedbackCommand):
    """An interview held, with the coordinator's private notes (kept encrypted under the
    mentee's key in feedback; never in an event)."""

    interview_id: UUID
    held_on: date
    notes: InterviewNotes = ""
    coordinator_id: UUID


class GetOutcomes(FeedbackCommand):
    """The cycle's mentees (a query): outcome, derivation, override and interviews with
    their decrypted notes. Not kept in the inbox (the reply holds private notes)."""

    remember_reply: ClassVar[bool] = False

    cycle_id: UUID


# --- feedback: surveys (services/feedback/surveys.py) ----------------------------------------

from shared.events import Role, SurveyKind  # noqa: E402

SurveyAnswer = int | str | list[str]


class GetSurveyTemplates(FeedbackCommand):
    """The programme's survey templates in force, per kind and role (a query, not kept)."""

    remember_reply: ClassVar[bool] = False

    programme_id: UUID


class SaveSurveyTemplate(FeedbackCommand):
    """A new version of the programme's template for one kind and role (checked by feedback:
    question types, keys, both languages, options). Surveys already opened keep their copy."""

    programme_id: UUID
    kind: SurveyKind
    role: Role
    questions: list[dict[str, Any]]
    updated_by: str = Field(min_length=1, max_length=100)


class CheckSurveyTemplate(FeedbackCommand):
    """Every problem of a question list, without saving (a query): `{"problems": [{field,
    code, message}]}`, so that a form can show them all at once."""

    remember_reply: ClassVar[bool] = False

    questions: list[dict[str, Any]]


class GetSurvey(FeedbackCommand):
    """One person's invitation: the survey's questions and whether it can be answered now
    (a query on every page view: not kept in the inbox)."""

    remember_reply: ClassVar[bool] = False

    invitation_id: UUID
    person_id: UUID


class SubmitSurveyResponse(FeedbackCommand):
    """Her answers `{question_key: 1-5 | option | [options] | text}`; `SurveyCompleted` once."""

    invitation_id: UUID
    person_id: UUID
    answers: dict[str, SurveyAnswer] = Field(max_length=100)


# --- feedback: reports (services/feedback/report_commands.py) --------------------------------


class ReportQuery(FeedbackCommand):
    """Which cycles a report covers: exactly one of `cycle_ids`, `year` (cycles starting that
    year) or `all_years` (checked by feedback: code `scope` on the field `cycle_ids`).
    Replies are not kept in the inbox (large, and asking again is harmless)."""

    remember_reply: ClassVar[bool] = False

    cycle_ids: list[UUID] | None = Field(default=None, max_length=200)
    year: int | None = Field(default=None, ge=2000, le=2100)
    all_years: bool = False
    language: Literal["fi", "en"] = "fi"


class GetReport(ReportQuery):
    """The figures (`report`), per year when across years, and the SVG charts."""


class ExportReport(ReportQuery):
    """The report as a file: `xlsx` or `pdf` for the funder (headed with `title`, e.g. the
    cycle's name), or `research` (pseudonymised CSV). Reply: `filename`, `content_type`,
    `content_base64`; refused `too_large` (field `format`) above the message size limit."""

    format: Literal["xlsx", "pdf", "research"]
    title: str = Field(default="", max_length=200)
