"""Drop files on disk: find them, fingerprint them, archive or reject them, and
keep every path the pipeline writes or deletes inside the folder it belongs to.

Inbox entries are looked at without following links: a symlink or anything
that is not a regular file is refused (set aside with a reason), never read,
so a link cannot make the pipeline read, move or delete a file elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, NamedTuple

_READ_BLOCK = 1 << 20
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.txt"


class FileRejected(Exception):
    """The file cannot be read at all; the message is safe to show (no cell values)."""


class UnsafePath(ValueError):
    """A name that would put a file outside its folder (the message quotes no value)."""


class InboxEntry(NamedTuple):
    """A drop waiting in an inbox; `refusal` says why it must not be read, if so."""

    path: Path
    refusal: str | None


def _refusal(mode: int) -> str | None:
    if stat.S_ISLNK(mode):
        return "the drop is a symbolic link: drop the file itself, not a link to it"
    if not stat.S_ISREG(mode):
        return "the drop is not a regular file (a folder, pipe or device): drop a CSV file"
    return None


def data_folder_of(inbox: Path) -> Path:
    """The data folder an inbox belongs to (contract: ``$CRM_DATA_DIR/inbox/<kind>/``), so
    work on the whole folder (erasure follow-ups) happens where the drops are."""
    return inbox.parent.parent


def pending_entries(inbox: Path) -> list[InboxEntry]:
    """Every ``*.csv`` entry of ``inbox`` (case-insensitive), by name, links not followed."""
    if not inbox.is_dir():
        return []
    entries = []
    for path in sorted(inbox.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        entries.append(InboxEntry(path, _refusal(os.lstat(path).st_mode)))
    return entries


def pending_files(inbox: Path) -> list[Path]:
    """The regular CSV files waiting in ``inbox``, by name."""
    return [entry.path for entry in pending_entries(inbox) if entry.refusal is None]


def open_drop(path: Path) -> BinaryIO:
    """The drop's bytes, opened without following a link (FileRejected if not a plain file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        # ELOOP: swapped for a link since it was listed.
        raise FileRejected("the drop could not be opened as a plain file") from exc
    if (refusal := _refusal(os.fstat(fd).st_mode)) is not None:
        os.close(fd)
        raise FileRejected(refusal)
    return os.fdopen(fd, "rb")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open_drop(path) as fh:
        while block := fh.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# A name that is one plain path component: no separators, no leading dot
# (so neither '.', '..' nor a hidden file), no control characters.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=@-]{0,199}$")


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, or UnsafePath unless `name` is one plain component that stays in `folder`."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise UnsafePath("name is not a plain file name (letters, digits, _ . + = @ -; no leading dot)")
    target = folder / name
    if not within(folder, target):
        raise UnsafePath("name resolves outside its folder")
    return target


def within(folder: Path, path: Path | str) -> bool:
    """Whether `path` lies inside `folder` once both are resolved (links included)."""
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return Path(path).resolve() != folder.resolve()


def _free_name(target: Path) -> Path:
    """``target`` or, if taken, ``name.1.csv``, ``name.2.csv`` ... (never overwrite)."""
    candidate, n = target, 0
    while os.path.lexists(candidate):
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def archive_target(path: Path, archive_dir: Path, sha256: str) -> Path:
    """Where a processed drop goes: prefixed by its hash, never over another file."""
    return _free_name(archive_dir / f"{sha256[:12]}_{path.name}")


def archive(path: Path, target: Path) -> Path:
    """Move a processed drop to its archive place (a rename: links are moved, not followed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    _stamp(target)
    return target


def archive_unless_taken(path: Path, target: Path) -> bool:
    """Archive a drop found processed, unless another process moved it first (an
    ingest archiving its own file while an erasure's scrubber sweeps leftovers, or
    the reverse): True if this call moved it. Only the pipeline moves inbox files,
    so a drop gone between the look and the move has been archived or rejected."""
    try:
        archive(path, target)
    except FileNotFoundError:
        if path.exists():
            raise
        return False
    return True


def _stamp(path: Path) -> None:
    """Date a file archived or rejected now: its age is the retention clock of
    drop files (a rename keeps whatever time the file came with)."""
    os.utime(path, follow_symlinks=False)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file's name in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, text: str) -> None:
    """Write `text` so that a reader (or a crash) sees the whole file or none of it."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def reject(path: Path, reason: str) -> Path:
    """Move a drop that cannot be used to ``rejected/`` with a ``.reason.txt`` beside it.

    The reason is written first, so a crash between the two steps leaves an
    explained file behind rather than an unexplained one.
    """
    rejected_dir = path.parent / REJECTED_DIR
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(rejected_dir / path.name)
    write_atomically(target.with_name(target.name + REASON_SUFFIX), reason.rstrip() + "\n")
    shutil.move(str(path), target)
    _stamp(target)
    return target
