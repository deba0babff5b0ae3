"""Likely minors: the review queue, the decisions people make, and the sweep.

Privacy policy, "Children": a child's details are only ever removed. A rule
that cannot be sure (no age known, school signals only) does not decide alone
("Right to obtain human intervention"): the person is held as ``minor_review``
(out of every use) with an open row in ``minor_reviews`` until someone decides:

- ``adult``: back to ``active``; the same signals do not queue them again;
- ``minor``: removed like an erasure (their hashes kept, reason ``minor``, when
  the policy says so);
- no decision within the policy's ``review_timeout``: removed, the safe default.

Decisions come from ``inbox/reviews/*.csv`` (``prospect_id, decision``) or from
Airflow's human-in-the-loop task. The sweep re-scores everyone held with the
current rules, so a person whose record (or the policy) changed after
admission is caught too. Only ids and rule names are stored or logged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql, timed_sql
from crm_hygiene.drops import files
from crm_hygiene.drops.cells import parse_whole_number
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.registry import Drop, DropTally
from crm_hygiene.drops.small import read_small_drop, record_small_drop
from crm_hygiene.erasure import erase_minors, lock_out_admission
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.keys import HashKeys
from crm_hygiene.legal_holds import load_pending_holds
from crm_hygiene.minors import LIKELY, MinorRules
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

DECISIONS = ("adult", "minor")
REQUIRED_COLUMNS = ("prospect_id", "decision")
SWEEP_BATCH_ROWS = 10_000


@dataclass
class DecisionCounts:
    adult: int = 0
    minor: int = 0  # people removed on a reviewer's word
    no_open_review: int = 0  # decisions naming nobody waiting for one
    refused_legal_hold: int = 0


@dataclass
class ReviewSummary(DropTally):
    decisions: DecisionCounts = field(default_factory=DecisionCounts)
    swept: int = 0
    newly_queued: int = 0
    expired_removed: int = 0
    open_reviews: int = 0

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {
            **self.files_dict(), **{f"decided_{k}": v for k, v in asdict(self.decisions).items()},
            "held_rescored": self.swept, "newly_queued": self.newly_queued,
            "expired_removed": self.expired_removed, "open_reviews": self.open_reviews,
        }


def apply_decisions(conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo,
                    decisions: list[tuple[int, str]], decided_by: str) -> DecisionCounts:
    """Apply (prospect_id, 'adult'|'minor') decisions to open reviews, set-based, in the caller's transaction."""
    counts = DecisionCounts()
    lock_out_admission(conn)
    conn.execute(text("DROP TABLE IF EXISTS stg_review_decisions"))
    conn.execute(text("CREATE TEMPORARY TABLE stg_review_decisions (prospect_id BIGINT, decision TEXT)"))
    # The last word on a person in one batch wins, as a person correcting themselves expects.
    latest = dict(decisions)
    bulk_insert(conn, "stg_review_decisions", ("prospect_id", "decision"), sorted(latest.items()))
    counts.no_open_review = conn.execute(text(read_sql("minors/count_decisions_without_review.sql"))).scalar_one()
    params = {"now": run.started_at, "decided_by": decided_by}
    conn.execute(timed_sql("minors/release_adults.sql"), {"now": run.started_at})
    counts.adult = conn.execute(timed_sql("minors/close_reviews.sql"), {**params, "decision": "adult"}).rowcount
    removed = erase_minors(conn, policy, keys, run, read_sql("minors/decided_minor_ids.sql"),
                      f"minor_reviews:{decided_by}", "minor_review_decision", close_reviews=False)
    counts.minor, counts.refused_legal_hold = removed.erased, removed.refused_legal_hold
    conn.execute(timed_sql("minors/close_reviews.sql"), {**params, "decision": "minor"})
    conn.execute(text("DROP TABLE stg_review_decisions"))
    write_audit(conn, run, "minor_review_decisions", subject_ref=f"reviews:{decided_by}",
                reason="a person decided", rows_affected=counts.adult + counts.minor, details=asdict(counts))
    return counts


def _parse_row(row: dict[str, str]) -> tuple[tuple[int, str] | None, list[str]]:
    reasons = []
    try:
        prospect_id = parse_whole_number(row.get("prospect_id", ""))
    except ValueError:
        prospect_id = None
    if prospect_id is None:
        reasons.append("prospect_id_invalid")
    decision = row.get("decision", "").strip().lower()
    if decision not in DECISIONS:
        reasons.append("decision_unknown")
    return (None, reasons) if reasons else ((prospect_id, decision), [])


def _read_decisions(drop: Drop, policy: Policy) -> tuple[list[tuple[int, str]], list]:
    # A bad row keeps only the two columns a decision has: nothing personal.
    return read_small_drop(drop, policy, REQUIRED_COLUMNS, (), _parse_row, keep_columns=REQUIRED_COLUMNS)


def process_review_files(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
                         archive_dir: Path, summary: ReviewSummary) -> None:
    """Apply each dropped decisions file in one transaction; a file is processed once."""

    def handle(drop: Drop) -> None:
        decisions, bad = _read_decisions(drop, policy)
        with engine.begin() as conn:
            counts = apply_decisions(conn, policy, keys, run, decisions, f"file:{drop.name}")
            record_small_drop(conn, drop, run, len(decisions), bad, "review decision rows")
        for name, value in asdict(counts).items():
            setattr(summary.decisions, name, getattr(summary.decisions, name) + value)
        summary.rows_quarantined += len(bad)

    process_drops(engine, run, "reviews", inbox, archive_dir, handle, summary)


def _likely_held(engine: Engine, rules: MinorRules, today) -> tuple[int, list[tuple[int, str]]]:
    """Everyone held and not yet queued or cleared, re-scored with today's rules."""
    scored, likely = 0, []
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=SWEEP_BATCH_ROWS).execute(
            text(read_sql("minors/sweep_candidates.sql")))
        for prospect_id, job_title, company, email, event_name in result:
            scored += 1
            verdict = rules.assess(today=today, job_title=job_title, company=company, event_name=event_name,
                                   email_domain=email.rpartition("@")[2] if email else None)
            if verdict.verdict == LIKELY:
                likely.append((prospect_id, verdict.signal_text))
    return scored, likely


def sweep_held(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, summary: ReviewSummary) -> None:
    """Queue every held person the current rules now find a likely minor."""
    summary.swept, likely = _likely_held(engine, MinorRules(policy.minors), run.today)
    if not likely:
        return
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS stg_sweep_hits"))
        conn.execute(text("CREATE TEMPORARY TABLE stg_sweep_hits (prospect_id BIGINT, signals TEXT)"))
        bulk_insert(conn, "stg_sweep_hits", ("prospect_id", "signals"), likely)
        params = {"now": run.started_at}
        conn.execute(timed_sql("minors/sweep_hold_for_review.sql"), params)
        summary.newly_queued = conn.execute(timed_sql("minors/sweep_queue.sql"),
                                            {"now": run.today_start}).rowcount
        conn.execute(text("DROP TABLE stg_sweep_hits"))
        write_audit(conn, run, "queue_minor_review", subject_ref="minors:sweep",
                    reason="likely minor found among held records", rows_affected=summary.newly_queued)


def expire_reviews(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, summary: ReviewSummary) -> None:
    """Undecided past the policy's limit: removed, the safe default for a possible child."""
    cutoff = policy.minors.actions.review_timeout.before(run.today_start)
    with engine.begin() as conn:
        lock_out_admission(conn)
        conn.execute(text("DROP TABLE IF EXISTS stg_review_decisions"))
        conn.execute(text("CREATE TEMPORARY TABLE stg_review_decisions (prospect_id BIGINT, decision TEXT)"))
        expired = conn.execute(text(read_sql("minors/stage_expired.sql")).bindparams(
            bindparam("cutoff", type_=DateTime)), {"cutoff": cutoff}).rowcount
        if expired:
            removed = erase_minors(conn, policy, keys, run, read_sql("minors/decided_minor_ids.sql"),
                              "minor_reviews:timeout", "minor_review_timeout", close_reviews=False)
            conn.execute(timed_sql("minors/close_reviews.sql"),
                         {"now": run.started_at, "decided_by": "timeout", "decision": "expired"})
            summary.expired_removed = removed.erased
        conn.execute(text("DROP TABLE stg_review_decisions"))


def open_reviews(engine: Engine, limit: int | None = None) -> list[dict]:
    """Open reviews, oldest first: ids and rule names only (what a reviewer is shown)."""
    with engine.connect() as conn:
        rows = conn.execute(text(read_sql("minors/open_reviews.sql")), {"limit": limit or 2**31 - 1}).all()
    return [{"review_id": r[0], "prospect_id": r[1], "signals": r[2], "queued_at": str(r[3])} for r in rows]


def run_minor_reviews(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
                      archive_dir: Path) -> ReviewSummary:
    """The sweep DAG's work: decisions first, then the sweep, then the timeout."""
    summary = ReviewSummary()
    load_pending_holds(engine, policy, keys, run, inbox, summary)  # holds first: the order of DAGs never matters
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # a crashed run's answer files and drops
    process_review_files(engine, policy, keys, run, inbox, archive_dir, summary)
    sweep_held(engine, policy, keys, run, summary)
    expire_reviews(engine, policy, keys, run, summary)
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # this run's removals, drops archived
    with engine.connect() as conn:
        summary.open_reviews = conn.execute(
            text("SELECT COUNT(*) FROM minor_reviews WHERE status = 'open'")).scalar_one()
    return summary
