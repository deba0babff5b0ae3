"""A canonical dump of everything a step leaves behind, for "ends exactly as an
uninterrupted run" comparisons.

What "exactly as" means here (and what it deliberately does not):

* Database: every table of the CRM (found by inspection, so tables added later
  are compared too), every row, as a sorted list - a multiset, so a duplicate
  row shows. Left out, because they differ between two uninterrupted runs:
  surrogate keys (each table's integer ``*_id`` primary key: PostgreSQL does not
  give back sequence numbers a killed transaction took), wall-clock stamps
  (``WALL_CLOCK_COLUMNS``; the run's own ``started_at`` is fixed by the runner,
  so ``completed_at``, ``added_at`` and ``answered_at`` ARE compared) and
  ``run_id``. References to a surrogate key are replaced by the natural key of
  the row they point at (``prospect_id`` -> the prospect's ``match_key``,
  ``file_id`` -> the drop's ``sha256``), also where text carries one
  (``audit_log.subject_ref`` "file_id:3"), so who-is-linked-to-whom is compared.
  Paths stored in the database are compared relative to the data folder.
  Audit rows of an action that finishes a durable to-do (``BATCHED_ACTIONS``:
  erasure follow-ups) are compared as totals per action, since a re-run may
  finish a crashed run's to-do as a batch of its own: how many rows, and which
  DAG wrote them, may differ; what was deleted and counted may not.
* Data folder: every file below it, by path and sha256 of its content, as a
  sorted list (so a drop archived twice shows as two entries). Two differences
  are tolerated: an archive or rejected name may differ only by the ``.N``
  suffix the never-overwrite rule adds (``x.csv`` vs ``x.1.csv``), and in an
  access answer (``exports/dsr/*.json``) the wall-clock stamps of the person's
  record are left out. A left-over temporary file is NOT tolerated. The erasure
  log (``erasure_log/*.jsonl``) is compared as the set of what its readable
  lines record, without when and by which run: a run killed after its append
  and before its commit leaves lines the re-run writes again (or a torn last
  line), which a replay reads as the one entry they are; a missing or a
  different entry still differs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, inspect, text

WALL_CLOCK_COLUMNS = frozenset({
    "created_at", "updated_at", "processed_at", "quarantined_at", "occurred_at", "recorded_at", "queued_at",
})
RUN_COLUMNS = frozenset({"run_id"})
SKIP_TABLES = frozenset({"alembic_version"})
# Natural keys that stand in for references to a surrogate key.
REFERENCES = {"prospect_id": ("prospects", "match_key"), "file_id": ("ingested_files", "sha256")}
# A surrogate key written into text, e.g. audit_log.subject_ref "file_id:3".
_TEXT_REFERENCE = re.compile(r"\b(" + "|".join(REFERENCES) + r"):(\d+)\b")
_N_SUFFIX = re.compile(r"\.\d+(?=\.csv(\.reason\.txt)?$)", re.IGNORECASE)


# An anonymised prospect's match key carries its new id, drawn in random order.
_ANONYMISED_KEY = re.compile(r"^anonymised:\d+$")
# The retention report lists every run of its date, so a re-run after a crash
# adds its own entry: the file must be there, its runs are not compared.
_APPENDED_REPORT = re.compile(r"^reports/retention_\d{4}-\d{2}-\d{2}\.json$")


def _value(value, data_dir: str):
    if isinstance(value, str) and _ANONYMISED_KEY.match(value):
        return "anonymised:#"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and data_dir in value:
        return value.replace(data_dir, "<data>")
    return value


def _surrogate_key(inspector, table: str) -> str | None:
    pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if len(pk) == 1 and pk[0].endswith("_id"):
        column = next(c for c in inspector.get_columns(table) if c["name"] == pk[0])
        if "INT" in str(column["type"]).upper():
            return pk[0]
    return None


def database_dump(engine: Engine, data_dir: Path) -> dict[str, list[tuple]]:
    where = str(data_dir)
    dump: dict[str, list[tuple]] = {}
    # One connection for reflection and reads: on SQLite every transaction takes the
    # write lock (BEGIN IMMEDIATE), so a second connection would wait on the first.
    with engine.connect() as conn:
        inspector = inspect(conn)
        tables = sorted(set(inspector.get_table_names()) - SKIP_TABLES)
        natural = {}
        for ref, (table, column) in REFERENCES.items():
            natural[ref] = {k: "anonymised:#" if isinstance(v, str) and _ANONYMISED_KEY.match(v) else v
                            for k, v in conn.execute(text(f"SELECT {ref}, {column} FROM {table}")).all()}
        for table in tables:
            surrogate = _surrogate_key(inspector, table)
            columns = [c["name"] for c in inspector.get_columns(table)
                       if c["name"] != surrogate and c["name"] not in WALL_CLOCK_COLUMNS | RUN_COLUMNS]
            rows = []
            for row in conn.execute(text(f"SELECT {', '.join(columns)} FROM {table}")):
                values = []
                for name, value in zip(columns, row, strict=True):
                    if name in REFERENCES and value is not None:
                        value = ("->", natural[name].get(value, f"<dangling {name} {value}>"))
                    elif isinstance(value, str):
                        value = _TEXT_REFERENCE.sub(
                            lambda m: f"{m[1]}:->{natural[m[1]].get(int(m[2]), '<dangling>')}", value)
                    values.append(_value(value, where))
                rows.append(tuple(zip(columns, values, strict=True)))
            dump[table] = sorted(rows, key=repr)
    if "audit_log" in dump:
        dump["audit_log"] = _batched_actions_summed(dump["audit_log"])
    return dump


# Audit actions of a durable to-do's file work, one row per file: a re-run after a crash may
# do a file's work in two steps, or in another DAG, so their counts are compared as totals.
# The batch summary (erasure_followups) counts what each batch happened to do and is left out.
BATCHED_ACTIONS = frozenset({"scrub_drop_file", "delete_answer_file"})
SUMMARY_ACTIONS = frozenset({"erasure_followups"})
_SUMMED_DETAILS = ("records_removed", "lines_removed", "cells_emptied")


# The drop-files class row of a sweep counts the files that run deleted; a re-run after
# a crash deletes the rest. Each file's own row (retention_delete_file) is compared.
SUMMARY_SUBJECTS = frozenset({"retention:drop_files"})
# The audit-log class counts the audit log the sweep itself writes to: its table's size
# before and after depends on how many rows a crashed run left; what it deleted does not.
SELF_COUNTING_SUBJECTS = frozenset({"retention:audit_log"})


def _batched_actions_summed(rows: list[tuple]) -> list[tuple]:
    kept, totals = [], {}
    for row in rows:
        cells = dict(row)
        if cells.get("action") in SUMMARY_ACTIONS or cells.get("subject_ref") in SUMMARY_SUBJECTS:
            continue
        if cells.get("subject_ref") in SELF_COUNTING_SUBJECTS and cells.get("details"):
            details = {k: v for k, v in json.loads(cells["details"]).items() if k not in ("before", "after")}
            row = tuple((name, json.dumps(details, sort_keys=True) if name == "details" else value)
                        for name, value in row)
        if cells.get("action") not in BATCHED_ACTIONS:
            kept.append(row)
            continue
        total = totals.setdefault(cells["action"], {"rows_affected": 0, **dict.fromkeys(_SUMMED_DETAILS, 0)})
        total["rows_affected"] += cells.get("rows_affected") or 0
        details = json.loads(cells.get("details") or "{}")
        for name in _SUMMED_DETAILS:
            total[name] += details.get(name, 0)
    kept += [(("action", action), ("totals", tuple(sorted(t.items())))) for action, t in sorted(totals.items())]
    return sorted(kept, key=repr)


def _without_wall_clock(node):
    if isinstance(node, dict):
        return {k: _without_wall_clock(v) for k, v in node.items()
                if k not in WALL_CLOCK_COLUMNS and k != "prospect_id"}
    if isinstance(node, list):
        return [_without_wall_clock(v) for v in node]
    return node


def _file_digest(path: Path, relative: str) -> str:
    if _APPENDED_REPORT.match(relative):
        return "retention report"
    data = path.read_bytes()
    if relative.startswith("exports/dsr/") and relative.endswith(".json"):
        try:
            data = json.dumps(_without_wall_clock(json.loads(data)), sort_keys=True).encode()
        except ValueError:
            pass  # a torn answer is compared byte for byte, and so differs
    return hashlib.sha256(data).hexdigest()[:16]


_ERASURE_LOG_FILE = re.compile(r"^erasure_log/\d{4}-\d{2}-\d{2}\.jsonl$")
_LOG_STAMP = frozenset({"logged_at", "run_id"})


def _erasure_log_entries(paths: list[Path]) -> str:
    """The log's day files as one digest of the distinct entries they record."""
    entries = set()
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # torn by a kill mid-append: its transaction never committed
            entries.add(json.dumps({k: v for k, v in record.items() if k not in _LOG_STAMP}, sort_keys=True))
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:16]


def folder_dump(data_dir: Path) -> list[tuple[str, str]]:
    entries, log_files = [], []
    for path in sorted(data_dir.rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(data_dir).as_posix()
        if _ERASURE_LOG_FILE.match(relative):
            log_files.append(path)  # a kill and a re-run may straddle midnight: one entry for all days
            continue
        entries.append((_N_SUFFIX.sub("", relative), _file_digest(path, relative)))
    if log_files:
        entries.append(("erasure_log/*.jsonl", _erasure_log_entries(log_files)))
    return sorted(entries)


def state_dump(engine: Engine, data_dir: Path) -> dict:
    return {"tables": database_dump(engine, data_dir), "files": folder_dump(data_dir)}


def _compare(what: str, want: list, got: list, limit: int) -> str | None:
    if want == got:
        return None
    missing = list((Counter(want) - Counter(got)).elements())
    extra = list((Counter(got) - Counter(want)).elements())
    return (f"{what}: {len(want)} expected, {len(got)} found; missing {len(missing)} e.g. {missing[:limit]}; "
            f"extra {len(extra)} e.g. {extra[:limit]}")


def differences(expected: dict, actual: dict, limit: int = 2) -> list[str]:
    """What differs, as short lines naming the table or the data folder (empty if nothing).
    Multisets: a row or file present twice where it should be once is a difference."""
    found = [_compare(f"table {t}", expected["tables"].get(t, []), actual["tables"].get(t, []), limit)
             for t in sorted(set(expected["tables"]) | set(actual["tables"]))]
    found.append(_compare("data folder", expected["files"], actual["files"], limit))
    return [f for f in found if f]


def people_count(dump: dict) -> int:
    return len(dump["tables"].get("prospects", []))
