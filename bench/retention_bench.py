"""Retention benchmark (part of `make bench`).

A CRM of 1,000,000 prospects (synthetic people with their keyed hashes, one
``prospect_sources`` row each), 30% of them last contacted more than six years
before the run's logical date, so past the ``prospects`` retention class
(anonymise). Per backend, two measurements of the same change to the same rows:

* ``floor``: bare set-based SQL in one transaction, the least any
  implementation must do: ``DELETE`` the rows' ``prospect_sources``, then one
  ``UPDATE prospects`` that gives each a new id (above every id held) and the
  matching ``match_key``, nulls every identifier, sets the job title to a band
  (one constant: a bare statement cannot apply the policy's patterns), moves
  the dates to their month and sets ``status = 'anonymised'``, with the same
  memory the sweep's transactions ask for (PostgreSQL ``work_mem``, SQLite's
  page cache). Its new ids ascend with the old ones; the sweep draws them in
  random order (so they keep nothing of the old order), which the floor need
  not pay for;
* ``sweep``: ``crm_hygiene.retention.sweep.run_retention_sweep(force=True)``
  (30% trips the 20% circuit breaker), the whole call: pending holds and
  erasure work, plan, breaker, act (every class, one transaction each), the
  re-check and the report file.

``x floor`` = sweep seconds / floor seconds; the target (from the issue) is
2.0 or less. A miss prints FAIL; the exit status stays 0 (a report, not a gate).

Fairness: the 1M rows are loaded once per backend into a template database
(untimed; schema by ``crm_hygiene.db.upgrade_schema``), PostgreSQL's is
``VACUUM ANALYZE``d (autovacuum would have done so in production; SQLite gets no
``ANALYZE`` because the pipeline never runs one on ``prospects``). Every
measurement then runs on its own fresh copy of that template (PostgreSQL
``CREATE DATABASE ... TEMPLATE``, SQLite a file copy), after a ``CHECKPOINT``
(PostgreSQL) or a truncated WAL (SQLite) and an OS ``sync``, so neither side
inherits the other's writes, dirty pages or dead rows. ``--rounds`` (default 2)
pairs are run with the order alternating (floor, sweep / sweep, floor / ...);
the medians are reported, and every sample.

Per phase: the sweep's steps are timed by wrapping ``_Sweep``'s methods and
the module's helpers in place (names that no longer exist are skipped and
listed), and every SQL statement and COMMIT by engine hooks; statements are
reported by their first words, which are constant text (values are always
bound), so no personal data reaches the output.

Results also go to ``bench/out/retention_results.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "plugins"), str(REPO_ROOT)]
OUT_DIR = REPO_ROOT / "bench" / "out"
PROSPECTS = 1_000_000
PAST_IN_TEN = 3  # 30% past retention, spread evenly over the table
TODAY = date(2026, 11, 24)
TARGET = 2.0
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB_PREFIX = "crm_bench_retention_"
TEMPLATE_DB = f"{DB_PREFIX}template"
RUN_DB = f"{DB_PREFIX}run"
CHUNK = 100_000

_FUNCTIONS = ("Marketing", "Sales", "Finance", "Engineering", "Operations", "People", "Data", "Product",
              "Procurement", "Legal", "Compliance", "Security", "Customer Success", "Design", "IT")
_LEVELS = ("Head of {}", "{} Director", "{} Manager", "Senior {} Manager", "VP {}", "{} Lead", "{} Analyst",
           "{} Coordinator", "{} Assistant", "Junior {} Specialist", "{} Consultant", "Chief {} Officer")
_REGIONS = 60  # "... EMEA 12": about 10,800 distinct titles, as scraped lists have
TITLES = [f"{level.format(f)} EMEA {r}" if r else level.format(f)
          for r in range(_REGIONS) for f in _FUNCTIONS for level in _LEVELS]

# MONTH_START as crm_hygiene.retention.sql expands it (the floor is the bench's
# own SQL, one text for both databases but for this expression).
_MONTH_START = {"sqlite": "strftime('%Y-%m-01 00:00:00.000000', {})", "postgresql": "date_trunc('month', {})"}
FLOOR_SQL = (
    "DELETE FROM prospect_sources WHERE prospect_id IN "
    "(SELECT prospect_id FROM prospects WHERE status <> 'anonymised' AND last_contact_at < :cutoff)",
    "UPDATE prospects SET prospect_id = prospect_id + :offset, "
    "match_key = 'anonymised:' || CAST(prospect_id + :offset AS TEXT), "
    "email = NULL, email_match_key = NULL, email_hash = NULL, domain_hash = NULL, "
    "first_name = NULL, last_name = NULL, name_key = NULL, company = NULL, company_key = NULL, "
    "job_title = CASE WHEN job_title IS NULL THEN NULL ELSE 'other' END, "
    "phone_e164 = NULL, phone_hash = NULL, hash_key_id = NULL, "
    "email_is_personal = FALSE, email_is_role = FALSE, email_is_disposable = FALSE, "
    "referred_only = FALSE, do_not_call = FALSE, art14_notice_due_at = NULL, "
    "first_seen_at = {m(first_seen_at)}, last_contact_at = {m(last_contact_at)}, "
    "created_at = {m(first_seen_at)}, updated_at = {m(last_contact_at)}, status = 'anonymised' "
    "WHERE status <> 'anonymised' AND last_contact_at < :cutoff",
)


def keys():
    from crm_hygiene.keys import parse_hash_keys

    return parse_hash_keys("bench:benchmark-secret-0123456789")


def policy_and_run():
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    return load_policy(), RunInfo("retention_sweep", "bench", TODAY, datetime(2026, 11, 24, 3))


# --- databases --------------------------------------------------------------

def _sqlite_path(name: str) -> Path:
    return OUT_DIR / "db" / f"{name}.sqlite"


def _remove_sqlite(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def _pg_admin(statements: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for sql in statements:
            conn.execute(text(sql))
    admin.dispose()


def build_template(backend: str, size: int) -> float:
    """A fresh database with the schema and the 1M prospects; seconds taken (not part of any figure)."""
    from sqlalchemy import text

    from crm_hygiene.db import make_engine, upgrade_schema

    started = time.perf_counter()
    if backend == "sqlite":
        path = _sqlite_path(TEMPLATE_DB)
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_sqlite(path)
        url = f"sqlite:///{path}"
    else:
        _pg_admin([f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
                   f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)", f"CREATE DATABASE {TEMPLATE_DB}"])
        url = f"{PG_SERVER}/{TEMPLATE_DB}"
    engine = make_engine(url)
    upgrade_schema(engine)
    load_prospects(engine, size)
    if backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(_sqlite_path(TEMPLATE_DB))) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def fresh_copy(backend: str):
    """An engine on a new copy of the template, with no pending writes anywhere."""
    from crm_hygiene.db import make_engine

    if backend == "sqlite":
        path = _sqlite_path(RUN_DB)
        _remove_sqlite(path)
        shutil.copyfile(_sqlite_path(TEMPLATE_DB), path)  # its WAL was checkpointed into it
        os.sync()  # the copy's pages reach the disk now, not during the measurement
        return make_engine(f"sqlite:///{path}")
    _pg_admin([f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
               f"CREATE DATABASE {RUN_DB} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY", "CHECKPOINT"])
    os.sync()
    return make_engine(f"{PG_SERVER}/{RUN_DB}")


def drop_databases(backends: list[str]) -> None:
    """Leave no 1M-row database behind."""
    if "postgresql" in backends:
        _pg_admin([f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
                   f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"])
    if "sqlite" in backends:
        for name in (RUN_DB, TEMPLATE_DB):
            _remove_sqlite(_sqlite_path(name))


def _is_past(i: int) -> bool:
    return (i * 7) % 10 < PAST_IN_TEN  # 7 is prime to 10: exactly 3 in every 10 consecutive ids


def load_prospects(engine, size: int) -> None:
    """`size` (1M) synthetic prospects and one source row each (not timed). Every tenth
    consecutive id holds 3 people past retention, so they sit on every page."""
    from sqlalchemy import text

    from crm_hygiene.bulk import bulk_insert

    key = keys().current
    people = ("prospect_id", "match_key", "email", "email_match_key", "first_name", "last_name", "name_key",
              "company", "company_key", "job_title", "country", "phone_e164", "source", "lawful_basis", "status",
              "first_seen_at", "last_contact_at", "created_at", "updated_at", "email_hash", "domain_hash",
              "phone_hash", "hash_key_id")
    sources = ("prospect_id", "source", "source_detail", "collected_at", "lawful_basis", "file_id",
               "source_row_number")
    past_from, recent_from = datetime(2013, 1, 1, 9), datetime(2021, 1, 4, 9)
    with engine.begin() as conn:
        for start in range(0, size, CHUNK):
            rows, appearances = [], []
            for i in range(start, min(start + CHUNK, size)):
                email, domain = f"person{i}@company{i % 20_000}.example", f"company{i % 20_000}.example"
                last = (past_from + timedelta(days=i % 2_800, minutes=i % 600) if _is_past(i)
                        else recent_from + timedelta(days=i % 2_100, minutes=i % 600))
                first = last - timedelta(days=i % 700)
                stamp_first, stamp_last = f"{first:%Y-%m-%d %H:%M:%S}.000000", f"{last:%Y-%m-%d %H:%M:%S}.000000"
                phone = f"+447700{i:06d}" if i % 3 == 0 else None
                rows.append((i + 1, f"e:{email}", email, email, f"First{i % 5_000}", f"Person{i}",
                             f"first{i % 5_000} person{i}", f"Company {i % 20_000}", f"company {i % 20_000}",
                             TITLES[(i * 31) % len(TITLES)] if i % 10 else None, "GB", phone, "linkedin",
                             "legitimate_interests", "active", stamp_first, stamp_last, stamp_first, stamp_last,
                             key.digest(email), key.digest(domain), key.digest(phone) if phone else None,
                             key.key_id))
                appearances.append((i + 1, "linkedin", f"research list {i % 50}", stamp_first,
                                    "legitimate_interests", 1, i % 50_000 + 2))
            bulk_insert(conn, "prospects", people, rows)
            bulk_insert(conn, "prospect_sources", sources, appearances)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequence behind; the sweep's new ids come from it.
            conn.execute(text("SELECT setval(pg_get_serial_sequence('prospects', 'prospect_id'), "
                              "(SELECT MAX(prospect_id) FROM prospects))"))
        else:
            seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'prospects'")).scalar_one()
            assert seq == size, seq


# --- timing hooks -------------------------------------------------------------

class Clock:
    """Phase and statement timings of one measurement (seconds)."""

    def __init__(self):
        self.phases: dict[str, float] = defaultdict(float)
        self.phase_sql: dict[str, float] = defaultdict(float)
        self.statements: dict[str, list] = defaultdict(lambda: [0, 0.0])  # label -> [count, seconds]
        self.stack: list[str] = []
        self.missing: list[str] = []

    @contextlib.contextmanager
    def phase(self, label: str):
        self.stack.append(label)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[label] += time.perf_counter() - started
            self.stack.pop()

    def add_statement(self, label: str, seconds: float) -> None:
        entry = self.statements[label]
        entry[0] += 1
        entry[1] += seconds
        for phase in set(self.stack):
            self.phase_sql[phase] += seconds


def _statement_label(sql: str) -> str:
    """The statement's first words (constant text: values are bound, never in it)."""
    words = re.sub(r"\s+", " ", "\n".join(line for line in sql.splitlines()
                                          if not line.lstrip().startswith("--"))).strip()
    return words[:72]


@contextlib.contextmanager
def statement_hooks(engine, clock: Clock):
    from sqlalchemy import event

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        clock.add_statement(_statement_label(statement), time.perf_counter() - conn.info.pop("bench_started"))

    dialect = engine.dialect
    original_commit = dialect.do_commit

    def do_commit(dbapi_connection):
        started = time.perf_counter()
        try:
            return original_commit(dbapi_connection)
        finally:
            clock.add_statement("COMMIT", time.perf_counter() - started)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    dialect.do_commit = do_commit
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        del dialect.do_commit


@contextlib.contextmanager
def sweep_phase_hooks(clock: Clock):
    """Wrap the sweep's steps in place, labelled; restore them after."""
    from crm_hygiene.retention import anonymise as anonymise_module
    from crm_hygiene.retention import sweep as sweep_module

    restore = []

    def wrap(owner, name: str, label) -> None:
        if not hasattr(owner, name):
            clock.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return
        static = inspect.getattr_static(owner, name)
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with clock.phase(label(args) if callable(label) else label):
                return original(*args, **kwargs)

        setattr(owner, name, staticmethod(timed) if isinstance(static, staticmethod) else timed)
        restore.append((owner, name, static))

    sweep_class = getattr(sweep_module, "_Sweep", None)
    wrap(sweep_module, "load_pending_holds", "1 load pending holds")
    wrap(sweep_module, "complete_pending_erasures", "2 pending erasure files (start and end of act)")
    if sweep_class is not None:
        wrap(sweep_class, "plan", "3 plan")
        wrap(sweep_class, "act", "4 act")
        wrap(sweep_class, "_act_on", lambda a: f"4 act: {a[1].name}" if a[1].name == "prospects"
             else "4 act: the other table classes")
        wrap(sweep_class, "_anonymise_prospects", "4 act: prospects: anonymise (bands, ids, update)")
        wrap(sweep_class, "_act_on_drop_files", "4 act: drop files")
        wrap(sweep_class, "recheck", "5 re-check")
    else:
        clock.missing.append("sweep._Sweep")
    wrap(anonymise_module, "stage_bands", "4 act: prospects: anonymise: band the titles")
    if hasattr(sweep_module, "stage_bands"):  # imported by name into sweep
        wrap(sweep_module, "stage_bands", "4 act: prospects: anonymise: band the titles")
    wrap(sweep_module, "write_report", "6 report file")
    try:
        yield
    finally:
        for owner, name, static in reversed(restore):
            setattr(owner, name, static)


# --- the two measurements ---------------------------------------------------

def cutoff(policy) -> datetime:
    from crm_hygiene.retention.sweep import cutoff_for

    return cutoff_for(policy.retention.classes["prospects"].period, TODAY)


def run_floor(engine, policy) -> tuple[float, int, Clock]:
    from sqlalchemy import DateTime, bindparam, text

    from crm_hygiene.db import use_large_page_cache, use_large_work_mem

    month_start = _MONTH_START[engine.dialect.name]
    statements = [text(re.sub(r"\{m\((\w+)\)\}", lambda m: month_start.format(m.group(1)), sql)).bindparams(
        bindparam("cutoff", type_=DateTime)) for sql in FLOOR_SQL]
    clock = Clock()
    with statement_hooks(engine, clock):
        started = time.perf_counter()
        with engine.begin() as conn:
            use_large_work_mem(conn)
            use_large_page_cache(conn)
            offset = conn.execute(text("SELECT MAX(prospect_id) FROM prospects")).scalar_one()
            conn.execute(statements[0], {"cutoff": cutoff(policy)})
            rows = conn.execute(statements[1], {"cutoff": cutoff(policy), "offset": offset}).rowcount
        seconds = time.perf_counter() - started
    return seconds, rows, clock


def run_sweep(engine, policy, run) -> tuple[float, int, Clock]:
    from crm_hygiene.retention.sweep import run_retention_sweep

    work = OUT_DIR / "retention_work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "inbox" / "legal_holds").mkdir(parents=True)
    clock = Clock()
    with statement_hooks(engine, clock), sweep_phase_hooks(clock):
        started = time.perf_counter()
        with clock.phase("total: run_retention_sweep"):
            report = run_retention_sweep(engine, policy, keys(), run, work, dry_run=False, force=True)
        seconds = time.perf_counter() - started
    assert report.status == "completed", report.status
    return seconds, report.classes["prospects"].acted, clock


def end_state(engine) -> tuple:
    """What both must leave: anonymised rows, identifiers left on them, sources left."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT COUNT(*) FROM prospects WHERE status = 'anonymised'), "
            "(SELECT COUNT(*) FROM prospects WHERE status = 'anonymised' AND (email IS NOT NULL OR "
            "email_hash IS NOT NULL OR last_name IS NOT NULL OR phone_e164 IS NOT NULL)), "
            "(SELECT COUNT(*) FROM prospect_sources), (SELECT COUNT(*) FROM prospects)")).one())


def measure(backend: str, size: int, rounds: int, policy, run) -> dict:
    print(f"retention bench: {backend}: loading {size:,} prospects into a template (not timed) ...",
          file=sys.stderr)
    load_seconds = build_template(backend, size)
    samples: dict[str, list] = {"floor": [], "sweep": []}
    for r in range(rounds):
        for side in (("floor", "sweep") if r % 2 == 0 else ("sweep", "floor")):
            engine = fresh_copy(backend)
            if side == "floor":
                seconds, rows, clock = run_floor(engine, policy)
            else:
                seconds, rows, clock = run_sweep(engine, policy, run)
            state = end_state(engine)
            engine.dispose()
            print(f"retention bench: {backend}: {side} {seconds:.2f} s, {rows:,} rows; end state {state}",
                  file=sys.stderr)
            samples[side].append((seconds, rows, clock, state))
    return {"backend": backend, "load": load_seconds, **samples}


# --- report -----------------------------------------------------------------

def _median(samples: list) -> float:
    return statistics.median(s[0] for s in samples)


def _median_clock(samples: list) -> Clock:
    """The clock of the median sample (the lower middle one for an even count)."""
    ordered = sorted(samples, key=lambda s: s[0])
    return ordered[(len(ordered) - 1) // 2][2]


def environment_line(backends: list[str]) -> str:
    """When, which code, on what: for reading the figures later."""
    from sqlalchemy import create_engine, text

    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    parts = [f"{datetime.now():%Y-%m-%d %H:%M}", f"commit {commit}", f"Python {platform.python_version()}",
             f"{os.cpu_count()} cores", f"load average {os.getloadavg()[0]:.1f} at the end"]
    if "postgresql" in backends:
        admin = create_engine(f"{PG_SERVER}/postgres")
        with admin.connect() as conn:
            parts.append(f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar_one()} "
                         f"(shared_buffers {conn.execute(text('SHOW shared_buffers')).scalar_one()})")
        admin.dispose()
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    return ", ".join(parts)


def report_lines(results: list[dict], size: int, rounds: int, environment: str) -> list[str]:
    lines = [
        "## Retention benchmark", "", environment, "",
        f"{size:,} prospects with one source row each, {PAST_IN_TEN * 10}% last contacted "
        "more than six years before the logical date (prospects class: anonymise). `floor` = bare "
        "`DELETE` of their sources and one `UPDATE` giving the same rows the same change (new id and match "
        "key, identifiers nulled, dates to the month, a constant band), one transaction; `sweep` = "
        "`run_retention_sweep(force=True)`, the whole call. Each on a fresh copy of one loaded template "
        f"database; {rounds} round{'s' if rounds != 1 else ''}"
        f"{', order alternating, medians' if rounds > 1 else ', floor first'}.", "",
        "| backend | floor s | sweep s | x floor | target 2x | rows (floor) | rows (sweep) | load s (untimed) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        floor, sweep = _median(r["floor"]), _median(r["sweep"])
        ratio = sweep / floor
        lines.append(f"| {r['backend']} | {floor:.2f} | {sweep:.2f} | {ratio:.2f} | "
                     f"**{'PASS' if ratio <= TARGET else 'FAIL'}** | {r['floor'][0][1]:,} | {r['sweep'][0][1]:,} | "
                     f"{r['load']:.0f} |")
    if rounds > 1:
        lines += ["", "All samples (s): " + "; ".join(
            f"{r['backend']} floor {', '.join(f'{s[0]:.2f}' for s in r['floor'])}, sweep "
            f"{', '.join(f'{s[0]:.2f}' for s in r['sweep'])}" for r in results)]
    for r in results:
        sweep_clock, floor_clock = _median_clock(r["sweep"]), _median_clock(r["floor"])
        lines += ["", f"### Where the sweep's time goes: {r['backend']} (median sample)", "",
                  "| phase | s | of which SQL + COMMIT s |", "| --- | ---: | ---: |"]
        for label in sorted(sweep_clock.phases):
            lines.append(f"| {label} | {sweep_clock.phases[label]:.2f} | {sweep_clock.phase_sql[label]:.2f} |")
        lines += ["", "| statement (first words) | side | n | s |", "| --- | --- | ---: | ---: |"]
        for side, clock in (("floor", floor_clock), ("sweep", sweep_clock)):
            busiest = sorted(clock.statements.items(), key=lambda kv: -kv[1][1])
            for label, (count, seconds) in busiest:
                if seconds >= 0.05:
                    lines.append(f"| `{label}` | {side} | {count} | {seconds:.2f} |")
        if sweep_clock.missing:
            lines += ["", "Not wrapped (renamed or removed): " + ", ".join(sweep_clock.missing)]
    states = {r["backend"]: {s[3] for side in ("floor", "sweep") for s in r[side]} for r in results}
    lines += ["", "End states (anonymised, identifiers left on them, sources, prospects): " + "; ".join(
        f"{b}: {', '.join(str(s) for s in sorted(v))}" for b, v in states.items()), ""]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--prospects", type=int, default=PROSPECTS)
    parser.add_argument("--rounds", type=int, default=2, help="floor/sweep pairs per backend, order alternating")
    args = parser.parse_args()
    backends = args.backends.split(",")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    policy, run = policy_and_run()
    results = []
    try:
        for backend in backends:
            results.append(measure(backend, args.prospects, args.rounds, policy, run))
    finally:
        drop_databases(backends)
    lines = report_lines(results, args.prospects, args.rounds, environment_line(backends))
    (OUT_DIR / "retention_results.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
