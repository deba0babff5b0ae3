"""Shared fixtures: every test that touches the CRM runs on SQLite and PostgreSQL.

Airflow reads its configuration when first imported, so the per-worker
metadata database and folders are set here, before any test imports it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

_airflow_home = Path(tempfile.mkdtemp(prefix=f"crm-test-airflow-{WORKER}-"))
os.environ.update({
    "AIRFLOW_HOME": str(_airflow_home),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "GX_ANALYTICS_ENABLED": "False",
    # A test key only; production keys come from the environment or a Variable.
    "CRM_HASH_KEY": "test-key-1:test-secret-0123456789abcdef",
    # Code that finds the data folder through the environment (the erasure log, above
    # all) never writes into the checkout's data/ (the demo's, which `make test`
    # exports); the data_dir fixture gives each test its own.
    "CRM_DATA_DIR": str(_airflow_home / "data"),
})
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
os.environ.pop("AIRFLOW_CONN_CRM_DB", None)
os.environ.pop("CRM_ERASURE_LOG_DIR", None)  # the log goes to each test's data folder
for path in (REPO / "plugins", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from crm_hygiene.db import make_engine, upgrade_schema  # noqa: E402

PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CRM_TABLES = (
    "prospect_sources", "prospects", "quarantine", "audit_log", "ingested_files", "suppression_list",
    "data_subject_requests", "legal_holds", "minor_reviews", "applicants", "erasure_followups", "partner_releases",
)


def _airflow_metadata_db() -> None:
    """Each worker gets its own copy of a migrated Airflow metadata DB (SQLite)."""
    template = REPO / ".airflow" / "airflow.db"
    target = _airflow_home / "airflow.db"
    if template.exists():
        shutil.copy(template, target)
    else:  # pytest run directly, without `make test`
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
                       check=True, capture_output=True)


_airflow_metadata_db()


def fresh_pg_database(purpose: str = ""):
    """An empty database of this worker's own on the local PostgreSQL: its URL and
    a function that drops it. Unreachable PostgreSQL fails under CI=true, else skips."""
    # CRM_TEST_DB_PREFIX keeps two checkouts testing at once off each other's databases.
    name = f"crm_test_{os.environ.get('CRM_TEST_DB_PREFIX', '')}{purpose}{WORKER}".lower()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc.orig}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(scope="session")
def pg_database_url():
    """A database of this worker's own on the local PostgreSQL, schema migrated."""
    url, drop = fresh_pg_database()
    upgrade_schema(make_engine(url))
    yield url
    drop()


class CRM:
    """A clean CRM database for one test, and how Airflow would be told of it."""

    def __init__(self, backend: str, url: str):
        self.backend = backend
        self.url = url
        self.engine = make_engine(url)

    @property
    def airflow_conn(self) -> str:
        if self.backend == "sqlite":
            return json.dumps({"conn_type": "sqlite", "host": self.url.removeprefix("sqlite:///")})
        return self.url.replace("postgresql+psycopg://", "postgresql://")

    def rows(self, sql: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


@pytest.fixture(params=["sqlite", "postgresql"])
def crm(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        upgrade_schema(make_engine(url))
    else:
        url = request.getfixturevalue("pg_database_url")
        with make_engine(url).begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(CRM_TABLES)} RESTART IDENTITY CASCADE"))
    db = CRM(request.param, url)
    yield db
    db.engine.dispose()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("CRM_DATA_DIR", str(path))
    return path


# Modules whose tests share one expensive module-scoped fixture, so xdist must run each module
# whole on one worker: tests/test_scheduler_stack.py starts Airflow's four services once for both
# its tests. (`--dist loadgroup` cannot do it: xdist 3.8 renames items through item._nodeid, which
# pytest 9.2 no longer reads, so its groups never form and each worker started a stack of its own;
# pytest-dev/pytest-xdist#1386, open.)
ONE_WORKER_MODULES = {"tests/test_scheduler_stack.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `-n` (xdist's default `load`): each listed module is one unit of work, every other test its own."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ListedModulesWhole(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return ListedModulesWhole(config, log)


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> Path:
    """Debian's Chromium for Playwright (never a downloaded browser); missing: a failure
    under CI=true, else a skip that says how to get it."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    return CHROMIUM
