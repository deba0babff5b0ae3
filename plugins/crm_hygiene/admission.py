"""The single admission step: every new or updated person passes through here.

A file's people arrive as rows of the temporary ``stg_candidates`` table. Each
gate is one set-based SQL statement that may turn candidates away (setting
``admission`` to 'blocked' and ``admission_reason`` to the gate's name); the
candidates still admitted after every gate are upserted into ``prospects``.
Later safeguards (suppression, minors) plug in by adding a gate to ``GATES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene.db import read_sql
from crm_hygiene.keys import HashKeys
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo


@dataclass(frozen=True)
class AdmissionGate:
    """A named check; ``sql`` updates stg_candidates WHERE admission = 'admit'."""

    name: str
    sql_file: str

    def apply(self, conn: Connection, params: dict) -> int:
        return conn.execute(text(read_sql(self.sql_file)), params).rowcount


# Gates run in this order; each sees only what the previous ones admitted.
GATES: tuple[AdmissionGate, ...] = (
    AdmissionGate("suppressed", "admission/gate_suppressed.sql"),
    AdmissionGate("held_out_of_use", "admission/gate_held_out_of_use.sql"),
)


@dataclass(frozen=True)
class AdmissionResult:
    candidates: int
    blocked: dict[str, int]
    created: int
    updated: int


def _basis_params(policy: Policy) -> dict[str, str]:
    return {f"basis_{i}": basis for i, basis in enumerate(policy.lawful_basis_precedence.order)}


def admit_candidates(
    conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo, file_id: int
) -> AdmissionResult:
    """Run every gate over ``stg_candidates``, then write the admitted into the CRM."""
    candidates = conn.execute(text("SELECT COUNT(*) FROM stg_candidates")).scalar_one()
    conn.execute(text(read_sql("admission/suppression_hits.sql")))
    gate_params = {"today": run.today}
    blocked = {gate.name: gate.apply(conn, gate_params) for gate in GATES}

    updated = conn.execute(text(read_sql("ingest/count_held_candidates.sql"))).scalar_one()
    admitted = conn.execute(text("SELECT COUNT(*) FROM stg_candidates WHERE admission = 'admit'")).scalar_one()
    upsert = text(read_sql("ingest/07_upsert_prospects.sql")).bindparams(bindparam("now", type_=DateTime))
    conn.execute(upsert, {"now": run.started_at, "key_id": keys.current.key_id, **_basis_params(policy)})
    conn.execute(text(read_sql("ingest/08_insert_sources.sql")), {"file_id": file_id})
    conn.execute(text(read_sql("admission/mark_do_not_call.sql")))
    return AdmissionResult(
        candidates=candidates, blocked=blocked, created=admitted - updated, updated=updated
    )
