"""Erasure finds everyone the merge rules tie to the person, purges every
quarantined row they left, closes their reviews and never hands their id on
(SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
from datetime import timedelta

import pytest
from conftest import write_csv
from drops import (
    EVENT_HEADER,
    KEYS,
    POLICY,
    RESEARCH_HEADER,
    TODAY,
    event_row,
    ingest,
    requests,
    research_row,
    sync,
)
from sqlalchemy import text

from crm_hygiene.ingest.kinds import EVENTS, RESEARCH
from crm_hygiene.minor_review import run_minor_reviews
from crm_hygiene.run import RunInfo

PAT_PHONE = "+442079460555"




def match_keys(crm) -> set[str]:
    return {r[0] for r in crm.rows("SELECT match_key FROM prospects")}


def pat_in_three_records(crm, data_dir):
    """Pat by name only, then by phone only, then with an email (and a colleague on the same switchboard)."""
    ingest(crm, data_dir, RESEARCH, "1-name.csv", RESEARCH_HEADER, [research_row("Pat", "Phone", "")])
    ingest(crm, data_dir, RESEARCH, "2-phone.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="020 7946 0555", company="Globex")])
    ingest(crm, data_dir, EVENTS, "3-email.csv", EVENT_HEADER, [
        event_row("Pat", "Phone", "pat@acme.com", "yes", phone="020 7946 0555"),
        event_row("Sam", "Board", "sam@acme.com", "yes", phone="020 7946 0555"),
        event_row("Kim", "Other", "kim@acme.com", "yes")])
    assert match_keys(crm) == {"n:pat phone|acme", f"p:{PAT_PHONE}", "e:pat@acme.com", "e:sam@acme.com",
                               "e:kim@acme.com"}


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_erasure_by_email_takes_the_phone_only_and_name_only_records_of_the_same_person(crm, data_dir):
    pat_in_three_records(crm, data_dir)

    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", "Pat@Acme.com", "2026-11-20", ""]])

    assert summary["outcomes"] == {"erasure:erased": 1}
    # The switchboard colleague is another person under the merge rules: kept.
    assert match_keys(crm) == {"e:sam@acme.com", "e:kim@acme.com"}
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE first_name = 'Pat'") == 0
    phone_hash = KEYS.current.digest(PAT_PHONE)
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE key_type = 'phone' AND key_hash = :h "
                      "AND reason = 'erasure'", h=phone_hash) == 1
    details = crm.scalar("SELECT details FROM audit_log WHERE action = 'erase'")
    assert '"erased": 3' in details and '"linked": 2' in details
    assert crm.rows("SELECT rows_affected FROM audit_log WHERE action = 'erase'") == [(3,)]
    # Linked records cannot come back either: an email-less row by the same phone is blocked.
    back = ingest(crm, data_dir, RESEARCH, "4-back.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="+44 20 7946 0555")])
    assert back["rows_blocked"] == 1


@pytest.mark.enforces("suppression")
@pytest.mark.promise(3)
def test_erasure_entry_on_a_list_takes_the_linked_records_too(crm, data_dir):
    pat_in_three_records(crm, data_dir)

    summary = sync(crm, data_dir, "s.csv", [["erasure", "pat@acme.com", "", "", "", "", "2026-11-01"]])

    assert summary["held_erased"] == 3
    assert match_keys(crm) == {"e:sam@acme.com", "e:kim@acme.com"}


def _quarantine(crm, rows):
    """Quarantined rows as the drop layer keeps them: raw row plus every identifier key."""
    with crm.engine.begin() as conn:
        for i, (email_key, phone_key, name_company_key) in enumerate(rows, start=1):
            conn.execute(text(
                "INSERT INTO quarantine (kind, source_file, file_sha256, row_number, reasons, raw_row, "
                "email_match_key, phone_key, name_company_key, quarantined_at) VALUES ('research', 'q.csv', "
                "'f00d', :n, 'x', '{}', :e, :p, :c, '2026-11-01 00:00:00')"),
                {"n": i, "e": email_key, "p": phone_key, "c": name_company_key})


def quarantined(crm) -> list[int]:
    return [r[0] for r in crm.rows("SELECT row_number FROM quarantine ORDER BY row_number")]


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_erasure_purges_quarantined_rows_by_phone_and_name_not_only_by_email(crm, data_dir):
    pat_in_three_records(crm, data_dir)
    _quarantine(crm, [
        ("pat@acme.com", None, None),  # 1: by email (worked before)
        (None, PAT_PHONE, None),  # 2: no email, phone that parsed
        (None, PAT_PHONE[1:], None),  # 3: a phone kept as digits
        (None, None, "pat phone|acme"),  # 4: malformed email, name at company
        ("kim@acme.com", "+442079460999", "kim other|acme"),  # 5: someone else
    ])

    requests(crm, data_dir, "e.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])

    assert quarantined(crm) == [5]
    assert '"quarantine_deleted": 4' in crm.scalar("SELECT details FROM audit_log WHERE action = 'erase'")


@pytest.mark.enforces("suppression")
@pytest.mark.promise(3)
def test_phone_scope_erasure_purges_quarantined_rows_by_phone(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "p.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="020 7946 0555")])
    _quarantine(crm, [(None, PAT_PHONE, None), (None, "+442079460999", None)])

    summary = sync(crm, data_dir, "s.csv", [["erasure", "", "", "020 7946 0555", "", "phone", "2026-11-01"]])

    assert summary["held_erased"] == 1
    assert quarantined(crm) == [2]


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_erasure_of_someone_not_held_purges_their_quarantined_rows(crm, data_dir):
    _quarantine(crm, [("gone@acme.com", None, None), ("kim@acme.com", None, None)])
    requests(crm, data_dir, "e.csv", [["E-1", "erasure", "Gone@acme.com", "2026-11-20", ""]])
    assert quarantined(crm) == [2]


@pytest.mark.enforces("suppression")
@pytest.mark.promise(3)
def test_a_list_erasure_of_someone_not_held_purges_their_quarantined_rows(crm, data_dir):
    """A list names people in plain too: their rows in quarantine go, though nobody was held."""
    _quarantine(crm, [("gone@acme.com", None, None), (None, PAT_PHONE, None), ("kim@acme.com", None, None)])
    summary = sync(crm, data_dir, "s.csv", [["erasure", "Gone+x@ACME.com", "", "", "", "", "2026-11-01"],
                                            ["erasure", "", "", "020 7946 0555", "", "", "2026-11-01"]])
    assert summary["held_erased"] == 0
    assert quarantined(crm) == [3]


@pytest.mark.enforces("data_subject_requests", "minors")
def test_an_erased_adults_review_is_closed_and_the_timeout_leaves_the_next_person_alone(crm, data_dir):
    # A likely minor (school signals only) waits for review: an adult, as it turns out.
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ada", "Adult", "ada@gmail.com", title="Year 10 pupil")])
    old_id = crm.scalar("SELECT prospect_id FROM prospects")
    assert crm.rows("SELECT status FROM minor_reviews") == [("open",)]

    requests(crm, data_dir, "e.csv", [["E-1", "erasure", "ada@gmail.com", "2026-11-20", ""]])
    ingest(crm, data_dir, RESEARCH, "n.csv", RESEARCH_HEADER, [research_row("Nia", "New", "nia@acme.com")],
           run_id="run-2")
    later = TODAY + timedelta(days=POLICY.minors.actions.review_timeout.days + 5)
    run = RunInfo(dag_id="review_minors", run_id="timeout", today=later)
    summary = run_minor_reviews(crm.engine, POLICY, KEYS, run, data_dir / "inbox" / "reviews",
                                data_dir / "archive" / "reviews").as_dict()

    # The new person is untouched: not erased, their hash not listed as a child's.
    assert crm.rows("SELECT email, status FROM prospects") == [("nia@acme.com", "active")]
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list WHERE reason = 'minor'") == 0
    assert summary["expired_removed"] == 0
    # Because the review was closed by the erasure, and the id was not handed on.
    assert crm.rows("SELECT prospect_id, status, decided_by FROM minor_reviews") == [(old_id, "erased", "erasure")]
    assert crm.scalar("SELECT prospect_id FROM prospects") > old_id


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_ids_are_never_reused(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("A", "One", "a@acme.com"), research_row("B", "Two", "b@acme.com")])
    highest = crm.scalar("SELECT MAX(prospect_id) FROM prospects")
    requests(crm, data_dir, "e.csv", [["E-1", "erasure", "b@acme.com", "2026-11-20", ""]])
    ingest(crm, data_dir, RESEARCH, "n.csv", RESEARCH_HEADER, [research_row("C", "Three", "c@acme.com")],
           run_id="run-2")
    assert crm.scalar("SELECT prospect_id FROM prospects WHERE email = 'c@acme.com'") > highest


@pytest.mark.enforces("minors")
def test_minor_review_decisions_still_close_as_minor(crm, data_dir):
    """Decided minors close with the reviewer's decision, not as a plain erasure."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Bo", "Kid", "bo@gmail.com", title="Year 10 pupil")])
    pid = crm.scalar("SELECT prospect_id FROM prospects")
    inbox = data_dir / "inbox" / "reviews"
    write_csv(inbox / "d.csv", ["prospect_id", "decision"], [[str(pid), "minor"]])
    run_minor_reviews(crm.engine, POLICY, KEYS, RunInfo("review_minors", "r", TODAY), inbox,
                      data_dir / "archive" / "reviews")
    assert crm.rows("SELECT status, decided_by FROM minor_reviews") == [("minor", "file:d.csv")]
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0


def test_minor_review_no_longer_reaches_into_the_ingest_features_admission():
    import crm_hygiene.minor_review as minor_review
    from crm_hygiene.erasure import MINOR_REASON, erase_minors

    tree = ast.parse(open(minor_review.__file__, encoding="utf-8").read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {"crm_hygiene.admission", "crm_hygiene.ingest.admission"} & imported
    assert "crm_hygiene.erasure" in imported
    assert callable(erase_minors) and MINOR_REASON == "minor"


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_rows_the_drop_layer_quarantined_without_a_usable_email_go_with_the_person(crm, data_dir):
    pat_in_three_records(crm, data_dir)
    bad = ingest(crm, data_dir, RESEARCH, "5-bad.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "pat@@acme", phone="020 7946 0555"),  # malformed email, phone
        research_row("Pat", "Phone", "", source="gossip"),  # no email or phone, bad source: name at Acme
        research_row("Kim", "Other", "kim@acme.com", source="gossip"),  # someone else
        # Enough good rows that the file passes the whole-file gate.
        *(research_row("Good", f"Row{i}", f"good{i}@acme.com") for i in range(20)),
    ])
    assert crm.scalar("SELECT COUNT(*) FROM quarantine") == 3, bad

    requests(crm, data_dir, "e.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])

    assert crm.rows("SELECT email_match_key FROM quarantine") == [("kim@acme.com",)]


@pytest.mark.enforces("suppression")
@pytest.mark.promise(3)
def test_a_phone_only_erasure_finds_a_row_quarantined_with_an_unknown_country(crm, data_dir):
    """The row's country is unknown, so its national number is read in the default
    region, as the list's phone is: the two meet, and the row goes."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="020 7946 0555", country="Atlantis"),
        research_row("Kim", "Other", "kim@acme.com")])
    assert quarantined(crm) == [1]
    sync(crm, data_dir, "s.csv", [["erasure", "", "", "020 7946 0555", "", "", "2026-11-01"]])
    assert quarantined(crm) == []
