"""When the DAGs run: file arrival watched in the triggerer (nothing deleted, no
worker slot), timed runs as a safety net, suppression before ingest."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime

import pytest
from conftest import REPO, write_csv

from crm_airflow import inbox_watch
from crm_airflow.dag_defaults import SCHEDULES
from crm_airflow.inbox_watch import InboxArrivalTrigger, waiting_files

LOGICAL_DATE = datetime(2032, 1, 1, tzinfo=UTC)
ARRIVAL_KINDS = {
    "sync_suppression_lists": "suppression", "ingest_research_lists": "research", "ingest_event_lists": "events",
    "ingest_enquiries": "enquiries", "ingest_applicants": "applicants", "process_data_subject_requests": "requests",
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_runs_on_the_schedule_the_table_gives(dagbag):
    assert set(SCHEDULES) == set(dagbag.dag_ids)
    for dag_id, dag in dagbag.dags.items():
        assert dag.timetable is not None, dag_id
        expected = SCHEDULES[dag_id]
        if isinstance(expected, str):
            assert dag.timetable.expression == expected, dag_id


@pytest.mark.parametrize("dag_id", sorted(ARRIVAL_KINDS))
def test_inbox_dags_run_on_arrival_and_on_a_timetable(dagbag, dag_id):
    from airflow.sdk import AssetOrTimeSchedule

    timetable = dagbag.get_dag(dag_id).timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    (watcher,) = timetable.asset_condition.watchers
    assert watcher.trigger.serialize() == (inbox_watch.CLASSPATH, {
        "kind": ARRIVAL_KINDS[dag_id], "poke_interval": 30.0, "settle_seconds": 10.0})
    assert timetable.timetable.expression in ("0 * * * *", "0 6 * * *")


def test_the_watchers_survive_serialisation_for_the_scheduler(dagbag):
    """The DAG processor stores the trigger by class path and kwargs; the triggerer rebuilds it."""
    from airflow.serialization.serialized_objects import DagSerialization

    text = str(DagSerialization.to_dict(dagbag.get_dag("ingest_research_lists")))
    assert inbox_watch.CLASSPATH in text and "'kind': 'research'" in text


@pytest.mark.parametrize("dag_id", ["ingest_research_lists", "ingest_event_lists", "ingest_enquiries"])
def test_ingest_applies_waiting_suppression_lists_before_it_admits_anyone(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.get_task("apply_pending_suppression_lists").downstream_task_ids == {"ingest_drops"}
    assert dag.get_task("ensure_schema").downstream_task_ids == {"apply_pending_suppression_lists"}


def test_nightly_jobs_are_spread_and_partners_come_after_retention(dagbag):
    hours = {dag_id: int(SCHEDULES[dag_id].split()[1])
             for dag_id in ("review_minors", "retention_sweep", "partner_aggregate_reports")}
    assert len(set(hours.values())) == len(hours)
    assert hours["retention_sweep"] < hours["partner_aggregate_reports"]


# --- the watcher itself ---------------------------------------------------------------

def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_file_still_being_written_is_not_yet_waiting(tmp_path):
    fresh = write_csv(tmp_path / "a.csv", ["email"], [["x@example.com"]])
    old = write_csv(tmp_path / "b.csv", ["email"], [["y@example.com"]])
    _age(old, 60)
    (tmp_path / "notes.txt").write_text("not a drop")
    (tmp_path / "link.csv").symlink_to(old)
    assert {name for name, _, _ in waiting_files(tmp_path, 10, time.time())} == {"b.csv"}
    assert fresh.exists()


class _Watching:
    """The trigger running in the background as the triggerer runs it; counts its looks."""

    def __init__(self, trigger, monkeypatch):
        self.events, self.looks = [], 0
        self.trigger = trigger
        real = inbox_watch.waiting_files

        def counted(*args):
            self.looks += 1
            return real(*args)

        monkeypatch.setattr(inbox_watch, "waiting_files", counted)

    async def _collect(self):
        async for event in self.trigger.run():
            self.events.append(event.payload)

    async def until(self, condition, what: str):
        for _ in range(2000):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the watcher never {what}")

    async def for_looks(self, more: int):
        target = self.looks + more
        await self.until(lambda: self.looks >= target, f"looked {more} more times")


def test_the_watcher_fires_once_per_new_file_and_never_touches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    inbox = tmp_path / "inbox" / "research"
    watching = _Watching(InboxArrivalTrigger("research", poke_interval=0.01, settle_seconds=5), monkeypatch)

    async def scenario():
        task = asyncio.create_task(watching._collect())
        try:
            await watching.for_looks(3)
            assert watching.events == []  # empty (and missing) inbox: nothing fires
            first = write_csv(inbox / "list1.csv", ["email"], [["ann@example.com"]])
            await watching.for_looks(3)
            assert watching.events == []  # not settled yet
            _age(first, 60)
            await watching.until(lambda: len(watching.events) == 1, "fired for a settled file")
            await watching.for_looks(5)
            assert len(watching.events) == 1  # the same file waiting: no second run
            second = write_csv(inbox / "list2.csv", ["email"], [["bob@example.com"]])
            _age(second, 60)
            await watching.until(lambda: len(watching.events) == 2, "fired for a second file")
            first.unlink()  # processed: the drop layer archived it
            await watching.for_looks(5)
            assert len(watching.events) == 2  # a file leaving fires nothing
        finally:
            task.cancel()

    asyncio.run(scenario())
    assert watching.events == [{"kind": "research", "files_waiting": 1}, {"kind": "research", "files_waiting": 2}]
    assert (inbox / "list2.csv").read_text().endswith("bob@example.com\n")  # never moved, read or deleted


# --- suppression before ingest, end to end ----------------------------------------------

@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_a_person_on_a_list_dropped_with_the_prospects_is_never_marketable(dagbag, crm, data_dir, monkeypatch):
    write_csv(data_dir / "inbox" / "research" / "r.csv",
              ["first_name", "last_name", "email", "phone", "company", "job_title", "country", "source",
               "source_url", "collected_at"],
              [["Ann", "Lee", "ann@acme.com", "", "Acme", "CTO", "UK", "linkedin", "", "2031-06-01"],
               ["Bob", "Ray", "bob@acme.com", "", "Acme", "CFO", "UK", "linkedin", "", "2031-06-01"]])
    write_csv(data_dir / "inbox" / "suppression" / "s.csv", ["reason", "email"], [["objection", "Ann@Acme.com"]])
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    dag = dagbag.get_dag("ingest_research_lists")
    for task in dag.tasks:
        task.retries = 0
    assert dag.test(logical_date=LOGICAL_DATE).state == "success"
    # The list was applied first, so Ann was refused at admission, not admitted and suppressed later.
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE reason = 'objection'") >= 1
    assert crm.rows("SELECT first_name FROM marketing_prospects") == [("Bob",)]
    assert not list((data_dir / "inbox" / "suppression").glob("*.csv"))
    actions = [a for (a,) in crm.rows("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions.index("suppression_list_applied") < actions.index("ingest_file")
