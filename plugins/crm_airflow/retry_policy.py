"""The CRM's one retry policy: fail at once on what a retry cannot fix, retry a database that went away.

Set on every task through ``DEFAULT_ARGS`` (crm_airflow.dag_defaults). Airflow
evaluates it in the task's process when the task raises, with the exception
itself; the scheduler only sees the outcome. ``AirflowFailException`` (a
rejected file, a missing hashing key, an overdue request, the retention
breaker...) never reaches it: Airflow fails those at once by itself.

Not Airflow's ``ExceptionRetryPolicy``: its ``RetryRule`` imports every class
it names when the DAG file is parsed, and parsing must not load SQLAlchemy,
psycopg, Alembic or pydantic (tests/test_dags.py checks). Here a class is
matched by its dotted name along the exception's method resolution order, so
nothing is imported, and a rule may also look at the driver's message where
one exception class means two things (SQLite's OperationalError is both
"database is locked" and "no such table").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.sdk import RetryAction, RetryDecision, RetryPolicy

# What a person must do is in each reason: Airflow logs it with the decision,
# and the failure alert (crm_airflow.alert_delivery) repeats it.
POLICY_FILE_INVALID = ("the policy file (CRM_POLICY_FILE) is invalid; a retry reads the same file. "
                       "Fix the key the message names, then clear the task")
HASH_KEY_MISSING = ("no usable hashing key; set CRM_HASH_KEY or the Airflow Variable crm_hash_key, "
                    "then clear the task")
SCHEMA_NEEDS_A_PERSON = ("the CRM database's schema is not the one this code expects (Alembic could not "
                         "migrate it, or a table or column is missing); a person must bring the database and "
                         "include/migrations together, then clear the task")
CONNECTION_MISCONFIGURED = ("the crm_db connection cannot be used as given (not a database URL, or the server "
                            "refused its user, password or database name); fix AIRFLOW_CONN_CRM_DB, then clear "
                            "the task")
DATABASE_UNREACHABLE = "the CRM database could not be reached or was busy; retrying after a delay"
TIMED_OUT_AGAIN = ("the task ran past its execution_timeout twice in a row: the work does not fit the timeout "
                   "or something hangs; a person must look (see the README's timeouts per DAG)")
TIMED_OUT_ONCE = "the task ran past its execution_timeout; retrying once"

# Phrases the drivers use for the two meanings one exception class can have.
_SQLITE_SCHEMA_PHRASES = ("no such table", "no such column", "has no column named")
_PG_LOGIN_REFUSED_PHRASES = ("password authentication failed", "no pg_hba.conf entry")


def _pg_login_refused(exc: BaseException) -> bool:
    """PostgreSQL refused the connection's user, password or database. psycopg
    gives a connection failure no SQLSTATE, so only the server's text tells
    this apart from a server that is down (which a retry can cure)."""
    text = str(exc).lower()
    if any(phrase in text for phrase in _PG_LOGIN_REFUSED_PHRASES):
        return True
    return "does not exist" in text and ('database "' in text or 'role "' in text)


def _sqlite_schema_missing(exc: BaseException) -> bool:
    return type(exc).__module__ == "sqlite3" and any(p in str(exc).lower() for p in _SQLITE_SCHEMA_PHRASES)


@dataclass(frozen=True)
class Rule:
    """Exceptions whose class (or a base class) has one of ``names``, optionally
    only when ``when`` holds for the matching exception, get ``action``."""

    names: tuple[str, ...]
    action: RetryAction
    reason: str
    when: Callable[[BaseException], bool] | None = None

    def matches(self, exc: BaseException) -> bool:
        return bool(class_names(exc).intersection(self.names)) and (self.when is None or self.when(exc))


def class_names(exc: BaseException) -> set[str]:
    """Dotted names of the exception's class and every base class."""
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


_DRIVER_OPERATIONAL = ("sqlalchemy.exc.OperationalError", "psycopg.OperationalError", "sqlite3.OperationalError")

# First match wins, in this order, looking at the exception and then at what it
# wraps (SQLAlchemy's .orig, an explicit `raise ... from`).
RULES: tuple[Rule, ...] = (
    Rule(("crm_hygiene.policy.PolicyError",), RetryAction.FAIL, POLICY_FILE_INVALID),
    Rule(("crm_hygiene.keys.HashKeyError",), RetryAction.FAIL, HASH_KEY_MISSING),
    Rule(("crm_hygiene.db.SchemaAheadError", "alembic.util.exc.CommandError", "sqlalchemy.exc.ProgrammingError",
          "psycopg.ProgrammingError", "sqlite3.ProgrammingError"), RetryAction.FAIL, SCHEMA_NEEDS_A_PERSON),
    Rule(("sqlite3.OperationalError",), RetryAction.FAIL, SCHEMA_NEEDS_A_PERSON, when=_sqlite_schema_missing),
    Rule(("sqlalchemy.exc.ArgumentError",), RetryAction.FAIL, CONNECTION_MISCONFIGURED),
    Rule(("psycopg.OperationalError",), RetryAction.FAIL, CONNECTION_MISCONFIGURED, when=_pg_login_refused),
    # retry_delay None: the task's own delay and exponential backoff apply (DEFAULT_ARGS).
    Rule(("crm_hygiene.drops.inbox.DatabaseUnavailable", *_DRIVER_OPERATIONAL, "sqlalchemy.exc.InterfaceError",
          "sqlalchemy.exc.DisconnectionError", "sqlalchemy.exc.TimeoutError", "psycopg.InterfaceError"),
         RetryAction.RETRY, DATABASE_UNREACHABLE),
)
_TIMEOUT = "airflow.sdk.exceptions.AirflowTaskTimeout"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, then the driver error SQLAlchemy wraps and explicit causes."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__]
    return [e for e in seen if isinstance(e, BaseException)]


def decide(exc: BaseException, try_number: int = 1) -> RetryDecision:
    """What to do after ``exc`` on try ``try_number``: FAIL, RETRY, or DEFAULT
    (anything not named here: the task's standard retries, safe because every
    DAG's rerun changes nothing it already did)."""
    chain = _chain(exc)
    for rule in RULES:
        if any(rule.matches(e) for e in chain):
            return RetryDecision(action=rule.action, reason=rule.reason)
    if _TIMEOUT in class_names(exc):
        return RetryDecision.retry(reason=TIMED_OUT_ONCE) if try_number <= 1 else RetryDecision.fail(TIMED_OUT_AGAIN)
    return RetryDecision.default()


class CrmRetryPolicy(RetryPolicy):
    """``decide`` as an Airflow retry policy. Only a flag that a task has one is
    stored with the serialized DAG; the worker uses the object from the DAG file."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        return decide(exception, try_number)

    def serialize(self) -> dict[str, Any]:
        return {"__type": f"{type(self).__module__}.{type(self).__qualname__}"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CrmRetryPolicy:
        return cls()


CRM_RETRY_POLICY = CrmRetryPolicy()

# Standard retries: three, after 1-2, 2-4 and 4-8 minutes (Airflow's exponential
# backoff doubles the delay and adds up to as much again as jitter; each at most
# 10 minutes): enough for a database restart or failover, while a bug fails for
# good, and alerts a person, within about a quarter of an hour.
RETRIES = 3
RETRY_DELAY = timedelta(minutes=1)
RETRY_EXPONENTIAL_BACKOFF = 2.0
MAX_RETRY_DELAY = timedelta(minutes=10)
