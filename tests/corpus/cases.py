"""The bad-input corpus: each case a named builder of a drop and the outcome it must have.

A case is a function of a kind (corpus.kinds) and returns a Drop, or None
where the case means nothing for that kind (no date column, say). Its outcome
follows the drop layer spec (notes/drop-layer-spec.md):

- Processed: the file is archived; the rows listed are quarantined with (any
  of) the reason codes given, no other row is, and every good row is loaded;
- Rejected: the file is in ``rejected/`` with a reason holding every phrase
  of ``all_of`` and, when given, one of ``any_of``.

Every good row and every hostile value is "planted": no file reason, audit
row or run summary may contain it.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from drops import TODAY

from corpus.kinds import DropKindAdapter


class Processed(NamedTuple):
    quarantined: dict[int, tuple[str, ...]]  # data row number -> any of these reason codes


class Rejected(NamedTuple):
    all_of: tuple[str, ...]
    any_of: tuple[str, ...] = ()


class StoredText(NamedTuple):
    """For prospect kinds: the person with this email holds this value in this column."""

    email: str
    column: str
    value: str


class Drop(NamedTuple):
    name: str  # file name in the inbox
    content: bytes | None  # None: `make` creates the inbox entry
    expect: Processed | Rejected
    good: list[dict[str, str]]  # the rows that must be loaded
    planted: tuple[str, ...]  # values no reason, audit row or summary may quote
    stored: tuple[StoredText, ...] = ()
    make: Callable[[Path, Path], None] | None = None  # (entry path, a folder outside the data folder)
    slow: bool = False
    absent: tuple[dict[str, str], ...] = ()  # rows that must NOT be loaded (a link's target)


def csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


class Sheet:
    """A drop being built line by line, with its expected quarantine and good rows."""

    def __init__(self, kind: DropKindAdapter, tag: str, header: list[str] | None = None):
        self.kind, self.tag = kind, tag
        self.header = list(header or kind.header)
        self.lines: list[str | bytes] = [csv_line(self.header)]
        self.good: list[dict[str, str]] = []
        self.quarantined: dict[int, tuple[str, ...]] = {}
        self.planted: list[str] = []
        self.stored: list[StoredText] = []
        self._next = 0

    @property
    def row_number(self) -> int:
        """The data row number the next line gets."""
        return len(self.lines)

    def row(self, **cells: str) -> dict[str, str]:
        """A valid row of this sheet's kind with `cells` replaced (not yet added)."""
        self._next += 1
        row = self.kind.good_row(self._next, self.tag)
        row.update(cells)
        return row

    def cells(self, row: dict[str, str]) -> list[str]:
        return [row.get(name, "") for name in self.header]

    def add_good(self, **cells: str) -> dict[str, str]:
        row = self.row(**cells)
        self.lines.append(csv_line(self.cells(row)))
        self.good.append(row)
        if self.kind.plants_ids:
            self.planted += [row["email"]]
        if self.kind.prospect:
            self.planted.append(row["last_name"])
        return row

    def add_goods(self, n: int = 2) -> None:
        for _ in range(n):
            self.add_good()

    def add_bad(self, codes: tuple[str, ...], *, plant: tuple[str, ...] = (), **cells: str) -> dict[str, str]:
        row = self.row(**cells)
        self.quarantined[self.row_number] = codes
        self.lines.append(csv_line(self.cells(row)))
        self.planted += [p for p in plant if p]
        return row

    def add_raw(self, line: str | bytes, codes: tuple[str, ...] | None = None, plant: tuple[str, ...] = ()) -> None:
        """A line as given; `codes` None means it is a good line whose row is not tracked."""
        if codes is not None:
            self.quarantined[self.row_number] = codes
        self.lines.append(line)
        self.planted += [p for p in plant if p]

    def keep(self, row: dict[str, str], column: str, value: str) -> None:
        if self.kind.prospect:
            self.stored.append(StoredText(row["email"], column, value))

    def content(self, encoding: str = "utf-8") -> bytes:
        return b"".join(line if isinstance(line, bytes) else line.encode(encoding) for line in self.lines)

    def drop(self, name: str, content: bytes | None = None, **extra) -> Drop:
        return Drop(f"{name}.csv", self.content() if content is None else content, Processed(self.quarantined),
                    self.good, tuple(self.planted), tuple(self.stored), **extra)

    def rejected(self, name: str, content: bytes, *all_of: str, any_of: tuple[str, ...] = ()) -> Drop:
        return Drop(f"{name}.csv", content, Rejected(tuple(all_of), any_of), [], tuple(self.planted))


Case = Callable[[DropKindAdapter, str], Drop | None]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


def _sandwich(k: DropKindAdapter, tag: str, codes: tuple[str, ...], plant: tuple[str, ...] = (), **cells) -> Drop:
    """Good, bad (with `cells`), good, good: the bad row is data row 2."""
    sheet = Sheet(k, tag)
    sheet.add_good()
    sheet.add_bad(codes, plant=plant, **cells)
    sheet.add_goods(2)
    return sheet.drop(tag)


def _loads(k: DropKindAdapter, tag: str, column: str, values: list[str], *, stored: bool = True,
           expected: Callable[[str], str] = lambda v: v, header: list[str] | None = None) -> Drop:
    """One good row per value in `column`: all load, and prospect kinds hold `expected(value)`."""
    sheet = Sheet(k, tag, header)
    for value in values:
        row = sheet.add_good(**{column: value})
        if stored:
            sheet.keep(row, column, expected(value))
        if len(value) >= 5 and column in (k.text_column, "first_name", "last_name"):
            sheet.planted.append(value)  # free text: never quoted (ids and dates may be named)
    return sheet.drop(tag)


# --- encodings -------------------------------------------------------------------------------

@case
def utf8_bom(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    return sheet.drop(tag, b"\xef\xbb\xbf" + sheet.content())


@case
def latin1_row_in_utf8_file(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_good(**{k.text_column: "Société Générale ✓"})  # real UTF-8 first
    column = "last_name" if k.prospect else k.text_column
    bad = sheet.row(**{column: "M\u00fcller-Jos\u00e9"})
    sheet.add_raw(csv_line(sheet.cells(bad)).encode("latin-1"), ("encoding_invalid",))
    sheet.add_goods(2)
    return sheet.drop(tag)


@case
def latin1_whole_file(k, tag):
    sheet = Sheet(k, tag, [*k.header, "société"])
    sheet.add_good(**{k.text_column: "Café Zoë"})
    sheet.add_good()
    return sheet.rejected(tag, sheet.content("latin-1"), "not UTF-8")


@case
def utf16_le_bom(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.rejected(tag, sheet.content("utf-16"), "UTF-16")  # Python writes LE with a BOM here


@case
def utf16_be_bom(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.rejected(tag, b"\xfe\xff" + sheet.content("utf-16-be"), "UTF-16")


@case
def utf16_le_no_bom(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.rejected(tag, sheet.content("utf-16-le"), "UTF-16")


@case
def utf32_bom(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.rejected(tag, sheet.content("utf-32"), "UTF-", any_of=("UTF-16", "UTF-32"))


# --- delimiters and line structure -----------------------------------------------------------

def _delimited(k, tag, delimiter: str, word: str):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(sheet.header)
    for row in sheet.good:
        writer.writerow(sheet.cells(row))
    return sheet.rejected(tag, out.getvalue().encode(), "required column", word)


@case
def semicolon_separated(k, tag):
    return _delimited(k, tag, ";", "semicolon")


@case
def tab_separated(k, tag):
    return _delimited(k, tag, "\t", "tab")


@case
def crlf_line_ends(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    return sheet.drop(tag, sheet.content().replace(b"\n", b"\r\n"))


@case
def quoted_newlines_and_quotes(k, tag):
    # Prospect text is tidied (inner whitespace collapsed) before it is stored.
    return _loads(k, tag, k.text_column, ["Acme\nNewline Ltd", 'Acme "Quoted", Ltd', "Acme\r\nCRLF Ltd"],
                  expected=lambda v: " ".join(v.split()))


def _unbalanced(k, tag, last: bool):
    sheet = Sheet(k, tag)
    sheet.add_good()
    if last:
        sheet.add_goods(2)
    cells = sheet.cells(sheet.row())
    position = sheet.header.index(k.text_column)
    cells[position] = '"Unclosed Quote Ltd, and the rest of the line'
    line = ",".join(cells[:position + 1]) + "," + ",".join(cells[position + 1:]) + "\n"
    sheet.add_raw(line, ("unbalanced_quote",))
    if not last:
        sheet.add_goods(2)
    return sheet.drop(tag)


@case
def unbalanced_quote_mid_file(k, tag):
    return _unbalanced(k, tag, last=False)


@case
def unbalanced_quote_last_line(k, tag):
    return _unbalanced(k, tag, last=True)


@case
def truncated_last_line(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    cells = sheet.cells(sheet.row())
    sheet.add_raw(",".join(cells[:len(cells) // 2]), ("too_few_fields",))  # cut mid-row, no line end
    return sheet.drop(tag)


@case
def truncated_inside_quotes(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    cells = sheet.cells(sheet.row())
    position = sheet.header.index(k.text_column)
    sheet.add_raw(",".join(cells[:position]) + ',"Cut Off Inside Quo', ("unbalanced_quote",))
    return sheet.drop(tag)


@case
def cr_only_line_ends(k, tag):
    # Old Mac line ends: the reader reads lines at '\n', so the file must be
    # refused with that reason (not read as one long header, nor called headerless).
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    return sheet.rejected(tag, sheet.content().replace(b"\n", b"\r"), "line ending")


@case
def quoted_header_names(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    header = ",".join(f'"{h}"' for h in sheet.header) + "\n"
    return sheet.drop(tag, header.encode() + sheet.content().split(b"\n", 1)[1])


@case
def upper_case_extension(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.drop(tag)._replace(name=f"{tag}.CSV")


@case
def bom_only(k, tag):
    return Sheet(k, tag).rejected(tag, b"\xef\xbb\xbf", any_of=("file is empty", "no header row"))


@case
def huge_header_line(k, tag):
    # Two megabytes of one header "name" and no line end: refused without quoting it.
    junk = "Plantedheader" + "h" * (2 << 20)
    sheet = Sheet(k, tag)
    sheet.planted.append(junk[:60])
    return sheet.rejected(tag, junk.encode(), any_of=("required column", "header", "too long"))._replace(slow=True)


@case
def empty_file(k, tag):
    return Sheet(k, tag).rejected(tag, b"", "file is empty")


@case
def whitespace_only_file(k, tag):
    return Sheet(k, tag).rejected(tag, b" \n\r\n\t \n", "file is empty")


@case
def header_only(k, tag):
    return Sheet(k, tag).drop(tag)


@case
def header_only_no_line_end(k, tag):
    sheet = Sheet(k, tag)
    return sheet.drop(tag, sheet.content().rstrip(b"\n"))


@case
def blank_header_row(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    content = sheet.content()
    blank = ("," * (len(sheet.header) - 1) + "\n").encode()
    return sheet.rejected(tag, blank + content.split(b"\n", 1)[1], "no header row")


@case
def headerless_file(k, tag):
    # The first row is data (a person): rejecting it must not quote it, even
    # when it repeats a value as a header would repeat a name.
    sheet = Sheet(k, tag)
    row = sheet.row()
    cells = sheet.cells(row)
    email = row.get("email") or f"dup.{tag}@acme-corpus.com"
    cells = [email if c == "" or c == cells[0] else c for c in cells]
    sheet.planted.append(email)
    body = csv_line(cells) + csv_line(sheet.cells(sheet.row()))
    return sheet.rejected(tag, body.encode(), any_of=("required column", "no header row", "header"))


@case
def missing_required_column(k, tag):
    header = [h for h in k.header if h != k.required_to_drop]
    sheet = Sheet(k, tag, header)
    sheet.add_goods(2)
    return sheet.rejected(tag, sheet.content(), "required column", k.required_to_drop)


@case
def duplicated_header_name(k, tag):
    sheet = Sheet(k, tag, [*k.header, k.id_column.upper()])
    sheet.add_goods(2)
    return sheet.rejected(tag, sheet.content(), "header repeats")


@case
def trailing_empty_header_names(k, tag):
    sheet = Sheet(k, tag, [*k.header, "", "", ""])
    sheet.add_goods(3)
    return sheet.drop(tag)


@case
def value_under_empty_header_name(k, tag):
    sheet = Sheet(k, tag, [*k.header, "", "", ""])
    sheet.add_good()
    row = sheet.row()
    planted = f"Stray Value {tag}"
    sheet.add_raw(csv_line([*sheet.cells(row)[:-3], "", planted, ""]), ("value_in_unnamed_column",), (planted,))
    sheet.add_goods(2)
    return sheet.drop(tag)


@case
def extra_unknown_header_names(k, tag):
    header = [*k.header, "favourite_colour", "Linked In URL"]
    sheet = Sheet(k, tag, header)
    for _ in range(3):
        row = sheet.row(favourite_colour="Plantedcolour", **{"Linked In URL": "https://example.org/x"})
        sheet.lines.append(csv_line(sheet.cells(row)))
        sheet.good.append(row)
    return sheet.drop(tag)


@case
def header_case_and_spaces(k, tag):
    header = [f"  {h.upper()} " if i % 2 else h.title() for i, h in enumerate(k.header)]
    sheet = Sheet(k, tag)
    sheet.add_goods(3)
    lines = sheet.content().split(b"\n", 1)
    return sheet.drop(tag, csv_line(header).encode() + lines[1])


# --- ragged rows -----------------------------------------------------------------------------

@case
def too_many_fields(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_good()
    extra = f"Extra Cell {tag}"
    sheet.add_raw(csv_line([*sheet.cells(sheet.row()), extra, "more"]), ("too_many_fields",), (extra,))
    sheet.add_goods(2)
    return sheet.drop(tag)


@case
def too_many_fields_all_empty(k, tag):
    sheet = Sheet(k, tag)
    for _ in range(3):
        row = sheet.row()
        sheet.lines.append(csv_line([*sheet.cells(row), "", "", ""]))
        sheet.good.append(row)
    return sheet.drop(tag)


@case
def too_few_fields(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_good()
    cells = sheet.cells(sheet.row())
    sheet.add_raw(csv_line(cells[:max(1, len(cells) - 3)] if len(cells) > 3 else cells[:1]), ("too_few_fields",))
    sheet.add_goods(2)
    return sheet.drop(tag)


# --- hostile and unusual text ----------------------------------------------------------------

@case
def nul_in_text_cell(k, tag):
    column = "last_name" if k.prospect else k.text_column
    return _sandwich(k, tag, ("nul_character",), **{column: "Nul\x00Byte"})


@case
def nul_in_id_cell(k, tag):
    value = {"email": f"nul\x00.{tag}@acme-corpus.com", "request_id": f"{tag}\x00evil",
             "prospect_id": "12\x0034"}[k.id_column]
    return _sandwich(k, tag, ("nul_character", k.id_invalid), **{k.id_column: value})


@case
def binary_junk(k, tag):
    rng = random.Random(7)
    return Sheet(k, tag).rejected(tag, bytes(rng.randrange(256) for _ in range(4096)), "binary")


@case
def control_characters(k, tag):
    junk = bytes(range(1, 32)) * 40
    return Sheet(k, tag).rejected(tag, junk, any_of=("binary", "no header row"))


@case
def zip_renamed_csv(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("list.csv", sheet.content())
    return sheet.rejected(tag, buffer.getvalue(), "binary")


@case
def gzip_renamed_csv(k, tag):
    sheet = Sheet(k, tag)
    sheet.add_goods(2)
    return sheet.rejected(tag, gzip.compress(sheet.content(), mtime=0), "binary")


@case
def pdf_renamed_csv(k, tag):
    sheet = Sheet(k, tag)
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256))
    return sheet.rejected(tag, pdf, "binary")


@case
def formulas(k, tag):
    return _loads(k, tag, k.text_column, ["=SUM(A1:A9)", "+1+2", "-3+4", "@SUM(1)",
                                          '=HYPERLINK("http://evil.example/?x","click")', "=cmd|' /C calc'!A0"])


@case
def sql_text(k, tag):
    return _loads(k, tag, k.text_column, ["Robert'); DROP TABLE prospects;--", "' OR '1'='1",
                                          "1; DELETE FROM suppression_list", "$$; SELECT pg_sleep(5); $$"])


@case
def html_text(k, tag):
    return _loads(k, tag, k.text_column, ["<script>alert('x')</script>", "<img src=x onerror=alert(1)>",
                                          "&lt;b&gt;Acme&lt;/b&gt; &amp; Co"])


@case
def emoji(k, tag):
    column = "first_name" if k.prospect else k.text_column
    return _loads(k, tag, column, ["Zoë 😀", "👩🏽‍💻 Dev", "🏳️‍🌈"])


@case
def direction_and_invisible_marks(k, tag):
    column = "last_name" if k.prospect else k.text_column
    # Zero-width (non-)joiners (U+200C/D) are not in the list: emoji sequences
    # and Persian or Indic names need them (see the emoji case).
    marks = ["\u200fMarkRtl", "Mark\u200eLtr", "\u202aMarkEmbed\u202c", "\u2066MarkIsolate\u2069",
             "Mark\u200bZero\u2060Width\ufeff", "\u202eMarkOverride", "\u061cMarkArabic"]
    invisible = "".join(chr(c) for c in [0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF,
                                          *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
    return _loads(k, tag, column, [m + tag for m in marks],
                  expected=lambda v: "".join(ch for ch in v if ch not in invisible))


# --- long values -----------------------------------------------------------------------------

@case
def long_value_at_limit(k, tag):
    cell = k.long_cell
    if cell.at_limit is None:
        return None
    return _loads(k, tag, cell.column, [cell.at_limit(tag)], stored=cell.column == "company")


@case
def long_value_over_limit(k, tag):
    cell = k.long_cell
    value = cell.over(cell.limit + 1)
    return _sandwich(k, tag, cell.over_codes, plant=(value,), **{cell.column: value})


def _megabyte(k, tag, size: int, codes: tuple[str, ...]) -> Drop:
    cell = k.long_cell
    value = cell.over(size)
    drop = _sandwich(k, tag, codes, plant=(value[:200],), **{cell.column: value})
    return drop._replace(slow=True)


@case
def one_megabyte_value(k, tag):
    # Used to crash PostgreSQL (a btree index row over its size limit).
    return _megabyte(k, tag, 1_000_000, k.long_cell.over_codes)


@case
def two_megabyte_row(k, tag):
    return _megabyte(k, tag, 2 * 1024 * 1024, ("row_too_long", *k.long_cell.over_codes))


# --- dates -----------------------------------------------------------------------------------

ACCEPTED_DATES = {
    "iso_date": "2026-03-01",
    "iso_timestamp_z": "2026-03-01T10:00:00Z",
    "iso_timestamp_offset": "2026-03-01T10:00:00+02:00",
    "iso_timestamp_space": "2026-03-01 10:00:00",
}
REFUSED_DATES = {
    "non_iso_dd_mm_yyyy": ("01/03/2026", "invalid"),
    "non_iso_words": ("March 1 2026", "invalid"),
    "year_1": ("0001-01-01", "out_of_range"),
    "year_1_with_offset": ("0001-01-01T00:00:00+05:00", "out_of_range"),
    "year_9999_with_offset": ("9999-12-31T23:59:59+05:00", "out_of_range"),
    "year_9999_behind_utc": ("9999-12-31T23:59:59-05:00", "out_of_range"),
    "year_1899": ("1899-12-31", "out_of_range"),
    "year_2101": ("2101-01-01", "out_of_range"),
    "future": ((TODAY + timedelta(days=200)).isoformat(), "in_future"),
    "tomorrow_timestamp": ((TODAY + timedelta(days=1)).isoformat() + "T12:00:00Z", "in_future"),
}


@case
def dates_accepted_formats(k, tag):
    if k.date_column is None:
        return None
    return _loads(k, tag, k.date_column, list(ACCEPTED_DATES.values()), stored=False)


def _date_case(label: str, value: str, suffix: str) -> Case:
    def build(k, tag):
        if k.date_column is None:
            return None
        return _sandwich(k, tag, (f"{k.date_column}_{suffix}",), **{k.date_column: value})
    build.__name__ = f"date_{label}"
    return build


for _label, (_value, _suffix) in REFUSED_DATES.items():
    case(_date_case(_label, _value, _suffix))


def _dob_case(label: str, value: str, suffix: str) -> Case:
    def build(k, tag):
        if "date_of_birth" not in k.header:
            return None
        return _sandwich(k, tag, (f"date_of_birth_{suffix}",), **{"date_of_birth": value})
    build.__name__ = f"date_of_birth_{label}"
    return build


for _label in ("non_iso_dd_mm_yyyy", "year_1_with_offset", "year_9999_behind_utc", "future"):
    case(_dob_case(_label, *REFUSED_DATES[_label]))


# --- numbers ---------------------------------------------------------------------------------

ODD_NUMBERS = {"superscript_two": "²", "arabic_indic_three": "٣", "fullwidth_four": "４",
               "negative": "-5", "fraction": "12.5"}


def _digits_case(label: str, value: str) -> Case:
    def build(k, tag):
        if k.digits_column is None:
            return None
        if k.digits_column == "request_id":
            if value.isascii():
                return None  # '12.5x' is a fine request id: only non-ASCII digits are odd here
            value_ = value + "x"
        else:
            value_ = value
        return _sandwich(k, tag, (k.digits_invalid,), **{k.digits_column: value_})
    build.__name__ = f"number_{label}"
    return build


for _label, _value in ODD_NUMBERS.items():
    case(_digits_case(_label, _value))


@case
def number_too_big(k, tag):
    if k.digits_column == "age":
        return _sandwich(k, tag, ("age_invalid",), age="131")
    if k.digits_column == "prospect_id":
        # 20 digits: over BIGINT on both databases.
        return _sandwich(k, tag, ("prospect_id_invalid",), prospect_id="99999999999999999999")
    return None


# --- request ids and details -----------------------------------------------------------------

def _request_id_case(label: str) -> Case:
    def build(k, tag):
        if k.name != "requests":
            return None
        # An access request: if the id were used as a path, the answer would be
        # written there. The value is fixed once the run knows its outside folder.
        return _sandwich(k, tag, ("request_id_invalid",), request_id=f"@@{label}@@")
    build.__name__ = f"request_id_{label}"
    return build


REQUEST_ID_VALUES: dict[str, Callable[[Path], str]] = {
    "traversal": lambda outside: "../../../dags/evil",
    "absolute_path": lambda outside: str(outside / "absolute_evil"),
    "hidden": lambda outside: ".hidden",
    "slash": lambda outside: "a/b",
    "backslash_traversal": lambda outside: "..\\..\\evil",
    "dot_dot": lambda outside: "..",
}
for _label in REQUEST_ID_VALUES:
    case(_request_id_case(_label))


def resolve_placeholders(drop: Drop, outside: Path) -> Drop:
    """Request ids that name a place outside the data folder, now that it is known."""
    if drop.content is None or b"@@" not in drop.content:
        return drop
    content, planted = drop.content, list(drop.planted)
    for label, value in REQUEST_ID_VALUES.items():
        marker = f"@@{label}@@".encode()
        if marker in content:
            real = value(outside)
            content = content.replace(marker, csv_line([real]).strip().encode())
            if len(real) >= 5:
                planted.append(real)
    return drop._replace(content=content, planted=tuple(planted))


def _details_case(label: str, details: str, codes: tuple[str, ...]) -> Case:
    def build(k, tag):
        if k.name != "requests":
            return None
        return _sandwich(k, tag, codes, details=details)
    build.__name__ = f"details_{label}"
    return build


for _label, _details, _codes in (
    ("deeply_nested_arrays", '{"a":' + "[" * 1990 + "]" * 1990 + "}", ("details_not_json_object",)),
    ("deeply_nested_objects_over_limit", '{"a":' * 20000 + "1" + "}" * 20000,
     ("details_not_json_object", "details_too_long")),
    ("json_list", "[1, 2]", ("details_not_json_object",)),
    ("not_json", "{job_title: CTO", ("details_not_json_object",)),
):
    case(_details_case(_label, _details, _codes))


@case
def request_id_at_length_limit(k, tag):
    if k.name != "requests":
        return None
    return _loads(k, tag, "request_id", [(tag + "-").ljust(128, "q")], stored=False)


@case
def request_type_unknown(k, tag):
    if k.name != "requests":
        return None
    return _sandwich(k, tag, ("type_unknown",), type="delete_everything")


# --- entries that are not plain files --------------------------------------------------------

def _fifo(entry: Path, outside: Path) -> None:
    os.mkfifo(entry)


def _directory(entry: Path, outside: Path) -> None:
    entry.mkdir()
    (entry / "inner.csv").write_text("a,b\n1,2\n")


@case
def symlink_to_a_good_file(k, tag):
    # The link points at a valid drop outside the data folder: it must be
    # neither read (its row stays out) nor moved or changed.
    target_sheet = Sheet(k, f"{tag}_target")
    target_row = target_sheet.add_good()
    content = target_sheet.content()

    def make(entry: Path, outside: Path) -> None:
        target = outside / f"target_{tag}.csv"
        target.write_bytes(content)
        os.symlink(target, entry)

    return Drop(f"{tag}.csv", None, Rejected(("symbolic link",)), [], tuple(target_sheet.planted), make=make,
                absent=(target_row,))


@case
def fifo_named_csv(k, tag):
    return Drop(f"{tag}.csv", None, Rejected(("not a regular file",)), [], (), make=_fifo)


@case
def directory_named_csv(k, tag):
    return Drop(f"{tag}.csv", None, Rejected(("not a regular file",)), [], (), make=_directory)


def build_drops(k: DropKindAdapter, *, slow: bool | None = None) -> list[Drop]:
    """Every case that means something for this kind (only the slow or only the quick ones if asked)."""
    out = []
    for name, build in CASES.items():
        drop = build(k, name)
        if drop is None or (slow is not None and drop.slow != slow):
            continue
        out.append(drop)
    return out
