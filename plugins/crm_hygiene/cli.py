"""Command line for the data team: ``python -m crm_hygiene.cli COMMAND``.

The Makefile targets call it; it reads the same settings as the DAGs
(AIRFLOW_CONN_CRM_DB, CRM_DATA_DIR, CRM_POLICY_FILE) without needing Airflow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from datetime import date
from pathlib import Path

from sqlalchemy import text

from crm_hygiene import settings
from crm_hygiene.db import make_engine, upgrade_schema


def _db_upgrade(_args) -> None:
    url = settings.database_url_from_env()
    migrated = upgrade_schema(make_engine(url))
    print(f"CRM schema {'migrated to' if migrated else 'already at'} the latest revision ({url.split('://', 1)[0]}).")


def _sample_data(args) -> None:
    from crm_hygiene.sample_data import generate_inbox

    today = date.fromisoformat(args.today) if args.today else date.today()
    written = generate_inbox(settings.data_dir(), rows=args.rows, seed=args.seed, today=today)
    for kind, paths in written.items():
        for path in paths:
            print(f"  {kind:<10} {path}")


SUMMARY_QUERIES = {
    "files ingested": "SELECT COUNT(*) FROM ingested_files",
    "rows read": "SELECT COALESCE(SUM(rows_read), 0) FROM ingested_files",
    "rows quarantined": "SELECT COALESCE(SUM(rows_quarantined), 0) FROM ingested_files",
    "rows admitted": "SELECT COALESCE(SUM(rows_admitted), 0) FROM ingested_files",
    "rows merged into a person already seen": (
        "SELECT COALESCE(SUM(rows_admitted), 0) - COALESCE(SUM(prospects_created), 0) FROM ingested_files"
    ),
    "prospects held": "SELECT COUNT(*) FROM prospects",
    "prospects marketing may email": "SELECT COUNT(*) FROM marketing_prospects",
    "prospects suppressed": "SELECT COUNT(*) FROM prospects WHERE status = 'suppressed'",
    "suppression keys (hashes only)": "SELECT COUNT(*) FROM suppression_list",
    "children removed (hash kept)": "SELECT COUNT(*) FROM suppression_list WHERE reason = 'minor' AND key_type = 'email'",
    "likely minors awaiting review": "SELECT COUNT(*) FROM minor_reviews WHERE status = 'open'",
    "data-subject requests (open)": "SELECT COUNT(*) FROM data_subject_requests WHERE status = 'open'",
    "data-subject requests (done or refused)": "SELECT COUNT(*) FROM data_subject_requests WHERE status <> 'open'",
    "applicants held": "SELECT COUNT(*) FROM applicants",
    "legal holds standing": "SELECT COUNT(*) FROM legal_holds WHERE released_at IS NULL",
    "records removed by retention": (
        "SELECT COALESCE(SUM(rows_affected), 0) FROM audit_log "
        "WHERE action IN ('retention_delete', 'retention_anonymise')"
    ),
    "kept past retention for a legal hold": (
        "SELECT COALESCE(SUM(rows_affected), 0) FROM audit_log WHERE action = 'retention_refused_legal_hold'"
    ),
    "audit log entries": "SELECT COUNT(*) FROM audit_log",
}


def summary_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {label: int(conn.execute(text(sql)).scalar_one()) for label, sql in SUMMARY_QUERIES.items()}


def _summary(_args) -> None:
    engine = make_engine(settings.database_url_from_env())
    for label, value in summary_counts(engine).items():
        print(f"  {label:<40} {value:>10,}")


def _hygiene_report(args) -> None:
    """Write reports/hygiene_<date>.html for the data team (the hygiene_report DAG does it after each run)."""
    from crm_hygiene.hygiene_report import write_hygiene_report
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import utc_now

    today = date.fromisoformat(args.today) if args.today else utc_now().date()
    path, _report = write_hygiene_report(make_engine(settings.database_url_from_env()), load_policy(), today,
                                         settings.data_dir())
    print(path)


def _airflow_records_cutoff(_args) -> None:
    """Airflow's records older than this go (``airflow db clean --clean-before-timestamp``)."""
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import utc_now

    print(load_policy().airflow_records.period.before(utc_now()).strftime("%Y-%m-%d %H:%M:%S+00:00"))


def prune_logs(folder: Path, cutoff) -> int:
    """Delete Airflow task log files last written before `cutoff` (naive UTC), then
    the folders that leaves empty. Links are removed, never followed. Returns files deleted."""
    from datetime import UTC, datetime

    deleted = 0
    if not folder.is_dir():
        return 0
    for root, dirs, names in os.walk(folder, topdown=False, followlinks=False):
        for name in names:
            path = Path(root) / name
            if datetime.fromtimestamp(path.lstat().st_mtime, UTC).replace(tzinfo=None) < cutoff:
                path.unlink()
                deleted += 1
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: kept
                (Path(root) / name).rmdir()
    return deleted


def _prune_logs(args) -> None:
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import utc_now

    cutoff = load_policy().airflow_records.period.before(utc_now())
    print(f"Airflow log files deleted (last written before {cutoff:%Y-%m-%d}): {prune_logs(Path(args.folder), cutoff)}")


def retention_table(policy) -> str:
    """The README's retention table, from the policy file (tests/test_readme_retention.py keeps them equal)."""
    from crm_hygiene.policy import clause_heading

    lines = ["| class | clause | clock | period | action |", "| --- | --- | --- | --- | --- |"]
    for name, rule in policy.retention.classes.items():
        period = ", ".join(f"{n} {unit}" for n, unit in ((rule.period.years, "years"), (rule.period.months, "months"),
                                                         (rule.period.days, "days")) if n)
        lines.append(f"| `{name}` | {clause_heading(rule.clause) or rule.clause[:40]} | `{rule.clock}` | "
                     f"{period} | {rule.action} |")
    return "\n".join(lines)


def _retention_table(_args) -> None:
    from crm_hygiene.policy import load_policy

    print(retention_table(load_policy()))


def _compliance_report(_args) -> None:
    from crm_hygiene.compliance import NOT_COVERED, build_report, write_compliance_report

    report = build_report(make_engine(settings.database_url_from_env()))
    page, markdown = write_compliance_report(report, settings.data_dir())
    covered = len(report.clauses) - len(report.uncovered)
    print(f"{covered} of {len(report.clauses)} clauses proven by a test"
          + (f"; {NOT_COVERED}: {', '.join(c.clause.path for c in report.uncovered)}" if report.uncovered else ""))
    for problem in report.problems:
        print(f"  evidence problem: {problem}")
    print(f"Compliance report: {page}\n                   {markdown}")


def _replay_erasures(args) -> None:
    """After a restore of the CRM database: apply the erasure log again (README, 'Backups and restores')."""
    from dataclasses import asdict

    from crm_hygiene.erasure_log import ErasureLogError
    from crm_hygiene.erasure_replay import ReplayRefused, replay_erasure_log
    from crm_hygiene.keys import HashKeyError, parse_hash_keys
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo, utc_now

    since = date.fromisoformat(args.since) if args.since else None
    started = utc_now()
    run = RunInfo(dag_id="replay_erasures", run_id=f"cli-replay-{started:%Y%m%dT%H%M%S}", today=started.date(),
                  started_at=started)
    engine = make_engine(settings.database_url_from_env())
    try:
        keys = parse_hash_keys(os.environ.get("CRM_HASH_KEY"))
        upgrade_schema(engine)  # a backup taken before the last migration is brought up to date first
        counts = replay_erasure_log(engine, load_policy(), keys, run, settings.data_dir(),
                                    settings.erasure_log_dir(), since)
    except (HashKeyError, ErasureLogError, ReplayRefused) as exc:
        raise SystemExit(f"replay-erasures: {exc}") from None
    for name, value in asdict(counts).items():
        print(f"  {name.replace('_', ' '):<40} {value:>10,}")
    if counts.records_unmatchable:
        print(f"  {counts.records_unmatchable} log entries are hashed under a key no longer in CRM_HASH_KEY: put "
              "that key back (as an older id:secret pair) and replay again")
    outcome = "" if counts.changed_anything() else " (nothing to do: the CRM already had all of it)"
    print(f"Erasure log replayed{f' from {since}' if since else ''}{outcome}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="crm_hygiene.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("db-upgrade", help="bring the CRM schema up to date").set_defaults(func=_db_upgrade)
    sample = commands.add_parser("sample-data", help="write seeded sample drops into the inbox")
    sample.add_argument("--rows", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=42)
    sample.add_argument("--today", help="ISO date the data is relative to (default: today)")
    sample.set_defaults(func=_sample_data)
    commands.add_parser("summary", help="counts of what the CRM holds").set_defaults(func=_summary)
    report = commands.add_parser("hygiene-report", help="write reports/hygiene_<date>.html (counts only)")
    report.add_argument("--today", help="ISO date the report ends on (default: today, UTC)")
    report.set_defaults(func=_hygiene_report)
    commands.add_parser("airflow-records-cutoff", help="the policy's cutoff for Airflow's own records (UTC)"
                        ).set_defaults(func=_airflow_records_cutoff)
    commands.add_parser("retention-table", help="the README's retention table, from the policy file"
                        ).set_defaults(func=_retention_table)
    commands.add_parser("compliance-report", help="the compliance evidence page: clauses, enforcing tasks, tests, "
                        "latest runs' counts").set_defaults(func=_compliance_report)
    replay = commands.add_parser("replay-erasures", help="after restoring the CRM database from a backup: apply "
                                 "the erasure log again (erasures and suppression entries since the backup)")
    replay.add_argument("--since", help="ISO date: only log entries written on or after it (the backup's day); "
                        "default: the whole log (replaying more is harmless)")
    replay.set_defaults(func=_replay_erasures)
    prune = commands.add_parser("prune-airflow-logs", help="delete task logs older than the policy's period")
    prune.add_argument("folder", help="Airflow's base log folder ($AIRFLOW_HOME/logs)")
    prune.set_defaults(func=_prune_logs)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
