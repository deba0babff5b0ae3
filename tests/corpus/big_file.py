"""A big research drop made fast (one template block repeated) and, run as a
script, its ingest in a process of its own so a parent can watch its memory.

    python big_file.py DATABASE_URL DATA_DIR    # ingests DATA_DIR/inbox/research/*.csv
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

BLOCK_ROWS = 2_000
BAD_PER_BLOCK = 2  # rows 1 and 1001 of every block have an invalid email
RESULT_PREFIX = "BIG_FILE_RESULT "
HEADER = ("first_name,last_name,email,phone,company,job_title,country,source,source_url,collected_at,"
          "date_of_birth,age,notes\n")


def _block() -> bytes:
    """BLOCK_ROWS rows of distinct people; a repeat of the block names the same people again.

    Rows are long (a 930-character source URL, under the 1000 limit) and have no phone: the test is
    about streaming bytes, and phone parsing would make it about CPU instead.
    """
    lines = []
    for i in range(BLOCK_ROWS):
        email = "not-an-email" if i % 1000 == 1 else f"person{i}.big@acme-corpus.com"
        url = f"https://example.org/profiles/{i}/" + "a" * 900
        lines.append(f"Person{i},Surname{i % 97},{email},,Company {i % 50} Ltd,Engineer,UK,linkedin,{url},"
                     "2026-03-01,,,\n")
    return "".join(lines).encode()


class BigFile:
    """What was written: the path, its size and how many rows are good or bad."""

    def __init__(self, path: Path, blocks: int):
        self.path, self.blocks, self.size = path, blocks, path.stat().st_size
        self.rows = blocks * BLOCK_ROWS
        self.bad_rows = blocks * BAD_PER_BLOCK


def _wide_block(width: int) -> bytes:
    """BLOCK_ROWS // 100 rows whose notes cell is `width` characters: each row is
    quarantined (notes over its limit), and each is far wider than a normal row."""
    notes = "n" * width
    lines = [f"Wide{i},Row{i},wide{i}@acme-corpus.com,,Acme Ltd,Engineer,UK,linkedin,,2026-03-01,,,{notes}\n"
             for i in range(BLOCK_ROWS // 100)]
    return "".join(lines).encode()


def write_big_file(path: Path, target_bytes: int, wide: int | None = None) -> BigFile:
    """A research drop of about `target_bytes`; with `wide`, of rows with a `wide`-character notes cell."""
    block = _block() if wide is None else _wide_block(wide)
    blocks = max(1, target_bytes // len(block))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb", buffering=8 << 20) as fh:
        fh.write(HEADER.encode())
        run = block * 32  # fewer, bigger writes
        full, rest = divmod(blocks, 32)
        for _ in range(full):
            fh.write(run)
        fh.write(block * rest)
    written = BigFile(path, blocks)
    if wide is not None:
        written.rows = written.bad_rows = blocks * (BLOCK_ROWS // 100)
    return written


def main(database_url: str, data_dir: str) -> None:
    from drops import KEYS, POLICY, TODAY

    from crm_hygiene.db import make_engine
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_inbox
    from crm_hygiene.run import RunInfo

    data = Path(data_dir)
    engine = make_engine(database_url)
    started = time.perf_counter()
    summary = ingest_inbox(engine, RESEARCH, POLICY, KEYS, RunInfo("ingest_research_lists", "big", TODAY),
                           data / "inbox" / "research", data / "archive" / "research").as_dict()
    summary["seconds"] = time.perf_counter() - started
    print(RESULT_PREFIX + json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parent), str(here.parents[1] / "plugins")]
    os.environ.setdefault("CRM_HASH_KEY", "test-key-1:test-secret-0123456789abcdef")
    main(*sys.argv[1:3])
