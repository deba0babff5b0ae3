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
    from airflow.sdk.exceptions import AirflowFailException

    from crm_hygiene import settings
    from crm_hygiene.ingest.kinds import PROSPECT_KINDS
    from crm_hygiene.ingest.pipeline import ingest_inbox
    from crm_hygiene.policy import load_policy

    summary = ingest_inbox(
        crm_engine(), PROSPECT_KINDS[kind], load_policy(), hash_keys(), run_info(),
        settings.inbox_dir(kind), settings.archive_dir(kind),
    ).as_dict()
    log.info("ingest summary: %s", summary)
    if summary["files_rejected"]:
        # A retry would find the file already set aside and pass: fail for good
        # so the rejection is seen.
        raise AirflowFailException(
            f"{summary['files_rejected']} file(s) rejected, see inbox/{kind}/rejected/: "
            + "; ".join(f"{name}: {reason}" for name, reason in summary["rejected"].items())
        )
    return summary
