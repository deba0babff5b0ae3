"""Drop files on disk: find them, fingerprint them, archive or reject them."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

_READ_BLOCK = 1 << 20


class FileRejected(Exception):
    """The file cannot be read at all; the message is safe to show (no row data)."""


def pending_files(inbox: Path) -> list[Path]:
    """CSV drops waiting in ``inbox``, oldest name first (case-insensitive .csv)."""
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _free_name(target: Path) -> Path:
    """``target`` or, if taken, ``name.1.csv``, ``name.2.csv`` ... (never overwrite)."""
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def archive_target(path: Path, archive_dir: Path, sha256: str) -> Path:
    """Where a processed drop goes: prefixed by its hash, never over another file."""
    return _free_name(archive_dir / f"{sha256[:12]}_{path.name}")


def archive(path: Path, target: Path) -> Path:
    """Move a processed drop to its archive place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    return target


def reject(path: Path, reason: str) -> Path:
    """Move an unreadable drop to ``rejected/`` with a ``.reason.txt`` beside it."""
    rejected_dir = path.parent / "rejected"
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(rejected_dir / path.name)
    shutil.move(str(path), target)
    reason_file = target.with_name(target.name + ".reason.txt")
    tmp = reason_file.with_suffix(".tmp")
    tmp.write_text(reason.rstrip() + "\n", encoding="utf-8")
    os.replace(tmp, reason_file)
    return target
