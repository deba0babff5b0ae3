"""The hygiene report's numbers against the database (SQLite and PostgreSQL), and the page's promises
that need no browser: one file, counts and codes only, nothing fetched from anywhere.
(tests/test_hygiene_report_browser.py opens it in Chromium.)"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from drops import POLICY, RESEARCH_HEADER, ingest, research_row
from hygiene_crm import EXPECTED, PEOPLE, build
from sqlalchemy import DateTime, bindparam, text

from crm_hygiene.hygiene_report import collect, render_html, write_hygiene_report
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy

# The privacy-policy clause these tests prove (make compliance-report).
pytestmark = [pytest.mark.enforces("hygiene_report")]


@pytest.fixture
def built(crm, data_dir):
    today = build(crm, data_dir)
    return crm, data_dir, today


def _last_day_only(chart) -> dict[str, int]:
    """Everything the build did happened today: each series is zero before the last day."""
    for s in chart.series:
        if not s.snapshot:
            assert not any(s.values[:-1]), (chart.key, s.label)
    return {s.label: s.values[-1] for s in chart.series}


def test_the_numbers_are_the_databases(built):
    crm, _data, today = built
    report = collect(crm.engine, POLICY, today)
    t = report.totals
    assert len(report.days) == POLICY.hygiene_report.days and report.days[-1] == today

    # ingested_files: what came in, per kind; new and merged; files
    per_kind = dict(crm.rows("SELECT kind, SUM(rows_read) FROM ingested_files GROUP BY kind"))
    came_in = _last_day_only(report.chart("came_in"))
    assert came_in == {k: int(v) for k, v in per_kind.items() if v}
    assert t["rows_read"] == crm.scalar("SELECT SUM(rows_read) FROM ingested_files")
    assert t["rows_quarantined"] == crm.scalar("SELECT SUM(rows_quarantined) FROM ingested_files")
    created, admitted = crm.rows("SELECT SUM(prospects_created), SUM(rows_admitted) FROM ingested_files")[0]
    assert _last_day_only(report.chart("admitted")) == {
        "new prospects": created, "merged into someone held": admitted - created}
    assert admitted - created >= 1  # Ann came again from an event
    files = _last_day_only(report.chart("files"))
    assert files["loaded"] == crm.scalar("SELECT COUNT(*) FROM ingested_files")
    assert files["rejected"] == EXPECTED["files_rejected"] == crm.scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'file_rejected'")

    # quarantine: every code of every row still held, counted once per row
    codes = Counter(c for (reasons,) in crm.rows("SELECT reasons FROM quarantine") for c in reasons.split(";"))
    assert dict(report.quarantine_codes) == dict(codes) == EXPECTED["quarantined_codes"]
    assert _last_day_only(report.chart("quarantined")) == dict(codes)

    # audit_log: admission gates (details JSON), minors, review, retention, erasures
    gates = Counter()
    for (details,) in crm.rows("SELECT details FROM audit_log WHERE action = 'ingest_file'"):
        gates.update({k: v for k, v in json.loads(details).items() if k.startswith("blocked_")})
    assert _last_day_only(report.chart("blocked")) == {
        "suppressed": gates["blocked_suppressed"], "certain minor": gates["blocked_minor_certain"],
        "held out of use (restricted or in review)": gates["blocked_held_out_of_use"]}
    assert t["blocked_suppressed"] == EXPECTED["blocked_suppressed"]
    minors = _last_day_only(report.chart("minors"))
    assert minors["refused at ingest"] == crm.scalar(
        "SELECT SUM(rows_affected) FROM audit_log WHERE action = 'remove_minor'") == 1
    assert minors["a reviewer decided: minor"] == 1
    assert t["minors_removed"] == EXPECTED["minors_removed"]
    review = _last_day_only(report.chart("review"))
    assert review == {"sent to review": EXPECTED["sent_to_review"], "cleared as adult": EXPECTED["cleared_adult"]}
    assert review["sent to review"] == crm.scalar("SELECT COUNT(*) FROM minor_reviews")
    retention = _last_day_only(report.chart("retention"))
    assert retention["anonymised (retention)"] == EXPECTED["anonymised"] == crm.scalar(
        "SELECT COUNT(*) FROM prospects WHERE status = 'anonymised'")
    assert retention["erased (request or list)"] == EXPECTED["erased"]
    assert retention["purged (retention)"] == (crm.scalar(
        "SELECT SUM(rows_affected) FROM audit_log WHERE action = 'retention_delete'") or 0)

    # data_subject_requests: received today-2, -27, -40; at today's end two open, one overdue, one due soon
    requests = report.chart("requests")
    received = requests.series_named("received").values
    assert sum(received) == EXPECTED["requests_received"] == crm.scalar("SELECT COUNT(*) FROM data_subject_requests")
    assert [report.days[i] for i, v in enumerate(received) if v] == [
        today - timedelta(days=40), today - timedelta(days=27), today - timedelta(days=2)]
    assert (t["requests_open"], t["requests_overdue"], t["requests_due_soon"]) == (
        EXPECTED["requests_open"], EXPECTED["requests_overdue"], EXPECTED["requests_due_soon"])
    assert t["requests_open"] == crm.scalar("SELECT COUNT(*) FROM data_subject_requests WHERE status = 'open'")
    open_ = requests.series_named("open").values
    assert open_[report.days.index(today - timedelta(days=40))] == 1  # REC-1 alone
    assert open_[report.days.index(today - timedelta(days=2))] == 4  # all four until today's run
    overdue = requests.series_named("overdue").values
    due_rec1 = POLICY.data_subject_requests.response_period.after(today - timedelta(days=40))
    assert overdue[report.days.index(due_rec1)] == 0 and overdue[report.days.index(due_rec1) + 1] == 1

    assert t["prospects_held"] == crm.scalar("SELECT COUNT(*) FROM prospects")
    assert t["marketable"] == crm.scalar("SELECT COUNT(*) FROM marketing_prospects")
    # the latest files: every processed drop and the rejected one, newest first
    outcomes = Counter(f.outcome for f in report.latest_files)
    assert outcomes == {"loaded": files["loaded"], "rejected": 1}
    rejected = next(f for f in report.latest_files if f.outcome == "rejected")
    assert "required column(s) missing" in rejected.reason and re.fullmatch(r"[0-9a-f]{12}", rejected.ref)
    assert [f.at for f in report.latest_files] == sorted((f.at for f in report.latest_files), reverse=True)


def test_days_are_bucketed_and_the_window_ends_on_the_logical_date(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "a.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.com")], "a")
    ingest(crm, data_dir, RESEARCH, "b.csv", RESEARCH_HEADER, [research_row("Bo", "Ng", "bo@acme.com"),
                                                               research_row("Bad", "Mail", "bad@")], "b")
    ingest(crm, data_dir, RESEARCH, "c.csv", RESEARCH_HEADER, [research_row("Cy", "Ox", "cy@acme.com")] * 3, "c")
    today = datetime(2031, 6, 30).date()
    n = POLICY.hygiene_report.days
    moments = {"a.csv": datetime(2031, 6, 30, 23, 59, 59), "b.csv": datetime(2031, 6, 20, 0, 0, 0),
               "c.csv": datetime(2031, 6, 30) - timedelta(days=n)}  # one day before the window
    with crm.engine.begin() as conn:
        for name, moment in moments.items():
            conn.execute(text("UPDATE ingested_files SET processed_at = :t WHERE file_name = :n").bindparams(
                bindparam("t", type_=DateTime)), {"t": moment, "n": name})
        conn.execute(text("UPDATE quarantine SET quarantined_at = :t").bindparams(bindparam("t", type_=DateTime)),
                     {"t": moments["b.csv"]})
    report = collect(crm.engine, POLICY, today)
    research = report.chart("came_in").series_named("research").values
    assert research[-1] == 1 and research[report.days.index(datetime(2031, 6, 20).date())] == 2
    assert sum(research) == 3  # c.csv is outside the window
    assert report.chart("quarantined").series_named("email_invalid").values[-11] == 1
    # A report dated before anything happened shows nothing of it.
    assert collect(crm.engine, POLICY, moments["c.csv"].date() - timedelta(days=1)).totals["rows_read"] == 0


def test_the_page_is_one_offline_file_of_counts_and_codes(built):
    crm, data_dir, today = built
    path, report = write_hygiene_report(crm.engine, POLICY, today, data_dir)
    assert path == data_dir / "reports" / f"hygiene_{today.isoformat()}.html"
    assert not list(path.parent.glob(".*.tmp"))  # written atomically
    page = path.read_text(encoding="utf-8")
    lowered = page.lower()
    leaks = [p for p in PEOPLE if p.lower() in lowered]
    assert not leaks, f"personal data in the report: {leaks}"
    # Nothing to fetch: no script, no URL; the policy refuses any fetch anyway.
    assert "<script" not in lowered and "http:" not in lowered and "https:" not in lowered and "//" not in page
    assert "default-src 'none'" in page
    assert page.count("<svg") == len(report.charts) == 9
    assert len(re.findall(r'class="mark (?:bar|point)"', page)) == sum(c.marks for c in report.charts)
    for code, n in report.quarantine_codes:
        assert f"<td><code>{code}</code></td><td>{n:,}</td>" in page
    assert f">{report.totals['rows_read']:,}<" in page
    assert "1 request overdue" in page


def test_a_report_of_an_empty_crm_says_so(crm, data_dir):
    path, report = write_hygiene_report(crm.engine, POLICY, datetime.now(UTC).date(), data_dir)
    page = path.read_text(encoding="utf-8")
    assert all(c.marks == 0 for c in report.charts)
    assert page.count("Nothing recorded in these") == 9 and "No drop has been processed yet" in page


def test_cli_writes_the_report_of_the_day_asked(built, monkeypatch, capsys):
    from crm_hygiene.cli import main

    crm, data_dir, today = built
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    main(["hygiene-report", "--today", today.isoformat()])
    written = capsys.readouterr().out.strip()
    assert written == str(data_dir / "reports" / f"hygiene_{today.isoformat()}.html")
    assert render_html(collect(crm.engine, POLICY, today)).split("<footer>")[1] == \
        (data_dir / "reports" / f"hygiene_{today.isoformat()}.html").read_text().split("<footer>")[1]


@pytest.mark.slow
def test_the_dag_writes_the_report_of_its_logical_date(crm, data_dir, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from conftest import REPO

    build(crm, data_dir)
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("hygiene_report")
    for task in dag.tasks:
        task.retries = 0
    assert dag.test(logical_date=datetime(2032, 1, 1, tzinfo=UTC)).state == "success"
    page = (data_dir / "reports" / "hygiene_2032-01-01.html").read_text()
    assert "1 January 2032" in page


def test_the_policy_gives_the_days_and_a_bad_value_names_its_key(tmp_path):
    assert load_policy(DEFAULT_POLICY_FILE).hygiene_report.days == 90
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    raw["hygiene_report"]["days"] = 0
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError, match="key 'hygiene_report.days'"):
        load_policy(bad)
