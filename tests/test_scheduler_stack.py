"""The DAGs in a real Airflow: scheduler, dag-processor, triggerer and api-server as separate processes
(LocalExecutor, PostgreSQL metadata and CRM databases), driven only through the REST API; then the
UI in Debian's Chromium (Playwright), logged in through its login page.

1. A research drop goes into the inbox; `POST /api/v2/dags/ingest_research_lists/dagRuns` runs it
   in the scheduler; its `crm_prospects` Asset event starts every DAG scheduled on that Asset
   (`hygiene_report`); the CRM then holds the people, `audit_log` the ingest, `archive/` the file.
2. A file dropped into the watched research inbox starts the ingest by itself: the inbox watcher
   in the triggerer updates its Asset, the scheduler starts the DAG, the file is archived.
3. The UI lists every DAG, shows no import error, and draws ingest_research_lists' tasks in its graph.

One stack serves both tests (module-scoped fixture; under `pytest -n`, conftest's
ONE_WORKER_MODULES keeps this module on one worker). Timings are printed (pytest -s) and written to
`reports/scheduler_stack_timings.json` under the test's CRM_DATA_DIR, the UI's screenshots
(airflow_ui_dags.png, airflow_ui_graph.png) to the same `reports/`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from airflow_stack import USERNAME, AirflowStack
from conftest import CHROMIUM, REPO, fresh_pg_database, require_chromium
from sqlalchemy import text
from test_dags import CONTRACT_DAG_IDS, PROJECT_DAG_IDS

from crm_hygiene.db import make_engine
from crm_hygiene.sample_data import generate_inbox

pytestmark = [pytest.mark.slow, pytest.mark.scheduler]

PROSPECTS_ASSET_URI = "crm://prospects"
INGEST_DAG = "ingest_research_lists"
# Bounds per wait, generous for two cores shared with the rest of the suite (measured idle:
# services ready in ~15 s, the ingest run ~10 s, the report ~6 s).
STARTUP_TIMEOUT = 240
RUN_TIMEOUT = 240
UI_TIMEOUT_MS = 60_000  # per page action or expectation


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    metadata_url, drop_metadata = fresh_pg_database("scheduler_airflow_")
    crm_url, drop_crm = fresh_pg_database("scheduler_crm_")
    dag_files = list((REPO / "dags").glob("*.py"))
    stack = AirflowStack(tmp_path_factory.mktemp("scheduler_stack"), REPO, metadata_url,
                         crm_url.replace("postgresql+psycopg://", "postgresql://"))
    stack.crm_url = crm_url
    started = time.monotonic()
    try:
        stack.migrate()
        stack.start()
        stack.wait_until_ready(len(dag_files), STARTUP_TIMEOUT)
        stack.timings["start-up: four services healthy, every DAG parsed"] = (
            time.monotonic() - started - stack.timings["airflow db migrate"])
        yield stack
    finally:
        stack.stop()
        drop_metadata()
        drop_crm()
        stack.timings["whole module: database, start, tests, stop"] = time.monotonic() - started
        _report_timings(stack)


def _report_timings(stack: AirflowStack) -> None:
    reports = stack.data_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    rounded = {what: round(seconds, 1) for what, seconds in stack.timings.items()}
    (reports / "scheduler_stack_timings.json").write_text(json.dumps(rounded, indent=2), encoding="utf-8")
    print("\nscheduler stack timings (s): " + json.dumps(rounded, indent=2))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_run_triggered_through_the_rest_api_ingests_and_its_asset_starts_the_report(stack):
    now = datetime.now(UTC).replace(microsecond=0)
    generate_inbox(stack.data_dir, rows=200, seed=5, today=now.date())
    inbox = stack.data_dir / "inbox"
    [drop] = (inbox / "research").glob("*.csv")
    other_drops = sorted(p for kind in ("events", "enquiries") for p in (inbox / kind).glob("*.csv"))

    # Every DAG the ingest's Asset schedules, as the scheduler sees it; unpaused first, since an Asset
    # event queues runs only for DAGs not paused at that moment.
    [asset] = stack.request("GET", f"/api/v2/assets?uri_pattern={PROSPECTS_ASSET_URI}")["assets"]
    downstream = sorted(d["dag_id"] for d in asset["scheduled_dags"])
    assert "hygiene_report" in downstream
    for dag_id in downstream:
        assert stack.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})["is_paused"] is False

    run_id = f"stack_test_{now:%Y%m%dT%H%M%S}"
    # run_after a day back: unpausing the hourly DAG also queues its latest scheduled run, and the
    # scheduler starts queued runs in run_after order (max_active_runs=1), so this one goes first.
    triggered = stack.request("POST", f"/api/v2/dags/{INGEST_DAG}/dagRuns", {
        "dag_run_id": run_id, "logical_date": _iso(now), "run_after": _iso(now - timedelta(days=1))})
    assert triggered["state"] == "queued" and triggered["logical_date"] == _iso(now)
    assert stack.request("PATCH", f"/api/v2/dags/{INGEST_DAG}", {"is_paused": False})["is_paused"] is False

    started = time.monotonic()
    run = stack.wait_for_run(INGEST_DAG, run_id, RUN_TIMEOUT)
    stack.timings[f"{INGEST_DAG}: triggered to success seen"] = time.monotonic() - started
    stack.timings[f"{INGEST_DAG}: run start to end"] = _duration(run)
    assert run["state"] == "success", run
    ingest_ended = time.monotonic()

    # The Asset event this run's ingest_drops task emitted, and the run it made the scheduler create
    # for each DAG scheduled on the Asset (in its next loop, so this waits too).
    def downstream_runs():
        events = stack.request("GET", f"/api/v2/assets/events?source_dag_id={INGEST_DAG}&source_run_id={run_id}")
        created = {(r["dag_id"], r["run_id"]) for e in events["asset_events"] for r in e["created_dagruns"]}
        return created if {dag_id for dag_id, _ in created} == set(downstream) else None

    created = stack.wait_for(f"runs of {downstream} created by {run_id}'s Asset event", downstream_runs, RUN_TIMEOUT)
    for dag_id, downstream_run_id in sorted(created):
        report_run = stack.wait_for_run(dag_id, downstream_run_id, RUN_TIMEOUT)
        assert report_run["state"] == "success", report_run
        assert report_run["run_type"] == "asset_triggered"
        stack.timings[f"{dag_id}: ingest's success seen to its own"] = time.monotonic() - ingest_ended
        stack.timings[f"{dag_id}: run start to end"] = _duration(report_run)

    crm = make_engine(stack.crm_url)
    try:
        with crm.connect() as conn:
            held = conn.execute(text("SELECT COUNT(*) FROM prospects")).scalar()
            audit = conn.execute(text("SELECT action, reason, rows_affected FROM audit_log "
                                      "WHERE dag_id = :dag_id AND run_id = :run_id"),
                                 {"dag_id": INGEST_DAG, "run_id": run_id}).all()
            files = conn.execute(text("SELECT kind FROM ingested_files")).scalars().all()
    finally:
        crm.dispose()
    assert held > 0
    assert ("ingest_file", "research") in {(a, r) for a, r, _ in audit}, audit
    assert [n for a, _, n in audit if a == "ingest_file"][0] > 0
    assert files == ["research"]
    assert not drop.exists()
    [archived] = (stack.data_dir / "archive" / "research").glob("*.csv")
    assert archived.name.endswith(f"_{drop.name}")
    # Only the research DAG ran: the other kinds' drops wait in their inboxes.
    assert sorted(p for kind in ("events", "enquiries") for p in (inbox / kind).glob("*.csv")) == other_drops
    assert list((stack.data_dir / "reports").glob("hygiene_*.html")), "hygiene_report wrote no page"


def test_a_file_dropped_into_a_watched_inbox_starts_its_dag_through_the_triggerer(stack):
    """No REST call: the inbox watcher (crm_airflow.inbox_watch, running in the triggerer) sees the
    file, updates its Asset, and the scheduler starts the ingest DAG, which archives the file."""
    # Airflow attaches a watcher when the file of an unpaused DAG is parsed; the DAG was unpaused
    # after its last parse (min_file_process_interval here is 300 s), so ask for a parse now.
    file_token = stack.request("GET", f"/api/v2/dags/{INGEST_DAG}/details")["file_token"]
    stack.request("PUT", f"/api/v2/parseDagFile/{file_token}")

    def watched_asset():
        [asset] = stack.request("GET", "/api/v2/assets?uri_pattern=crm://inbox/research")["assets"]
        return asset if asset["watchers"] else None

    inbox_asset = stack.wait_for("the research inbox's watcher", watched_asset, RUN_TIMEOUT)
    dropped_at = datetime.now(UTC)
    generate_inbox(stack.data_dir / "second", rows=100, seed=6, today=dropped_at.date())
    [drop] = (stack.data_dir / "second" / "inbox" / "research").glob("*.csv")
    arrived = stack.data_dir / "inbox" / "research" / "arrived_by_itself.csv"
    drop.rename(arrived)  # one rename: the watcher never sees half a file
    started = time.monotonic()

    def arrival_run():
        runs = stack.request("GET", f"/api/v2/dags/{INGEST_DAG}/dagRuns?order_by=-run_after&limit=20")["dag_runs"]
        return next((r for r in runs if r["run_type"] == "asset_triggered"
                     and datetime.fromisoformat(r["run_after"].replace("Z", "+00:00")) >= dropped_at), None)

    run = stack.wait_for(f"an asset-triggered run of {INGEST_DAG} after the drop", arrival_run, RUN_TIMEOUT)
    run = stack.wait_for_run(INGEST_DAG, run["dag_run_id"], RUN_TIMEOUT)
    stack.timings[f"{INGEST_DAG}: file dropped to its watcher-started run's success seen"] = (
        time.monotonic() - started)
    assert run["state"] == "success", run
    assert not arrived.exists(), "the run should have archived the file"
    assert any(p.name.endswith("_arrived_by_itself.csv")
               for p in (stack.data_dir / "archive" / "research").glob("*.csv"))
    events = stack.request("GET", f"/api/v2/assets/events?asset_id={inbox_asset['id']}")["asset_events"]
    assert events and all(not e.get("source_dag_id") for e in events), events  # the watcher's, not a task's
    assert run["dag_run_id"] in {r["run_id"] for e in events for r in e["created_dagruns"]}


def _duration(run: dict) -> float:
    def parse(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return (parse(run["end_date"]) - parse(run["start_date"])).total_seconds()


@pytest.mark.browser
def test_the_ui_lists_every_dag_without_import_errors_and_draws_the_graph(stack):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)

    assert stack.request("GET", "/api/v2/importErrors")["total_entries"] == 0
    expected_dags = CONTRACT_DAG_IDS | PROJECT_DAG_IDS
    assert {p.stem for p in (REPO / "dags").glob("*.py")} <= expected_dags  # one DAG per file, named so
    tasks = {t["task_id"] for t in stack.request("GET", f"/api/v2/dags/{INGEST_DAG}/tasks")["tasks"]}
    reports = stack.data_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

            # Not logged in: the UI sends the browser to the simple auth manager's login page.
            page.goto(stack.base_url + "/", wait_until="load")
            page.wait_for_url("**/auth/login**")
            page.locator("input[name=username]").fill(USERNAME)
            page.locator("input[name=password]").fill(stack.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(stack.base_url + "/")
            stack.timings["browser: login page to the home page"] = time.monotonic() - started

            # The DAG list as a table: every DAG on one screen. The page asks /api/v2/importErrors and
            # shows a "Dag Import Error(s)" warning when there are any.
            with page.expect_response(lambda r: "/api/v2/importErrors" in r.url) as import_errors:
                page.goto(stack.base_url + "/dags", wait_until="load")
            assert import_errors.value.json()["total_entries"] == 0
            page.get_by_role("button", name="Show table view").click()
            for dag_id in sorted(expected_dags):
                expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible()
            expect(page.get_by_text(f"{len(expected_dags)} Dags", exact=True)).to_be_visible()
            expect(page.get_by_text("Import Error")).to_have_count(0)
            page.screenshot(path=str(reports / "airflow_ui_dags.png"))

            # The home page's health badges and its own import-error warning.
            with page.expect_response(lambda r: "/api/v2/importErrors" in r.url) as import_errors:
                page.goto(stack.base_url + "/", wait_until="load")
            assert import_errors.value.json()["total_entries"] == 0
            for component in ("MetaDatabase", "Scheduler", "Triggerer", "Dag Processor"):
                expect(page.get_by_text(component, exact=True).first).to_be_visible()
            expect(page.get_by_text("Import Error")).to_have_count(0)

            page.goto(f"{stack.base_url}/dags/{INGEST_DAG}", wait_until="load")
            page.get_by_role("button", name="Show Graph").click()
            nodes = page.locator(".react-flow__node")
            expect(nodes).to_have_count(len(tasks))
            drawn = {n.get_attribute("data-id"): n.bounding_box() for n in nodes.all()}
            page.screenshot(path=str(reports / "airflow_ui_graph.png"))
        finally:
            browser.close()
    stack.timings["browser: login, DAG list, home page, graph"] = time.monotonic() - started

    assert set(drawn) == tasks
    assert all(box and box["width"] > 0 and box["height"] > 0 for box in drawn.values()), drawn
    assert errors == []
