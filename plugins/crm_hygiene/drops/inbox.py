"""The loop every inbox runs: each file ends processed, rejected or set aside.

- **processed**: the feature's handler did its work and registered the drop
  in one transaction (or, for requests, one per request and a last one for
  the register); then the file moves to ``archive/<kind>/``.
- **rejected**: the handler (or the reader) raised FileRejected: the file
  moves to ``inbox/<kind>/rejected/`` with a ``.reason.txt``, and the run
  fails after the other files, since no retry can fix it.
- **set aside**: any other exception, one nobody foresaw. The file's
  transaction has rolled back; it is moved aside like a rejected one, with
  only the exception's type as its reason (an exception's text can carry cell
  values: a database error quotes the row), and the run fails.

Either way the next file is processed: one poison file never blocks the
inbox. Only a database that cannot be reached stops the loop: that is
transient, so the error is re-raised (without its text) for Airflow's retry,
and the file stays in the inbox untouched.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from crm_hygiene.drops import files
from crm_hygiene.drops.registry import Drop, DropTally, already_processed, audit_once
from crm_hygiene.run import RunInfo

log = logging.getLogger(__name__)

# SQLSTATE classes a retry can cure: connection exception, insufficient
# resources, operator intervention (server shutting down), transaction rollback
# (serialization failure, deadlock).
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "40"})
_SQLITE_TRANSIENT = ("database is locked", "database is busy", "unable to open database")


class DatabaseUnavailable(RuntimeError):
    """The CRM database could not be used for a while: retry the run. Names no value."""


def is_transient(exc: BaseException) -> bool:
    """Whether a retry can cure `exc` (the database went away or was busy)."""
    if not isinstance(exc, DBAPIError):
        return isinstance(exc, ConnectionError | TimeoutError)
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return any(phrase in str(exc.orig).lower() for phrase in _SQLITE_TRANSIENT)


def where_it_failed(exc: BaseException) -> str:
    """The frames an error passed through (file, line, function), without its
    message: enough for the data team to find the cause, nothing of the row."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def reject_drop(engine: Engine, run: RunInfo, path: Path, reason: str, *, action: str = "file_rejected",
                subject_ref: str | None = None) -> None:
    """Audit, then move the file to ``rejected/`` with its reason (safe to repeat after a crash)."""
    audit_once(engine, run, action, subject_ref or f"file:{path.name}", reason)
    files.reject(path, reason)


def set_aside_reason(exc: BaseException) -> str:
    return (f"unexpected error ({type(exc).__name__}) while processing the file; nothing of it was kept. "
            "The run failed: the task log says where. Drop the file again once the cause is fixed.")


def archive_processed_leftovers(engine: Engine, inbox_root: Path, archive_root: Path) -> int:
    """Archive every drop, in any inbox, whose bytes a run committed but that run
    crashed before moving: it is processed. Returns how many were moved.

    Whoever rewrites archived drops (the erasure scrubber) calls this first, so
    a drop waiting for its archive step is not missed by the rewrite.
    """
    moved = 0
    if not inbox_root.is_dir():
        return 0
    for kind_inbox in sorted(p for p in inbox_root.iterdir() if p.is_dir() and not p.is_symlink()):
        for path in files.pending_files(kind_inbox):
            try:
                sha256 = files.sha256_of(path)
            except files.FileRejected:
                continue  # swapped for a link meanwhile: its own run rejects it
            if already_processed(engine, sha256):
                moved += files.archive_unless_taken(
                    path, files.archive_target(path, archive_root / kind_inbox.name, sha256))
    return moved


def process_drops(
    engine: Engine, run: RunInfo, kind: str, inbox: Path, archive_dir: Path,
    handle: Callable[[Drop], None], tally: DropTally,
) -> None:
    """Run `handle` on every new drop in `inbox` and end each file in one of three ways.

    `handle` reads the file (FileRejected for a file that cannot be used),
    does its work and registers the drop (drops.registry.register_drop) in
    its last transaction. Counts go on `tally`.
    """
    for entry in files.pending_entries(inbox):
        path = entry.path
        if entry.refusal is not None:
            reject_drop(engine, run, path, entry.refusal)
            tally.rejected[path.name] = entry.refusal
            log.warning("rejected %s: %s", path.name, entry.refusal)
            continue
        try:
            sha256 = files.sha256_of(path)
        except files.FileRejected as exc:
            reject_drop(engine, run, path, str(exc))
            tally.rejected[path.name] = str(exc)
            continue
        archived_as = files.archive_target(path, archive_dir, sha256)
        if already_processed(engine, sha256):
            files.archive_unless_taken(path, archived_as)
            tally.files_already_processed += 1
            log.info("%s: same bytes processed before; archived, nothing changed", path.name)
            continue
        drop = Drop(kind, path, sha256, archived_as)
        try:
            handle(drop)
        except files.FileRejected as exc:
            reject_drop(engine, run, path, str(exc), subject_ref=drop.subject_ref)
            tally.rejected[path.name] = str(exc)
            log.warning("rejected %s: %s", path.name, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - the point: no file may block the inbox
            if is_transient(exc):
                raise DatabaseUnavailable(
                    f"the CRM database was unavailable ({type(exc).__name__}) while processing {path.name}; "
                    "nothing of the file was kept and it stays in the inbox: the run will be retried") from None
            if already_processed(engine, drop.sha256):
                # A run killed mid-commit had these bytes registered by the time the
                # database finished that commit (after this run looked): done either way.
                files.archive(path, archived_as)
                tally.files_already_processed += 1
                log.info("%s: processed meanwhile by an interrupted run; archived", path.name)
                continue
            reason = set_aside_reason(exc)
            log.error("set aside %s: %s at %s", path.name, type(exc).__name__, where_it_failed(exc))
            reject_drop(engine, run, path, reason, action="file_set_aside", subject_ref=drop.subject_ref)
            tally.set_aside[path.name] = reason
            continue
        try:
            files.archive(path, archived_as)
        except FileNotFoundError:
            # Committed, then archived meanwhile by an erasure's scrubber (which
            # first moves processed drops it finds in any inbox): done either way.
            if not already_processed(engine, drop.sha256):
                raise
        tally.files_loaded += 1
