"""The partner documents (`docs/partners/`) are generated from the partner contracts and
current; every example validates against its schema, and the AsyncAPI document's
references, channel parameters and operations hold together."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared import partner_catalogue as catalogue
from shared import partner_events as pe

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate with: python -m shared.partner_catalogue"
EVENTS = list(pe.PARTNER_EVENTS.values())


def test_committed_files_are_the_generated_ones() -> None:
    files = catalogue.render()
    for path, text in files.items():
        committed = ROOT / path
        assert committed.exists(), f"{path} is missing; {REGENERATE}"
        assert committed.read_text() == text, f"{path} is out of date; {REGENERATE}"
    on_disk = {p.relative_to(ROOT) for p in (ROOT / catalogue.DOCS).rglob("*.json")}
    assert on_disk == set(files), f"files no event generates: {on_disk - set(files)}; {REGENERATE}"


@pytest.mark.parametrize("cls", EVENTS, ids=lambda cls: cls.event_name())
def test_each_event_has_a_schema_its_example_and_real_envelopes_validate_against(cls) -> None:
    schema = json.loads((ROOT / catalogue.schema_file(cls)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    [example] = schema["examples"]
    validator.validate(example)
    # what the feed really sends (feed.py builds it this way) validates too, and opens
    assert pe.PartnerEnvelope.model_validate(example).open() == catalogue.EXAMPLES[cls]
    other = next(c for c in EVENTS if c is not cls)
    assert not validator.is_valid({**example, "type": other.type_name()})
    assert not validator.is_valid({**example, "data": {**example["data"], "person_id": "x"}})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "id"})


def test_meeting_held_schema_refuses_a_day_and_outcome_schema_a_pair() -> None:
    meeting = json.loads((ROOT / catalogue.schema_file(pe.MeetingHeld)).read_text())
    [example] = meeting["examples"]
    assert not jsonschema.Draft202012Validator(meeting).is_valid(
        {**example, "data": {**example["data"], "month": "2027-04-12"}}
    )
    outcome = json.loads((ROOT / catalogue.schema_file(pe.OutcomeRecorded)).read_text())
    assert "pair" not in outcome["properties"]["data"]["properties"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_document_holds_together() -> None:
    document = json.loads((ROOT / catalogue.DOCS / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0"
    for ref in _refs(document):
        _resolve(document, ref)  # raises if it points nowhere
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {
        f"womento.partner.{{organisation}}.{{partner}}.{cls.event_name()}" for cls in EVENTS
    }
    for channel in document["channels"].values():
        assert set(re.findall(r"\{(\w+)\}", channel["address"])) == set(channel["parameters"])
    assert {o["action"] for o in document["operations"].values()} == {"receive"}
    assert len(document["operations"]) == len(EVENTS)

    registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    for message in document["components"]["messages"].values():
        [example] = message["examples"]
        payload_schema = {"$ref": "urn:asyncapi" + message["payload"]["$ref"]}
        jsonschema.Draft202012Validator(payload_schema, registry=registry).validate(
            example["payload"]
        )
        assert example["headers"]["Nats-Msg-Id"] == example["payload"]["id"]
        assert pe.PARTNER_EVENTS[example["payload"]["type"]].__name__ == message["title"]


def test_write_puts_every_file_in_place_and_removes_a_gone_events_schema(tmp_path) -> None:
    stale = tmp_path / catalogue.DOCS / "schemas" / "cycle_renamed.v1.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    written = catalogue.write(tmp_path)
    assert not stale.exists()
    for path, text in catalogue.render().items():
        assert path in written and (tmp_path / path).read_text() == text
