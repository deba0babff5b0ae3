"""The single admission step: every new or updated person passes through here.

A file's people arrive as rows of the temporary ``stg_candidates`` table. Each
gate is one set-based SQL statement that may turn candidates away (setting
``admission`` to 'blocked' and ``admission_reason`` to the gate's name); the
candidates still admitted after every gate are upserted into ``prospects``.
Later safeguards (suppression, minors) plug in by adding a gate to ``GATES``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene import erasure_log
from crm_hygiene.audit import write_audit
from crm_hygiene.db import read_sql, timed_sql
from crm_hygiene.erasure import erase_minors, lock_out_admission, queue_scrub_of_returning_rows
from crm_hygiene.ingest.bulk_load import BULK, WRITE_PATHS, choose_write_path, held_people, indexes_built_after
from crm_hygiene.ingest.survivorship import write_prospects_sql
from crm_hygiene.keys import HashKeys
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdmissionGate:
    """A named check; ``sql`` updates stg_candidates WHERE admission = 'admit'."""

    name: str
    sql_file: str

    def apply(self, conn: Connection, params: dict) -> int:
        return conn.execute(text(read_sql(self.sql_file)), params).rowcount


# Gates run in this order; each sees only what the previous ones admitted.
GATES: tuple[AdmissionGate, ...] = (
    # First, so that a child is removed whatever else is true of the record.
    AdmissionGate("minor_certain", "admission/gate_minor_certain.sql"),
    AdmissionGate("suppressed", "admission/gate_suppressed.sql"),
    AdmissionGate("held_out_of_use", "admission/gate_held_out_of_use.sql"),
)


@dataclass(frozen=True)
class AdmissionResult:
    candidates: int
    blocked: dict[str, int]
    created: int
    updated: int
    minors_removed: int = 0  # held records of people now known to be under age
    minor_reviews_queued: int = 0
    write_path: str = ""  # bulk_load.INCREMENTAL or BULK
    rows_admitted: int = 0  # the file's rows behind the people admitted


def _basis_params(policy: Policy) -> dict[str, str]:
    return {f"basis_{i}": basis for i, basis in enumerate(policy.lawful_basis_precedence.order)}


def admit_candidates(
    conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo, file_id: int, write_path: str | None = None,
) -> AdmissionResult:
    """Run every gate over ``stg_candidates``, then write the admitted into the CRM:
    incrementally or as a bulk load (``bulk_load``), as `write_path` says or, by
    default, as the numbers of people written and held say."""
    candidates = conn.execute(text("SELECT COUNT(*) FROM stg_candidates")).scalar_one()
    conn.execute(text(read_sql("minors/clear_decided_adults.sql")))
    # From the suppression check to the insert, no erasure or list may commit in between.
    lock_out_admission(conn)
    conn.execute(text(read_sql("admission/suppression_hits.sql")))
    gate_params = {"today": run.today}
    blocked = {gate.name: gate.apply(conn, gate_params) for gate in GATES}
    if blocked["suppressed"]:  # the archived drop must not keep an erased person's rows
        queue_scrub_of_returning_rows(conn, policy, keys, run, f"file_id:{file_id}")
    minors_removed = remove_certain_minors(conn, policy, keys, run) if blocked["minor_certain"] else 0

    updated = conn.execute(text(read_sql("ingest/count_held_candidates.sql"))).scalar_one()
    admitted, rows_admitted = conn.execute(text(
        "SELECT COUNT(*), COALESCE(SUM(n_rows), 0) FROM stg_candidates WHERE admission = 'admit'")).one()
    held = held_people(conn, admitted)
    write_path = write_path or choose_write_path(admitted, held)
    if write_path not in WRITE_PATHS:
        raise ValueError(f"write_path must be one of {WRITE_PATHS}, not {write_path!r}")
    log.info("writing %d people (%d of them held) as a%s %s write", admitted, updated,
             "" if write_path == BULK else "n", write_path)
    # Nothing held, nothing to merge with: the merge clause could never fire.
    write_prospects = text(write_prospects_sql(merge_held=held > 0)).bindparams(bindparam("now", type_=DateTime))
    with indexes_built_after(conn) if write_path == BULK else contextlib.nullcontext():
        conn.execute(write_prospects, {"now": run.started_at, "key_id": keys.current.key_id, **_basis_params(policy)})
        conn.execute(text(read_sql("ingest/08_insert_sources.sql")), {"file_id": file_id})
    conn.execute(text(read_sql("admission/mark_do_not_call.sql")))
    # Queued on the run's logical date: the review timeout counts from it.
    queued = conn.execute(timed_sql("minors/queue_admitted.sql"), {"now": run.today_start}).rowcount
    if queued:
        write_audit(conn, run, "queue_minor_review", subject_ref=f"file_id:{file_id}",
                    reason="likely minor: held as minor_review until a person decides", rows_affected=queued)
    return AdmissionResult(
        candidates=candidates, blocked=blocked, created=admitted - updated, updated=updated,
        minors_removed=minors_removed, minor_reviews_queued=queued, write_path=write_path,
        rows_admitted=int(rows_admitted),
    )


def remove_certain_minors(conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo) -> int:
    """Candidates blocked as certain minors: keep their hashes if the policy says so,
    and delete whatever of them is already held. Returns the records deleted."""
    keep_hash = policy.minors.actions.keep_match_key_hash
    if keep_hash:
        kept = conn.execute(timed_sql("minors/keep_certain_hashes.sql"),
                            {"now": run.started_at, "key_id": keys.current.key_id}).all()
        # Before the commit: a restore of an older backup must not let the child back in.
        erasure_log.append(run, erasure_log.suppression_records("minors:admission", kept, applies=False))
    held = erase_minors(conn, policy, keys, run, read_sql("minors/held_certain_ids.sql"),
                        "minors:admission", "minor_certain",
                        identifiers_sql=read_sql("erasure/certain_minor_identifiers.sql"))
    conn.execute(timed_sql("minors/hold_refused_out_of_use.sql"), {"now": run.started_at})
    by_rules = conn.execute(text(
        "SELECT minor_signals, COUNT(*) FROM stg_candidates WHERE admission_reason = 'minor_certain' "
        "GROUP BY minor_signals")).all()
    write_audit(conn, run, "remove_minor", subject_ref="minors:admission", reason="minor_certain",
                rows_affected=sum(n for _, n in by_rules),
                details={"by_rules": {rules or "": n for rules, n in by_rules}, "held_records_deleted": held.erased})
    return held.erased
