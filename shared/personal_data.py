"""What a service holds on a person, declared once (docs/privacy.md): the tables that name
her, by which columns, for which purpose, and what erasure does to them. The erasure step
(`shared.erasure`), the export of everything held on her (`ExportPersonData`) and the
records of processing (`python -m shared.personal_data`) all read the same declaration.

    HOLDINGS = (
        Holding(models.profiles, ("person_id",), Purpose.MATCHING, ERASE_DELETE),
        Holding(models.pairs, ("mentee_id", "mentor_id"), Purpose.PROGRAMME, ERASE_ANONYMISE),
    )
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.commands import CommandContext, CommandEnvelope, CommandRoute, ExportPersonData


class Purpose(StrEnum):
    """Why a service keeps a piece of data (Art. 30(1)(b)); its lawful basis is in
    docs/privacy.md."""

    APPLICATION = "application"
    """Handling her application: screening, interview, decision."""
    MATCHING = "matching"
    """Pairing mentees with mentors."""
    PROGRAMME = "programme"
    """Running the cycle: meetings, group meetings, trainings, reminders."""
    FOLLOW_UP = "follow_up"
    """Surveys, interviews and outcomes, to follow and improve the programme."""
    REPORTING = "reporting"
    """The funder's statistics: kept after erasure as anonymous numbers."""


OnErasure = Literal["delete", "anonymise", "shred"]

ERASE_DELETE: OnErasure = "delete"
ERASE_ANONYMISE: OnErasure = "anonymise"
"""The row stays (counted in reports, or another person's too) with her id replaced."""
ERASE_SHRED: OnErasure = "shred"
"""The row holds a person's data key: deleting it makes her ciphertext unreadable."""


@dataclass(frozen=True)
class Holding:
    table: sa.Table
    columns: tuple[str, ...]
    """The columns that name the person (her id)."""
    purpose: Purpose
    on_erasure: OnErasure
    exported: bool = True
    """False for rows that are no use to her (a wrapped key)."""


def jsonable(value: Any) -> Any:
    """A database value as JSON: ids and times as strings, bytes as base64."""
    if isinstance(value, UUID | datetime | date):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def rows_about(
    session: AsyncSession, holdings: Sequence[Holding], person_id: UUID, organisation_id: UUID
) -> dict[str, list[dict[str, Any]]]:
    """Every row of `holdings` that names her, in her organisation, as JSON; encrypted
    columns (bytes) are left out: the service adds them decrypted."""
    found: dict[str, list[dict[str, Any]]] = {}
    for holding in holdings:
        if not holding.exported:
            continue
        table = holding.table
        columns = [c for c in table.columns if not isinstance(c.type, sa.LargeBinary)]
        query = sa.select(*columns).where(
            sa.or_(*(table.c[name] == person_id for name in holding.columns))
        )
        if "organisation_id" in table.c:
            query = query.where(table.c.organisation_id == organisation_id)
        rows = (await session.execute(query)).mappings().all()
        found[table.name] = [{k: jsonable(v) for k, v in row.items()} for row in rows]
    return found


Extra = Callable[[AsyncSession, UUID, UUID, CommandContext], Awaitable[dict[str, Any]]]
"""A service's additions to her export: decrypted texts, rows reached through her pairs."""


def export_route(
    command: type[ExportPersonData], holdings: Sequence[Holding], extra: Extra | None = None
) -> CommandRoute:
    """The command handler answering `command` with everything `holdings` (and `extra`)
    hold on the person, in the envelope's organisation."""

    async def handle(
        session: AsyncSession, cmd: ExportPersonData, envelope: CommandEnvelope, ctx: CommandContext
    ) -> dict[str, Any]:
        data: dict[str, Any] = await rows_about(
            session, holdings, cmd.person_id, envelope.organisationid
        )
        if extra is not None:
            data |= await extra(session, cmd.person_id, envelope.organisationid, ctx)
        return {"service": command.target, "tables": data}

    return CommandRoute(command, handle)


async def apply_erasure(
    session: AsyncSession, holdings: Sequence[Holding], person_id: UUID, pseudonym: UUID
) -> None:
    """Delete (or shred) the rows that name her; put the pseudonym where rows must stay."""
    for holding in holdings:
        table = holding.table
        if holding.on_erasure == ERASE_ANONYMISE:
            for column in holding.columns:
                await session.execute(
                    table.update().where(table.c[column] == person_id).values({column: pseudonym})
                )
        else:
            await session.execute(
                table.delete().where(
                    sa.or_(*(table.c[column] == person_id for column in holding.columns))
                )
            )


def records_of_processing(holdings_by_service: dict[str, Sequence[Holding]]) -> str:
    """The Markdown table of docs/privacy.md's records of processing (Art. 30): per service
    and table, the fields kept, why, and what erasure does."""
    lines = [
        "| service | table | fields | purpose | on erasure |",
        "|---|---|---|---|---|",
    ]
    for service, holdings in holdings_by_service.items():
        for holding in holdings:
            fields = ", ".join(f"`{c.name}`" for c in holding.table.columns)
            lines.append(
                f"| {service} | `{holding.table.name}` | {fields} | {holding.purpose.value} |"
                f" {holding.on_erasure} |"
            )
    return "\n".join(lines) + "\n"


def holdings_by_service() -> dict[str, Sequence[Holding]]:
    """Every service's declaration (imported here, not at module import)."""
    import importlib

    modules = {
        "intake": "services.intake.erasure",
        "matching": "services.matching.handlers",
        "scheduling": "services.scheduling.handlers",
        "feedback": "services.feedback.handlers",
    }
    return {
        service: importlib.import_module(module).HOLDINGS for service, module in modules.items()
    }


BEGIN, END = "<!-- records:begin -->", "<!-- records:end -->"


def with_records(document: str) -> str:
    """`document` (docs/privacy.md) with its generated records of processing renewed."""
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{records_of_processing(holdings_by_service())}{END}{tail}"


if __name__ == "__main__":  # python -m shared.personal_data docs/privacy.md
    import sys
    from pathlib import Path

    path = Path(sys.argv[1])
    path.write_text(with_records(path.read_text()))
