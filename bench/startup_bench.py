"""Start-up benchmark (part of `make bench`): what a fresh task process pays before its first row.

Every hourly ingest run is a fresh process, so its wall time is the ingest
itself plus the start-up that a warm process would not pay again: the
interpreter, the project's imports, the Great Expectations gate's first use
(GX's import, its context and suite, the first validation: in the gate
process, beside the row checks, see ``crm_hygiene/ingest/gate.py``) and, when
a scanned free-text cell passes the special-category pre-filter, Presidio's
first use. Per backend and drop, in fresh subprocesses on a fresh copy of a
CRM of ``--held`` people (1,000,000 by default, the issue's target; the
suppression bench's synthetic people, bulk-loaded and not timed; the SQLite
one is kept for the next run):

* ``interpreter``: from the parent starting the child to the child's first line;
* ``imports``: the child starting the gate process (a drop is waiting),
  importing the pipeline, reading the policy and making the engine (what
  ``crm_airflow.tasks.ingest_drops`` does before it calls ``ingest_inbox``);
* ``gate wait``: how long the ingest waited for the gate's verdict (the
  ``gate_failures`` call, just before the commit): the part of GX's first
  use that the row checks and the SQL did not hide;
* ``presidio 1st``: the first scan that reached Presidio (its import, its
  recognizers, the first analysis), inside the ingest; ``-`` when the drop
  never loaded it;
* ``ingest``: ``ingest_inbox`` on an inbox holding the 10,000-row drop, the
  whole hourly run (gate, row checks, SQL, audit, archive);
* ``fresh total``: start of the child to the end of that ingest, what one
  hourly run costs;
* ``warm ingest`` / ``gate warm``: a second, different 10,000-row drop
  ingested by the same process afterwards (everything already loaded).

Two drops: ``sample`` (as `make sample-data` writes them: about 1% of rows
carry special-category remarks in ``notes``, and some job titles pass the
pre-filter, so Presidio loads) and ``no free text`` (the same rows with the
scanned fields ``notes``, ``job_title`` and ``company`` empty, so it must not).
Each figure is the best of ``--repeats`` fresh processes (start-up noise only
ever adds time). Beside the gate's, Presidio's and the fresh total's wall
time, in brackets, the process's CPU seconds over the same stretch (the gate
process's own CPU is not in them): on a machine shared with other work, wall
time of a fresh process moves by tens of percent from run to run, its CPU
time far less.

Then the floors: each piece of the start-up imported alone in fresh
interpreters (CPU and wall seconds, best of ``--repeats``), so a fresh total
can be read against what it cannot go below.

Module level imports only the standard library, so that ``interpreter`` is
the interpreter alone. Results also go to ``bench/out/startup_results.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out" / "startup"
DROP_ROWS = 10_000
DEFAULT_HELD = 1_000_000
TODAY = date(2026, 11, 24)
SEEDS = {"fresh": 7, "warm": 9}
SCANNED_FIELDS = ("notes", "job_title", "company")
DROPS = ("sample", "no free text")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
TEMPLATE_DB = "crm_bench_startup_template"
RUN_DB = "crm_bench_startup"
RESULT_PREFIX = "STARTUP_RESULT "


def ensure_import_path() -> None:
    for entry in (REPO_ROOT, REPO_ROOT / "plugins"):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))


def bench_keys():
    from crm_hygiene.keys import parse_hash_keys

    return parse_hash_keys("bench:benchmark-secret-0123456789")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Child: one fresh process, one hourly run and then a warm one
# --------------------------------------------------------------------------


def run_child(args: argparse.Namespace) -> None:
    entered = time.monotonic()  # CLOCK_MONOTONIC: the parent's clock too
    ensure_import_path()
    data = Path(args.data)
    inbox, archive = data / "inbox" / "research", data / "archive" / "research"
    shutil.copyfile(args.fresh, inbox / "fresh.csv")
    # As crm_airflow.tasks.ingest_drops does: a drop is waiting, so the gate process starts first.
    from crm_hygiene.drops.files import pending_files
    from crm_hygiene.ingest.gate import start_gate_process

    if pending_files(inbox):
        start_gate_process()
    from crm_hygiene import special_category
    from crm_hygiene.db import make_engine
    from crm_hygiene.ingest import pipeline
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    engine, policy, keys = make_engine(args.target), load_policy(), bench_keys()
    imported = time.monotonic()

    gate_calls: list[tuple[float, float]] = []
    presidio_calls: list[tuple[float, float]] = []
    timed_gate(pipeline, gate_calls)
    timed_first_presidio_scan(special_category, presidio_calls)

    runs = []
    for name in ("fresh", "warm"):
        if name == "warm":
            shutil.copyfile(args.warm, inbox / "warm.csv")
        started = time.monotonic()
        summary = pipeline.ingest_inbox(engine, RESEARCH, policy, keys, RunInfo("bench", name, TODAY),
                                        inbox, archive).as_dict()
        runs.append((started, time.monotonic(), summary))
        if name == "fresh":
            presidio_loaded = "presidio_analyzer" in sys.modules
            gx_loaded = "great_expectations" in sys.modules
            fresh_cpu = time.process_time()
    engine.dispose()
    (fresh_start, fresh_end, fresh), (warm_start, warm_end, warm) = runs
    result = {
        "interpreter": entered - args.spawned,
        "imports": imported - entered,
        "gate_first": gate_calls[0][0],
        "gate_first_cpu": gate_calls[0][1],
        "gate_warm": gate_calls[-1][0],
        "presidio_first": presidio_calls[0][0] if presidio_loaded else None,
        "presidio_first_cpu": presidio_calls[0][1] if presidio_loaded else None,
        "ingest": fresh_end - fresh_start,
        "fresh_total": fresh_end - args.spawned,
        "fresh_cpu": fresh_cpu,
        "warm_ingest": warm_end - warm_start,
        "admitted": fresh["rows_admitted"],
        "redactions": fresh["special_category_redactions"],
        "gx_in_task_process": gx_loaded,
    }
    if (fresh["files_loaded"], warm["files_loaded"]) != (1, 1):
        raise RuntimeError(f"a drop was not loaded: {fresh['rejected'] or fresh['set_aside']}"
                           f" {warm['rejected'] or warm['set_aside']}")
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def timed(function, calls: list[tuple[float, float]]):
    """``function``, appending (wall, CPU) seconds of each call to ``calls``."""

    def timed_call(*args, **kwargs):
        wall, cpu = time.monotonic(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            calls.append((time.monotonic() - wall, time.process_time() - cpu))

    return timed_call


def timed_gate(pipeline, calls: list[tuple[float, float]]) -> None:
    """Time each wait for a gate's verdict the pipeline makes (the name it calls, not a copy)."""
    pipeline.gate_failures = timed(pipeline.gate_failures, calls)


def timed_first_presidio_scan(special_category, calls: list[tuple[float, float]]) -> None:
    """Time the scans that reach Presidio: the first one imports and builds it."""
    scanner = special_category.SpecialCategoryScanner
    scanner._redact_with_presidio = timed(scanner._redact_with_presidio, calls)


# --------------------------------------------------------------------------
# Parent: drops, a template CRM per backend, fresh copies, fresh processes
# --------------------------------------------------------------------------


def write_drops() -> dict[str, dict[str, Path]]:
    """{drop: {"fresh": path, "warm": path}}."""
    from crm_hygiene.sample_data import write_research_file

    folder = OUT_DIR / "drops"
    folder.mkdir(parents=True, exist_ok=True)
    sample = {}
    for role, seed in SEEDS.items():
        path = folder / f"research_{DROP_ROWS}_seed{seed}.csv"
        if not path.exists():
            write_research_file(path, DROP_ROWS, seed, TODAY)
        sample[role] = path
    drops = {"sample": {r: sample[r] for r in ("fresh", "warm")}}
    drops["no free text"] = {r: without_free_text(sample[r]) for r in ("fresh", "warm")}
    return drops


def without_free_text(path: Path) -> Path:
    out = path.with_name(path.stem + "_no_free_text.csv")
    with path.open(encoding="utf-8-sig", newline="") as src, out.open("w", encoding="utf-8", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, reader.fieldnames)
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, **{f: "" for f in SCANNED_FIELDS if f in row}})
    return out


def postgres_problem(server_url: str) -> str:
    """'' if the server answers, else why not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(server_url + "/postgres", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any reason is reported, not raised
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return ""


def pg_admin(server_url: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def build_template(backend: str, server_url: str, held: int) -> str:
    """The CRM every run starts from: the schema and ``held`` synthetic people (not timed).

    The SQLite one is kept in bench/out/startup/db/ and used again while its stamp
    (people held, schema revision) matches; PostgreSQL's is built each run."""
    from suppression_bench import load_held

    from crm_hygiene.db import make_engine, schema_revisions, upgrade_schema

    if backend == "postgresql":
        pg_admin(server_url, f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)", f"CREATE DATABASE {TEMPLATE_DB}")
        url = f"{server_url}/{TEMPLATE_DB}"
    else:
        path = OUT_DIR / "db" / f"template_{held}.sqlite"
        stamp_file = path.with_suffix(".stamp")
        url = f"sqlite:///{path}"
        if path.exists() and stamp_file.exists():
            engine = make_engine(url)
            with engine.connect() as conn:
                current, heads = schema_revisions(conn)
            engine.dispose()
            if current == heads and stamp_file.read_text() == f"{held} {sorted(heads)}":
                log(f"  using the {held:,}-person SQLite CRM built before ({path.name})")
                return url
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), stamp_file):
            leftover.unlink(missing_ok=True)
    engine = make_engine(url)
    upgrade_schema(engine)
    load_held(engine, held)
    if backend == "sqlite":
        with engine.connect() as conn:
            _, heads = schema_revisions(conn)
        stamp_file.write_text(f"{held} {sorted(heads)}")
    engine.dispose()
    return url


def fresh_copy(backend: str, server_url: str, template: str) -> str:
    if backend == "postgresql":
        pg_admin(server_url, f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
                 f"CREATE DATABASE {RUN_DB} TEMPLATE {TEMPLATE_DB}")
        return f"{server_url}/{RUN_DB}"
    import sqlite3

    source = Path(template.removeprefix("sqlite:///"))
    target = source.with_name("run.sqlite")
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # whatever of the template is still in its WAL comes too
    src.close()
    dst.close()
    return f"sqlite:///{target}"


def fresh_data_folder() -> Path:
    data = OUT_DIR / "data"
    shutil.rmtree(data, ignore_errors=True)
    for folder in ("inbox/research", "archive/research"):
        (data / folder).mkdir(parents=True)
    return data


def measure_once(target: str, drop: dict[str, Path]) -> dict:
    data = fresh_data_folder()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT / "plugins"), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--target", target, "--data", str(data),
               "--fresh", str(drop["fresh"]), "--warm", str(drop["warm"])]
    spawned = time.monotonic()
    done = subprocess.run([*command, "--spawned", repr(spawned)], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        raise RuntimeError(f"bench child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix(RESULT_PREFIX))


def best(runs: list[dict]) -> dict:
    """Each figure's best (smallest) over the repeats; counts from the first run."""
    out = dict(runs[0])
    for key, value in out.items():
        if isinstance(value, float):
            out[key] = min(r[key] for r in runs)
    return out


def seconds(value: float | None, cpu: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if cpu is None else f"{value:.2f} ({cpu:.2f})"


def report(results: list[tuple[str, str, dict]], floors: list[tuple[str, float, float]], held: int, repeats: int,
           skipped: list[str]) -> str:
    lines = [
        "## Start-up of a fresh ingest process", "",
        f"`make bench`: a {DROP_ROWS:,}-row research drop ingested by a fresh process into a CRM of "
        f"{held:,} people (`bench/startup_bench.py`; best of {repeats} processes each, seconds).", "",
        "| backend | drop | interpreter | imports | gate wait | presidio 1st | ingest | fresh total "
        "| warm ingest | gate warm |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, drop, r in results:
        lines.append(
            f"| {backend} | {drop} | {seconds(r['interpreter'])} | {seconds(r['imports'])} | "
            f"{seconds(r['gate_first'], r['gate_first_cpu'])} | "
            f"{seconds(r['presidio_first'], r['presidio_first_cpu'])} | {seconds(r['ingest'])} | "
            f"{seconds(r['fresh_total'], r['fresh_cpu'])} | {seconds(r['warm_ingest'])} | {seconds(r['gate_warm'])} |")
    lines += ["", "`gate wait` (the first file's) and `presidio 1st` are inside `ingest`; `fresh total` runs "
              "from starting the process to the end of the first ingest. In brackets: the task process's CPU "
              "seconds for the same stretch (not the gate process's), which other load on the machine inflates "
              "far less than wall time.", ""]
    if floors:
        bare_cpu, bare_wall = floors[0][1], floors[0][2]
        lines += ["Floors: each piece alone in a fresh interpreter, CPU (wall) seconds, and beyond the bare "
                  "interpreter's.", "", "| piece | process CPU (wall) | beyond the interpreter, CPU |",
                  "| --- | ---: | ---: |"]
        lines += [f"| {name} | {cpu:.2f} ({wall:.2f}) | {'' if i == 0 else f'{cpu - bare_cpu:.2f}'} |"
                  for i, (name, cpu, wall) in enumerate(floors)]
        lines += ["", f"(bare interpreter wall {bare_wall:.2f} s)", ""]
    lines += [f"{s}" for s in skipped]
    return "\n".join(lines)


# What a fresh task process (or its gate process) imports, each alone in a fresh interpreter.
IMPORT_FLOORS = (
    ("bare interpreter", "pass"),
    ("task imports: pipeline, policy, engine", "from crm_hygiene.ingest import pipeline; from crm_hygiene.db import "
     "make_engine; from crm_hygiene.policy import load_policy; load_policy()"),
    ("gate process: GX, its context and batch definition",
     "from crm_hygiene.ingest.gate import _batch_definition, _defer_scipy_stats; _defer_scipy_stats(); "
     "_batch_definition()"),
    ("Presidio: analyzer and anonymizer", "import presidio_analyzer, presidio_anonymizer"),
    ("pandas", "import pandas"),
    ("scipy.stats (imported by GX, never used by the gate)", "import scipy.stats"),
)


def measure_import_floors(repeats: int) -> list[tuple[str, float, float]]:
    """(piece, best whole-process CPU seconds, best wall seconds) of each IMPORT_FLOORS entry."""
    import resource

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT / "plugins"), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    floors = []
    for name, statement in IMPORT_FLOORS:
        cpu, wall = [], []
        for _ in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", statement], env=env, cwd=REPO_ROOT, check=True)
            wall.append(time.monotonic() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        floors.append((name, min(cpu), min(wall)))
        log(f"  floor: {name}: {min(cpu):.2f} CPU-s")
    return floors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per figure (the best is shown)")
    parser.add_argument("--held", type=int, default=DEFAULT_HELD, help="people in the CRM (default: %(default)s)")
    parser.add_argument("--pg-url", default=os.environ.get("CRM_BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return 0
    ensure_import_path()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    drops = write_drops()
    results, skipped = [], []
    for backend in args.backends.split(","):
        if backend == "postgresql" and (problem := postgres_problem(args.pg_url)):
            skipped.append(f"postgresql skipped: {problem}")
            continue
        log(f"startup bench: {backend}: a {args.held:,}-person CRM (not timed) ...")
        template = build_template(backend, args.pg_url, args.held)
        for drop in DROPS:
            runs = []
            for i in range(args.repeats):
                runs.append(measure_once(fresh_copy(backend, args.pg_url, template), drops[drop]))
                log(f"  {backend} / {drop} #{i + 1}: fresh total {runs[-1]['fresh_total']:.2f} s")
            results.append((backend, drop, best(runs)))
        if backend == "postgresql":
            pg_admin(args.pg_url, f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
                     f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
    floors = measure_import_floors(max(args.repeats, 3))
    text = report(results, floors, args.held, args.repeats, skipped)
    (REPO_ROOT / "bench" / "out" / "startup_results.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
