"""Races between admission and erasure, run for real with two threads.

An ingest is paused inside admission after its suppression check, or an
erasure is paused inside its transaction, while the other runs. Whatever the
order, the erased person is not held at the end and their hash is on the list.
On SQLite, a request run waits for an ingest's write transaction instead of
failing with "database is locked".
"""

from __future__ import annotations

import importlib
import threading
import time

import pytest
from conftest import write_csv
from drops import KEYS, POLICY, RESEARCH_HEADER, TODAY, ingest, research_row

import crm_hygiene.erasure as erasure
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.run import RunInfo
from crm_hygiene.subject_requests import process_inbox

REQUEST_HEADER = ["request_id", "type", "email", "received_at", "details"]
PAUSE_LIMIT_S = 30


def _admission_module():
    for name in ("crm_hygiene.ingest.admission", "crm_hygiene.admission"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise AssertionError("admission module not found")


class Worker(threading.Thread):
    """A thread that keeps what its work raised, for the test to re-raise."""

    def __init__(self, name, work):
        super().__init__(name=name, daemon=True)
        self.work, self.error = work, None

    def run(self):
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            self.error = exc

    def finish(self):
        self.join(PAUSE_LIMIT_S * 2)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error


def pause_in(monkeypatch, module, attribute, thread_name, when=lambda *a: True):
    """Make `module.attribute` stop, in thread `thread_name` only, until resumed."""
    paused, resume = threading.Event(), threading.Event()
    real = getattr(module, attribute)

    def paused_call(*args, **kwargs):
        if threading.current_thread().name == thread_name and when(*args) and not resume.is_set():
            paused.set()
            resume.wait(PAUSE_LIMIT_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attribute, paused_call)
    return paused, resume


def wait_until_blocked(crm, other: threading.Thread) -> None:
    """Until `other` waits for the lock (PostgreSQL shows it), or has finished, or a while has passed."""
    deadline = time.monotonic() + 10
    while other.is_alive() and time.monotonic() < deadline:
        if crm.backend == "postgresql" and crm.scalar(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"):
            return
        if crm.backend == "sqlite" and time.monotonic() > deadline - 9:  # SQLite shows no waiters: give it 1 s
            return
        time.sleep(0.05)


def ingest_pat(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Race", "pat@acme.com", phone="020 7946 0555")], run_id="ingest")


def erase_pat(crm, data_dir, request_type="erasure"):
    inbox = data_dir / "inbox" / "requests"
    write_csv(inbox / "e.csv", REQUEST_HEADER, [["E-1", request_type, "pat@acme.com", "2026-11-20", ""]])
    run = RunInfo(dag_id="process_data_subject_requests", run_id="erase", today=TODAY)
    return process_inbox(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "requests",
                         data_dir / "exports" / "dsr").as_dict()


def assert_pat_erased_for_good(crm):
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email_match_key = 'pat@acme.com'") == 0
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE key_type = 'email' AND key_hash = :h "
                      "AND reason = 'erasure'", h=KEYS.current.digest("pat@acme.com")) == 1


def _second_waits_for_the_first(crm, first: Worker, paused, resume, second: Worker, why: str) -> None:
    """Start `first` until it stops at its pause, start `second`, check it is blocked
    behind `first`'s transaction, then let both finish."""
    first.start()
    assert paused.wait(PAUSE_LIMIT_S), why
    second.start()
    wait_until_blocked(crm, second)
    resume.set()
    first.finish()
    second.finish()


@pytest.mark.enforces("suppression", "data_subject_requests")
@pytest.mark.promise(1)
def test_an_erasure_committing_during_admission_is_not_undone(crm, data_dir, monkeypatch):
    paused, resume = pause_in(monkeypatch, _admission_module(), "read_sql", "ingest",
                              when=lambda name: name == "ingest/count_held_candidates.sql")
    # The ingest pauses after its suppression check, before its insert; then the erasure comes in.
    _second_waits_for_the_first(crm, Worker("ingest", lambda: ingest_pat(crm, data_dir)), paused, resume,
                                Worker("erasure", lambda: erase_pat(crm, data_dir)),
                                "the ingest never reached admission")
    assert_pat_erased_for_good(crm)


@pytest.mark.enforces("suppression", "data_subject_requests")
@pytest.mark.promise(1)
def test_an_admission_during_an_uncommitted_erasure_waits_for_it(crm, data_dir, monkeypatch):
    paused, resume = pause_in(monkeypatch, erasure, "write_audit", "erasure")
    # The erasure pauses with its hash written but not committed; then the ingest comes in.
    _second_waits_for_the_first(crm, Worker("erasure", lambda: erase_pat(crm, data_dir)), paused, resume,
                                Worker("ingest", lambda: ingest_pat(crm, data_dir)),
                                "the erasure never ran")
    assert_pat_erased_for_good(crm)


# SQLite's own locking (BEGIN IMMEDIATE and a busy wait); PostgreSQL is covered by the tests above.
@pytest.mark.parametrize("crm", ["sqlite"], indirect=True)
def test_sqlite_request_run_waits_for_an_ingests_write_instead_of_failing(crm, data_dir, monkeypatch):
    paused, resume = pause_in(monkeypatch, _admission_module(), "read_sql", "ingest",
                              when=lambda name: name == "ingest/count_held_candidates.sql")
    ingesting = Worker("ingest", lambda: ingest_pat(crm, data_dir))
    ingesting.start()
    assert paused.wait(PAUSE_LIMIT_S)
    results = {}
    requesting = Worker("requests", lambda: results.update(erase_pat(crm, data_dir, "objection")))
    requesting.start()
    time.sleep(1.0)
    assert requesting.is_alive(), "the request run should be waiting for the ingest's transaction"
    resume.set()
    ingesting.finish()
    requesting.finish()  # before BEGIN IMMEDIATE: sqlite3.OperationalError: database is locked

    assert results["outcomes"] == {"objection:suppressed": 1}
    assert crm.scalar("SELECT status FROM prospects WHERE email_match_key = 'pat@acme.com'") == "suppressed"
