"""The message a person gets when a CRM task fails for good: ids, counts and reasons, never personal data.

Pure functions of plain values (no Airflow import), so the message is tested
without running a task; crm_airflow.alert_delivery takes the values from the
task's context and sends the result by email and/or webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

# A long reason (hundreds of overdue request ids) is cut here; the task log has it whole.
MAX_REASON_CHARS = 1500

# Exceptions whose message is passed on whole. The project's own exceptions
# (crm_hygiene.*, and AirflowFailException, which crm_airflow.tasks raises from
# them) carry counts, ids, file names and policy keys only: the developers'
# guide forbids personal data in exception messages, and the tests that plant
# people in the data check those texts. Airflow's timeout names a duration.
_PASSED_WHOLE_PREFIXES = ("crm_hygiene.", "crm_airflow.")
_PASSED_WHOLE = frozenset({"airflow.sdk.exceptions.AirflowFailException",
                           "airflow.sdk.exceptions.AirflowTaskTimeout",
                           "airflow.exceptions.AirflowFailException",
                           "airflow.exceptions.AirflowTaskTimeout"})
# A database error's first line says what went wrong (connection refused,
# database is locked, which constraint); crm_hygiene.db.make_engine has already
# cut PostgreSQL's text to its primary message with quoted values masked, and
# the lines after it are SQLAlchemy's statement and a link.
_FIRST_LINE_ONLY = frozenset({"sqlalchemy.exc.DBAPIError", "psycopg.Error", "sqlite3.Error"})


@dataclass(frozen=True)
class FailureAlert:
    subject: str
    body: str
    fields: dict  # the same facts for a webhook's JSON

    def as_json_payload(self) -> dict:
        """A chat webhook shows ``text``; anything else can read ``alert``."""
        return {"text": f"{self.subject}\n\n{self.body}", "alert": self.fields}


def _class_names(exc: BaseException) -> list[str]:
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]


def cap(text: str, limit: int = MAX_REASON_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f" ... ({len(text) - limit} more characters in the task log)"


def reason_from_exception(exc: BaseException | str | None) -> str:
    """What to tell a person about ``exc`` without passing on anything a
    third-party message might quote from the data (see the sets above)."""
    if exc is None:
        return "no exception was recorded (the task process may have been killed); see the task log"
    if isinstance(exc, str):  # Airflow hands some callbacks a message, not an exception
        return cap(exc.strip() or "no message")
    kind = type(exc).__name__
    names = _class_names(exc)
    message = str(exc).strip()
    if _PASSED_WHOLE.intersection(names) or type(exc).__module__.startswith(_PASSED_WHOLE_PREFIXES):
        return cap(f"{kind}: {message}" if message else kind)
    if _FIRST_LINE_ONLY.intersection(names):
        driver = getattr(exc, "orig", None) or exc
        first = str(driver).strip().splitlines()[0] if str(driver).strip() else ""
        return cap(f"{kind}: {first}" if first else kind)
    return (f"{kind} (its message is left out: a library's message can quote the data it was given; "
            "the task log has the traceback)")


def task_log_url(base_url: str | None, dag_id: str, run_id: str, task_id: str, try_number: int,
                 map_index: int = -1) -> str | None:
    """The task's log in the Airflow UI (the form Airflow's own ``ti.log_url``
    has), or None when the UI's address is not configured."""
    if not base_url:
        return None
    mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
    return (f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/tasks/"
            f"{quote(task_id)}{mapped}?try_number={try_number}")


def failure_alert(*, dag_id: str, task_id: str, run_id: str, logical_date: datetime | None, try_number: int,
                  max_tries: int, reason: str, why_not_retried: str, log_url: str | None,
                  map_index: int = -1) -> FailureAlert:
    """The alert for a task that failed for good.

    ``reason`` comes from reason_from_exception; ``why_not_retried`` says
    whether the task refused a retry, the retry policy did (and what a person
    should do), or the retries ran out.
    """
    task = task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"
    when = logical_date.isoformat() if logical_date else "none (not a scheduled run)"
    reason = cap(reason)
    label_width = len("Logical date:  ")
    indented_reason = reason.replace("\n", "\n" + " " * label_width)  # a YAML error spans lines
    fields = {
        "status": "failed", "dag_id": dag_id, "task_id": task_id, "map_index": map_index, "run_id": run_id,
        "logical_date": logical_date.isoformat() if logical_date else None, "try_number": try_number,
        "tries_allowed": max_tries + 1, "reason": reason, "why_not_retried": why_not_retried, "log_url": log_url,
    }
    lines = [
        "A CRM pipeline task failed for good: it will not be retried, and a person must act.",
        "",
        f"DAG:           {dag_id}",
        f"Task:          {task}",
        f"Run:           {run_id}",
        f"Logical date:  {when}",
        f"Try:           {try_number} of {max_tries + 1} allowed",
        f"Reason:        {indented_reason}",
        f"Not retried:   {why_not_retried}",
        f"Task log:      {log_url or 'in the Airflow UI (set AIRFLOW__API__BASE_URL for a link here)'}",
        "",
        "This message names ids and counts only, never a person's data: look people and",
        "requests up in the CRM by the ids above. Once the cause is fixed, clear the task",
        "in the Airflow UI (or wait for the next scheduled run).",
    ]
    return FailureAlert(subject=f"[crm-hygiene] FAILED: {dag_id}.{task} (run {run_id})",
                        body="\n".join(lines), fields=fields)
