"""Resolve what a running task needs: the CRM engine and who/when is acting."""

from __future__ import annotations

from datetime import date

from crm_hygiene.run import RunInfo

CRM_CONN_ID = "crm_db"


def crm_database_url() -> str:
    """The ``crm_db`` Airflow connection as a SQLAlchemy URL, else the embedded default."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from crm_hygiene.settings import database_url_from_connection, default_database_url

    try:
        conn = BaseHook.get_connection(CRM_CONN_ID)
    except AirflowNotFoundException:
        return default_database_url()
    return database_url_from_connection(
        conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema
    )


def crm_engine():
    from crm_hygiene.db import make_engine

    return make_engine(crm_database_url())


HASH_KEY_VARIABLE = "crm_hash_key"


def hash_keys():
    """The suppression hashing keys: env ``CRM_HASH_KEY``, else Variable ``crm_hash_key``.

    Without either the task fails for good (no retry can help) with a message
    saying what to set; the key itself is never logged.
    """
    import os

    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowFailException

    from crm_hygiene.keys import HashKeyError, parse_hash_keys

    raw, source = os.environ.get("CRM_HASH_KEY"), "CRM_HASH_KEY"
    if not (raw and raw.strip()):
        raw, source = Variable.get(HASH_KEY_VARIABLE, default=None), f"Variable {HASH_KEY_VARIABLE}"
    try:
        return parse_hash_keys(raw, source)
    except HashKeyError as exc:
        raise AirflowFailException(str(exc)) from None


def run_info() -> RunInfo:
    """dag_id, run_id and "today" (the logical date; asset-triggered runs use run_after)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    today: date = moment.date()
    return RunInfo(dag_id=context["dag"].dag_id, run_id=context["run_id"], today=today)
