"""Archived and rejected drop files past their period.

The clock is the moment a file was archived or rejected: the drop layer dates
the file then (``drops.files.archive``/``reject``) and the erasure scrubber's
rewrites keep that date. A file past its period is deleted (its audit row
first, named by a hash of its path and bytes: a drop's name can be a
person's). A file that names someone an active legal hold names keeps only
their rows, rewritten atomically, until the hold ends; then the next sweep
deletes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from crm_hygiene.erasure_files import (
    ErasedKeys,
    EveryoneBut,
    audit_file_once,
    drop_files,
    file_ref,
    rows_naming,
    scrub_file,
)
from crm_hygiene.run import RunInfo


@dataclass
class DropFileCounts:
    files_before: int = 0
    due: int = 0
    held: int = 0  # due files that name a held person: only their rows are kept
    deleted: int = 0
    rows_removed_for_hold: int = 0  # other people's rows taken out of held files
    files_after: int = 0
    remaining: int = 0  # due, naming nobody held, still there (the re-check)


def _archived_at(path: Path) -> datetime:
    return datetime.fromtimestamp(os.lstat(path).st_mtime, UTC).replace(tzinfo=None)


def _due(data_folder: Path, cutoff: datetime) -> tuple[int, list[Path]]:
    every = list(drop_files(data_folder))
    return len(every), [p for p in every if _archived_at(p) < cutoff]


def count_due(data_folder: Path, cutoff: datetime, held: ErasedKeys) -> DropFileCounts:
    """What a sweep would do, touching nothing."""
    counts = DropFileCounts()
    counts.files_before, due = _due(data_folder, cutoff)
    counts.due = len(due)
    counts.held = sum(1 for p in due if held and rows_naming(p, held))
    counts.remaining = counts.due - counts.held
    counts.files_after = counts.files_before - counts.remaining
    return counts


def sweep_drop_files(engine: Engine, run: RunInfo, data_folder: Path, cutoff: datetime,
                     held: ErasedKeys) -> DropFileCounts:
    """Delete every drop file past `cutoff`; keep only held people's rows in a file naming them."""
    counts = DropFileCounts()
    counts.files_before, due = _due(data_folder, cutoff)
    counts.due = len(due)
    keep_only_held = EveryoneBut(held)
    for path in due:
        if held and rows_naming(path, held):
            counts.held += 1
            counts.rows_removed_for_hold += _keep_only(engine, run, data_folder, path, keep_only_held)
            continue
        audit_file_once(engine, run, "retention_delete_file", file_ref(data_folder, path),
                        "drop file past retention deleted", 1)
        path.unlink(missing_ok=True)
        counts.deleted += 1
    counts.files_after, still_due = _due(data_folder, cutoff)
    counts.remaining = sum(1 for p in still_due if not (held and rows_naming(p, held)))
    return counts


def _keep_only(engine: Engine, run: RunInfo, data_folder: Path, path: Path, keep_only_held: EveryoneBut) -> int:
    def audit(before: Path, result) -> None:
        audit_file_once(engine, run, "retention_scrub_file", file_ref(data_folder, before),
                        "drop file past retention: only rows a legal hold names are kept",
                        result.records_removed + result.lines_removed, result._asdict())

    result = scrub_file(path, keep_only_held, audit)  # type: ignore[arg-type] - same interface
    return result.records_removed + result.lines_removed
