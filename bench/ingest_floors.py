"""The ingest's floors, measured in the same `make bench` run as the ingest (issue 15, item 1).

`bench/ingest_bench.py` calls this module; it never touches the pipeline's code.
Four measurements beside the bare COPY the bench already takes:

* ``write floor`` - the unavoidable write: the ingest's FINAL rows (read back
  from ``prospects`` and ``prospect_sources`` after the bench's ingest, not
  timed) loaded into fresh tables shaped like those two with their real
  indexes, once with the indexes built after the load and once kept up during
  it. PostgreSQL: ``COPY`` in one transaction per table; SQLite: ``executemany``
  in 50k batches, one transaction per table, in a fresh file (WAL,
  ``synchronous=NORMAL``, as the floor). Foreign keys and triggers are not
  copied: they are not what a bulk load has to pay for.
* ``check costs`` - each library the row checks call, alone, on the same file's
  values in a tight loop on one core (``time.process_time``): phonenumbers
  parse + is_valid, the project's ``canonical_email`` (email-validator on its
  cached, no-DNS path, cache cleared first as in a fresh worker), the HMAC of
  the match keys (every identifier a row is hashed by), the minors signals and
  the special-category pre-filter. And the whole ``prepare_chunk`` on one core
  on the same rows, as a worker runs it (no cycle collection inside a chunk),
  for comparison with what the workers really spent (their start-up, the
  trips of chunks and results, and the COPY text besides). The HMAC is the
  project's ``HashKey.digest``: since issue 15 it copies hashlib's keyed
  states (0.9 us a digest) instead of the hmac module's wrapper (1.4), so this
  floor is lower than in earlier runs.
* ``stages`` - the ingest's wall time by stage, taken from outside: the child
  process wraps a few public functions the pipeline calls (the gate, the
  staging index, admission, dropping staging) and marks the clock at their
  edges. A function renamed by a later change just merges two stages.
* ``cores`` - how busy each core of the MACHINE was in each stage
  (``psutil.cpu_times(percpu=True)`` at the stage edges): other sessions on a
  shared machine show up here too, which is why the bench prints the load.

The ratios the issue defines are computed from these (see ``ratio_checks``).
Module level imports only the standard library, as in ingest_bench.py.
"""

from __future__ import annotations

import csv
import gc
import itertools
import os
import pickle
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FINAL_TABLES = ("prospects", "prospect_sources")
SQLITE_BATCH_ROWS = 50_000
# The per-row costs settle long before this; a 1M file is sampled, not read whole.
CHECK_SAMPLE_ROWS = 200_000
CHUNK_ROWS = 20_000

# Targets from issue 15.
FLOOR_SUM_TARGET = {"postgresql": 2.0, "sqlite": 2.5}
CHECKS_OVERHEAD_TARGET = 1.5
CORES_IN_FLOOR = 2
# The libraries whose cost is the floor (the "library checks"); the
# minors signals and the redaction pre-filter are the project's own code and are
# shown beside them.
LIBRARY_CHECKS = ("phonenumbers parse+is_valid", "email-validator (cached path)", "HMAC of identifiers")


# --------------------------------------------------------------------------
# Stage clock (inside the ingest child process)
# --------------------------------------------------------------------------

# (module, attribute, mark at call, mark at return): the pipeline's own calls.
_PROBES = (
    # The gate validates in its own process beside the row checks (crm_hygiene/ingest/gate.py):
    # reading the first chunk ends where it is handed over.
    ("crm_hygiene.ingest.pipeline", "start_gate", None, "gated"),
    ("crm_hygiene.ingest.staging", "index_staging", "checked", "staging_indexed"),
    ("crm_hygiene.ingest.pipeline", "admit_candidates", "candidates_built", "admitted"),
)
# Stage that ENDS at each mark, in order.
_STAGES = (
    ("gated", "read + gate started"),
    ("checked", "row checks + staging COPY"),
    ("staging_indexed", "staging indexes"),
    ("candidates_built", "identity links + candidates"),
    ("admitted", "admission (prospects, sources, minors)"),
    ("end", "counts, drop staging, audit, commit"),
)
# Main-process time spent inside these during the row-check stage: what the
# main process does while the workers check.
_MAIN_LOADS = (
    ("crm_hygiene.ingest.staging", "load_staged"),
    ("crm_hygiene.ingest.pipeline", "quarantine_rows"),
)


class StageClock:
    """Marks wall time, this process's CPU and every core's times at stage edges."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self.marks: dict[str, tuple[float, float, list]] = {}
        self.main_load_seconds = 0.0
        self.gate_process_cpu = 0.0

    def mark(self, name: str) -> None:
        if name not in self.marks:  # first edge wins (admission may call helpers again)
            cpu = self._me.cpu_times()
            self.marks[name] = (time.perf_counter(), cpu.user + cpu.system,
                                self._psutil.cpu_times(percpu=True))

    def install(self) -> StageClock:
        import importlib

        for module_name, attr, before, after in _PROBES:
            module = importlib.import_module(module_name)
            if hasattr(module, attr):
                setattr(module, attr, self._edges(getattr(module, attr), before, after))
        for module_name, attr in _MAIN_LOADS:
            module = importlib.import_module(module_name)
            if hasattr(module, attr):
                setattr(module, attr, self._timed(getattr(module, attr)))
        gate = importlib.import_module("crm_hygiene.ingest.gate")
        if hasattr(gate, "_GateProcess"):
            gate._GateProcess.close = self._reaped_gate_cpu(gate._GateProcess.close)
        return self

    def _reaped_gate_cpu(self, close):
        """The gate process (GX's import and the first chunk's validation) is reaped in its
        close(), so its CPU lands in the children's times beside the workers': counted apart,
        so that the workers' figure is theirs. (Workers are reaped when the pool closes,
        after the last chunk; a gate process stopped for a big file is reaped seconds in.)"""
        def wrapped(process):
            before = os.times()
            try:
                return close(process)
            finally:
                after = os.times()
                self.gate_process_cpu += ((after.children_user + after.children_system)
                                          - (before.children_user + before.children_system))
        return wrapped

    def _edges(self, fn, before: str | None, after: str | None):
        def wrapped(*args, **kwargs):
            if before:
                self.mark(before)
            result = fn(*args, **kwargs)
            if after:
                self.mark(after)
            return result
        return wrapped

    def _timed(self, fn):
        def wrapped(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.main_load_seconds += time.perf_counter() - started
        return wrapped

    def stages(self) -> dict:
        """Per stage: wall seconds, main-process CPU seconds, busy % of each core."""
        names = ["start", *(mark for mark, _ in _STAGES)]
        labels = dict(_STAGES)
        present = [n for n in names if n in self.marks]
        out = []
        pending = []
        for prev, cur in itertools.pairwise(present):
            # Labels of stages whose end mark is missing merge into the next one.
            pending += [labels[n] for n in names[names.index(prev) + 1: names.index(cur)] if n not in self.marks]
            label = " + ".join([*pending, labels[cur]])
            pending = []
            (t0, c0, p0), (t1, c1, p1) = self.marks[prev], self.marks[cur]
            out.append({"stage": label, "seconds": t1 - t0, "main_cpu": c1 - c0, "cores": _busy(p0, p1)})
        children = os.times()
        return {
            "stages": out,
            # Workers are joined when the pool closes, so their CPU is in the children's times
            # (with the gate process's, when it was stopped: taken out here).
            "workers_cpu": children.children_user + children.children_system - self.gate_process_cpu,
            "gate_process_cpu": self.gate_process_cpu,
            "main_load_seconds": self.main_load_seconds,
        }


def _busy(before: list, after: list) -> list[float]:
    busy = []
    for a, b in zip(before, after, strict=True):
        total = sum(b) - sum(a)
        idle = (b.idle - a.idle) + (getattr(b, "iowait", 0.0) - getattr(a, "iowait", 0.0))
        busy.append(100.0 * (1 - idle / total) if total > 0 else 0.0)
    return busy


# --------------------------------------------------------------------------
# Write floor (parent, after the ingest; the CRM database still holds its rows)
# --------------------------------------------------------------------------

_INDEX_DEF = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON (?:ONLY )?)(\S+)( USING .*)$", re.DOTALL)


def write_floor(backend: str, crm_target: str, scratch_dir: Path) -> dict:
    """{table: {"rows", "after", "during"}} seconds to load the ingest's final rows."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    if backend == "postgresql":
        return {table: _write_floor_postgres(crm_target, table, scratch_dir) for table in FINAL_TABLES}
    return {table: _write_floor_sqlite(crm_target, table, scratch_dir) for table in FINAL_TABLES}


def _write_floor_postgres(dsn: str, table: str, scratch_dir: Path) -> dict:
    import psycopg
    from psycopg import sql

    floor_table = f"floor_{table}"
    with psycopg.connect(dsn, autocommit=True) as conn, tempfile.TemporaryFile(dir=scratch_dir) as dump:
        index_defs = [row[0] for row in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", (table,)
        )]
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))) as copy:
            for block in copy:
                dump.write(block)
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
        # DDL built from the catalogue's own index definitions: identifiers only, no data.
        create_indexes = [_renamed_index(d, floor_table) for d in index_defs]
        out = {"rows": rows, "indexes": len(create_indexes)}
        for mode in ("after", "during"):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(floor_table)))
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES)").format(
                sql.Identifier(floor_table), sql.Identifier(table)))
            if mode == "during":
                for ddl in create_indexes:
                    conn.execute(ddl)
            dump.seek(0)
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(floor_table))) as copy:
                    while block := dump.read(1 << 20):
                        copy.write(block)
                if mode == "after":
                    for ddl in create_indexes:
                        cur.execute(ddl)
            out[mode] = time.perf_counter() - started
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(floor_table)))
    return out


def _renamed_index(indexdef: str, floor_table: str) -> str:
    match = _INDEX_DEF.match(indexdef)
    if match is None:
        raise RuntimeError(f"unexpected index definition shape: {indexdef[:80]}")
    head, name, on, _table, rest = match.groups()
    return f'{head}"floor_{name.strip(chr(34))}"{on}"{floor_table}"{rest}'


def _write_floor_sqlite(url: str, table: str, scratch_dir: Path) -> dict:
    import sqlite3

    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        create_table = source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
        create_indexes = [r[0] for r in source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
        n_columns = len(source.execute(f'SELECT * FROM "{table}" LIMIT 0').description)  # noqa: S608 - catalogue name
        rows = 0
        with tempfile.TemporaryFile(dir=scratch_dir) as dump:
            cursor = source.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - catalogue name
            while batch := cursor.fetchmany(SQLITE_BATCH_ROWS):
                pickle.dump(batch, dump, protocol=pickle.HIGHEST_PROTOCOL)
                rows += len(batch)
            out = {"rows": rows, "indexes": len(create_indexes)}
            insert = f'INSERT INTO "{table}" VALUES ({", ".join("?" * n_columns)})'  # noqa: S608 - placeholders only
            for mode in ("after", "during"):
                path = scratch_dir / f"write_floor_{table}.sqlite"
                for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    leftover.unlink(missing_ok=True)
                target = sqlite3.connect(path, isolation_level=None)
                try:
                    target.execute("PRAGMA journal_mode=WAL")
                    target.execute("PRAGMA synchronous=NORMAL")
                    target.execute(create_table)
                    if mode == "during":
                        for ddl in create_indexes:
                            target.execute(ddl)
                    dump.seek(0)
                    started = time.perf_counter()
                    target.execute("BEGIN")
                    for _ in range(-(-rows // SQLITE_BATCH_ROWS)):
                        target.executemany(insert, pickle.load(dump))
                    if mode == "after":
                        for ddl in create_indexes:
                            target.execute(ddl)
                    target.execute("COMMIT")
                    out[mode] = time.perf_counter() - started
                finally:
                    target.close()
                    path.unlink(missing_ok=True)
    finally:
        source.close()
    return out


# --------------------------------------------------------------------------
# Row-check costs, one core (parent)
# --------------------------------------------------------------------------


@dataclass
class CheckCosts:
    rows: int
    core_seconds: dict[str, float] = field(default_factory=dict)
    # Both workers' CPU to start (spawn, imports, the row context) and stop, with no rows.
    worker_startup_cpu: float = 0.0

    def us_per_row(self, name: str) -> float:
        return 1e6 * self.core_seconds[name] / self.rows

    @property
    def library_us_per_row(self) -> float:
        return sum(self.us_per_row(n) for n in LIBRARY_CHECKS)


def check_costs(path: Path, today, keys, max_rows: int = CHECK_SAMPLE_ROWS) -> CheckCosts:
    """Each check alone, then the whole prepare_chunk, on the file's first `max_rows` rows."""
    import phonenumbers
    from phonenumbers import NumberParseException

    from crm_hygiene.drops.cells import parse_timestamp, parse_whole_number
    from crm_hygiene.drops.reader import RawChunk
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.rows import RowContext, prepare_chunk
    from crm_hygiene.keys import identifier_values
    from crm_hygiene.normalise import email_address
    from crm_hygiene.normalise.country import UnknownCountry
    from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_match_key
    from crm_hygiene.normalise.phone import InvalidPhone, to_e164
    from crm_hygiene.normalise.text import clean_text
    from crm_hygiene.policy import load_policy

    policy = load_policy()
    ctx = RowContext(policy=policy, today=today, keys=keys)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        records = list(itertools.islice(reader, max_rows))
    columns = {name: [r[i] if i < len(r) else "" for r in records] for i, name in enumerate(header)}
    n = len(records)
    del records

    # Inputs each check receives in the pipeline, prepared before the clock.
    def region(raw: str) -> str | None:
        try:
            return ctx.countries.to_alpha2(raw)
        except UnknownCountry:
            return None

    regions = [region(v) for v in columns["country"]]
    phones = [(p.strip(), r) for p, r in zip(columns["phone"], regions, strict=True) if p.strip()]
    emails = columns["email"]
    valid_emails = []
    for raw in emails:
        try:
            valid_emails.append(canonical_email(raw))
        except InvalidEmail:
            valid_emails.append(None)
    e164 = []
    for raw, r in zip(columns["phone"], regions, strict=True):
        try:
            e164.append(to_e164(raw, r))
        except InvalidPhone:
            e164.append(None)
    identifiers = [identifier_values(email_match_key(e) if e else None, p)
                   for e, p in zip(valid_emails, e164, strict=True)]

    def date_or_none(raw: str):
        try:
            moment = parse_timestamp(raw)
        except ValueError:
            return None
        return moment.date() if moment else None

    def age_or_none(raw: str):
        try:
            return parse_whole_number(raw)
        except ValueError:
            return None

    minors_inputs = [
        dict(today=today, date_of_birth=date_or_none(d), age=age_or_none(a), job_title=clean_text(j),
             company=clean_text(c), email_domain=e.rpartition("@")[2] if e else None, event_name=None)
        for d, a, j, c, e in zip(columns["date_of_birth"], columns["age"], columns["job_title"],
                                 columns["company"], valid_emails, strict=True)
    ]
    free_text = [v for name in policy.special_category.fields if name in columns for v in columns[name] if v]
    chunks = [
        RawChunk({name: values[start:start + CHUNK_ROWS] for name, values in columns.items()},
                 list(range(start + 2, min(start + CHUNK_ROWS, n) + 2)))
        for start in range(0, n, CHUNK_ROWS)
    ]
    current = keys.current

    def run_phonenumbers():
        for raw, r in phones:
            try:
                phonenumbers.is_valid_number(phonenumbers.parse(raw, r))
            except NumberParseException:
                pass

    def run_email():
        email_address._validated_domain.cache_clear()  # a fresh worker starts cold
        for raw in emails:
            try:
                canonical_email(raw)
            except InvalidEmail:
                pass

    def run_hmac():
        for pairs in identifiers:
            for _key_type, value in pairs:
                current.digest(value)

    def run_minors():
        assess = ctx.minors.assess
        for kwargs in minors_inputs:
            assess(**kwargs)

    def run_prefilter():
        may_contain = ctx.scanner.may_contain
        for value in free_text:
            may_contain(value)

    def run_prepare_chunk():
        fresh = RowContext(policy=policy, today=today, keys=keys)
        email_address._validated_domain.cache_clear()
        # As in a worker (ingest/parallel.py): no cycle collection inside a chunk.
        gc.disable()
        try:
            for chunk in chunks:
                prepare_chunk(chunk, RESEARCH, fresh)
        finally:
            gc.enable()

    costs = CheckCosts(rows=n)
    for name, run in (
        (LIBRARY_CHECKS[0], run_phonenumbers), (LIBRARY_CHECKS[1], run_email), (LIBRARY_CHECKS[2], run_hmac),
        ("minors signals", run_minors), ("special-category pre-filter", run_prefilter),
        ("whole prepare_chunk", run_prepare_chunk),
    ):
        started = time.process_time()
        run()
        costs.core_seconds[name] = time.process_time() - started
    costs.worker_startup_cpu = worker_startup_cpu(policy, today, keys)
    return costs


def worker_startup_cpu(policy, today, keys, workers: int = CORES_IN_FLOOR) -> float:
    """Core-seconds the ingest's pool pays to start and stop its workers, with no rows:
    the pool as ingest/parallel.py makes it, one idle task per worker (each submit finding
    no idle worker starts one)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from crm_hygiene.ingest import parallel

    before = os.times()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=parallel._init_worker, initargs=(policy, today, keys)) as pool:
        for future in [pool.submit(time.sleep, 0.5) for _ in range(workers)]:
            future.result()
        started = len(pool._processes)  # noqa: SLF001 - a bench's check that it measured what it says
    after = os.times()
    if started != workers:
        raise RuntimeError(f"expected {workers} workers to start, saw {started}")
    return (after.children_user + after.children_system) - (before.children_user + before.children_system)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


@dataclass
class Ratio:
    name: str
    value: float | None
    target: float
    detail: str

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "N/A"
        return "PASS" if self.value <= self.target else "FAIL"


def floor_sum(costs: CheckCosts, rows: int, write: dict) -> float:
    """Library-check core-seconds spread over two cores + the write with indexes built after."""
    library_seconds = costs.library_us_per_row * rows / 1e6
    return library_seconds / CORES_IN_FLOOR + sum(t["after"] for t in write.values())


def ratios(backend: str, rows: int, ingest_seconds: float, costs: CheckCosts | None, write: dict | None,
           stages: dict | None) -> list[Ratio]:
    out = []
    target = FLOOR_SUM_TARGET[backend]
    name = f"{backend} {rows:,}-row ingest within {target}x of the floor sum"
    if costs and write:
        total = floor_sum(costs, rows, write)
        out.append(Ratio(name, ingest_seconds / total, target,
                         f"{ingest_seconds:.1f} s / {total:.1f} s"))
    else:
        out.append(Ratio(name, None, target, "floors not measured"))
    name = f"{backend} {rows:,}: row checks in the workers within {CHECKS_OVERHEAD_TARGET}x of the libraries"
    if costs and stages and stages.get("workers_cpu"):
        whole = 1e6 * stages["workers_cpu"] / rows
        in_workers = 1e6 * (stages["workers_cpu"] - costs.worker_startup_cpu) / rows
        one_core = costs.us_per_row("whole prepare_chunk")
        out.append(Ratio(name, in_workers / costs.library_us_per_row, CHECKS_OVERHEAD_TARGET,
                         f"{in_workers:.1f} core-us a row (workers' CPU less their start-up) / "
                         f"{costs.library_us_per_row:.1f} (start-up included: {whole:.1f} = "
                         f"{whole / costs.library_us_per_row:.2f}x); prepare_chunk alone on one core "
                         f"{one_core:.1f} = {one_core / costs.library_us_per_row:.2f}x"))
    else:
        out.append(Ratio(name, None, CHECKS_OVERHEAD_TARGET, "no workers (file prepared in-process) or not measured"))
    return out


def decomposition_text(rows: int, backend: str, copy_seconds: float | None, ingest_seconds: float,
                       costs: CheckCosts | None, write: dict | None, stages: dict | None) -> str:
    lines = [f"Decomposition: {rows:,} rows, {backend}"]
    if copy_seconds:
        lines.append(f"  bare bulk load of the file (floor)        {copy_seconds:8.2f} s")
    if write:
        for table, t in write.items():
            lines.append(f"  write {table:<17} {t['rows']:>9,} rows, {t['indexes']} indexes: "
                         f"built after {t['after']:6.2f} s, kept up during {t['during']:6.2f} s")
        lines.append(f"  write floor (indexes built after)         {sum(t['after'] for t in write.values()):8.2f} s")
    if costs:
        # core-us a row and core-seconds per million rows are the same number.
        lines.append(f"  row checks, one core, on {costs.rows:,} rows:   core-us a row = core-s per 1M")
        for name in costs.core_seconds:
            lines.append(f"    {name:<38} {costs.us_per_row(name):8.1f}")
        lines.append(f"    {'libraries (first three) together':<38} {costs.library_us_per_row:8.1f}")
    if costs and write:
        lines.append(f"  floor sum: library checks / {CORES_IN_FLOOR} cores + write  "
                     f"{floor_sum(costs, rows, write):8.2f} s   (ingest {ingest_seconds:.2f} s)")
    if stages:
        n_cores = len(stages["stages"][0]["cores"]) if stages["stages"] else 0
        head = "  ".join(f"cpu{i}%" for i in range(n_cores))
        lines.append(f"  ingest by stage                              wall s  main cpu s  {head}   (cores: whole machine)")
        for s in stages["stages"]:
            cores = "  ".join(f"{b:5.0f}" for b in s["cores"])
            lines.append(f"    {s['stage']:<40} {s['seconds']:7.2f}  {s['main_cpu']:10.2f}  {cores}")
        lines.append(f"    workers' CPU in all: {stages['workers_cpu']:.2f} core-s "
                     f"({1e6 * stages['workers_cpu'] / rows:.1f} core-us a row); main process inside staging "
                     f"COPY and quarantine writes during the checks: {stages['main_load_seconds']:.2f} s")
        if costs:
            lines.append(f"    of the workers' CPU, starting and stopping them (no rows): {costs.worker_startup_cpu:.2f} core-s")
        lines.append(f"    gate process (GX import, first chunk validated), when reaped during the ingest: "
                     f"{stages.get('gate_process_cpu', 0.0):.2f} core-s (not in the workers')")
    return "\n".join(lines)
