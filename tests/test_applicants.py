"""Job applicants on SQLite and PostgreSQL: valid rows load, bad rows are
quarantined with their reasons, a later drop updates, and applicants and
prospects never touch each other."""

from __future__ import annotations

import pytest
from conftest import write_csv
from drops import POLICY, RESEARCH_HEADER, TODAY, ingest, research_row
from sqlalchemy import text

from crm_hygiene.applicants import parse_row, process_applicant_files
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.run import RunInfo

HEADER = ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status", "decided_at",
          "retain_for_future_roles", "dispute"]


def row(applicant_id="APP-1", email="ann@acme.com", *, first="Ann", last="Lee", phone="", applied="2026-09-01",
        status="pending", decided="", retain="", dispute=""):
    return [applicant_id, first, last, email, phone, applied, status, decided, retain, dispute]


def drop(crm, data_dir, name, rows, header=HEADER, run_id=None, today=TODAY):
    inbox = data_dir / "inbox" / "applicants"
    write_csv(inbox / name, header, rows)
    run = RunInfo(dag_id="ingest_applicants", run_id=run_id or name, today=today)
    return process_applicant_files(crm.engine, POLICY, run, inbox, data_dir / "archive" / "applicants").as_dict()


def applicants(crm):
    return crm.rows("SELECT applicant_id, email, email_match_key, first_name, last_name, phone_e164, status, "
                    "retain_for_future_roles, dispute FROM applicants ORDER BY applicant_id")


def test_valid_rows_load_normalised_and_the_drop_is_registered(crm, data_dir):
    summary = drop(crm, data_dir, "a.csv", [
        row("APP-1", " Ann.Lee+jobs@ACME.com ", first="  Ann ", phone="020 7946 0123"),
        row("APP-2", "bo@acme.com", first="Bo", last="Ng", status="Rejected", decided="2026-10-01",
            retain="yes", dispute="0"),
        row("APP-3", "cy@acme.com", first="Cy", last="Ox", status="hired", decided="2026-10-02T09:30:00+01:00",
            retain="", dispute="TRUE"),
    ])
    assert summary["applicants_added"] == 3 and summary["rows_quarantined"] == 0 and summary["files_loaded"] == 1
    assert applicants(crm) == [
        ("APP-1", "ann.lee+jobs@acme.com", "ann.lee@acme.com", "Ann", "Lee", "+442079460123", "pending", False, False),
        ("APP-2", "bo@acme.com", "bo@acme.com", "Bo", "Ng", None, "rejected", True, False),
        ("APP-3", "cy@acme.com", "cy@acme.com", "Cy", "Ox", None, "hired", False, True),
    ]
    # The offset is folded into UTC, as every drop's dates are.
    assert str(crm.scalar("SELECT decided_at FROM applicants WHERE applicant_id = 'APP-3'"))[:19] == \
        "2026-10-02 08:30:00"
    file_id = crm.scalar("SELECT file_id FROM ingested_files WHERE kind = 'applicants'")
    assert crm.scalar("SELECT COUNT(*) FROM applicants WHERE file_id = :f", f=file_id) == 3
    assert crm.rows("SELECT action, rows_affected FROM audit_log WHERE action = 'load_applicants'") == \
        [("load_applicants", 3)]
    assert not list((data_dir / "inbox" / "applicants").glob("*.csv"))
    assert len(list((data_dir / "archive" / "applicants").glob("*.csv"))) == 1


BAD_ROWS = [
    (row("../etc/passwd"), "applicant_id_invalid"),
    (row(""), "applicant_id_invalid"),
    (row(email="not-an-address"), "email_invalid"),
    (row(email=""), "email_missing"),
    (row(phone="12"), "phone_invalid"),
    (row(status="interviewing"), "status_unknown"),
    (row(applied="last week"), "applied_at_invalid"),
    (row(applied=""), "applied_at_invalid"),
    (row(applied="1850-01-01"), "applied_at_out_of_range"),
    (row(applied="2026-12-01"), "applied_at_in_future"),
    (row(status="rejected", decided="soon"), "decided_at_invalid"),
    (row(status="rejected", decided="2999-01-01"), "decided_at_out_of_range"),
    (row(status="rejected", decided="2026-11-25"), "decided_at_in_future"),
    (row(status="rejected", decided="2026-08-01"), "decided_before_applied"),
    (row(status="rejected"), "decision_date_missing"),
    (row(status="hired"), "decision_date_missing"),
    (row(retain="maybe"), "retain_for_future_roles_invalid"),
    (row(dispute="2"), "dispute_invalid"),
]


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
@pytest.mark.parametrize(("cells", "reason"), BAD_ROWS, ids=[r for _, r in BAD_ROWS])
def test_each_check_names_its_reason(cells, reason):
    applicant, reasons = parse_row(dict(zip(HEADER, cells, strict=True)), POLICY, TODAY)
    assert applicant is None and reasons == [reason]


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_bad_rows_are_quarantined_with_reasons_and_the_good_rows_still_load(crm, data_dir):
    rows = [row(f"OK-{i}", f"ok{i}@acme.com") for i in range(2)] + [cells for cells, _ in BAD_ROWS]
    summary = drop(crm, data_dir, "mixed.csv", rows)
    assert summary["applicants_added"] == 2 and summary["rows_quarantined"] == len(BAD_ROWS)
    assert crm.rows("SELECT applicant_id FROM applicants ORDER BY applicant_id") == [("OK-0",), ("OK-1",)]
    assert crm.rows("SELECT reasons FROM quarantine WHERE kind = 'applicants' ORDER BY row_number") == \
        [(reason,) for _, reason in BAD_ROWS]
    assert crm.rows("SELECT rows_read, rows_quarantined FROM ingested_files") == [(len(rows), len(BAD_ROWS))]
    assert crm.scalar("SELECT rows_affected FROM audit_log WHERE action = 'quarantine_rows'") == len(BAD_ROWS)


def test_optional_columns_may_be_absent(crm, data_dir):
    summary = drop(crm, data_dir, "short.csv", [row()[:8]], header=HEADER[:8])
    assert summary["applicants_added"] == 1
    assert crm.rows("SELECT retain_for_future_roles, dispute FROM applicants") == [(False, False)]


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_a_file_missing_a_required_column_is_rejected_with_a_reason(crm, data_dir):
    summary = drop(crm, data_dir, "bad.csv", [["APP-1", "ann@acme.com"]], header=["applicant_id", "email"])
    assert summary["files_rejected"] == 1 and "bad.csv" in summary["rejected"]
    rejected = data_dir / "inbox" / "applicants" / "rejected"
    assert (rejected / "bad.csv").exists()
    assert "required column(s) missing" in (rejected / "bad.csv.reason.txt").read_text()
    assert crm.scalar("SELECT COUNT(*) FROM applicants") == 0


def test_a_later_drop_updates_the_applicant_and_the_same_bytes_change_nothing(crm, data_dir):
    drop(crm, data_dir, "first.csv", [row("APP-1"), row("APP-2", "bo@acme.com")])
    created = crm.scalar("SELECT created_at FROM applicants WHERE applicant_id = 'APP-1'")
    summary = drop(crm, data_dir, "second.csv", [
        row("APP-1", status="rejected", decided="2026-10-01", dispute="yes"),
        row("APP-3", "cy@acme.com"),
    ], run_id="run-2")
    assert (summary["applicants_added"], summary["applicants_updated"]) == (1, 1)
    assert crm.rows("SELECT applicant_id, status, dispute FROM applicants ORDER BY applicant_id") == [
        ("APP-1", "rejected", True), ("APP-2", "pending", False), ("APP-3", "pending", False)]
    assert crm.scalar("SELECT created_at FROM applicants WHERE applicant_id = 'APP-1'") == created
    second_file = crm.scalar("SELECT file_id FROM ingested_files WHERE file_name = 'second.csv'")
    assert crm.scalar("SELECT file_id FROM applicants WHERE applicant_id = 'APP-1'") == second_file
    assert crm.rows("SELECT rows_affected FROM audit_log WHERE action = 'load_applicants' ORDER BY occurred_at, "
                    "rows_affected") == [(2,), (2,)]

    state = crm.rows("SELECT * FROM applicants ORDER BY applicant_id"), crm.scalar("SELECT COUNT(*) FROM audit_log")
    again = drop(crm, data_dir, "second-again.csv", [
        row("APP-1", status="rejected", decided="2026-10-01", dispute="yes"),
        row("APP-3", "cy@acme.com"),
    ], run_id="run-3")
    # Same bytes under another name: a drop is processed once.
    assert again["files_already_processed"] == 1 and again["files_loaded"] == 0
    assert (crm.rows("SELECT * FROM applicants ORDER BY applicant_id"),
            crm.scalar("SELECT COUNT(*) FROM audit_log")) == state


def test_the_last_row_of_a_file_wins_for_a_repeated_id(crm, data_dir):
    summary = drop(crm, data_dir, "dup.csv", [row("APP-1"), row("APP-1", status="hired", decided="2026-10-01")])
    assert summary["applicants_added"] == 1 and summary["repeated_ids_in_file"] == 1
    assert crm.rows("SELECT status FROM applicants") == [("hired",)]


def _prospect_state(crm):
    return (crm.rows("SELECT * FROM prospects ORDER BY prospect_id"),
            crm.rows("SELECT * FROM prospect_sources ORDER BY prospect_id, collected_at"),
            crm.rows("SELECT * FROM marketing_prospects ORDER BY prospect_id"))


def test_an_applicant_with_a_held_prospects_address_changes_no_prospect(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
           [research_row("Erin", "Quill", "erin.quill@acme.com", phone="020 7946 0123")])
    before = _prospect_state(crm)
    assert len(before[0]) == 1 and len(before[2]) == 1
    drop(crm, data_dir, "a.csv", [row("APP-1", "Erin.Quill+cv@ACME.com", first="Erin", last="Quill",
                                      phone="020 7946 0123", status="rejected", decided="2026-10-01")])
    assert crm.scalar("SELECT COUNT(*) FROM applicants") == 1
    assert _prospect_state(crm) == before


def test_a_prospect_ingest_with_an_applicants_address_changes_no_applicant(crm, data_dir):
    drop(crm, data_dir, "a.csv", [row("APP-1", "erin.quill@acme.com", first="Erin", last="Quill")])
    before = crm.rows("SELECT * FROM applicants")
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
                     [research_row("Erin", "Quill", "erin.quill+x@acme.com", title="CTO")])
    assert summary["rows_admitted"] == 1
    assert crm.rows("SELECT * FROM applicants") == before
    # Held as a prospect in its own right: no link to the applicant anywhere.
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 1


def test_personal_data_stays_out_of_the_audit_log(crm, data_dir):
    drop(crm, data_dir, "a.csv", [row("APP-1", "secret.person@acme.com", first="Secretname"),
                                  row("APP-2", "bad@@acme.com", first="Othersecret")])
    with crm.engine.connect() as conn:
        audit = " ".join(str(v) for r in conn.execute(text("SELECT * FROM audit_log")) for v in r)
    assert "secret" not in audit.lower() and "acme" not in audit.lower()


def test_migration_goes_down_and_up_again(crm):
    from alembic import command
    from alembic.config import Config

    from crm_hygiene.db import MIGRATIONS_DIR, upgrade_schema

    def alembic(action, revision):
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with crm.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            action(cfg, revision)

    alembic(command.downgrade, "0006")
    with crm.engine.connect() as conn:
        assert "applicants" not in crm.engine.dialect.get_table_names(conn)
    upgrade_schema(crm.engine)
    with crm.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO applicants (applicant_id, email, email_match_key, status, applied_at, created_at, "
            "updated_at) VALUES ('A', 'a@b.com', 'a@b.com', 'pending', '2026-01-01', '2026-01-01', '2026-01-01')"))
    for bad in ("'unknown', NULL", "'rejected', NULL"):  # status outside the set; a decision without a date
        with pytest.raises(Exception), crm.engine.begin() as conn:  # noqa: B017, PT011 - each backend's own error
            conn.execute(text(
                "INSERT INTO applicants (applicant_id, email, email_match_key, status, decided_at, applied_at, "
                f"created_at, updated_at) VALUES ('B', 'a@b.com', 'a@b.com', {bad}, '2026-01-01', '2026-01-01', "
                "'2026-01-01')"))
    with pytest.raises(Exception), crm.engine.begin() as conn:  # noqa: B017, PT011
        conn.execute(text(
            "INSERT INTO applicants (applicant_id, email, email_match_key, status, applied_at, created_at, "
            "updated_at) VALUES ('A', 'c@d.com', 'c@d.com', 'pending', '2026-01-01', '2026-01-01', '2026-01-01')"))


@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_an_erasure_takes_the_persons_applications_and_their_applicant_drop_rows(crm, data_dir):
    """Contract promise 3: after an erasure the person is nowhere, their applications included."""
    from drops import requests

    drop(crm, data_dir, "a.csv", [row("APP-1", "Pat.Quill+jobs@acme.com", first="Pat", last="Quill"),
                                 row("APP-2", "kim@acme.com", first="Kim", last="Other")])
    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", "pat.quill@acme.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"erasure:not_held_suppressed": 1}  # not held as a prospect
    assert [a[0] for a in applicants(crm)] == ["APP-2"]
    archived = "".join(p.read_text() for p in (data_dir / "archive" / "applicants").iterdir())
    assert "kim@acme.com" in archived and "quill" not in archived.lower()


@pytest.mark.enforces("suppression", "retention")
def test_a_list_erasure_leaves_a_held_persons_application_and_quarantined_rows(crm, data_dir):
    """A legal hold keeps everything of the person while it stands, whoever names them."""
    from drops import sync

    from crm_hygiene.keys import parse_hash_keys
    from crm_hygiene.normalise.email_address import email_match_key

    drop(crm, data_dir, "a.csv", [row("APP-1", "held@acme.com"), row("APP-2", "held@acme.com", applied="bad")])
    keys = parse_hash_keys(__import__("os").environ["CRM_HASH_KEY"])
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO legal_holds (subject_hash, key_id, case_ref, placed_at) "
                          "VALUES (:h, :k, 'CASE-1', '2026-01-01 00:00:00')"),
                     {"h": keys.current.digest(email_match_key("held@acme.com")), "k": keys.current.key_id})
    sync(crm, data_dir, "s.csv", [["erasure", "held@acme.com", "", "", "", "", "2026-11-01"]])
    assert [a[0] for a in applicants(crm)] == ["APP-1"]
    assert crm.scalar("SELECT COUNT(*) FROM quarantine WHERE email_match_key = 'held@acme.com'") == 1
