"""The declarations of what each service holds on a person (shared/personal_data.py): every
table that names a person is declared or reached through a declared one, and the records of
processing in docs/privacy.md are generated from them."""

from __future__ import annotations

import importlib
from pathlib import Path

from shared.erasure import PERSON_FIELDS
from shared.personal_data import holdings_by_service, with_records

DOC = Path(__file__).parents[2] / "docs" / "privacy.md"

REACHED_OTHERWISE = {
    ("intake", "erased_people"),  # the digest kept on purpose
    ("intake", "erasures"),  # until scrubbed; then without her id
    ("intake", "access_log"),  # who viewed her: kept, her id replaced by the erasure id
    ("matching", "erased_people"),
    ("scheduling", "erased_people"),
    ("feedback", "erased_people"),
}
"""Tables with a person column that no `HOLDINGS` declares, and why."""


def test_docs_privacy_md_records_are_generated_from_the_declarations() -> None:
    text = DOC.read_text()
    assert text == with_records(text), "run: python -m shared.personal_data docs/privacy.md"


def test_every_table_that_names_a_person_is_declared() -> None:
    declared = {
        (service, holding.table.name)
        for service, holdings in holdings_by_service().items()
        for holding in holdings
    }
    checked = 0
    for service in ("intake", "matching", "scheduling", "feedback"):
        metadata = importlib.import_module(f"services.{service}.app").DEFINITION.metadata
        for table in metadata.tables.values():
            names_a_person = any(column.name in PERSON_FIELDS for column in table.columns)
            if names_a_person:
                key = (service, table.name)
                assert key in declared or key in REACHED_OTHERWISE, f"{key} is not declared"
                checked += 1
    assert checked >= 20  # the four services' tables were all looked at


def test_declared_columns_exist() -> None:
    for holdings in holdings_by_service().values():
        for holding in holdings:
            for column in holding.columns:
                assert column in holding.table.c, (holding.table.name, column)
