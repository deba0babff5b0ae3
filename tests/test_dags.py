"""DAG integrity over the whole DagBag, and each ingest DAG run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import REPO, write_csv

from crm_hygiene.sample_data import generate_inbox

# The contract's DAG ids; every DAG in dags/ must be one of them.
CONTRACT_DAG_IDS = {
    "ingest_research_lists", "ingest_event_lists", "ingest_enquiries", "sync_suppression_lists",
    "process_data_subject_requests", "ingest_applicants", "retention_sweep", "partner_aggregate_reports",
}
# DAGs an issue asked for beyond the contract's list (issue 4: a review DAG; issue 13: the data team's report).
PROJECT_DAG_IDS = {"review_minors", "hygiene_report"}
INGEST_DAGS = {"ingest_research_lists": "research", "ingest_event_lists": "events", "ingest_enquiries": "enquiries"}
BUILT_DAGS = sorted([*INGEST_DAGS, "sync_suppression_lists", "process_data_subject_requests", "review_minors",
                     "ingest_applicants", "retention_sweep", "partner_aggregate_reports", "hygiene_report"])
# DAGs that change what is held about prospects announce it; applicants are not prospects; the reports only read.
NOT_ABOUT_PROSPECTS = {"ingest_applicants", "partner_aggregate_reports", "hygiene_report"}
HEAVY_MODULES = {"pandas", "numpy", "great_expectations", "sqlalchemy", "phonenumbers", "email_validator",
                 "pycountry", "faker", "psycopg"}
LOGICAL_DATE = datetime(2032, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    # include_examples=False raises TypeError on Airflow 3.3 (apache/airflow#70283);
    # conftest sets AIRFLOW__CORE__LOAD_EXAMPLES=False instead.
    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_file_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(list((REPO / "dags").glob("*.py")))


def test_dag_ids_are_the_contracts(dagbag):
    assert set(dagbag.dag_ids) <= CONTRACT_DAG_IDS | PROJECT_DAG_IDS
    assert set(BUILT_DAGS) <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", BUILT_DAGS)
def test_dag_conventions(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.tags and "crm" in dag.tags
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.doc_md and dag_id in dag.doc_md
    for task in dag.tasks:
        assert task.retries >= 1 and task.retry_delay.total_seconds() > 0
    outlets = [o for t in dag.tasks for o in t.outlets]
    assert [o.name for o in outlets] == ([] if dag_id in NOT_ABOUT_PROSPECTS else ["crm_prospects"])


def test_dag_files_import_nothing_heavy_at_top_level():
    """Parsing must stay cheap: heavy libraries are imported inside tasks only."""
    probe = f"""
import importlib.util, json, sys
sys.path[:0] = [{str(REPO / 'plugins')!r}, {str(REPO)!r}]
import airflow.sdk  # the scheduler has this loaded anyway
before = set(sys.modules)
from pathlib import Path
for path in sorted(Path({str(REPO / 'dags')!r}).glob('*.py')):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted({{m.split('.')[0] for m in set(sys.modules) - before}})))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & HEAVY_MODULES, f"DAG files pull in {sorted(loaded & HEAVY_MODULES)} at parse time"


def _run(dag, monkeypatch, crm):
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    for task in dag.tasks:
        task.retries = 0  # a failure should show at once, not after retry delays
    return dag.test(logical_date=LOGICAL_DATE)


def _drop_research(data_dir, rows: list[list[str]]) -> None:
    write_csv(data_dir / "inbox" / "research" / "r.csv",
              ["first_name", "last_name", "email", "phone", "company", "job_title", "country", "source",
               "source_url", "collected_at"], rows)


def _crm_state(crm) -> tuple:
    return (
        crm.rows("SELECT prospect_id, match_key, job_title, lawful_basis, last_contact_at FROM prospects "
                 "ORDER BY prospect_id"),
        crm.scalar("SELECT COUNT(*) FROM prospect_sources"),
        crm.scalar("SELECT COUNT(*) FROM quarantine"),
        crm.scalar("SELECT COUNT(*) FROM audit_log"),
    )


@pytest.mark.parametrize("dag_id", sorted(INGEST_DAGS))
def test_ingest_dag_runs_end_to_end_and_reruns_change_nothing(dagbag, crm, data_dir, monkeypatch, dag_id):
    kind = INGEST_DAGS[dag_id]
    generate_inbox(data_dir, rows=400, seed=11, today=date(2032, 1, 1))
    dag = dagbag.get_dag(dag_id)

    run = _run(dag, monkeypatch, crm)
    assert run.state == "success"
    held = crm.scalar("SELECT COUNT(*) FROM prospects")
    assert held > 0
    assert crm.scalar("SELECT COUNT(*) FROM ingested_files WHERE kind = :k", k=kind) == 1
    assert not list((data_dir / "inbox" / kind).glob("*.csv"))
    assert len(list((data_dir / "archive" / kind).glob("*.csv"))) == 1
    # "Today" is the run's logical date: research collected in 2031 is due notice in 2031/2032.
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE last_contact_at > :d", d=LOGICAL_DATE.replace(tzinfo=None)) == 0

    state = _crm_state(crm)
    assert _run(dag, monkeypatch, crm).state == "success"
    assert _crm_state(crm) == state


@pytest.mark.slow
def test_airflow_dags_test_runs_an_ingest_end_to_end_as_the_contract_says(crm, data_dir):
    """The contract's command, as a person types it. `make demo` calls each DAG's
    dag.test() in one process (what this command calls once Airflow has started),
    and the tests above do too, so this is the check that the command itself still
    works on a successful run; tests/test_alerts.py runs it on failing ones."""
    generate_inbox(data_dir, rows=200, seed=11, today=date(2032, 1, 1))
    env = {**os.environ, "AIRFLOW_CONN_CRM_DB": crm.airflow_conn,
           "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    airflow = str(Path(sys.executable).with_name("airflow"))
    # The timeout only keeps a broken retry policy from hanging the suite in retry delays.
    done = subprocess.run([airflow, "dags", "test", "ingest_research_lists", "2032-01-01"], env=env,
                          capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "DagRun Finished: dag_id=ingest_research_lists" in output and "state=success" in output
    assert crm.scalar("SELECT COUNT(*) FROM ingested_files WHERE kind = 'research'") == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects") > 0
    assert not list((data_dir / "inbox" / "research").glob("*.csv"))
    assert len(list((data_dir / "archive" / "research").glob("*.csv"))) == 1


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_rejected_file_fails_the_run_visibly(dagbag, crm, data_dir, monkeypatch):
    inbox = data_dir / "inbox" / "events"
    write_csv(inbox / "broken.csv", ["event_name", "first_name"], [["Conf", "Ann"]])
    run = _run(dagbag.get_dag("ingest_event_lists"), monkeypatch, crm)
    assert run.state == "failed"
    assert (inbox / "rejected" / "broken.csv").exists()
    assert "required column(s) missing: event_date" in (inbox / "rejected" / "broken.csv.reason.txt").read_text()
    assert crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'file_rejected'") == 1


@pytest.mark.enforces("suppression")
def test_suppression_dag_applies_a_list_and_reruns_change_nothing(dagbag, crm, data_dir, monkeypatch):
    _drop_research(data_dir, [
        ["Ann", "Lee", "ann@acme.com", "", "Acme", "CTO", "UK", "linkedin", "", "2031-06-01"]])
    assert _run(dagbag.get_dag("ingest_research_lists"), monkeypatch, crm).state == "success"
    write_csv(data_dir / "inbox" / "suppression" / "s.csv", ["reason", "email"], [["unsubscribe", "ANN+x@acme.com"]])
    dag = dagbag.get_dag("sync_suppression_lists")
    assert _run(dag, monkeypatch, crm).state == "success"
    assert crm.scalar("SELECT status FROM prospects") == "suppressed"
    assert crm.scalar("SELECT COUNT(*) FROM marketing_prospects") == 0
    state = (crm.rows("SELECT * FROM suppression_list"), _crm_state(crm))
    assert _run(dag, monkeypatch, crm).state == "success"
    assert (crm.rows("SELECT * FROM suppression_list"), _crm_state(crm)) == state


@pytest.mark.enforces("minors")
def test_review_dag_applies_decisions_sweeps_and_asks_nobody_unless_told(dagbag, crm, data_dir, monkeypatch):
    _drop_research(data_dir, [
        ["Pip", "Young", "pip@acme.com", "", "Acme", "Year 10 pupil", "UK", "linkedin", "", "2031-06-01"],
        ["Kim", "Grown", "kim@acme.com", "", "Acme", "Pupil", "UK", "linkedin", "", "2031-06-01"]])
    assert _run(dagbag.get_dag("ingest_research_lists"), monkeypatch, crm).state == "success"
    ids = dict(crm.rows("SELECT email, prospect_id FROM prospects WHERE status = 'minor_review'"))
    assert set(ids) == {"pip@acme.com", "kim@acme.com"}
    write_csv(data_dir / "inbox" / "reviews" / "d.csv", ["prospect_id", "decision"],
              [[str(ids["pip@acme.com"]), "minor"], [str(ids["kim@acme.com"]), "adult"]])
    dag = dagbag.get_dag("review_minors")
    run = _run(dag, monkeypatch, crm)
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    # Without ask_in_airflow the human-in-the-loop step has nothing to ask.
    assert states["review_minors"] == "success" and states["decide"] == "skipped"
    assert crm.rows("SELECT email, status FROM prospects") == [("kim@acme.com", "active")]
    state = _crm_state(crm)
    assert _run(dag, monkeypatch, crm).state == "success"
    assert _crm_state(crm) == state


@pytest.mark.enforces("data_subject_requests")
def test_request_dag_answers_and_fails_loudly_a_week_before_an_open_request_falls_due(
        dagbag, crm, data_dir, monkeypatch):
    dag = dagbag.get_dag("process_data_subject_requests")
    header = ["request_id", "type", "email", "received_at", "details"]
    write_csv(data_dir / "inbox" / "requests" / "a.csv", header,
              [["REQ-1", "access", "nobody@acme.com", "2031-12-30", ""]])
    assert _run(dag, monkeypatch, crm).state == "success"
    assert (data_dir / "exports" / "dsr" / "REQ-1.json").exists()
    # Received 2031-12-05, due 2032-01-05: on the run date 2032-01-01 it is due within the week.
    write_csv(data_dir / "inbox" / "requests" / "b.csv", header,
              [["REQ-2", "rectification", "nobody@acme.com", "2031-12-05", '{"salary": "1"}']])
    ingest_row = [["Nobody", "Here", "nobody@acme.com", "", "Acme", "CTO", "UK", "linkedin", "", "2031-06-01"]]
    write_csv(data_dir / "inbox" / "research" / "r.csv",
              ["first_name", "last_name", "email", "phone", "company", "job_title", "country", "source",
               "source_url", "collected_at"], ingest_row)
    assert _run(dagbag.get_dag("ingest_research_lists"), monkeypatch, crm).state == "success"
    assert _run(dag, monkeypatch, crm).state == "failed"
    assert crm.scalar("SELECT status FROM data_subject_requests WHERE request_id = 'REQ-2'") == "open"


@pytest.mark.enforces("retention")
@pytest.mark.promise(4)
def test_retention_dag_stops_at_the_breaker_and_acts_with_force_and_dry_run_changes_nothing(
        dagbag, crm, data_dir, monkeypatch):
    _drop_research(data_dir, [
        ["Old", "Contact", "old@acme.com", "", "Acme", "Head of Sales", "UK", "linkedin", "", "2025-06-01"],
        ["New", "Contact", "new@acme.com", "", "Acme", "CTO", "UK", "linkedin", "", "2031-06-01"]])
    assert _run(dagbag.get_dag("ingest_research_lists"), monkeypatch, crm).state == "success"
    dag = dagbag.get_dag("retention_sweep")
    state = _crm_state(crm)
    # 1 of 2 prospects is past six years: 50% is over the 20% breaker. (Every
    # run gives both params: dag.test keeps the last run's conf on the DAG.)
    for task in dag.tasks:
        task.retries = 0
    assert dag.test(logical_date=LOGICAL_DATE, run_conf={"dry_run": False, "force": False}).state == "failed"
    assert _crm_state(crm) == state
    dry = dag.test(logical_date=LOGICAL_DATE, run_conf={"dry_run": True, "force": True})
    assert dry.state == "success" and _crm_state(crm) == state
    forced = dag.test(logical_date=LOGICAL_DATE.replace(day=2), run_conf={"dry_run": False, "force": True})
    assert forced.state == "success"
    assert crm.rows("SELECT email, status, job_title FROM prospects ORDER BY status") == [
        ("new@acme.com", "active", "CTO"), (None, "anonymised", "director")]
    report = json.loads((data_dir / "reports" / "retention_2032-01-02.json").read_text())
    assert report["runs"][-1]["classes"]["prospects"]["acted"] == 1
    assert [r["status"] for r in json.loads((data_dir / "reports" / "retention_2032-01-01.json").read_text())[
        "runs"]] == ["blocked", "planned"]


def test_partner_reports_dag_releases_due_reports_and_every_report_on_request(dagbag, crm, data_dir, monkeypatch):
    generate_inbox(data_dir, rows=400, seed=11, today=date(2032, 1, 1))
    assert _run(dagbag.get_dag("ingest_research_lists"), monkeypatch, crm).state == "success"
    dag = dagbag.get_dag("partner_aggregate_reports")
    for task in dag.tasks:
        task.retries = 0
    partners = data_dir / "exports" / "partners"
    # 2032-01-02 is no report's release day: nothing leaves.
    not_due = dag.test(logical_date=LOGICAL_DATE.replace(day=2), run_conf={"every_report": False})
    assert not_due.state == "success" and not partners.exists()
    # The 1st of the month releases the monthly reports, each with its manifest.
    assert dag.test(logical_date=LOGICAL_DATE, run_conf={"every_report": False}).state == "success"
    released = sorted(p.relative_to(partners).as_posix() for p in partners.rglob("*.csv"))
    assert released == ["contoso_research/prospects_by_seniority_2032-01-01.csv",
                        "northwind_events/prospects_by_country_and_source_2032-01-01.csv"]
    for csv_file in partners.rglob("*.csv"):
        manifest = json.loads((csv_file.parent / "manifest.json").read_text())
        assert manifest["file"] == csv_file.name and manifest["min_cell_size"] == 10
    before = {p: p.read_bytes() for p in partners.rglob("*.csv")}
    again = dag.test(logical_date=LOGICAL_DATE.replace(day=3), run_conf={"every_report": True})
    assert again.state == "success"
    assert {p: p.read_bytes() for p in partners.rglob("*.csv") if p in before} == before
    assert len(list(partners.rglob("*_2032-01-03.csv"))) == 2


def test_no_plugin_module_shadows_an_installed_module():
    """Airflow's plugin loading imported plugins/crm_hygiene/requests.py as the
    top-level 'requests' despite .airflowignore, breaking every task: keep
    module names under plugins/ distinct from anything installed."""
    import importlib.util

    clashes = []
    for path in (REPO / "plugins").rglob("*.py"):
        if path.stem == "__init__":
            continue
        spec = importlib.util.find_spec(path.stem) if path.stem.isidentifier() else None
        if spec is not None and spec.origin and not spec.origin.startswith(str(REPO / "plugins")):
            clashes.append(f"{path.relative_to(REPO)} shadows {spec.origin}")
    assert not clashes


@pytest.mark.enforces("minors")
def test_answers_given_in_airflow_are_applied_and_questions_show_ids_and_rule_names_only(crm, data_dir, monkeypatch):
    from crm_airflow import tasks

    _drop_research(data_dir, [
        ["Pip", "Young", "pip@acme.com", "", "Acme", "Year 10 pupil", "UK", "linkedin", "", "2031-06-01"],
        ["Kim", "Grown", "kim@acme.com", "", "Acme", "Pupil", "UK", "linkedin", "", "2031-06-01"],
        ["Lou", "Later", "lou@acme.com", "", "Acme", "GCSE student", "UK", "linkedin", "", "2031-06-01"]])
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_inbox
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    ingest_inbox(crm.engine, RESEARCH, load_policy(), tasks.hash_keys(), RunInfo("t", "t", date(2031, 7, 1)),
                 data_dir / "inbox" / "research", data_dir / "archive" / "research")
    # Outside a task there is no Airflow context: the run is given as a task would see it.
    monkeypatch.setattr(tasks, "run_info", lambda: RunInfo("review_minors", "manual", date(2031, 7, 2)))
    assert tasks.open_minor_reviews(ask="False", max_items="20") == []
    reviews = tasks.open_minor_reviews(ask="True", max_items="20")
    assert len(reviews) == 3
    questions = [tasks.hitl_question(r) for r in reviews]
    shown = json.dumps(questions)
    assert "pupil_job_title" in shown and not any(w in shown for w in ("Pip", "pip@", "Year 10", "Acme"))
    ids = dict(crm.rows("SELECT email, prospect_id FROM prospects"))
    by_id = {r["prospect_id"]: r for r in reviews}
    answers = {ids["pip@acme.com"]: ["minor"], ids["kim@acme.com"]: ["adult"], ids["lou@acme.com"]: ["skip"]}
    result = tasks.apply_reviewer_answers(
        [by_id[i] for i in answers], [{"chosen_options": c, "params_input": {}} for c in answers.values()])
    assert result["decided"] == 2 and result["minor"] == 1 and result["adult"] == 1
    assert crm.rows("SELECT email, status FROM prospects ORDER BY email") == [
        ("kim@acme.com", "active"), ("lou@acme.com", "minor_review")]


APPLICANT_HEADER = ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status", "decided_at",
                    "retain_for_future_roles", "dispute"]


def test_applicants_dag_loads_apart_from_prospects_and_reruns_change_nothing(dagbag, crm, data_dir, monkeypatch):
    inbox = data_dir / "inbox" / "applicants"
    write_csv(inbox / "a.csv", APPLICANT_HEADER, [
        ["APP-1", "Ann", "Lee", "ann@acme.com", "", "2031-10-01", "pending", "", "", ""],
        ["APP-2", "Bo", "Ng", "bo@acme.com", "", "2031-10-01", "rejected", "2031-11-01", "yes", "no"],
        ["APP-3", "Cy", "Ox", "not-an-address", "", "2031-10-01", "hired", "2031-11-01", "", ""],
    ])
    dag = dagbag.get_dag("ingest_applicants")
    assert _run(dag, monkeypatch, crm).state == "success"
    assert crm.rows("SELECT applicant_id, status FROM applicants ORDER BY applicant_id") == [
        ("APP-1", "pending"), ("APP-2", "rejected")]
    assert crm.scalar("SELECT reasons FROM quarantine") == "email_invalid"
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0
    assert len(list((data_dir / "archive" / "applicants").glob("*.csv"))) == 1
    state = (crm.rows("SELECT * FROM applicants ORDER BY applicant_id"), _crm_state(crm))
    assert _run(dag, monkeypatch, crm).state == "success"
    assert (crm.rows("SELECT * FROM applicants ORDER BY applicant_id"), _crm_state(crm)) == state

    write_csv(inbox / "broken.csv", ["applicant_id", "email"], [["APP-9", "x@acme.com"]])
    assert _run(dag, monkeypatch, crm).state == "failed"
    assert (inbox / "rejected" / "broken.csv.reason.txt").exists()
