"""The compliance evidence page (`make compliance-report`): every clause of the
policy file with the DAG task that enforces it and the tests that prove it, the
contract's promises, and each DAG's latest run's counts from audit_log (SQLite
and PostgreSQL). A clause nobody proves or maps is flagged, never dropped; the
page names no one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pytest
import yaml
from conftest import REPO
from drops import (
    ENQUIRY_HEADER,
    RESEARCH_HEADER,
    TODAY,
    enquiry_row,
    ingest,
    requests,
    research_row,
    sync,
)
from leak_scan import scan_folder
from test_dags import dagbag  # noqa: F401 - the DagBag fixture, loaded once for this module

from crm_hygiene import cli
from crm_hygiene.audit import write_audit
from crm_hygiene.compliance import (
    NO_RUNS,
    NOT_COVERED,
    NOT_MAPPED,
    build_report,
    load_enforcement,
    read_test_markers,
    render_html,
    render_markdown,
    write_compliance_report,
)
from crm_hygiene.ingest.kinds import ENQUIRIES, RESEARCH
from crm_hygiene.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy
from crm_hygiene.run import RunInfo

CONTRACT = REPO.parent / "shared" / "CONTRACT.md"


@pytest.fixture(scope="module")
def shipped():
    """The report on the shipped policy and this checkout's tests, without a database."""
    return build_report(None, policy_path=DEFAULT_POLICY_FILE)


def _row_of(page: str, path: str) -> str:
    """The clause table's row for one clause path."""
    (row,) = [r for r in page.split("<tr") if f"<td><code>{path}</code>" in r]
    return row


# --- clauses ------------------------------------------------------------------------------

def test_the_page_lists_every_clause_of_the_shipped_policy(shipped):
    cited = len(re.findall(r"^\s*clause:", DEFAULT_POLICY_FILE.read_text(encoding="utf-8"), re.MULTILINE))
    assert len(shipped.clauses) == cited > 20
    paths = [c.clause.path for c in shipped.clauses]
    assert len(set(paths)) == len(paths)
    assert {"sources", "suppression", "minors", "special_category", "airflow_records", "retention",
            "retention.classes.prospects", "retention.classes.audit_log"} <= set(paths)
    prospects = next(c.clause for c in shipped.clauses if c.clause.path == "retention.classes.prospects")
    assert prospects.heading == "How long do we keep your information?"
    assert "up to six years after the last contact" in prospects.text
    page, markdown = render_html(shipped), render_markdown(shipped)
    for path in paths:
        assert f"<code>{path}</code>" in page and f"`{path}`" in markdown


def test_every_clause_of_the_shipped_policy_has_an_enforcement_entry_and_every_entry_a_clause(shipped):
    assert [c.clause.path for c in shipped.unmapped] == []
    assert not [p for p in shipped.problems if p.startswith("enforcement map")]
    airflow = next(c for c in shipped.clauses if c.clause.path == "airflow_records")
    assert airflow.enforcement.tasks == () and "metadata database" in airflow.enforcement.not_enforced_by_a_dag


def test_every_enforcing_task_is_in_the_dagbag(dagbag):  # noqa: F811 - the imported fixture
    enforcement = load_enforcement()
    named = {(t.dag, t.task) for entry in enforcement.clauses.values() for t in entry.tasks}
    assert named
    missing = sorted((dag, task) for dag, task in named
                     if dag not in dagbag.dags or task not in dagbag.get_dag(dag).task_ids)
    assert missing == []


def test_an_enforcement_entry_needs_tasks_or_why_not_and_fails_at_load_naming_it(tmp_path):
    raw = yaml.safe_load((REPO / "include" / "compliance" / "enforcement.yaml").read_text())
    raw["clauses"]["airflow_records"]["tasks"] = [{"dag": "retention_sweep", "task": "retention_sweep"}]
    path = tmp_path / "enforcement.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError, match=r"key 'clauses.airflow_records': .*either tasks or not_enforced_by_a_dag"):
        load_enforcement(path)


def test_a_clause_with_no_test_and_no_mapping_is_flagged_not_dropped(tmp_path, monkeypatch):
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    raw["future_rules"] = {"clause": '"Accuracy": a clause added after the evidence was mapped.',
                           "sections": {"duplicates": {"clause": "No heading quoted here, and no test."}}}
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    monkeypatch.setenv("CRM_POLICY_FILE", str(policy))
    with pytest.raises(PolicyError):  # the typed model refuses the new section; the report must not
        load_policy()

    report = build_report(None)
    new = ["future_rules", "future_rules.sections.duplicates"]
    assert [c.clause.path for c in report.uncovered] == new
    assert [c.clause.path for c in report.unmapped] == new
    assert [c.clause.heading for c in report.uncovered] == ["Accuracy", None]
    assert len(report.clauses) == len(build_report(None, policy_path=DEFAULT_POLICY_FILE).clauses) + 2
    page, markdown = render_html(report), render_markdown(report)
    for path in new:
        row = _row_of(page, path)
        assert NOT_COVERED in row and NOT_MAPPED in row and "uncovered" in row
        assert f"| `{path}`" in markdown and f"**{NOT_COVERED}**" in markdown.split(f"| `{path}`", 1)[1].split("\n")[0]
    summary = page.split("<h2>", 1)[0]
    assert f"2 {NOT_COVERED}" in summary and "<code>future_rules.sections.duplicates</code>" in summary
    assert "<code>sources</code>" not in summary  # only the gaps are listed up top


# --- tests that prove them ---------------------------------------------------------------

def test_every_mark_names_a_clause_of_the_policy_and_a_promise_of_the_contract(shipped):
    assert shipped.problems == ()
    assert sorted(p.number for p in shipped.promises) == list(range(1, 8))


def test_the_marks_are_read_as_pytest_collects_them():
    """The report reads marks from the test files' syntax trees (no import, no run);
    pytest's own collection must find exactly the same marks on the same tests."""
    probe = """
import json, re, sys
import pytest

class Dump:
    found = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            enforces = sorted({a for m in item.iter_markers("enforces") for a in m.args})
            promises = sorted({a for m in item.iter_markers("promise") for a in m.args})
            if enforces or promises:
                self.found[re.sub(r"\\[.*\\]$", "", item.nodeid)] = [enforces, promises]

dump = Dump()
code = pytest.main(["--collect-only", "-q", "-p", "no:xdist"], plugins=[dump])
print("MARKS " + json.dumps(dump.found))
sys.exit(code)
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    collected = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("MARKS "))[6:])
    read = {t.nodeid: [sorted(set(t.enforces)), sorted(t.promises)] for t in read_test_markers().tests}
    assert read == collected
    assert len(read) > 100


def test_the_mark_reader_follows_pytests_rules_and_flags_what_it_cannot_read(tmp_path):
    tests = tmp_path / "tests"
    (tests / "sub").mkdir(parents=True)
    (tests / "test_a.py").write_text('''
import pytest
from pytest import mark

pytestmark = pytest.mark.enforces("suppression")
PATHS = ["minors"]


@pytest.mark.promise(1, 3)
@pytest.mark.parametrize("x", [1, 2])
def test_one(x):
    pass


@mark.enforces("retention.classes.*")
def test_two():
    pass


@pytest.mark.enforces(*PATHS)
def test_computed():
    pass


@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.promise(2))])
def test_param(x):
    pass


def helper():
    pass


@pytest.mark.enforces("minors")
class TestGroup:
    pytestmark = [pytest.mark.promise(2)]

    @pytest.mark.enforces("special_category")
    def test_method(self):
        pass

    def not_a_test(self):
        pass
''')
    (tests / "sub" / "test_b.py").write_text("@pytest.mark.promise\ndef test_bare():\n    pass\n")
    (tests / "test_broken.py").write_text("def test_(:\n")
    found = read_test_markers(tests, tmp_path)
    assert {t.nodeid: (t.enforces, t.promises) for t in found.tests} == {
        "tests/test_a.py::test_one": (("suppression",), (1, 3)),
        "tests/test_a.py::test_two": (("suppression", "retention.classes.*"), ()),
        "tests/test_a.py::test_computed": (("suppression",), ()),
        "tests/test_a.py::test_param": (("suppression",), ()),
        "tests/test_a.py::TestGroup::test_method": (("suppression", "minors", "special_category"), (2,)),
    }
    assert [p.split(": ", 1)[0] for p in found.problems] == [
        "tests/sub/test_b.py:1", "tests/test_a.py:20", "tests/test_a.py:25", "tests/test_broken.py:1"]
    assert "string literals only" in found.problems[1] and "not on a test function" in found.problems[2]


def test_a_mark_naming_no_clause_is_a_problem_on_the_page(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text('import pytest\n\n\n@pytest.mark.enforces("retention.clases.prospects")\n'
                                     '@pytest.mark.promise(8)\ndef test_typo():\n    pass\n')
    report = build_report(None, policy_path=DEFAULT_POLICY_FILE, tests_dir=tests, root=tmp_path)
    assert report.problems == (
        "tests/test_x.py::test_typo: enforces 'retention.clases.prospects', which is no clause of the policy file",
        "tests/test_x.py::test_typo: promise(8) is not one of the contract's promises")
    assert len(report.uncovered) == len(report.clauses)  # nothing else in this tests folder proves anything
    assert "Evidence problems" in render_html(report) and "retention.clases.prospects" in render_markdown(report)


def test_the_promises_are_the_contracts_word_for_word(shipped):
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} is not beside this checkout")
    section = CONTRACT.read_text(encoding="utf-8").split("## Promises every check holds the pipeline to", 1)[1]
    items = re.findall(r"^(\d)\. (.*?)(?=^\d\. |\Z)", section, re.MULTILINE | re.DOTALL)
    assert {int(n): " ".join(t.split()) for n, t in items} == {p.number: p.text for p in shipped.promises}


def test_each_promise_lists_its_tests_and_the_clauses_they_prove(shipped):
    promises = {p.number: p for p in shipped.promises}
    assert "tests/test_minors.py::test_no_minor_is_ever_in_marketing_prospects" in promises[2].tests
    assert "minors" in promises[2].clause_paths
    assert "retention.classes.prospects" in promises[4].clause_paths  # through retention.classes.*
    page = render_html(shipped)
    promise_rows = page.split("<h2>2.", 1)[1].split("<h2>3.", 1)[0]
    for promise in shipped.promises:
        row = next(r for r in promise_rows.split("<tr") if f'<td class="n">{promise.number}</td>' in r)
        assert (NOT_COVERED in row) is (not promise.tests)


# --- the latest runs' counts -----------------------------------------------------------------

def _latest_runs_from_the_audit_log(crm) -> dict[str, tuple[str, dict[str, tuple[int, int]]]]:
    """The same figures, worked out row by row in Python."""
    newest: dict[str, str] = {}
    for dag_id, run_id in crm.rows("SELECT dag_id, run_id FROM audit_log WHERE dag_id IS NOT NULL ORDER BY audit_id"):
        newest[dag_id] = run_id
    expected = {}
    for dag_id, run_id in newest.items():
        entries, affected = Counter(), Counter()
        for action, rows in crm.rows("SELECT action, rows_affected FROM audit_log WHERE dag_id = :d AND run_id = :r",
                                     d=dag_id, r=run_id):
            entries[action] += 1
            affected[action] += rows
        expected[dag_id] = (run_id, {a: (entries[a], affected[a]) for a in entries})
    return expected


def _work(crm, data_dir) -> None:
    """Two ingest runs, a list sync and a request run: real audit rows of four DAGs."""
    ingest(crm, data_dir, RESEARCH, "r1.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "ann@acme.com"), research_row("Bob", "Ray", "bob@acme.com"),
        research_row("Bad", "Row", "not-an-address")])
    ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Cy", "Doe", "cy@acme.com", collected="2026-04-01")], run_id="run-2")
    ingest(crm, data_dir, ENQUIRIES, "q.csv", ENQUIRY_HEADER, [
        enquiry_row("Di", "Eve", "di@acme.com", "web_form", "yes")])
    sync(crm, data_dir, "s.csv", [["unsubscribe", "bob@acme.com", "", "", "", "", "2026-11-01"]])
    requests(crm, data_dir, "q.csv", [["E-1", "erasure", "ann@acme.com", "2026-11-20", ""],
                                      ["A-1", "access", "cy@acme.com", "2026-11-20", ""]])


def test_the_counts_are_each_dags_latest_run_in_the_audit_log(crm, data_dir):
    _work(crm, data_dir)
    report = build_report(crm.engine, policy_path=DEFAULT_POLICY_FILE)
    got = {r.dag_id: (r.run_id, {a.action: (a.entries, a.rows_affected) for a in r.actions}) for r in report.runs}
    assert got == _latest_runs_from_the_audit_log(crm)
    assert got["ingest_research"][0] == "run-2"  # run-1 wrote more, earlier: not in the latest figures
    assert got["ingest_research"][1]["ingest_file"] == (1, 1)
    assert got["process_data_subject_requests"][1]["erase"] == (1, 1)
    assert report.database == crm.backend and report.database_note is None
    # DAGs the enforcement map names that have no run yet are said to have none.
    assert "retention_sweep" in report.dags_without_runs and "ingest_research_lists" in report.dags_without_runs
    page = render_html(report)
    # Every DAG without a run is named after the NO_RUNS line (in the map's order).
    assert "<code>run-2</code>" in page and "<code>ingest_applicants</code>" in page.split(NO_RUNS, 1)[1][:2000]


def test_the_latest_run_is_the_one_that_wrote_the_newest_row(crm):
    with crm.engine.begin() as conn:
        for run_id, action, rows in (("a", "x", 5), ("b", "x", 7), ("a", "y", 2), ("a", "x", 1)):
            write_audit(conn, RunInfo("some_dag", run_id, TODAY), action, rows_affected=rows)
        write_audit(conn, RunInfo("other_dag", "c", TODAY), "z", rows_affected=0)
        conn.exec_driver_sql("INSERT INTO audit_log (occurred_at, action, rows_affected) "
                             "VALUES ('2026-01-01 00:00:00', 'no_dag', 3)")
    report = build_report(crm.engine, policy_path=DEFAULT_POLICY_FILE)
    runs = {r.dag_id: r for r in report.runs}
    assert set(runs) == {"some_dag", "other_dag"}
    assert runs["some_dag"].run_id == "a"
    assert [(a.action, a.entries, a.rows_affected) for a in runs["some_dag"].actions] == [("x", 2, 6), ("y", 1, 2)]
    assert [(a.action, a.entries, a.rows_affected) for a in runs["other_dag"].actions] == [("z", 1, 0)]


def test_without_a_crm_database_the_page_says_so(tmp_path):
    from crm_hygiene.db import make_engine

    report = build_report(make_engine(f"sqlite:///{tmp_path / 'none.db'}"), policy_path=DEFAULT_POLICY_FILE)
    assert report.runs == () and "no DAG has run" in report.database_note
    assert not (tmp_path / "none.db").exists()
    assert "No counts: there is no CRM database yet" in render_html(report)


# --- the files ------------------------------------------------------------------------------

PLANTED = [("Zyqx", "Plantwell", "zyqx.plantwell@example-plant.com", "020 7946 0777"),
           ("Vorn", "Leakmore", "vorn.leakmore@example-plant.com", "020 7946 0778")]


def test_the_cli_writes_a_self_contained_page_and_markdown_naming_no_one(crm, data_dir, monkeypatch, capsys):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
           [research_row(f, last, e, phone=p, company=f"{last} Holdings", notes=f"met {f}") for f, last, e, p in PLANTED]
           + [research_row("Qat", "Badrow", "qat.badrow@@example-plant", phone="020 7946 0779")])
    sync(crm, data_dir, "s.csv", [["unsubscribe", PLANTED[0][2], "", "", "", "", "2026-11-01"]])
    requests(crm, data_dir, "q.csv", [["A-1", "access", PLANTED[1][2], "2026-11-20", ""],
                                      ["E-1", "erasure", PLANTED[0][2], "2026-11-20", ""]])
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)

    cli.main(["compliance-report"])

    printed = capsys.readouterr().out
    reports = data_dir / "reports"
    (page,) = reports.glob("compliance_*.html")
    (markdown,) = reports.glob("compliance_*.md")
    assert str(page) in printed and str(markdown) in printed and re.search(r"compliance_\d{4}-\d\d-\d\d", page.name)
    assert sorted(p.name for p in reports.iterdir()) == sorted([page.name, markdown.name])  # no temporary files
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text and "@media print" in text
    for outside in ("<script", "<link", "src=", "http://", "https://", "@import", "url("):
        assert outside not in text.lower()
    assert "process_data_subject_requests" in text and "suppression_list_applied" in text
    needles = [v for person in PLANTED for v in person] + ["Plantwell Holdings", "qat.badrow", "Badrow", "7946"]
    assert scan_folder(reports, needles) == []
    assert crm.url.rsplit("/", 1)[-1] not in text  # the database by its kind only, not its URL


def test_a_second_report_the_same_day_replaces_the_first(crm, data_dir):
    report = build_report(crm.engine, policy_path=DEFAULT_POLICY_FILE)
    first = write_compliance_report(report, data_dir)
    (data_dir / "reports" / first[0].name).write_text("stale")
    second = write_compliance_report(report, data_dir)
    assert first == second and second[0].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert second[0].name == f"compliance_{report.generated_at.date()}.html"


def test_make_compliance_report_runs_the_cli():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^compliance-report: .*\n\t\$\(PY\) -m crm_hygiene\.cli compliance-report$", makefile,
                     re.MULTILINE)
    assert "make compliance-report" in makefile.split("\nvenv:", 1)[0]  # in the help text
    assert "compliance-report" in makefile.split(".PHONY:", 1)[1].split("\n", 1)[0]
