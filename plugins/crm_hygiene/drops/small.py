"""Small drops (requests, review decisions, legal holds): read whole, each bad
row quarantined, the drop registered with its counts in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import Connection

from crm_hygiene.audit import write_audit
from crm_hygiene.drops.cells import wire_timestamp
from crm_hygiene.drops.quarantine import QuarantineRow, identity_keys, quarantine_rows, record_keys
from crm_hygiene.drops.reader import CsvDrop, DropRecord
from crm_hygiene.drops.registry import Drop, register_drop
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo, utc_now

Parsed = TypeVar("Parsed")


class SmallDropReader:
    """The rows of a small drop fit to parse; the others kept in `bad` as quarantine rows."""

    def __init__(self, drop: Drop, csv_drop: CsvDrop, keep_columns: tuple[str, ...] | None = None) -> None:
        self.drop, self.csv_drop = drop, csv_drop
        # keep_columns: the only cells a bad row keeps (None: all of them).
        self.keep_columns = keep_columns
        self.bad: list[QuarantineRow] = []
        self._now = wire_timestamp(utc_now())

    def good_records(self) -> Iterator[DropRecord]:
        for record in self.csv_drop.records():
            if record.problems:
                self.quarantine(record, list(record.problems))
            else:
                yield record

    def quarantine(self, record: DropRecord, reasons: list[str]) -> None:
        raw = record.raw_json()
        if self.keep_columns is not None:
            kept = record._replace(cells={c: record.cells.get(c, "") for c in self.keep_columns})
            raw = kept.raw_json(frozenset({"(unsplit rows keep nothing)"}) if record.unsplit else frozenset())
        keys = record_keys(record) if record.unsplit is not None else identity_keys(record.cells)
        self.bad.append(QuarantineRow(self.drop.kind, self.drop.name, self.drop.sha256, record.row_number,
                                      ";".join(reasons), raw, *keys, self._now))


def read_small_drop(
    drop: Drop, policy: Policy, required: tuple[str, ...], optional: tuple[str, ...],
    parse: Callable[[dict[str, str]], tuple[Parsed | None, list[str]]],
    keep_columns: tuple[str, ...] | None = None,
) -> tuple[list[Parsed], list[QuarantineRow]]:
    """Every row of a small drop through `parse` (a value, or the reasons it cannot be
    one): the values in file order, and the bad rows as quarantine rows."""
    parsed: list[Parsed] = []
    with CsvDrop(drop.path, required=required, known=optional,
                 lengths=policy.input_validation.max_cell_length) as csv_drop:
        small = SmallDropReader(drop, csv_drop, keep_columns)
        for record in small.good_records():
            value, reasons = parse(record.cells)
            if value is None:
                small.quarantine(record, reasons)
            else:
                parsed.append(value)
    return parsed, small.bad


def record_small_drop(conn: Connection, drop: Drop, run: RunInfo, rows_good: int, bad: list[QuarantineRow],
                      what: str) -> int:
    """Quarantine a small drop's bad rows, register the drop and audit the quarantine
    (`what` names the rows, e.g. "request rows"; counts only, never values).
    Returns the drop's file_id, for rows that name the drop they came from."""
    quarantine_rows(conn, bad)
    file_id = register_drop(conn, drop, run, rows_read=rows_good + len(bad), rows_quarantined=len(bad))
    if bad:
        write_audit(conn, run, "quarantine_rows", subject_ref=drop.subject_ref,
                    reason=f"{what} failed checks", rows_affected=len(bad))
    return file_id
