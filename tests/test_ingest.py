"""Ingest of research, event and enquiry drops, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import write_csv
from drops import (
    ENQUIRY_HEADER,
    EVENT_HEADER,
    KEYS,
    POLICY,
    RESEARCH_HEADER,
    TODAY,
    enquiry_row,
    event_row,
    ingest,
    research_row,
)

from crm_hygiene.ingest.kinds import ENQUIRIES, EVENTS, RESEARCH
from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.run import RunInfo


def snapshot(crm) -> dict[str, list[tuple]]:
    """Every row of every CRM table, timestamps of writing excluded."""
    return {
        "prospects": crm.rows("SELECT prospect_id, match_key, email, first_name, last_name, company, job_title, "
                              "country, phone_e164, source, lawful_basis, status, first_seen_at, last_contact_at "
                              "FROM prospects ORDER BY prospect_id"),
        "prospect_sources": crm.rows("SELECT prospect_id, source, source_detail, collected_at, file_id, "
                                     "source_row_number FROM prospect_sources ORDER BY prospect_source_id"),
        "quarantine": crm.rows("SELECT source_file, row_number, reasons FROM quarantine ORDER BY quarantine_id"),
        "audit_log": crm.rows("SELECT action, subject_ref, rows_affected, details FROM audit_log ORDER BY audit_id"),
        "ingested_files": crm.rows("SELECT sha256, rows_read FROM ingested_files ORDER BY file_id"),
    }


@pytest.mark.enforces("sources", "art14_notice", "input_validation")
@pytest.mark.promise(7)
def test_research_file_is_normalised_deduplicated_and_tagged(crm, data_dir):
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("José", "García", " Jose.Garcia+news@GoogleMail.com ", phone="020 7946 0958"),
        research_row("Jose", "Garcia", "josegarcia@gmail.com", title="Chief Technology Officer",
                     country="United Kingdom", source="search_engine", collected="2026-05-01T10:00:00Z"),
        research_row("Zoë", "Łukasz", "zoe@firm.de", phone="030 123456", company="Firm GmbH", country="Deutschland",
                     source="company_website", collected="2026-04-01"),
        research_row("Bad", "Email", "not-an-email"),
        research_row("Un", "Known", "u@k.com", country="Narnia", source="twitter"),
    ])
    assert summary["rows_read"] == 5
    assert summary["rows_quarantined"] == 2
    assert summary["rows_admitted"] == 3
    assert summary["prospects_created"] == 2
    assert summary["rows_merged"] == 1

    jose = crm.rows("SELECT email, first_name, job_title, country, phone_e164, source, lawful_basis, status "
                    "FROM prospects WHERE email_match_key = 'josegarcia@gmail.com'")
    # Newest non-empty value per field; the phone survives from the older row.
    assert jose == [("josegarcia@gmail.com", "Jose", "Chief Technology Officer", "GB", "+442079460958",
                     "linkedin", "legitimate_interests", "active")]
    zoe = crm.rows("SELECT first_name, last_name, country, phone_e164 FROM prospects WHERE email = 'zoe@firm.de'")
    assert zoe == [("Zoë", "Łukasz", "DE", "+4930123456")]
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == 3
    assert sorted(crm.rows("SELECT row_number, reasons FROM quarantine")) == [
        (4, "email_invalid"), (5, "country_unrecognised;source_unknown")]
    raw = json.loads(crm.scalar("SELECT raw_row FROM quarantine WHERE row_number = 4"))
    assert raw["email"] == "not-an-email"  # nothing of the bad row is lost
    # Research is not obtained from the person: Art. 14 notice due a month after collection.
    due = crm.scalar("SELECT art14_notice_due_at FROM prospects WHERE email = 'zoe@firm.de'")
    assert str(due)[:10] == "2026-05-01"
    assert (data_dir / "archive" / "research").glob("*_r.csv")
    assert not (data_dir / "inbox" / "research" / "r.csv").exists()


def test_same_bytes_twice_change_nothing(crm, data_dir):
    rows = [research_row("Ann", "Lee", "ann@acme.com"), research_row("Bad", "Row", "x@")]
    ingest(crm, data_dir, RESEARCH, "first.csv", RESEARCH_HEADER, rows)
    before = snapshot(crm)
    again = ingest(crm, data_dir, RESEARCH, "first-copy.csv", RESEARCH_HEADER, rows, run_id="run-2")
    assert again["files_already_processed"] == 1 and again["files_loaded"] == 0
    assert snapshot(crm) == before
    assert len(list((data_dir / "archive" / "research").iterdir())) == 2


def test_rerunning_with_an_empty_inbox_changes_nothing(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "a.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.com")])
    before = snapshot(crm)
    run = RunInfo(dag_id="ingest_research", run_id="run-1", today=TODAY)
    ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, run, data_dir / "inbox" / "research", data_dir / "archive")
    assert snapshot(crm) == before


@pytest.mark.enforces("lawful_basis_precedence", "sources")
def test_person_across_sources_keeps_id_and_consent_is_sticky(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r1.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "Ann.Lee@acme.com", title="Analyst", collected="2026-02-01")])
    pid = crm.scalar("SELECT prospect_id FROM prospects")
    ingest(crm, data_dir, EVENTS, "e1.csv", EVENT_HEADER,
           [event_row("Ann", "Lee", "ann.lee+conf@ACME.com", "Yes", title="Lead Analyst", day="2026-05-01")])
    ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "ann.lee@acme.com", title="Head of Data", collected="2026-09-01")])
    rows = crm.rows("SELECT prospect_id, lawful_basis, job_title, source FROM prospects")
    assert rows == [(pid, "consent", "Head of Data", "linkedin")]
    first_seen, last_contact = crm.rows("SELECT first_seen_at, last_contact_at FROM prospects")[0]
    assert str(first_seen).startswith("2026-02-01") and str(last_contact).startswith("2026-09-01")
    assert crm.rows("SELECT source, source_detail FROM prospect_sources ORDER BY collected_at") == [
        ("linkedin", None), ("event", "DataConf"), ("linkedin", None)]
    assert crm.scalar("SELECT COUNT(*) FROM marketing_prospects") == 1


def test_an_older_file_arriving_late_does_not_overwrite_newer_values(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "new.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "ann@acme.com", title="Director", collected="2026-09-01")])
    ingest(crm, data_dir, RESEARCH, "old.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "ann@acme.com", title="Intern", collected="2020-01-01")])
    title, first_seen = crm.rows("SELECT job_title, first_seen_at FROM prospects")[0]
    assert title == "Director" and str(first_seen).startswith("2020-01-01")


@pytest.mark.enforces("sources", "email_marketing")
def test_event_consent_decides_basis_and_personal_mailboxes_need_consent(crm, data_dir):
    summary = ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [
        event_row("Corp", "NoConsent", "corp@acme.com", "no"),
        event_row("Home", "NoConsent", "home.person@gmail.com", ""),
        event_row("Home", "Consent", "happy.person@hotmail.com", "TRUE"),
        event_row("Bad", "Consent", "bad@acme.com", "maybe"),
    ])
    assert summary["rows_quarantined"] == 1
    assert crm.rows("SELECT reasons FROM quarantine") == [("marketing_consent_invalid",)]
    held = dict(crm.rows("SELECT email, lawful_basis FROM prospects"))
    assert held == {"corp@acme.com": "legitimate_interests", "home.person@gmail.com": "legitimate_interests",
                    "happy.person@hotmail.com": "consent"}
    marketed = {r[0] for r in crm.rows("SELECT email FROM marketing_prospects")}
    # PECR: a personal mailbox without consent is held but not emailed.
    assert marketed == {"corp@acme.com", "happy.person@hotmail.com"}


@pytest.mark.enforces("sources", "email_marketing", "art14_notice")
def test_email_a_friend_is_held_with_provenance_but_never_marketed(crm, data_dir):
    ingest(crm, data_dir, ENQUIRIES, "q1.csv", ENQUIRY_HEADER, [
        enquiry_row("Fred", "Friend", "fred@acme.com", "email_a_friend", "yes", referred_by="Sam@Acme.com"),
        enquiry_row("Web", "Form", "web@acme.com", "web_form", "yes"),
        enquiry_row("Odd", "Channel", "odd@acme.com", "carrier_pigeon", "yes"),
    ])
    fred = crm.rows("SELECT lawful_basis, referred_only, art14_notice_due_at FROM prospects WHERE email = 'fred@acme.com'")
    basis, referred_only, notice_due = fred[0]
    assert basis == "legitimate_interests"  # a friend cannot consent for Fred
    assert bool(referred_only) and notice_due is not None
    assert crm.rows("SELECT ps.source, ps.source_detail, ps.referred_by_match_key FROM prospect_sources ps "
                    "JOIN prospects p USING (prospect_id) WHERE p.email = 'fred@acme.com'") == [
        ("enquiry", "email_a_friend", "sam@acme.com")]
    assert {r[0] for r in crm.rows("SELECT email FROM marketing_prospects")} == {"web@acme.com"}
    assert crm.rows("SELECT reasons FROM quarantine") == [("channel_unknown",)]
    # When Fred reaches us himself, he is no longer known only through a friend.
    ingest(crm, data_dir, ENQUIRIES, "q2.csv", ENQUIRY_HEADER,
           [enquiry_row("Fred", "Friend", "fred@acme.com", "web_form", "yes", received="2026-07-01")])
    assert crm.rows("SELECT lawful_basis FROM marketing_prospects WHERE email = 'fred@acme.com'") == [("consent",)]


def test_people_without_email_match_on_phone_then_on_name_and_company(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r1.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "ann@acme.com", phone="020 7946 0958"),
        research_row("Bob", "Ray", "", phone="", company="Ray & Co Ltd"),
    ])
    summary = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "", phone="+44 20 7946 0958", title="CEO", collected="2026-04-01"),
        research_row("bob", "RAY", "", company="RAY & CO LIMITED", title="Owner", collected="2026-04-01"),
    ])
    assert summary["prospects_created"] == 0 and summary["prospects_updated"] == 2
    assert sorted(crm.rows("SELECT first_name, job_title FROM prospects")) == [("Ann", "CEO"), ("bob", "Owner")]


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_row_without_any_identity_is_quarantined(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("", "", "", company="")])
    assert crm.rows("SELECT reasons FROM quarantine") == [("no_identity",)]
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_bad_dates_and_future_dates_are_quarantined(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("A", "B", "a@acme.com", collected="31/02/2026"),
        research_row("C", "D", "c@acme.com", collected="2031-01-01"),
        research_row("E", "F", "e@acme.com", collected="", source=" Company Website "),
    ])
    assert sorted(crm.rows("SELECT row_number, reasons FROM quarantine")) == [
        (1, "collected_at_invalid"), (2, "collected_at_in_future")]
    # Unknown collection date: the run's date stands in for it.
    assert str(crm.scalar("SELECT first_seen_at FROM prospects")).startswith("2026-11-24")
    assert crm.scalar("SELECT source FROM prospects") == "company_website"


def test_header_case_spaces_and_bom_are_accepted(crm, data_dir):
    header = [f"  {h.upper()} " for h in RESEARCH_HEADER]
    inbox = data_dir / "inbox" / "research"
    write_csv(inbox / "bom.csv", header, [research_row("Ann", "Lee", "ann@acme.com")], encoding="utf-8-sig")
    run = RunInfo(dag_id="t", run_id="r", today=TODAY)
    summary = ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, run, inbox, data_dir / "archive").as_dict()
    assert summary["files_loaded"] == 1 and summary["rows_admitted"] == 1


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_unreadable_or_wrong_files_are_rejected_and_the_rest_still_load(crm, data_dir):
    inbox = data_dir / "inbox" / "research"
    write_csv(inbox / "a_missing_column.csv", RESEARCH_HEADER[:-4], [["Ann", "Lee", "a@b.com", "", "", "", "UK", "linkedin", ""]])
    (inbox / "b_latin1.csv").write_bytes((",".join(RESEARCH_HEADER) + "\nJos\xe9,G,j@x.com,,,,,linkedin,,,,,\n").encode("latin-1"))
    write_csv(inbox / "c_wrong_kind.csv", RESEARCH_HEADER, [research_row("A", "B", f"a{i}@x.com", source="Mr") for i in range(5)])
    write_csv(inbox / "d_good.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.com")])
    run = RunInfo(dag_id="t", run_id="r", today=TODAY)
    summary = ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, run, inbox, data_dir / "archive").as_dict()
    # A row that is not UTF-8 costs that row only: quarantined, the file is processed.
    assert summary["files_loaded"] == 2 and summary["files_rejected"] == 2
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 1
    assert crm.rows("SELECT source_file, reasons FROM quarantine") == [("b_latin1.csv", "encoding_invalid")]
    rejected = inbox / "rejected"
    assert "required column(s) missing: collected_at" in (rejected / "a_missing_column.csv.reason.txt").read_text()
    assert "known 'source'" in (rejected / "c_wrong_kind.csv.reason.txt").read_text()
    assert sorted(p.name for p in rejected.glob("*.csv")) == ["a_missing_column.csv", "c_wrong_kind.csv"]
    assert crm.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'file_rejected'") == 2


def test_header_only_file_is_processed_once_with_nothing_in_it(crm, data_dir):
    summary = ingest(crm, data_dir, RESEARCH, "empty.csv", RESEARCH_HEADER, [])
    assert summary["files_loaded"] == 1 and summary["rows_read"] == 0


@pytest.mark.promise(6)
def test_audit_log_has_counts_and_no_personal_data(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "ann@acme.com", phone="020 7946 0958"),
        research_row("Bad", "Row", "bad@"),
    ])
    audit = crm.rows("SELECT action, subject_ref, reason, rows_affected, details FROM audit_log ORDER BY audit_id")
    assert [(a[0], a[3]) for a in audit] == [("ingest_file", 1), ("quarantine_rows", 1)]
    details = json.loads(audit[0][4])
    assert details["rows_read"] == 2 and details["rows_quarantined"] == 1 and details["prospects_created"] == 1
    text = repr(audit).lower()
    for personal in ("ann", "lee", "acme", "7946", "bad@"):
        assert personal not in text


def test_timestamps_are_written_in_one_comparable_form(crm, data_dir):
    """SQLite compares timestamps as text: every writer must use one format."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "ann@acme.com", collected="2026-03-01T09:30:00+01:00")])
    first_seen = crm.scalar("SELECT first_seen_at FROM prospects")
    if crm.backend == "sqlite":
        assert first_seen == "2026-03-01 08:30:00.000000"
    else:
        assert first_seen == datetime(2026, 3, 1, 8, 30)


@pytest.mark.parametrize("kind_name", ["research", "events", "enquiries"])
def test_generated_sample_drops_load(crm, data_dir, kind_name):
    from crm_hygiene.ingest.kinds import PROSPECT_KINDS
    from crm_hygiene.sample_data import generate_inbox

    generate_inbox(data_dir, rows=600, seed=7, today=TODAY)
    kind = PROSPECT_KINDS[kind_name]
    run = RunInfo(dag_id="t", run_id="r", today=TODAY)
    summary = ingest_inbox(crm.engine, kind, POLICY, KEYS, run, data_dir / "inbox" / kind_name,
                           data_dir / "archive" / kind_name).as_dict()
    assert summary["files_loaded"] == 1 and summary["files_rejected"] == 0
    assert summary["rows_read"] == summary["rows_quarantined"] + summary["rows_admitted"] + summary["rows_blocked"]
    assert 0 < summary["rows_quarantined"] < summary["rows_read"] * 0.3
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == summary["prospects_created"]
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == summary["rows_admitted"]


# Run in a fresh interpreter: the test process itself has long imported Presidio.
_INGEST_IN_A_FRESH_PROCESS = """
import json, os, sys
from datetime import date
from pathlib import Path
from crm_hygiene.db import make_engine
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.policy import load_policy
from crm_hygiene.run import RunInfo

engine, data = make_engine(sys.argv[1]), Path(sys.argv[2])
loaded = []
for name in sys.argv[3:]:
    (data / "inbox" / "research" / f"{name}.held").rename(data / "inbox" / "research" / f"{name}.csv")
    summary = ingest_inbox(engine, RESEARCH, load_policy(), parse_hash_keys(os.environ["CRM_HASH_KEY"]),
                           RunInfo("t", name, date(2026, 11, 24)), data / "inbox" / "research",
                           data / "archive" / "research").as_dict()
    assert summary["files_loaded"] == 1, summary
    loaded.append(sorted(m for m in sys.modules if m.split(".")[0] in ("presidio_analyzer", "spacy")))
print(json.dumps(loaded))
"""


@pytest.mark.enforces("special_category")
def test_presidio_is_loaded_only_once_a_drop_has_text_to_scan(crm, data_dir):
    """Presidio (and spaCy under it) costs a fresh task process 1-2 s to import: a drop whose
    scanned fields (policy special_category.fields) are all empty never loads it; the first
    drop with a hit in one does, and that hit is redacted."""
    assert set(POLICY.special_category.fields) == {"notes", "job_title", "company"}
    inbox = data_dir / "inbox" / "research"
    # Held back from the inbox (no .csv name) until the child moves each in, in turn.
    write_csv(inbox / "a_empty.held", RESEARCH_HEADER,
              [research_row(f"Ann{i}", "Lee", f"ann{i}@acme.example", company="", title="", notes="")
               for i in range(3)])
    write_csv(inbox / "b_hit.held", RESEARCH_HEADER,
              [research_row("Bob", "Ray", "bob@acme.example", notes="Off sick with depression, call later")])
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), str(plugins.parent)])}
    done = subprocess.run([sys.executable, "-c", _INGEST_IN_A_FRESH_PROCESS, crm.url, str(data_dir),
                           "a_empty", "b_hit"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    after_empty, after_hit = json.loads(done.stdout.splitlines()[-1])
    assert after_empty == []
    assert "presidio_analyzer" in after_hit
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 4
    assert crm.scalar("SELECT COUNT(*) FROM prospects WHERE company IS NULL AND job_title IS NULL") == 3
    assert crm.scalar("SELECT rows_affected FROM audit_log WHERE action = 'redact_special_category'") == 1


# A fresh task process: GX is imported by the gate process, never here; then the
# gate process is killed and the next file is gated in-process; then this process
# is killed with SIGKILL while a gate process waits, which must not outlive it.
_GATE_IN_A_FRESH_PROCESS = """
import json, os, signal, sys
from datetime import date
from pathlib import Path
from crm_hygiene.db import make_engine
from crm_hygiene.ingest import gate
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.policy import load_policy
from crm_hygiene.run import RunInfo

engine, data = make_engine(sys.argv[1]), Path(sys.argv[2])
inbox = data / "inbox" / "research"

def ingest(*names, workers=None):
    for name in names:
        (inbox / f"{name}.held").rename(inbox / f"{name}.csv")
    return ingest_inbox(engine, RESEARCH, load_policy(), parse_hash_keys(os.environ["CRM_HASH_KEY"]),
                        RunInfo("t", names[0], date(2026, 11, 24)), inbox, data / "archive" / "research",
                        workers).as_dict()

out = {"first": ingest("a_wrong_kind", "b_good"), "gx_after_first": "great_expectations" in sys.modules,
       "pandas_after_first": "pandas" in sys.modules}
# With worker processes (a big file), the gate process stops once it has answered.
out["with_workers"] = ingest("f_wrong_kind", workers=2)
out["stopped_after_answering"] = gate._process is None
gate.start_gate_process()
lost = gate._process.process
lost.kill()
lost.wait()
out["second"] = ingest("c_wrong_kind", "d_good")
out["gx_after_second"] = "great_expectations" in sys.modules
out["third"] = ingest("e_good")
# GX is loaded here now, so gates stay in-process: start a gate process by hand to see it leave with us.
alive = gate._gate_process()
assert alive.submit(gate.GateInput("t", {"a": ["x"]}, ("a",), None, (), 0.5)).result() == []
out["gate_pid"] = alive.process.pid
print(json.dumps(out), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_a_fresh_process_gates_in_the_gate_process_and_a_failed_file_keeps_nothing(crm, data_dir):
    """Great Expectations runs in a process of its own beside the row checks (a fresh task
    process never imports it nor pandas); its verdict comes before the commit, so a file of
    the wrong kind is rejected with nothing of it kept. Beside worker processes it stops once it
    has answered. A gate process that dies is replaced by the gate in-process, same verdict; and
    it never outlives a killed parent."""
    import psutil

    inbox = data_dir / "inbox" / "research"
    wrong = [research_row("A", "B", f"a{i}@x.com", source="Mr") for i in range(5)]
    write_csv(inbox / "a_wrong_kind.held", RESEARCH_HEADER, wrong)
    write_csv(inbox / "b_good.held", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.example")])
    write_csv(inbox / "c_wrong_kind.held", RESEARCH_HEADER, wrong[1:])
    write_csv(inbox / "d_good.held", RESEARCH_HEADER, [research_row("Bob", "Ray", "bob@acme.example")])
    write_csv(inbox / "e_good.held", RESEARCH_HEADER, [research_row("Cy", "Day", "cy@acme.example")])
    write_csv(inbox / "f_wrong_kind.held", RESEARCH_HEADER, wrong[2:])
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), str(plugins.parent)])}
    done = subprocess.run([sys.executable, "-c", _GATE_IN_A_FRESH_PROCESS, crm.url, str(data_dir)],
                          env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    for run, wrong_file in (("first", "a_wrong_kind.csv"), ("second", "c_wrong_kind.csv")):
        assert (out[run]["files_loaded"], out[run]["files_rejected"]) == (1, 1)
        assert "known 'source'" in out[run]["rejected"][wrong_file]
    assert "known 'source'" in out["with_workers"]["rejected"]["f_wrong_kind.csv"]
    assert out["stopped_after_answering"] is True
    assert out["third"]["files_loaded"] == 1
    assert (out["gx_after_first"], out["pandas_after_first"], out["gx_after_second"]) == (False, False, True)
    # Nothing of the rejected files: no quarantined row, no person, no registration.
    assert crm.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 3
    assert crm.scalar("SELECT COUNT(*) FROM ingested_files") == 3
    assert sorted(p.name for p in (inbox / "rejected").glob("*.csv")) == [
        "a_wrong_kind.csv", "c_wrong_kind.csv", "f_wrong_kind.csv"]
    try:
        psutil.Process(out["gate_pid"]).wait(timeout=30)  # reaped, or gone to init and reaped there
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        assert psutil.Process(out["gate_pid"]).status() == psutil.STATUS_ZOMBIE, "the gate process outlived its parent"
