"""What partners are told they may receive, generated from `shared.partner_events`.

`python -m shared.partner_catalogue` writes `docs/partners/asyncapi.json` (AsyncAPI 3.0: a
channel per event subject with its `organisation` and `partner` parameters, a `receive`
operation each, the CloudEvents envelope with the event's data as payload) and one JSON
Schema (draft 2020-12) per event, `docs/partners/schemas/<event>.v<version>.json`, each with
an example. `tests/unit/test_partner_catalogue.py` fails when the files are not current.

FastStream can write AsyncAPI from a broker's subscribers, but it describes a FastStream
application: channels named after handlers, no channel parameters for the subject's
wildcards, a `correlation_id` header we do not send. Partners connect with plain NATS
clients, so this small generator describes exactly what goes over the wire instead.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from shared import natsauth
from shared import partner_events as pe
from shared.events import MeetingMode, Outcome
from shared.subjects import partner_subject

ROOT = Path(__file__).resolve().parent.parent
DOCS = Path("docs") / "partners"
CATALOGUE_VERSION = "1.0.0"
"""Raise it when an event is added or a version changes (the first number when one goes)."""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_ORGANISATION = UUID("00000000-0000-4000-8000-000000000001")
_PARTNER = UUID("5b0f3f0e-8c1a-4d7e-9f36-1d2a7c9e4b10")
_CYCLE = UUID("00000000-0000-4000-8000-000000000003")
_PAIR = UUID("c2b6e1d4-3f5a-4a8b-9c7d-0e1f2a3b4c5d")

EXAMPLES: dict[type[pe.PartnerEvent], pe.PartnerEvent] = {
    pe.CycleOpened: pe.CycleOpened(
        cycle_id=_CYCLE,
        programme_id=UUID("00000000-0000-4000-8000-000000000002"),
        applications_open=date(2027, 1, 4),
        applications_close=date(2027, 1, 31),
        starts_on=date(2027, 3, 1),
        ends_on=date(2027, 10, 31),
    ),
    pe.CycleClosed: pe.CycleClosed(cycle_id=_CYCLE, mentee_applications=52, mentor_applications=47),
    pe.PairFormed: pe.PairFormed(pair=_PAIR, cycle_id=_CYCLE),
    pe.PairEnded: pe.PairEnded(pair=_PAIR, cycle_id=_CYCLE),
    pe.MeetingHeld: pe.MeetingHeld(
        pair=_PAIR, cycle_id=_CYCLE, month="2027-04", minutes=90, mode=MeetingMode.IN_PERSON
    ),
    pe.OutcomeRecorded: pe.OutcomeRecorded(cycle_id=_CYCLE, outcome=Outcome.EMPLOYED_OWN_FIELD),
}
"""One made-up event of each kind, shown in the documents and validated against them."""

EXAMPLE_TIME = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
EXAMPLE_TIMES: dict[type[pe.PartnerEvent], datetime] = {
    pe.MeetingHeld: datetime(2027, 4, 1, tzinfo=UTC),
    pe.OutcomeRecorded: datetime(2027, 1, 4, tzinfo=UTC),
}
"""The examples' `time`, as coarse as the feed makes it (intake's `partners.domain.partner_time`:
a meeting's month, an outcome's day)."""


def example_envelope(cls: type[pe.PartnerEvent]) -> dict[str, Any]:
    """What a partner's message body looks like for one event of `cls` (JSON)."""
    number = list(pe.PARTNER_EVENTS.values()).index(cls) + 1
    envelope = pe.PartnerEnvelope(
        id=UUID(f"7d3c9a52-1e4b-4f6a-8b2c-{number:012d}"),
        type=cls.type_name(),
        time=EXAMPLE_TIMES.get(cls, EXAMPLE_TIME),
        organisationid=_ORGANISATION,
        partnerid=_PARTNER,
        data=EXAMPLES[cls].model_dump(mode="json"),
    )
    return envelope.model_dump(mode="json")


def _split_defs(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = dict(schema)
    return schema, schema.pop("$defs", {})


def _data_schema(
    cls: type[pe.PartnerEvent], ref_template: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    return _split_defs(cls.model_json_schema(ref_template=ref_template))


def _envelope_schema(
    cls: type[pe.PartnerEvent], data_schema: dict[str, Any], ref_template: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope's schema with `type` fixed to the event's and `data` its schema."""
    envelope, defs = _split_defs(pe.PartnerEnvelope.model_json_schema(ref_template=ref_template))
    properties = dict(envelope["properties"])
    properties["type"] = {**properties["type"], "const": cls.type_name()}
    properties["data"] = data_schema
    envelope["properties"] = properties
    envelope["required"] = list(properties)  # what is received always has every field
    envelope["title"] = f"{cls.__name__} (v{cls.version}) in the partner envelope"
    envelope["description"] = (
        f"{cls.__doc__}\n\nA CloudEvents 1.0 event in JSON structured mode, as received on "
        f"`{_address(cls)}`."
    )
    return envelope, defs


def _address(cls: type[pe.PartnerEvent]) -> str:
    return partner_subject("{organisation}", "{partner}", cls.event_name())


def json_schema(cls: type[pe.PartnerEvent]) -> dict[str, Any]:
    """The JSON Schema of one event's message body: envelope and data."""
    data, defs = _data_schema(cls, "#/$defs/{model}")
    envelope, envelope_defs = _envelope_schema(cls, data, "#/$defs/{model}")
    document = {"$schema": JSON_SCHEMA_DIALECT, **envelope}
    if defs or envelope_defs:
        document["$defs"] = {**envelope_defs, **defs}
    document["examples"] = [example_envelope(cls)]
    return document


def schema_file(cls: type[pe.PartnerEvent]) -> Path:
    return DOCS / "schemas" / f"{cls.event_name()}.v{cls.version}.json"


def _camel(cls: type[pe.PartnerEvent]) -> str:
    return cls.__name__[0].lower() + cls.__name__[1:]


INFO_DESCRIPTION = """\
The events a partner system of a Womento installation receives: one organisation's \
programme, curated so that no person can be singled out (no person ids, names or free \
text; pairs under a pseudonym of the partner's own). How to connect, replay and \
de-duplicate: `docs/partners.md`.

Each partner reads its own durable pull consumer (`durable` in its credentials file) on \
the JetStream stream `{stream}`, filtered to its own subjects (`filter_subject`). Every \
message body is a CloudEvents 1.0 envelope in JSON; its `id` is also the `Nats-Msg-Id` \
header and is the same on every redelivery: de-duplicate by it, acknowledge after \
processing.

Generated by `python -m shared.partner_catalogue` from `shared/partner_events.py`; do not \
edit by hand."""


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the partner feed, from the partner's side (`receive`)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    ref = "#/components/schemas/{model}"
    for cls in pe.PARTNER_EVENTS.values():
        key = _camel(cls)
        data, defs = _data_schema(cls, ref)
        envelope, envelope_defs = _envelope_schema(
            cls, {"$ref": ref.format(model=cls.__name__)}, ref
        )
        schemas.update(envelope_defs)
        schemas.update(defs)
        schemas[cls.__name__] = data
        schemas[f"{cls.__name__}Envelope"] = envelope
        example = example_envelope(cls)
        messages[key] = {
            "name": cls.type_name(),
            "title": cls.__name__,
            "summary": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/PartnerHeaders"},
            "payload": {"$ref": ref.format(model=f"{cls.__name__}Envelope")},
            "examples": [
                {
                    "name": cls.event_name(),
                    "headers": {"Nats-Msg-Id": example["id"]},
                    "payload": example,
                }
            ],
        }
        channels[key] = {
            "address": _address(cls),
            "title": cls.__name__,
            "description": f"`{cls.type_name()}`: {(cls.__doc__ or '').strip()}",
            "parameters": {
                "organisation": {"$ref": "#/components/parameters/organisation"},
                "partner": {"$ref": "#/components/parameters/partner"},
            },
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"receive{cls.__name__}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Receive {cls.event_name()} events from your durable consumer.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    schemas["PartnerHeaders"] = {
        "type": "object",
        "description": "NATS headers of every partner message.",
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "The same as the envelope's `id`.",
            }
        },
        "required": ["Nats-Msg-Id"],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Womento partner feed",
            "version": CATALOGUE_VERSION,
            "description": INFO_DESCRIPTION.format(stream=natsauth.PARTNER_FEED_STREAM),
        },
        "defaultContentType": "application/json",
        "servers": {
            "installation": {
                "host": "{host}",
                "protocol": "nats",
                "description": "The installation's NATS, as `nats_url` in your credentials "
                "file; with `tls_ca_pem` there, connect with TLS and verify the server with "
                "that CA certificate.",
                "variables": {
                    "host": {"description": "host:port of `nats_url` in the credentials file"}
                },
                "security": [{"$ref": "#/components/securitySchemes/credentialsFile"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "parameters": {
                "organisation": {
                    "description": "The organisation's id (`organisation_id` in the "
                    "credentials file)."
                },
                "partner": {"description": "Your partner id (`partner_id` in the file)."},
            },
            "securitySchemes": {
                "credentialsFile": {
                    "type": "userPassword",
                    "description": "`user` and `password` of the credentials file, checked by "
                    "the installation at every connection (a session lasts at most "
                    "`partner_session_minutes`, then the client reconnects).",
                }
            },
        },
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[Path, str]:
    """Every generated file (path relative to the repository) and its text."""
    files = {DOCS / "asyncapi.json": _dump(asyncapi())}
    for cls in pe.PARTNER_EVENTS.values():
        files[schema_file(cls)] = _dump(json_schema(cls))
    return files


def write(root: Path = ROOT) -> list[Path]:
    """Write every file under `root`, removing schema files of events that are gone."""
    files = render()
    schemas = root / DOCS / "schemas"
    for stale in schemas.glob("*.json") if schemas.exists() else ():
        if stale.relative_to(root) not in files:
            stale.unlink()
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return list(files)


if __name__ == "__main__":
    for written in write():
        print(written, file=sys.stderr)
