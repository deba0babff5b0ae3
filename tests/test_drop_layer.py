"""Issue 11's drop-layer defects, each reproduced on SQLite and PostgreSQL: a poison
file never blocks the inbox, a bad row costs only that row, no value reaches a
reason, and no drop can write or read outside its folder."""

from __future__ import annotations

import json
import os

import pytest
from conftest import write_csv
from drops import KEYS, POLICY, RESEARCH_HEADER, TODAY, research_row
from sqlalchemy.exc import OperationalError

from crm_hygiene.drops.inbox import DatabaseUnavailable
from crm_hygiene.ingest import pipeline
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.run import RunInfo
from crm_hygiene.subject_requests import process_inbox

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("input_validation"),
    pytest.mark.promise(7),
]

PLANTED = "zq.planted@acme-plant.com"


def run_research(crm, data_dir, run_id="r"):
    inbox = data_dir / "inbox" / "research"
    run = RunInfo(dag_id="ingest_research_lists", run_id=run_id, today=TODAY)
    return ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, run, inbox, data_dir / "archive" / "research").as_dict()


def research_text(*rows: str, header: str = ",".join(RESEARCH_HEADER)) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


GOOD = "Ann,Lee,ann@acme.com,,Acme Ltd,CTO,UK,linkedin,,2026-03-01,,,"
GOOD_2 = "Bob,Ray,bob@acme.com,,Acme Ltd,CFO,UK,linkedin,,2026-03-01,,,"


def everything_said(crm, data_dir) -> str:
    """Every reason the pipeline wrote down: audit log, quarantine reasons, .reason.txt files."""
    audit = crm.rows("SELECT action, subject_ref, reason, details FROM audit_log")
    reasons = crm.rows("SELECT reasons FROM quarantine")
    files = [p.read_text() for p in data_dir.rglob("*.reason.txt")]
    return repr((audit, reasons, files))


def test_a_spreadsheet_header_ending_in_empty_names_loads(crm, data_dir):
    (data_dir / "inbox" / "research").mkdir(parents=True)
    (data_dir / "inbox" / "research" / "sheet.csv").write_bytes(
        research_text(GOOD + ",,,", GOOD_2 + ",,,", header=",".join(RESEARCH_HEADER) + ",,,"))
    summary = run_research(crm, data_dir)
    assert summary["files_loaded"] == 1 and summary["rows_quarantined"] == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 2


@pytest.mark.parametrize("bad_row, reason", [
    (GOOD.replace("2026-03-01", "0001-01-01T00:00:00+02:00"), "collected_at_out_of_range"),
    (GOOD.replace("2026-03-01", "9999-12-31T23:59:59-05:00"), "collected_at_out_of_range"),
    (GOOD.replace(",,,", ",,²,"), "age_invalid"),
    (GOOD.replace(",,,", ",,٣,"), "age_invalid"),
    (GOOD.replace("Acme Ltd", "Acme\x00Ltd"), "nul_character"),
    (GOOD.replace("Acme Ltd", "A" * 1_000_000), "company_too_long"),
    ('Cy,"Unclosed,cy@acme.com,,Acme Ltd,CTO,UK,linkedin,,2026-03-01,,,', "unbalanced_quote"),
    (GOOD + ",surplus", "too_many_fields"),
    ("Dee,Short,dee@acme.com", "too_few_fields"),
])
def test_a_bad_row_is_quarantined_with_its_reason_and_the_rest_of_the_file_loads(crm, data_dir, bad_row, reason):
    (data_dir / "inbox" / "research").mkdir(parents=True)
    (data_dir / "inbox" / "research" / "drop.csv").write_bytes(research_text(GOOD, bad_row, GOOD_2))
    summary = run_research(crm, data_dir)
    assert summary["files_loaded"] == 1 and summary["files_rejected"] == 0
    assert sorted(r[0] for r in crm.rows("SELECT email FROM prospects")) == ["ann@acme.com", "bob@acme.com"]
    assert crm.rows("SELECT row_number, reasons FROM quarantine") == [(2, reason)]


def test_a_file_without_a_header_is_rejected_without_quoting_its_first_row(crm, data_dir):
    inbox = data_dir / "inbox" / "research"
    inbox.mkdir(parents=True)
    (inbox / "headless.csv").write_bytes(f"Zed,Quill,{PLANTED},,Acme Ltd,CTO,UK,linkedin,,2026-03-01\n".encode())
    summary = run_research(crm, data_dir)
    assert summary["files_rejected"] == 1
    assert "no header row" in summary["rejected"]["headless.csv"]
    said = everything_said(crm, data_dir) + json.dumps(summary)
    assert PLANTED not in said and "quill" not in said.lower()


def test_an_unforeseen_error_sets_the_file_aside_by_type_only_and_the_next_file_loads(crm, data_dir, monkeypatch):
    inbox = data_dir / "inbox" / "research"
    write_csv(inbox / "a_poison.csv", RESEARCH_HEADER, [research_row("Zed", "Quill", PLANTED)])
    write_csv(inbox / "b_good.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.com")])
    real = pipeline._load_file

    def poisoned(conn, drop, *args, **kwargs):
        if drop.name == "a_poison.csv":
            raise KeyError(PLANTED)  # an error whose text carries a cell, as a database error's would
        return real(conn, drop, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_load_file", poisoned)
    summary = run_research(crm, data_dir)
    assert summary["files_loaded"] == 1 and summary["files_set_aside"] == 1
    assert "KeyError" in summary["set_aside"]["a_poison.csv"]
    assert (inbox / "rejected" / "a_poison.csv").exists() and not (inbox / "a_poison.csv").exists()
    assert "KeyError" in (inbox / "rejected" / "a_poison.csv.reason.txt").read_text()
    assert crm.rows("SELECT email FROM prospects") == [("ann@acme.com",)]
    assert crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'file_set_aside'") == 1
    assert crm.scalar("SELECT COUNT(*) FROM ingested_files") == 1  # the poison's transaction rolled back
    assert PLANTED not in everything_said(crm, data_dir) + json.dumps(summary)


def test_a_database_outage_is_retried_not_set_aside(crm, data_dir, monkeypatch):
    inbox = data_dir / "inbox" / "research"
    write_csv(inbox / "drop.csv", RESEARCH_HEADER, [research_row("Zed", "Quill", PLANTED)])

    def outage(*_args, **_kwargs):
        raise OperationalError(f"INSERT ... {PLANTED}", {}, ConnectionError("server closed the connection"),
                               connection_invalidated=True)

    monkeypatch.setattr(pipeline, "_load_file", outage)
    with pytest.raises(DatabaseUnavailable) as raised:
        run_research(crm, data_dir)
    assert PLANTED not in str(raised.value)
    assert (inbox / "drop.csv").exists() and not (inbox / "rejected").exists()
    monkeypatch.undo()
    assert run_research(crm, data_dir)["files_loaded"] == 1  # the retry


def test_a_symlink_or_fifo_in_the_inbox_is_rejected_never_followed(crm, data_dir, tmp_path):
    inbox = data_dir / "inbox" / "research"
    inbox.mkdir(parents=True)
    outside = tmp_path / "outside.csv"
    outside.write_bytes(research_text(GOOD))
    (inbox / "link.csv").symlink_to(outside)
    os.mkfifo(inbox / "pipe.csv")
    summary = run_research(crm, data_dir)
    assert set(summary["rejected"]) == {"link.csv", "pipe.csv"}
    assert "symbolic link" in summary["rejected"]["link.csv"]
    assert "not a regular file" in summary["rejected"]["pipe.csv"]
    assert outside.read_bytes() == research_text(GOOD)  # the target is neither read into the CRM nor moved
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0


@pytest.mark.parametrize("request_id", ["../../../dags/evil", "ABSOLUTE", ".hidden", "a/b", "x\x00y"])
def test_a_request_id_that_would_leave_the_exports_folder_is_quarantined(crm, data_dir, tmp_path, request_id):
    absolute = tmp_path / "evil-abs"
    request_id = str(absolute) if request_id == "ABSOLUTE" else request_id
    inbox = data_dir / "inbox" / "requests"
    write_csv(inbox / "q.csv", ["request_id", "type", "email", "received_at"],
              [[request_id, "access", "ann@acme.com", "2026-11-20"], ["OK-1", "access", "ann@acme.com", "2026-11-20"]])
    run = RunInfo(dag_id="process_data_subject_requests", run_id="r", today=TODAY)
    summary = process_inbox(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "requests",
                            data_dir / "exports" / "dsr").as_dict()
    assert summary["outcomes"] == {"access:answered_not_held": 1}
    assert [p.name for p in (data_dir / "exports" / "dsr").iterdir()] == ["OK-1.json"]
    reasons = crm.scalar("SELECT reasons FROM quarantine")
    assert reasons in ("request_id_invalid", "nul_character")
    assert not (data_dir.parent / "dags").exists() and not absolute.with_suffix(".json").exists()


def test_deeply_nested_details_json_is_a_bad_row_not_a_crash(crm, data_dir):
    inbox = data_dir / "inbox" / "requests"
    nested = "[" * 1500 + "]" * 1500  # deeper than Python's recursion limit, within the 4,000-character cap
    write_csv(inbox / "q.csv", ["request_id", "type", "email", "received_at", "details"],
              [["R-1", "rectification", "ann@acme.com", "2026-11-20", nested]])
    run = RunInfo(dag_id="process_data_subject_requests", run_id="r", today=TODAY)
    summary = process_inbox(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "requests",
                            data_dir / "exports" / "dsr").as_dict()
    assert summary["files_loaded"] == 1
    assert crm.scalar("SELECT reasons FROM quarantine") == "details_not_json_object"


def test_a_processed_drop_another_process_archives_first_is_not_an_error(crm, data_dir, monkeypatch):
    """Two workers, one file: an ingest archives its own drop while an erasure's
    scrubber sweeps processed leftovers (or the reverse). Whoever moves second
    finds it gone, and that is the outcome both wanted."""
    from crm_hygiene.drops import files, inbox

    run = RunInfo(dag_id="test", run_id="r1", today=TODAY)
    drop = write_csv(data_dir / "inbox" / "research" / "r.csv", RESEARCH_HEADER,
                     [research_row("Pat", "Lee", "pat@acme.com")])
    ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, run, data_dir / "inbox" / "research",
                 data_dir / "archive" / "research")
    write_csv(drop, RESEARCH_HEADER, [research_row("Pat", "Lee", "pat@acme.com")])  # the same bytes again
    elsewhere = data_dir / "archive" / "research" / "taken-by-the-other-worker.csv"

    def processed_and_taken_meanwhile(engine, sha256):
        drop.rename(elsewhere)  # the other worker's move lands between the look and ours
        return True

    monkeypatch.setattr(inbox, "already_processed", processed_and_taken_meanwhile)
    assert inbox.archive_processed_leftovers(crm.engine, data_dir / "inbox", data_dir / "archive") == 0
    assert elsewhere.exists() and not drop.exists()
    # A drop still there is moved.
    write_csv(drop, RESEARCH_HEADER, [research_row("Pat", "Lee", "pat@acme.com")])
    assert files.archive_unless_taken(drop, data_dir / "archive" / "research" / "moved.csv") is True
    assert not drop.exists() and (data_dir / "archive" / "research" / "moved.csv").exists()
