"""The code under fuzzing, reached through one name each, so the hypothesis
properties and the atheris targets follow it when it moves."""

from __future__ import annotations

from pathlib import Path

from crm_hygiene.drops.reader import CsvDrop
from crm_hygiene.policy import load_policy
from crm_hygiene.subject_requests import _parse_row
from fuzz.cases import READER_REQUIRED  # noqa: E402

POLICY = load_policy()


def parse_request_row(row: dict[str, str]):
    """(request or None, reason codes) for one request row."""
    return _parse_row(row, POLICY)


def read_drop(path: Path) -> tuple[list[str], list]:
    """(header, every record) of a drop, as the drop layer reads it; FileRejected
    when the file cannot be read at all. The reader's own checks are the ones
    under test, so the columns asked for are fuzz/cases.READER_REQUIRED."""
    with CsvDrop(path, required=READER_REQUIRED, known=("c",), lengths=POLICY.input_validation.max_cell_length) \
            as drop:
        return drop.header, list(drop.records())


def check_records(header: list[str], records: list) -> None:
    """What every read must give: rows numbered 1, 2, 3 ..., each either fit
    (a cell for every named column) or refused with reason codes."""
    names = [n for n in header if n]
    for expected, record in enumerate(records, start=1):
        if record.row_number != expected:
            raise AssertionError(f"row numbers skip or repeat: {record.row_number} where {expected} was due")
        if record.problems:
            if not all(isinstance(p, str) and p for p in record.problems):
                raise AssertionError("a refused row without a reason code")
        elif sorted(record.cells) != sorted(names) or not all(isinstance(v, str) for v in record.cells.values()):
            raise AssertionError("a fit row without a text cell for every named column")
