"""Task bodies shared by the DAGs: each calls one function of crm_hygiene.

Plain functions, wrapped with ``task(...)`` in the DAG files at call time, so
the heavy imports (pandas, GX, SQLAlchemy) happen only when a task runs.
"""

from __future__ import annotations

import logging

from crm_airflow.runtime import crm_engine, hash_keys, run_info

log = logging.getLogger(__name__)


def ensure_schema() -> None:
    """Bring the CRM schema up to date before anything writes (Alembic, idempotent)."""
    from crm_hygiene.db import upgrade_schema

    upgrade_schema(crm_engine())


def ingest_drops(kind: str) -> dict:
    """Ingest every pending drop of ``kind``; fail the run (no retry) if a file was rejected.

    Returns counts only, which is what reaches XCom and the task log.
    """

    from crm_hygiene import settings
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
    if not summary["files_rejected"]:
        return None
    return (f"{summary['files_rejected']} file(s) rejected, see inbox/{kind}/rejected/: "
            + "; ".join(f"{name}: {reason}" for name, reason in summary["rejected"].items()))


def _fail_on_rejected_files(summary: dict, kind: str) -> None:
    """A retry would find the file already set aside and pass: fail for good so
    the rejection is seen."""
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
