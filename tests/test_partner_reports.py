"""Partner aggregate exports on SQLite and PostgreSQL: who is counted, cell-size
thresholds, complementary suppression against totals, the attacker's audit,
the export gate, formula neutralisation, frozen re-runs, carrying suppression
forward, and the differential-privacy budget ledger across runs."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import date, datetime

import pytest
import yaml
from conftest import write_csv
from drops import POLICY, RESEARCH_HEADER, TODAY, ingest, research_row, sync
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.partner_reports import releases as releases_module
from crm_hygiene.partner_reports.counts import count as count_prospects
from crm_hygiene.partner_reports.disclosure import ALL, audit, build_table, intervals, primary, protect
from crm_hygiene.partner_reports.export_file import csv_text, neutralised
from crm_hygiene.partner_reports.gate import ExportRefused, gate_failures
from crm_hygiene.partner_reports.noise import BudgetExceeded
from crm_hygiene.partner_reports.releases import release_reports
from crm_hygiene.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy
from crm_hygiene.run import RunInfo

# The privacy-policy clause and contract promise these tests prove (make compliance-report).
pytestmark = [pytest.mark.enforces("partners"), pytest.mark.promise(5)]
PERIOD = date(2026, 12, 1)
SOURCES = ("linkedin", "search_engine", "company_website", "public_register", "data_research")


def policy_with(tmp_path, partners: dict, defaults: dict | None = None):
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    raw["partners"]["list"] = partners
    raw["partners"]["defaults"].update(defaults or {})
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_policy(path)


def by_source(tmp_path, **extra):
    return policy_with(tmp_path, {"acme": {"reports": {"by_source": {
        "dimensions": ["source"], "measures": ["prospects_held"], "schedule": "@monthly", **extra}}}})


def people(crm, data_dir, per_source: dict[str, int], name="r.csv", country="UK", start=0):
    rows, n = [], start
    for source, count in per_source.items():
        for _ in range(count):
            rows.append(research_row(f"First{n}", f"Last{n}", f"person{n}@firm{n % 7}.example", source=source,
                                     country=country, collected="2026-03-01"))
            n += 1
    ingest(crm, data_dir, RESEARCH, name, RESEARCH_HEADER, rows, run_id=name)
    return n


def release(crm, data_dir, policy, period=PERIOD, **kw):
    run = RunInfo(dag_id="partner_aggregate_reports", run_id=f"rel-{period}", today=period)
    return release_reports(crm.engine, policy, run, data_dir / "exports", **kw)


def export(data_dir, partner="acme", report="by_source", period=PERIOD) -> dict[tuple, dict[str, str]]:
    path = data_dir / "exports" / "partners" / partner / f"{report}_{period}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = {}
    for line in lines[1:]:
        cells = line.split(",")
        n_dims = len(header) - sum(h in ("prospects_held", "contactable_now") for h in header)
        rows[tuple(cells[:n_dims])] = dict(zip(header[n_dims:], cells[n_dims:], strict=True))
    return rows


# --- who is counted ----------------------------------------------------------

def test_only_active_and_anonymised_prospects_are_counted(crm, data_dir, tmp_path):
    policy = by_source(tmp_path, min_cell_size=2, min_interval_width=1)
    people(crm, data_dir, {"linkedin": 30})
    with crm.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT prospect_id FROM prospects ORDER BY prospect_id"))]
        for status, take in (("minor_review", ids[0:2]), ("restricted", ids[2:4]), ("suppressed", ids[4:7]),
                             ("anonymised", ids[7:9])):
            conn.execute(text("UPDATE prospects SET status = :s WHERE prospect_id IN (" +
                              ",".join(str(i) for i in take) + ")"), {"s": status})  # ids are ints from the DB
    inbox = data_dir / "inbox" / "applicants"
    write_csv(inbox / "a.csv", ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                                "decided_at"], [["APP-1", "Ann", "Lee", "ann@firm1.example", "", "2026-09-01",
                                                 "pending", ""]])
    from crm_hygiene.applicants import process_applicant_files

    process_applicant_files(crm.engine, policy, RunInfo("ingest_applicants", "a", TODAY), inbox,
                            data_dir / "archive" / "applicants")
    release(crm, data_dir, policy, every_report=True)
    assert export(data_dir)[("linkedin",)]["prospects_held"] == str(30 - 7)


def test_an_anonymised_prospect_counts_under_the_band_it_kept(crm, data_dir):
    titles = ["Account Executive", "CTO", "Graduate Trainee", "CTO", "Data Analyst", "Junior Designer"]
    ingest(crm, data_dir, RESEARCH, "t.csv", RESEARCH_HEADER,
           [research_row(f"First{n}", f"Last{n}", f"person{n}@firm.example", title=title)
            for n, title in enumerate(titles)])
    with crm.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT prospect_id FROM prospects ORDER BY prospect_id"))]
        # As the retention sweep leaves them: the title replaced by its band.
        for prospect_id, band in zip(ids[3:], ("executive", "professional", "entry"), strict=True):
            conn.execute(text("UPDATE prospects SET status = 'anonymised', job_title = :band "
                              "WHERE prospect_id = :id"), {"band": band, "id": prospect_id})
        found = count_prospects(conn, POLICY, ("seniority_band",), ("prospects_held",), datetime(2027, 1, 1))
    assert found["prospects_held"] == {("professional",): 2, ("executive",): 2, ("entry",): 2}


def test_contactable_now_counts_exactly_the_people_marketing_may_email(crm, data_dir):
    """marketable.sql restates the marketing_prospects view's condition: every combination of what the
    view reads must give the view's answer."""
    combos = list(itertools.product(("active", "anonymised", "suppressed"), (True, False), (True, False),
                                    (True, False), (True, False), ("consent", "legitimate_interests", "contract")))
    ingest(crm, data_dir, RESEARCH, "c.csv", RESEARCH_HEADER,
           [research_row(f"First{n}", f"Last{n}", f"person{n}@firm.example") for n in range(len(combos))])
    with crm.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT prospect_id FROM prospects ORDER BY prospect_id"))]
        for prospect_id, (status, has_email, disposable, referred, personal, basis) in zip(ids, combos, strict=True):
            conn.execute(text("UPDATE prospects SET status = :status, email_is_disposable = :disposable, "
                              "referred_only = :referred, email_is_personal = :personal, lawful_basis = :basis "
                              "WHERE prospect_id = :id"), {"status": status, "disposable": disposable,
                                                          "referred": referred, "personal": personal,
                                                          "basis": basis, "id": prospect_id})
            if not has_email:
                conn.execute(text("UPDATE prospects SET email = NULL WHERE prospect_id = :id"), {"id": prospect_id})
        found = count_prospects(conn, POLICY, ("lawful_basis",), ("contactable_now",), datetime(2027, 1, 1))
        view = conn.execute(text("SELECT lawful_basis, COUNT(*) FROM marketing_prospects GROUP BY lawful_basis")).all()
    assert {key[0]: n for key, n in found["contactable_now"].items() if n} == dict(view)
    # Active with an email neither disposable nor referred: by consent, or legitimate interests if not personal.
    assert dict(view) == {"consent": 2, "legitimate_interests": 1}


# --- thresholds --------------------------------------------------------------

@pytest.mark.parametrize(("count", "published"), [(9, False), (10, True), (11, True)], ids=["k-1", "k", "k+1"])
def test_a_cell_is_published_from_the_cell_size_up(crm, data_dir, tmp_path, count, published):
    people(crm, data_dir, {"linkedin": count, "search_engine": 40, "company_website": 35})
    release(crm, data_dir, by_source(tmp_path), every_report=True)
    rows = export(data_dir)
    assert (rows[("linkedin",)]["prospects_held"] == str(count)) is published
    if not published:
        assert rows[("linkedin",)]["prospects_held"] == ""
        # Not recomputable from the total: a second cell is blank too.
        assert sum(r["prospects_held"] == "" for r in rows.values()) >= 2
    assert rows[(ALL,)]["prospects_held"] == str(count + 75)
    manifest = json.loads((data_dir / "exports" / "partners" / "acme" / "manifest.json").read_text())
    body = (data_dir / "exports" / "partners" / "acme" / f"by_source_{PERIOD}.csv").read_bytes()
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["min_cell_size"] == 10 and manifest["partner"] == "acme" and manifest["report"] == "by_source"
    assert manifest["suppressed_cells"] == (0 if published else 2) and manifest["period"] == str(PERIOD)


# --- complementary suppression and the audit ------------------------------------

LEAKY = {("GB", "linkedin"): 3, ("GB", "event"): 40, ("GB", "enquiry"): 25, ("DE", "linkedin"): 30,
         ("DE", "event"): 22, ("DE", "enquiry"): 18, ("FR", "linkedin"): 12, ("FR", "event"): 15,
         ("FR", "enquiry"): 0}


def test_primary_suppression_alone_leaks_through_a_total_and_the_complementary_step_closes_it():
    table = build_table(("country", "source"), LEAKY)
    alone = primary(table, 10)
    assert alone == {("GB", "linkedin")}
    (leak,) = audit(table, alone, 10)
    assert (leak.low, leak.high) == (3.0, 3.0)  # the row total minus the published cells
    pattern = protect(table, 10, 10)
    assert alone <= pattern and audit(table, pattern, 10) == []
    assert all(i.width >= 10 for i in intervals(table, pattern))


def test_a_small_total_is_suppressed_and_protected_too():
    table = build_table(("source",), {("a",): 4, ("b",): 3})  # the total, 7, is small as well
    pattern = protect(table, 10, 10)
    assert {("a",), ("b",), (ALL,)} <= pattern
    assert audit(table, pattern, 10) == []


tables = st.integers(min_value=1, max_value=2).flatmap(lambda dims: st.tuples(
    st.just(dims),
    st.dictionaries(st.tuples(*[st.sampled_from("ABCDE")] * dims), st.integers(min_value=0, max_value=40),
                    min_size=2, max_size=20)))


@settings(max_examples=150, deadline=None)
@given(tables, st.integers(min_value=2, max_value=12))
def test_for_any_table_no_suppressed_cell_can_be_narrowed_below_the_width(spec, k):
    dims, counts = spec
    table = build_table(tuple(f"d{i}" for i in range(dims)), counts)
    try:
        pattern = protect(table, k, k)
    except Exception as exc:  # noqa: BLE001 - only a documented refusal is acceptable
        assert type(exc).__name__ == "CannotProtect"
        return
    assert primary(table, k) <= pattern
    assert all(i.width >= k - 1e-6 for i in intervals(table, pattern))
    assert all(v == 0 or v >= k for key, v in table.values.items() if key not in pattern)


# --- the export gate -------------------------------------------------------------

def _good_file():
    table = build_table(("country", "source"), LEAKY)
    pattern = protect(table, 10, 10)
    return csv_text(("country", "source"), ("prospects_held",), {"prospects_held": table},
                    {"prospects_held": pattern}), {"prospects_held": table}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace("DE,event,", "DE,ann.lee@acme.example,"), "expect_column_values_to_not_match_regex"),
    (lambda t: t.replace("GB,event,40", "GB,event,4"), "expect_column_values_to_be_between"),
    (lambda t: t.replace("country,source,prospects_held\n", "country,source,prospects_held,email\n")
     .replace("\nGB,event,40\n", "\nGB,event,40,x\n"), "expect_table_columns_to_match_set"),
    (lambda t: t.replace("DE,linkedin", "+44 20 7946 0123,linkedin"), "expect_column_values_to_not_match_regex"),
    (lambda t: t.replace("DE,linkedin", "https://linkedin.com/in/x,linkedin"),
     "expect_column_values_to_not_match_regex"),
    (lambda t: t.replace("DE,linkedin", "=HYPERLINK(1),linkedin"), "expect_column_values_to_not_match_regex"),
], ids=["email", "small_cell", "extra_column", "phone", "url", "formula"])
def test_the_gate_refuses_what_must_not_leave(change, expected):
    body, tables = _good_file()
    assert gate_failures(body, ("country", "source"), ("prospects_held",), 10, tables) == []
    failures = gate_failures(change(body), ("country", "source"), ("prospects_held",), 10, tables)
    assert any(f.startswith(expected) for f in failures), failures


def test_the_gate_refuses_a_total_that_disagrees_with_its_published_cells():
    table = build_table(("source",), {("a",): 20, ("b",): 30})
    body = csv_text(("source",), ("prospects_held",), {"prospects_held": table}, {"prospects_held": set()})
    assert gate_failures(body, ("source",), ("prospects_held",), 10, {"prospects_held": table}) == []
    failures = gate_failures(body.replace("ALL,50", "ALL,51"), ("source",), ("prospects_held",), 10,
                             {"prospects_held": table})
    assert any("equal" in f for f in failures)


def test_a_failing_export_is_not_written_and_the_run_fails(crm, data_dir, tmp_path, monkeypatch):
    people(crm, data_dir, {"linkedin": 30, "search_engine": 40})
    planted = releases_module.csv_text

    def with_an_address(*args):
        return planted(*args).replace("linkedin,", "linkedin@acme.example,")

    monkeypatch.setattr(releases_module, "csv_text", with_an_address)
    with pytest.raises(ExportRefused, match="export gate failed") as refused:
        release(crm, data_dir, by_source(tmp_path), every_report=True)
    assert "acme.example" not in str(refused.value)
    assert not (data_dir / "exports" / "partners").exists() or not any((data_dir / "exports" / "partners").rglob("*"))
    assert crm.scalar("SELECT COUNT(*) FROM partner_releases") == 0


def test_formula_cells_are_neutralised():
    assert neutralised("=1+1") == "'=1+1" and neutralised("@SUM(A1)") == "'@SUM(A1)"
    assert neutralised("-2") == "'-2" and neutralised("+44") == "'+44" and neutralised("GB") == "GB"
    table = build_table(("source",), {("=cmd|' /C calc'!A0",): 20, ("b",): 30})
    body = csv_text(("source",), ("prospects_held",), {"prospects_held": table}, {"prospects_held": set()})
    assert "\n\"'=cmd|' /C calc'!A0\",20\n" in body or "\n'=cmd|' /C calc'!A0,20\n" in body
    assert gate_failures(body, ("source",), ("prospects_held",), 10, {"prospects_held": table}) == []


# --- re-runs and periods ---------------------------------------------------------------

def test_a_re_run_for_the_same_period_gives_byte_identical_files_even_after_the_crm_changed(crm, data_dir,
                                                                                                tmp_path):
    policy = by_source(tmp_path)
    people(crm, data_dir, {"linkedin": 12, "search_engine": 40, "company_website": 7})
    first = release(crm, data_dir, policy, every_report=True)
    folder = data_dir / "exports" / "partners" / "acme"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # Computed again from scratch (no release on record), the same data gives the same bytes.
    with crm.engine.begin() as conn:
        conn.execute(text("DELETE FROM partner_releases"))
    again = release_reports(crm.engine, policy, RunInfo("partner_aggregate_reports", "again", PERIOD),
                            tmp_path / "again", every_report=True)
    assert again.released == ["acme/by_source"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "again" / "partners" / "acme").iterdir()} == before
    # Someone leaves meanwhile; the period already left the company: the same bytes go again.
    sync(crm, data_dir, "s.csv", [["erasure", "person0@firm0.example", "", "", "", "", "2026-11-20"]])
    (folder / f"by_source_{PERIOD}.csv").unlink()
    second = release(crm, data_dir, policy, every_report=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert first.released == ["acme/by_source"] and second.rewritten_frozen == ["acme/by_source"]
    assert crm.scalar("SELECT COUNT(*) FROM partner_releases") == 1


def test_a_cell_suppressed_last_period_stays_suppressed_when_it_crosses_the_threshold(crm, data_dir, tmp_path):
    policy = by_source(tmp_path)
    n = people(crm, data_dir, {"linkedin": 9, "search_engine": 40, "company_website": 35})
    release(crm, data_dir, policy, period=date(2026, 11, 1), every_report=True)
    assert export(data_dir, period=date(2026, 11, 1))[("linkedin",)]["prospects_held"] == ""
    people(crm, data_dir, {"linkedin": 2}, name="r2.csv", start=n)  # now 11: above the cell size
    release(crm, data_dir, policy, period=PERIOD, every_report=True)
    # Published, 11 minus last month's blank would tell who joined; it stays blank.
    assert export(data_dir)[("linkedin",)]["prospects_held"] == ""
    uncarried = by_source(tmp_path, carry_suppression_forward=False)
    with crm.engine.begin() as conn:
        conn.execute(text("DELETE FROM partner_releases WHERE period = :p"), {"p": PERIOD})
    release(crm, data_dir, uncarried, period=PERIOD, every_report=True)
    assert export(data_dir)[("linkedin",)]["prospects_held"] == "11"


def test_reports_are_released_on_their_schedule_only(crm, data_dir, tmp_path):
    people(crm, data_dir, {"linkedin": 30})
    summary = release(crm, data_dir, by_source(tmp_path), period=date(2026, 12, 2))
    assert summary.not_due == ["acme/by_source"] and summary.released == []
    assert release(crm, data_dir, by_source(tmp_path), period=PERIOD).released == ["acme/by_source"]


# --- differential privacy ----------------------------------------------------------

def dp_policy(tmp_path, per_release=0.6, total=1.0):
    return policy_with(tmp_path, {"dpco": {
        "reports": {"by_source": {"dimensions": ["source"], "measures": ["prospects_held"]}},
        "differential_privacy": {"epsilon_per_release": per_release, "total_epsilon": total,
                                 "categories": {"source": [*SOURCES, "other"]}}}})


def test_the_budget_ledger_refuses_an_over_budget_release_across_runs(crm, data_dir, tmp_path):
    policy = dp_policy(tmp_path)
    people(crm, data_dir, {"linkedin": 50, "search_engine": 45})
    first = release(crm, data_dir, policy, period=date(2026, 11, 1), every_report=True)
    assert first.released == ["dpco/by_source"]
    assert crm.scalar("SELECT SUM(epsilon) FROM partner_releases WHERE partner = 'dpco'") == pytest.approx(0.6)
    rows = export(data_dir, partner="dpco", period=date(2026, 11, 1))
    # Every fixed category is there, even those nobody has (a new category would tell).
    assert {k[0] for k in rows} == {*SOURCES, "other", ALL}
    # The same period again spends nothing; a new period would exceed the total (0.6 + 0.6 > 1.0).
    release(crm, data_dir, policy, period=date(2026, 11, 1), every_report=True)
    with pytest.raises(BudgetExceeded, match="dpco"):
        release(crm, data_dir, policy, period=PERIOD, every_report=True)
    assert crm.scalar("SELECT COUNT(*) FROM partner_releases") == 1
    assert not (data_dir / "exports" / "partners" / "dpco" / f"by_source_{PERIOD}.csv").exists()


def test_noisy_counts_still_pass_disclosure_control(crm, data_dir, tmp_path):
    people(crm, data_dir, {"linkedin": 50, "search_engine": 3})
    release(crm, data_dir, dp_policy(tmp_path, per_release=1.0, total=5.0), every_report=True)
    rows = export(data_dir, partner="dpco")
    published = [int(r["prospects_held"]) for r in rows.values() if r["prospects_held"] != ""]
    assert all(v == 0 or v >= 10 for v in published)


# --- the policy ----------------------------------------------------------------------

@pytest.mark.parametrize("dimension", ["email", "job_title", "company", "last_contact_at", "source_url"])
def test_a_dimension_that_can_stand_for_an_identifier_is_refused_at_load(tmp_path, dimension):
    with pytest.raises(PolicyError, match=rf"partners.list.acme.reports.bad.*{dimension}.*identifier"):
        policy_with(tmp_path, {"acme": {"reports": {"bad": {"dimensions": [dimension],
                                                            "measures": ["prospects_held"]}}}})


def test_the_shipped_policy_has_a_partner_report_by_country_and_source():
    reports = [r for p in POLICY.partners.list.values() for r in p.reports.values()]
    assert any(set(r.dimensions) == {"country", "source"} for r in reports)


def test_every_dimension_the_policy_allows_passes_the_gate(crm, data_dir, tmp_path):
    policy = policy_with(tmp_path, {"acme": {"reports": {
        "by_month_and_basis": {"dimensions": ["first_contact_month", "lawful_basis"],
                               "measures": ["prospects_held", "contactable_now"]},
        "by_band": {"dimensions": ["seniority_band"], "measures": ["prospects_held"]}}}})
    people(crm, data_dir, {"linkedin": 40, "search_engine": 25})
    summary = release(crm, data_dir, policy, every_report=True)
    assert sorted(summary.released) == ["acme/by_band", "acme/by_month_and_basis"]
    months = export(data_dir, report="by_month_and_basis")
    assert months[("2026-03", "legitimate_interests")]["prospects_held"] == "65"
    assert export(data_dir, report="by_band")[("executive",)]["prospects_held"] == "65"  # research_row's CTO
