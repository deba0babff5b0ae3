"""The ingest's SQL after the row checks, statement by statement (issue 15, item 3).

`make bench` times the ingest by stage; this looks inside the SQL stages on a
mid-size drop, where one run takes seconds, so that two ways of writing the
same step can be compared back to back. For each backend and scenario it makes
a fresh CRM, loads what the scenario holds first (untimed), then ingests the
drop with every statement timed (``at_scale.statement_hooks``; statements are
labelled by their first words, constant text, so no personal data is printed):

* ``empty``   - the drop into an empty CRM (the first load of a new CRM);
* ``held``    - the drop into a CRM already holding as many other people
  (another seed's drop of the same size);
* ``overlap`` - the drop into a CRM that already holds the same people: the
  drop again, a month later, with a few values changed (every row an update).

``--path`` forces the write path (``incremental`` or ``bulk``); ``auto`` lets
the pipeline choose from the sizes, as it does in production.

    .venv/bin/python bench/ingest_sql_bench.py --rows 200000 --backends postgresql,sqlite
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for _entry in (str(REPO_ROOT), str(REPO_ROOT / "plugins"), str(REPO_ROOT / "bench")):
    if _entry not in sys.path:
        sys.path.insert(0, _entry)

from at_scale import PG_SERVER, Clock, statement_hooks  # noqa: E402

OUT_DIR = REPO_ROOT / "bench" / "out" / "sql_bench"
TODAY = date(2026, 11, 24)
SCENARIOS = ("empty", "held", "overlap")
DB_PREFIX = os.environ.get("CRM_BENCH_DB", "crm_sql_bench")
# Statements shorter than this are summed into one line.
SHOWN_SECONDS = 0.05
# The parts of the SQL this bench is about, by the first words of their
# statements (before and after issue 15's item 3, so both codes can be compared).
PARTS = (
    ("fold rows into candidates", ("CREATE TEMPORARY TABLE stg_candidates", "UPDATE stg_candidates SET email_is",
                                   "UPDATE stg_candidates SET minor_signals", "CREATE INDEX ix_stg_",
                                   "ANALYZE stg_candidates")),
    ("staging statistics", ("ANALYZE stg_rows",)),
    ("write prospects", ("INSERT INTO prospects",)),
    ("write prospect_sources", ("INSERT INTO prospect_sources",)),
    ("drop and build CRM indexes", ("DROP INDEX", "CREATE INDEX ix_prospect")),
)


def drop_file(rows: int, seed: int) -> Path:
    path = OUT_DIR / f"research_{rows}_seed{seed}.csv"
    if not path.exists():
        from crm_hygiene.sample_data import write_research_file

        OUT_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_research_file(tmp, rows, seed, TODAY)
        tmp.replace(path)
    return path


def later_copy(path: Path) -> Path:
    """The same people a month later: new bytes, a newer sighting, some values changed or gone."""
    target = path.with_name(path.stem + "_later.csv")
    if target.exists():
        return target
    with path.open(encoding="utf-8", newline="") as src, target.open("w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(out, reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            row["collected_at"] = "2026-11-01"
            if i % 5 == 0:
                row["job_title"] = ""  # an empty cell keeps the held value
            elif i % 7 == 0:
                row["job_title"] = "Head of Data"
            if i % 11 == 0:
                row["phone"] = ""
            writer.writerow(row)
    return target


def fresh_database(backend: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    from crm_hygiene.db import make_engine, upgrade_schema

    if backend == "postgresql":
        admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{PG_SERVER}/{name}"
    else:
        path = OUT_DIR / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    return url


def ingest(url: str, path: Path, run_id: str, write_path: str, clock: Clock | None = None):
    from crm_hygiene.db import make_engine
    from crm_hygiene.drops.registry import Drop
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_file
    from crm_hygiene.keys import parse_hash_keys
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    engine = make_engine(url)
    run = RunInfo(dag_id="bench", run_id=run_id, today=TODAY)
    keys = parse_hash_keys("bench:benchmark-secret-0123456789")
    kwargs = {} if write_path == "auto" else {"write_path": write_path}
    started = time.perf_counter()
    if clock is None:
        counts = ingest_file(engine, Drop.of("research", path, OUT_DIR / "archive"), RESEARCH, load_policy(), keys,
                             run, **kwargs)
    else:
        with statement_hooks(engine, clock):
            counts = ingest_file(engine, Drop.of("research", path, OUT_DIR / "archive"), RESEARCH, load_policy(),
                                 keys, run, **kwargs)
    seconds = time.perf_counter() - started
    engine.dispose()
    return counts, seconds


def measure(backend: str, scenario: str, rows: int, write_path: str) -> None:
    drop = drop_file(rows, 1)
    url = fresh_database(backend, f"{DB_PREFIX}_{scenario}")
    if scenario == "held":
        ingest(url, drop_file(rows, 2), "setup", "auto")
    elif scenario == "overlap":
        ingest(url, drop, "setup", "auto")
        drop = later_copy(drop)
    if backend == "sqlite":  # the setup's WAL folded in, as a long-running CRM's would be
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    clock = Clock()
    counts, seconds = ingest(url, drop, "measured", write_path, clock)
    staging_writes = ("INSERT INTO stg_rows", "COPY stg_rows", "INSERT INTO quarantine", "COPY quarantine")
    sql = {label: s for label, (_, s) in clock.statements.items() if not label.startswith(staging_writes)}
    print(f"\n{backend} {scenario} ({write_path}): {rows:,} rows, ingest {seconds:.2f} s, "
          f"SQL after staging {sum(sql.values()):.2f} s; created {counts.prospects_created:,}, "
          f"updated {counts.prospects_updated:,}", flush=True)
    parts = defaultdict(float)
    for label, s in sql.items():
        part = next((name for name, prefixes in PARTS if label.startswith(prefixes)), "other")
        parts[part] += s
    print("  " + "; ".join(f"{name} {parts[name]:.2f} s" for name, _ in (*PARTS, ("other", ()))))
    small = defaultdict(float)
    for label, s in sorted(sql.items(), key=lambda item: -item[1]):
        if s >= SHOWN_SECONDS:
            print(f"  {s:7.2f}  {label}")
        else:
            small["other"] += s
    print(f"  {small['other']:7.2f}  ({sum(1 for s in sql.values() if s < SHOWN_SECONDS)} shorter statements)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--path", default="auto", choices=("auto", "incremental", "bulk"))
    args = parser.parse_args()
    os.environ.setdefault("CRM_ERASURE_LOG_DIR", str(OUT_DIR / "erasure_log"))
    for backend in args.backends.split(","):
        for scenario in args.scenarios.split(","):
            measure(backend, scenario, args.rows, args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
