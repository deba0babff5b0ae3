"""The audit log: what was done, by which run, to how many rows. Never personal data."""

from __future__ import annotations

import json

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene.run import RunInfo, utc_now

_INSERT = text(
    "INSERT INTO audit_log (occurred_at, action, dag_id, run_id, subject_ref, reason, rows_affected, details) "
    "VALUES (:occurred_at, :action, :dag_id, :run_id, :subject_ref, :reason, :rows_affected, :details)"
).bindparams(bindparam("occurred_at", type_=DateTime))


def write_audit(
    conn: Connection,
    run: RunInfo,
    action: str,
    *,
    subject_ref: str | None = None,
    reason: str | None = None,
    rows_affected: int = 0,
    details: dict[str, int | str] | None = None,
) -> None:
    """Append one audit row. ``subject_ref`` and ``details`` carry ids and counts only."""
    conn.execute(
        _INSERT,
        {
            "occurred_at": utc_now(),
            "action": action,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "subject_ref": subject_ref,
            "reason": reason,
            "rows_affected": rows_affected,
            "details": json.dumps(details, sort_keys=True) if details else None,
        },
    )
