"""Suppression benchmark (part of `make bench`).

On a CRM of 1,000,000 held prospects (bulk-loaded synthetic people with their
keyed hashes, not timed), per backend:

* ``apply 100k keys``: one suppression list of 100,000 new email keys (half of
  them name held people) hashed, stored and applied to everything held;
* ``admit 10k drop``: a seeded 10,000-row research drop ingested against that
  CRM and its 100,000-entry suppression list (every admission checks it);
  the one-time imports of Great Expectations and Presidio that a fresh
  process pays first are timed and reported on their own line.

Times are wall-clock of the step alone. Results also go to
``bench/out/suppression_results.md``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from datetime import date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "plugins"), str(REPO_ROOT)]
OUT_DIR = REPO_ROOT / "bench" / "out"
HELD = 1_000_000
NEW_KEYS = 100_000
DROP_ROWS = 10_000
TODAY = date(2026, 11, 24)
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
BENCH_DB = "crm_bench_suppression"


def keys():
    from crm_hygiene.keys import parse_hash_keys

    return parse_hash_keys("bench:benchmark-secret-0123456789")


def fresh_database(backend: str) -> str:
    from sqlalchemy import create_engine, text

    if backend == "sqlite":
        path = OUT_DIR / "db" / "suppression_bench.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return f"{PG_SERVER}/{BENCH_DB}"


def load_held(engine, held: int = HELD) -> None:
    """``held`` (1M) synthetic held people with hashes under the bench key (not timed;
    bench/startup_bench.py builds its CRM with it too)."""
    from sqlalchemy import text

    from crm_hygiene.bulk import bulk_insert

    key = keys().current
    columns = ("match_key", "email", "email_match_key", "first_name", "last_name", "company", "country",
               "source", "lawful_basis", "status", "first_seen_at", "last_contact_at", "created_at", "updated_at",
               "email_hash", "domain_hash", "hash_key_id")
    stamp = "2026-01-01 00:00:00.000000"
    with engine.begin() as conn:
        for start in range(0, held, 100_000):
            rows = []
            for i in range(start, min(start + 100_000, held)):
                email, domain = f"person{i}@company{i % 20_000}.example", f"company{i % 20_000}.example"
                rows.append((f"e:{email}", email, email, "Held", f"Person{i}", f"Company {i % 20_000}", "GB",
                             "linkedin", "legitimate_interests", "active", stamp, stamp, stamp, stamp,
                             key.digest(email), key.digest(domain), key.key_id))
            bulk_insert(conn, "prospects", columns, rows)
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE prospects"))


def write_list(path: Path) -> None:
    """100k keys: every 20th held person (50k) and 50k people never held."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reason", "email", "scope", "added_at"])
        for i in range(NEW_KEYS // 2):
            writer.writerow(["unsubscribe", f"Person{i * 20}+list@Company{(i * 20) % 20_000}.example", "all",
                             "2026-11-01"])
            writer.writerow(["hard_bounce", f"stranger{i}@elsewhere.example", "all", "2026-11-01"])


def first_use_imports() -> float:
    """Seconds to import the gate's and the redactor's libraries, which every
    fresh process pays once before its first file: timed apart, so that the
    admit figure is the work that grows with the CRM."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401
    import presidio_analyzer  # noqa: F401
    import presidio_anonymizer  # noqa: F401
    return time.perf_counter() - started


def measure(backend: str) -> dict:
    from crm_hygiene.db import make_engine, upgrade_schema
    from crm_hygiene.drops.registry import Drop
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_file
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo
    from crm_hygiene.sample_data import write_research_file
    from crm_hygiene.suppression import sync_file

    engine = make_engine(fresh_database(backend))
    upgrade_schema(engine)
    started = time.perf_counter()
    load_held(engine)
    setup = time.perf_counter() - started
    work = OUT_DIR / "suppression_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    policy, run = load_policy(), RunInfo("bench", "bench", TODAY, datetime(2026, 11, 24))

    write_list(work / "list.csv")
    started = time.perf_counter()
    applied = sync_file(engine, Drop.of("suppression", work / "list.csv", work / "archive"), policy, keys(), run)
    apply_seconds = time.perf_counter() - started

    write_research_file(work / "drop.csv", DROP_ROWS, 7, TODAY)
    started = time.perf_counter()
    admitted = ingest_file(engine, Drop.of("research", work / "drop.csv", work / "archive"), RESEARCH, policy,
                           keys(), run)
    admit_seconds = time.perf_counter() - started
    engine.dispose()
    return {"backend": backend, "setup": setup, "apply": apply_seconds, "admit": admit_seconds,
            "entries_added": applied.entries_added, "held_suppressed": applied.held_suppressed,
            "drop_admitted": admitted.rows_admitted, "drop_quarantined": admitted.rows_quarantined}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    imports = first_use_imports()
    results = []
    for backend in args.backends.split(","):
        print(f"suppression bench: {backend} (loading {HELD:,} held prospects, not timed) ...", file=sys.stderr)
        results.append(measure(backend))
    lines = [
        "## Suppression benchmark", "",
        f"`make bench`, {HELD:,} held prospects. `apply` = a list of {NEW_KEYS:,} new email keys "
        f"(half naming held people) hashed, stored and applied; `admit` = a {DROP_ROWS:,}-row research drop "
        "ingested against that CRM and list.", "",
        "| backend | apply 100k keys s | held suppressed | admit 10k drop s | drop rows admitted |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {r['backend']} | {r['apply']:.2f} | {r['held_suppressed']:,} | {r['admit']:.2f} | "
          f"{r['drop_admitted']:,} |" for r in results), "",
        f"Not in `admit`: Great Expectations and Presidio, imported beforehand ({imports:.2f} s here, "
        "once per process and whatever the CRM's size; a fresh task process imports GX in its gate "
        "process beside the row checks: `bench/startup_bench.py` times a fresh process).", "",
    ]
    (OUT_DIR / "suppression_results.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    if "postgresql" in args.backends:
        fresh_database("postgresql")  # leave an empty database, not 1M rows, behind
    return 0


if __name__ == "__main__":
    sys.exit(main())
