"""Consent (issue 12, point 4) on real PostgreSQL and NATS: her portal lists each consent
with the version, date and the exact text she was shown; she withdraws a purpose after a
confirmation in her language. Background: her answers leave her encrypted details and the
sealed screening codes derived from them, and her coordinator sees "not given". Rollover:
her waitlisted application stays behind when the next cycle opens. Processing: she is
erased (reason consent_withdrawn). A second withdrawal, a purpose she never gave and an
unknown purpose are refused by name and change nothing."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

import httpx

from services.intake.portal import DEFAULT_VALIDITY, make_link
from shared.clock import SystemClock
from shared.crypto import vault_for
from shared.settings import DEV_SECRET_KEY
from tests.e2e.test_portal import form_pair
from tests.e2e.test_review import apply, post
from tests.helpers import add_coordinator, count, csrf_from, logged_in, open_cycle

VAULT = vault_for(DEV_SECRET_KEY)
PROCESSING_FI = "Annan suostumukseni hakemukseni tietojen käsittelyyn mentorointiohjelmassa."


def portal_link(person: UUID, pair: UUID, cycle: UUID) -> str:
    expires = SystemClock().now() + DEFAULT_VALIDITY
    return make_link(DEV_SECRET_KEY, person, pair, expires, cycle_id=cycle)


async def withdraw(client: httpx.AsyncClient, token: str, purpose: str, **form: str) -> Any:
    """Her confirmation page for `purpose`, then the form sent from it."""
    shown = await client.get(f"/portal/{token}/consents/{purpose}/withdraw")
    assert shown.status_code == 200, shown.text
    return await client.post(
        f"/portal/{token}/consents/{purpose}/withdraw",
        data={"csrf_token": csrf_from(shown.text), **form},
    )


async def consent_rows(db: Any, person: UUID) -> dict[str, Any]:
    rows = await db.fetch(
        "SELECT purpose, version, language, withdrawn_at FROM intake.consents WHERE person_id = $1",
        person,
    )
    return {r["purpose"]: r for r in rows}


async def her_details(db: Any, person: UUID) -> dict[str, Any]:
    row = await db.fetchrow("SELECT wrapped_key, details FROM intake.people WHERE id = $1", person)
    return VAULT.decrypt(row["wrapped_key"], person, row["details"])


async def sealed_codes(db: Any, person: UUID) -> list[list[str]]:
    """Her sealed screening codes: each application's, then each history step's."""
    key = await db.fetchval("SELECT wrapped_key FROM intake.people WHERE id = $1", person)
    blobs = [
        r["blob"]
        for r in await db.fetch(
            "SELECT a.sealed_reasons AS blob FROM intake.applications a WHERE a.person_id = $1"
            " UNION ALL SELECT t.sealed_reason_codes FROM intake.application_transitions t"
            " JOIN intake.applications a ON a.id = t.application_id"
            " WHERE a.person_id = $1 AND t.sealed_reason_codes IS NOT NULL",
            person,
        )
    ]
    return [VAULT.decrypt(key, person, blob)["codes"] for blob in blobs]


async def test_she_withdraws_background_then_processing_from_her_portal(stack, db, nc) -> None:
    pair = await form_pair(stack, db, nc)
    mentee = pair["mentee"]
    application = await db.fetchval(
        "SELECT id FROM intake.applications WHERE person_id = $1", mentee
    )
    # A screening code derived from her background, sealed under her key (as screening seals
    # `not_in_target_group_background`), on her application and one step of its history.
    key = await db.fetchval("SELECT wrapped_key FROM intake.people WHERE id = $1", mentee)
    sealed = VAULT.encrypt(key, mentee, {"codes": ["not_in_target_group_background"]})
    await db.execute(
        "UPDATE intake.applications SET sealed_reasons = $2 WHERE id = $1", application, sealed
    )
    await db.execute(
        "UPDATE intake.application_transitions SET sealed_reason_codes = $2"
        " WHERE application_id = $1 AND from_status = 'submitted'",
        application,
        sealed,
    )
    assert (await consent_rows(db, mentee))["background"]["version"] == "2026-12"
    assert (await her_details(db, mentee))["background"] == {
        "immigrant_background": True,
        "country_of_origin": "SY",
    }
    token = portal_link(mentee, pair["pair"], pair["cycle"])
    coordinator = await logged_in(pair["base"], pair["coordinator"])
    her_page = f"/coordinator/applications/{application}?lang=en"
    before = (await coordinator.get(her_page)).text
    assert 'id="background">yes' in before and PROCESSING_FI in before  # the text she saw

    async with httpx.AsyncClient(base_url=pair["base"], timeout=10) as client:
        portal = await client.get(f"/portal/{token}")
        assert portal.status_code == 200
        section = portal.text[portal.text.index('id="consents"') :]
        assert "Suostumuksesi" in section and "versio 2026-12" in section
        assert PROCESSING_FI in section and "ja lähtömaasta." in section
        assert section.count("Peru suostumus") == 3
        assert "[consent." not in portal.text

        confirm = await client.get(f"/portal/{token}/consents/background/withdraw")
        assert "Suostumuksen peruminen: Maahanmuuttajataustaa koskevat kysymykset" in confirm.text
        assert "Muu hakemuksesi säilyy ennallaan." in confirm.text
        unconfirmed = await withdraw(client, token, "background")
        assert unconfirmed.status_code == 422
        assert "Vahvista peruminen rastittamalla ruutu." in unconfirmed.text
        assert (await consent_rows(db, mentee))["background"]["withdrawn_at"] is None

        done = await withdraw(client, token, "background", confirm="yes")
        assert done.status_code == 303, done.text
        withdrawn_at = (await consent_rows(db, mentee))["background"]["withdrawn_at"]
        assert withdrawn_at is not None
        assert (await her_details(db, mentee))["background"] is None
        assert (await her_details(db, mentee))["given_name"] == "Amina"  # the rest stays
        assert await sealed_codes(db, mentee) == [[], []]
        assert (await consent_rows(db, mentee))["rollover"]["withdrawn_at"] is None
        after = await client.get(done.headers["location"])
        assert "Suostumus on peruttu: Maahanmuuttajataustaa koskevat kysymykset." in after.text
        assert after.text.count("Peru suostumus") == 2 and "peruttu " in after.text

        shown = (await coordinator.get(her_page)).text
        assert 'id="background">not given' in shown
        assert re.search(r'id="consent-background">.*withdrawn on \d', shown)

        # A second time, or a purpose that does not exist: refused by name, nothing changed.
        page = await client.get(f"/portal/{token}")
        for purpose, status, message in [
            ("background", 409, "Peruit tämän suostumuksen jo"),
            ("marketing", 404, "Suostumusta ”marketing” ei ole."),
        ]:
            for refused in (
                await client.get(f"/portal/{token}/consents/{purpose}/withdraw"),
                await client.post(
                    f"/portal/{token}/consents/{purpose}/withdraw",
                    data={"csrf_token": csrf_from(page.text), "confirm": "yes"},
                ),
            ):
                assert refused.status_code == status, refused.text
                assert message in refused.text
        assert (await consent_rows(db, mentee))["background"]["withdrawn_at"] == withdrawn_at

        confirm = await client.get(f"/portal/{token}/consents/processing/withdraw")
        assert "kaikki tietosi poistetaan kaikista palveluista" in confirm.text
        erased = await withdraw(client, token, "processing", confirm="yes")
        assert erased.status_code == 200, erased.text
        assert await count(db, "intake.people", "id = $1", mentee) == 0
        assert await count(db, "intake.consents", "person_id = $1", mentee) == 0
        assert await count(db, "intake.erasures", "reason = 'consent_withdrawn'") == 1
        assert (await client.get(f"/portal/{token}")).status_code == 410
    await coordinator.aclose()


async def test_a_withdrawn_rollover_stays_behind_when_the_next_cycle_opens(stack, db) -> None:
    stack.start("intake")
    org, cycle = await open_cycle(stack.database_url)
    amina = await apply(stack, cycle, contact={"given_name": "Amina"})
    beata = await apply(
        stack,
        cycle,
        contact={"given_name": "Beata"},
        consents={"background": False},
        background=None,
    )
    people = {
        r["id"]: r["person_id"]
        for r in await db.fetch("SELECT id, person_id FROM intake.applications")
    }
    client = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, org)
    )
    for application in (amina, beata):
        page = f"/coordinator/applications/{application}"
        assert (await post(client, page, f"{page}/status", {"to": "waitlisted"})).status_code == 303

    async with httpx.AsyncClient(base_url=stack["intake"].base_url, timeout=10) as her:
        token = portal_link(people[amina], uuid4(), cycle)  # she has no pair: waitlisted
        done = await withdraw(her, token, "rollover", confirm="yes")
        assert done.status_code == 303, done.text
        # Beata never gave the background consent: there is nothing to withdraw.
        beatas = portal_link(people[beata], uuid4(), cycle)
        never = await her.get(f"/portal/{beatas}/consents/background/withdraw?lang=en")
        assert never.status_code == 404
        assert "You have not given this consent" in never.text
    assert (await consent_rows(db, people[amina]))["rollover"]["withdrawn_at"] is not None
    assert (await consent_rows(db, people[beata]))["rollover"]["withdrawn_at"] is None

    programme = await db.fetchval("SELECT programme_id FROM intake.cycles WHERE id = $1", cycle)
    form = (await client.get(f"/coordinator/programmes/{programme}/cycles/new")).text
    dates = dict(
        re.findall(
            r'name="(applications_open|applications_close|starts_on|ends_on)"'
            r' required value="([\d-]+)"',
            form,
        )
    )
    await post(
        client,
        "/coordinator",
        f"/coordinator/programmes/{programme}/cycles",
        {"name": "Next", **dates},
    )
    next_cycle = await db.fetchval("SELECT id FROM intake.cycles WHERE name = 'Next'")
    await post(client, "/coordinator", f"/coordinator/cycles/{next_cycle}/advance", {"to": "open"})

    rolled = await db.fetch(
        "SELECT rolled_over_from FROM intake.applications WHERE cycle_id = $1", next_cycle
    )
    assert [r["rolled_over_from"] for r in rolled] == [beata]
    await client.aclose()
