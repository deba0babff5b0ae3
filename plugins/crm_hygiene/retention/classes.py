"""Each retention class the policy names: the table it lives in, how its due
rows are found, and what acting on them does.

A class's ``stage_<class>.sql`` is one SELECT of its due rows: ``id`` (numeric
ids) or ``key`` (text ids), ``held`` = 1 where a standing legal hold names the
person, and for prospects ``job_title`` (which anonymising bands). The sweep
counts it for the plan, the circuit breaker and the re-check, and stages it
into ``ret_due`` to act on, so the rule for "due" is written once per class.
"""

from __future__ import annotations

from typing import NamedTuple

from crm_hygiene.policy import Policy


class TableClass(NamedTuple):
    """A class of rows in one table."""

    name: str
    table: str
    id_column: str
    due_column: str  # 'id' (numeric ids) or 'key' (text ids) in ret_due
    stage: str  # the stage_*.sql file (without .sql)
    stage_params: dict  # what that file needs beyond :cutoff and :as_of
    uses_held_keys: bool  # needs ret_held_keys (holds matched by email match key in Python)
    staged_columns: tuple[str, ...] = ("id", "key", "held")


TABLE_CLASSES: tuple[TableClass, ...] = (
    TableClass("prospects", "prospects", "prospect_id", "id", "stage_prospects", {}, False,
               ("id", "key", "held", "job_title")),
    TableClass("applicants_rejected", "applicants", "applicant_id", "key", "stage_applicants",
               {"status": "rejected", "retain": False}, True),
    TableClass("applicants_future_roles", "applicants", "applicant_id", "key", "stage_applicants",
               {"status": "rejected", "retain": True}, True),
    TableClass("applicants_hired", "applicants", "applicant_id", "key", "stage_applicants",
               {"status": "hired", "retain": None}, True),
    TableClass("quarantine", "quarantine", "quarantine_id", "id", "stage_quarantine", {}, True),
    TableClass("answer_files", "data_subject_requests", "request_id", "key", "stage_answer_files", {}, False),
    TableClass("minor_reviews", "minor_reviews", "review_id", "id", "stage_minor_reviews", {}, False),
    TableClass("suppression_minor", "suppression_list", "suppression_id", "id", "stage_suppression_minor", {},
               False),
    TableClass("legal_holds", "legal_holds", "hold_id", "id", "stage_legal_holds", {}, False),
    TableClass("data_subject_requests", "data_subject_requests", "request_id", "key",
               "stage_data_subject_requests", {}, False),
    TableClass("audit_log", "audit_log", "audit_id", "id", "stage_audit_log", {}, False),
)
# Classes of files rather than rows: answer files are found through their
# request rows above (and deleted by the erasure to-do); drop files by the
# file system (crm_hygiene.retention.drop_files).
FILE_CLASSES = ("answer_files", "drop_files")


def check_catalogue(policy: Policy) -> None:
    """The code acts on exactly the classes the policy names (the policy model
    checks the names against policy.RETENTION_KINDS; this checks the code)."""
    implemented = {c.name for c in TABLE_CLASSES} | set(FILE_CLASSES)
    if implemented != set(policy.retention.classes):
        raise RuntimeError(f"retention classes implemented {sorted(implemented)} differ from the policy's "
                           f"{sorted(policy.retention.classes)}")
