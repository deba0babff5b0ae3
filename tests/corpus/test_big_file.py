"""A 1 GB research drop streams through the ingest with flat memory.

The file (one block of 2,000 people repeated, two bad rows per block) is
written to temporary space, ingested by a process of its own on SQLite while
this one samples the resident memory of that process and its workers, and
deleted after. The peak must stay under 1 GiB and within 20% of a 200 MB file's
peak: memory that does not grow with the file. Every row is accounted for.
Measured on 2 cores (SQLite): 1 GiB in about 190 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from corpus import big_file
from crm_hygiene.db import make_engine, upgrade_schema

MIB = 1 << 20
BASELINE_BYTES = 200 * MIB
BIG_BYTES = 1 << 30
WIDE_BYTES = 400 * MIB
WIDE_CELL = 100_000
MAX_PEAK_MIB = 1024
MAX_GROWTH = 1.2
SAMPLE_SECONDS = 0.05
TIMEOUT_SECONDS = 1500


def _tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (0 once gone)."""
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def _ingest_watched(tmp: Path, size: int, wide: int | None = None) -> dict:
    data = tmp / f"data_{size}_{wide}"
    written = big_file.write_big_file(data / "inbox" / "research" / "big.csv", size, wide)
    url = f"sqlite:///{tmp / f'crm_{size}_{wide}.db'}"
    upgrade_schema(make_engine(url))
    command = [sys.executable, big_file.__file__, url, str(data)]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        watched, peak = psutil.Process(child.pid), 0
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while child.poll() is None:
            peak = max(peak, _tree_rss(watched))
            if time.monotonic() > deadline:
                for member in [*watched.children(recursive=True), watched]:
                    member.kill()
                pytest.fail(f"ingest of {written.size / MIB:.0f} MiB still running after {TIMEOUT_SECONDS} s")
            time.sleep(SAMPLE_SECONDS)
        out, err = child.communicate()
    seconds = time.perf_counter() - started
    assert child.returncode == 0, err[-3000:]
    result = json.loads(next(line for line in out.splitlines() if line.startswith(big_file.RESULT_PREFIX))
                        .removeprefix(big_file.RESULT_PREFIX))
    with make_engine(url).connect() as conn:
        quarantined = conn.execute(text("SELECT COUNT(*) FROM quarantine")).scalar_one()
        people = conn.execute(text("SELECT COUNT(*) FROM prospects")).scalar_one()
    archived = list((data / "archive" / "research").glob("*_big.csv"))
    for path in archived:
        path.unlink()  # a gigabyte of temporary space back at once
    return {"bytes": written.size, "rows": written.rows, "bad_rows": written.bad_rows, "seconds": seconds,
            "peak_mib": peak / MIB, "summary": result, "quarantined": quarantined, "people": people,
            "archived": len(archived)}


def _check_accounted(run: dict, people: int) -> None:
    summary = run["summary"]
    assert summary["files_loaded"] == 1 and run["archived"] == 1
    assert summary["rows_read"] == run["rows"]
    assert summary["rows_quarantined"] == run["bad_rows"] == run["quarantined"]
    assert summary["rows_admitted"] == run["rows"] - run["bad_rows"]  # no good row lost
    assert run["people"] == people  # the repeats are the same people


def _report(run: dict, record_property) -> None:
    line = (f"{run['bytes'] / MIB:.0f} MiB, {run['rows']:,} rows: {run['seconds']:.1f} s, "
            f"peak {run['peak_mib']:.0f} MiB")
    record_property(f"ingest_{run['bytes'] // MIB}MiB", line)
    print(line)


@pytest.mark.slow
def test_a_gigabyte_file_streams_through_the_research_ingest_with_flat_memory(tmp_path, record_property):
    # The baseline is big enough to fill the pipeline (every worker busy, a
    # chunk loading): a smaller file would measure start-up, not the steady state.
    baseline = _ingest_watched(tmp_path, BASELINE_BYTES)
    big = _ingest_watched(tmp_path, BIG_BYTES)
    for run in (baseline, big):
        _report(run, record_property)
        _check_accounted(run, big_file.BLOCK_ROWS - big_file.BAD_PER_BLOCK)
    assert big["peak_mib"] < MAX_PEAK_MIB
    assert big["peak_mib"] <= baseline["peak_mib"] * MAX_GROWTH, (baseline["peak_mib"], big["peak_mib"])


@pytest.mark.slow
def test_wide_rows_do_not_raise_memory_with_the_file(tmp_path, record_property):
    """Rows of 100 KB (a notes cell far over its limit, so each is quarantined):
    chunks counted in rows rather than bytes would hold the whole file at once."""
    run = _ingest_watched(tmp_path, WIDE_BYTES, wide=WIDE_CELL)
    _report(run, record_property)
    _check_accounted(run, 0)
    assert run["peak_mib"] < MAX_PEAK_MIB
