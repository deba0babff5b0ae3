"""Read a CSV drop record by record, so that a bad row costs that row only.

The file is opened without following links and read as bytes, one physical
line at a time, so memory does not grow with the file and no single line can
take more than ``MAX_RECORD_BYTES``. Problems of the whole file (empty, not
text, UTF-16, a zip, no header, a missing column) raise FileRejected with a
reason that quotes no cell. Problems of one row come back as a record with
reason codes, and reading goes on with the next line:

- a quote opened and never closed spoils only its own line: lines are joined
  while quotes are unbalanced (a quoted newline), but if no closing quote
  comes within ``MAX_RECORD_LINES`` lines, or the joined lines do not make a
  row of the header's width, the first line alone is quarantined
  (``unbalanced_quote``) and reading resumes on the line after it;
- ``too_many_fields`` / ``too_few_fields``, ``value_in_unnamed_column``,
  ``nul_character``, ``encoding_invalid``, ``row_too_long`` and
  ``<column>_too_long`` (the policy's ``input_validation.max_cell_length``).

Blank lines and rows of nothing but commas carry nothing and are skipped.
"""

from __future__ import annotations

import csv
import json
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import gt
from pathlib import Path
from typing import BinaryIO, NamedTuple

from crm_hygiene.drops.files import FileRejected, open_drop
from crm_hygiene.policy import CellLengths

MAX_RECORD_BYTES = 1 << 20  # one row, quoted newlines included
MAX_RECORD_LINES = 200  # physical lines one quoted row may span
KEPT_RAW_CHARS = 64 << 10  # of a row too long to keep whole, what quarantine keeps
_SNIFF_BYTES = 1 << 16
_UTF8_BOM = b"\xef\xbb\xbf"
_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive (an .xlsx workbook is one)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old-style Excel or Word file",
}
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))
REDACTED = "[redacted]"


class DropRecord(NamedTuple):
    """One data row of a drop as it arrived."""

    row_number: int  # 1-based, counting the data rows read (blank lines are not rows)
    cells: dict[str, str]  # by normalised header name; empty when the row could not be split
    problems: tuple[str, ...]  # reason codes; empty for a row fit to check further
    unsplit: str | None = None  # the row's text when it could not be split into cells

    def raw_json(self, redact: frozenset[str] = frozenset()) -> str:
        """The row for ``quarantine.raw_row``; cells named in `redact` replaced."""
        if self.unsplit is not None:
            text = self.unsplit if not redact else f"{REDACTED}: row could not be split into cells"
            return json.dumps({"_raw": text}, ensure_ascii=False)
        return json.dumps({k: (REDACTED if k in redact and v.strip() else v) for k, v in self.cells.items()},
                          ensure_ascii=False)


def normalise_header(name: str) -> str:
    """Contract: header names match case-insensitively, surrounding spaces ignored."""
    return name.strip().lower()


class _Line(NamedTuple):
    data: bytes
    too_long: bool


class _Lines:
    """Physical lines of the file's body with one line of push-back, each cut at MAX_RECORD_BYTES."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._back: deque[_Line] = deque()
        self.bytes_read = 0  # of lines handed out (pushed-back lines count again: an estimate)

    def next(self) -> _Line | None:
        if self._back:
            return self._back.popleft()
        data = self._fh.readline(MAX_RECORD_BYTES + 1)
        if not data:
            return None
        self.bytes_read += len(data)
        if len(data) <= MAX_RECORD_BYTES or data.endswith(b"\n"):
            return _Line(data, False)
        kept = data[:KEPT_RAW_CHARS]
        while data and not data.endswith(b"\n"):  # skip the rest of the line
            data = self._fh.readline(MAX_RECORD_BYTES)
        return _Line(kept, True)

    def push_back(self, lines: Iterable[_Line]) -> None:
        self._back.extendleft(reversed(list(lines)))


class _OneRecordFeed:
    """Hands the csv module one record at a time, so one reader parses every row."""

    def __init__(self) -> None:
        self.item: str | None = None

    def __iter__(self) -> _OneRecordFeed:
        return self

    def __next__(self) -> str:
        item, self.item = self.item, None
        if item is None:
            raise StopIteration
        return item


@dataclass
class _Splitter:
    feed: _OneRecordFeed
    reader: Iterator[list[str]]

    @classmethod
    def new(cls) -> _Splitter:
        feed = _OneRecordFeed()
        return cls(feed, csv.reader(feed))

    def split(self, text: str) -> list[str] | None:
        """The record's cells; None when the csv module cannot split it."""
        if '"' not in text:
            return text.rstrip("\r\n").split(",")  # no quotes: commas are all separators
        self.feed.item = text
        try:
            return next(self.reader)
        except StopIteration:
            return []
        except csv.Error:
            return None


def _sniff(head: bytes) -> None:
    """FileRejected when the first block shows the file is not UTF-8 CSV text at all."""
    if not head.strip():
        raise FileRejected("file is empty")
    sample = head[:128]
    # UTF-16 text of Latin letters has a NUL in every other byte, BOM or not.
    mostly_nul_pairs = len(sample) >= 8 and max(sample[0::2].count(0), sample[1::2].count(0)) * 4 >= len(sample) * 3 // 2
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or mostly_nul_pairs:
        raise FileRejected("file is UTF-16 (or UTF-32) text: save it as UTF-8 CSV")
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise FileRejected(f"file is binary ({what}), not CSV text: export it as CSV (UTF-8)")
    first_line = head.split(b"\n", 1)[0]
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    if b"\x00" in first_line or controls > len(head) // 10:
        raise FileRejected("file is binary, not CSV text: export it as CSV (UTF-8)")
    if b"\r" in head and b"\n" not in head:
        raise FileRejected("file has old Mac (CR-only) line endings: save it with Windows or Unix line endings")


def _looks_like_data(names: list[str]) -> bool:
    return any("@" in n or (n and n.replace("+", "").replace(" ", "").isdigit()) for n in names)


def _delimiter_hint(names: list[str]) -> str:
    joined = ",".join(names)
    if ";" in joined:
        return " (the file looks semicolon-separated: the contract asks for commas)"
    if "\t" in joined:
        return " (the file looks tab-separated: the contract asks for commas)"
    return ""


class CsvDrop:
    """A drop opened for reading: its checked header, then its records.

    `required` columns must be in the header; `known` ones (required and
    optional) get their own ``<column>_too_long`` code; other columns are
    kept for quarantine but checked against the default length only.
    """

    def __init__(self, path: Path, *, required: tuple[str, ...], known: tuple[str, ...] = (),
                 lengths: CellLengths) -> None:
        self.path = path
        self._known = frozenset(required) | frozenset(known)
        self._lengths = lengths
        self._fh = open_drop(path)
        try:
            self.header = self._read_header(required)
        except BaseException:
            self._fh.close()
            raise
        # Unnamed columns are checked for being empty instead: no limit of their own.
        self._limit_list = [lengths.limit(name) if name else MAX_RECORD_BYTES for name in self.header]
        self._unnamed = [i for i, name in enumerate(self.header) if not name]
        self.rows_read = 0

    def __enter__(self) -> CsvDrop:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    def _read_header(self, required: tuple[str, ...]) -> list[str]:
        head = self._fh.read(_SNIFF_BYTES)
        _sniff(head)
        self._fh.seek(len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0)
        self._lines = _Lines(self._fh)
        self._splitter = _Splitter.new()
        first = self._lines.next()
        if first is None or first.too_long:
            raise FileRejected("file has no header row" if first is None else "header row is too long")
        try:
            text = first.data.decode("utf-8")
        except UnicodeDecodeError:
            raise FileRejected("header is not UTF-8 text: save the file as UTF-8 CSV") from None
        cells = self._splitter.split(text)
        # Empty names stay as unnamed columns (spreadsheets end a header in
        # ',,,'): a value under one is flagged, an empty cell is not.
        names = [normalise_header(c) for c in cells or []]
        if not any(names):
            raise FileRejected("file has no header row")
        if _looks_like_data(names):
            raise FileRejected("file has no header row: its first row looks like data; "
                               "add the header row the contract gives")
        repeated = sorted({n for n in names if n and names.count(n) > 1})
        if repeated:
            named = [n for n in repeated if n in self._known]
            raise FileRejected("header repeats column(s): " + (", ".join(named) if named else
                               f"{len(repeated)} unexpected name(s)"))
        missing = [c for c in required if c not in names]
        if missing:
            raise FileRejected(f"required column(s) missing: {', '.join(missing)}{_delimiter_hint(names)}")
        return names

    def _slow_record(self, first: _Line) -> tuple[list[str] | None, tuple[str, ...], str | None]:
        """A record that starts with a line holding quotes, a NUL or too many bytes:
        (cells, problems, unsplit text), joining lines for quoted newlines."""
        lines = self._lines
        if first.too_long:
            return None, ("row_too_long",), first.data.decode("utf-8", "backslashreplace")
        parts, quotes, size = [first], first.data.count(b'"'), len(first.data)
        while quotes % 2 and len(parts) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
            nxt = lines.next()
            if nxt is None:
                break
            if nxt.too_long:
                lines.push_back([nxt])
                break
            parts.append(nxt)
            quotes += nxt.data.count(b'"')
            size += len(nxt.data)
        if quotes % 2:
            lines.push_back(parts[1:])
            return None, ("unbalanced_quote",), first.data.decode("utf-8", "backslashreplace")
        data = first.data if len(parts) == 1 else b"".join(part.data for part in parts)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, ("encoding_invalid",), data.decode("utf-8", "backslashreplace")
        cells = self._splitter.split(text)
        if cells is None:
            return None, ("malformed_row",), text
        if len(parts) > 1 and len(cells) != len(self.header) and not self._only_empty_extras(cells):
            # The 'quoted newline' joined rows that were separate: a stray
            # quote on the first line. Only that line is bad.
            lines.push_back(parts[1:])
            return None, ("unbalanced_quote",), first.data.decode("utf-8", "backslashreplace")
        if "\x00" in text:
            return None, ("nul_character",), text
        return cells, (), None

    def _only_empty_extras(self, cells: list[str]) -> bool:
        return len(cells) > len(self.header) and not any(c.strip() for c in cells[len(self.header):])

    def rows(self) -> Iterator[tuple[int, list[str] | None, tuple[str, ...], str | None]]:
        """(row number, cells in header order or None, problems, unsplit text) for every
        data row: the hot loop, kept free of per-cell Python where it can be."""
        lines, width = self._lines, len(self.header)
        # A row may stop before trailing unnamed columns: it has every named cell.
        named_width = max(i for i, name in enumerate(self.header) if name) + 1
        limits, lowest_limit = self._limit_list, min(self._limit_list)
        unnamed = self._unnamed
        while (line := lines.next()) is not None:
            data = line.data
            cells = None
            if not line.too_long and b'"' not in data and b"\x00" not in data:
                try:
                    cells = data.decode("utf-8").rstrip("\r\n").split(",")  # no quotes: every comma separates
                    problems, unsplit = (), None
                except UnicodeDecodeError:
                    cells, problems, unsplit = None, ("encoding_invalid",), data.decode("utf-8", "backslashreplace")
            else:
                cells, problems, unsplit = self._slow_record(line)
            if cells is not None and not "".join(cells).strip():
                continue  # a blank line, or a row of nothing but commas
            self.rows_read += 1
            if cells is None:
                yield self.rows_read, None, problems, unsplit
                continue
            codes: list[str] = []
            if len(cells) != width:
                if len(cells) > width:
                    if "".join(cells[width:]).strip():
                        codes.append("too_many_fields")
                    cells = cells[:width]
                else:
                    if len(cells) < named_width:
                        codes.append("too_few_fields")
                    cells = cells + [""] * (width - len(cells))
            if unnamed and any(cells[i].strip() for i in unnamed):
                codes.append("value_in_unnamed_column")
            if max(map(len, cells)) > lowest_limit and any(map(gt, map(len, cells), limits)):
                codes += [self._too_long_code(i) for i, cell in enumerate(cells) if len(cell) > limits[i]]
            yield self.rows_read, cells, tuple(codes), None

    def _too_long_code(self, i: int) -> str:
        name = self.header[i]
        return f"{name}_too_long" if name in self._known else "extra_column_too_long"

    def records(self) -> Iterator[DropRecord]:
        """Every data row in file order, good or not (see the module docstring)."""
        names = self.header
        for row_number, cells, problems, unsplit in self.rows():
            if cells is None:
                yield DropRecord(row_number, {}, problems, unsplit)
            else:
                yield DropRecord(row_number, {n: c for n, c in zip(names, cells, strict=True) if n}, problems)


@dataclass
class RawChunk:
    """Consecutive good rows of a file, by column; every cell a string ('' when empty)."""

    columns: dict[str, list[str]]
    row_numbers: list[int]
    # No row of the file comes after these (chunked() knows; False when not known).
    ends_file: bool = False

    @property
    def n_rows(self) -> int:
        return len(self.row_numbers)

    def column(self, name: str) -> list[str]:
        return self.columns[name] if name in self.columns else [""] * self.n_rows

    def raw_row_json(self, i: int) -> str:
        return json.dumps({name: cells[i] for name, cells in self.columns.items()}, ensure_ascii=False)

    # Sent to a worker process, a column travels as one string and the row
    # numbers as one array: pickling 20,000 small strings one by one cost
    # ~3 us a row on each side, joining and splitting them ~0.5.
    def __getstate__(self) -> tuple[dict[str, str | list[str]], array, bool]:
        packed: dict[str, str | list[str]] = {}
        for name, cells in self.columns.items():
            text = _CELL_SEPARATOR.join(cells)
            # Joined only when no cell holds the separator (a good row holds no NUL), so split gives the cells back.
            packed[name] = text if cells and text.count(_CELL_SEPARATOR) == len(cells) - 1 else cells
        return packed, array("q", self.row_numbers), self.ends_file

    def __setstate__(self, state: tuple[dict[str, str | list[str]], array, bool]) -> None:
        packed, numbers, self.ends_file = state
        self.columns = {name: cells.split(_CELL_SEPARATOR) if isinstance(cells, str) else cells
                        for name, cells in packed.items()}
        self.row_numbers = numbers.tolist()


_CELL_SEPARATOR = "\x00"


# A chunk also ends at this much text, so a file of wide rows (a legal row
# may be 1 MiB) does not hold 20,000 of them in memory at once.
CHUNK_BYTES = 32 << 20


def chunked(drop: CsvDrop, chunk_rows: int) -> Iterator[tuple[RawChunk, list[DropRecord]]]:
    """The drop's rows in chunks (at most `chunk_rows` rows or about CHUNK_BYTES of
    text): good rows by column, and the rows already known bad. The last chunk
    says so (``ends_file``): one row is read ahead to know."""
    header = drop.header
    named = [i for i, name in enumerate(header) if name]
    good: list[list[str]] = []
    numbers: list[int] = []
    bad: list[DropRecord] = []
    chunk_start = 0
    rows = drop.rows()
    following = next(rows, None)
    while following is not None:
        row_number, cells, problems, unsplit = following
        if cells is None or problems:
            bad.append(DropRecord(row_number, {} if cells is None else
                                  {n: c for n, c in zip(header, cells, strict=True) if n}, problems, unsplit))
        else:
            good.append(cells)
            numbers.append(row_number)
        read = drop.bytes_read
        full = len(good) + len(bad) >= chunk_rows or read - chunk_start >= CHUNK_BYTES
        following = next(rows, None)
        if full or following is None:
            yield _chunk(header, named, good, numbers, ends_file=following is None), bad
            good, numbers, bad = [], [], []
            chunk_start = read


def _chunk(header: list[str], named: list[int], good: list[list[str]], numbers: list[int], *,
           ends_file: bool) -> RawChunk:
    by_column = list(zip(*good, strict=True)) if good else [() for _ in header]
    return RawChunk({header[i]: list(by_column[i]) for i in named}, numbers, ends_file)
