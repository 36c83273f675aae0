"""The coordinator screens that answer with the one shared 404 page (`web/screens.py`'s
`not_found`) when a programme or cycle is another organisation's: new cycle, create cycle,
advance a cycle, matching. Nothing of the other organisation changes. (The review queue,
application and status change are in test_review.py; schedule, outcomes and report in
their own screens' tests.)"""

from __future__ import annotations

from uuid import uuid4

from tests.helpers import add_coordinator, count, csrf_from, logged_in, open_cycle

NOT_FOUND_FI = "<h1>Sivua ei löytynyt.</h1>"


async def test_another_organisations_programme_and_cycle_are_not_found(stack, db) -> None:
    stack.start("intake", "matching")
    _, cycle = await open_cycle(stack.database_url)
    programme = await db.fetchval("SELECT programme_id FROM intake.cycles WHERE id = $1", cycle)
    stranger_org, _ = await open_cycle(stack.database_url)
    stranger = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, stranger_org)
    )
    try:
        headers = {"accept": "text/html", "accept-language": "fi"}
        token = csrf_from((await stranger.get("/coordinator", headers=headers)).text)
        cycles_before = await count(db, "intake.cycles")
        responses = {
            "new cycle form": await stranger.get(
                f"/coordinator/programmes/{programme}/cycles/new", headers=headers
            ),
            "create cycle": await stranger.post(
                f"/coordinator/programmes/{programme}/cycles",
                headers=headers,
                data={
                    "csrf_token": token,
                    "name": "Not yours",
                    "applications_open": "2031-01-01",
                    "applications_close": "2031-01-31",
                    "starts_on": "2031-03-01",
                    "ends_on": "2031-10-31",
                },
            ),
            "advance cycle": await stranger.post(
                f"/coordinator/cycles/{cycle}/advance",
                headers=headers,
                data={"csrf_token": token, "to": "screening"},
            ),
            "matching": await stranger.get(
                f"/coordinator/cycles/{cycle}/matching", headers=headers
            ),
            "matching, no such cycle": await stranger.get(
                f"/coordinator/cycles/{uuid4()}/matching", headers=headers
            ),
        }
        for screen, response in responses.items():
            assert response.status_code == 404, (screen, response.status_code, response.text)
            assert NOT_FOUND_FI in response.text, (screen, response.text)
        assert await count(db, "intake.cycles") == cycles_before
        assert await db.fetchval("SELECT status FROM intake.cycles WHERE id = $1", cycle) == "open"
    finally:
        await stranger.aclose()
