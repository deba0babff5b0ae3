"""Children on SQLite and PostgreSQL: certain minors never enter and are removed
if held, likely minors wait out of use for a person's decision, the sweep finds
those who turn out to be minors after admission, and undecided reviews time out."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import write_csv
from drops import EVENT_HEADER, KEYS, POLICY, RESEARCH_HEADER, TODAY, event_row, ingest, research_row

from crm_hygiene.ingest.kinds import EVENTS, RESEARCH
from crm_hygiene.minor_review import run_minor_reviews
from crm_hygiene.run import RunInfo

CHILD_DOB = (TODAY - timedelta(days=365 * 14)).isoformat()
ADULT_DOB = "1990-04-01"


def reviews(crm, data_dir, decisions=(), today=TODAY, name="decisions.csv"):
    inbox = data_dir / "inbox" / "reviews"
    if decisions:
        write_csv(inbox / name, ["prospect_id", "decision"], [list(map(str, d)) for d in decisions])
    run = RunInfo(dag_id="review_minors", run_id=f"{name}-{today}", today=today)
    return run_minor_reviews(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "reviews").as_dict()


def status_of(crm, email):
    return crm.scalar("SELECT status FROM prospects WHERE email = :e", e=email)


def marketable(crm):
    return {r[0] for r in crm.rows("SELECT email FROM marketing_prospects")}


def open_reviews(crm):
    return crm.rows("SELECT p.email, r.signals FROM minor_reviews r JOIN prospects p USING (prospect_id) "
                    "WHERE r.status = 'open' ORDER BY p.email")


@pytest.mark.enforces("minors")
@pytest.mark.promise(2, 6)
def test_a_date_of_birth_or_age_under_16_never_enters_and_only_its_hash_stays(crm, data_dir):
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Kid", "One", "kid.one@gmail.com", phone="07911 123456", dob=CHILD_DOB),
        research_row("Kid", "Two", "kid.two@acme.com", age="12"),
        research_row("Ann", "Adult", "ann@acme.com", dob=ADULT_DOB, age="36"),
    ])
    assert summary["rows_admitted"] == 1 and summary["rows_blocked"] == 2 and summary["rows_quarantined"] == 0
    assert [r[0] for r in crm.rows("SELECT email FROM prospects")] == ["ann@acme.com"]
    kept = crm.rows("SELECT key_type, reason FROM suppression_list ORDER BY key_type")
    assert kept == [("email", "minor"), ("email", "minor"), ("phone", "minor")]
    audit = json.loads(crm.scalar("SELECT details FROM audit_log WHERE action = 'remove_minor'"))
    # The rules are named (and the under-13 threshold recorded), never the values.
    assert audit["by_rules"] == {"date_of_birth_under_16": 1, "stated_age_under_16,under_13": 1}
    dump = json.dumps(crm.rows("SELECT * FROM audit_log"), default=str) + json.dumps(
        crm.rows("SELECT * FROM quarantine"), default=str)
    assert "Kid" not in dump and "kid.one" not in dump and CHILD_DOB not in dump

    # The same entry, without its date of birth, does not come back.
    again = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Kid", "One", "Kid.One+x@googlemail.com", title="Analyst")])
    assert again["rows_admitted"] == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 1


@pytest.mark.enforces("minors")
@pytest.mark.promise(2)
def test_a_held_person_shown_to_be_under_16_is_removed_with_everything_linked(crm, data_dir):
    ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [event_row("Sam", "Young", "sam@acme.com", "yes")])
    assert "sam@acme.com" in marketable(crm)
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Sam", "Young", "SAM@acme.com", dob=CHILD_DOB)])
    assert summary["minors_removed"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == 0


@pytest.mark.enforces("minors", "input_validation")
def test_a_bad_row_of_a_child_is_counted_but_keeps_nothing(crm, data_dir):
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Kid", "Three", "not-an-address", dob=CHILD_DOB),
        research_row("Al", "Pupil", "also-bad", title="Year 10 pupil"),
    ])
    assert summary["rows_quarantined"] == 2
    rows = dict(crm.rows("SELECT row_number, raw_row FROM quarantine ORDER BY row_number"))
    assert rows[1] == "{}"
    reasons = dict(crm.rows("SELECT row_number, reasons FROM quarantine"))
    assert "minor_certain" in reasons[1] and "likely_minor" in reasons[2]


@pytest.mark.enforces("minors")
@pytest.mark.promise(2)
@pytest.mark.parametrize(("row", "signals"), [
    (research_row("P", "One", "p1@gmail.com", title="Year 10 Pupil"), "pupil_job_title"),
    (research_row("P", "Two", "p2@stmarys.sch.uk", title="Student", company=""), "student_job_title,school_email_domain"),
    (research_row("P", "Three", "p3@gmail.com", title="", company="Hillside Primary School"), "school_company"),
    (research_row("P", "Five", "p5@gmail.com", title="Marketing Intern", company="Hillside Primary School"), None),
    # A sixth former is 16-18: over the policy's minimum age, admitted like any adult.
    (research_row("P", "Six", "p6@hillside.lancs.sch.uk", title="Sixth form student", company="Hillside Academy"),
     None),
    (research_row("P", "Seven", "p7@gmail.com", title="Student Leader", company="Hillside High School"),
     "pupil_job_title,student_job_title,school_company"),
    (research_row("P", "Four", "p4@lincoln.k12.ne.us", title="student", company="Lincoln High School"),
     "student_job_title,school_email_domain,school_company"),
])
def test_school_signals_hold_a_likely_minor_out_of_use_until_someone_decides(crm, data_dir, row, signals):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [row])
    email = row[2]
    if signals is None:  # an adult's title outweighs the school
        assert status_of(crm, email) == "active"
        assert open_reviews(crm) == []
        return
    assert status_of(crm, email) == "minor_review"
    assert email not in marketable(crm)
    assert open_reviews(crm) == [(email, signals)]


@pytest.mark.enforces("minors")
def test_a_youth_event_is_a_signal_but_its_adult_staff_are_not_minors(crm, data_dir):
    ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [
        event_row("Tia", "Teen", "tia@gmail.com", "yes", event="Youth STEM Day 2026", title="", company=""),
        event_row("Ola", "Staff", "ola@stem.org", "yes", event="Youth STEM Day 2026", title="STEM Coordinator"),
    ])
    assert status_of(crm, "tia@gmail.com") == "minor_review"
    assert status_of(crm, "ola@stem.org") == "active"


@pytest.mark.enforces("minors")
@pytest.mark.parametrize("row", [
    research_row("Tea", "Cher", "t.cher@stmarys.sch.uk", title="Teacher", company="St Mary's Primary School"),
    research_row("Stu", "Loans", "s.l@slc.co.uk", title="Customer Adviser", company="Student Loans Company"),
    research_row("Hea", "Dof", "h@acme.com", title="Head of School Partnerships"),
    research_row("Phd", "Student", "phd@leeds.ac.uk", title="PhD Student", company="University of Leeds"),
    research_row("Six", "Teen", "six@gmail.com", title="Sixth form student", age="17"),
])
def test_hard_negatives_are_admitted_as_adults(crm, data_dir, row):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [row])
    assert status_of(crm, row[2]) == "active"
    assert open_reviews(crm) == []


@pytest.mark.enforces("minors")
@pytest.mark.promise(6)
def test_review_decisions_both_ways_are_applied_audited_and_remembered(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ada", "Grown", "ada@acme.com", title="Pupil"),
        research_row("Ben", "Child", "ben@gmail.com", title="Year 9 pupil", phone="07400 123456"),
    ])
    ids = dict(crm.rows("SELECT email, prospect_id FROM prospects"))
    summary = reviews(crm, data_dir, [(ids["ada@acme.com"], "adult"), (ids["ben@gmail.com"], "MINOR"),
                                      (999999, "adult"), ("x", "maybe")])
    assert (summary["decided_adult"], summary["decided_minor"], summary["decided_no_open_review"]) == (1, 1, 1)
    assert summary["rows_quarantined"] == 1 and summary["open_reviews"] == 0
    assert status_of(crm, "ada@acme.com") == "active" and "ada@acme.com" in marketable(crm)
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = 'ben@gmail.com'") == 0
    assert sorted(crm.rows("SELECT key_type FROM suppression_list WHERE reason = 'minor'")) == [("email",), ("phone",)]
    assert sorted(r[0] for r in crm.rows("SELECT status FROM minor_reviews")) == ["adult", "minor"]
    assert crm.scalar("SELECT rows_affected FROM audit_log WHERE action = 'minor_review_decisions'") == 2

    # Judged an adult: the same signals do not send Ada back to review; Ben stays out.
    again = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Ada", "Grown", "ada@acme.com", title="Pupil", collected="2026-04-01"),
        research_row("Ben", "Child", "ben@gmail.com", title="Analyst", collected="2026-04-01"),
    ])
    assert again["rows_admitted"] == 1 and status_of(crm, "ada@acme.com") == "active"
    assert open_reviews(crm) == []
    # Re-dropping the same decisions file changes nothing.
    assert reviews(crm, data_dir, [(ids["ada@acme.com"], "adult"), (ids["ben@gmail.com"], "MINOR"),
                                   (999999, "adult"), ("x", "maybe")])["files_already_processed"] == 1


@pytest.mark.enforces("minors")
def test_undecided_reviews_are_removed_after_the_policy_limit(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Cy", "Pupil", "cy@gmail.com",
                                                                            title="GCSE student")])
    limit = POLICY.minors.actions.review_timeout.days
    assert reviews(crm, data_dir, today=TODAY + timedelta(days=limit - 1))["expired_removed"] == 0
    assert status_of(crm, "cy@gmail.com") == "minor_review"
    summary = reviews(crm, data_dir, today=TODAY + timedelta(days=limit + 1))
    assert summary["expired_removed"] == 1 and summary["open_reviews"] == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0
    assert crm.rows("SELECT status, decided_by FROM minor_reviews") == [("expired", "timeout")]


@pytest.mark.enforces("minors")
@pytest.mark.promise(2)
def test_the_sweep_catches_someone_who_turned_out_to_be_a_minor_after_admission(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Dee", "Later", "dee@gmail.com", title="Marketing Assistant"),
        research_row("Eve", "Adult", "eve@acme.com", title="CTO"),
    ])
    assert reviews(crm, data_dir)["newly_queued"] == 0
    # Their record changes after admission (a correction says what they really are).
    with crm.engine.begin() as conn:
        from sqlalchemy import text
        conn.execute(text("UPDATE prospects SET job_title = 'Year 11 pupil' WHERE email = 'dee@gmail.com'"))
    summary = reviews(crm, data_dir)
    assert summary["newly_queued"] == 1 and summary["held_rescored"] == 2
    assert status_of(crm, "dee@gmail.com") == "minor_review" and "dee@gmail.com" not in marketable(crm)
    assert crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'queue_minor_review'") == 1
    # A second sweep asks nothing new.
    assert reviews(crm, data_dir)["newly_queued"] == 0


@pytest.mark.enforces("minors")
@pytest.mark.promise(2)
def test_no_minor_is_ever_in_marketing_prospects(crm, data_dir):
    rows = [research_row(f"N{i}", "Adult", f"n{i}@acme.com", title="Sales Manager") for i in range(5)]
    rows += [research_row("Kid", "A", "kid.a@gmail.com", dob=CHILD_DOB),
             research_row("Kid", "B", "kid.b@gmail.com", title="Pupil"),
             research_row("Kid", "C", "kid.c@hill.sch.uk", title="Student")]
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, rows)
    assert marketable(crm) == {f"n{i}@acme.com" for i in range(5)}
    minors_in_view = crm.scalar(
        "SELECT COUNT(*) FROM marketing_prospects m JOIN prospects p USING (prospect_id) "
        "WHERE p.status = 'minor_review' OR p.prospect_id IN (SELECT prospect_id FROM minor_reviews "
        "WHERE status = 'open')")
    assert minors_in_view == 0


@pytest.mark.enforces("minors")
def test_a_date_of_birth_in_the_policy_file_is_counted_on_the_runs_day():
    from crm_hygiene.minors import CERTAIN, NOT_A_MINOR, MinorRules

    rules = MinorRules(POLICY.minors)
    born = date(2010, 11, 25)
    assert rules.assess(today=date(2026, 11, 24), date_of_birth=born).verdict == CERTAIN
    assert rules.assess(today=date(2026, 11, 25), date_of_birth=born).verdict == NOT_A_MINOR


@pytest.mark.enforces("special_category")
@pytest.mark.promise(6)
def test_special_category_data_is_redacted_before_storage_and_counted(crm, data_dir):
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ivy", "Ok", "ivy@acme.com", title="Head of Sales", notes="Has diabetes; prefers email"),
        research_row("Jo", "Bad", "not-an-address", title="CTO", notes="Devout Catholic, union member"),
        research_row("Max", "Fine", "max@acme.com", title="Trade union rep and CTO"),
    ])
    assert summary["rows_admitted"] == 2 and summary["rows_quarantined"] == 1
    audit = json.loads(crm.scalar("SELECT details FROM audit_log WHERE action = 'redact_special_category'"))
    assert audit["cells_by_category"] == {"health": 1, "religion": 1, "trade_union": 2}
    everything = json.dumps([crm.rows(f"SELECT * FROM {t}") for t in (
        "prospects", "prospect_sources", "quarantine", "audit_log")], default=str).lower()
    for word in ("diabetes", "catholic", "union member", "trade union rep"):
        assert word not in everything
    assert crm.scalar("SELECT job_title FROM prospects WHERE email = 'max@acme.com'") == "[redacted] rep and CTO"
