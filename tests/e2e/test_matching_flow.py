"""Matching end to end on real NATS and PostgreSQL: accepted applicants → proposal → lock,
exclude and re-run → confirm → PairFormed consumed by scheduling and feedback."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from shared.clock import SystemClock
from shared.commands import (
    CommandRejected,
    ConfirmPairs,
    EndPair,
    GetMatching,
    ProposeMatches,
    SetPairConstraint,
    send,
)
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

MENTEES = [("Amina", "2142", "01"), ("Olena", "2211", "06"), ("Mei", "2512", "01")]
MENTORS = [
    ("Liisa", "2142", "01", "Kone"),
    ("Sanna", "2211", "06", "HUS"),
    ("Anna", "2512", "01", "Nokia"),
]


@pytest.fixture
async def cohort(stack, db, nc):
    stack.start()
    org, cycle = await open_cycle(stack.database_url)
    ids: dict[str, UUID] = {}
    base = stack["intake"].base_url
    for name, isco, region in MENTEES:
        payload = application_payload(cycle)
        payload["contact"] |= {"given_name": name}
        payload["profile"] |= {"isco_code": isco, "region": region}
        response = await submit(base, payload)
        ids[name] = UUID(response.json()["person_id"])
    for name, isco, region, employer in MENTORS:
        payload = application_payload(
            cycle, role="mentor", identifies_as_woman=None, background=None
        )
        payload["consents"] = {"processing": True}
        payload["contact"] |= {"given_name": name}
        payload["profile"] |= {"isco_code": isco, "region": region, "employer": employer}
        response = await submit(base, payload)
        assert response.status_code == 201, response.text
        ids[name] = UUID(response.json()["person_id"])
    client = await logged_in(base, await add_coordinator(stack.database_url, org))
    queue = f"/coordinator/cycles/{cycle}"
    application_ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM intake.applications")]
    accepted = await client.post(
        f"{queue}/bulk-accept",
        data={
            "csrf_token": csrf_from((await client.get(queue)).text),
            "application_id": application_ids,
        },
    )
    assert "accepted=6" in accepted.headers["location"]
    await client.aclose()
    await eventually(lambda: count(db, "matching.profiles"), timeout=20)
    await eventually(lambda: _n(db, "matching.profiles", 6), timeout=20)

    async def command(cmd):
        return await send(nc, cmd, organisation_id=org, clock=SystemClock(), wait_seconds=10)

    return {"org": org, "cycle": cycle, "ids": ids, "command": command}


async def _n(db, table: str, n: int) -> bool:
    return await count(db, table) == n


def pairs_of(matching: dict) -> set[tuple[str, str]]:
    return {(p["mentee_id"], p["mentor_id"]) for p in matching["run"]["pairs"]}


async def test_propose_adjust_confirm_and_pairs_reach_scheduling_and_feedback(cohort, db) -> None:
    command, cycle, ids = cohort["command"], cohort["cycle"], cohort["ids"]
    same_field = {
        (str(ids[e]), str(ids[r]))
        for e, r in (("Amina", "Liisa"), ("Olena", "Sanna"), ("Mei", "Anna"))
    }

    first = await command(ProposeMatches(cycle_id=cycle))
    matching = await command(GetMatching(cycle_id=cycle))
    assert first["pairs"] == 3 and pairs_of(matching) == same_field
    reasons = {r["code"] for p in matching["run"]["pairs"] for r in p["reasons"]}
    assert "same_unit_group" in reasons
    assert all(0 < p["score"] <= 1 for p in matching["run"]["pairs"])

    await command(
        SetPairConstraint(
            cycle_id=cycle, mentee_id=ids["Amina"], mentor_id=ids["Liisa"], kind="excluded"
        )
    )
    await command(
        SetPairConstraint(
            cycle_id=cycle, mentee_id=ids["Mei"], mentor_id=ids["Anna"], kind="locked"
        )
    )
    second = await command(ProposeMatches(cycle_id=cycle, mode="most_matched"))
    matching = await command(GetMatching(cycle_id=cycle))
    made = pairs_of(matching)
    assert (str(ids["Amina"]), str(ids["Liisa"])) not in made
    assert (str(ids["Mei"]), str(ids["Anna"])) in made
    assert matching["run"]["status"] == "proposed" and matching["run"]["mode"] == "most_matched"

    stale = first["run_id"]
    with pytest.raises(CommandRejected) as refused:
        await command(ConfirmPairs(cycle_id=cycle, run_id=UUID(stale)))
    assert refused.value.code == "stale_proposal"

    confirmed = await command(ConfirmPairs(cycle_id=cycle, run_id=UUID(second["run_id"])))
    assert len(confirmed["formed"]) == second["pairs"]
    await eventually(lambda: _n(db, "scheduling.pairs", second["pairs"]), timeout=20)
    await eventually(lambda: _n(db, "feedback.pairs", second["pairs"]), timeout=20)
    assert (
        await count(db, "matching.outbox", "event_type = 'womento.matching.pair_formed.v1'")
        == second["pairs"]
    )
    assert (
        await count(db, "matching.outbox", "event_type = 'womento.matching.match_proposed.v1'") == 2
    )


async def test_an_ended_pair_lets_the_mentee_be_matched_again_alone(cohort, db) -> None:
    command, cycle, ids = cohort["command"], cohort["cycle"], cohort["ids"]
    run = await command(ProposeMatches(cycle_id=cycle))
    formed = await command(ConfirmPairs(cycle_id=cycle, run_id=UUID(run["run_id"])))
    matching = await command(GetMatching(cycle_id=cycle))
    olena = next(p for p in matching["pairs"] if p["mentee_id"] == str(ids["Olena"]))

    await command(EndPair(pair_id=UUID(olena["pair_id"]), reason_code="mentor_moved_abroad"))
    await eventually(
        lambda: count(
            db, "scheduling.pairs", "ended_at IS NOT NULL AND end_reason = 'mentor_moved_abroad'"
        ),
        timeout=20,
    )
    again = await command(ProposeMatches(cycle_id=cycle))
    rematch = await command(GetMatching(cycle_id=cycle))
    assert again["pairs"] + again["unmatched"] == 1  # only Olena is waiting
    considered = {p["mentee_id"] for p in rematch["run"]["pairs"]} | {
        u["mentee_id"] for u in rematch["run"]["unmatched"]
    }
    assert considered == {str(ids["Olena"])}
    assert len(formed["formed"]) == 3


async def test_bad_commands_are_refused_and_change_nothing(cohort, db) -> None:
    command, cycle = cohort["command"], cohort["cycle"]
    with pytest.raises(CommandRejected) as unknown:
        await command(ProposeMatches(cycle_id=uuid4()))
    assert (unknown.value.code, unknown.value.field) == ("unknown_cycle", "cycle_id")
    with pytest.raises(CommandRejected) as weights:
        await command(ProposeMatches(cycle_id=cycle, weights={"field": 11}))
    assert (weights.value.code, weights.value.field) == ("invalid_weights", "weights")
    assert "field" in weights.value.message
    with pytest.raises(CommandRejected) as nobody:
        await command(
            SetPairConstraint(cycle_id=cycle, mentee_id=uuid4(), mentor_id=uuid4(), kind="locked")
        )
    assert nobody.value.field == "mentee_id"
    assert await count(db, "matching.runs") == 0
    assert await count(db, "matching.pair_constraints") == 0
    await db.execute("UPDATE matching.mentor_pool SET resting = true")
    with pytest.raises(CommandRejected) as no_mentors:
        await command(ProposeMatches(cycle_id=cycle))
    assert no_mentors.value.code == "no_mentors"
    assert await count(db, "matching.runs") == 0


async def test_the_coordinator_proposes_adjusts_and_confirms_on_the_matching_screen(
    cohort, stack, db
) -> None:
    org, cycle = cohort["org"], cohort["cycle"]
    client = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, org)
    )
    screen = f"/coordinator/cycles/{cycle}/matching"

    async def post(action: str, data: dict) -> str:
        token = csrf_from((await client.get(screen)).text)
        response = await client.post(f"{screen}{action}", data=data | {"csrf_token": token})
        assert response.status_code == 303, response.text
        return response.headers["location"]

    assert "Propose pairs" in (await client.get(f"{screen}?lang=en")).text
    assert (await post("/propose", {"mode": "most_matched"})).endswith("message=proposed")
    page = (await client.get(f"{screen}?lang=en")).text
    assert "Amina Hassan" in page and "Liisa Hassan" in page
    assert "same occupation: " in page and "Most people matched" in page
    assert "[matching." not in page and "[apply." not in page  # every reason has words
    ids = cohort["ids"]
    await post(
        "/constraint",
        {"mentee_id": str(ids["Mei"]), "mentor_id": str(ids["Anna"]), "kind": "locked"},
    )
    await post("/propose", {"mode": "best_total_fit"})
    page = (await client.get(f"{screen}?lang=en")).text
    assert "locked" in page
    run_id = await db.fetchval("SELECT run_id FROM matching.runs WHERE status = 'proposed'")
    assert (await post("/confirm", {"run_id": str(run_id)})).endswith("message=confirmed")
    page = (await client.get(f"{screen}?lang=fi")).text
    assert "Muodostetut parit (3)" in page
    await eventually(lambda: _n(db, "feedback.pairs", 3), timeout=20)

    stack["matching"].stop()
    down = await client.get(f"{screen}?lang=en", headers={"accept": "text/html"})
    assert down.status_code == 503 and "not answering" in down.text
    token = csrf_from((await client.get("/coordinator")).text)
    refused = await client.post(
        f"{screen}/propose", data={"mode": "most_matched", "csrf_token": token}
    )
    assert refused.status_code == 503
    assert await count(db, "matching.runs") == 2
    await client.aclose()


async def test_resting_mentors_and_the_programmes_weights_shape_the_proposal(
    cohort, stack, db
) -> None:
    org, cycle, ids = cohort["org"], cohort["cycle"], cohort["ids"]
    client = await logged_in(
        stack["intake"].base_url, await add_coordinator(stack.database_url, org)
    )
    screen = f"/coordinator/cycles/{cycle}/matching"

    async def post(action: str, data: dict) -> str:
        token = csrf_from((await client.get(screen)).text)
        response = await client.post(f"{screen}{action}", data=data | {"csrf_token": token})
        assert response.status_code == 303, response.text
        return response.headers["location"]

    assert (
        await post("/mentor", {"mentor_id": str(ids["Liisa"]), "capacity": "2", "resting": "yes"})
    ).endswith("message=mentor")
    assert await db.fetchval(
        "SELECT resting FROM matching.mentor_pool WHERE person_id = $1", ids["Liisa"]
    )
    await db.execute(
        "UPDATE intake.programmes SET settings = jsonb_set(settings, '{matching_weights,topics}', '7')"
    )
    await post("/propose", {"mode": "best_total_fit"})

    run = await db.fetchrow("SELECT weights, result FROM matching.runs WHERE status = 'proposed'")
    assert '"topics": 7' in run["weights"]
    assert str(ids["Liisa"]) not in run["result"]  # a resting mentor is not proposed
    page = (await client.get(f"{screen}?lang=en")).text
    assert "Mentor pool" in page and "resting" in page
    await client.aclose()
