"""The retention sweep: every class past its period deleted or anonymised, with evidence.

As of the run's logical date ("today" for every clock), in this order:

1. pending legal-hold drops are loaded (the order DAGs run in never matters)
   and a crashed run's file work is finished;
2. **plan**: each class's due rows are counted, with those a legal hold names;
3. **circuit breaker**: if the rows a sweep would remove or anonymise exceed
   the policy's share of a guarded table, it stops here, having changed
   nothing, unless run with ``force`` (a mis-parsed date must not wipe the CRM);
4. **act**: one class at a time, each in one transaction (set-based SQL), with
   its ``audit_log`` row (before, due, held, acted, after); each hold refusal
   is audited once a day per class; then drop files and answer files;
5. **re-check**: everything is counted again and the run fails if anything
   past its period and not held remains.

The counts go to ``reports/retention_<date>.json`` (every run of that date,
appended). ``dry_run`` does steps 1-3 and writes the report, changing nothing
else. Only counts, class names and dates reach logs, XCom and the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql, use_large_page_cache, use_large_work_mem
from crm_hygiene.drops import files
from crm_hygiene.drops.registry import DropTally
from crm_hygiene.erasure import active_hold_hashes, lock_out_admission, named_by_holds
from crm_hygiene.erasure_files import ErasedKeys, complete_pending_erasures, pending_followups
from crm_hygiene.keys import HashKeys
from crm_hygiene.legal_holds import load_pending_holds
from crm_hygiene.normalise.country import CountryResolver
from crm_hygiene.policy import Period, Policy, RetentionClass
from crm_hygiene.retention import drop_files
from crm_hygiene.retention.anonymise import stage_bands
from crm_hygiene.retention.classes import TABLE_CLASSES, TableClass, check_catalogue
from crm_hygiene.retention.sql import run_all, used_by, wrapped
from crm_hygiene.run import RunInfo
from crm_hygiene.seniority import SeniorityBands

REPORTS_DIR = "reports"


class RetentionBlocked(RuntimeError):
    """The circuit breaker stopped the sweep before it changed anything. Names tables and counts only."""


class RetentionIncomplete(RuntimeError):
    """The re-check found rows or files past their period, not held, still there."""


@dataclass
class ClassCounts:
    """One class in one sweep: counts only."""

    action: str
    cutoff: str  # records whose clock is before this moment are past retention
    before: int = 0  # rows (files) of the class's table (folder) before the sweep
    due: int = 0  # past retention
    held: int = 0  # of those, named by an active legal hold: kept
    acted: int = 0  # deleted or anonymised
    after: int = 0  # rows (files) of the table (folder) after
    remaining: int = 0  # past retention, not held, still there after the sweep (must be 0)


@dataclass
class SweepReport:
    run_id: str
    logical_date: str
    dry_run: bool
    force: bool
    status: str = "planned"  # planned | blocked | completed | incomplete
    holds_loaded: dict = field(default_factory=dict)
    breaker: dict = field(default_factory=dict)  # table -> share that would go (guarded tables)
    classes: dict[str, ClassCounts] = field(default_factory=dict)
    tally: DropTally = field(default_factory=DropTally)  # rejected holds files fail the run

    def as_dict(self) -> dict:
        """Counts, class names and dates only: safe for XCom, logs and the report."""
        return {
            "run_id": self.run_id, "logical_date": self.logical_date, "dry_run": self.dry_run,
            "force": self.force, "status": self.status, "holds_loaded": self.holds_loaded,
            "breaker": self.breaker, "classes": {k: asdict(v) for k, v in self.classes.items()},
        }


def cutoff_for(period: Period, today) -> datetime:
    """A record is past retention on `today` when its clock's date plus `period`
    is on or before `today`: its clock is before the midnight after today - period."""
    return datetime.combine(period.before(today) + timedelta(days=1), time())


# --- staging --------------------------------------------------------------

def _fresh_staging(conn: Connection) -> None:
    conn.execute(text("DROP TABLE IF EXISTS ret_due"))
    conn.execute(text("CREATE TEMPORARY TABLE ret_due (id BIGINT, key TEXT, held INTEGER NOT NULL, job_title TEXT)"))


def _stage_held_keys(conn: Connection, keys: HashKeys, held_hashes: set[str]) -> None:
    """``ret_held_keys``: the email match keys (of applicants and quarantined rows)
    a standing hold names. Holds store keyed hashes only, so the keys are hashed here."""
    conn.execute(text("DROP TABLE IF EXISTS ret_held_keys"))
    conn.execute(text("CREATE TEMPORARY TABLE ret_held_keys (email_match_key TEXT)"))
    if not held_hashes:
        return
    candidates = conn.execute(text(read_sql("retention/email_keys_held_rows_may_name.sql"))).scalars()
    bulk_insert(conn, "ret_held_keys", ("email_match_key",),
                [(k,) for k in named_by_holds(keys, candidates, held_hashes)])


_COUNT_DUE = "SELECT COUNT(*), COALESCE(SUM(held), 0) FROM ({select}) AS due"
_STAGE_DUE = "INSERT INTO ret_due ({columns}) SELECT {columns} FROM ({select}) AS due"


def _class_params(table_class: TableClass, cutoff: datetime, run: RunInfo) -> dict:
    return {"cutoff": cutoff, "as_of": run.today_start, "run_id": run.run_id, **table_class.stage_params}


def _count_class(conn: Connection, table_class: TableClass, cutoff: datetime, run: RunInfo) -> tuple[int, int]:
    """(due, held) of the class as of the run's logical date, staging nothing."""
    statement = wrapped(conn, table_class.stage, _COUNT_DUE)
    params = used_by(statement, _class_params(table_class, cutoff, run))
    due, held = conn.execute(statement, params).one()
    return int(due), int(held)


def _stage_class(conn: Connection, table_class: TableClass, cutoff: datetime, run: RunInfo) -> tuple[int, int]:
    """Stage the class's due rows in ``ret_due``; (due, held)."""
    conn.execute(text("DELETE FROM ret_due"))
    statement = wrapped(conn, table_class.stage, _STAGE_DUE, columns=", ".join(table_class.staged_columns))
    params = used_by(statement, _class_params(table_class, cutoff, run))
    conn.execute(statement, params)
    due, held = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(held), 0) FROM ret_due")).one()
    return int(due), int(held)


def _population(conn: Connection, table_class: TableClass) -> int:
    """What a class's before/after count: its table's rows (answer files: the requests that have one)."""
    if table_class.name == "answer_files":
        return conn.execute(text("SELECT COUNT(*) FROM data_subject_requests WHERE answer_file IS NOT NULL")
                            ).scalar_one()
    return conn.execute(text(f"SELECT COUNT(*) FROM {table_class.table}")).scalar_one()  # noqa: S608 - catalogue


# --- the sweep ------------------------------------------------------------

class _Sweep:
    def __init__(self, engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, data_folder: Path,
                 report: SweepReport):
        self.engine, self.policy, self.keys, self.run = engine, policy, keys, run
        self.data_folder, self.report = data_folder, report
        self.as_of = run.today_start
        self.rules: dict[str, RetentionClass] = dict(policy.retention.classes)

    def cutoff(self, name: str) -> datetime:
        return cutoff_for(self.rules[name].period, self.run.today)

    def counts_for(self, name: str) -> ClassCounts:
        return self.report.classes.setdefault(
            name, ClassCounts(self.rules[name].action, self.cutoff(name).isoformat()))

    def held_people(self) -> ErasedKeys:
        """Who a standing hold names, as a matcher for drop files (keyed hashes only)."""
        with self.engine.connect() as conn:
            hashes = active_hold_hashes(conn, self.as_of)
        return ErasedKeys(list(self.keys.keys), {("email", h) for h in hashes},
                          self.policy.suppression.default_phone_region,
                          CountryResolver(self.policy.input_validation.country_aliases))

    def plan(self) -> None:
        with self.engine.connect() as conn:  # counts only; the held keys' staging is rolled back
            _stage_held_keys(conn, self.keys, active_hold_hashes(conn, self.as_of))
            for table_class in TABLE_CLASSES:
                counts = self.counts_for(table_class.name)
                counts.before = _population(conn, table_class)
                counts.due, counts.held = _count_class(conn, table_class, self.cutoff(table_class.name), self.run)
                counts.acted = counts.due - counts.held
                removes_rows = self.rules[table_class.name].action == "delete"
                counts.after = counts.before - counts.acted if removes_rows else counts.before
            conn.rollback()
        files_due = drop_files.count_due(self.data_folder, self.cutoff("drop_files"), self.held_people())
        counts = self.counts_for("drop_files")
        counts.before, counts.due, counts.held = files_due.files_before, files_due.due, files_due.held
        counts.acted, counts.after = files_due.remaining, files_due.files_after

    def breaker_verdict(self) -> list[str]:
        """Guarded tables the planned sweep would remove more than the allowed share of."""
        limit = self.policy.retention.circuit_breaker.max_share
        by_table: dict[str, tuple[int, int]] = {}
        for table_class in TABLE_CLASSES:
            if not self.rules[table_class.name].circuit_breaker or table_class.name == "answer_files":
                continue
            counts = self.report.classes[table_class.name]
            acted, rows = by_table.get(table_class.table, (0, counts.before))
            by_table[table_class.table] = (acted + counts.acted, rows)
        tripped = []
        for table, (acted, rows) in sorted(by_table.items()):
            share = acted / rows if rows else 0.0
            self.report.breaker[table] = round(share, 4)
            if share > limit:
                tripped.append(f"{table}: {acted:,} of {rows:,} rows ({share:.1%})")
        return tripped

    def act(self) -> None:
        bands = SeniorityBands(self.policy.retention.anonymise)
        for table_class in TABLE_CLASSES:
            self._act_on(table_class, bands)
        self._act_on_drop_files()
        # The answer files queued above (and any a crashed run left) are deleted now.
        complete_pending_erasures(self.engine, self.policy, self.keys, self.run, self.data_folder)

    def _act_on(self, table_class: TableClass, bands: SeniorityBands) -> None:
        name, rule = table_class.name, self.rules[table_class.name]
        counts = self.counts_for(name)
        with self.engine.begin() as conn:
            lock_out_admission(conn)  # an ingest merging into a row being anonymised waits
            use_large_work_mem(conn)
            use_large_page_cache(conn)
            _fresh_staging(conn)
            if table_class.uses_held_keys:
                _stage_held_keys(conn, self.keys, active_hold_hashes(conn, self.as_of))
            counts.before = _population(conn, table_class)
            counts.due, counts.held = _stage_class(conn, table_class, self.cutoff(name), self.run)
            counts.acted = 0
            if counts.due > counts.held:
                counts.acted = self._apply(conn, table_class, rule, bands)
            # Counted again only when rows left: anonymised rows stay where they
            # are, and the admission lock keeps everyone else out meanwhile.
            removed = counts.acted and rule.action == "delete"
            counts.after = _population(conn, table_class) if removed else counts.before
            self._audit(conn, name, rule, counts)
            conn.execute(text("DROP TABLE ret_due"))

    def _apply(self, conn: Connection, table_class: TableClass, rule: RetentionClass, bands: SeniorityBands) -> int:
        params = {"now": self.run.started_at, "subject_ref": f"retention:{table_class.name}"}
        if table_class.name == "answer_files":
            return run_all(conn, "queue_answer_files", params)
        if table_class.name == "prospects":
            if rule.action == "anonymise":
                return self._anonymise_prospects(conn, bands)
            return run_all(conn, "delete_prospects", params)
        return run_all(conn, "delete_due", params, table=table_class.table, id_column=table_class.id_column,
                       due_column=table_class.due_column)

    @staticmethod
    def _anonymise_prospects(conn: Connection, bands: SeniorityBands) -> int:
        stage_bands(conn, bands)
        conn.execute(text("DROP TABLE IF EXISTS ret_anon"))
        conn.execute(text("CREATE TEMPORARY TABLE ret_anon (old_id BIGINT PRIMARY KEY, new_id BIGINT, band TEXT)"))
        run_all(conn, "anonymise_new_ids", {})
        anonymised = conn.execute(text("SELECT COUNT(*) FROM ret_anon")).scalar_one()
        run_all(conn, "anonymise_prospects", {})
        conn.execute(text("DROP TABLE ret_anon"))
        conn.execute(text("DROP TABLE ret_bands"))
        return anonymised

    def _audit(self, conn: Connection, name: str, rule: RetentionClass, counts: ClassCounts) -> None:
        """The class's row when it acted; a hold refusal once a day per class. A second
        sweep the same day that finds nothing new writes nothing."""
        details = {k: v for k, v in asdict(counts).items() if k != "action"}
        if counts.acted:
            write_audit(conn, self.run, f"retention_{rule.action}", subject_ref=f"retention:{name}",
                        reason=f"past retention: {rule.clock} + {_period_text(rule.period)}",
                        rows_affected=counts.acted, details=details)
        if counts.held:
            ref = f"retention:{name}:{self.run.today.isoformat()}"
            seen = conn.execute(text("SELECT 1 FROM audit_log WHERE action = 'retention_refused_legal_hold' "
                                     "AND subject_ref = :ref"), {"ref": ref}).first()
            if seen is None:
                write_audit(conn, self.run, "retention_refused_legal_hold", subject_ref=ref,
                            reason="past retention but named by an active legal hold: kept",
                            rows_affected=counts.held, details=details)

    def _act_on_drop_files(self) -> None:
        done = drop_files.sweep_drop_files(self.engine, self.run, self.data_folder, self.cutoff("drop_files"),
                                           self.held_people())
        counts = self.counts_for("drop_files")
        counts.before, counts.due, counts.held = done.files_before, done.due, done.held
        counts.acted, counts.after, counts.remaining = done.deleted, done.files_after, done.remaining
        if done.deleted or done.held:
            with self.engine.begin() as conn:
                self._audit(conn, "drop_files", self.rules["drop_files"], counts)

    def recheck(self) -> list[str]:
        """Count again from scratch: what is past its period and not held must be gone."""
        left = []
        with self.engine.connect() as conn:  # counts only; the held keys' staging is rolled back
            _stage_held_keys(conn, self.keys, active_hold_hashes(conn, self.as_of))
            for table_class in TABLE_CLASSES:
                due, held = _count_class(conn, table_class, self.cutoff(table_class.name), self.run)
                self.report.classes[table_class.name].remaining = due - held
            conn.rollback()
        unfinished_answers = sum(f.kind == "answer_file" for f in pending_followups(self.engine))
        self.report.classes["answer_files"].remaining += unfinished_answers
        again = drop_files.count_due(self.data_folder, self.cutoff("drop_files"), self.held_people())
        self.report.classes["drop_files"].remaining = again.remaining
        for name, counts in self.report.classes.items():
            if counts.remaining:
                left.append(f"{name}: {counts.remaining:,}")
        return left


def _period_text(period: Period) -> str:
    parts = [(period.years, "year"), (period.months, "month"), (period.days, "day")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n)


def write_report(data_folder: Path, report: SweepReport) -> Path:
    """``reports/retention_<date>.json``: every run of that logical date, this one appended (atomically)."""
    folder = data_folder / REPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = files.inside(folder, f"retention_{report.logical_date}.json")
    runs = []
    if target.exists():
        try:
            runs = json.loads(target.read_text(encoding="utf-8")).get("runs", [])
        except (ValueError, AttributeError):
            runs = []  # a damaged report is replaced rather than blocking the evidence of this run
    runs.append(report.as_dict())
    files.write_atomically(target, json.dumps({"report": "retention", "logical_date": report.logical_date,
                                               "runs": runs}, indent=2, sort_keys=True) + "\n")
    return target


def run_retention_sweep(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, data_folder: Path, *,
                        dry_run: bool = False, force: bool = False) -> SweepReport:
    """The retention_sweep DAG's work (see the module docstring)."""
    check_catalogue(policy)
    report = SweepReport(run.run_id, run.today.isoformat(), dry_run, force)
    holds = load_pending_holds(engine, policy, keys, run, data_folder / "inbox" / "legal_holds", report.tally)
    report.holds_loaded = {k: v for k, v in holds.as_dict().items() if k.startswith("holds_")}
    sweep = _Sweep(engine, policy, keys, run, data_folder, report)
    if not dry_run:
        complete_pending_erasures(engine, policy, keys, run, data_folder)  # a crashed run's file work
    sweep.plan()
    tripped = sweep.breaker_verdict()
    if tripped and not force:
        report.status = "blocked"
        write_report(data_folder, report)
        if dry_run:
            return report
        raise RetentionBlocked(
            "retention sweep stopped before changing anything: it would remove or anonymise more than "
            f"{policy.retention.circuit_breaker.max_share:.0%} of {'; '.join(tripped)}. Check the clock "
            "columns for mis-parsed dates; if the numbers are right, run again with force=true.")
    if dry_run:
        write_report(data_folder, report)
        return report
    sweep.act()
    left = sweep.recheck()
    report.status = "incomplete" if left else "completed"
    write_report(data_folder, report)
    if left:
        raise RetentionIncomplete("records past retention and not held remain after the sweep: "
                                  + "; ".join(left) + ". The sweep is safe to run again; if this persists, "
                                  "the class's SQL and its clock disagree.")
    return report
