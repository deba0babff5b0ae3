"""Where things are: data folder, CRM database URL. Read from the environment.

The Airflow connection ``crm_db`` is resolved by the DAG layer and handed in as
plain parts (``database_url_from_connection``); this package never imports Airflow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote_plus

INBOX_KINDS = ("research", "events", "enquiries", "suppression", "requests", "applicants", "legal_holds")


def data_dir() -> Path:
    """``$CRM_DATA_DIR`` (default ``./data``), created if missing."""
    path = Path(os.environ.get("CRM_DATA_DIR") or "data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def inbox_dir(kind: str) -> Path:
    return data_dir() / "inbox" / kind


def archive_dir(kind: str) -> Path:
    return data_dir() / "archive" / kind


def exports_dir() -> Path:
    """What leaves the company: partner reports, data-subject answers."""
    return data_dir() / "exports"


def erasure_log_dir() -> Path:
    """``$CRM_ERASURE_LOG_DIR``, else ``$CRM_DATA_DIR/erasure_log``: where every erasure
    and suppression entry is journaled for replay after a restore (crm_hygiene.erasure_log).
    Not created here: the replay must notice a log that is not where it is told to look."""
    configured = os.environ.get("CRM_ERASURE_LOG_DIR", "").strip()
    return Path(configured).resolve() if configured else data_dir() / "erasure_log"


def default_database_url() -> str:
    """The embedded default: a SQLite file in the data folder."""
    return f"sqlite:///{data_dir() / 'crm.db'}"


def database_url_from_connection(
    conn_type: str,
    host: str | None = None,
    login: str | None = None,
    password: str | None = None,
    port: int | None = None,
    schema: str | None = None,
) -> str:
    """SQLAlchemy URL for an Airflow-style connection (postgres or sqlite)."""
    kind = (conn_type or "").lower()
    if kind == "sqlite":
        if not host:
            raise ValueError("a sqlite connection needs its file path in 'host'")
        return f"sqlite:///{host}"
    if kind in {"postgres", "postgresql"}:
        auth = ""
        if login:
            auth = quote_plus(login) + (f":{quote_plus(password)}" if password else "") + "@"
        hostport = f"{host or 'localhost'}{f':{port}' if port else ''}"
        return f"postgresql+psycopg://{auth}{hostport}/{schema or ''}"
    raise ValueError(f"crm_db connection type {conn_type!r} is not supported (use postgres or sqlite)")


def database_url_from_env() -> str:
    """``AIRFLOW_CONN_CRM_DB`` read without Airflow (CLI, benchmarks), else the default."""
    raw = os.environ.get("AIRFLOW_CONN_CRM_DB", "").strip()
    if not raw:
        return default_database_url()
    if raw.startswith("{"):
        conn = json.loads(raw)
        return database_url_from_connection(
            conn.get("conn_type", ""), conn.get("host"), conn.get("login"),
            conn.get("password"), conn.get("port"), conn.get("schema"),
        )
    if raw.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw
