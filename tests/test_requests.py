"""Data-subject requests on SQLite and PostgreSQL: each type carried out, tracked
against its deadline, and an erasure that leaves nothing of the person behind."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from conftest import write_csv
from drops import (
    ENQUIRY_HEADER,
    EVENT_HEADER,
    KEYS,
    POLICY,
    REQUEST_HEADER,
    RESEARCH_HEADER,
    TODAY,
    enquiry_row,
    event_row,
    ingest,
    requests,
    research_row,
)
from sqlalchemy import inspect, text

from crm_hygiene.ingest.kinds import ENQUIRIES, EVENTS, RESEARCH
from crm_hygiene.run import RunInfo
from crm_hygiene.subject_requests import process_inbox

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("data_subject_requests"),
]


def hold_ingest(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", "erin.quill@acme.com", phone="020 7946 0123", title="CTO"),
        research_row("Other", "Person", "other@acme.com"),
    ])


def request_row(crm, request_id):
    return crm.rows("SELECT type, status, outcome, received_at, due_at, completed_at FROM data_subject_requests "
                    "WHERE request_id = :r", r=request_id)[0]


def test_access_answer_holds_every_field_source_basis_and_retention(crm, data_dir):
    hold_ingest(crm, data_dir)
    summary = requests(crm, data_dir, "q.csv", [["A-1", "access", "Erin.Quill+x@ACME.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"access:answered": 1}
    answer = json.loads((data_dir / "exports" / "dsr" / "A-1.json").read_text())
    assert answer["data_held"] is True
    assert answer["personal_data"]["email"] == "erin.quill@acme.com"
    assert answer["personal_data"]["phone_e164"] == "+442079460123"
    assert answer["lawful_basis"] == "legitimate_interests"
    assert [s["source"] for s in answer["where_it_came_from"]] == ["linkedin"]
    assert answer["purposes"] and answer["recipient_categories"]
    assert answer["retained_until"].startswith("2032-03-01")  # six years after last contact
    assert answer["suppression"] == []
    kind, status, outcome, received, due, completed = request_row(crm, "A-1")
    assert (kind, status, outcome) == ("access", "completed", "answered")
    assert str(due)[:10] == "2026-12-20"  # one calendar month after receipt
    assert completed is not None
    assert not list((data_dir / "exports" / "dsr").glob(".*.tmp"))


def test_portability_for_someone_not_held_is_answered_as_such(crm, data_dir):
    summary = requests(crm, data_dir, "q.csv", [["P-1", "portability", "nobody@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"portability:answered_not_held": 1}
    answer = json.loads((data_dir / "exports" / "dsr" / "P-1.json").read_text())
    assert answer["data_held"] is False and "personal_data" not in answer


def test_rectification_applies_validated_fields_and_audits_names_only(crm, data_dir):
    hold_ingest(crm, data_dir)
    summary = requests(crm, data_dir, "q.csv", [
        ["R-1", "rectification", "erin.quill@acme.com", "2026-11-20",
         json.dumps({"job_title": "  Chief  Data Officer ", "country": "Deutschland", "phone": "030 123456"})]])
    assert summary["outcomes"] == {"rectification:rectified": 1}
    row = crm.rows("SELECT job_title, country, phone_e164 FROM prospects WHERE email = 'erin.quill@acme.com'")
    assert row == [("Chief Data Officer", "DE", "+4930123456")]
    audit = crm.rows("SELECT reason, details FROM audit_log WHERE action = 'dsr_rectification'")
    assert audit[0][0] == "rectified" and "country,job_title,phone" in audit[0][1]
    assert "Chief" not in str(crm.rows("SELECT * FROM audit_log"))


@pytest.mark.enforces("input_validation")
def test_rectification_with_invalid_details_stays_open_for_a_person(crm, data_dir):
    hold_ingest(crm, data_dir)
    summary = requests(crm, data_dir, "q.csv", [
        ["R-2", "rectification", "erin.quill@acme.com", "2026-11-20", json.dumps({"country": "Narnia"})],
        ["R-3", "rectification", "erin.quill@acme.com", "2026-11-21", json.dumps({"salary": "1"})]])
    assert summary["outcomes"] == {"rectification:details_invalid": 2}
    assert request_row(crm, "R-2")[1] == "open"
    assert crm.scalar("SELECT country FROM prospects WHERE email = 'erin.quill@acme.com'") == "GB"


def test_restriction_keeps_the_person_out_of_every_use(crm, data_dir):
    hold_ingest(crm, data_dir)
    requests(crm, data_dir, "q.csv", [["S-1", "restriction", "erin.quill@acme.com", "2026-11-20", ""]])
    assert crm.scalar("SELECT status FROM prospects WHERE email = 'erin.quill@acme.com'") == "restricted"
    assert crm.scalar("SELECT COUNT(*) FROM marketing_prospects WHERE email = 'erin.quill@acme.com'") == 0
    later = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER,
                   [research_row("Erin", "Quill", "erin.quill@acme.com", title="CEO", collected="2026-11-01")])
    assert later["rows_blocked"] == 1
    assert crm.scalar("SELECT job_title FROM prospects WHERE email = 'erin.quill@acme.com'") == "CTO"


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_objection_suppresses_held_or_not(crm, data_dir):
    hold_ingest(crm, data_dir)
    summary = requests(crm, data_dir, "q.csv", [
        ["O-1", "objection", "erin.quill@acme.com", "2026-11-20", ""],
        ["O-2", "objection", "later@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"objection:suppressed": 1, "objection:not_held_suppressed": 1}
    assert crm.scalar("SELECT status FROM prospects WHERE email = 'erin.quill@acme.com'") == "suppressed"
    later = ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [event_row("L", "Ater", "Later+x@acme.com", "yes")])
    assert later["rows_blocked"] == 1


def _every_text_value(crm) -> str:
    """Every value of every table in the CRM database, as one string."""
    chunks = []
    with crm.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - table names from the catalog
                chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks).lower()


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1, 3, 6)
def test_erasure_leaves_nothing_but_a_hash_and_blocks_every_return(crm, data_dir):
    hold_ingest(crm, data_dir)
    # The person also referred a friend, had a bad row quarantined, and asked for a copy earlier.
    ingest(crm, data_dir, ENQUIRIES, "q.csv", ENQUIRY_HEADER, [
        enquiry_row("Friend", "Zed", "friend@acme.com", "email_a_friend", "", referred_by="erin.quill@acme.com"),
        enquiry_row("Erin", "Quill", "erin.quill@acme.com", "web_form", "maybe")])  # bad consent value
    requests(crm, data_dir, "a.csv", [["E-0", "access", "erin.quill@acme.com", "2026-11-10", ""]])
    assert (data_dir / "exports" / "dsr" / "E-0.json").exists()

    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", "ERIN.QUILL@acme.com", "2026-11-20", ""]])

    assert summary["outcomes"] == {"erasure:erased": 1}
    everything = _every_text_value(crm)
    for needle in ("erin", "quill", "7946 0123", "442079460123"):
        assert needle not in everything, f"{needle!r} survived the erasure"
    assert not (data_dir / "exports" / "dsr" / "E-0.json").exists()
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = 'friend@acme.com'") == 1
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE reason = 'erasure'") == 2  # email and phone
    audit = crm.rows("SELECT subject_ref, rows_affected FROM audit_log WHERE action = 'erase'")
    assert audit == [("request:E-1", 1)]
    for kind, header, row in (
        (RESEARCH, RESEARCH_HEADER, research_row("Erin", "Quill", "erin.quill+again@acme.com")),
        (EVENTS, EVENT_HEADER, event_row("Erin", "Quill", "Erin.Quill@ACME.com", "yes")),
        (ENQUIRIES, ENQUIRY_HEADER, enquiry_row("Erin", "Quill", " erin.quill@acme.com ", "web_form", "yes")),
    ):
        assert ingest(crm, data_dir, kind, f"back-{kind.name}.csv", header, [row])["rows_blocked"] == 1
    assert "erin" not in _every_text_value(crm)


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_erasure_of_someone_not_held_still_keeps_them_out(crm, data_dir):
    summary = requests(crm, data_dir, "e.csv", [["E-2", "erasure", "never@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"erasure:not_held_suppressed": 1}
    assert ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
                  [research_row("Never", "Again", "never@acme.com")])["rows_blocked"] == 1


@pytest.mark.enforces("retention")
def test_erasure_is_refused_while_a_legal_hold_names_the_person(crm, data_dir):
    hold_ingest(crm, data_dir)
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO legal_holds (subject_hash, key_id, case_ref, placed_at) "
                          "VALUES (:h, :k, 'CASE-9', :t)"),
                     {"h": KEYS.current.digest("erin.quill@acme.com"), "k": KEYS.current.key_id,
                      "t": datetime(2026, 1, 1)})
    summary = requests(crm, data_dir, "e.csv", [["E-3", "erasure", "erin.quill@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"erasure:legal_hold": 1}
    assert request_row(crm, "E-3")[1:3] == ("refused", "legal_hold")
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = 'erin.quill@acme.com'") == 1


def test_open_requests_are_reported_a_week_before_they_fall_due_and_when_overdue(crm, data_dir):
    hold_ingest(crm, data_dir)
    bad = json.dumps({"country": "Narnia"})
    requests(crm, data_dir, "q.csv", [
        ["D-1", "rectification", "erin.quill@acme.com", "2026-11-01", bad],  # due 2026-12-01
        ["D-2", "rectification", "erin.quill@acme.com", "2026-11-20", bad]])  # due 2026-12-20
    early = requests(crm, data_dir, "none.csv", [], today=date(2026, 11, 20))
    assert early["due_within_warning"] == [] and early["overdue"] == [] and early["open"] == 2
    week_before = requests(crm, data_dir, "none2.csv", [["X-1", "access", "x@acme.com", "2026-11-24", ""]],
                           today=date(2026, 11, 25))
    assert week_before["due_within_warning"] == ["D-1"]
    late = requests(crm, data_dir, "none3.csv", [["X-2", "access", "y@acme.com", "2026-11-24", ""]],
                    today=date(2026, 12, 2))
    assert late["overdue"] == ["D-1"] and late["due_within_warning"] == []


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_bad_request_rows_are_quarantined_and_a_re_drop_changes_nothing(crm, data_dir):
    rows = [["", "access", "a@acme.com", "2026-11-20", ""], ["B-1", "delete_me", "a@acme.com", "2026-11-20", ""],
            ["B-2", "access", "a@acme.com", "2026-11-20", ""]]
    summary = requests(crm, data_dir, "q.csv", rows)
    assert summary["rows_quarantined"] == 2 and summary["outcomes"] == {"access:answered_not_held": 1}
    again = requests(crm, data_dir, "q2.csv", rows[2:])
    assert again["duplicates_ignored"] == 1 and again["outcomes"] == {}


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
@pytest.mark.parametrize("missing", ["request_id", "email"])
def test_a_request_file_without_required_columns_is_rejected(crm, data_dir, missing):
    header = [c for c in REQUEST_HEADER if c != missing]
    inbox = data_dir / "inbox" / "requests"
    write_csv(inbox / "x.csv", header, [["x"] * len(header)])
    summary = process_inbox(crm.engine, POLICY, KEYS, RunInfo("d", "r", TODAY), inbox, data_dir / "archive",
                            data_dir / "exports" / "dsr")
    assert summary.rejected and (inbox / "rejected" / "x.csv").exists()
