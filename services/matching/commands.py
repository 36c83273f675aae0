"""Matching's command handlers: thin, each in the responder's transaction.

Every command is scoped to the sending organisation: a cycle, person or pair of another
organisation is "unknown", never touched.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching import domain
from services.matching import models as m
from shared.commands import (
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    CommandRoute,
    ConfirmPairs,
    EndPair,
    GetMatching,
    ProposeMatches,
    SetMentorAvailability,
    SetPairConstraint,
    emit,
)
from shared.events import MatchingProfile, MatchProposed, PairEnded, PairFormed


async def known_cycle(session: AsyncSession, cycle_id: UUID, organisation_id: UUID) -> Any:
    cycle = (
        await session.execute(
            sa.select(m.cycles).where(
                m.cycles.c.cycle_id == cycle_id, m.cycles.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()
    if cycle is None:
        raise CommandRejected("unknown_cycle", "matching knows no such cycle", "cycle_id")
    return cycle


async def set_constraint(
    session: AsyncSession,
    command: SetPairConstraint,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    await known_cycle(session, command.cycle_id, envelope.organisationid)
    p, c = m.profiles, m.constraints
    mentee = await session.scalar(
        sa.select(p.c.person_id).where(
            p.c.person_id == command.mentee_id,
            p.c.cycle_id == command.cycle_id,
            p.c.role == "mentee",
            p.c.withdrawn_at.is_(None),
        )
    )
    if mentee is None:
        raise CommandRejected("unknown_mentee", "no such mentee in this cycle", "mentee_id")
    mentor = await session.scalar(
        sa.select(m.mentor_pool.c.person_id).where(
            m.mentor_pool.c.person_id == command.mentor_id,
            m.mentor_pool.c.organisation_id == envelope.organisationid,
        )
    )
    if mentor is None:
        raise CommandRejected("unknown_mentor", "no such mentor in the pool", "mentor_id")
    key = (c.c.cycle_id == command.cycle_id) & (c.c.mentee_id == command.mentee_id)
    await session.execute(c.delete().where(key & (c.c.mentor_id == command.mentor_id)))
    if command.kind == "locked":
        # one lock per mentee: a new lock replaces an earlier one
        await session.execute(c.delete().where(key & (c.c.kind == "locked")))
    if command.kind != "none":
        await session.execute(
            insert(c).values(
                cycle_id=command.cycle_id,
                mentee_id=command.mentee_id,
                mentor_id=command.mentor_id,
                kind=command.kind,
                set_at=ctx.clock.now(),
            )
        )
    return {"kind": command.kind}


async def confirm_pairs(
    session: AsyncSession, command: ConfirmPairs, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """The proposal's pairs become pairs; mentees already paired in the cycle are skipped."""
    await known_cycle(session, command.cycle_id, envelope.organisationid)
    run = (
        await session.execute(
            sa.select(m.runs)
            .where(
                m.runs.c.run_id == command.run_id,
                m.runs.c.cycle_id == command.cycle_id,
                m.runs.c.organisation_id == envelope.organisationid,
            )
            .with_for_update()
        )
    ).one_or_none()
    if run is None:
        raise CommandRejected("unknown_run", "no such proposal for this cycle", "run_id")
    if run.status != "proposed":
        raise CommandRejected(
            "stale_proposal", f"this proposal is {run.status}; propose again", "run_id"
        )
    paired = set(
        (
            await session.scalars(
                sa.select(m.pairs.c.mentee_id).where(
                    m.pairs.c.cycle_id == command.cycle_id, m.pairs.c.ended_at.is_(None)
                )
            )
        ).all()
    )
    formed = []
    now = ctx.clock.now()
    for pair in run.result["pairs"]:
        mentee_id, mentor_id = UUID(pair["mentee_id"]), UUID(pair["mentor_id"])
        if mentee_id in paired:
            continue
        pair_id = uuid4()
        await session.execute(
            m.pairs.insert().values(
                pair_id=pair_id,
                cycle_id=command.cycle_id,
                organisation_id=envelope.organisationid,
                run_id=command.run_id,
                mentee_id=mentee_id,
                mentor_id=mentor_id,
                score=pair["score"],
                formed_at=now,
            )
        )
        event = PairFormed(
            pair_id=pair_id,
            cycle_id=command.cycle_id,
            mentee_id=mentee_id,
            mentor_id=mentor_id,
            score=pair["score"],
        )
        await emit(session, ctx, event, envelope)
        formed.append(str(pair_id))
    await session.execute(
        m.runs.update().where(m.runs.c.run_id == command.run_id).values(status="confirmed")
    )
    return {"formed": formed}


async def end_pair(
    session: AsyncSession, command: EndPair, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    pair = (
        await session.execute(
            sa.select(m.pairs)
            .where(
                m.pairs.c.pair_id == command.pair_id,
                m.pairs.c.organisation_id == envelope.organisationid,
            )
            .with_for_update()
        )
    ).one_or_none()
    if pair is None:
        raise CommandRejected("unknown_pair", "no such pair", "pair_id")
    if pair.ended_at is not None:
        raise CommandRejected("pair_ended", "this pair has already ended", "pair_id")
    await session.execute(
        m.pairs.update()
        .where(m.pairs.c.pair_id == command.pair_id)
        .values(ended_at=ctx.clock.now(), end_reason=command.reason_code)
    )
    event = PairEnded(pair_id=pair.pair_id, cycle_id=pair.cycle_id, reason_code=command.reason_code)
    await emit(session, ctx, event, envelope)
    return {"ended": str(pair.pair_id)}


async def set_mentor_availability(
    session: AsyncSession,
    command: SetMentorAvailability,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    pool = m.mentor_pool
    updated = await session.execute(
        pool.update()
        .where(
            pool.c.person_id == command.mentor_id,
            pool.c.organisation_id == envelope.organisationid,
        )
        .values(capacity=command.capacity, resting=command.resting)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        raise CommandRejected("unknown_mentor", "no such mentor in the pool", "mentor_id")
    return {"capacity": command.capacity, "resting": command.resting}


async def get_matching(
    session: AsyncSession, command: GetMatching, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    await known_cycle(session, command.cycle_id, envelope.organisationid)
    run = (
        await session.execute(
            sa.select(m.runs)
            .where(m.runs.c.cycle_id == command.cycle_id)
            .order_by(m.runs.c.created_at.desc())
            .limit(1)
        )
    ).one_or_none()
    constraints = (
        await session.execute(
            sa.select(
                m.constraints.c.mentee_id, m.constraints.c.mentor_id, m.constraints.c.kind
            ).where(m.constraints.c.cycle_id == command.cycle_id)
        )
    ).all()
    pairs = (
        await session.execute(
            sa.select(m.pairs)
            .where(m.pairs.c.cycle_id == command.cycle_id)
            .order_by(m.pairs.c.formed_at)
        )
    ).all()
    taken = dict(
        (
            await session.execute(
                sa.select(m.pairs.c.mentor_id, sa.func.count())
                .where(m.pairs.c.cycle_id == command.cycle_id, m.pairs.c.ended_at.is_(None))
                .group_by(m.pairs.c.mentor_id)
            )
        ).all()
    )
    pool = (
        await session.execute(
            sa.select(m.mentor_pool).where(
                m.mentor_pool.c.organisation_id == envelope.organisationid
            )
        )
    ).all()
    return {
        "pool": [
            {
                "mentor_id": str(r.person_id),
                "capacity": r.capacity,
                "resting": r.resting,
                "taken": taken.get(r.person_id, 0),
                "isco_code": r.latest_profile["isco_code"],
            }
            for r in pool
        ],
        "run": None
        if run is None
        else {
            "run_id": str(run.run_id),
            "mode": run.mode,
            "status": run.status,
            "total_score": run.total_score,
            "weights": run.weights,
            "created_at": run.created_at.isoformat(),
            **run.result,
        },
        "constraints": [
            {"mentee_id": str(c.mentee_id), "mentor_id": str(c.mentor_id), "kind": c.kind}
            for c in constraints
        ],
        "pairs": [
            {
                "pair_id": str(p.pair_id),
                "mentee_id": str(p.mentee_id),
                "mentor_id": str(p.mentor_id),
                "score": p.score,
                "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                "end_reason": p.end_reason,
            }
            for p in pairs
        ],
    }


def _reasons(reasons: tuple[domain.Reason, ...]) -> list[dict[str, Any]]:
    return [{"code": r.code, "params": r.params} for r in reasons]


def proposal_json(proposal: domain.Proposal) -> dict[str, Any]:
    """What a stored run keeps and the intake UI shows: ids, scores, components, reasons."""
    return {
        "pairs": [
            {
                "mentee_id": str(p.mentee_id),
                "mentor_id": str(p.mentor_id),
                "score": round(p.score, 6),
                "components": p.components._asdict(),
                "reasons": _reasons(p.reasons),
                "locked": p.locked,
            }
            for p in proposal.pairs
        ],
        "unmatched": [
            {
                "mentee_id": str(u.mentee_id),
                "reasons": _reasons(u.reasons),
                "nearest": [
                    {
                        "mentor_id": str(c.mentor_id),
                        "score": round(c.score, 6),
                        "why_not": c.why_not,
                    }
                    for c in u.nearest
                ],
            }
            for u in proposal.unmatched
        ],
    }


async def propose_matches(
    session: AsyncSession, command: ProposeMatches, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """Match the cycle's unpaired mentees with the pool's free places, at the optimum."""
    await known_cycle(session, command.cycle_id, envelope.organisationid)
    try:
        weights = domain.Weights(**(command.weights or {}))
    except (TypeError, ValueError) as bad:
        raise CommandRejected("invalid_weights", str(bad), "weights") from bad
    p, pool, pairs, c = m.profiles, m.mentor_pool, m.pairs, m.constraints
    active = sa.select(pairs.c.mentee_id).where(
        pairs.c.cycle_id == command.cycle_id, pairs.c.ended_at.is_(None)
    )
    mentee_rows = (
        await session.execute(
            sa.select(p.c.person_id, p.c.profile).where(
                p.c.cycle_id == command.cycle_id,
                p.c.role == "mentee",
                p.c.withdrawn_at.is_(None),
                p.c.person_id.not_in(active),
            )
        )
    ).all()
    taken = dict(
        (
            await session.execute(
                sa.select(pairs.c.mentor_id, sa.func.count())
                .where(pairs.c.cycle_id == command.cycle_id, pairs.c.ended_at.is_(None))
                .group_by(pairs.c.mentor_id)
            )
        ).all()
    )
    mentor_rows = (
        await session.execute(
            sa.select(pool.c.person_id, pool.c.latest_profile, pool.c.capacity).where(
                pool.c.organisation_id == envelope.organisationid, pool.c.resting.is_(False)
            )
        )
    ).all()
    mentees = [
        domain.Mentee(r.person_id, MatchingProfile.model_validate(r.profile)) for r in mentee_rows
    ]
    mentors = [
        domain.Mentor(r.person_id, MatchingProfile.model_validate(r.latest_profile), free)
        for r in mentor_rows
        if (free := r.capacity - taken.get(r.person_id, 0)) > 0
    ]
    if not mentees:
        raise CommandRejected(
            "no_mentees", "no accepted mentee of this cycle is waiting for a pair", "cycle_id"
        )
    if not mentors:
        raise CommandRejected("no_mentors", "no mentor of the pool has a free place", "cycle_id")
    rows = (
        await session.execute(
            sa.select(c.c.mentee_id, c.c.mentor_id, c.c.kind).where(
                c.c.cycle_id == command.cycle_id
            )
        )
    ).all()
    known = {x.id for x in mentees} | {x.id for x in mentors}
    wanted = [
        (r.mentee_id, r.mentor_id, r.kind) for r in rows if {r.mentee_id, r.mentor_id} <= known
    ]
    constraints = domain.Constraints(
        locked=[(e, r) for e, r, kind in wanted if kind == "locked"],
        excluded=[(e, r) for e, r, kind in wanted if kind == "excluded"],
    )
    mode = (
        domain.Mode.MOST_MATCHED if command.mode == "most_matched" else domain.Mode.BEST_TOTAL_FIT
    )
    try:
        proposal = await asyncio.to_thread(
            domain.propose, mentees, mentors, weights=weights, constraints=constraints, mode=mode
        )
    except domain.LockConflict as conflict:
        raise CommandRejected("lock_conflict", str(conflict), "constraints") from conflict
    await session.execute(
        m.runs.update()
        .where(m.runs.c.cycle_id == command.cycle_id, m.runs.c.status == "proposed")
        .values(status="superseded")
    )
    run_id = uuid4()
    await session.execute(
        m.runs.insert().values(
            run_id=run_id,
            cycle_id=command.cycle_id,
            organisation_id=envelope.organisationid,
            mode=command.mode,
            weights=dict(zip(domain.COMPONENTS, weights.as_tuple(), strict=True)),
            status="proposed",
            total_score=proposal.total_score,
            result=proposal_json(proposal),
            created_at=ctx.clock.now(),
        )
    )
    event = MatchProposed(
        run_id=run_id,
        cycle_id=command.cycle_id,
        pairs=len(proposal.pairs),
        unmatched_mentees=len(proposal.unmatched),
    )
    await emit(session, ctx, event, envelope)
    return {
        "run_id": str(run_id),
        "pairs": len(proposal.pairs),
        "unmatched": len(proposal.unmatched),
    }


ROUTES = [
    CommandRoute(ProposeMatches, propose_matches),
    CommandRoute(SetPairConstraint, set_constraint),
    CommandRoute(ConfirmPairs, confirm_pairs),
    CommandRoute(EndPair, end_pair),
    CommandRoute(SetMentorAvailability, set_mentor_availability),
    CommandRoute(GetMatching, get_matching),
]
