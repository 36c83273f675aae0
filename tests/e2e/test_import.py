"""Importing applications from CSV and XLSX files, over HTTP against the real intake process."""

from __future__ import annotations

import io
import re
from uuid import UUID

import httpx
from openpyxl import Workbook

from tests.helpers import (
    add_coordinator,
    application_payload,
    count,
    csrf_from,
    logged_in,
    open_cycle,
    submit,
)

HEADER = [
    "Etunimi",
    "Sukunimi",
    "Sähköposti",
    "Ammatti",
    "Tutkinto",
    "Suomen kielen taso",
    "Muut kielet",
    "Maakunta",
    "Suostumus",
    "Siirto seuraavaan ryhmään",
    "Nainen",
    "Syntymävuosi",
]
GOOD = [
    ["Olena", "Kovalenko", "olena.k@example.org", "2142", "maisteri", "B1", "ukraina äidinkieli",
     "Uusimaa", "kyllä", "kyllä", "kyllä", "1987"],
    ["Amina", "Hassan", "amina.h@example.org", "sairaanhoitaja", "kandidaatti", "A2",
     "arabia äidinkieli, englanti B2", "01", "x", "", "kyllä", "1990"],
    ["Mei", "Wang", "mei.w@example.org", "data analyst", "PhD", "B2", "kiina äidinkieli",
     "Pirkanmaa", "yes", "no", "yes", "1985"],
]  # fmt: skip
BAD = [
    # no consent to handling the application
    ["Fatima", "Ali", "fatima.a@example.org", "2221", "maisteri", "B1", "", "Uusimaa", "ei", "",
     "kyllä", "1989"],
    # a broken e-mail address and an occupation nobody knows
    ["Sara", "Nguyen", "sara(at)example", "xyzzy qwerty", "maisteri", "B1", "", "Uusimaa",
     "kyllä", "", "kyllä", "1991"],
]  # fmt: skip
RECEIVED = "event_type LIKE '%application_received%'"
CONFIRMATIONS = "template = 'application_received'"


def csv_bytes(rows: list[list[str]]) -> bytes:
    lines = [";".join(HEADER), *(";".join(r) for r in rows)]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])  # the header need not be on the first row
    sheet.append(HEADER)
    for values in rows:
        # numbers typed as numbers, as a spreadsheet keeps them
        sheet.append([int(v) if v.isdigit() and len(v) == 4 else v for v in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def selected_mapping(html: str) -> dict[str, str]:
    """The mapping form's choices as the page pre-filled them."""
    mapping = {}
    for name, body in re.findall(r'<select id="(map_\w+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="(\d*)" selected>', body)
        mapping[name] = chosen.group(1) if chosen else ""
    return mapping


async def upload(
    client: httpx.AsyncClient, cycle_id: UUID, filename: str, content: bytes, role: str = "mentee"
) -> httpx.Response:
    token = csrf_from((await client.get(f"/coordinator/cycles/{cycle_id}/import")).text)
    return await client.post(
        f"/coordinator/cycles/{cycle_id}/import",
        data={"role": role, "csrf_token": token},
        files={"file": (filename, content, "application/octet-stream")},
    )


async def dry_run(client: httpx.AsyncClient, batch_path: str) -> httpx.Response:
    """The mapping page as guessed, posted unchanged."""
    mapping_page = await client.get(f"{batch_path}/map")
    assert mapping_page.status_code == 200, mapping_page.text
    data = selected_mapping(mapping_page.text) | {
        "default_language": "fi",
        "csrf_token": csrf_from(mapping_page.text),
    }
    return await client.post(f"{batch_path}/dry-run", data=data)


async def run_import(
    client: httpx.AsyncClient, batch_path: str, dry_run_page: str
) -> httpx.Response:
    dry_run_id = re.search(r'name="dry_run" value="([0-9a-f]+)"', dry_run_page)
    assert dry_run_id, "no import button on the dry run page"
    return await client.post(
        f"{batch_path}/import",
        data={"dry_run": dry_run_id.group(1), "csrf_token": csrf_from(dry_run_page)},
    )


def bad_rows(html: str) -> dict[int, str]:
    """Row number -> the text of its row, for the rows the dry run refused."""
    return {
        int(n): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
        for n, body in re.findall(r'<tr id="row-(\d+)" data-status="bad">(.*?)</tr>', html, re.S)
    }


async def coordinator_client(stack, organisation_id: UUID, role: str = "coordinator"):  # type: ignore[no-untyped-def]
    email = await add_coordinator(stack.database_url, organisation_id, role=role)
    return await logged_in(stack["intake"].base_url, email)


async def test_csv_dry_run_lists_the_bad_rows_then_imports_the_valid_ones_once(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)

    form = await client.get(f"/coordinator/cycles/{cycle_id}/import?lang=en")
    assert form.status_code == 200
    assert 'type="file"' in form.text and 'accept=".csv,.xlsx' in form.text
    assert "at most 1 MB" in form.text and 'name="role"' in form.text

    uploaded = await upload(client, cycle_id, "applicants.csv", csv_bytes(GOOD + BAD))
    assert uploaded.status_code == 303, uploaded.text
    batch_path = uploaded.headers["location"].removesuffix("/map")
    assert re.fullmatch(r"/coordinator/imports/[0-9a-f-]{36}", batch_path)
    stored = await db.fetchrow("SELECT status, row_count, rows, columns FROM intake.import_batches")
    assert (stored["status"], stored["row_count"]) == ("uploaded", 5)
    assert b"olena.k@example.org" not in stored["rows"]  # encrypted at rest

    mapping_page = await client.get(f"{batch_path}/map")
    assert selected_mapping(mapping_page.text)["map_email"] == "2"  # "Sähköposti" guessed
    assert selected_mapping(mapping_page.text)["map_consent_rollover"] == "9"

    checked = await dry_run(client, batch_path)

    assert checked.status_code == 200, checked.text
    assert "3 of 5 rows are valid" in checked.text
    assert checked.text.count('data-status="valid"') == 3
    bad = bad_rows(checked.text)
    assert set(bad) == {5, 6}
    assert "No consent to handling the application." in bad[5]
    assert "is not a valid e-mail address" in bad[6] and "No occupation was found" in bad[6]
    assert "Nursing professionals (2221)" in checked.text  # the guess is shown
    assert "guessed from \u201csairaanhoitaja\u201d" in checked.text
    assert await count(db, "intake.applications") == 0
    assert await count(db, "intake.people") == 0
    assert await count(db, "intake.outbox", RECEIVED) == 0
    assert await db.fetchval("SELECT status FROM intake.import_batches") == "checked"

    imported = await run_import(client, batch_path, checked.text)

    assert imported.status_code == 303, imported.text
    assert imported.headers["location"] == (
        f"/coordinator/cycles/{cycle_id}?done=import&imported=3"
    )
    assert await count(db, "intake.applications", "cycle_id = $1", cycle_id) == 3
    assert await count(db, "intake.outbox", RECEIVED) == 3
    assert await count(db, "intake.mail_queue", CONFIRMATIONS) == 3
    assert await count(db, "intake.consents", "purpose = 'rollover'") == 1
    statuses = {r["status"] for r in await db.fetch("SELECT status FROM intake.applications")}
    assert statuses <= {"eligible", "ineligible"}  # screened as if sent through the form
    batch = await db.fetchrow("SELECT status, imported_count, rows FROM intake.import_batches")
    assert (batch["status"], batch["imported_count"], batch["rows"]) == ("imported", 3, None)

    again = await run_import(client, batch_path, checked.text)
    assert again.status_code == 409 and "already been imported" in again.text
    assert (await client.get(f"{batch_path}/map")).status_code == 409
    assert await count(db, "intake.applications") == 3
    await client.aclose()


async def test_xlsx_upload_works_the_same_way_in_finnish(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)
    client.cookies.set("womento_lang", "fi")

    uploaded = await upload(client, cycle_id, "Hakijat.XLSX", xlsx_bytes(GOOD + BAD))
    assert uploaded.status_code == 303, uploaded.text
    batch_path = uploaded.headers["location"].removesuffix("/map")

    checked = await dry_run(client, batch_path)

    assert "3/5 riviä on kelvollisia" in checked.text
    bad = bad_rows(checked.text)
    assert set(bad) == {6, 7}  # the header is on the sheet's second row
    assert "Suostumus hakemuksen käsittelyyn puuttuu." in bad[6]
    assert "ei ole kelvollinen sähköpostiosoite" in bad[7]
    assert await count(db, "intake.applications") == 0

    imported = await run_import(client, batch_path, checked.text)

    assert imported.status_code == 303
    assert await count(db, "intake.applications", "cycle_id = $1", cycle_id) == 3
    assert await count(db, "intake.outbox", RECEIVED) == 3
    assert await count(db, "intake.mail_queue", CONFIRMATIONS) == 3
    await client.aclose()


async def test_a_row_that_became_a_duplicate_after_the_dry_run_rolls_back_everything(
    stack, db
) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)
    client.cookies.set("womento_lang", "en")
    uploaded = await upload(client, cycle_id, "applicants.csv", csv_bytes(GOOD))
    batch_path = uploaded.headers["location"].removesuffix("/map")
    checked = await dry_run(client, batch_path)
    assert "3 of 3 rows are valid" in checked.text

    # meanwhile the third applicant applies through the public API
    meanwhile = application_payload(cycle_id)
    meanwhile["contact"] = meanwhile["contact"] | {"email": "Mei.W@example.org"}
    assert (await submit(stack["intake"].base_url, meanwhile)).status_code == 201

    refused = await run_import(client, batch_path, checked.text)

    assert refused.status_code == 409
    assert "Nothing was imported: row 4 could not be imported." in refused.text
    assert "already in this cycle" in refused.text
    assert await count(db, "intake.applications") == 1  # only the one sent meanwhile
    assert await count(db, "intake.people") == 1
    assert await count(db, "intake.outbox", RECEIVED) == 1
    assert await count(db, "intake.mail_queue", CONFIRMATIONS) == 1
    assert await db.fetchval("SELECT status FROM intake.import_batches") == "checked"
    # the page is the dry run again: the duplicate is now a bad row, the others importable
    assert set(bad_rows(refused.text)) == {4}
    assert "2 of 3 rows are valid" in refused.text

    retried = await run_import(client, batch_path, refused.text)

    assert retried.status_code == 303
    assert retried.headers["location"].endswith("imported=2")
    assert await count(db, "intake.applications") == 3
    await client.aclose()


async def test_the_import_form_of_an_old_dry_run_is_refused(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)
    client.cookies.set("womento_lang", "en")
    uploaded = await upload(client, cycle_id, "applicants.csv", csv_bytes(GOOD))
    batch_path = uploaded.headers["location"].removesuffix("/map")
    first = await dry_run(client, batch_path)
    await dry_run(client, batch_path)  # e.g. in another tab, with other choices

    stale = await run_import(client, batch_path, first.text)

    assert stale.status_code == 409 and "out of date" in stale.text
    assert await count(db, "intake.applications") == 0
    await client.aclose()


async def test_files_that_cannot_be_imported_get_a_clear_message(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)
    client.cookies.set("womento_lang", "en")

    for filename, content, status, message in [
        ("empty.csv", b"", 422, "The file is empty."),
        ("headers.csv", ";".join(HEADER).encode(), 422, "no rows of applications"),
        ("notes.txt", b"a,b\n1,2\n", 422, "Only CSV (.csv) and Excel (.xlsx) files"),
        ("fake.xlsx", b"a,b\n1,2\n", 422, "could not be read"),
    ]:
        response = await upload(client, cycle_id, filename, content)
        assert response.status_code == status, filename
        assert message in response.text, filename

    too_large = await upload(client, cycle_id, "huge.csv", b"a;b\n" + b"x;y\n" * 300_000)
    assert too_large.status_code == 413
    assert await count(db, "intake.import_batches") == 0
    await client.aclose()


async def test_a_viewer_may_not_import(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    coordinator = await coordinator_client(stack, organisation_id)
    uploaded = await upload(coordinator, cycle_id, "applicants.csv", csv_bytes(GOOD))
    batch_path = uploaded.headers["location"].removesuffix("/map")
    viewer = await coordinator_client(stack, organisation_id, role="viewer")
    token = viewer.cookies["womento_csrf"]

    assert (await viewer.get(f"/coordinator/cycles/{cycle_id}/import")).status_code == 403
    posted = await viewer.post(
        f"/coordinator/cycles/{cycle_id}/import",
        data={"role": "mentee", "csrf_token": token},
        files={"file": ("a.csv", csv_bytes(GOOD), "text/csv")},
    )
    assert posted.status_code == 403
    assert (await viewer.get(f"{batch_path}/map")).status_code == 403
    for step in ("dry-run", "import"):
        response = await viewer.post(f"{batch_path}/{step}", data={"csrf_token": token})
        assert response.status_code == 403, step
    assert await count(db, "intake.import_batches") == 1
    assert await count(db, "intake.applications") == 0
    await coordinator.aclose()
    await viewer.aclose()


async def test_another_organisation_sees_neither_the_cycle_nor_the_batch(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    other_organisation, _ = await open_cycle(stack.database_url)
    owner = await coordinator_client(stack, organisation_id)
    uploaded = await upload(owner, cycle_id, "applicants.csv", csv_bytes(GOOD))
    batch_path = uploaded.headers["location"].removesuffix("/map")
    checked = await dry_run(owner, batch_path)
    stranger = await coordinator_client(stack, other_organisation)
    token = stranger.cookies["womento_csrf"]

    assert (await stranger.get(f"/coordinator/cycles/{cycle_id}/import")).status_code == 404
    posted = await stranger.post(
        f"/coordinator/cycles/{cycle_id}/import",
        data={"role": "mentee", "csrf_token": token},
        files={"file": ("a.csv", csv_bytes(GOOD), "text/csv")},
    )
    assert posted.status_code == 404
    assert (await stranger.get(f"{batch_path}/map")).status_code == 404
    dry_run_id = re.search(r'name="dry_run" value="([0-9a-f]+)"', checked.text)
    assert dry_run_id
    for step, data in [
        ("dry-run", {"map_email": "2"}),
        ("import", {"dry_run": dry_run_id.group(1)}),
    ]:
        response = await stranger.post(f"{batch_path}/{step}", data=data | {"csrf_token": token})
        assert response.status_code == 404, step
    assert await count(db, "intake.import_batches") == 1
    assert await count(db, "intake.applications") == 0
    await owner.aclose()
    await stranger.aclose()


async def test_posts_without_the_csrf_token_are_refused(stack, db) -> None:
    stack.start("intake")
    organisation_id, cycle_id = await open_cycle(stack.database_url)
    client = await coordinator_client(stack, organisation_id)
    uploaded = await upload(client, cycle_id, "applicants.csv", csv_bytes(GOOD))
    batch_path = uploaded.headers["location"].removesuffix("/map")
    checked = await dry_run(client, batch_path)
    dry_run_id = re.search(r'name="dry_run" value="([0-9a-f]+)"', checked.text)
    assert dry_run_id

    no_token = await client.post(
        f"/coordinator/cycles/{cycle_id}/import",
        data={"role": "mentee"},
        files={"file": ("a.csv", csv_bytes(GOOD), "text/csv")},
    )
    assert no_token.status_code == 403
    wrong_token = await client.post(
        f"{batch_path}/import", data={"dry_run": dry_run_id.group(1), "csrf_token": "forged"}
    )
    assert wrong_token.status_code == 403
    missing = await client.post(f"{batch_path}/dry-run", data={"map_email": "2"})
    assert missing.status_code == 403

    assert await count(db, "intake.import_batches") == 1
    assert await count(db, "intake.applications") == 0
    await client.aclose()
