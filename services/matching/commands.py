"""Matching's command handlers: thin, each in the responder's transaction.

Every command is scoped to the sending organisation: a cycle, person or pair of another
organisation is "unknown", never touched.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching import models as m
from shared.commands import (
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    ConfirmPairs,
    EndPair,
    GetMatching,
    SetPairConstraint,
)
from shared.envelope import Envelope
from shared.events import PairEnded, PairFormed


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
        await ctx.outbox.add(
            session,
            Envelope.wrap(
                event,
                organisation_id=envelope.organisationid,
                clock=ctx.clock,
                correlation_id=envelope.correlationid,
            ),
        )
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
    await ctx.outbox.add(
        session,
        Envelope.wrap(
            event,
            organisation_id=envelope.organisationid,
            clock=ctx.clock,
            correlation_id=envelope.correlationid,
        ),
    )
    return {"ended": str(pair.pair_id)}


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
    return {
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
