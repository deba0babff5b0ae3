"""The retention sweep on SQLite and PostgreSQL: every class one day before, on
and after its boundary, with and without a legal hold; releases, dry runs, the
circuit breaker, a second sweep the same day, and anonymised rows nobody can
link back."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_csv
from drops import KEYS, POLICY, RESEARCH_HEADER, TODAY, ingest, requests, research_row
from leak_scan import scan_database, scan_folder
from sqlalchemy import text

from crm_hygiene.applicants import process_applicant_files
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.retention import sweep as sweep_module
from crm_hygiene.retention.sweep import RetentionBlocked, RetentionIncomplete, run_retention_sweep
from crm_hygiene.run import RunInfo

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("retention"),
    pytest.mark.promise(4),
]

# Every clock starts here (a Tuesday, no month end or leap day near a boundary).
CLOCK = datetime(2020, 3, 10, 9, 30)
ERIN = "erin.quill@acme.com"
OTHER = "other.person@acme.com"
APPLICANT_HEADER = ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                    "decided_at", "retain_for_future_roles", "dispute"]
HOLD_HEADER = ["email", "case_ref", "placed_at", "released_at"]


def boundary(name: str) -> date:
    """The first logical date on which a record of class `name` clocked at CLOCK is past retention."""
    return POLICY.retention.classes[name].period.after(CLOCK.date())


def sweep(crm, data_dir, today: date, *, run_id: str | None = None, **options):
    run = RunInfo(dag_id="retention_sweep", run_id=run_id or f"sweep-{today}-{os.urandom(3).hex()}", today=today)
    options.setdefault("force", True)  # small tables: the breaker has its own tests
    return run_retention_sweep(crm.engine, POLICY, KEYS, run, data_dir, **options)


def hold(data_dir, email=ERIN, *, placed="2019-01-01", released="", name="hold.csv"):
    write_csv(data_dir / "inbox" / "legal_holds" / name, HOLD_HEADER, [[email, "CASE-7", placed, released]])


def set_clock(crm, sql: str) -> None:
    with crm.engine.begin() as conn:
        conn.execute(text(sql), {"clock": CLOCK})


# --- one seed per class: it writes a record of ERIN's clocked at CLOCK and
# returns a probe that says whether it is still there, identifiable ---------

def seed_prospects(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", ERIN, phone="020 7946 0123", collected=CLOCK.date().isoformat())])
    return lambda: crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = :e", e=ERIN) == 1


def _applicant(status, retain):
    def seed(crm, data_dir):
        inbox = data_dir / "inbox" / "applicants"
        write_csv(inbox / "a.csv", APPLICANT_HEADER,
                  [["APP-1", "Erin", "Quill", ERIN, "", "2019-12-01", status, CLOCK.isoformat(), retain, ""]])
        process_applicant_files(crm.engine, POLICY, RunInfo("ingest_applicants", "a", TODAY), inbox,
                                data_dir / "archive" / "applicants")
        return lambda: crm.scalar("SELECT COUNT(*) FROM applicants WHERE applicant_id = 'APP-1'") == 1
    return seed


def seed_quarantine(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "q.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", ERIN, collected="not a date")])
    set_clock(crm, "UPDATE quarantine SET quarantined_at = :clock")
    return lambda: crm.scalar("SELECT COUNT(*) FROM quarantine WHERE email_match_key = :e", e=ERIN) == 1


def _answered_request(crm, data_dir):
    requests(crm, data_dir, "req.csv", [["REQ-1", "access", ERIN, "2020-03-01", ""]])
    set_clock(crm, "UPDATE data_subject_requests SET completed_at = :clock")
    return data_dir / "exports" / "dsr" / "REQ-1.json"


def seed_answer_files(crm, data_dir):
    answer = _answered_request(crm, data_dir)
    assert answer.exists()
    return lambda: answer.exists() and crm.scalar(
        "SELECT COUNT(*) FROM data_subject_requests WHERE answer_file IS NOT NULL") == 1


def seed_data_subject_requests(crm, data_dir):
    _answered_request(crm, data_dir)
    return lambda: crm.scalar("SELECT COUNT(*) FROM data_subject_requests WHERE request_id = 'REQ-1'") == 1


def seed_minor_reviews(crm, _data_dir):
    set_clock(crm, "INSERT INTO minor_reviews (prospect_id, signals, status, queued_at, decided_at, decided_by) "
                   "VALUES (424242, 'pupil_job_title', 'minor', :clock, :clock, 'file:d.csv')")
    return lambda: crm.scalar("SELECT COUNT(*) FROM minor_reviews") == 1


def seed_suppression_minor(crm, _data_dir):
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at) "
                          "VALUES ('email', :h, :k, 'minor', 'all', :clock)"),
                     {"h": KEYS.current.digest(ERIN), "k": KEYS.current.key_id, "clock": CLOCK})
    return lambda: crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE reason = 'minor'") == 1


def seed_legal_holds(crm, _data_dir):
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO legal_holds (subject_hash, key_id, case_ref, placed_at, released_at) "
                          "VALUES (:h, :k, 'CASE-OLD', :placed, :clock)"),
                     {"h": KEYS.current.digest(OTHER), "k": KEYS.current.key_id, "placed": datetime(2018, 1, 1),
                      "clock": CLOCK})
    return lambda: crm.scalar("SELECT COUNT(*) FROM legal_holds WHERE case_ref = 'CASE-OLD'") == 1


def seed_audit_log(crm, _data_dir):
    set_clock(crm, "INSERT INTO audit_log (occurred_at, action, rows_affected) VALUES (:clock, 'old_action', 1)")
    return lambda: crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'old_action'") == 1


def seed_drop_files(_crm, data_dir):
    path = write_csv(data_dir / "archive" / "research" / "abc123_old.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", ERIN), research_row("Other", "Person", OTHER)])
    stamp = CLOCK.timestamp()
    os.utime(path, (stamp, stamp))
    return lambda: path.exists() and ERIN in path.read_text()


SEEDS = {
    "prospects": seed_prospects,
    "applicants_rejected": _applicant("rejected", "no"),
    "applicants_future_roles": _applicant("rejected", "yes"),
    "applicants_hired": _applicant("hired", ""),
    "quarantine": seed_quarantine,
    "drop_files": seed_drop_files,
    "answer_files": seed_answer_files,
    "minor_reviews": seed_minor_reviews,
    "suppression_minor": seed_suppression_minor,
    "legal_holds": seed_legal_holds,
    "data_subject_requests": seed_data_subject_requests,
    "audit_log": seed_audit_log,
}
# Classes of records about a person a legal hold can name.
HOLDABLE = ("prospects", "applicants_rejected", "applicants_future_roles", "applicants_hired", "quarantine",
            "drop_files", "answer_files", "suppression_minor", "data_subject_requests")


@pytest.mark.enforces("retention.classes.*")
def test_every_policy_class_has_a_boundary_test():
    assert set(SEEDS) == set(POLICY.retention.classes)


@pytest.mark.enforces("retention.classes.*")
@pytest.mark.promise(6)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["day_before", "on_boundary", "day_after"])
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_each_class_goes_on_its_boundary_and_not_a_day_before(crm, data_dir, name, offset):
    still_there = SEEDS[name](crm, data_dir)
    today = boundary(name) + timedelta(days=offset)
    report = sweep(crm, data_dir, today)
    assert still_there() is (offset < 0), f"{name} as of {today}"
    counts = report.classes[name]
    assert (counts.due, counts.held, counts.acted, counts.remaining) == ((0, 0, 0, 0) if offset < 0 else (1, 0, 1, 0))
    assert report.status == "completed"
    if offset >= 0 and name != "audit_log":  # the audit log's own row would be swept with the old one
        action = f"retention_{POLICY.retention.classes[name].action}"
        assert crm.rows("SELECT rows_affected FROM audit_log WHERE action = :a AND subject_ref = :s",
                        a=action, s=f"retention:{name}") == [(1,)]


@pytest.mark.enforces(
    "retention.classes.prospects", "retention.classes.applicants_rejected",
    "retention.classes.applicants_future_roles", "retention.classes.applicants_hired",
    "retention.classes.quarantine", "retention.classes.drop_files", "retention.classes.answer_files",
    "retention.classes.suppression_minor", "retention.classes.data_subject_requests")
@pytest.mark.promise(6)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["day_before", "on_boundary", "day_after"])
@pytest.mark.parametrize("name", HOLDABLE)
def test_a_held_person_is_kept_past_every_boundary_and_the_refusal_recorded(crm, data_dir, name, offset):
    still_there = SEEDS[name](crm, data_dir)
    hold(data_dir)
    today = boundary(name) + timedelta(days=offset)
    report = sweep(crm, data_dir, today)
    assert still_there(), f"{name} as of {today}"
    counts = report.classes[name]
    assert (counts.due, counts.held, counts.acted, counts.remaining) == ((0, 0, 0, 0) if offset < 0 else (1, 1, 0, 0))
    refusals = crm.rows("SELECT rows_affected FROM audit_log WHERE action = 'retention_refused_legal_hold' "
                        "AND subject_ref = :s", s=f"retention:{name}:{today.isoformat()}")
    assert refusals == ([] if offset < 0 else [(1,)])
    if name == "drop_files" and offset >= 0:
        # The held file keeps the held person's row only.
        kept = (data_dir / "archive" / "research" / "abc123_old.csv").read_text()
        assert ERIN in kept and OTHER not in kept


@pytest.mark.enforces(
    "retention.classes.prospects", "retention.classes.applicants_rejected", "retention.classes.quarantine",
    "retention.classes.drop_files")
@pytest.mark.parametrize("name", ["prospects", "applicants_rejected", "quarantine", "drop_files"])
def test_a_released_hold_lets_the_next_sweep_act(crm, data_dir, name):
    still_there = SEEDS[name](crm, data_dir)
    today = boundary(name) + timedelta(days=3)
    hold(data_dir)
    sweep(crm, data_dir, today)
    assert still_there()
    hold(data_dir, placed="2019-01-01", released=(today + timedelta(days=1)).isoformat(), name="release.csv")
    assert sweep(crm, data_dir, today + timedelta(days=1)).classes[name].acted == 1
    assert not still_there()


def _everything(crm, data_dir) -> tuple:
    tables = ("prospects", "prospect_sources", "applicants", "quarantine", "audit_log", "data_subject_requests",
              "minor_reviews", "suppression_list", "legal_holds", "ingested_files", "erasure_followups")
    rows = {t: sorted(map(str, crm.rows(f"SELECT * FROM {t}"))) for t in tables}  # noqa: S608 - constants
    files = {p.relative_to(data_dir).as_posix(): p.read_bytes() for p in sorted(data_dir.rglob("*"))
             if p.is_file() and "reports" not in p.parts and not p.name.startswith("crm.db")}
    return rows, files


def _seed_all(crm, data_dir):
    for name in ("prospects", "quarantine", "drop_files", "answer_files", "minor_reviews", "audit_log"):
        SEEDS[name](crm, data_dir)


def test_a_dry_run_reports_what_would_go_and_changes_nothing(crm, data_dir):
    _seed_all(crm, data_dir)
    before = _everything(crm, data_dir)
    report = sweep(crm, data_dir, date(2027, 1, 1), dry_run=True, force=False)
    assert _everything(crm, data_dir) == before
    assert report.status == "blocked"  # the whole CRM is one old prospect: over the breaker's share
    written = json.loads((data_dir / "reports" / "retention_2027-01-01.json").read_text())
    (run,) = written["runs"]
    assert run["dry_run"] is True and run["classes"]["prospects"]["due"] == 1
    assert run["classes"]["drop_files"]["due"] >= 1 and run["classes"]["quarantine"]["due"] == 1
    forced = sweep(crm, data_dir, date(2027, 1, 1), dry_run=True, force=True)
    assert forced.status == "planned" and _everything(crm, data_dir) == before


def _prospects(crm, data_dir, old: int, new: int):
    rows = [research_row(f"Old{i}", "Contact", f"old{i}@acme.com", collected="2019-06-01") for i in range(old)]
    rows += [research_row(f"New{i}", "Contact", f"new{i}@acme.com", collected="2026-06-01") for i in range(new)]
    ingest(crm, data_dir, RESEARCH, "many.csv", RESEARCH_HEADER, rows)


def test_the_circuit_breaker_stops_before_changing_anything_unless_forced(crm, data_dir):
    _prospects(crm, data_dir, old=3, new=7)  # 30% past six years: over the 20% limit
    before = _everything(crm, data_dir)
    with pytest.raises(RetentionBlocked, match=r"prospects: 3 of 10 rows \(30.0%\).*force=true"):
        sweep(crm, data_dir, date(2026, 1, 1), force=False)
    assert _everything(crm, data_dir) == before
    report = json.loads((data_dir / "reports" / "retention_2026-01-01.json").read_text())["runs"][0]
    assert report["status"] == "blocked" and report["breaker"]["prospects"] == 0.3
    done = sweep(crm, data_dir, date(2026, 1, 1), force=True)
    assert done.classes["prospects"].acted == 3
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE status = 'anonymised'") == 3


def test_the_breaker_lets_a_share_at_the_limit_through(crm, data_dir):
    _prospects(crm, data_dir, old=2, new=8)  # exactly 20%
    assert sweep(crm, data_dir, date(2026, 1, 1), force=False).classes["prospects"].acted == 2


def test_a_second_sweep_the_same_day_changes_nothing(crm, data_dir):
    _seed_all(crm, data_dir)
    hold(data_dir, OTHER)
    SEEDS["applicants_rejected"](crm, data_dir)
    first = sweep(crm, data_dir, date(2027, 1, 1), run_id="first")
    assert first.classes["prospects"].acted == 1
    after_first = _everything(crm, data_dir)
    second = sweep(crm, data_dir, date(2027, 1, 1), run_id="second")
    assert _everything(crm, data_dir) == after_first
    assert all(c.acted == 0 for c in second.classes.values())
    runs = json.loads((data_dir / "reports" / "retention_2027-01-01.json").read_text())["runs"]
    assert [r["run_id"] for r in runs] == ["first", "second"]


@pytest.mark.enforces("retention.classes.prospects")
def test_anonymised_rows_cannot_be_linked_back(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", ERIN, phone="020 7946 0123", company="Quillworks Ltd",
                     title="Chief Revenue Officer", url="https://www.linkedin.com/in/erin-quill-42",
                     collected="2019-06-14", notes="met at the Leeds expo")])
    requests(crm, data_dir, "req.csv", [["REQ-1", "rectification", ERIN, "2019-07-01", '{"country": "IE"}']],
             today=date(2019, 7, 2))
    old_id, email_hash, phone_hash = crm.rows("SELECT prospect_id, email_hash, phone_hash FROM prospects")[0]
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO minor_reviews (prospect_id, signals, status, queued_at, decided_at) "
                          "VALUES (:p, 'student_job_title', 'adult', :d, :d)"), {"p": old_id, "d": CLOCK})
    report = sweep(crm, data_dir, date(2026, 1, 1))
    assert report.classes["prospects"].acted == 1
    (row,) = crm.rows("SELECT prospect_id, match_key, email, email_match_key, email_hash, phone_hash, domain_hash, "
                      "first_name, last_name, name_key, company, company_key, phone_e164, job_title, status, "
                      "first_seen_at, last_contact_at, country, source FROM prospects")
    new_id, match_key, *identifiers, title, status, first_seen, last_contact, country, source = row
    assert new_id != old_id and match_key == f"anonymised:{new_id}"
    assert identifiers == [None] * 11
    assert (title, status, country, source) == ("executive", "anonymised", "IE", "linkedin")
    assert str(first_seen)[:19] == "2019-06-01 00:00:00" and str(last_contact)[8:19] == "01 00:00:00"
    # The old id is gone from every table that named it; its sources went with it.
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == 0
    assert crm.scalar("SELECT COUNT(*) FROM minor_reviews") == 0
    assert crm.scalar("SELECT COUNT(*) FROM data_subject_requests WHERE prospect_id IS NOT NULL") == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE prospect_id = :p", p=old_id) == 0
    needles = [ERIN, "erin", "quill", "Quillworks", "2079460123", "7946 0123", "erin-quill-42", "Leeds expo", email_hash, phone_hash]
    hits = [h for h in scan_database(crm.engine, needles)
            if not h.is_in(tables=("data_subject_requests",))]  # the request's keyed hash: a record of dealings
    assert hits == []
    assert scan_folder(data_dir / "reports", needles) == []


@pytest.mark.enforces("retention.classes.prospects")
def test_new_ids_keep_nothing_of_the_old_order(crm, data_dir, monkeypatch):
    _prospects(crm, data_dir, old=200, new=0)
    old_ids = [r[0] for r in crm.rows("SELECT prospect_id FROM prospects")]
    mapping = []
    original = sweep_module.run_all

    def watch(conn, name, params, **constants):
        changed = original(conn, name, params, **constants)
        if name == "anonymise_new_ids":
            mapping.extend(conn.execute(text("SELECT old_id, new_id FROM ret_anon ORDER BY old_id")).all())
        return changed

    monkeypatch.setattr(sweep_module, "run_all", watch)
    sweep(crm, data_dir, date(2026, 1, 1))
    new_ids = [new for _, new in mapping]
    assert len(new_ids) == 200 and min(new_ids) > max(old_ids)
    assert sorted(new_ids) == sorted(r[0] for r in crm.rows("SELECT prospect_id FROM prospects"))
    # Had the new ids followed the old order, every next old id would get a
    # higher new id (100%); shuffled, about half do.
    rising = sum(1 for a, b in zip(new_ids, new_ids[1:], strict=False) if b > a) / (len(new_ids) - 1)
    assert 0.3 < rising < 0.7


def test_the_recheck_fails_the_run_when_something_past_retention_is_left(crm, data_dir, monkeypatch):
    SEEDS["quarantine"](crm, data_dir)
    original = sweep_module._Sweep._apply

    def skip_quarantine(self, conn, table_class, rule, bands):
        return 0 if table_class.name == "quarantine" else original(self, conn, table_class, rule, bands)

    monkeypatch.setattr(sweep_module._Sweep, "_apply", skip_quarantine)
    with pytest.raises(RetentionIncomplete, match="quarantine: 1"):
        sweep(crm, data_dir, boundary("quarantine"))
    report = json.loads((data_dir / "reports" / f"retention_{boundary('quarantine')}.json").read_text())
    assert report["runs"][-1]["status"] == "incomplete"


@pytest.mark.enforces("retention.classes.applicants_rejected", "retention.classes.applicants_hired")
def test_pending_and_disputed_applicants_are_kept(crm, data_dir):
    inbox = data_dir / "inbox" / "applicants"
    write_csv(inbox / "a.csv", APPLICANT_HEADER, [
        ["APP-P", "Pat", "Pending", "pat@acme.com", "", "2019-01-01", "pending", "", "", ""],
        ["APP-D", "Dee", "Dispute", "dee@acme.com", "", "2019-01-01", "rejected", "2019-02-01", "no", "yes"],
        ["APP-H", "Hal", "Hired", "hal@acme.com", "", "2019-01-01", "hired", "2019-02-01", "", "yes"],
    ])
    process_applicant_files(crm.engine, POLICY, RunInfo("ingest_applicants", "a", TODAY), inbox,
                            data_dir / "archive" / "applicants")
    sweep(crm, data_dir, date(2030, 1, 1))
    assert [r[0] for r in crm.rows("SELECT applicant_id FROM applicants ORDER BY applicant_id")] == \
        ["APP-D", "APP-H", "APP-P"]


@pytest.mark.enforces("retention.classes.drop_files")
def test_a_scrubbed_drop_keeps_its_archive_date(crm, data_dir):
    """An erasure rewrites archived drops; that must not restart their retention clock."""
    still_there = seed_drop_files(crm, data_dir)
    path = data_dir / "archive" / "research" / "abc123_old.csv"
    requests(crm, data_dir, "e.csv", [["E-1", "erasure", ERIN, "2026-11-20", ""]])
    assert not still_there() and OTHER in path.read_text()
    assert abs(os.stat(path).st_mtime - CLOCK.timestamp()) < 1


@pytest.mark.enforces("retention.classes.drop_files")
def test_archived_and_rejected_drops_are_dated_when_they_arrive(crm, data_dir):
    inbox = data_dir / "inbox" / "research"
    old = write_csv(inbox / "old.csv", RESEARCH_HEADER, [research_row("Erin", "Quill", ERIN)])
    os.utime(old, (CLOCK.timestamp(), CLOCK.timestamp()))
    ingest(crm, data_dir, RESEARCH, "other.csv", ["nonsense"], [["x"]])
    archived = [p for p in (data_dir / "archive" / "research").iterdir()]
    rejected = [p for p in (inbox / "rejected").iterdir()]
    assert archived and rejected
    for path in archived + rejected:
        assert datetime.now().timestamp() - os.stat(path).st_mtime < 600, path.name
    # A month later they are past retention, and the sweep deletes them.
    assert sweep(crm, data_dir, date.today() + timedelta(days=31)).classes["drop_files"].acted == len(
        archived + rejected)
    assert not any(Path(data_dir / "archive").rglob("*.csv")) and not any((inbox / "rejected").iterdir())
