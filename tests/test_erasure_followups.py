"""After an erasure: answer files and drop files are dealt with from a durable
to-do, so a crash after the commit is finished by the next run (SQLite and
PostgreSQL). Promise 3: nothing of the person stays in the data folder."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest
from conftest import write_csv
from drops import (
    ENQUIRY_HEADER,
    KEYS,
    POLICY,
    RESEARCH_HEADER,
    TODAY,
    enquiry_row,
    ingest,
    requests,
    research_row,
    sync,
)
from sqlalchemy import text

from crm_hygiene.drops import files
from crm_hygiene.ingest.kinds import ENQUIRIES, RESEARCH
from crm_hygiene.run import RunInfo

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("data_subject_requests"),
    pytest.mark.promise(3),
]

# Every way the erased person could still be read in a file.
PAT_STRINGS = ("pat@acme.com", "Pat", "Quill", "7946 0555", "79460555")


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, nothing catches it."""




def followups(crm) -> list[tuple]:
    return crm.rows("SELECT kind, answer_file, key_type, key_hash, key_id, subject_ref FROM erasure_followups")


def audit_details(crm, action) -> list[str]:
    return [r[0] for r in crm.rows("SELECT details FROM audit_log WHERE action = :a ORDER BY audit_id", a=action)]


def test_an_answer_file_survives_no_crash_after_the_erasure_commits(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Quill", "pat@acme.com", phone="020 7946 0555")])
    requests(crm, data_dir, "a.csv", [["A-1", "access", "pat@acme.com", "2026-11-10", ""]])
    answer = data_dir / "exports" / "dsr" / "A-1.json"
    assert "Quill" in answer.read_text()

    real_unlink = Path.unlink

    def crash_on_answer(self, *args, **kwargs):
        if self.suffix == ".json":
            raise Crash
        return real_unlink(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Crash):
        patch.setattr(Path, "unlink", crash_on_answer)
        requests(crm, data_dir, "e.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])
    # The erasure committed; its file work is on the to-do, holding no plaintext.
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0
    assert crm.scalar("SELECT answer_file FROM data_subject_requests WHERE request_id = 'A-1'") is None
    pending = followups(crm)
    assert ("answer_file", "dsr/A-1.json", None, None, None, "request:E-1") in pending  # relative to exports/
    assert not any(s.lower() in repr(pending).lower() for s in PAT_STRINGS)

    requests(crm, data_dir, "", [], run_id="rerun")  # the next run, nothing new dropped

    assert not answer.exists()
    assert followups(crm) == []
    assert '"answer_files_deleted": 1' in audit_details(crm, "erasure_followups")[-1]


def test_only_answer_files_inside_exports_are_ever_deleted(crm, data_dir):
    outside = data_dir.parent / "elsewhere.txt"
    outside.write_text("keep me")
    inside = data_dir / "exports" / "dsr" / "X-1.json"
    inside.parent.mkdir(parents=True)
    inside.write_text("{}")
    with crm.engine.begin() as conn:
        for path in (outside, inside, data_dir / "exports" / ".." / ".." / "elsewhere.txt"):
            conn.execute(text("INSERT INTO erasure_followups (kind, answer_file, subject_ref, queued_at) "
                              "VALUES ('answer_file', :p, 'test', '2026-11-20 00:00:00')"), {"p": str(path)})

    from crm_hygiene.erasure_files import complete_pending_erasures

    counts = complete_pending_erasures(crm.engine, POLICY, KEYS, RunInfo("d", "r", TODAY), data_dir)

    assert outside.read_text() == "keep me" and not inside.exists()
    # Paths are read as dsr/<name> inside exports/: the traversing one is refused, the
    # absolute one outside names no answer there; neither reaches the file outside.
    assert (counts.answer_files_deleted, counts.answer_files_refused, counts.answer_files_missing) == (1, 1, 1)
    assert followups(crm) == []


def _drop_folder_text(data_dir: Path) -> str:
    """Every file under the data folder except the database, decoded as best as can be."""
    chunks = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("crm.db"):
            raw = path.read_bytes()
            for codec in ("utf-8", "utf-16", "latin-1"):
                try:
                    chunks.append(raw.decode(codec))
                    break
                except UnicodeDecodeError:
                    continue
    return "\n".join(chunks)


def _plant_drops(crm, data_dir) -> dict[Path, bytes]:
    """Pat in every kind of drop that is kept: archived lists, a rejected file in
    three encodings, binary junk; returns what the other people's files must stay."""
    ingest(crm, data_dir, RESEARCH, "research.csv", RESEARCH_HEADER, [
        research_row("Kim", "Other", "kim@acme.com", phone="020 7946 0999"),
        research_row("Pat", "Quill", "Pat+news@Acme.com", phone="020 7946 0555"),
        # Same switchboard, another person: stays.
        research_row("Sam", "Board", "sam@acme.com", phone="020 7946 0555"),
        # Pat by phone only, then by name only at Acme: the same person under the merge rules.
        research_row("P.", "Q.", "", phone="+44 20 7946 0555", company="Globex"),
        research_row("Pat", "Quill", "", company="ACME Limited"),
        research_row("Lee", "Last", "lee@acme.com"),
    ])
    ingest(crm, data_dir, ENQUIRIES, "enquiries.csv", ENQUIRY_HEADER, [
        enquiry_row("Fay", "Friend", "fay@acme.com", "email_a_friend", "", referred_by="pat@acme.com"),
        enquiry_row("Lee", "Last", "lee@acme.com", "web_form", "yes")])
    rejected = data_dir / "inbox" / "research" / "rejected"
    rejected.mkdir(parents=True)
    lines = ["email,first_name,last_name,phone,company", "pat@acme.com,Pat,Quill,,Acme",
             "kim@acme.com,Kim,Other,,Acme"]
    (rejected / "utf16.csv").write_bytes(codecs.BOM_UTF16_LE + "\r\n".join(lines).encode("utf-16-le"))
    (rejected / "latin1.csv").write_bytes("\n".join([*lines, "zoë@acme.com,Zoë,Ünal,,Acme"]).encode("latin-1"))
    (rejected / "junk.csv").write_bytes(b"PK\x03\x04\x00\xff\xfe binary\x00\n"
                                        b"contact pat@acme.com now\x00\xff\nkim@acme.com \x00\n")
    (rejected / "junk.csv.reason.txt").write_text("file is not text\n")
    return {path: path.read_bytes() for path in (data_dir / "archive").rglob("*") if path.is_file()}


def _without(data: bytes, *needles: bytes) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True) if not any(n in line for n in needles))


def test_erasure_scrubs_the_person_from_archived_and_rejected_drops(crm, data_dir):
    before = _plant_drops(crm, data_dir)
    research = next(p for p in before if p.name.endswith("_research.csv"))
    enquiries = next(p for p in before if p.name.endswith("_enquiries.csv"))
    assert "Quill" in _drop_folder_text(data_dir)

    requests(crm, data_dir, "erase.csv", [["E-1", "erasure", "pat@ACME.com", "2026-11-20", ""]])

    everything = _drop_folder_text(data_dir)
    for needle in PAT_STRINGS[:3]:
        assert needle.lower() not in everything.lower(), f"{needle!r} is still in the data folder"
    # Other people's rows are kept byte for byte; the switchboard colleague too.
    assert research.read_bytes() == _without(before[research], b"Pat", b"P.,Q.")
    assert b"sam@acme.com" in research.read_bytes() and b"020 7946 0555" in research.read_bytes()
    # The friend Pat referred keeps their row, without who referred them.
    assert b"fay@acme.com" in enquiries.read_bytes() and b"lee@acme.com" in enquiries.read_bytes()
    rejected = data_dir / "inbox" / "research" / "rejected"
    assert (rejected / "utf16.csv").read_bytes() == codecs.BOM_UTF16_LE + "\r\n".join(
        ["email,first_name,last_name,phone,company", "kim@acme.com,Kim,Other,,Acme"]).encode("utf-16-le")
    assert "Zoë".encode("latin-1") in (rejected / "latin1.csv").read_bytes()
    assert b"kim@acme.com" in (rejected / "junk.csv").read_bytes()
    # The erasure request's own row went from the archived request file.
    archived_request = next((data_dir / "archive" / "requests").iterdir())
    assert archived_request.read_bytes().splitlines() == [b"request_id,type,email,received_at,details"]
    assert followups(crm) == []
    details = audit_details(crm, "erasure_followups")[-1]
    assert '"drop_files_scrubbed": 6' in details and '"cells_emptied": 1' in details
    assert '"rows_removed": 6' in details and '"lines_removed": 1' in details

    # Safe to re-run: nothing left to do, nothing changes.
    snapshot = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "crm.db" not in p.name}
    requests(crm, data_dir, "", [], run_id="rerun")
    assert snapshot == {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "crm.db" not in p.name}


@pytest.mark.enforces("suppression")
def test_a_list_erasure_scrubs_its_own_line_and_people_not_held(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "research.csv", RESEARCH_HEADER, [research_row("Kim", "Other", "kim@acme.com")])
    rejected = data_dir / "inbox" / "research" / "rejected"
    write_csv(rejected / "old.csv", ["email", "first_name"], [["gone@acme.com", "Gone"], ["kim@acme.com", "Kim"]])

    sync(crm, data_dir, "list.csv", [["erasure", "Gone@acme.com", "", "", "", "", "2026-11-01"],
                                     ["unsubscribe", "kim@acme.com", "", "", "", "", "2026-11-01"]])

    assert "gone@acme.com" not in _drop_folder_text(data_dir).lower()
    archived_list = next((data_dir / "archive" / "suppression").iterdir())
    assert b"kim@acme.com" in archived_list.read_bytes()
    assert (rejected / "old.csv").read_bytes() == b"email,first_name\r\nkim@acme.com,Kim\r\n"


def test_a_crash_while_scrubbing_is_finished_by_the_next_run(crm, data_dir):
    import crm_hygiene.erasure_files as erasure_files

    _plant_drops(crm, data_dir)
    real_replace, calls = os.replace, []

    def crash_on_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise Crash
        return real_replace(src, dst)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Crash):
        patch.setattr(erasure_files.os, "replace", crash_on_third)
        requests(crm, data_dir, "erase.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])
    assert followups(crm)  # the to-do outlives the crash
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE first_name = 'Pat'") == 0

    audited_before_rerun = crm.rows("SELECT subject_ref FROM audit_log WHERE action = 'scrub_drop_file'")
    # Each file is audited before its rewrite: the two rewritten and the one the crash stopped.
    assert len(audited_before_rerun) == 3

    requests(crm, data_dir, "", [], run_id="rerun")

    assert "pat@acme.com" not in _drop_folder_text(data_dir).lower()
    assert not list(data_dir.rglob("*.scrub-tmp"))
    assert followups(crm) == []
    audited = crm.rows("SELECT subject_ref, rows_affected FROM audit_log WHERE action = 'scrub_drop_file'")
    # The re-run audits only the files still to do; the crashed file's row is not written twice.
    assert len({ref for ref, _ in audited}) == len(audited) > len(audited_before_rerun)
    assert set(audited_before_rerun) <= {(ref,) for ref, _ in audited} and sum(n for _, n in audited) > 0


def test_a_later_drop_naming_the_erased_person_is_archived_without_them(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Quill", "pat@acme.com", phone="020 7946 0555")])
    requests(crm, data_dir, "erase.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])

    later = ingest(crm, data_dir, RESEARCH, "later.csv", RESEARCH_HEADER, [
        research_row("Kim", "Other", "kim@acme.com"),
        research_row("Pat", "Quill", "PAT+again@acme.com"),
        research_row("P", "Q", "", phone="+44 20 7946 0555", company="Globex")], run_id="run-2")

    assert later["rows_blocked"] == 2
    assert "quill" not in _drop_folder_text(data_dir).lower()
    archived = next(p for p in (data_dir / "archive" / "research").iterdir() if p.name.endswith("_later.csv"))
    assert b"kim@acme.com" in archived.read_bytes() and len(archived.read_bytes().splitlines()) == 2
    assert followups(crm) == []


def test_a_drop_committed_but_not_archived_before_a_crash_is_still_scrubbed(crm, data_dir):
    """The run that blocked Pat's rows crashed between its commit and the file's move; the
    next run of any DAG archives that drop before scrubbing, so Pat's row goes with it."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Quill", "pat@acme.com", phone="020 7946 0555")])
    requests(crm, data_dir, "erase.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])

    real_archive = files.archive

    def crash_on_later(path, target):
        if path.name == "later.csv":
            raise Crash
        return real_archive(path, target)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Crash):
        patch.setattr(files, "archive", crash_on_later)
        ingest(crm, data_dir, RESEARCH, "later.csv", RESEARCH_HEADER, [
            research_row("Kim", "Other", "kim@acme.com"), research_row("Pat", "Quill", "pat@acme.com")],
            run_id="run-2")
    assert (data_dir / "inbox" / "research" / "later.csv").exists()  # committed, never moved

    requests(crm, data_dir, "", [], run_id="another-dag")  # another DAG's next run settles the to-do

    assert not (data_dir / "inbox" / "research" / "later.csv").exists()
    archived = next(p for p in (data_dir / "archive" / "research").iterdir() if p.name.endswith("_later.csv"))
    assert b"kim@acme.com" in archived.read_bytes() and b"pat@" not in archived.read_bytes()
    assert "quill" not in _drop_folder_text(data_dir).lower()
    assert followups(crm) == []


def test_a_request_drop_half_done_before_a_crash_is_archived_scrubbed(crm, data_dir):
    """Requests commit one by one and the drop is registered last: a crash after the
    erasure leaves the drop in the inbox. Its re-run finds the erasure recorded and
    still scrubs the erasure's own row from the archived drop."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Pat", "Quill", "pat@acme.com")])
    from crm_hygiene import subject_requests

    real_record = subject_requests.record_small_drop

    def crash_before_register(*args, **kwargs):
        raise Crash

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Crash):
        patch.setattr(subject_requests, "record_small_drop", crash_before_register)
        requests(crm, data_dir, "erase.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])
    assert subject_requests.record_small_drop is real_record
    assert crm.scalar("SELECT status FROM data_subject_requests WHERE request_id = 'E-1'") == "completed"

    summary = requests(crm, data_dir, "", [], run_id="rerun")

    assert summary["duplicates_ignored"] == 1 and summary["files_loaded"] == 1
    assert "pat@acme.com" not in _drop_folder_text(data_dir).lower()
    assert followups(crm) == []


def test_an_answer_is_deleted_after_the_data_folder_moved(crm, data_dir, tmp_path, monkeypatch):
    """Answers are recorded relative to exports/, so an erasure finds them wherever the folder is mounted now."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Pat", "Quill", "pat@acme.com")])
    requests(crm, data_dir, "a.csv", [["A-1", "access", "pat@acme.com", "2026-11-10", ""]])
    moved = tmp_path / "mounted-elsewhere"
    data_dir.rename(moved)
    monkeypatch.setenv("CRM_DATA_DIR", str(moved))

    requests(crm, moved, "e.csv", [["E-1", "erasure", "pat@acme.com", "2026-11-20", ""]])

    assert not (moved / "exports" / "dsr" / "A-1.json").exists()
    assert "quill" not in _drop_folder_text(moved).lower()
    assert followups(crm) == []
