"""partner_aggregate_reports: every report the policy gives a partner, released once per period.

For each partner and report due on the run's logical date (its ``schedule``):

1. **frozen**: a period already released is written again from the bytes that
   left the first time (``partner_releases``) and nothing is recomputed: the
   partner never gets two versions of one period to subtract, and a re-run is
   byte-identical;
2. **count** in SQL (partner_reports.counts), as of the end of the period;
3. in differential-privacy mode, **noise** (OpenDP) on every count over the
   policy's fixed categories, after checking the partner's budget;
4. **disclosure control** per measure (partner_reports.disclosure): primary and
   complementary suppression, the previous release's pattern carried forward,
   and the LP audit, which must pass;
5. the **export gate** (Great Expectations) on the file as the partner will read
   it; a failure writes nothing and fails the run;
6. the release (file bytes, manifest, pattern, epsilon) is committed to
   ``partner_releases`` with its audit row, then the CSV and ``manifest.json``
   are written atomically under ``exports/partners/<partner>/``.

Only names, periods and counts of cells reach logs, XCom and the audit log.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from sqlalchemy import Connection, Date, Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.drops import files
from crm_hygiene.partner_reports import counts as counting
from crm_hygiene.partner_reports.disclosure import Key, Table, audit, build_table, protect
from crm_hygiene.partner_reports.export_file import csv_text, manifest_text, sha256_text
from crm_hygiene.partner_reports.gate import ExportRefused, gate_failures
from crm_hygiene.partner_reports.noise import check_budget, noisy
from crm_hygiene.policy import Partner, PartnerReport, Policy
from crm_hygiene.run import RunInfo, utc_now

_PERIOD = bindparam("period", type_=Date)


@dataclass
class ReleaseSummary:
    released: list[str] = field(default_factory=list)  # partner/report
    rewritten_frozen: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    suppressed_cells: int = 0
    seconds_counting: float = 0.0
    seconds_disclosure_control: float = 0.0  # noise, suppression, LP audit and the export gate

    def as_dict(self) -> dict:
        return {"released": self.released, "rewritten_frozen": self.rewritten_frozen, "not_due": self.not_due,
                "suppressed_cells": self.suppressed_cells, "seconds_counting": round(self.seconds_counting, 3),
                "seconds_disclosure_control": round(self.seconds_disclosure_control, 3)}


def is_due(schedule: str, day: date) -> bool:
    return schedule == "@daily" or (schedule == "@weekly" and day.weekday() == 0) or (
        schedule == "@monthly" and day.day == 1)


def policy_version(policy: Policy) -> str:
    """A fingerprint of every rule in force (not of the file's comments or layout)."""
    return hashlib.sha256(policy.model_dump_json().encode("utf-8")).hexdigest()[:16]


def _keys_json(cells: dict[str, set[Key]]) -> str:
    return json.dumps({m: sorted(list(k) for k in keys) for m, keys in cells.items()}, sort_keys=True)


def _previous_pattern(conn: Connection, partner: str, report: str, period: date) -> dict[str, set[Key]]:
    row = conn.execute(text(
        "SELECT suppressed FROM partner_releases WHERE partner = :p AND report = :r AND period < :period "
        "ORDER BY period DESC LIMIT 1").bindparams(_PERIOD), {"p": partner, "r": report, "period": period}).first()
    if row is None:
        return {}
    return {m: {tuple(k) for k in keys} for m, keys in json.loads(row[0]).items()}


def _frozen(conn: Connection, partner: str, report: str, period: date):
    return conn.execute(text(
        "SELECT csv_text, manifest_text FROM partner_releases WHERE partner = :p AND report = :r "
        "AND period = :period").bindparams(_PERIOD), {"p": partner, "r": report, "period": period}).first()


def _epsilon_spent(conn: Connection, partner: str) -> float:
    return float(conn.execute(text("SELECT COALESCE(SUM(epsilon), 0) FROM partner_releases WHERE partner = :p"),
                              {"p": partner}).scalar_one())


def write_export(folder: Path, report: str, period: str, csv_body: str, manifest: str) -> Path:
    """The CSV, then its manifest (which names the CSV's sha256), each atomically: the
    release's own ``<report>_<period>.manifest.json`` and, as the contract names it,
    ``manifest.json`` beside the CSV (that of the release written last in the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = files.inside(folder, f"{report}_{period}.csv")
    files.write_atomically(target, csv_body)
    files.write_atomically(files.inside(folder, f"{report}_{period}.manifest.json"), manifest)
    files.write_atomically(files.inside(folder, "manifest.json"), manifest)
    return target


class _Release:
    """One report of one partner for one period."""

    def __init__(self, policy: Policy, partner_name: str, partner: Partner, report_name: str,
                 report: PartnerReport, period: date):
        self.policy, self.partner_name, self.partner = policy, partner_name, partner
        self.report_name, self.report, self.period = report_name, report, period
        self.protection = report.protection(policy.partners.defaults)
        self.dp = partner.differential_privacy

    @property
    def label(self) -> str:
        return f"{self.partner_name}/{self.report_name}"

    def tables(self, conn: Connection) -> dict[str, Table]:
        period_end = datetime.combine(self.period + timedelta(days=1), clock())
        found = counting.count(conn, self.policy, self.report.dimensions, self.report.measures, period_end)
        if self.dp is None:
            return {m: build_table(self.report.dimensions, found[m]) for m in self.report.measures}
        categories = {d: self.dp.categories[d] for d in self.report.dimensions}
        tables = {}
        share = self.dp.epsilon_per_release / len(self.report.measures)  # sequential composition
        for measure in self.report.measures:
            exact = build_table(self.report.dimensions,
                                counting.fold_into_categories(found[measure], self.report.dimensions, categories),
                                categories)
            interior = sorted(k for k in exact.values if "ALL" not in k)
            noised = dict(zip(interior, noisy([exact.values[k] for k in interior], share), strict=True))
            tables[measure] = build_table(self.report.dimensions, noised, categories)
        return tables

    def protect(self, tables: dict[str, Table], previous: dict[str, set[Key]]) -> dict[str, set[Key]]:
        carried = previous if self.protection.carry_suppression_forward else {}
        patterns = {}
        for measure, table in tables.items():
            pattern = protect(table, self.protection.min_cell_size, self.protection.min_interval_width,
                              carried.get(measure, ()))
            if audit(table, pattern, self.protection.min_interval_width):  # the release's own audit, again
                raise ExportRefused(f"{self.label}: the suppression pattern failed the attacker's audit")
            patterns[measure] = pattern
        return patterns


def release_reports(engine: Engine, policy: Policy, run: RunInfo, exports_dir: Path, *,
                    every_report: bool = False) -> ReleaseSummary:
    """Release every report due on the run's logical date (all of them with `every_report`)."""
    summary = ReleaseSummary()
    period = run.today
    for partner_name, partner in sorted(policy.partners.list.items()):
        for report_name, report in sorted(partner.reports.items()):
            release = _Release(policy, partner_name, partner, report_name, report, period)
            if not (every_report or is_due(report.schedule, period)):
                summary.not_due.append(release.label)
                continue
            _release_one(engine, policy, run, release, exports_dir / "partners" / partner_name, summary)
    return summary


def _release_one(engine: Engine, policy: Policy, run: RunInfo, release: _Release, folder: Path,
                 summary: ReleaseSummary) -> None:
    period_text = release.period.isoformat()
    with engine.connect() as conn:
        frozen = _frozen(conn, release.partner_name, release.report_name, release.period)
    if frozen is not None:
        write_export(folder, release.report_name, period_text, frozen[0], frozen[1])
        summary.rewritten_frozen.append(release.label)
        return
    started = time.perf_counter()
    with engine.begin() as conn:  # reads only; temporary tables for the bands
        tables = release.tables(conn)
        previous = _previous_pattern(conn, release.partner_name, release.report_name, release.period)
        spent = _epsilon_spent(conn, release.partner_name)
    counted = time.perf_counter()
    epsilon = release.dp.epsilon_per_release if release.dp else 0.0
    if release.dp:
        check_budget(release.partner_name, spent, epsilon, release.dp.total_epsilon)
    patterns = release.protect(tables, previous)
    body = csv_text(release.report.dimensions, release.report.measures, tables, patterns)
    failures = gate_failures(body, release.report.dimensions, release.report.measures,
                             release.protection.min_cell_size, tables)
    if failures:
        raise ExportRefused(f"{release.label} {period_text}: the export gate failed ({'; '.join(failures)}); "
                            "nothing was written")
    summary.seconds_counting += counted - started
    summary.seconds_disclosure_control += time.perf_counter() - counted
    digest, version = sha256_text(body), policy_version(policy)
    manifest = manifest_text(
        partner=release.partner_name, report=release.report_name, period=period_text,
        dimensions=release.report.dimensions, measures=release.report.measures,
        min_cell_size=release.protection.min_cell_size, min_interval_width=release.protection.min_interval_width,
        suppressed=patterns, rows=body.count("\n") - 1, sha256=digest, policy_version=version,
        mode="differential_privacy" if release.dp else "suppression", epsilon=epsilon)
    with engine.begin() as conn:
        if _frozen(conn, release.partner_name, release.report_name, release.period) is None:
            if release.dp:  # checked again where it is spent: two runs must not both spend the last of it
                check_budget(release.partner_name, _epsilon_spent(conn, release.partner_name), epsilon,
                             release.dp.total_epsilon)
            conn.execute(text(
                "INSERT INTO partner_releases (partner, report, period, mode, epsilon, suppressed, csv_text, "
                "manifest_text, sha256, policy_version, run_id, released_at) VALUES (:partner, :report, :period, "
                ":mode, :epsilon, :suppressed, :csv, :manifest, :sha, :version, :run_id, :at)").bindparams(_PERIOD),
                {"partner": release.partner_name, "report": release.report_name, "period": release.period,
                 "mode": "differential_privacy" if release.dp else "suppression", "epsilon": epsilon,
                 "suppressed": _keys_json(patterns), "csv": body, "manifest": manifest, "sha": digest,
                 "version": version, "run_id": run.run_id, "at": utc_now()})
            write_audit(conn, run, "partner_release", subject_ref=f"partner:{release.label}:{period_text}",
                        reason="aggregate export released", rows_affected=body.count("\n") - 1,
                        details={"suppressed_cells": sum(len(p) for p in patterns.values()), "epsilon": epsilon})
        else:  # released meanwhile by another run: theirs is the one that left
            body, manifest = _frozen(conn, release.partner_name, release.report_name, release.period)
    write_export(folder, release.report_name, period_text, body, manifest)
    summary.released.append(release.label)
    summary.suppressed_cells += sum(len(p) for p in patterns.values())
