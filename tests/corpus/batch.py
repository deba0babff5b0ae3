"""Run a whole inbox of corpus drops through one kind's entry point and record
what became of every file, so the tests can compare it with each case's promise.

One run takes every file, as a DAG run would: one poison file must not stop
the next. Should the run raise anyway, that is recorded and the remaining files
are run one at a time (a file that raises is moved aside as "crashed"), so each
case still gets its own verdict.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from drops import TODAY
from sqlalchemy import Engine, text

from corpus.cases import Drop, resolve_placeholders
from corpus.kinds import DropKindAdapter, Folders
from crm_hygiene.run import RunInfo

REASON_SUFFIX = ".reason.txt"


class FileOutcome(NamedTuple):
    """How a file ended: processed, rejected, set_aside, crashed, left_in_inbox or missing."""

    end: str
    reason: str | None = None


@dataclass
class BatchResult:
    drops: list[Drop]
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)
    registered: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (rows_read, rows_quarantined)
    quarantine: dict[str, dict[int, tuple[set[str], int]]] = field(default_factory=dict)  # row -> (codes, raw len)
    quarantine_text: str = ""
    loaded: dict[str, int] = field(default_factory=dict)
    absent_loaded: dict[str, int] = field(default_factory=dict)
    stored: dict[str, dict[str, str | None]] = field(default_factory=dict)  # email -> column -> value
    audit_text: str = ""
    audit_actions: dict[str, int] = field(default_factory=dict)  # action -> rows
    summary_reasons: dict[str, str] = field(default_factory=dict)  # file name -> reason in the run summary
    summary_text: str = ""
    reasons_text: str = ""
    run_errors: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)  # written where no run may write
    outside_changed: list[str] = field(default_factory=list)
    fifos_opened: list[str] = field(default_factory=list)


def _tree(root: Path) -> dict[str, str]:
    """Every entry under `root` (links not followed) -> a fingerprint of what it is."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[str(path)] = "link:" + os.readlink(path)
            elif stat.S_ISREG(mode):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISDIR(mode):
                found[str(path)] = "dir"
            else:
                found[str(path)] = "special"
    return found


class FifoWatch:
    """Notices when anyone opens a FIFO drop for reading, and unblocks them (EOF),
    so a layer that reads one fails its test instead of hanging the suite."""

    def __init__(self, paths: list[Path]):
        self.paths, self.opened = paths, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        if self.paths:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.paths:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            for path in self.paths:
                for candidate in (path, path.parent / "rejected" / path.name):
                    try:
                        fd = os.open(candidate, os.O_WRONLY | os.O_NONBLOCK)
                    except OSError as exc:  # ENXIO: nobody reading; ENOENT: moved
                        if exc.errno not in (errno.ENXIO, errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                            raise
                        continue
                    os.close(fd)
                    if path.name not in self.opened:
                        self.opened.append(path.name)


def _run_once(kind: DropKindAdapter, engine: Engine, folders: Folders, summaries: list[dict]) -> None:
    run = RunInfo(dag_id=f"corpus_{kind.name}", run_id=f"corpus-{len(summaries)}", today=TODAY)
    summaries.append(kind.run(engine, folders, run))


def _pending(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.iterdir() if p.name != "rejected")


def run_batch(engine: Engine, base: Path, kind: DropKindAdapter, drops: list[Drop]) -> BatchResult:
    data, outside = base / "work" / "data", base / "outside"
    folders = Folders(data / "inbox" / kind.name, data / "archive" / kind.name, data / "exports" / "dsr")
    folders.inbox.mkdir(parents=True)
    outside.mkdir(parents=True)
    drops = [resolve_placeholders(d, outside) for d in drops]
    result = BatchResult(drops)
    fifos = []
    for drop in drops:
        entry = folders.inbox / drop.name
        if drop.content is not None:
            entry.write_bytes(drop.content)
        else:
            drop.make(entry, outside)
            if entry.is_fifo():
                fifos.append(entry)
    before = _tree(base)

    summaries: list[dict] = []
    crashed: dict[str, str] = {}
    with FifoWatch(fifos) as watch:
        try:
            _run_once(kind, engine, folders, summaries)
        except Exception as exc:  # noqa: BLE001 - the point is to see what escapes
            result.run_errors.append(f"one run over the inbox raised {type(exc).__name__}")
            _one_at_a_time(kind, engine, folders, base / "crashed", summaries, crashed)
        result.fifos_opened = list(watch.opened)

    after = _tree(base)
    allowed = (str(folders.archive) + os.sep, str(folders.inbox / "rejected") + os.sep,
               str(folders.exports) + os.sep, str(base / "crashed") + os.sep)
    for path, what in after.items():
        if path in before or path.startswith(allowed) or what == "dir":
            continue
        result.stray_files.append(os.path.relpath(path, base))
    result.outside_changed = sorted(
        os.path.relpath(p, base) for p in set(before) | set(after)
        if p.startswith(str(outside) + os.sep) and before.get(p) != after.get(p))

    set_aside = {name for s in summaries for name in s.get("set_aside", {})}
    for summary in summaries:
        result.summary_reasons.update(summary.get("rejected", {}))
        result.summary_reasons.update(summary.get("set_aside", {}))
    reasons = []
    for drop in drops:
        name = drop.name
        rejected = folders.inbox / "rejected" / name
        if os.path.lexists(folders.inbox / name):
            outcome = FileOutcome("left_in_inbox")
        elif name in crashed:
            outcome = FileOutcome("crashed", crashed[name])
        elif os.path.lexists(rejected):
            reason_file = rejected.with_name(name + REASON_SUFFIX)
            reason = reason_file.read_text(encoding="utf-8") if reason_file.exists() else None
            reasons.append(reason or "")
            outcome = FileOutcome("set_aside" if name in set_aside else "rejected", reason)
        elif folders.archive.is_dir() and any(p.name.split("_", 1)[-1] == name for p in folders.archive.iterdir()):
            outcome = FileOutcome("processed")
        else:
            outcome = FileOutcome("missing")
        result.outcomes[name] = outcome
    result.reasons_text = "\n".join(reasons)
    result.summary_text = json.dumps(summaries, ensure_ascii=False, default=str)
    _read_database(engine, kind, result)
    return result


def _one_at_a_time(kind, engine, folders: Folders, crashed_dir: Path, summaries, crashed: dict[str, str]) -> None:
    """After a run raised: each remaining file alone; one that raises again is moved aside."""
    holding = crashed_dir.parent / "holding"
    holding.mkdir(exist_ok=True)
    crashed_dir.mkdir(exist_ok=True)
    for path in _pending(folders.inbox):
        shutil.move(str(path), holding / path.name)
    for held in sorted(holding.iterdir()):
        entry = folders.inbox / held.name
        shutil.move(str(held), entry)
        try:
            _run_once(kind, engine, folders, summaries)
        except Exception as exc:  # noqa: BLE001
            crashed[held.name] = type(exc).__name__
            if os.path.lexists(entry):
                shutil.move(str(entry), crashed_dir / held.name)


def _read_database(engine: Engine, kind: DropKindAdapter, result: BatchResult) -> None:
    with engine.connect() as conn:
        for name, rows_read, rows_quarantined in conn.execute(text(
                "SELECT file_name, rows_read, rows_quarantined FROM ingested_files")):
            result.registered[name] = (rows_read, rows_quarantined)
        quarantine = conn.execute(text(
            "SELECT source_file, row_number, reasons, raw_row FROM quarantine ORDER BY quarantine_id")).all()
        audit = conn.execute(text("SELECT * FROM audit_log")).all()
        if kind.prospect:
            for email, *values in conn.execute(text(
                    "SELECT email, first_name, last_name, company, job_title FROM prospects")):
                result.stored[email] = dict(zip(("first_name", "last_name", "company", "job_title"), values,
                                                strict=True))
    for source_file, row_number, reasons, raw_row in quarantine:
        result.quarantine.setdefault(source_file, {})[row_number] = (set(reasons.split(";")), len(raw_row or ""))
    result.quarantine_text = "\n".join(str(r[3]) for r in quarantine)
    result.audit_text = "\n".join(json.dumps([str(v) for v in row], ensure_ascii=False) for row in audit)
    for row in audit:
        action = row._mapping["action"]
        result.audit_actions[action] = result.audit_actions.get(action, 0) + 1
    for drop in result.drops:
        result.loaded[drop.name] = kind.loaded(engine, drop.good)
        result.absent_loaded[drop.name] = kind.loaded(engine, list(drop.absent)) if drop.absent else 0
