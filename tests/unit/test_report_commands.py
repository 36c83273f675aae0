"""What the report commands answer without a database: a file's reply, and its size limit."""

from __future__ import annotations

import base64
import json
from datetime import date
from uuid import uuid4

import pytest

from services.feedback.report import CycleRow, MeetingRow, PairRow, ReportData
from services.feedback.report_commands import MAX_FILE_BYTES, file_reply
from shared.commands import CommandRejected

NATS_MAX_PAYLOAD = 1024 * 1024


def test_a_file_travels_base64_with_its_name_and_type() -> None:
    reply = file_reply(b"%PDF-1.4 hello", "womento-report-2031-06-01.pdf", "pdf")
    assert base64.b64decode(reply["content_base64"]) == b"%PDF-1.4 hello"
    assert reply["content_type"] == "application/pdf" and reply["size"] == 14


def test_the_largest_file_allowed_still_fits_in_one_nats_message() -> None:
    reply = file_reply(b"x" * MAX_FILE_BYTES, "womento-research.csv", "research")
    envelope = json.dumps({"ok": True, "data": reply, "error": None})
    assert len(envelope.encode()) < NATS_MAX_PAYLOAD


def test_a_file_too_large_is_refused_naming_the_format() -> None:
    with pytest.raises(CommandRejected) as refused:
        file_reply(b"x" * (MAX_FILE_BYTES + 1), "womento-research.csv", "research")
    assert (refused.value.code, refused.value.field) == ("too_large", "format")


def test_rows_split_by_year_follow_their_cycle_and_pair() -> None:
    spring = CycleRow(uuid4(), date(2030, 3, 1), date(2030, 10, 31))
    autumn = CycleRow(uuid4(), date(2030, 9, 1), date(2031, 4, 30))
    later = CycleRow(uuid4(), date(2031, 3, 1), date(2031, 10, 31))
    pairs = [PairRow(uuid4(), c.cycle_id, uuid4()) for c in (spring, autumn, later)]
    stray = PairRow(uuid4(), uuid4(), uuid4())  # a cycle feedback does not know
    meetings = [MeetingRow(p.pair_id, date(2031, 1, 5)) for p in (*pairs, stray)]
    years = ReportData(
        cycles=[spring, autumn, later], pairs=[*pairs, stray], meetings=meetings
    ).by_year()
    assert list(years) == [2030, 2031]
    assert [p.pair_id for p in years[2030].pairs] == [pairs[0].pair_id, pairs[1].pair_id]
    assert [m.pair_id for m in years[2031].meetings] == [pairs[2].pair_id]
    assert [c.cycle_id for c in years[2030].cycles] == [spring.cycle_id, autumn.cycle_id]
