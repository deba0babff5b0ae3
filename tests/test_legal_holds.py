"""Legal holds on SQLite and PostgreSQL: loaded as keyed hashes only, through the
shared drop layer, before any DAG that may erase acts (so DAG order never matters)."""

from __future__ import annotations

import pytest
from conftest import write_csv
from drops import KEYS, POLICY, RESEARCH_HEADER, TODAY, ingest, requests, research_row, sync
from sqlalchemy import text

from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.legal_holds import load_hold_drops
from crm_hygiene.run import RunInfo

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("retention"),
]

HOLD_HEADER = ["email", "case_ref", "placed_at", "released_at"]
ERIN = "erin.quill@acme.com"


def drop_holds(data_dir, name, rows, header=HOLD_HEADER):
    return write_csv(data_dir / "inbox" / "legal_holds" / name, header, rows)


def load(crm, data_dir, run_id="holds-1"):
    run = RunInfo(dag_id="retention_sweep", run_id=run_id, today=TODAY)
    return load_hold_drops(crm.engine, POLICY, KEYS, run, data_dir / "inbox" / "legal_holds",
                           data_dir / "archive" / "legal_holds").as_dict()


def hold_erin(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Erin", "Quill", ERIN, phone="020 7946 0123"),
        research_row("Other", "Person", "other@acme.com"),
    ])


def holds(crm):
    return crm.rows("SELECT subject_hash, key_id, case_ref, placed_at, released_at FROM legal_holds ORDER BY case_ref")


def test_holds_are_stored_as_keyed_hashes_of_the_match_key_only(crm, data_dir):
    drop_holds(data_dir, "h.csv", [[" Erin.Quill+legal@ACME.com ", "CASE-1", "2026-01-05", ""],
                                   ["other@acme.com", "CASE-2", "2026-02-01T10:00:00Z", "2026-03-01"]])
    summary = load(crm, data_dir)
    assert summary["files_loaded"] == 1 and summary["holds_placed"] == 2 and summary["holds_released"] == 1
    rows = holds(crm)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (KEYS.current.digest(ERIN), KEYS.current.key_id, "CASE-1"),
        (KEYS.current.digest("other@acme.com"), KEYS.current.key_id, "CASE-2")]
    assert str(rows[0][3])[:10] == "2026-01-05" and rows[0][4] is None
    assert str(rows[1][4])[:10] == "2026-03-01"
    # No plaintext (nor a piece of it) in the holds or the audit log.
    for table in ("legal_holds", "audit_log"):
        for row in crm.rows(f"SELECT * FROM {table}"):  # noqa: S608 - constant table names
            text_of_row = " ".join(str(v) for v in row).lower()
            assert "erin" not in text_of_row and "acme" not in text_of_row and "other@" not in text_of_row
    audit = crm.rows("SELECT rows_affected, details FROM audit_log WHERE action = 'legal_holds_loaded'")
    assert audit[0][0] == 2 and '"placed": 2' in audit[0][1] and '"released": 1' in audit[0][1]
    assert (data_dir / "archive" / "legal_holds").is_dir()
    assert not list((data_dir / "inbox" / "legal_holds").glob("*.csv"))


@pytest.mark.enforces("data_subject_requests")
def test_a_hold_dropped_with_an_erasure_request_refuses_it_without_any_retention_run(crm, data_dir):
    hold_erin(crm, data_dir)
    drop_holds(data_dir, "h.csv", [["erin.quill@acme.com", "CASE-9", "2026-11-01", ""]])
    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", "Erin.Quill@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"erasure:legal_hold": 1}
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = :e", e=ERIN) == 1
    assert crm.scalar("SELECT COUNT(*) FROM legal_holds") == 1
    assert (data_dir / "archive" / "legal_holds").is_dir()


@pytest.mark.enforces("data_subject_requests")
def test_a_release_drop_ends_the_hold_and_a_later_erasure_goes_through(crm, data_dir):
    hold_erin(crm, data_dir)
    drop_holds(data_dir, "h1.csv", [[ERIN, "CASE-9", "2026-06-01", ""]])
    assert load(crm, data_dir, "holds-1")["holds_placed"] == 1
    refused = requests(crm, data_dir, "e1.csv", [["E-1", "erasure", ERIN, "2026-11-20", ""]])
    assert refused["outcomes"] == {"erasure:legal_hold": 1}
    # The release (and an earlier placing) update the one hold: no second row.
    drop_holds(data_dir, "h2.csv", [[ERIN, "CASE-9", "2026-05-01", "2026-11-10"]])
    released = load(crm, data_dir, "holds-2")
    assert (released["holds_placed"], released["holds_updated"], released["holds_released"]) == (0, 1, 1)
    rows = holds(crm)
    assert len(rows) == 1 and str(rows[0][3])[:10] == "2026-05-01" and str(rows[0][4])[:10] == "2026-11-10"
    done = requests(crm, data_dir, "e2.csv", [["E-2", "erasure", ERIN, "2026-11-21", ""]])
    assert done["outcomes"] == {"erasure:erased": 1}
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = :e", e=ERIN) == 0


def test_the_same_bytes_twice_change_nothing_and_a_repeat_in_new_bytes_updates_nothing(crm, data_dir):
    rows = [[ERIN, "CASE-1", "2026-01-05", ""]]
    drop_holds(data_dir, "h.csv", rows)
    assert load(crm, data_dir, "holds-1")["holds_placed"] == 1
    before = holds(crm)
    drop_holds(data_dir, "h.csv", rows)
    again = load(crm, data_dir, "holds-2")
    assert again["files_already_processed"] == 1 and again["files_loaded"] == 0
    drop_holds(data_dir, "h3.csv", rows + [[ERIN, "CASE-1", "2026-02-01", ""]])  # later placing: no change
    repeat = load(crm, data_dir, "holds-3")
    assert (repeat["holds_placed"], repeat["holds_updated"], repeat["holds_released"]) == (0, 0, 0)
    assert holds(crm) == before
    assert crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'legal_holds_loaded'") == 2


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_bad_hold_rows_are_quarantined_with_reasons_and_the_good_rows_load(crm, data_dir):
    too_long = "C" * (POLICY.input_validation.max_cell_length.limit("case_ref") + 1)
    drop_holds(data_dir, "h.csv", [
        ["not-an-email", "CASE-1", "2026-01-05", ""],
        [ERIN, "   ", "2026-01-05", ""],
        [ERIN, too_long, "2026-01-05", ""],
        [ERIN, "CASE-2", "last tuesday", ""],
        [ERIN, "CASE-3", "0999-01-01", ""],
        [ERIN, "CASE-4", "2026-12-25", ""],
        [ERIN, "CASE-5", "2026-01-05", "soon"],
        [ERIN, "CASE-6", "2026-03-01", "2026-02-01"],
        [ERIN, "CASE-7", "2026-01-05", ""],
    ])
    summary = load(crm, data_dir)
    assert summary["rows_quarantined"] == 8 and summary["holds_placed"] == 1
    reasons = [r[0] for r in crm.rows("SELECT reasons FROM quarantine ORDER BY row_number")]
    assert reasons == ["email_invalid", "case_ref_invalid", "case_ref_invalid", "placed_at_invalid",
                       "placed_at_out_of_range", "placed_at_in_future", "released_at_invalid",
                       "released_before_placed"]
    assert [r[2] for r in holds(crm)] == ["CASE-7"]


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_a_holds_file_that_cannot_be_read_is_rejected_and_fails_the_erasing_dag(crm, data_dir):
    drop_holds(data_dir, "h.csv", [[ERIN, "2026-01-05"]], header=["email", "placed_at"])
    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", "nobody@acme.com", "2026-11-20", ""]])
    assert list(summary["rejected"]) == ["legal_holds/h.csv"] and summary["files_rejected"] == 1
    assert (data_dir / "inbox" / "legal_holds" / "rejected" / "h.csv.reason.txt").exists()


@pytest.mark.enforces("suppression")
def test_a_suppression_list_erasure_entry_is_refused_for_a_held_person(crm, data_dir):
    hold_erin(crm, data_dir)
    drop_holds(data_dir, "h.csv", [[ERIN, "CASE-9", "2026-11-01", ""]])
    summary = sync(crm, data_dir, "s.csv", [["erasure", "ERIN.QUILL@acme.com", "", "", "", "", "2026-11-01"]])
    assert summary["erasure_refused_legal_hold"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE email = :e", e=ERIN) == 1
    assert crm.scalar("SELECT COUNT(*) FROM legal_holds") == 1


def test_the_minor_review_dag_loads_pending_holds_first(crm, data_dir):
    from crm_hygiene.minor_review import run_minor_reviews

    drop_holds(data_dir, "h.csv", [[ERIN, "CASE-9", "2026-11-01", ""]])
    run = RunInfo(dag_id="minor_review", run_id="m-1", today=TODAY)
    run_minor_reviews(crm.engine, POLICY, KEYS, run, data_dir / "inbox" / "reviews", data_dir / "archive" / "reviews")
    with crm.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM legal_holds")).scalar_one() == 1
