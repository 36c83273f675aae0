"""The public application form, over HTTP against the real intake process."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import count, csrf_from, open_cycle

VALID = {
    "given_name": "Olena",
    "family_name": "Kovalenko",
    "email": "olena.kovalenko@example.org",
    "birth_year": "1987",
    "identifies_as_woman": "yes",
    "isco_code": "2142",
    "education_level": "7",
    "education_field": "073",
    "education_country": "UA",
    "lang_fi": "B1",
    "lang_en": "C1",
    "other_lang_1": "uk",
    "other_level_1": "native",
    "region": "01",
    "remote_ok": "yes",
    "topics": ["networking", "finnish_at_work"],
    "availability": ["weekday_evening"],
    "goals": "Haluan töihin rakennussuunnitteluun.",
    "consent_processing": "yes",
    "consent_background": "yes",
    "immigrant_background": "yes",
    "country_of_origin": "UA",
    "consent_rollover": "yes",
}


async def form_client(base: str, path: str) -> tuple[httpx.AsyncClient, str, str]:
    client = httpx.AsyncClient(base_url=base, timeout=10, follow_redirects=False)
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return client, page.text, csrf_from(page.text)


async def test_a_mentee_applies_in_finnish_and_is_screened(stack, db) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    path = f"/apply/{cycle_id}/mentee?lang=fi"
    client, html, token = await form_client(stack["intake"].base_url, path)
    assert '<html lang="fi">' in html and "Hakemus mentoroitavaksi" in html

    response = await client.post(path, data=VALID | {"csrf_token": token})

    assert response.status_code == 303 and response.headers["location"] == "/apply/thanks?lang=fi"
    thanks = await client.get(response.headers["location"])
    assert "Kiitos hakemuksestasi" in thanks.text
    row = await db.fetchrow("SELECT status, role, profile FROM intake.applications")
    assert (row["status"], row["role"]) == ("eligible", "mentee")
    purposes = {r["purpose"] for r in await db.fetch("SELECT purpose FROM intake.consents")}
    assert purposes == {"processing", "background", "rollover"}
    await client.aclose()


async def test_errors_are_named_next_to_the_field_in_the_form_language_and_nothing_is_stored(
    stack, db
) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    for lang, email_message, finnish_message in [
        ("fi", "Kirjoita sähköpostiosoite muodossa", "Mentoroitavilta edellytetään suomen"),
        ("en", "Write the e-mail address as", "Mentees need some Finnish"),
    ]:
        path = f"/apply/{cycle_id}/mentee?lang={lang}"
        client, _, token = await form_client(stack["intake"].base_url, path)
        bad = VALID | {"email": "not-an-address", "lang_fi": "", "csrf_token": token}

        response = await client.post(path, data=bad)

        assert response.status_code == 422
        html = response.text
        assert email_message in html and finnish_message in html
        assert 'id="email-error"' in html and 'aria-invalid="true"' in html
        assert 'value="Olena"' in html  # what was typed is kept
        await client.aclose()
    assert await count(db, "intake.applications") == 0
    assert await count(db, "intake.people") == 0
    assert await count(db, "intake.outbox", "event_type LIKE '%application%'") == 0


async def test_missing_consent_and_missing_csrf_are_refused(stack, db) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    path = f"/apply/{cycle_id}/mentee?lang=en"
    client, _, token = await form_client(stack["intake"].base_url, path)

    no_consent = VALID | {"consent_processing": "", "csrf_token": token}
    response = await client.post(path, data=no_consent)
    assert response.status_code == 422
    assert "We cannot handle the application without this consent." in response.text

    forged = await httpx.AsyncClient(base_url=stack["intake"].base_url).post(path, data=VALID)
    assert forged.status_code == 403
    assert await count(db, "intake.applications") == 0
    await client.aclose()


async def test_duplicate_honeypot_rate_limit_and_oversized_requests_store_nothing(
    stack, db
) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    path = f"/apply/{cycle_id}/mentee?lang=en"
    client, _, token = await form_client(stack["intake"].base_url, path)
    data = VALID | {"csrf_token": token}
    assert (await client.post(path, data=data)).status_code == 303

    duplicate = await client.post(path, data=data)
    assert duplicate.status_code == 409 and "already been sent" in duplicate.text

    spam = await client.post(
        path, data=data | {"website": "http://spam.example", "email": "x@y.fi"}
    )
    assert spam.status_code == 400 and "program filled it in" in spam.text

    huge = await client.post(path, data=data | {"goals": "x" * 2_000_000})
    assert huge.status_code == 413

    for i in range(4):
        ok = await client.post(path, data=data | {"email": f"other{i}@example.org"})
        assert ok.status_code == 303
    limited = await client.post(path, data=data | {"email": "sixth@example.org"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    assert await count(db, "intake.applications") == 5
    await client.aclose()


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
async def test_the_form_and_landing_page_speak_the_chosen_language(stack, lang) -> None:
    stack.start("intake")
    _, cycle_id = await open_cycle(stack.database_url)
    base = stack["intake"].base_url
    async with httpx.AsyncClient(base_url=base) as client:
        landing = await client.get(f"/?lang={lang}")
        form = await client.get(f"/apply/{cycle_id}/mentor")  # language kept by cookie
    assert f'<html lang="{lang}">' in landing.text and f'<html lang="{lang}">' in form.text
    expected = {
        "fi": "Hakemus mentoriksi",
        "en": "Application as a mentor",
        "sv": "Ansökan som mentor",
    }
    assert expected[lang] in form.text
    assert "[apply." not in form.text  # no missing texts


async def test_occupation_search_narrows_the_list(stack) -> None:
    stack.start("intake")
    async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
        nurse = await client.get(
            "/reference/occupations", params={"occupation_q": "sairaanhoitaja"}
        )
    assert nurse.status_code == 200
    assert nurse.text.count("<option") < 25
    assert 'value="2221"' in nurse.text


async def test_a_closed_or_unknown_cycle_takes_no_applications(stack) -> None:
    stack.start("intake")
    async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
        unknown = await client.get("/apply/00000000-0000-4000-8000-00000000dead/mentee")
    assert unknown.status_code == 404
