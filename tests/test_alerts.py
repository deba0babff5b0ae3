"""Failures reach a person, and a retry is spent only where it can help.

Every task of every DAG has the CRM retry policy, a failure alert and an
execution timeout; the policy is fed real exceptions (a broken policy file, a
closed port, a locked SQLite file, a missing table...) on both databases; and
real `airflow dags test` runs of contract DAGs fail and send their alert to an
SMTP server and a webhook on loopback, with no personal data in it.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk import RetryAction
from conftest import IN_CI, PG_ADMIN_URL, REPO, write_csv
from sqlalchemy import create_engine, make_url, text

from crm_airflow import alert_delivery, tasks
from crm_airflow.alerts import MAX_REASON_CHARS, failure_alert, reason_from_exception, task_log_url
from crm_airflow.dag_defaults import DEFAULT_TIMEOUT, INBOX_TIMEOUT, WHOLE_CRM_TIMEOUT
from crm_airflow.retry_policy import (
    CONNECTION_MISCONFIGURED,
    CRM_RETRY_POLICY,
    DATABASE_UNREACHABLE,
    HASH_KEY_MISSING,
    POLICY_FILE_INVALID,
    SCHEMA_NEEDS_A_PERSON,
)
from crm_hygiene.db import make_engine, upgrade_schema
from crm_hygiene.drops.inbox import DatabaseUnavailable
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.policy import PolicyError, load_policy
from crm_hygiene.run import RunInfo

# The task timeouts the README's "Alerts and retries" table gives; every other task has DEFAULT_TIMEOUT.
LONGER_TIMEOUTS = {
    ("ingest_research_lists", "ingest_drops"): INBOX_TIMEOUT,
    ("ingest_event_lists", "ingest_drops"): INBOX_TIMEOUT,
    ("ingest_enquiries", "ingest_drops"): INBOX_TIMEOUT,
    # Suppression before ingest: the same inbox work as sync_suppression_lists.
    **{(dag_id, "apply_pending_suppression_lists"): INBOX_TIMEOUT
       for dag_id in ("ingest_research_lists", "ingest_event_lists", "ingest_enquiries")},
    ("ingest_applicants", "ingest_applicants"): INBOX_TIMEOUT,
    ("sync_suppression_lists", "sync_suppression_lists"): INBOX_TIMEOUT,
    ("process_data_subject_requests", "process_requests"): INBOX_TIMEOUT,
    ("retention_sweep", "retention_sweep"): WHOLE_CRM_TIMEOUT,
    ("review_minors", "review_minors"): WHOLE_CRM_TIMEOUT,
    ("review_minors", "apply_decisions"): WHOLE_CRM_TIMEOUT,
}
# Someone whose data must never reach an alert.
PERSON = {"first": "Zephyrine", "last": "Quillfeather", "email": "zephyrine.quillfeather@acme-widgets.com"}
BROKEN_POLICY_YAML = "sources: [\n  linkedin,\n  oops: {\n"
ALERT_TO = "dpo@crm-ops.example, oncall@crm-ops.example"
UI_BASE_URL = "http://airflow.crm-ops.example:8080"


# --- every task of every DAG -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_task_of_every_dag_has_the_retry_policy_the_failure_alert_and_a_timeout(dagbag):
    assert dagbag.import_errors == {} and dagbag.dags
    seen = set()
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retry_policy is CRM_RETRY_POLICY, where
            callbacks = task.on_failure_callback
            assert alert_delivery.notify_failure in (callbacks if isinstance(callbacks, list) else [callbacks]), where
            assert task.execution_timeout == LONGER_TIMEOUTS.get((dag.dag_id, task.task_id), DEFAULT_TIMEOUT), where
            assert task.retries == 3 and task.retry_delay == timedelta(minutes=1), where
            assert task.retry_exponential_backoff == 2.0 and task.max_retry_delay == timedelta(minutes=10), where
            seen.add((dag.dag_id, task.task_id))
    assert set(LONGER_TIMEOUTS) <= seen  # the table names no task that is gone


# --- the retry policy, fed real exceptions ----------------------------------------------------------------


def _raised(call) -> BaseException:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the exception is the result
        return exc
    raise AssertionError("nothing was raised")


def _execute(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def _duplicate_key_error(crm) -> BaseException:
    """A real IntegrityError over PERSON's email (crm_hygiene.db.make_engine keeps the value out of its text)."""
    _execute(crm.engine, "CREATE TABLE alert_probe (email TEXT PRIMARY KEY)")
    try:
        _execute(crm.engine, "INSERT INTO alert_probe (email) VALUES (:e)", e=PERSON["email"])
        return _raised(lambda: _execute(crm.engine, "INSERT INTO alert_probe (email) VALUES (:e)", e=PERSON["email"]))
    finally:
        _execute(crm.engine, "DROP TABLE alert_probe")


def _decision(exc: BaseException, try_number: int = 1):
    return CRM_RETRY_POLICY.evaluate(exc, try_number=try_number, max_tries=3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_invalid_policy_file_fails_at_once(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_POLICY_YAML)
    wrong_key = tmp_path / "wrong_key.yaml"
    wrong_key.write_text("sources: {research: {lawful_basis: whim}}\n")
    for path in (broken, wrong_key, tmp_path / "missing.yaml"):
        exc = _raised(lambda p=path: load_policy(p))
        assert isinstance(exc, PolicyError)
        decision = _decision(exc)
        assert (decision.action, decision.reason) == (RetryAction.FAIL, POLICY_FILE_INVALID)


def test_a_missing_hashing_key_fails_at_once():
    decision = _decision(_raised(lambda: parse_hash_keys("", "CRM_HASH_KEY")))
    assert (decision.action, decision.reason) == (RetryAction.FAIL, HASH_KEY_MISSING)


def test_a_crm_db_connection_that_is_not_a_database_url_fails_at_once():
    decision = _decision(_raised(lambda: make_engine("crm-database-please")))
    assert (decision.action, decision.reason) == (RetryAction.FAIL, CONNECTION_MISCONFIGURED)


def test_a_database_server_that_does_not_answer_is_retried():
    closed = f"postgresql://postgres@127.0.0.1:{_free_port()}/crm"
    exc = _raised(lambda: make_engine(closed).connect())
    assert "Connection refused" in str(exc)
    decision = _decision(exc)
    assert (decision.action, decision.reason) == (RetryAction.RETRY, DATABASE_UNREACHABLE)
    assert decision.retry_delay is None  # the task's delay and exponential backoff apply
    # The drop layer's own signal for the same (re-raised without the row's text).
    assert _decision(DatabaseUnavailable("the CRM database was unavailable")).action == RetryAction.RETRY


def test_a_locked_sqlite_database_is_retried(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    impatient = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        exc = _raised(lambda: _execute(impatient, "INSERT INTO t VALUES (1)"))
    finally:
        holder.close()
        impatient.dispose()
    assert "database is locked" in str(exc)
    assert _decision(exc).action == RetryAction.RETRY


def test_wrong_credentials_or_database_name_fail_at_once(pg_database_url):
    admin = make_url(PG_ADMIN_URL)
    prefix = os.environ.get("CRM_TEST_DB_PREFIX", "")
    for url in (admin.set(database=f"crm_test_{prefix}never_created"), admin.set(username="no_such_role_zz")):
        exc = _raised(lambda u=url: make_engine(u.render_as_string(hide_password=False)).connect())
        decision = _decision(exc)
        assert (decision.action, decision.reason) == (RetryAction.FAIL, CONNECTION_MISCONFIGURED)


def test_schema_errors_fail_at_once_on_both_databases(crm):
    missing_table = _raised(lambda: _execute(crm.engine, "SELECT * FROM no_such_table"))
    missing_revision = _raised(lambda: upgrade_schema(crm.engine, "0999_no_such_revision"))
    assert type(missing_revision).__module__ == "alembic.util.exc"
    with crm.engine.begin() as conn:  # migrated by a newer release than this code
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacecafe'"))
    try:
        schema_ahead = _raised(lambda: upgrade_schema(crm.engine))
    finally:  # the PostgreSQL fixture's database is shared by this worker's later tests
        with crm.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert type(schema_ahead).__name__ == "SchemaAheadError"
    for exc in (missing_table, missing_revision, schema_ahead):
        decision = _decision(exc)
        assert (decision.action, decision.reason) == (RetryAction.FAIL, SCHEMA_NEEDS_A_PERSON), repr(exc)


def test_other_errors_get_the_standard_retries(crm):
    # Two DAGs admitting one person at once can collide on a key: a retry may well succeed.
    for exc in (_duplicate_key_error(crm), KeyError("job_title"), ValueError("bad cell")):
        assert _decision(exc).action == RetryAction.DEFAULT, repr(exc)


def test_a_timeout_is_retried_once_then_fails():
    from airflow.sdk.exceptions import AirflowTaskTimeout

    timeout = AirflowTaskTimeout("Timeout, PID: 1")
    assert _decision(timeout, try_number=1).action == RetryAction.RETRY
    assert _decision(timeout, try_number=2).action == RetryAction.FAIL


def test_the_policy_fails_the_exception_a_task_really_raises_for_a_broken_policy_file(crm, data_dir, tmp_path,
                                                                                      monkeypatch):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_POLICY_YAML)
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    monkeypatch.setenv("CRM_POLICY_FILE", str(broken))
    exc = _raised(lambda: tasks.ingest_drops("research"))
    assert isinstance(exc, PolicyError)
    assert _decision(exc).action == RetryAction.FAIL
    assert "the CRM retry policy: " + POLICY_FILE_INVALID == alert_delivery.why_not_retried(exc, 1, 3)


# --- the message ------------------------------------------------------------------------------------------


def _alert(reason: str, **overrides):
    values = dict(dag_id="process_data_subject_requests", task_id="process_requests",
                  run_id="scheduled__2032-01-01T00:00:00+00:00", logical_date=datetime(2032, 1, 1, tzinfo=UTC),
                  try_number=1, max_tries=3, reason=reason, why_not_retried="the task itself said so",
                  log_url=task_log_url(UI_BASE_URL, "process_data_subject_requests",
                                       "scheduled__2032-01-01T00:00:00+00:00", "process_requests", 1))
    return failure_alert(**{**values, **overrides})


def test_the_message_names_the_dag_task_run_date_try_reason_and_log():
    alert = _alert("AirflowFailException: 1 request(s) OVERDUE: REQ-7")
    assert alert.subject == ("[crm-hygiene] FAILED: process_data_subject_requests.process_requests "
                             "(run scheduled__2032-01-01T00:00:00+00:00)")
    for expected in ("DAG:           process_data_subject_requests", "Task:          process_requests",
                     "Run:           scheduled__2032-01-01T00:00:00+00:00",
                     "Logical date:  2032-01-01T00:00:00+00:00", "Try:           1 of 4 allowed",
                     "Reason:        AirflowFailException: 1 request(s) OVERDUE: REQ-7",
                     f"Task log:      {UI_BASE_URL}/dags/process_data_subject_requests/runs/"
                     "scheduled__2032-01-01T00%3A00%3A00%2B00%3A00/tasks/process_requests?try_number=1"):
        assert expected in alert.body
    assert alert.fields["status"] == "failed" and alert.fields["tries_allowed"] == 4
    assert json.loads(json.dumps(alert.as_json_payload()))["alert"]["reason"].endswith("REQ-7")
    # Without the UI's address there is no link, and the message says how to get one.
    assert "set AIRFLOW__API__BASE_URL" in _alert("x", log_url=task_log_url(None, "d", "r", "t", 1)).body


def test_a_long_reason_is_cut_and_says_where_the_rest_is():
    ids = ", ".join(f"REQ-{n}" for n in range(2000))
    alert = _alert(f"2000 request(s) OVERDUE: {ids}")
    assert len(alert.fields["reason"]) < MAX_REASON_CHARS + 100
    assert alert.fields["reason"].endswith("more characters in the task log)") and "REQ-1999" not in alert.body


def test_the_reason_passes_the_projects_messages_and_holds_back_what_a_library_may_quote(crm):
    from airflow.sdk.exceptions import AirflowFailException

    assert reason_from_exception(AirflowFailException("2 file(s) rejected, see inbox/events/rejected/")) == (
        "AirflowFailException: 2 file(s) rejected, see inbox/events/rejected/")
    assert reason_from_exception(PolicyError("key 'sources': Field required")).startswith("PolicyError: key")
    quoting = _raised(lambda: date.fromisoformat(PERSON["email"]))
    assert PERSON["email"] in str(quoting)  # the library quotes what it was given
    assert reason_from_exception(quoting).startswith("ValueError (its message is left out")
    assert PERSON["email"] not in reason_from_exception(quoting)
    # A database error keeps its first line, which names the constraint, not the row.
    duplicate = reason_from_exception(_duplicate_key_error(crm))
    assert duplicate.startswith("IntegrityError: ") and "alert_probe" in duplicate, duplicate
    assert PERSON["email"] not in duplicate and "\n" not in duplicate
    refused = _raised(lambda: make_engine(f"postgresql://postgres@127.0.0.1:{_free_port()}/crm").connect())
    assert reason_from_exception(refused).startswith("OperationalError: connection failed: ")
    assert "\n" not in reason_from_exception(refused)  # the first line only, never SQLAlchemy's statement


def _drop_overdue_request(crm, data_dir, monkeypatch) -> str:
    """A held person and their rectification, received 2026-10-01 (due 2026-11-01) with
    details nobody can apply: open, so overdue on 2026-12-01. Returns the request id."""
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    from crm_hygiene.ingest.pipeline import ingest_inbox

    write_csv(data_dir / "inbox" / "research" / "r.csv",
              ["first_name", "last_name", "email", "phone", "company", "job_title", "country", "source",
               "source_url", "collected_at"],
              [[PERSON["first"], PERSON["last"], PERSON["email"], "", "Acme Widgets", "CTO", "UK", "linkedin", "",
                "2026-06-01"]])
    ingest_inbox(crm.engine, RESEARCH, load_policy(), tasks.hash_keys(), RunInfo("t", "t", date(2026, 9, 1)),
                 data_dir / "inbox" / "research", data_dir / "archive" / "research")
    write_csv(data_dir / "inbox" / "requests" / "q.csv", ["request_id", "type", "email", "received_at", "details"],
              [["REQ-OVERDUE-7", "rectification", PERSON["email"], "2026-10-01", '{"salary": "1"}']])
    return "REQ-OVERDUE-7"


def _no_person_in(text_: str) -> bool:
    lowered = text_.lower()
    return not any(v.lower() in lowered for v in (PERSON["first"], PERSON["last"], PERSON["email"], "quillfeather"))


@pytest.mark.enforces("data_subject_requests")
def test_the_overdue_request_alarm_is_a_message_with_the_request_id_and_no_personal_data(crm, data_dir,
                                                                                         monkeypatch):
    request_id = _drop_overdue_request(crm, data_dir, monkeypatch)
    # Outside a task there is no Airflow context: the run is given as the task would see it.
    monkeypatch.setattr(tasks, "run_info", lambda: RunInfo("process_data_subject_requests", "manual",
                                                           date(2026, 12, 1)))
    exc = _raised(tasks.process_data_subject_requests)
    assert type(exc).__name__ == "AirflowFailException"
    alert = _alert(reason_from_exception(exc), why_not_retried=alert_delivery.why_not_retried(exc, 1, 3))
    assert f"Reason:        AirflowFailException: 1 request(s) OVERDUE: {request_id}" in alert.body
    assert "Not retried:   the task itself said no retry can help" in alert.body
    assert _no_person_in(alert.subject + alert.body + json.dumps(alert.as_json_payload()))


# --- sending, and what happens when it cannot be sent -----------------------------------------------------


def _context(exc: BaseException | None):
    ti = SimpleNamespace(dag_id="retention_sweep", task_id="retention_sweep", run_id="manual__x", try_number=4,
                         max_tries=3, map_index=-1)
    return {"ti": ti, "exception": exc, "logical_date": datetime(2032, 1, 1, tzinfo=UTC)}


def test_without_configuration_no_alert_is_attempted_and_one_line_says_so(monkeypatch, caplog):
    monkeypatch.delenv("CRM_ALERT_EMAIL_TO", raising=False)
    monkeypatch.delenv("CRM_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setattr(alert_delivery, "build_alert", None)  # would raise if it got that far
    with caplog.at_level(logging.INFO, logger="crm_airflow.alert_delivery"):
        alert_delivery.notify_failure(_context(KeyError("x")))
    assert [r.getMessage() for r in caplog.records if r.name == "crm_airflow.alert_delivery"] == [
        "failure alerts are not configured (set CRM_ALERT_EMAIL_TO and/or CRM_ALERT_WEBHOOK_URL): none sent"]


def test_an_alert_that_cannot_be_sent_is_logged_by_type_and_raises_nothing(monkeypatch, caplog):
    closed = _free_port()
    monkeypatch.setenv("CRM_ALERT_EMAIL_TO", ALERT_TO)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{closed}?disable_ssl=true&disable_tls=true&from_email=crm%40crm-ops.example")
    monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{closed}/hook?token=s3cret-token")
    with caplog.at_level(logging.INFO, logger="crm_airflow.alert_delivery"):
        alert_delivery.notify_failure(_context(RuntimeError("retention blocked")))
    said = [r.getMessage() for r in caplog.records if r.name == "crm_airflow.alert_delivery"]
    assert said == [
        "failure alert by email not sent: ConnectionRefusedError (check the smtp_default connection and "
        "CRM_ALERT_EMAIL_TO)",
        "failure alert by webhook not sent: URLError (check CRM_ALERT_WEBHOOK_URL)"]
    assert "s3cret-token" not in " ".join(said)


# --- real DAG runs, alerts to an SMTP server and a webhook on loopback ------------------------------------


@pytest.fixture
def smtp_sink():
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        message = "aiosmtpd is not installed (requirements.txt: aiosmtpd==1.4.6, test only)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    class Keep:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.envelopes.append(envelope)
            return "250 Message accepted for delivery"

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield SimpleNamespace(port=controller.port, envelopes=handler.envelopes)
    controller.stop()


@pytest.fixture
def webhook_sink():
    """An HTTP server on 127.0.0.1 that keeps the JSON bodies POSTed to it."""
    received = []

    class Keep(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}/crm-alerts", received=received)
    server.shutdown()
    server.server_close()


def _airflow_dags_test(dag_id: str, day: str, env: dict, airflow_home: Path) -> subprocess.CompletedProcess:
    """`airflow dags test` as a person runs it, with its own copy of Airflow's metadata database."""
    airflow_home.mkdir()
    shutil.copy(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db", airflow_home / "airflow.db")
    full_env = {**os.environ, "AIRFLOW_HOME": str(airflow_home),
                "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]), **env}
    airflow = str(Path(sys.executable).with_name("airflow"))
    # The timeout only keeps a broken retry policy from hanging the suite in retry delays.
    return subprocess.run([airflow, "dags", "test", dag_id, day], env=full_env, capture_output=True, text=True,
                          timeout=900)


def _alert_env(smtp_sink, webhook_sink) -> dict:
    return {
        "CRM_ALERT_EMAIL_TO": ALERT_TO,
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp_sink.port}?disable_ssl=true&disable_tls=true"
                                     "&from_email=crm-alerts%40crm-ops.example&timeout=10",
        "CRM_ALERT_WEBHOOK_URL": webhook_sink.url,
        "AIRFLOW__API__BASE_URL": UI_BASE_URL,
    }


def _one_email(smtp_sink) -> tuple[email.message.EmailMessage, str]:
    assert len(smtp_sink.envelopes) == 1
    envelope = smtp_sink.envelopes[0]
    assert envelope.mail_from == "crm-alerts@crm-ops.example"
    assert sorted(envelope.rcpt_tos) == ["dpo@crm-ops.example", "oncall@crm-ops.example"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    body = message.get_body(preferencelist=("html", "plain")).get_content()
    return message, body


def _failed_task_instance(airflow_home: Path, dag_id: str, run_id: str, task_id: str) -> tuple:
    meta = sqlite3.connect(airflow_home / "airflow.db")
    try:
        ti = meta.execute("SELECT state, try_number, max_tries FROM task_instance "
                          "WHERE dag_id = ? AND run_id = ? AND task_id = ?", (dag_id, run_id, task_id)).fetchone()
        earlier_tries = meta.execute("SELECT COUNT(*) FROM task_instance_history "
                                     "WHERE dag_id = ? AND run_id = ? AND task_id = ?",
                                     (dag_id, run_id, task_id)).fetchone()[0]
    finally:
        meta.close()
    return ti, earlier_tries


def _run_id_named_in(body: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in body.splitlines() if line.startswith("Run:"))


@pytest.mark.slow
@pytest.mark.enforces("data_subject_requests")
def test_an_overdue_request_fails_the_run_and_reaches_a_person_by_email_and_webhook_without_personal_data(
        crm, data_dir, tmp_path, monkeypatch, smtp_sink, webhook_sink):
    request_id = _drop_overdue_request(crm, data_dir, monkeypatch)
    home = tmp_path / "airflow"
    done = _airflow_dags_test("process_data_subject_requests", "2026-12-01",
                              {"AIRFLOW_CONN_CRM_DB": crm.airflow_conn, **_alert_env(smtp_sink, webhook_sink)}, home)
    assert done.returncode != 0 and "DagRun failed" in done.stdout + done.stderr

    message, body = _one_email(smtp_sink)
    assert message["Subject"].startswith("[crm-hygiene] FAILED: process_data_subject_requests.process_requests")
    for expected in ("DAG:           process_data_subject_requests", "Task:          process_requests",
                     "Logical date:  2026-12-01T00:00:00+00:00", "Try:           1 of 4 allowed",
                     f"Reason:        AirflowFailException: 1 request(s) OVERDUE: {request_id}",
                     "Not retried:   the task itself said no retry can help",
                     f"Task log:      {UI_BASE_URL}/dags/process_data_subject_requests/runs/"):
        assert expected in body, expected
    run_id = _run_id_named_in(body)
    assert _failed_task_instance(home, "process_data_subject_requests", run_id, "process_requests") == (
        ("failed", 1, 3), 0)
    # No personal data anywhere in what was sent (headers, body, the webhook's JSON) or in the task log.
    assert len(webhook_sink.received) == 1
    hook = webhook_sink.received[0]
    assert hook["alert"]["dag_id"] == "process_data_subject_requests" and request_id in hook["alert"]["reason"]
    assert hook["text"] == f"{message['Subject']}\n\n{html.unescape(body.strip()[len('<pre>'):-len('</pre>')])}"
    assert _no_person_in(smtp_sink.envelopes[0].content.decode() + body + json.dumps(hook))
    assert _no_person_in(done.stdout + done.stderr)
    # The alarm reached a person; the run's other work was committed (the request is recorded, open).
    assert crm.scalar("SELECT status FROM data_subject_requests WHERE request_id = :r", r=request_id) == "open"


@pytest.mark.slow
def test_an_invalid_policy_file_fails_the_task_once_and_the_alert_says_it_was_not_retried(
        crm, data_dir, tmp_path, smtp_sink, webhook_sink):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_POLICY_YAML)
    home = tmp_path / "airflow"
    done = _airflow_dags_test("ingest_research_lists", "2032-01-01",
                              {"AIRFLOW_CONN_CRM_DB": crm.airflow_conn, "CRM_POLICY_FILE": str(broken),
                               **_alert_env(smtp_sink, webhook_sink)}, home)
    assert done.returncode != 0

    _, body = _one_email(smtp_sink)
    assert "Task:          ingest_drops" in body and "Reason:        PolicyError: policy file " in body
    assert f"Not retried:   the CRM retry policy: {POLICY_FILE_INVALID}" in body
    assert "Try:           1 of 4 allowed" in body
    # Airflow's record of the run: the task failed on its first try with three retries left unused,
    # and it was never up for a retry (a retried try leaves a row in task_instance_history).
    run_id = _run_id_named_in(body)
    assert _failed_task_instance(home, "ingest_research_lists", run_id, "ingest_drops") == (("failed", 1, 3), 0)
    assert "action=fail" in done.stdout + done.stderr  # the task log's "Retry policy decision" line
    assert len(webhook_sink.received) == 1


@pytest.mark.slow
@pytest.mark.parametrize("unreachable", ["postgresql", "sqlite"])
def test_a_database_that_stays_down_is_retried_and_only_the_last_failure_alerts(
        unreachable, data_dir, tmp_path, monkeypatch, smtp_sink, webhook_sink):
    """The retry path end to end, in this process so the delays can be cut to a
    second (the DAG's own are minutes): a server that refuses connections, or a
    SQLite file in a folder that is not there (mounted late, say)."""
    from airflow.dag_processing.dagbag import DagBag

    crm_db = (f"postgresql://postgres@127.0.0.1:{_free_port()}/crm" if unreachable == "postgresql"
              else json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "not-mounted" / "crm.db")}))
    for name, value in {"AIRFLOW_CONN_CRM_DB": crm_db, **_alert_env(smtp_sink, webhook_sink)}.items():
        monkeypatch.setenv(name, value)
    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("ingest_research_lists")
    for task in dag.tasks:
        assert task.retries == 3
        task.retry_delay, task.retry_exponential_backoff = timedelta(seconds=1), 0
    run = dag.test(logical_date=datetime(2032, 1, 1, tzinfo=UTC))

    assert run.state == "failed"
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert states["ensure_schema"] == ("failed", 4)  # three retries, then failed for good
    # One alert, after the last try: none while the task was only up for a retry.
    _, body = _one_email(smtp_sink)
    assert len(webhook_sink.received) == 1
    assert "Task:          ensure_schema" in body and "Try:           4 of 4 allowed" in body
    assert "Not retried:   all 3 retries were used" in body
    assert "Reason:        OperationalError: " in body
