"""The erasure log: every suppression entry and erasure, journaled outside the CRM database.

A database restored from a backup is the CRM as it was when the backup was
taken: everyone erased since is back, and every suppression entry added since
is gone (contract promise 1: "A suppressed or erased person never comes back").
So each change that must outlive a restore is also appended here, as keyed
hashes and ids only, and ``crm_hygiene.erasure_replay`` applies it again after a
restore (``make replay-erasures``). Two kinds of record, one JSON object a line:

* ``suppression``: one new ``suppression_list`` row, exactly as stored (key type,
  keyed hash, key id, reason, scope, added_at, rescreen_at), and whether it
  ``applies`` to the people held (a list's or an objection's entry: suppress,
  do-not-call or erase whoever carries the hash) or only keeps an erased
  person's hash (the rows an erasure adds for everyone it removed);
* ``erased``: who an erasure removed, by the keyed hash of each removed
  record's identity (its email match key; a phone-only record's phone) and the
  reason its hashes were kept under (``erasure`` or ``minor``). A replay erases
  the records with that identity, never everyone who merely carries the phone.

Nothing else: no names, addresses or numbers, only HMACs under the configured
key (the same ``HashKey.digest`` the suppression list uses), key ids, the
subject_ref of the audit log (``request:<id>``, ``file:<sha256>``) and the run.

Files are ``<folder>/<UTC date written>.jsonl``, appended and fsynced inside the
writer's transaction, before its commit: a crash after the append leaves an
entry for a change that never committed, whose replay does what the re-run of
that step does anyway; no crash can leave a committed change out of the log. A
torn last line (a crash mid-append) is skipped when read, and the next append
starts on a line of its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from crm_hygiene import settings
from crm_hygiene.drops.files import fsync_dir
from crm_hygiene.keys import HEX_HMAC
from crm_hygiene.run import RunInfo, utc_now

FORMAT_VERSION = 1
SUPPRESSION, ERASED = "suppression", "erased"
_FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")
_TOKEN = re.compile(r"^[a-z][a-z_]{0,31}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_KEY_TYPES = frozenset({"email", "phone", "domain"})
_SCOPES = frozenset({"all", "email", "phone"})


class ErasureLogError(RuntimeError):
    """The log cannot be written or found: the message says where and what to do (no personal data)."""


class SuppressionRecord(NamedTuple):
    subject_ref: str
    key_type: str
    key_hash: str
    key_id: str
    reason: str
    scope: str
    added_at: str  # as SQLAlchemy writes DateTime on SQLite; PostgreSQL reads it too
    rescreen_at: str | None
    applies: bool


class ErasedRecord(NamedTuple):
    subject_ref: str
    key_type: str  # email: the record's email match key; phone: a phone-only record's phone
    key_hash: str
    key_id: str
    keeps: str  # the suppression reason the erasure kept the hashes under: erasure or minor


@dataclass
class LogContents:
    suppression: list[SuppressionRecord] = field(default_factory=list)
    erased: list[ErasedRecord] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    unreadable: int = 0  # torn by a crash mid-append (its transaction never committed), or damaged


def _moment(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def suppression_records(subject_ref: str, rows: Iterable[Sequence], *, applies: bool) -> list[dict]:
    """Records for the rows an ``INSERT INTO suppression_list ... RETURNING key_type, key_hash,
    key_id, reason, scope, added_at, rescreen_at`` added (every writer returns these, in this order)."""
    return [{"record": SUPPRESSION, "subject_ref": subject_ref, "key_type": key_type, "key_hash": key_hash,
             "key_id": key_id, "reason": reason, "scope": scope, "added_at": _moment(added_at),
             "rescreen_at": _moment(rescreen_at), "applies": applies}
            for key_type, key_hash, key_id, reason, scope, added_at, rescreen_at in rows]


def erased_records(subject_ref: str, keeps: str, identities: Iterable[tuple[str, str, str]]) -> list[dict]:
    """Records for the (key_type, key_hash, key_id) identities an erasure removed."""
    return [{"record": ERASED, "subject_ref": subject_ref, "key_type": key_type, "key_hash": key_hash,
             "key_id": key_id, "keeps": keeps} for key_type, key_hash, key_id in sorted(set(identities))]


def append(run: RunInfo, records: list[dict], folder: Path | None = None) -> None:
    """Append `records` to today's file and fsync it; call inside the transaction, before its commit.

    `folder` defaults to ``settings.erasure_log_dir()``. An append that fails
    raises ErasureLogError, so the caller's transaction rolls back: a change
    that cannot be journaled is not committed.
    """
    if not records:
        return
    folder = folder or settings.erasure_log_dir()
    logged_at = utc_now().isoformat(sep=" ", timespec="microseconds")
    stamp = {"v": FORMAT_VERSION, "logged_at": logged_at, "dag_id": run.dag_id, "run_id": run.run_id}
    payload = "".join(json.dumps({**stamp, **r}, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
    path = folder / f"{logged_at[:10]}.jsonl"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)  # read: the last byte
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one writer at a time: lines never interleave
            data = payload.encode("utf-8")
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a crash tore the last line: ours starts on its own
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        if created:
            fsync_dir(folder)  # the new file's name must survive a power cut too
    except OSError as exc:
        raise ErasureLogError(
            f"cannot append to the erasure log at {folder} ({exc.strerror or type(exc).__name__}): the change "
            "was not committed; make the folder writable (CRM_ERASURE_LOG_DIR, README 'Backups and restores') "
            "and run again") from None


def log_files(folder: Path, since: date | None = None) -> list[Path]:
    """The log's day files, oldest first; from `since` on (by the day they were written) if given."""
    found = []
    for path in folder.iterdir():
        match = _FILE_NAME.match(path.name)
        if match and path.is_file() and (since is None or date.fromisoformat(match.group(1)) >= since):
            found.append(path)
    return sorted(found)


def read(folder: Path, since: date | None = None) -> LogContents:
    """Every readable record of the log (from `since` on); ErasureLogError if there is no log there."""
    if not folder.is_dir():
        raise ErasureLogError(
            f"no erasure log at {folder}: point CRM_ERASURE_LOG_DIR (default $CRM_DATA_DIR/erasure_log) at the "
            "log kept apart from the database backup (README 'Backups and restores'); if nothing was ever "
            "erased or suppressed, there is nothing to replay")
    contents = LogContents()
    for path in log_files(folder, since):
        contents.files += 1
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                contents.lines += 1
                record = _parse(raw)
                if record is None:
                    contents.unreadable += 1
                elif isinstance(record, SuppressionRecord):
                    contents.suppression.append(record)
                else:
                    contents.erased.append(record)
    return contents


def _parse(raw: bytes) -> SuppressionRecord | ErasedRecord | None:
    """A record, or None for a line that is not one (torn, damaged, or of a later format)."""
    try:
        line = json.loads(raw.decode("utf-8"))
        if not isinstance(line, dict) or line.get("v") != FORMAT_VERSION:
            return None
        subject_ref, key_type, key_hash, key_id = (line["subject_ref"], line["key_type"], line["key_hash"],
                                                   line["key_id"])
        if not (isinstance(subject_ref, str) and key_type in _KEY_TYPES and isinstance(key_hash, str)
                and HEX_HMAC.match(key_hash) and isinstance(key_id, str) and _KEY_ID.match(key_id)):
            return None
        if line["record"] == ERASED:
            keeps = line["keeps"]
            if not (isinstance(keeps, str) and _TOKEN.match(keeps)) or key_type == "domain":
                return None
            return ErasedRecord(subject_ref, key_type, key_hash, key_id, keeps)
        if line["record"] != SUPPRESSION:
            return None
        reason, scope, added_at, rescreen_at, applies = (line["reason"], line["scope"], line["added_at"],
                                                         line["rescreen_at"], line["applies"])
        if not (isinstance(reason, str) and _TOKEN.match(reason) and scope in _SCOPES
                and isinstance(applies, bool) and isinstance(added_at, str)):
            return None
        datetime.fromisoformat(added_at)
        if rescreen_at is not None:
            date.fromisoformat(rescreen_at)
        return SuppressionRecord(subject_ref, key_type, key_hash, key_id, reason, scope, added_at, rescreen_at,
                                 applies)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
