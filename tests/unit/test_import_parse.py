"""Reading uploaded CSV and XLSX files (services/intake/imports/parse.py)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from services.intake.imports.parse import (
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SCANNED,
    ParseError,
    cell_text,
    decode,
    file_kind,
    parse_upload,
    sniff_delimiter,
)


def xlsx(rows: list[list[object]], *, first_row: int = 1, extra_sheet: bool = False) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for offset, values in enumerate(rows):
        for column, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=first_row + offset, column=column, value=value)
    if extra_sheet:
        workbook.create_sheet("Other")["A1"] = "not read"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_csv_with_bom_and_semicolons_keeps_finnish_letters() -> None:
    content = "\ufeffEtunimi;Sukunimi;Sähköposti\nÄlli;Öhman;alli@example.org\n".encode()

    parsed = parse_upload("hakijat.csv", content)

    assert parsed.columns == ("Etunimi", "Sukunimi", "Sähköposti")
    assert parsed.rows == ((2, ("Älli", "Öhman", "alli@example.org")),)
    assert (parsed.delimiter, parsed.encoding) == (";", "utf-8-sig")


def test_csv_without_bom_in_windows_1252_falls_back() -> None:
    content = "Etunimi,Kaupunki\nJärvi,Hämeenlinna\n".encode("cp1252")

    parsed = parse_upload("export.CSV", content)

    assert parsed.encoding == "cp1252"
    assert parsed.rows[0][1] == ("Järvi", "Hämeenlinna")


def test_utf16_with_bom_as_excel_unicode_text_is_read() -> None:
    content = "Name\tEmail\nAmina\ta@example.org\n".encode("utf-16")

    parsed = parse_upload("unicode.csv", content)

    assert parsed.delimiter == "\t"
    assert parsed.rows[0][1] == ("Amina", "a@example.org")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;2;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        # commas inside quoted cells do not fool the semicolon file
        ('a;b\n"Helsinki, Finland";2\n"x, y, z";3\n', ";"),
        ("only\none\n", ","),
    ],
)
def test_the_delimiter_is_sniffed(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_header_is_the_first_non_empty_row_and_rows_keep_their_numbers() -> None:
    content = b";;\n\nFirst name;Email;\nA;a@example.org;\n;;\nB;b@example.org;\n"

    parsed = parse_upload("file.csv", content)

    assert parsed.columns == ("First name", "Email")
    assert [number for number, _ in parsed.rows] == [4, 6]


def test_short_rows_are_padded_and_blank_or_repeated_headers_named() -> None:
    parsed = parse_upload("f.csv", b"Name,,Name\nA\n")

    assert parsed.columns == ("Name", "#2", "Name (2)")
    assert parsed.rows == ((2, ("A", "", "")),)


def test_quoted_cells_with_newlines_count_as_one_row() -> None:
    parsed = parse_upload("f.csv", b'Name,Goals\nA,"line one\nline two"\nB,x\n')

    assert parsed.rows[0] == (2, ("A", "line one\nline two"))
    assert parsed.rows[1][0] == 3


def test_xlsx_first_sheet_numbers_and_dates_become_text() -> None:
    content = xlsx(
        [
            ["Etunimi", "ISCO", "Syntymäaika", "Maakunta", "Kapasiteetti"],
            ["Amina", 2142, datetime(1988, 5, 1), 1, 2.0],
            [None, None, None, None, None],
            ["Olena", "2221", None, "Uusimaa", 1.5],
        ],
        first_row=3,
        extra_sheet=True,
    )

    parsed = parse_upload("hakijat.xlsx", content)

    assert parsed.columns == ("Etunimi", "ISCO", "Syntymäaika", "Maakunta", "Kapasiteetti")
    assert parsed.rows == (
        (4, ("Amina", "2142", "1988-05-01", "1", "2")),
        (6, ("Olena", "2221", "", "Uusimaa", "1.5")),
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (7.0, "7"), (0.25, "0.25"), ("  x ", "  x "), (42, "42")],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("filename", "content", "kind"),
    [
        ("file.pdf", b"%PDF-1.4", "wrong_type"),
        ("file.xls", b"\xd0\xcf\x11\xe0", "wrong_type"),
        ("noextension", b"a,b\n1,2\n", "wrong_type"),
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\xef\xbb\xbf\r\n  \n", "empty"),
        ("separators.csv", b";;;\n;;\n", "empty"),
        ("header.csv", b"Name;Email\n", "no_rows"),
        ("fake.xlsx", b"Name,Email\nA,a@b.fi\n", "unreadable"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "unreadable"),
        ("zip.csv", b"PK\x03\x04\x14\x00\x00\x00", "unreadable"),
        ("binary.csv", b"Name\x00\x01\x02\nA\x00", "unreadable"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_with_a_reason(
    filename: str, content: bytes, kind: str
) -> None:
    with pytest.raises(ParseError) as refused:
        parse_upload(filename, content)
    assert refused.value.kind == kind


def test_an_empty_xlsx_and_one_with_only_headers_are_refused() -> None:
    with pytest.raises(ParseError) as empty:
        parse_upload("e.xlsx", xlsx([]))
    assert empty.value.kind == "empty"
    with pytest.raises(ParseError) as headers_only:
        parse_upload("h.xlsx", xlsx([["Etunimi", "Sähköposti"]]))
    assert headers_only.value.kind == "no_rows"


def test_size_and_row_limits() -> None:
    with pytest.raises(ParseError) as large:
        parse_upload("big.csv", b"a\n" + b"x\n" * 600, max_bytes=1000)
    assert large.value.kind == "too_large"
    many = b"Name\n" + b"x\n" * (MAX_ROWS + 1)
    with pytest.raises(ParseError) as rows:
        parse_upload("many.csv", many, max_bytes=len(many))
    assert rows.value.kind == "too_many_rows"
    blank = b"Name\n" + b";\n" * (MAX_SCANNED + 2) + b"x\n"
    with pytest.raises(ParseError) as scanned:
        parse_upload("blank.csv", blank, max_bytes=len(blank))
    assert scanned.value.kind == "too_many_rows"


def test_a_sheet_wider_than_the_limit_is_refused_and_padding_is_not_read() -> None:
    wide = xlsx([[f"c{i}" for i in range(MAX_COLUMNS + 5)], ["x"]])
    with pytest.raises(ParseError) as refused:
        parse_upload("wide.xlsx", wide)
    assert refused.value.kind == "too_many_columns"


def test_decode_and_file_kind() -> None:
    assert decode("é".encode()) == ("é", "utf-8")
    assert decode(b"\xe9") == ("é", "cp1252")
    assert decode(b"\x81")[1] == "latin-1"  # undefined in cp1252
    assert (file_kind("A.XLSX"), file_kind("b.csv"), file_kind("c.txt")) == ("xlsx", "csv", None)
