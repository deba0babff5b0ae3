"""Ingest benchmark: `make bench`.

Generates research drops of 100k and 1M rows (seeded, so every run loads the
same bytes) and, for each size and each backend, measures two things in fresh
subprocesses on a fresh database:

* ``floor``  - the fastest a database can take this file at all: PostgreSQL
  ``COPY`` (or SQLite ``executemany`` in 50k batches, one transaction) of the raw
  CSV into an unindexed table with one TEXT column per CSV column. No parsing,
  no checks, no merge.
* ``ingest`` - ``crm_hygiene.ingest.pipeline.ingest_file`` on a copy of the same
  file: gate, row checks, quarantine, staging, merge, admission, audit, one
  transaction, exactly what the ingest DAG runs.

How to read the numbers
-----------------------
``seconds`` is wall-clock time of the step only: database and schema creation,
imports and copying the file into the inbox happen before the clock starts.
``rows/s`` is data rows in the file divided by ``seconds``. ``x floor`` is
ingest seconds / floor seconds for the same size and backend: how many times
slower the real pipeline is than a bare bulk load (the floor row has 1.0).

``peak RSS MiB`` is the largest total resident memory of the measured process
tree (the step's process plus every worker process it spawned), sampled by the
parent every 50 ms. Summing RSS counts pages shared between processes once per
process, so it errs on the high side; a spike shorter than 50 ms can be missed.
``main HWM MiB`` is the kernel's exact high-water mark of the step's main
process alone (``VmHWM``): peak minus it is roughly what the workers add. (Not
``getrusage``: Linux carries ``ru_maxrss`` across fork and exec, so a child
would report the benchmark parent's size.) The database server's own memory is
in neither column.

After each ingest the bench also measures the ingest's floors and prints its
decomposition (``bench/ingest_floors.py``: the write of the final rows, the row
checks' CPU per library, the ingest by stage and how busy each core was), and
runs the plain pandas peer on the same file (``bench/peer_pandas.py``, two
ways of writing it, PostgreSQL only).

Targets (issue 15, replacing the earlier 10x of a bare COPY): ingest within 2x
(PostgreSQL) / 2.5x (SQLite) of the floor sum (library-check core-seconds / 2
cores + the write of the final rows with indexes built after); row checks in
the workers within 1.5x of the libraries' own cost; at least 1.3x faster than
the faster pandas peer; peak memory of every ingest under 1 GiB; memory for 1M
rows within 20% of that for 100k on each backend (memory must not grow with
the file). A missed target is
printed as FAIL but the exit status stays 0: this is a report, not a gate.

A step still running after ``--timeout`` seconds (default 1200) is killed and
reported with bounds: ``> seconds``, ``< rows/s``, ``> x floor``, ``>= peak``.
A target that the bound already misses is FAIL; one it cannot decide is N/A.

Results also go to ``bench/out/results.md`` as Markdown, for the README.

Module level imports only the standard library on purpose: the ingest's worker
processes are started with ``spawn`` and re-import this file as their main
module, so anything imported here would be loaded (and counted) in every worker.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"

SEED = 1
# Fixed "today" so the generated files and every date rule (ages, notice
# periods) are identical from run to run.
TODAY = date(2026, 11, 24)

DEFAULT_SIZES = (100_000, 1_000_000)
BACKENDS = ("postgresql", "sqlite")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
# Overridable so two sessions benchmarking on one server do not drop each other's database.
BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench")

SAMPLE_SECONDS = 0.05
SQLITE_BATCH_ROWS = 50_000
COPY_BLOCK_BYTES = 1 << 20
MIB = 1 << 20

# Targets from the issues (the floor-sum ratios live in ingest_floors.py).
MIN_PEER_SPEEDUP = 1.3
MAX_PEAK_MIB = 1024.0
MAX_MEMORY_GROWTH = 1.2

RESULT_PREFIX = "BENCH_RESULT "
STARTED_PREFIX = "BENCH_STARTED "
DEFAULT_TIMEOUT_SECONDS = 1200


def BENCH_KEYS():  # noqa: N802 - a constant, built lazily so the module imports only the stdlib
    """A fixed benchmark key: the numbers must not depend on the caller's environment."""
    from crm_hygiene.keys import parse_hash_keys

    return parse_hash_keys("bench:benchmark-secret-0123456789")


@dataclass
class Measurement:
    rows: int
    backend: str
    step: str  # "floor" or "ingest"
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    main_hwm_mib: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    # Killed at --timeout: seconds, rows/s, ratio and peak are then bounds, not values.
    timed_out: bool = False
    # The ingest's decomposition (bench/ingest_floors.py): "stages" and "write".
    floors: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------
# Paths and import path
# --------------------------------------------------------------------------


def ensure_import_path() -> None:
    """Make `crm_hygiene` importable without relying on the caller's PYTHONPATH."""
    for entry in (REPO_ROOT, REPO_ROOT / "plugins"):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))


def child_env() -> dict[str, str]:
    paths = [str(REPO_ROOT / "plugins"), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def drop_path(rows: int) -> Path:
    return OUT_DIR / f"research_{rows}_seed{SEED}.csv"


def sqlite_path(rows: int, step: str) -> Path:
    return OUT_DIR / "db" / f"bench_{rows}_{step}.sqlite"


def inbox_dir() -> Path:
    return OUT_DIR / "inbox"


def archive_dir() -> Path:
    return OUT_DIR / "archive"


def pg_url_for(server_url: str, database: str) -> str:
    """SQLAlchemy URL of `database` on the server `server_url` points at."""
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def libpq_dsn(server_url: str, database: str) -> str:
    """The same database as a plain libpq URL, for psycopg without SQLAlchemy."""
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------
# Input files
# --------------------------------------------------------------------------


def csv_data_rows(path: Path) -> int:
    """Data rows as a CSV reader sees them (a quoted cell may span lines)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def ensure_drop(rows: int) -> Path:
    """The research drop of `rows` rows, generated once and reused while intact."""
    path = drop_path(rows)
    if path.exists() and csv_data_rows(path) == rows:
        log(f"reusing {path.relative_to(REPO_ROOT)}")
        return path
    from crm_hygiene.sample_data import write_research_file

    log(f"generating {path.relative_to(REPO_ROOT)} ...")
    started = time.perf_counter()
    # Write aside and rename, so an interrupted run never leaves a short file
    # under the real name.
    tmp = path.with_suffix(".tmp")
    write_research_file(tmp, rows, SEED, TODAY)
    tmp.replace(path)
    log(f"  {rows:,} rows, {path.stat().st_size / MIB:.0f} MiB in {time.perf_counter() - started:.1f} s")
    return path


def csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh))


# --------------------------------------------------------------------------
# Fresh databases (parent process, not timed)
# --------------------------------------------------------------------------


def postgres_reachable(server_url: str) -> str:
    """'' if the server answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(libpq_dsn(server_url, "postgres"), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return ""


def postgres_version(server_url: str) -> str:
    import psycopg

    with psycopg.connect(libpq_dsn(server_url, "postgres"), connect_timeout=3) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def recreate_postgres_db(server_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_dsn(server_url, "postgres"), autocommit=True) as conn:
        # FORCE: a crashed earlier run may still hold a session on it.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))


def drop_postgres_db(server_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_dsn(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))


def fresh_sqlite_file(rows: int, step: str) -> Path:
    path = sqlite_path(rows, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return path


def create_floor_table(backend: str, target: str, header: list[str]) -> None:
    """The floor's target: one TEXT column per CSV column, no keys, no indexes."""
    if backend == "postgresql":
        import psycopg
        from psycopg import sql

        columns = sql.SQL(", ").join(sql.SQL("{} TEXT").format(sql.Identifier(name)) for name in header)
        with psycopg.connect(target) as conn:
            conn.execute(sql.SQL("CREATE TABLE floor_rows ({})").format(columns))
        return
    import sqlite3

    columns = ", ".join(f'"{name}" TEXT' for name in header)
    conn = sqlite3.connect(target)
    try:
        # Same journal mode the CRM engine uses (db.make_engine), so the floor
        # and the ingest write the same way.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE floor_rows ({columns})")
        conn.commit()
    finally:
        conn.close()


def upgrade_crm_schema(url: str) -> None:
    from crm_hygiene.db import make_engine, upgrade_schema

    engine = make_engine(url)
    try:
        upgrade_schema(engine)
    finally:
        engine.dispose()


def prepare_target(args: argparse.Namespace, rows: int, backend: str, step: str) -> str:
    """A fresh, empty database for one measurement; returns what the child connects to."""
    if backend == "postgresql":
        recreate_postgres_db(args.pg_url)
        target = libpq_dsn(args.pg_url, BENCH_DB) if step == "floor" else pg_url_for(args.pg_url, BENCH_DB)
    else:
        path = fresh_sqlite_file(rows, step)
        target = str(path) if step == "floor" else f"sqlite:///{path}"
    if step == "floor":
        create_floor_table(backend, target, csv_header(drop_path(rows)))
    else:
        upgrade_crm_schema(target)
    return target


def stage_inbox_copy(rows: int) -> Path:
    """Each step reads its own copy in a fresh inbox, as a drop would arrive."""
    for folder in (inbox_dir(), archive_dir()):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    copy = inbox_dir() / drop_path(rows).name
    shutil.copyfile(drop_path(rows), copy)
    return copy


# --------------------------------------------------------------------------
# The measured steps (child process, `--one`)
# --------------------------------------------------------------------------


def start_clock() -> float:
    """Start timing, and tell the parent when, so a step killed at the timeout
    still yields a lower bound on its own time (imports and setup excluded)."""
    print(f"{STARTED_PREFIX}{time.time()}", flush=True)
    return time.perf_counter()


def floor_postgres(dsn: str, path: Path) -> dict[str, float]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        started = start_clock()
        with path.open("rb") as fh, conn.cursor() as cur:
            with cur.copy("COPY floor_rows FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := fh.read(COPY_BLOCK_BYTES):
                    copy.write(block)
            loaded = cur.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_loaded": loaded}


def floor_sqlite(db_path: str, path: Path) -> dict[str, float]:
    import sqlite3

    # Autocommit mode, explicit BEGIN/COMMIT: the whole file is one transaction,
    # as in the ingest. synchronous=NORMAL matches db.make_engine.
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        placeholders = ", ".join("?" for _ in csv_header(path))
        insert = f"INSERT INTO floor_rows VALUES ({placeholders})"  # noqa: S608 - placeholders only, no values
        loaded = 0
        started = start_clock()
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            conn.execute("BEGIN")
            while batch := list(itertools.islice(reader, SQLITE_BATCH_ROWS)):
                conn.executemany(insert, batch)
                loaded += len(batch)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"seconds": seconds, "rows_loaded": loaded}


def ingest_once(url: str, path: Path) -> dict[str, float]:
    from ingest_floors import StageClock

    from crm_hygiene.db import make_engine
    from crm_hygiene.drops.registry import Drop
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_file
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    engine = make_engine(url)
    policy = load_policy()
    run = RunInfo(dag_id="bench", run_id="bench", today=TODAY)
    clock = StageClock().install()
    started = start_clock()
    clock.mark("start")
    counts = ingest_file(engine, Drop.of("research", path, archive_dir()), RESEARCH, policy, BENCH_KEYS(), run)
    clock.mark("end")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, **asdict(counts), "stage_report": clock.stages()}


def main_process_hwm_mib() -> float:
    """This process's resident high-water mark; resets at exec, unlike ru_maxrss."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # reported in kB
    return 0.0


def run_one(args: argparse.Namespace) -> None:
    """Child mode: run one prepared step and print its result as one JSON line."""
    ensure_import_path()
    if args.one == "floor":
        step = floor_postgres if args.backend == "postgresql" else floor_sqlite
    else:
        step = ingest_once
    result = step(args.target, Path(args.file))
    result["main_hwm_mib"] = main_process_hwm_mib()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# --------------------------------------------------------------------------
# Running a step in a fresh process and watching its memory (parent)
# --------------------------------------------------------------------------


def tree_rss(proc) -> int:
    """Resident bytes of a process plus all its descendants (0 once it is gone)."""
    import psutil

    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass  # exited between listing and reading: its memory is gone anyway
    return total


@dataclass
class ChildRun:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int
    timed_out: bool
    ended_at: float  # time.time() when the child ended or was killed


def run_child(command: list[str], timeout: float) -> ChildRun:
    """Run `command`, sampling its process tree's RSS every 50 ms; kill the tree at `timeout` s."""
    import psutil

    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=REPO_ROOT
    ) as child:
        watched = psutil.Process(child.pid)
        deadline = time.monotonic() + timeout
        peak, timed_out = 0, False
        # Read pipes on threads so a chatty child cannot block on a full pipe
        # while we sample.
        out, err, readers = _drain_in_background(child)
        while child.poll() is None:
            peak = max(peak, tree_rss(watched))
            if time.monotonic() > deadline:
                timed_out = True
                kill_tree(watched)
                child.wait()
                break
            time.sleep(SAMPLE_SECONDS)
        ended_at = time.time()
        for reader in readers:
            reader.join()
    return ChildRun(child.returncode, "".join(out), "".join(err), peak, timed_out, ended_at)


def kill_tree(root) -> None:
    """Workers first, then the step's process, so no orphan keeps running."""
    import psutil

    try:
        members = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for member in members:
        try:
            member.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(members, timeout=10)


def _drain_in_background(child: subprocess.Popen) -> tuple[list[str], list[str], list]:
    import threading

    out: list[str] = []
    err: list[str] = []
    readers = []
    for stream, sink in ((child.stdout, out), (child.stderr, err)):
        reader = threading.Thread(target=sink.extend, args=(stream,), daemon=True)
        reader.start()
        readers.append(reader)
    return out, err, readers


def measure(args: argparse.Namespace, rows: int, backend: str, step: str) -> Measurement:
    target = prepare_target(args, rows, backend, step)
    file = drop_path(rows) if step == "floor" else stage_inbox_copy(rows)
    command = [sys.executable, str(Path(__file__).resolve()), "--one", step,
               "--backend", backend, "--target", target, "--file", str(file)]
    log(f"{rows:>9,}  {backend:<10}  {step:<6} ...")
    run = run_child(command, args.timeout)
    measurement = Measurement(rows=rows, backend=backend, step=step, peak_rss_mib=run.peak_bytes / MIB)
    result = parse_line(run.stdout, RESULT_PREFIX)
    if run.timed_out:
        # On PostgreSQL the server may still be running the killed client's
        # statement; the next DROP DATABASE ... WITH (FORCE) ends it.
        started = parse_line(run.stdout, STARTED_PREFIX)
        measurement.timed_out = True
        measurement.seconds = run.ended_at - started if started else args.timeout
        log(f"  TIMEOUT: killed after {measurement.seconds:.0f} s of the step, "
            f"peak so far {measurement.peak_rss_mib:.0f} MiB")
    elif run.returncode != 0 or result is None:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        measurement.error = f"exit {run.returncode}: {tail}"
        log(f"  FAILED: {measurement.error}")
    else:
        measurement.seconds = result.pop("seconds")
        measurement.main_hwm_mib = result.pop("main_hwm_mib")
        if "stage_report" in result:
            measurement.floors["stages"] = result.pop("stage_report")
        measurement.counts = result
        log(f"  {measurement.seconds:.2f} s, peak {measurement.peak_rss_mib:.0f} MiB")
        if step == "ingest":
            measurement.floors["write"] = measure_write_floor(args, rows, backend, target)
    shutil.rmtree(archive_dir(), ignore_errors=True)  # the archived copy is just disk space now
    return measurement


def measure_write_floor(args: argparse.Namespace, rows: int, backend: str, target: str) -> dict | None:
    """The ingest's final rows written again into bare copies of their tables (before the next
    step recreates the database); None, logged, if that fails: the bench still reports the rest."""
    from ingest_floors import write_floor

    log(f"{rows:>9,}  {backend:<10}  write floor ...")
    crm_target = libpq_dsn(args.pg_url, BENCH_DB) if backend == "postgresql" else target
    try:
        write = write_floor(backend, crm_target, OUT_DIR / "db")
    except Exception as exc:  # noqa: BLE001 - a measuring aid must not sink the bench
        log(f"  write floor FAILED: {type(exc).__name__}: {exc}")
        return None
    log("  " + ", ".join(f"{t}: after {w['after']:.2f} s, during {w['during']:.2f} s" for t, w in write.items()))
    return write


PEER_STYLES = ("apply", "comprehension")


def measure_peer(args: argparse.Namespace, rows: int, style: str) -> Measurement:
    """bench/peer_pandas.py on the same file, in a fresh process, into a fresh database."""
    recreate_postgres_db(args.pg_url)
    command = [sys.executable, str(Path(__file__).resolve().with_name("peer_pandas.py")), "--style", style,
               "--dsn", libpq_dsn(args.pg_url, BENCH_DB), "--file", str(drop_path(rows))]
    log(f"{rows:>9,}  {'postgresql':<10}  peer {style} ...")
    run = run_child(command, args.timeout)
    measurement = Measurement(rows=rows, backend="postgresql", step=f"peer {style}",
                              peak_rss_mib=run.peak_bytes / MIB)
    result = parse_line(run.stdout, "PEER_RESULT ")
    if run.timed_out:
        measurement.timed_out, measurement.seconds = True, args.timeout
    elif run.returncode != 0 or result is None:
        measurement.error = f"exit {run.returncode}: " + "\n".join(run.stderr.strip().splitlines()[-15:])
        log(f"  FAILED: {measurement.error}")
    else:
        measurement.seconds = result["seconds"]
        measurement.counts = {"rows_loaded": result["rows_loaded"]}
        log(f"  {measurement.seconds:.2f} s, peak {measurement.peak_rss_mib:.0f} MiB")
    return measurement


def measure_check_costs(rows: int):
    from ingest_floors import check_costs

    log(f"{rows:>9,}  row-check costs on one core ...")
    try:
        return check_costs(drop_path(rows), TODAY, BENCH_KEYS())
    except Exception as exc:  # noqa: BLE001 - a measuring aid must not sink the bench
        log(f"  row-check costs FAILED: {type(exc).__name__}: {exc}")
        return None


def parse_line(stdout: str, prefix: str):
    """The JSON after the last line starting with `prefix`, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(prefix):
            return json.loads(line[len(prefix):])
    return None


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

COLUMNS = ("size", "backend", "step", "seconds", "rows/s", "x floor", "peak RSS MiB", "main HWM MiB")


def floor_for(results: list[Measurement], m: Measurement) -> Measurement | None:
    floor = find(results, m.rows, m.backend, "floor")
    return floor if floor is not None and not floor.timed_out and floor.seconds else None


def floor_ratio(results: list[Measurement], m: Measurement) -> float | None:
    """Seconds / floor seconds; a lower bound when `m` timed out."""
    floor = floor_for(results, m)
    if floor is None or m.error:
        return None
    return m.seconds / floor.seconds


def bound(value: str, m: Measurement, sign: str) -> str:
    """Mark a value that is only a bound because the step was killed at the timeout."""
    return f"{sign} {value}" if m.timed_out else value


def table_rows(results: list[Measurement]) -> list[tuple[str, ...]]:
    rows = []
    for m in results:
        if m.error:
            rows.append((f"{m.rows:,}", m.backend, m.step, "FAILED", "", "", f"{m.peak_rss_mib:.0f}", ""))
            continue
        ratio = floor_ratio(results, m)
        rows.append((
            f"{m.rows:,}", m.backend, m.step,
            bound(f"{m.seconds:.2f}", m, ">"),
            bound(f"{m.rows_per_second:,.0f}", m, "<"),
            "" if ratio is None else bound(f"{ratio:.1f}", m, ">"),
            bound(f"{m.peak_rss_mib:.0f}", m, ">="),
            "" if m.timed_out or not m.main_hwm_mib else f"{m.main_hwm_mib:.0f}",
        ))
    return rows


def counts_rows(results: list[Measurement]) -> list[tuple[str, ...]]:
    """What each ingest did, so a fast run that skipped work would show."""
    keys = ("rows_read", "rows_quarantined", "rows_admitted", "rows_blocked", "prospects_created")
    return [
        (f"{m.rows:,}", m.backend, *(f"{m.counts.get(k, 0):,}" for k in keys))
        for m in results if m.step == "ingest" and m.counts
    ]


COUNT_COLUMNS = ("size", "backend", "read", "quarantined", "admitted", "blocked", "prospects created")


def text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    # Text columns left-aligned, numbers right-aligned.
    left = {"size", "backend", "step"}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(cells, widths, header, strict=True)
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    align = ["---" if h in {"size", "backend", "step"} else "---:" for h in header]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


@dataclass
class Check:
    name: str
    passed: bool | None  # None: not measured, or cut short by the timeout before it could be decided
    detail: str

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "N/A"}[self.passed]


def find(results: list[Measurement], rows: int, backend: str, step: str) -> Measurement | None:
    """The measurement that ran (finished or was killed at the timeout); None if absent or crashed."""
    for m in results:
        if (m.rows, m.backend, m.step) == (rows, backend, step) and not m.error:
            return m
    return None


def check_peak_memory(results: list[Measurement]) -> Check:
    name = f"peak memory of every ingest under {MAX_PEAK_MIB:.0f} MiB"
    ingests = [m for m in results if m.step == "ingest" and not m.error]
    if not ingests:
        return Check(name, None, "no ingest measured")
    worst = max(ingests, key=lambda m: m.peak_rss_mib)
    detail = f"largest {worst.peak_rss_mib:.0f} MiB ({worst.backend}, {worst.rows:,} rows)"
    if any(m.peak_rss_mib >= MAX_PEAK_MIB for m in ingests):
        return Check(name, False, detail)
    cut_short = [m for m in ingests if m.timed_out]
    if cut_short:
        # A killed run's peak is only what it reached before the kill.
        return Check(name, None, f"{detail}; {len(cut_short)} ingest(s) killed at the timeout")
    return Check(name, True, detail)


def check_memory_growth(results: list[Measurement], sizes: list[int], backend: str) -> Check:
    small, large = min(sizes), max(sizes)
    name = f"{backend}: ingest memory for {large:,} rows within {MAX_MEMORY_GROWTH - 1:.0%} of {small:,}"
    if small == large:
        name = f"{backend}: ingest memory flat in file size"
    a, b = find(results, small, backend, "ingest"), find(results, large, backend, "ingest")
    if small == large or a is None or b is None or a.timed_out:
        return Check(name, None, "needs two sizes measured")
    growth = b.peak_rss_mib / a.peak_rss_mib
    detail = f"{a.peak_rss_mib:.0f} -> {b.peak_rss_mib:.0f} MiB ({growth:.2f}x)"
    if b.timed_out:
        # The killed run's peak is a lower bound: only "too much" is decidable.
        detail = f"{a.peak_rss_mib:.0f} -> >= {b.peak_rss_mib:.0f} MiB (>= {growth:.2f}x; {large:,} killed at the timeout)"
        return Check(name, False if growth > MAX_MEMORY_GROWTH else None, detail)
    return Check(name, growth <= MAX_MEMORY_GROWTH, detail)


def floor_checks(results: list[Measurement], sizes: list[int], backends: list[str], costs: dict) -> list[Check]:
    """Issue 15's ratios to the floors measured in this run, per size and backend."""
    from ingest_floors import ratios

    checks = []
    for rows in sizes:
        for backend in backends:
            ingest = find(results, rows, backend, "ingest")
            if ingest is None or ingest.timed_out:
                continue
            for ratio in ratios(backend, rows, ingest.seconds, costs.get(rows), ingest.floors.get("write"),
                                ingest.floors.get("stages")):
                passed = None if ratio.value is None else ratio.value <= ratio.target
                value = "" if ratio.value is None else f"{ratio.value:.2f}x: "
                checks.append(Check(ratio.name, passed, value + ratio.detail))
    return checks


def check_peer(results: list[Measurement], rows: int) -> Check:
    name = f"PostgreSQL {rows:,}-row ingest at least {MIN_PEER_SPEEDUP}x faster than the faster pandas peer"
    ingest = find(results, rows, "postgresql", "ingest")
    peers = [p for p in (find(results, rows, "postgresql", f"peer {s}") for s in PEER_STYLES) if p is not None]
    if ingest is None or ingest.timed_out or not peers:
        return Check(name, None, "ingest and peer not both measured")
    fastest = min(peers, key=lambda p: p.seconds)
    speedup = fastest.seconds / ingest.seconds
    bound_note = " (peer killed at the timeout: a lower bound)" if fastest.timed_out else ""
    return Check(name, speedup >= MIN_PEER_SPEEDUP,
                 f"{speedup:.2f}x ({fastest.step}: {fastest.seconds:.1f} s, ingest {ingest.seconds:.1f} s){bound_note}")


def target_checks(results: list[Measurement], sizes: list[int], backends: list[str], costs: dict) -> list[Check]:
    checks = floor_checks(results, sizes, backends, costs)
    if "postgresql" in backends:
        checks += [check_peer(results, rows) for rows in sizes]
    checks.append(check_peak_memory(results))
    checks += [check_memory_growth(results, sizes, backend) for backend in backends]
    return checks


def decompositions(results: list[Measurement], costs: dict) -> list[str]:
    from ingest_floors import decomposition_text

    texts = []
    for m in results:
        if m.step != "ingest" or m.error or m.timed_out:
            continue
        floor = floor_for(results, m)
        texts.append(decomposition_text(m.rows, m.backend, floor.seconds if floor else None, m.seconds,
                                        costs.get(m.rows), m.floors.get("write"), m.floors.get("stages")))
    return texts


def code_version() -> str:
    """The commit measured, '-dirty' if tracked files differ from it: numbers go with code."""
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "commit unknown"
    return f"commit {described.stdout.strip()}"


def environment_line(args: argparse.Namespace, backends: list[str]) -> str:
    import psutil

    parts = [
        f"{datetime.now():%Y-%m-%d %H:%M}",
        code_version(),
        f"Python {platform.python_version()}",
        f"{os.cpu_count()} cores",
        f"{psutil.virtual_memory().total / (1 << 30):.0f} GiB RAM",
        # A shared machine: other sessions' work slows every figure, so say how loaded it was.
        f"load average {args.load_at_start} at start, {load_average()} at end",
    ]
    if "postgresql" in backends:
        parts.append(f"PostgreSQL {postgres_version(args.pg_url)}")
    import sqlite3

    parts.append(f"SQLite {sqlite3.sqlite_version}")
    return ", ".join(parts)


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def print_report(results: list[Measurement], checks: list[Check], environment: str, decomposed: list[str]) -> None:
    print()
    print(environment)
    print()
    print(text_table(COLUMNS, table_rows(results)))
    print()
    if counts_rows(results):
        print(text_table(COUNT_COLUMNS, counts_rows(results)))
        print()
    for text in decomposed:
        print(text)
        print()
    print("Targets")
    for check in checks:
        marker = "  <<< FAIL" if check.passed is False else ""
        print(f"  {check.verdict:<4}  {check.name}: {check.detail}{marker}")
    for m in results:
        if m.error:
            print(f"\n{m.rows:,} {m.backend} {m.step} failed:\n{m.error}")


def write_markdown(results: list[Measurement], checks: list[Check], environment: str, decomposed: list[str]) -> Path:
    path = OUT_DIR / "results.md"
    lines = [
        "## Ingest benchmark",
        "",
        f"`make bench`, {environment}. Research drops, seed {SEED}. "
        "`x floor` = ingest time / bare bulk-load time of the same file; "
        "peak RSS = sampled sum over the process tree (main + workers).",
        "",
        markdown_table(COLUMNS, table_rows(results)),
        "",
        *([markdown_table(COUNT_COLUMNS, counts_rows(results)), ""] if counts_rows(results) else []),
        *(["```", *decomposed, "```", ""] if decomposed else []),
        "| target | result | detail |",
        "| --- | --- | --- |",
        *(f"| {c.name} | **{c.verdict}** | {c.detail} |" for c in checks),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated row counts (default: %(default)s)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds before one measurement is killed and reported as a bound (default: %(default)s)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help=f"PostgreSQL server; its database {BENCH_DB!r} is dropped and recreated")
    # Internal: the parent runs every measurement as `--one STEP` in a fresh process.
    parser.add_argument("--one", choices=("floor", "ingest"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return args


def usable_backends(args: argparse.Namespace) -> list[str]:
    backends = list(args.backends)
    if "postgresql" in backends:
        why = postgres_reachable(args.pg_url)
        if why:
            log(f"PostgreSQL at {args.pg_url} is unreachable ({why}); running SQLite only.")
            backends.remove("postgresql")
    return backends


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one:
        run_one(args)
        return 0
    ensure_import_path()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    args.load_at_start = load_average()
    backends = usable_backends(args)
    if not backends:
        log("no backend to benchmark")
        return 0
    for rows in args.sizes:
        ensure_drop(rows)
    results = []
    costs = {}
    for rows in args.sizes:
        results += [measure(args, rows, backend, step) for backend in backends for step in ("floor", "ingest")]
        if "postgresql" in backends:
            results += [measure_peer(args, rows, style) for style in PEER_STYLES]
        costs[rows] = measure_check_costs(rows)
    if "postgresql" in backends:
        drop_postgres_db(args.pg_url)
    checks = target_checks(results, args.sizes, backends, costs)
    environment = environment_line(args, backends)
    decomposed = decompositions(results, costs)
    print_report(results, checks, environment, decomposed)
    markdown = write_markdown(results, checks, environment, decomposed)
    log(f"\nMarkdown written to {markdown.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
