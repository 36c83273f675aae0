"""Demo data for `make run`: one organisation, its programme, an open cycle, applicants,
and a completed past cycle (its applicants submitted and accepted at the time, on a clock
set back; feedback's `services.feedback.demo` adds that cycle's pairs, meetings, surveys,
outcomes and interviews as history imported from the programme's old spreadsheets).

The organisation has a demo partner system from the start (before any cycle opens, so its
feed has every demo event; a partner's feed starts when it is created), and
`--partner-file PATH` writes its credentials file there (mode 0600) for
`docs/examples/partner_subscriber.py`.

Everything goes through the service layer (and so through the outbox), exactly as real
submissions do. Running it again changes nothing: the demo organisation has a fixed id, the
demo partner a fixed name; the partner's file is issued again only when it is missing, its
credential is no longer active or the NATS address changed (the old credential is revoked).
All people are made up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import cycles, review, service
from services.intake import models as m
from services.intake.app import DEFINITION
from services.intake.auth import create_coordinator
from services.intake.domain import CycleDates, CycleStatus, Status, add_months
from services.intake.partners import store as partners
from services.intake.partners.cli import document_for, write_credentials_file
from services.intake.schemas import ApplicationCreate, ApplicationPublic
from shared.clock import Clock, FrozenClock, SystemClock
from shared.crypto import vault_for
from shared.db import make_engine, make_sessionmaker, migrate
from shared.outbox import Outbox
from shared.settings import Settings

DEMO_ORGANISATION = UUID("00000000-0000-4000-8000-000000000001")
DEMO_PROGRAMME = UUID("00000000-0000-4000-8000-000000000002")
DEMO_CYCLE = UUID("00000000-0000-4000-8000-000000000003")
DEMO_PAST_CYCLE = UUID("00000000-0000-4000-8000-000000000004")
"""Also known to `services.feedback.demo`, which adds the cycle's history in feedback."""
DEMO_RUNNING_CYCLE = UUID("00000000-0000-4000-8000-000000000005")
"""A cycle that started about two and a half months ago; `services.scheduling.demo` has
matching pair it and gives scheduling its first months (see docs/scheduling.md)."""
DEMO_ADMIN_EMAIL = "koordinaattori@example.org"
DEMO_ADMIN_PASSWORD = "womento-demo-2027"
"""Development only: `make run` prints these; a real installation creates its own admin."""
DEMO_PARTNER_NAME = "Employment services (demo partner)"

GIVEN = [
    "Amina",
    "Olena",
    "Farah",
    "Mei",
    "Lucía",
    "Priya",
    "Svetlana",
    "Nadia",
    "Zainab",
    "Ana",
    "Leyla",
    "Thi Hoa",
    "Fatima",
    "Irina",
    "Yasmin",
    "Chiara",
    "Aisha",
    "Mariam",
]
FAMILY = [
    "Hassan",
    "Kovalenko",
    "Rahimi",
    "Chen",
    "García",
    "Sharma",
    "Ivanova",
    "Haddad",
    "Okafor",
    "Silva",
    "Aliyeva",
    "Nguyen",
    "Abdi",
    "Petrova",
    "Karimi",
    "Rossi",
]
MENTOR_GIVEN = ["Anna", "Liisa", "Johanna", "Katja", "Sanna", "Minna", "Päivi", "Elina"]
MENTOR_FAMILY = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Laine", "Heikkinen", "Koskinen"]
FIELDS = [
    ("2142", "0732"),
    ("2211", "0912"),
    ("2512", "0613"),
    ("2411", "0411"),
    ("2263", "0915"),
    ("2341", "0113"),
    ("2144", "0715"),
    ("2631", "0311"),
]
REGIONS = ["01", "02", "04", "06", "11", "13", "17"]
LANGUAGES = ["ar", "ru", "uk", "es", "fa", "so", "zh", "vi", "en", "tr"]
TOPICS = [
    "cv_and_applications",
    "networking",
    "finnish_at_work",
    "interview_practice",
    "recognition_of_degree",
    "career_change",
]
ORIGINS = ["SY", "UA", "RU", "IQ", "IR", "SO", "VN", "CN", "IN", "ES", "BR", "NG", "EE", "TR"]
EMPLOYERS = ["Helsingin kaupunki", "Nokia", "HUS", "Kone", "Fortum", "Tampereen yliopisto"]


def _ascii(address: str) -> str:
    """The made-up address without accents (Lucía García: lucia.garcia...): the mail layer
    refuses addresses that are not ASCII, so such a demo address never reached the mailbox."""
    folded = unicodedata.normalize("NFKD", address).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "")


def demo_applications(
    cycle_id: UUID, mentees: int = 40, mentors: int = 45, *, seed: int = 2027, tag: str = ""
) -> list[ApplicationCreate]:
    rng = random.Random(seed)
    result = []
    for i in range(mentees + mentors):
        mentor = i >= mentees
        given = rng.choice(MENTOR_GIVEN if mentor else GIVEN)
        family = rng.choice(MENTOR_FAMILY if mentor else FAMILY)
        isco, isced = rng.choice(FIELDS)
        finnish = rng.choice(["native", "C2"] if mentor else ["A1", "A2", "B1", "B1", "B2", "C1"])
        languages = [{"language": "fi", "level": finnish}]
        languages.append(
            {"language": rng.choice(LANGUAGES), "level": rng.choice(["B2", "C1", "native"])}
        )
        result.append(
            ApplicationCreate.model_validate(
                {
                    "cycle_id": str(cycle_id),
                    "role": "mentor" if mentor else "mentee",
                    "contact": {
                        "given_name": given,
                        "family_name": family,
                        "email": _ascii(f"{given}.{family}.{tag}{i}@example.org"),
                        "language": rng.choice(["fi", "en"]),
                    },
                    "consents": {"processing": True, "background": not mentor, "rollover": True},
                    "birth_year": rng.randint(1965, 2000),
                    "identifies_as_woman": True,
                    "background": None
                    if mentor
                    else {"immigrant_background": True, "country_of_origin": rng.choice(ORIGINS)},
                    "profile": {
                        "isco_code": isco,
                        "education_level": rng.choice([6, 7, 7, 8]),
                        "education_field": isced,
                        "languages": languages,
                        "region": rng.choice(REGIONS),
                        "remote_ok": rng.random() < 0.7,
                        "topics": rng.sample(TOPICS, 2),
                        "capacity": rng.choice([1, 1, 2]) if mentor else 1,
                        "employer": rng.choice(EMPLOYERS) if mentor else None,
                    },
                }
            )
        )
    return result


async def seed(settings: Settings, clock: Clock) -> bool:
    """Create the demo organisation unless it exists; True when something was created."""
    await migrate(
        DEFINITION.migrations_dir,
        settings.database_url,
        DEFINITION.name,
        secret_key=settings.secret_key,
    )
    engine = make_engine(settings, pool_size=1)
    sessions = make_sessionmaker(engine)
    outbox = Outbox(service="intake", table=m.outbox)
    try:
        async with sessions() as session, session.begin():
            if await session.scalar(
                sa.select(m.organisations.c.id).where(m.organisations.c.id == DEMO_ORGANISATION)
            ):
                return False
            await service.create_organisation(
                session,
                name="Väestöliitto (demo)",
                slug="vaestoliitto-demo",
                clock=clock,
                organisation_id=DEMO_ORGANISATION,
            )
            await _create_demo_partner(session, settings, clock)
            await cycles.create_programme(
                session,
                organisation_id=DEMO_ORGANISATION,
                name="Womento career mentoring",
                programme_id=DEMO_PROGRAMME,
            )
            today = clock.now().date()
            close = today + timedelta(days=30)
            await cycles.create_cycle(
                session,
                organisation_id=DEMO_ORGANISATION,
                programme_id=DEMO_PROGRAMME,
                name="Demo cycle",
                dates=CycleDates(
                    applications_open=today - timedelta(days=14),
                    applications_close=close,
                    starts_on=close + timedelta(days=14),
                    ends_on=close + timedelta(days=14 + 240),
                ),
                cycle_id=DEMO_CYCLE,
            )
            await cycles.advance_cycle(
                session,
                organisation_id=DEMO_ORGANISATION,
                cycle_id=DEMO_CYCLE,
                to=CycleStatus.OPEN,
                outbox=outbox,
                clock=clock,
            )
            admin_id = await create_coordinator(
                session,
                organisation_id=DEMO_ORGANISATION,
                email=DEMO_ADMIN_EMAIL,
                display_name="Kaisa Koordinaattori",
                password=DEMO_ADMIN_PASSWORD,
                role="admin",
                language="fi",
                clock=clock,
            )
            demo = _Demo(session, outbox, settings, clock, admin_id)
            # completed: `services.feedback.demo` adds its pairs, meetings, surveys, outcomes
            await demo.history(
                cycle_id=DEMO_PAST_CYCLE,
                name="Past cycle",
                dates=past_cycle_dates(clock.now().date()),
                applications=demo_applications(
                    DEMO_PAST_CYCLE, mentees=46, mentors=42, seed=2025, tag="p"
                ),
                spread_days=25,
                then=(CycleStatus.MATCHING, CycleStatus.RUNNING, CycleStatus.COMPLETED),
                confirm=False,  # applied a year ago: like imported history, nobody is mailed
            )
            # running: its pairs are formed by matching when `services.scheduling.demo`
            # confirms the proposal
            await demo.history(
                cycle_id=DEMO_RUNNING_CYCLE,
                name="Running cycle",
                dates=running_cycle_dates(clock.now().date()),
                applications=demo_applications(
                    DEMO_RUNNING_CYCLE, mentees=16, mentors=18, seed=2026, tag="r"
                ),
                spread_days=40,
                then=(CycleStatus.MATCHING, CycleStatus.RUNNING),
            )
            submitted = await demo.submit(demo_applications(DEMO_CYCLE))
            # most eligible applicants are accepted already, so that matching has a cohort;
            # the rest wait in the review queue
            eligible = [a for a in submitted if a.status == Status.ELIGIBLE.value]
            await demo.accept([a for i, a in enumerate(eligible) if i % 6 != 5])
        return True
    finally:
        await engine.dispose()


async def _create_demo_partner(session: AsyncSession, settings: Settings, clock: Clock) -> UUID:
    partner_id, _ = await partners.create_partner(
        session,
        organisation_id=DEMO_ORGANISATION,
        name=DEMO_PARTNER_NAME,
        webhook_url="",
        vault=vault_for(settings.secret_key),
        require_https=False,
        allow_private=True,
        now=clock.now(),
        actor=None,
    )
    return partner_id


async def demo_partner_file(settings: Settings, clock: Clock, path: Path) -> bool:
    """The demo partner's credentials file at `path`; True when it was (re)issued.

    Kept when its credential is still active and its NATS address is the current one;
    otherwise a new credential is issued (the file's old one revoked) and written. A demo
    organisation seeded before demo partners existed gets its partner now (its feed starts
    now)."""
    now = clock.now()
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            found = [
                p
                for p in await partners.list_partners(session, DEMO_ORGANISATION)
                if p.name == DEMO_PARTNER_NAME
            ]
            partner_id = (
                found[0].id if found else await _create_demo_partner(session, settings, clock)
            )
            active = {
                c.id for c in (found[0].credentials if found else ()) if c.status(now) == "active"
            }
            old = _read_document(path)
            url = settings.partner_nats_url or settings.nats_url
            if old and UUID(old["user"]) in active and old.get("nats_url") == url:
                return False
            if old and UUID(old["user"]) in active:
                await partners.revoke_credential(
                    session,
                    organisation_id=DEMO_ORGANISATION,
                    credential_id=UUID(old["user"]),
                    now=now,
                    actor=None,
                )
            issued = await partners.issue_credential(
                session,
                organisation_id=DEMO_ORGANISATION,
                partner_id=partner_id,
                valid_days=settings.partner_credential_days,
                max_days=settings.partner_credential_days,
                now=now,
                actor=None,
            )
        write_credentials_file(path, document_for(issued, settings))  # once it is stored
        return True
    finally:
        await engine.dispose()


def _read_document(path: Path) -> dict[str, str] | None:
    try:
        document = json.loads(path.read_text())
        UUID(document["user"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return document if isinstance(document, dict) else None


def past_cycle_dates(today: date) -> CycleDates:
    """Eight months that ended on the last day of the month seven months ago, so that even
    its follow-up survey (six months after the end, open three weeks) has closed."""
    ends_on = add_months(today.replace(day=1), -7) - timedelta(days=1)
    starts_on = add_months(ends_on + timedelta(days=1), -8)
    return CycleDates(
        applications_open=add_months(starts_on, -2),
        applications_close=add_months(starts_on, -1) - timedelta(days=1),
        starts_on=starts_on,
        ends_on=ends_on,
    )


def running_cycle_dates(today: date) -> CycleDates:
    """Eight months that started 75 days ago; applications closed two weeks before."""
    starts_on = today - timedelta(days=75)
    return CycleDates(
        applications_open=starts_on - timedelta(days=60),
        applications_close=starts_on - timedelta(days=14),
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=240),
    )


@dataclass(frozen=True)
class _Demo:
    """The demo organisation's seeding: one session and outbox, its admin deciding."""

    session: AsyncSession
    outbox: Outbox
    settings: Settings
    clock: Clock
    admin_id: UUID

    async def submit(
        self,
        applications: list[ApplicationCreate],
        submitted_on: Callable[[int], date] | None = None,
        *,
        confirm: bool = True,
    ) -> list[ApplicationPublic]:
        """Submit the applications through the service layer; the i-th on the day
        `submitted_on(i)` at 10:00 UTC (a clock set back), else now. `confirm=False`: no
        "application received" e-mail (history, as if imported)."""
        vault = vault_for(self.settings.secret_key)
        submitted = []
        for i, application in enumerate(applications):
            clock = self.clock
            if submitted_on is not None:
                clock = FrozenClock(datetime.combine(submitted_on(i), time(10), tzinfo=UTC))
            submitted.append(
                await service.submit_application(
                    self.session,
                    request=application,
                    outbox=self.outbox,
                    vault=vault,
                    secret_key=self.settings.secret_key,
                    clock=clock,
                    confirm=confirm,
                )
            )
        return submitted

    async def accept(self, applications: list[ApplicationPublic]) -> None:
        """The admin accepts each application, now."""
        vault = vault_for(self.settings.secret_key)
        for application in applications:
            await review.decide(
                self.session,
                organisation_id=DEMO_ORGANISATION,
                application_id=application.application_id,
                to_status=Status.ACCEPTED,
                actor_id=self.admin_id,
                note=None,
                vault=vault,
                outbox=self.outbox,
                clock=self.clock,
            )

    async def advance(self, cycle_id: UUID, status: CycleStatus) -> None:
        await cycles.advance_cycle(
            self.session,
            organisation_id=DEMO_ORGANISATION,
            cycle_id=cycle_id,
            to=status,
            outbox=self.outbox,
            clock=self.clock,
        )

    async def history(
        self,
        *,
        cycle_id: UUID,
        name: str,
        dates: CycleDates,
        applications: list[ApplicationCreate],
        spread_days: int,
        then: tuple[CycleStatus, ...],
        confirm: bool = True,
    ) -> None:
        """A cycle of the past: applications dated in its window (the i-th on day
        `i % spread_days` of it, on a clock set back), the eligible accepted, the cycle
        advanced to screening and then to each status of `then`. Every other step uses the
        real clock: the other services take an event's time as "now", and a cycle whose
        surveys closed long ago must not have anyone invited to them. `confirm=False` seeds
        the applications like imported history: no "application received" e-mails (the
        acceptances here send none either: decision e-mails are the coordinator screen's)."""
        await cycles.create_cycle(
            self.session,
            organisation_id=DEMO_ORGANISATION,
            programme_id=DEMO_PROGRAMME,
            name=f"{name} {dates.starts_on:%m/%Y}-{dates.ends_on:%m/%Y}",
            dates=dates,
            cycle_id=cycle_id,
        )
        await self.advance(cycle_id, CycleStatus.OPEN)
        submitted = await self.submit(
            applications,
            lambda i: dates.applications_open + timedelta(days=i % spread_days),
            confirm=confirm,
        )
        await self.advance(cycle_id, CycleStatus.SCREENING)
        await self.accept([a for a in submitted if a.status == Status.ELIGIBLE.value])
        for status in then:
            await self.advance(cycle_id, status)


async def main(partner_file: Path | None) -> None:
    settings, clock = Settings(service="intake"), SystemClock()
    created = await seed(settings, clock)
    print("demo data created" if created else "demo data already present")
    print(f"  coordinator login: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
    if partner_file is not None:
        issued = await demo_partner_file(settings, clock, partner_file)
        state = "issued" if issued else "kept"
        print(f"  demo partner's credentials ({state}): {partner_file}")


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(prog="python -m services.intake.seed")
    arguments.add_argument(
        "--partner-file", type=Path, help="write the demo partner's credentials file here"
    )
    asyncio.run(main(arguments.parse_args().partner_file))
