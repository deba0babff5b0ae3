"""Task bodies shared by the DAGs: each calls one function of crm_hygiene.

Plain functions, wrapped with ``task(...)`` in the DAG files at call time, so
the heavy imports (pandas, GX, SQLAlchemy) happen only when a task runs.
"""

from __future__ import annotations

import logging

from crm_airflow.runtime import crm_engine, hash_keys, run_info

log = logging.getLogger(__name__)


def ensure_schema() -> None:
    """Check the CRM schema is current before anything writes.

    A deployment migrates at deploy time (the compose file's init service, or
    `make db-upgrade`), so this normally reads one row and returns. A database
    left behind (a fresh checkout's `airflow dags test`, an upgrade without the
    init step) is migrated here under PostgreSQL's advisory lock, so two first
    runs cannot race; a database ahead of this code fails at once.
    """
    from crm_hygiene.db import upgrade_schema

    if upgrade_schema(crm_engine()):
        log.info("CRM schema was behind this release and has been migrated")


def ingest_drops(kind: str) -> dict:
    """Ingest every pending drop of ``kind``; fail the run (no retry) if a file was rejected.

    Returns counts only, which is what reaches XCom and the task log.
    """

    from crm_hygiene import settings
    from crm_hygiene.drops.files import pending_files
    from crm_hygiene.ingest.gate import start_gate_process

    if pending_files(settings.inbox_dir(kind)):
        start_gate_process()  # Great Expectations imports in the gate process beside the imports below

    from crm_hygiene.ingest.kinds import PROSPECT_KINDS
    from crm_hygiene.ingest.pipeline import ingest_inbox
    from crm_hygiene.policy import load_policy

    summary = ingest_inbox(
        crm_engine(), PROSPECT_KINDS[kind], load_policy(), hash_keys(), run_info(),
        settings.inbox_dir(kind), settings.archive_dir(kind),
    ).as_dict()
    log.info("ingest summary: %s", summary)
    _fail_on_rejected_files(summary, kind)
    return summary


def _rejected_files_problem(summary: dict, kind: str) -> str | None:
    """Files rejected (a reason a person can act on) or set aside (an error nobody
    foresaw: its type only); both are in inbox/<kind>/rejected/ with a .reason.txt."""
    problems = []
    if summary["files_rejected"]:
        problems.append(f"{summary['files_rejected']} file(s) rejected, see inbox/{kind}/rejected/: "
                        + "; ".join(f"{name}: {reason}" for name, reason in summary["rejected"].items()))
    if summary["files_set_aside"]:
        problems.append(f"{summary['files_set_aside']} file(s) set aside after an unexpected error, see "
                        f"inbox/{kind}/rejected/ and this task's log: "
                        + "; ".join(f"{name}: {reason}" for name, reason in summary["set_aside"].items()))
    return "; ".join(problems) or None


def _fail_on_rejected_files(summary: dict, kind: str) -> None:
    """A retry would find the file already set aside and pass: fail for good so
    the rejection is seen. (A database outage is re-raised by the drop layer
    before any file is set aside, and Airflow retries it.)"""
    from airflow.sdk.exceptions import AirflowFailException

    if problem := _rejected_files_problem(summary, kind):
        raise AirflowFailException(problem)


def sync_suppression_lists() -> dict:
    """Load every pending suppression list and apply it to what is held; counts only."""

    from crm_hygiene import settings
    from crm_hygiene.policy import load_policy
    from crm_hygiene.suppression import sync_inbox

    summary = sync_inbox(
        crm_engine(), load_policy(), hash_keys(), run_info(),
        settings.inbox_dir("suppression"), settings.archive_dir("suppression"),
    ).as_dict()
    log.info("suppression summary: %s", summary)
    _fail_on_rejected_files(summary, "suppression")
    return summary


def apply_pending_suppression_lists() -> dict:
    """Suppression before ingest: a suppression list waiting in the inbox is applied
    before this run admits anyone, so a person dropped on both lists at once is never
    marketable in between. Nothing waiting: nothing done (the suppression DAG's own
    hourly run re-hashes and follows up erasures)."""
    from crm_hygiene import settings
    from crm_hygiene.drops.files import pending_files

    if not pending_files(settings.inbox_dir("suppression")):
        return {"suppression_lists_waiting": 0}
    return sync_suppression_lists()


def ingest_applicants() -> dict:
    """Load every pending applicants drop (kept apart from prospects); counts only."""
    from crm_hygiene import settings
    from crm_hygiene.applicants import process_applicant_files
    from crm_hygiene.policy import load_policy

    summary = process_applicant_files(
        crm_engine(), load_policy(), run_info(), settings.inbox_dir("applicants"), settings.archive_dir("applicants"),
    ).as_dict()
    log.info("applicants summary: %s", summary)
    _fail_on_rejected_files(summary, "applicants")
    return summary


def process_data_subject_requests() -> dict:
    """Record and carry out every pending request; fail loudly on rejects and on
    open requests due within the policy's warning period or overdue."""
    from airflow.sdk.exceptions import AirflowFailException

    from crm_hygiene import settings
    from crm_hygiene.policy import load_policy
    from crm_hygiene.subject_requests import process_inbox

    summary = process_inbox(
        crm_engine(), load_policy(), hash_keys(), run_info(),
        settings.inbox_dir("requests"), settings.archive_dir("requests"), settings.exports_dir() / "dsr",
    ).as_dict()
    log.info("data-subject request summary: %s", summary)
    problems = [p for p in [_rejected_files_problem(summary, "requests")] if p]
    if summary["overdue"]:
        problems.append(f"{len(summary['overdue'])} request(s) OVERDUE: {', '.join(summary['overdue'])}")
    if summary["due_within_warning"]:
        problems.append(f"{len(summary['due_within_warning'])} open request(s) due within the warning period: "
                        + ", ".join(summary["due_within_warning"]))
    if problems:
        # Everything else is committed; the failure is the alarm a person must act on.
        raise AirflowFailException("; ".join(problems))
    return summary


def review_minors() -> dict:
    """Apply dropped review decisions, re-score everyone held, remove reviews past
    the policy's limit; fail on a rejected decisions file. Counts only."""
    from crm_hygiene import settings
    from crm_hygiene.minor_review import run_minor_reviews
    from crm_hygiene.policy import load_policy

    summary = run_minor_reviews(
        crm_engine(), load_policy(), hash_keys(), run_info(),
        settings.inbox_dir("reviews"), settings.archive_dir("reviews"),
    ).as_dict()
    log.info("minor review summary: %s", summary)
    _fail_on_rejected_files(summary, "reviews")
    return summary


def open_minor_reviews(ask: bool | str, max_items: int | str) -> list[dict]:
    """Open reviews to ask a person about, oldest first: ids and rule names only.
    None unless the run was triggered with ask_in_airflow on (params arrive rendered as text)."""
    from crm_hygiene.minor_review import open_reviews

    if str(ask).strip().lower() not in ("true", "1"):
        return []
    return open_reviews(crm_engine(), limit=int(max_items))


def hitl_question(review: dict) -> dict:
    """One human-in-the-loop question per open review; ids and rule names, never the person's data."""
    return {
        "subject": f"Is prospect {review['prospect_id']} under 16?",
        "body": (f"Review {review['review_id']}, queued {review['queued_at']}. Rules that fired: "
                 f"{review['signals']}. Look the person up in the CRM by prospect_id "
                 f"{review['prospect_id']} before deciding: 'minor' removes them, 'adult' returns "
                 "them to use, 'skip' leaves the review open."),
    }


def apply_reviewer_answers(reviews: list[dict], answers: list[dict]) -> dict:
    """Apply what people chose in the human-in-the-loop tasks (answers in the order asked)."""
    from dataclasses import asdict

    from crm_hygiene.minor_review import apply_decisions
    from crm_hygiene.policy import load_policy

    decisions = [
        (review["prospect_id"], chosen[0])
        for review, answer in zip(reviews, answers, strict=True)
        if (chosen := (answer or {}).get("chosen_options") or []) and chosen[0] in ("adult", "minor")
    ]
    if not decisions:
        return {"decided": 0}
    from crm_hygiene.erasure_files import complete_pending_erasures

    engine, policy, keys, run = crm_engine(), load_policy(), hash_keys(), run_info()
    with engine.begin() as conn:
        counts = apply_decisions(conn, policy, keys, run, decisions, "airflow_hitl")
    complete_pending_erasures(engine, policy, keys, run)  # the removed children's drops and answers
    return {"decided": len(decisions), **asdict(counts)}


def retention_sweep(dry_run: bool | str = False, force: bool | str = False) -> dict:
    """Purge or anonymise what is past retention as of the logical date; counts only.

    Fails for good (no retry can help) when the circuit breaker stops the sweep,
    when a legal-holds drop was rejected, or when the re-check finds anything
    left; the report in reports/ says which class and how many.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from crm_hygiene import settings
    from crm_hygiene.policy import load_policy
    from crm_hygiene.retention.sweep import RetentionBlocked, RetentionIncomplete, run_retention_sweep

    try:
        report = run_retention_sweep(crm_engine(), load_policy(), hash_keys(), run_info(), settings.data_dir(),
                                     dry_run=_flag(dry_run), force=_flag(force))
    except (RetentionBlocked, RetentionIncomplete) as exc:
        raise AirflowFailException(str(exc)) from None
    summary = report.as_dict()
    log.info("retention sweep: %s", summary)
    if problem := _rejected_files_problem(report.tally.files_dict(), "legal_holds"):
        raise AirflowFailException(problem)
    return summary


def hygiene_report() -> dict:
    """Write reports/hygiene_<logical date>.html for the data team; returns its name and the counts it shows."""
    from crm_hygiene import settings
    from crm_hygiene.hygiene_report import REPORTS_DIR, write_hygiene_report
    from crm_hygiene.policy import load_policy

    path, report = write_hygiene_report(crm_engine(), load_policy(), run_info().today, settings.data_dir())
    summary = {"report": f"{REPORTS_DIR}/{path.name}", **report.totals}
    log.info("hygiene report: %s", summary)
    return summary


def _flag(value: bool | str) -> bool:
    """A boolean Param, rendered into a template as text ('True') or passed as itself."""
    return str(value).strip().lower() in ("true", "1", "yes")


def partner_aggregate_reports(every_report: bool | str = False) -> dict:
    """Release the partner reports due on the logical date (or all of them); counts and names only.

    Fails for good (no retry can help) when the export gate or the attacker's
    audit refuses a file, or a partner's privacy budget would be exceeded.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from crm_hygiene import settings
    from crm_hygiene.partner_reports.disclosure import CannotProtect
    from crm_hygiene.partner_reports.gate import ExportRefused
    from crm_hygiene.partner_reports.noise import BudgetExceeded
    from crm_hygiene.partner_reports.releases import release_reports
    from crm_hygiene.policy import load_policy

    try:
        summary = release_reports(crm_engine(), load_policy(), run_info(), settings.exports_dir(),
                                  every_report=_flag(every_report)).as_dict()
    except (ExportRefused, BudgetExceeded, CannotProtect) as exc:
        raise AirflowFailException(str(exc)) from None
    log.info("partner reports: %s", summary)
    return summary
