"""Small groups and the dashboard summary of the scheduling service, on real NATS and
PostgreSQL with the simulated clock of `test_scheduling_cycle`."""

from __future__ import annotations

from collections import Counter
from datetime import date
from uuid import UUID, uuid4

import pytest

from shared.commands import (
    FormSmallGroups,
    GetSchedule,
    ScheduleSummary,
    SmallGroupPair,
)
from tests.e2e.test_scheduling_cycle import Sim, at, meeting
from tests.e2e.test_scheduling_events import refused, sim  # noqa: F401 - the fixture
from tests.helpers import count


async def test_small_groups_are_balanced_stored_and_re_formed(
    sim: Sim,  # noqa: F811
    db,
) -> None:
    await sim.open_cycle()
    pairs = [await sim.form_pair() for _ in range(13)]
    # Fields: six in ISCO 2 (professionals), four in 3, three in 1; regions alternate.
    fields = ["2"] * 6 + ["3"] * 4 + ["1"] * 3
    regions = ["01", "02", "06", None] * 3 + ["01"]
    codes = [
        SmallGroupPair(pair_id=p, isco_major=f, region=r)
        for p, f, r in zip(pairs, fields, regions, strict=True)
    ]

    # Bad input names the field and stores nothing.
    assert await refused(sim, FormSmallGroups(cycle_id=sim.cycle, pairs=tuple(codes[:-1]))) == (
        "pair_missing",
        "pairs",
    )
    stranger = SmallGroupPair(pair_id=uuid4(), isco_major="2")
    assert await refused(sim, FormSmallGroups(cycle_id=sim.cycle, pairs=(*codes, stranger))) == (
        "unknown_pair",
        "pairs",
    )
    assert await refused(sim, FormSmallGroups(cycle_id=uuid4(), pairs=tuple(codes))) == (
        "unknown_cycle",
        "cycle_id",
    )
    assert await count(db, "scheduling.small_groups") == 0

    formed = await sim.command(FormSmallGroups(cycle_id=sim.cycle, pairs=tuple(codes)))
    groups = formed["groups"]
    assert sorted(len(g) for g in groups) == [6, 7]  # 13 pairs: two groups within 5..8
    assert sorted(p for g in groups for p in g) == sorted(str(p) for p in pairs)
    field_of = {str(c.pair_id): c.isco_major for c in codes}
    for field in ("1", "2", "3"):
        per_group = [Counter(field_of[p] for p in g)[field] for g in groups]
        assert max(per_group) - min(per_group) <= 1, (field, per_group)

    shown = (await sim.command(GetSchedule(cycle_id=sim.cycle)))["small_groups"]
    assert [[p["pair_id"] for p in g["pairs"]] for g in shown] == [sorted(g) for g in groups]
    assert await count(db, "scheduling.small_groups") == 13

    # Re-formed after a retry of the same codes: the same groups, stored once.
    again = await sim.command(FormSmallGroups(cycle_id=sim.cycle, pairs=tuple(codes)))
    assert again["groups"] == groups
    assert await count(db, "scheduling.small_groups") == 13


async def test_the_summary_counts_pairs_at_risk_and_missed_months(
    sim: Sim,  # noqa: F811
    db,
) -> None:
    await sim.open_cycle()
    active, silent = await sim.form_pair(), await sim.form_pair()
    other_org_summary = await sim.command(ScheduleSummary(cycle_ids=(sim.cycle,)), org=uuid4())
    assert other_org_summary == {"cycles": {}}

    sim.move_to(at(3, 20))
    await sim.caught_up()
    await sim.command(meeting(active, date(2030, 3, 20)))
    sim.move_to(at(4, 8))  # March ended; the silent pair is at risk since 7 April
    await sim.caught_up()

    async def summary() -> dict[str, int]:
        reply = await sim.command(ScheduleSummary(cycle_ids=(sim.cycle, uuid4())))
        return dict(reply["cycles"][str(sim.cycle)])

    assert await summary() == {"pairs": 2, "at_risk": 1, "missed": 1}
    state = await sim.command(GetSchedule(cycle_id=sim.cycle))
    by_id = {UUID(p["pair_id"]): p for p in state["pairs"]}
    assert by_id[silent]["missed_since_last_meeting"] == ["2030-03-01"]
    assert by_id[active]["missed_since_last_meeting"] == []

    # A meeting logged clears both at a glance (the month stays missed in the history).
    await sim.command(meeting(silent, date(2030, 4, 7)))
    assert await summary() == {"pairs": 2, "at_risk": 0, "missed": 0}
    state = await sim.command(GetSchedule(cycle_id=sim.cycle))
    silent_now = next(p for p in state["pairs"] if p["pair_id"] == str(silent))
    assert silent_now["missed_since_last_meeting"] == []
    assert silent_now["planned"][0]["missed_at"] is not None


@pytest.mark.parametrize("isco_major", ["22", "x", ""])
def test_small_group_codes_are_checked_by_the_contract(isco_major: str) -> None:
    with pytest.raises(ValueError):
        SmallGroupPair(pair_id=uuid4(), isco_major=isco_major)
