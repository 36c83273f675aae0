"""Reading an uploaded CSV or XLSX file into a header and rows of text (pure, no I/O).

CSV: UTF-8 with or without a byte-order mark, UTF-16 with a byte-order mark (Excel's
"Unicode text"), else Windows-1252, else Latin-1; the delimiter is whichever of comma,
semicolon and tab splits the first records most consistently. XLSX: the first sheet, read
with openpyxl in read-only mode. In both, the header is the first non-empty row and every
row keeps its number as the spreadsheet shows it, so a coordinator can find it.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

MAX_IMPORT_BYTES = 5_000_000
"""The import's own limit; the app's request limit (`WOMENTO_MAX_REQUEST_BYTES`) may be lower."""
MAX_ROWS = 5_000
MAX_SCANNED = 4 * MAX_ROWS
"""Rows read after the header, empty ones included, before giving up."""
MAX_COLUMNS = 200
MAX_CELL_CHARS = 10_000
DELIMITERS = (",", ";", "\t")
EXTENSIONS = (".csv", ".xlsx")
_SNIFF_RECORDS = 50


class ParseError(Exception):
    """The file cannot be imported; `kind` names the reason (a key under `imports.upload.`)."""

    def __init__(self, kind: str, **values: object) -> None:
        super().__init__(kind)
        self.kind, self.values = kind, values


@dataclass(frozen=True)
class ParsedFile:
    columns: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    """(row number in the file as a spreadsheet shows it, one text per column)."""
    delimiter: str | None = None
    encoding: str | None = None


def file_kind(filename: str) -> str | None:
    """ "csv" or "xlsx" by the file name's extension; None for anything else."""
    suffix = PurePath(filename or "").suffix.lower()
    return suffix[1:] if suffix in EXTENSIONS else None


def parse_upload(filename: str, content: bytes, *, max_bytes: int = MAX_IMPORT_BYTES) -> ParsedFile:
    kind = file_kind(filename)
    if kind is None:
        raise ParseError("wrong_type")
    if len(content) > max_bytes:
        raise ParseError("too_large", limit=max_bytes)
    if not content.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ParseError("empty")
    return parse_xlsx(content) if kind == "xlsx" else parse_csv(content)


# --- CSV -------------------------------------------------------------------------------------


def decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; and tab that gives the most consistent, widest records."""
    sample = text[:64_000]
    best, best_score = ",", (-1, -1, -1)
    for delimiter in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
            first = itertools.islice(reader, _SNIFF_RECORDS)
            records = [r for r in first if r]  # blank lines are []
        except csv.Error:
            continue
        if not records:
            continue
        width = len(records[0])
        if len(records) > 1:
            records = records[:-1]  # the sample may cut the last record short
        consistent = sum(1 for r in records if len(r) == width)
        score = (int(width > 1), consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def parse_csv(content: bytes) -> ParsedFile:
    try:
        text, encoding = decode(content)
    except UnicodeDecodeError as error:
        raise ParseError("unreadable") from error
    if "\x00" in text or text.startswith("PK\x03\x04"):
        raise ParseError("unreadable")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns, rows = _table(enumerate(reader, start=1))
    except csv.Error as error:
        raise ParseError("unreadable") from error
    return ParsedFile(columns, rows, delimiter=delimiter, encoding=encoding)


# --- XLSX ------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person would type: 1988.0 -> "1988", dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def parse_xlsx(content: bytes) -> ParsedFile:
    from openpyxl import load_workbook

    if not content.startswith(b"PK\x03\x04"):
        raise ParseError("unreadable")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
        raise ParseError("unreadable") from error
    try:
        if not workbook.worksheets:
            raise ParseError("empty")
        sheet = workbook.worksheets[0]
        numbered = (
            (number, [cell_text(v) for v in values])
            for number, values in enumerate(
                sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1), start=1
            )
        )
        try:
            return ParsedFile(*_table(numbered))
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
            raise ParseError("unreadable") from error
    finally:
        workbook.close()


# --- both --------------------------------------------------------------------------------------


def _clean(cell: str) -> str:
    return cell.replace("\x00", "").strip()[:MAX_CELL_CHARS]


def _header(cells: list[str]) -> tuple[str, ...]:
    """Column names: empty ones named by position, repeated ones numbered."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(cells, start=1):
        name = " ".join(_clean(cell).split()) or f"#{position}"
        key = name.casefold()
        seen[key] = seen.get(key, 0) + 1
        names.append(name if seen[key] == 1 else f"{name} ({seen[key]})")
    return tuple(names)


def _table(
    numbered: Iterable[tuple[int, list[str]]],
) -> tuple[tuple[str, ...], tuple[tuple[int, tuple[str, ...]], ...]]:
    records: Iterator[tuple[int, list[str]]] = iter(numbered)
    header: list[str] | None = None
    for _, cells in records:
        if any(_clean(c) for c in cells):
            header = cells
            break
    if header is None:
        raise ParseError("empty")
    while header and not _clean(header[-1]):
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise ParseError("too_many_columns", limit=MAX_COLUMNS)
    columns = _header(header)
    width = len(columns)
    rows: list[tuple[int, tuple[str, ...]]] = []
    for scanned, (number, cells) in enumerate(records):
        if scanned > MAX_SCANNED:  # e.g. a sheet of a million empty rows
            raise ParseError("too_many_rows", limit=MAX_ROWS)
        values = [_clean(c) for c in cells[:width]]
        if not any(values):
            continue
        if len(rows) >= MAX_ROWS:
            raise ParseError("too_many_rows", limit=MAX_ROWS)
        rows.append((number, tuple(values + [""] * (width - len(values)))))
    if not rows:
        raise ParseError("no_rows")
    return columns, tuple(rows)
