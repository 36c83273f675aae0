"""Surveys end to end on real intake and feedback processes, NATS and PostgreSQL, with the
clock moved forward (`FileClock`): a cycle opened and two mentees accepted through intake →
invitations e-mailed in each one's language on the morning the survey opens, with a personal
link → one answers through the portal (bad input refused first, nothing stored) → exactly one
`SurveyCompleted`, without her free text → one reminder a week later for the other only →
after closing, her answer is refused → feedback restarted between the mid-way survey's due
time and its firing still invites each once."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.clock import FileClock
from shared.envelope import Envelope
from shared.events import SurveyCompleted
from shared.subjects import stream_name
from tests.conftest import eventually
from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
GOOD = {
    "q_confidence_job_search": "2",
    "q_finnish_at_work": "3",
    "q_professional_network": "1",
    "q_employment_status": "still_seeking",
    "q_comments": "Toivon löytäväni työn laboratoriosta",
}


class Cycle:
    def __init__(self, stack: Any, db: Any, nc: Any, clock_file: Any) -> None:
        self.stack, self.db, self.nc, self.clock_file = stack, db, nc, clock_file
        self.env = {"WOMENTO_CLOCK_FILE": str(clock_file), "WOMENTO_FEEDBACK_TICK_SECONDS": "0.3"}

    def move_to(self, moment: datetime) -> None:
        FileClock.advance_file(self.clock_file, moment - FileClock(self.clock_file).now())

    async def mails(self, template: str, kind: str = "baseline") -> list[Any]:
        return await self.db.fetch(
            "SELECT q.person_id, q.language, q.context, q.status, m.text_body, m.subject"
            " FROM intake.mail_queue q LEFT JOIN intake.dev_mailbox m ON m.mail_id = q.id"
            " WHERE q.template = $1 AND q.context->>'survey_kind' = $2 ORDER BY q.created_at",
            template,
            kind,
        )

    async def sent(self, template: str, n: int, kind: str = "baseline") -> list[Any]:
        async def check() -> list[Any]:
            rows = await self.mails(template, kind)
            return rows if len(rows) == n and all(r["text_body"] for r in rows) else []

        return await eventually(check, timeout=30)

    async def caught_up(self) -> None:
        now = FileClock(self.clock_file).now()

        async def none_due() -> bool:
            due = "fired_at IS NULL AND due_at <= $1"
            return await count(self.db, "feedback.survey_jobs", due, now) == 0

        await eventually(none_due, timeout=20)

    async def completed(self) -> list[dict[str, Any]]:
        js = self.nc.jetstream()
        stream = stream_name("feedback")
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            envelope = Envelope.from_bytes((await js.get_msg(stream, seq)).data)
            if envelope.type == SurveyCompleted.type_name():
                found.append(envelope.data)
        return found


@pytest.fixture
def cycle(stack, db, nc, tmp_path) -> Cycle:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    c = Cycle(stack, db, nc, clock_file)
    stack.start("intake", "feedback", **c.env)
    return c


def token_of(mail: Any) -> str:
    """Her survey link's token, from the mail as sent (the queue holds it encrypted only)."""
    found = re.search(r"/survey/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", mail["text_body"] or "")
    assert found, mail["text_body"]
    return found.group(1)


def at_morning(day: date, hour: int = 9, minute: int = 5) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI)


async def accepted_mentees(
    stack: Any, db: Any, mentees: dict[str, str]
) -> tuple[UUID, UUID, dict[str, UUID]]:
    """(organisation, cycle, person id by language): an open cycle whose mentees (given name
    -> language) applied and were accepted through intake; feedback has planned their four
    invitations each."""
    base = stack["intake"].base_url
    org, cycle_id = await open_cycle(stack.database_url)
    for given_name, language in mentees.items():
        payload = application_payload(cycle_id)
        payload["contact"] |= {"given_name": given_name, "language": language}
        assert (await submit(base, payload)).status_code == 201
    client = await logged_in(base, await add_coordinator(stack.database_url, org))
    queue = f"/coordinator/cycles/{cycle_id}"
    ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM intake.applications")]
    token = csrf_from((await client.get(queue)).text)
    await client.post(f"{queue}/bulk-accept", data={"csrf_token": token, "application_id": ids})
    await client.aclose()

    async def planned() -> bool:
        return await count(db, "feedback.invitations") == 4 * len(mentees)

    await eventually(planned)
    rows = await db.fetch("SELECT id, language FROM intake.people")
    return org, cycle_id, {r["language"]: r["id"] for r in rows}


async def test_a_cycle_s_surveys_mailed_answered_reminded_and_closed(cycle: Cycle, db) -> None:
    stack = cycle.stack
    base = stack["intake"].base_url
    _, cycle_id, people = await accepted_mentees(stack, db, {"Amina": "fi", "Grace": "en"})
    starts_on, ends_on = await db.fetchrow(
        "SELECT starts_on, ends_on FROM intake.cycles WHERE id = $1", cycle_id
    )

    # The evening before the survey opens: nothing yet. The morning it opens: one mail each.
    cycle.move_to(at_morning(starts_on - timedelta(days=1), 20))
    await cycle.caught_up()
    assert await cycle.mails("survey_invitation") == []
    cycle.move_to(at_morning(starts_on))
    await cycle.caught_up()
    invitations = await cycle.sent("survey_invitation", 2)
    by_person = {r["person_id"]: r for r in invitations}
    fi_mail, en_mail = by_person[people["fi"]], by_person[people["en"]]
    assert fi_mail["language"] == "fi" and "Alkukysely" in fi_mail["text_body"]
    assert en_mail["language"] == "en" and "The starting survey" in en_mail["text_body"]
    assert "/survey/" in fi_mail["text_body"]

    async with httpx.AsyncClient(base_url=base, timeout=10) as web:
        url = f"/survey/{token_of(fi_mail)}"
        page = await web.get(url)
        assert page.status_code == 200
        assert "Kuinka luottavainen olet työnhaussasi?" in page.text
        english = await web.get(f"{url}?lang=en")
        assert "How confident do you feel in your job search?" in english.text
        swedish = await web.get(f"{url}?lang=sv")  # page texts in Swedish, questions in English
        assert '<html lang="sv">' in swedish.text
        assert 'lang="en">How confident do you feel in your job search?' in swedish.text
        csrf = csrf_from(page.text)

        # Out of range, a missing required answer, an unknown option: refused, nothing stored.
        bad = await web.post(
            url,
            data=GOOD
            | {"q_finnish_at_work": "7", "q_employment_status": "astronaut", "csrf_token": csrf}
            | {"q_professional_network": ""},
        )
        assert bad.status_code == 422
        assert "Valitse jokin vaihtoehdoista 1–5." in bad.text
        assert "Valitse annetuista vaihtoehdoista." in bad.text
        assert "Vastaa tähän kysymykseen." in bad.text
        # A forged link (her token with another signature) and another survey's token shape.
        forged = await web.post(url[:-3] + "abc", data=GOOD | {"csrf_token": csrf})
        assert forged.status_code == 403
        assert await count(db, "feedback.responses") == 0

        answered = await web.post(url, data=GOOD | {"csrf_token": csrf, "submission": "s1"})
        assert answered.status_code == 303, answered.text
        again = await web.post(url, data=GOOD | {"csrf_token": csrf, "submission": "s1"})
        assert again.status_code == 303  # the same form sent twice: one answer
        changed = await web.post(
            url, data=GOOD | {"csrf_token": csrf, "submission": "s2", "q_finnish_at_work": "5"}
        )
        assert changed.status_code == 422
        assert "Olet jo vastannut tähän kyselyyn" in changed.text
        thanks = await web.get(answered.headers["location"])
        assert "Kiitos! Vastauksesi on tallennettu." in thanks.text

    assert await count(db, "feedback.responses") == 1
    stored = await db.fetchrow("SELECT answers, person_id FROM feedback.responses")
    assert stored["person_id"] == people["fi"]
    assert "laboratorio" not in stored["answers"]
    completed = await eventually(cycle.completed)
    assert len(completed) == 1 and completed[0]["person_id"] == str(people["fi"])
    assert "laboratorio" not in str(completed)

    # A week later, one reminder: for Grace, who has not answered; never a second one.
    cycle.move_to(at_morning(starts_on + timedelta(days=7), 10))
    await cycle.caught_up()
    reminders = await cycle.sent("survey_reminder", 1)
    assert reminders[0]["person_id"] == people["en"]
    assert "We have not received your answers yet" in reminders[0]["text_body"]
    cycle.move_to(at_morning(starts_on + timedelta(days=19), 10))
    await cycle.caught_up()
    assert len(await cycle.mails("survey_reminder")) == 1

    # After the survey closes (21 days), Grace's answer is refused; nothing is stored.
    cycle.move_to(at_morning(starts_on + timedelta(days=22), 10))
    async with httpx.AsyncClient(base_url=base, timeout=10) as web:
        url = f"/survey/{token_of(en_mail)}"
        page = await web.get(url)
        assert page.status_code == 200 and "can no longer be answered" in page.text
        csrf = web.cookies["womento_csrf"]  # the closed page has no form: its cookie's token
        late = await web.post(url, data=GOOD | {"csrf_token": csrf})
        assert late.status_code == 422 and "can no longer be answered" in late.text
    assert await count(db, "feedback.responses") == 1

    # Feedback is down when the mid-way survey falls due: after the restart, one mail each.
    midway = starts_on + (ends_on - starts_on) // 2
    stack["feedback"].stop(20)
    cycle.move_to(at_morning(midway, 11))
    stack.start("feedback", **cycle.env)
    await cycle.caught_up()
    stack["feedback"].stop(20)
    stack.start("feedback", **cycle.env)
    await cycle.caught_up()
    mid = await cycle.sent("survey_invitation", 2, kind="midway")
    assert {r["person_id"] for r in mid} == {people["fi"], people["en"]}

    # Feedback down: the page says so (503) and nothing is stored.
    stack["feedback"].stop(20)
    async with httpx.AsyncClient(base_url=base, timeout=20) as web:
        url = f"/survey/{token_of(next(r for r in mid if r['person_id'] == people['en']))}"
        down = await web.get(url)
        assert down.status_code == 503
    assert await count(db, "feedback.responses") == 1


def form_fields(page: str) -> dict[str, Any]:
    """The edit form's current values, as a browser would send them."""
    fields: dict[str, Any] = {}
    for name, value in re.findall(
        r'<input type="(?:text|number|hidden)" [^>]*?name="([^"]+)" value="([^"]*)"', page
    ):
        fields[name] = html.unescape(value)
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        fields[name] = html.unescape(value)
    for name, value in re.findall(
        r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page
    ):
        fields[name] = html.unescape(value)
    for name, body in re.findall(
        r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        fields[name] = re.search(r'<option value="([^"]+)" selected>', body).group(1)
    for name in re.findall(
        r'<input type="checkbox" id="[^"]+" name="([^"]+)" value="yes" checked>', page
    ):
        fields[name] = "yes"
    return fields


async def test_coordinator_edits_a_template_and_unopened_surveys_take_it(cycle: Cycle, db) -> None:
    stack = cycle.stack
    base = stack["intake"].base_url
    org, cycle_id = await open_cycle(stack.database_url)
    programme = await db.fetchval("SELECT programme_id FROM intake.cycles WHERE id = $1", cycle_id)
    await eventually(lambda: count(db, "feedback.surveys", "cycle_id = $1", cycle_id))
    client = await logged_in(base, await add_coordinator(stack.database_url, org))
    screen = f"/coordinator/programmes/{programme}/surveys"
    try:
        assert screen in (await client.get("/coordinator")).text
        overview = await client.get(screen)
        assert overview.status_code == 200
        assert "Kuinka luottavainen olet työnhaussasi?" in overview.text
        assert "oletuskysymykset" in overview.text

        edit = await client.get(f"{screen}/midway/mentee")
        assert edit.status_code == 200
        fields = form_fields(edit.text)
        rows = int(fields["rows"])
        assert fields["q-0-key"] == "confidence_job_search" and fields["q-0-type"] == "likert"
        assert "employed_own_field | Työssä omalla alallani" in edit.text
        new = rows - 2  # the first blank row
        fields |= {
            f"q-{new}-key": "meetings_useful",
            f"q-{new}-type": "likert",
            f"q-{new}-label_fi": "Ovatko tapaamiset hyödyllisiä?",
            f"q-{new}-label_en": "",
            f"q-{new}-required": "yes",
        }
        # Two problems at once (no English text; a key used twice): both shown, each in place.
        twice = fields | {"q-1-key": "confidence_job_search"}
        two = await client.post(f"{screen}/midway/mentee", data=twice)
        assert two.status_code == 422
        assert 'id="q-1-key-error"' in two.text and f'id="q-{new}-label_en-error"' in two.text
        missing_en = await client.post(f"{screen}/midway/mentee", data=fields)
        assert missing_en.status_code == 422
        assert "Kirjoita teksti sekä suomeksi että englanniksi." in missing_en.text
        assert f'id="q-{new}-label_en-error"' in missing_en.text  # next to that very field
        fields[f"q-{new}-options"] = "yes no"
        fields[f"q-{new}-type"] = "single"
        fields[f"q-{new}-label_en"] = "Are the meetings useful?"
        bad_options = await client.post(f"{screen}/midway/mentee", data=fields)
        assert bad_options.status_code == 422
        assert f'id="q-{new}-options-error"' in bad_options.text
        assert await count(db, "feedback.survey_templates") == 0

        fields |= {f"q-{new}-type": "likert", f"q-{new}-options": ""}
        fields["q-6-remove"] = "yes"  # the free-text comments go
        saved = await client.post(f"{screen}/midway/mentee", data=fields)
        assert saved.status_code == 303, saved.text
        assert "saved=2" in saved.headers["location"] and "updated=1" in saved.headers["location"]
        shown = await client.get(saved.headers["location"])
        assert "Ovatko tapaamiset hyödyllisiä?" in shown.text and "ohjelman oma" in shown.text
    finally:
        await client.aclose()
    snapshot = await db.fetchrow(
        "SELECT template_version, questions FROM feedback.surveys"
        " WHERE cycle_id = $1 AND kind = 'midway' AND role = 'mentee'",
        cycle_id,
    )
    keys = [q["key"] for q in json.loads(snapshot["questions"])]
    assert snapshot["template_version"] == 2
    assert keys[-1] == "meetings_useful" and "comments" not in keys
