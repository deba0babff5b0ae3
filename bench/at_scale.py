"""What the benches over a 1M-prospect CRM share (retention_bench, partner_bench).

* ``BenchDatabases``: a template database per backend, loaded once (untimed,
  schema by ``crm_hygiene.db.upgrade_schema``, PostgreSQL's ``VACUUM ANALYZE``d
  as autovacuum would in production, SQLite's WAL checkpointed), and a fresh
  copy of it for every measurement (PostgreSQL ``CREATE DATABASE ... TEMPLATE``
  then ``CHECKPOINT``, SQLite a file copy), after an OS ``sync``, so no
  measurement inherits another's writes, dirty pages or dead rows. Each bench
  names its databases by its own prefix.
* ``load_prospects``: synthetic prospects with their keyed hashes and one
  ``prospect_sources`` row each; the caller's ``row_for(i, key)`` decides each
  person (``synthetic_person`` gives the identifiers every bench uses).
* ``Clock``, ``statement_hooks``, ``wrapped``: per-phase timings (functions
  wrapped in place) and per-statement timings (engine hooks; statements are
  labelled by their first words, constant text since values are always bound,
  so no personal data reaches the output).
* ``environment_line``, ``median``, ``median_clock``: for the results file;
  ``bench_main``: the command line, the measurements and the results file.
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
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for _entry in (str(REPO_ROOT), str(REPO_ROOT / "plugins")):
    if _entry not in sys.path:
        sys.path.insert(0, _entry)
OUT_DIR = REPO_ROOT / "bench" / "out"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
CHUNK = 100_000

_FUNCTIONS = ("Marketing", "Sales", "Finance", "Engineering", "Operations", "People", "Data", "Product",
              "Procurement", "Legal", "Compliance", "Security", "Customer Success", "Design", "IT")
_LEVELS = ("Head of {}", "{} Director", "{} Manager", "Senior {} Manager", "VP {}", "{} Lead", "{} Analyst",
           "{} Coordinator", "{} Assistant", "Junior {} Specialist", "{} Consultant", "Chief {} Officer")
_REGIONS = 60  # "... EMEA 12": about 10,800 distinct titles, as scraped lists have
TITLES = [f"{level.format(f)} EMEA {r}" if r else level.format(f)
          for r in range(_REGIONS) for f in _FUNCTIONS for level in _LEVELS]

PEOPLE_COLUMNS = ("prospect_id", "match_key", "email", "email_match_key", "first_name", "last_name", "name_key",
                  "company", "company_key", "job_title", "country", "phone_e164", "source", "lawful_basis",
                  "status", "first_seen_at", "last_contact_at", "created_at", "updated_at", "email_hash",
                  "domain_hash", "phone_hash", "hash_key_id", "email_is_personal", "email_is_disposable",
                  "referred_only")
SOURCE_COLUMNS = ("prospect_id", "source", "source_detail", "collected_at", "lawful_basis", "file_id",
                  "source_row_number")


def keys():
    from crm_hygiene.keys import parse_hash_keys

    return parse_hash_keys("bench:benchmark-secret-0123456789")


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}.000000"


def synthetic_person(i: int, key, first_seen: datetime, last_contact: datetime, **overrides) -> dict:
    """Prospect id i + 1 in PEOPLE_COLUMNS: a made-up person at one of 20,000 companies, a phone for
    every third, a title for nine in ten, active in GB from LinkedIn; `overrides` replace any column."""
    email, domain = f"person{i}@company{i % 20_000}.example", f"company{i % 20_000}.example"
    phone = f"+447700{i:06d}" if i % 3 == 0 else None
    person = {
        "prospect_id": i + 1, "match_key": f"e:{email}", "email": email, "email_match_key": email,
        "first_name": f"First{i % 5_000}", "last_name": f"Person{i}", "name_key": f"first{i % 5_000} person{i}",
        "company": f"Company {i % 20_000}", "company_key": f"company {i % 20_000}",
        "job_title": TITLES[(i * 31) % len(TITLES)] if i % 10 else None, "country": "GB", "phone_e164": phone,
        "source": "linkedin", "lawful_basis": "legitimate_interests", "status": "active",
        "first_seen_at": stamp(first_seen), "last_contact_at": stamp(last_contact),
        "created_at": stamp(first_seen), "updated_at": stamp(last_contact),
        "email_hash": key.digest(email), "domain_hash": key.digest(domain),
        "phone_hash": key.digest(phone) if phone else None, "hash_key_id": key.key_id,
        "email_is_personal": False, "email_is_disposable": False, "referred_only": False,
    }
    person.update(overrides)
    return person


def load_prospects(engine, size: int, row_for: Callable[[int, object], dict]) -> None:
    """`size` prospects, ids 1..size, each `row_for(i, key)`, and one source row each (not timed)."""
    from sqlalchemy import text

    from crm_hygiene.bulk import bulk_insert

    key = keys().current
    with engine.begin() as conn:
        for start in range(0, size, CHUNK):
            rows, appearances = [], []
            for i in range(start, min(start + CHUNK, size)):
                person = row_for(i, key)
                rows.append(tuple(person[c] for c in PEOPLE_COLUMNS))
                appearances.append((person["prospect_id"], person["source"], f"research list {i % 50}",
                                    person["first_seen_at"], person["lawful_basis"], 1, i % 50_000 + 2))
            bulk_insert(conn, "prospects", PEOPLE_COLUMNS, rows)
            bulk_insert(conn, "prospect_sources", SOURCE_COLUMNS, appearances)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequence behind; new ids come from it.
            conn.execute(text("SELECT setval(pg_get_serial_sequence('prospects', 'prospect_id'), "
                              "(SELECT MAX(prospect_id) FROM prospects))"))
        else:
            seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'prospects'")).scalar_one()
            assert seq == size, seq


# --- databases --------------------------------------------------------------

def _remove_sqlite(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def pg_admin(statements: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for sql in statements:
            conn.execute(text(sql))
    admin.dispose()


class BenchDatabases:
    """`<prefix>template` (loaded once per backend) and `<prefix>run` (a fresh copy per measurement)."""

    def __init__(self, prefix: str):
        self.template, self.run = f"{prefix}template", f"{prefix}run"

    @staticmethod
    def sqlite_path(name: str) -> Path:
        return OUT_DIR / "db" / f"{name}.sqlite"

    def build_template(self, backend: str, load: Callable[[object], None]) -> float:
        """A fresh template with the schema and what `load(engine)` puts in; seconds taken (untimed)."""
        from sqlalchemy import text

        from crm_hygiene.db import make_engine, upgrade_schema

        started = time.perf_counter()
        if backend == "sqlite":
            path = self.sqlite_path(self.template)
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_sqlite(path)
            url = f"sqlite:///{path}"
        else:
            pg_admin([f"DROP DATABASE IF EXISTS {self.run} WITH (FORCE)",
                      f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)", f"CREATE DATABASE {self.template}"])
            url = f"{PG_SERVER}/{self.template}"
        engine = make_engine(url)
        upgrade_schema(engine)
        load(engine)
        if backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        if backend == "sqlite":
            with contextlib.closing(sqlite3.connect(self.sqlite_path(self.template))) as raw:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.perf_counter() - started

    def fresh_copy(self, backend: str):
        """An engine on a new copy of the template, with no pending writes anywhere."""
        from crm_hygiene.db import make_engine

        if backend == "sqlite":
            path = self.sqlite_path(self.run)
            _remove_sqlite(path)
            shutil.copyfile(self.sqlite_path(self.template), path)  # its WAL was checkpointed into it
            os.sync()  # the copy's pages reach the disk now, not during the measurement
            return make_engine(f"sqlite:///{path}")
        pg_admin([f"DROP DATABASE IF EXISTS {self.run} WITH (FORCE)",
                  f"CREATE DATABASE {self.run} TEMPLATE {self.template} STRATEGY FILE_COPY", "CHECKPOINT"])
        os.sync()
        return make_engine(f"{PG_SERVER}/{self.run}")

    def drop(self, backends: Iterable[str]) -> None:
        """Leave no 1M-row database behind."""
        if "postgresql" in backends:
            pg_admin([f"DROP DATABASE IF EXISTS {self.run} WITH (FORCE)",
                      f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)"])
        if "sqlite" in backends:
            for name in (self.run, self.template):
                _remove_sqlite(self.sqlite_path(name))


# --- timing hooks -------------------------------------------------------------

class Clock:
    """Phase and statement timings of one measurement (seconds)."""

    def __init__(self):
        self.phases: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.phase_sql: dict[str, float] = defaultdict(float)
        self.statements: dict[str, list] = defaultdict(lambda: [0, 0.0])  # label -> [count, seconds]
        self.stack: list[str] = []
        self.missing: list[str] = []

    @contextlib.contextmanager
    def phase(self, label: str):
        self.stack.append(label)
        self.calls[label] += 1
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


def statement_label(sql: str) -> str:
    """The statement's first words (constant text: values are bound, never in it)."""
    words = re.sub(r"\s+", " ", "\n".join(line for line in sql.splitlines()
                                          if not line.lstrip().startswith("--"))).strip()
    return words[:72]


@contextlib.contextmanager
def statement_hooks(engine, clock: Clock):
    """Every statement and COMMIT on `engine` timed into `clock`."""
    from sqlalchemy import event

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        clock.add_statement(statement_label(statement), time.perf_counter() - conn.info.pop("bench_started"))

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
def wrapped(clock: Clock, targets: Iterable[tuple]):
    """Each (owner, name, label) wrapped in place to time into `clock.phase(label)`; a label may be a
    function of the call's positional arguments. Names that no longer exist are listed in
    `clock.missing`, not wrapped. Restored after."""
    restore = []
    for owner, name, label in targets:
        if owner is None or not hasattr(owner, name):
            clock.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
            continue
        static = inspect.getattr_static(owner, name)
        original = getattr(owner, name)

        def timed(*args, _original=original, _label=label, **kwargs):
            with clock.phase(_label(args) if callable(_label) else _label):
                return _original(*args, **kwargs)

        timed = functools.wraps(original)(timed)
        setattr(owner, name, staticmethod(timed) if isinstance(static, staticmethod) else timed)
        restore.append((owner, name, static))
    try:
        yield
    finally:
        for owner, name, static in reversed(restore):
            setattr(owner, name, static)


# --- results ------------------------------------------------------------------

def median(samples: list) -> float:
    """The median of samples' first items (seconds)."""
    return statistics.median(s[0] for s in samples)


def median_clock(samples: list, at: int = 2) -> Clock:
    """The clock (item `at`) of the median sample (the lower middle one for an even count)."""
    ordered = sorted(samples, key=lambda s: s[0])
    return ordered[(len(ordered) - 1) // 2][at]


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


def bench_main(doc: str, databases: BenchDatabases, results_file: str, measure: Callable[[str, int, int], dict],
               report_lines: Callable[[list[dict], int, int, str], list[str]], *, prospects: int, rounds: int,
               side: str) -> int:
    """--backends, --prospects, --rounds; `measure(backend, prospects, rounds)` for each backend (its
    databases dropped after, whatever happens); `report_lines(results, prospects, rounds, environment)`
    printed and written to bench/out/`results_file`. Exit status 0: a report, not a gate."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--prospects", type=int, default=prospects)
    parser.add_argument("--rounds", type=int, default=rounds, help=f"floor/{side} pairs per backend, order alternating")
    args = parser.parse_args()
    backends = args.backends.split(",")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for backend in backends:
            results.append(measure(backend, args.prospects, args.rounds))
    finally:
        databases.drop(backends)
    lines = report_lines(results, args.prospects, args.rounds, environment_line(backends))
    (OUT_DIR / results_file).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0
