from pathlib import Path

from shared.catalogue import render
from shared.events import EVENT_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_docs_events_md_is_generated_from_the_current_contracts() -> None:
    assert DOC.read_text() == render(), "run: python -m shared.catalogue > docs/events.md"


def test_catalogue_names_every_event_with_its_subject() -> None:
    text = render()
    for cls in EVENT_TYPES.values():
        assert f"## {cls.__name__} (v{cls.version})" in text
        assert f"subject `{cls.subject()}`" in text
