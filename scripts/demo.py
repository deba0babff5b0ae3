"""`make demo`: sample data in, every DAG run end to end on SQLite, a summary out.

Runs every DAG in this one process with the DAG's own ``test()``, the code path
`airflow dags test DAG_ID DATE` takes once it has started, against the embedded
defaults (Airflow metadata in .airflow/, the CRM in data/crm.db). One process,
because starting Airflow costs 10-25 s here and a process per DAG paid that
ten times over (issue 15). Safe to run again: the same sample bytes are
recognised and change nothing.
"""

from __future__ import annotations

import csv
import gc
import os
import secrets
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from crm_hygiene import settings  # noqa: E402
from crm_hygiene.cli import summary_counts  # noqa: E402
from crm_hygiene.compliance import build_report, write_compliance_report  # noqa: E402
from crm_hygiene.db import make_engine  # noqa: E402
from crm_hygiene.sample_data import generate_inbox  # noqa: E402

# Every DAG that exists so far, in the order data flows through them.
INGEST_DAG_IDS = ("ingest_research_lists", "ingest_event_lists", "ingest_enquiries")
ACTING_DAG_IDS = ("sync_suppression_lists", "process_data_subject_requests", "review_minors")
APPLICANT_DAG_IDS = ("ingest_applicants",)  # job applicants: their own table, never prospects
RETENTION_DAG_IDS = ("retention_sweep",)  # loads the legal hold, then purges what is past retention
# Partner exports: the demo releases every report now (the schedule would wait for the 1st).
PARTNER_DAG = ("partner_aggregate_reports", {"every_report": True})
# Last: the data team's report of all the above (in Airflow it runs on the crm_prospects Asset).
REPORT_DAG_IDS = ("hygiene_report",)


def demo_hash_key(data_dir: Path) -> None:
    """Production refuses to run without CRM_HASH_KEY; the demo makes one, once, and says so."""
    if os.environ.get("CRM_HASH_KEY"):
        return
    key_file = data_dir / ".demo_hash_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        key_file.chmod(0o600)
        print(f"  generated a DEMO hashing key in {key_file} (never do this in production: set CRM_HASH_KEY)")
    os.environ["CRM_HASH_KEY"] = key_file.read_text(encoding="utf-8").strip()


def drop_suppressions_and_requests(data_dir: Path, today: date) -> None:
    """A small suppression list and one request of each type, about people now held.

    Dropped once: a second demo finds them archived and drops nothing new, so
    re-running the demo changes nothing.
    """
    if list((data_dir / "archive" / "suppression").glob("*demo-suppression-*.csv")):
        return
    engine = make_engine(settings.database_url_from_env())
    with engine.connect() as conn:
        from sqlalchemy import text

        emails = [r[0] for r in conn.execute(text(
            "SELECT email FROM prospects WHERE email IS NOT NULL AND status = 'active' ORDER BY prospect_id LIMIT 12"))]
    if len(emails) < 12:
        return
    received = (today - timedelta(days=3)).isoformat()
    with (data_dir / "inbox" / "suppression" / f"demo-suppression-{today}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reason", "email", "scope", "added_at"])
        for reason, email in zip(("unsubscribe", "hard_bounce", "complaint", "erasure"), emails[:4], strict=True):
            writer.writerow([reason, email.upper(), "all", received])
    with (data_dir / "inbox" / "requests" / f"demo-requests-{today}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["request_id", "type", "email", "received_at", "details"])
        for i, (kind, email) in enumerate(zip(
                ("access", "portability", "rectification", "erasure", "restriction", "objection"),
                emails[4:10], strict=True)):
            details = '{"job_title": "Head of Data"}' if kind == "rectification" else ""
            writer.writerow([f"DEMO-{today:%Y%m%d}-{i + 1}", kind, email, received, details])


def drop_applicants(data_dir: Path, today: date) -> None:
    """Five job applicants, fictional people on example.com: pending, rejected and
    kept for future roles, hired, and two rejected seven months ago (past the
    policy's six months), one of whom a legal hold names (drop_legal_hold).

    Dropped once, as the suppression list is: a second demo drops nothing new.
    """
    inbox = data_dir / "inbox" / "applicants"
    if list((data_dir / "archive" / "applicants").glob("*demo-applicants-*.csv")):
        return
    applied, decided = (today - timedelta(days=40)).isoformat(), (today - timedelta(days=5)).isoformat()
    long_ago, decided_long_ago = (today - timedelta(days=260)).isoformat(), (today - timedelta(days=215)).isoformat()
    inbox.mkdir(parents=True, exist_ok=True)
    with (inbox / f"demo-applicants-{today}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                         "decided_at", "retain_for_future_roles", "dispute"])
        writer.writerow([f"DEMO-APP-{today:%Y%m%d}-1", "Pat", "Pending", "pat.pending@example.com", "",
                         applied, "pending", "", "", ""])
        writer.writerow([f"DEMO-APP-{today:%Y%m%d}-2", "Rory", "Rejected", "rory.rejected@example.com", "",
                         applied, "rejected", decided, "yes", "no"])
        writer.writerow([f"DEMO-APP-{today:%Y%m%d}-3", "Hana", "Hired", "hana.hired@example.com", "",
                         applied, "hired", decided, "", ""])
        writer.writerow([f"DEMO-APP-{today:%Y%m%d}-4", "Olga", "Older", "olga.older@example.com", "",
                         long_ago, "rejected", decided_long_ago, "no", "no"])
        writer.writerow([f"DEMO-APP-{today:%Y%m%d}-5", "Hugo", "Held", "hugo.held@example.com", "",
                         long_ago, "rejected", decided_long_ago, "no", "no"])


def drop_legal_hold(data_dir: Path, today: date) -> None:
    """A legal hold naming one of the old applicants: the sweep keeps them and says why."""
    if list((data_dir / "archive" / "legal_holds").glob("*demo-legal-holds-*.csv")):
        return
    inbox = data_dir / "inbox" / "legal_holds"
    inbox.mkdir(parents=True, exist_ok=True)
    with (inbox / f"demo-legal-holds-{today}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "case_ref", "placed_at", "released_at"])
        writer.writerow(["hugo.held@example.com", "DEMO-CASE-1", (today - timedelta(days=30)).isoformat(), ""])


ROWS = 2000
SEED = 42


@contextmanager
def output_to(log_file: Path) -> Iterator[None]:
    """Everything written while a DAG runs goes to its own log file, as when each
    DAG was its own `airflow dags test` process: Airflow's structlog lines, the
    tasks' logs, warnings, anything a library prints. The file descriptors are
    redirected, not sys.stdout or a logging handler, because Airflow's loggers
    keep the stream they were first given."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with log_file.open("w") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


def load_dags() -> dict:
    """Every DAG of dags/, parsed once (as tests/test_dags.py does); import errors stop the demo."""
    log_file = REPO / ".airflow" / "demo-load-dags.log"
    # Airflow is first imported here, inside the redirect: it configures its logging
    # on import, plain text (no terminal colours) since its stdout is then a file.
    with output_to(log_file):
        from airflow.dag_processing.dagbag import DagBag

        # include_examples=False raises TypeError on Airflow 3.3 (apache/airflow#70283);
        # the Makefile sets AIRFLOW__CORE__LOAD_EXAMPLES=False instead.
        bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"  cannot import {path}:\n{error}")
        raise SystemExit(f"the DAG files do not import; see above and {log_file.relative_to(REPO)}")
    return bag.dags


def run_dag(dags: dict, dag_id: str, logical_date: date, conf: dict | None = None) -> bool:
    """One DagRun with ``dag.test()``, what `airflow dags test DAG_ID DATE [-c CONF]` calls
    after parsing; judged on the run's state, as that command's exit status is."""
    from airflow.sdk import DagRunState

    started = time.monotonic()
    log_file = REPO / ".airflow" / f"demo-{dag_id}.log"
    dag = dags[dag_id]
    # The CRM retry policy waits 1-10 minutes between tries (for a database to come
    # back); in the demo a failure should show at once, with its log, not after a
    # quarter of an hour of silent retries. The tasks' code and checks are unchanged.
    for task in dag.tasks:
        task.retries = 0
    state = None
    with output_to(log_file):
        try:
            # Midnight UTC of the day, as the command reads its DATE argument.
            midnight = datetime(logical_date.year, logical_date.month, logical_date.day, tzinfo=UTC)
            state = dag.test(logical_date=midnight, run_conf=conf).state
        except Exception:  # the run could not even start: the traceback is the log's last lines
            traceback.print_exc()
    ok = state == DagRunState.SUCCESS
    print(f"  {dag_id:<28} {'ok' if ok else 'FAILED':<7} {time.monotonic() - started:5.1f}s  log: {log_file.relative_to(REPO)}")
    return ok


def main() -> int:
    today = date.today()
    data_dir = settings.data_dir()
    print(f"1. Sample data ({ROWS} rows, seed {SEED}) into {data_dir / 'inbox'}")
    generate_inbox(data_dir, rows=ROWS, seed=SEED, today=today)
    for kind in ("suppression", "requests", "reviews"):
        (data_dir / "inbox" / kind).mkdir(parents=True, exist_ok=True)
    demo_hash_key(data_dir)
    print(f"2. Running every DAG in one process, each with dag.test() as `airflow dags test DAG_ID {today}` "
          "does (SQLite)")
    dags = load_dags()
    results = [run_dag(dags, dag_id, today) for dag_id in INGEST_DAG_IDS]
    drop_suppressions_and_requests(data_dir, today)
    results += [run_dag(dags, dag_id, today) for dag_id in ACTING_DAG_IDS]
    drop_applicants(data_dir, today)
    results += [run_dag(dags, dag_id, today) for dag_id in APPLICANT_DAG_IDS]
    drop_legal_hold(data_dir, today)
    results += [run_dag(dags, dag_id, today) for dag_id in RETENTION_DAG_IDS]
    results.append(run_dag(dags, PARTNER_DAG[0], today, PARTNER_DAG[1]))
    results += [run_dag(dags, dag_id, today) for dag_id in REPORT_DAG_IDS]
    print("3. What the CRM holds now")
    engine = make_engine(settings.database_url_from_env())
    for label, value in summary_counts(engine).items():
        print(f"  {label:<40} {value:>8,}")
    report = build_report(engine)
    page, _markdown = write_compliance_report(report, data_dir)
    print(f"4. Compliance evidence: {len(report.clauses) - len(report.uncovered)} of {len(report.clauses)} policy "
          f"clauses proven by a test\n  {page}")
    print(f"""
Where to look
  CRM database      {data_dir / 'crm.db'}   (sqlite3 it; tables prospects, marketing_prospects,
                    prospect_sources, quarantine, audit_log, ingested_files, suppression_list,
                    data_subject_requests, minor_reviews, applicants, legal_holds)
  minor reviews     decide by dropping {data_dir / 'inbox' / 'reviews'}/*.csv (prospect_id, decision),
                    or trigger review_minors with ask_in_airflow on and answer in the Airflow UI
  request answers   {data_dir / 'exports' / 'dsr'}/<request_id>.json
  retention report  {data_dir / 'reports'}/retention_<date>.json (what the sweep removed, kept and why)
  partner exports   {data_dir / 'exports' / 'partners'}/<partner>/<report>_<date>.csv with manifest.json
  compliance        {data_dir / 'reports'}/compliance_<date>.html and .md (each policy clause, the DAG task
                    enforcing it, the tests proving it, each DAG's latest run's counts; `make compliance-report`)
  hygiene report    {data_dir / 'reports' / f'hygiene_{today}.html'}
                    (open it in a browser: charts of the last 90 days, counts only, works offline)
  processed drops   {data_dir / 'archive'}
  rejected drops    {data_dir / 'inbox'}/<kind>/rejected/ (with .reason.txt)
  Airflow UI        `make ui`, then http://localhost:8080 (it prints the user and the password;
                    every DAG runs on its schedule over this CRM; Ctrl-C stops it)
Running `make demo` again re-drops the same sample bytes: they are archived and nothing changes.""")
    return 0 if all(results) else 1


if __name__ == "__main__":
    code = main()
    # Everything is written. Tearing down an interpreter holding Airflow, Great
    # Expectations, pandas and Presidio ran the garbage collector over all of it
    # for 3-5 s here; frozen objects are left out of those passes (atexit
    # handlers, flushing and closing still run).
    gc.freeze()
    sys.exit(code)
