"""Backups and restores: a restored backup must not bring erased or suppressed people back.

The restore drill (SQLite and PostgreSQL): people are ingested, the CRM database
and the data folder are backed up (SQLite's backup API; pg_dump -Fc), people are
erased through the real paths (an erasure request, a suppression list's erasure
entry, a reviewer's "minor"), opted out (an unsubscribe, an objection), the
backup is restored (pg_restore into a re-created database) and the erased are
back; ``make replay-erasures`` (the CLI) applies the erasure log kept outside
the database, and they are gone again everywhere, blocked when re-dropped, and
a second replay changes nothing. Smaller tests: the log holds hashes and ids
only, is on disk before the commit, survives a torn line, follows a key
rotation, and a replay respects legal holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from conftest import CRM, CRM_TABLES, IN_CI, PG_ADMIN_URL, fresh_pg_database, write_csv
from drops import (
    KEYS,
    POLICY,
    RESEARCH_HEADER,
    TODAY,
    ingest,
    requests,
    research_row,
    sync,
)
from leak_scan import scan_database, scan_folder
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm_hygiene import cli, erasure_log
from crm_hygiene.applicants import process_applicant_files
from crm_hygiene.db import make_engine, upgrade_schema
from crm_hygiene.erasure_replay import replay_erasure_log
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.keys import HEX_HMAC, parse_hash_keys
from crm_hygiene.minor_review import run_minor_reviews
from crm_hygiene.run import RunInfo

pytestmark = [pytest.mark.enforces("suppression", "data_subject_requests", "minors")]

APPLICANT_HEADER = ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                    "decided_at", "retain_for_future_roles", "dispute"]
PAT = "pat.quillon@acme-rd.com"
# Everyone erased in the drill, every way they could still be read (not Pat's phone number:
# Sam, a colleague on the same switchboard, is someone else and keeps it).
ERASED_STRINGS = ("pat.quillon", "Patrova", "Quillon", "lee.listerby", "Leandro", "Listerby", "tianna.youngling",
                  "Tianna", "Youngling", "quinnet.zapfel", "Quinnet", "Zapfel")
SAM, KIM, OTIS, KAI = ("e:sam.boardley@acme-rd.com", "e:kimora.optley@acme-rd.com",
                       "e:otis.objectwell@acme-rd.com", "e:kaiden.keepsake@acme-rd.com")


# --- backing up and restoring -------------------------------------------------------

class Backups:
    """A backup of one CRM database (and of its data folder, the erasure log aside), and restoring it."""

    def __init__(self, crm: CRM, folder: Path):
        self.crm, self.folder = crm, folder
        folder.mkdir()

    def take(self, data_dir: Path | None = None) -> None:
        self.crm.engine.dispose()
        if self.crm.backend == "sqlite":
            _sqlite_copy(self._db_path(), self.folder / "crm.db")  # a consistent snapshot, WAL included
        else:
            _pg("pg_dump", "-Fc", "--no-owner", "-f", str(self.folder / "crm.dump"), self._db_name())
        if data_dir is not None:
            shutil.copytree(data_dir, self.folder / "data", ignore=shutil.ignore_patterns("erasure_log"))

    def restore(self, data_dir: Path | None = None) -> None:
        self.crm.engine.dispose()
        if self.crm.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self._db_path()}{suffix}").unlink(missing_ok=True)
            _sqlite_copy(self.folder / "crm.db", self._db_path())
        else:
            name = self._db_name()
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            _pg("pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "-d", name,
                str(self.folder / "crm.dump"))
        if data_dir is not None:  # everything but the erasure log, which is kept apart (README)
            for entry in data_dir.iterdir():
                if entry.name != "erasure_log":
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            shutil.copytree(self.folder / "data", data_dir, dirs_exist_ok=True)

    def _db_path(self) -> str:
        return self.crm.url.removeprefix("sqlite:///")

    def _db_name(self) -> str:
        return self.crm.url.rsplit("/", 1)[1]


def _sqlite_copy(source, target) -> None:
    """SQLite's online backup API, the way to copy a live database file."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _pg(tool: str, *args: str) -> None:
    url = make_url(PG_ADMIN_URL)
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    subprocess.run([tool, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
                    *args], check=True, capture_output=True, env=env)


def _pg_tools_or_skip() -> None:
    """pg_dump refuses a server newer than itself: the tools must be there, at the server's version."""
    missing = [t for t in ("pg_dump", "pg_restore") if shutil.which(t) is None]
    message = f"{', '.join(missing)} not installed" if missing else None
    if not missing:
        tool = int(subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True)
                   .stdout.split()[-1].split(".")[0])
        admin = make_engine(PG_ADMIN_URL)
        with admin.connect() as conn:
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        admin.dispose()
        message = f"pg_dump {tool} cannot dump a PostgreSQL {server} server" if tool < server else None
    if message:
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def restorable(request, tmp_path):
    """A CRM database of this test's own (a restore drops and re-creates it) and its backups."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
    else:
        url, drop = fresh_pg_database("restore_")
        _pg_tools_or_skip()
    upgrade_schema(make_engine(url))
    crm = CRM(request.param, url)
    yield crm, Backups(crm, tmp_path / "backups")
    crm.engine.dispose()
    if drop:
        drop()


# --- the people and what happens to them ----------------------------------------------

def held(crm) -> dict[str, str]:
    return dict(crm.rows("SELECT match_key, status FROM prospects"))


def suppression_rows(crm) -> set[tuple]:
    return set(crm.rows("SELECT key_type, key_hash, key_id, reason, scope, added_at, rescreen_at FROM suppression_list"))


def ingest_everyone(crm, data_dir) -> None:
    ingest(crm, data_dir, RESEARCH, "r1.csv", RESEARCH_HEADER, [
        research_row("Patrova", "Quillon", "", phone="020 7946 0111", company="Globex")], run_id="r1")
    ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Patrova", "Quillon", PAT, phone="020 7946 0111"),
        research_row("Samwise", "Boardley", "sam.boardley@acme-rd.com", phone="020 7946 0111"),  # switchboard
        research_row("Leandro", "Listerby", "lee.listerby@acme-rd.com"),
        research_row("Kimora", "Optley", "kimora.optley@acme-rd.com"),
        research_row("Otis", "Objectwell", "otis.objectwell@acme-rd.com"),
        research_row("Tianna", "Youngling", "tianna.youngling@acme-rd.com", title="Year 10 pupil"),
        research_row("Kaiden", "Keepsake", "kaiden.keepsake@acme-rd.com"),
        research_row("Quinnet", "Zapfel", "quinnet.zapfel@acme-rd.com", source="gossip"),  # quarantined only
        *(research_row(f"Fill{i}", "Person", f"fill{i}@acme-rd.com") for i in range(20)),
    ], run_id="r2")
    inbox = data_dir / "inbox" / "applicants"
    write_csv(inbox / "a.csv", APPLICANT_HEADER, [
        ["APP-1", "Patrova", "Quillon", PAT, "020 7946 0111", "2026-09-01", "pending", "", "", ""],
        ["APP-2", "Quinnet", "Zapfel", "quinnet.zapfel@acme-rd.com", "", "2026-09-01", "pending", "", "", ""]])
    process_applicant_files(crm.engine, POLICY, RunInfo("ingest_applicants", "a", TODAY), inbox,
                            data_dir / "archive" / "applicants")
    requests(crm, data_dir, "a.csv", [["A-1", "access", PAT, "2026-11-10", ""]])
    assert (data_dir / "exports" / "dsr" / "A-1.json").exists()


def erase_and_opt_out(crm, data_dir) -> None:
    """After the backup: every path that erases or suppresses for good."""
    summary = requests(crm, data_dir, "e.csv", [["E-1", "erasure", PAT, "2026-11-20", ""],
                                                ["E-2", "erasure", "quinnet.zapfel@acme-rd.com", "2026-11-20", ""],
                                                ["O-1", "objection", "otis.objectwell@acme-rd.com", "2026-11-20", ""]])
    assert summary["outcomes"] == {"erasure:erased": 1, "erasure:not_held_suppressed": 1,
                                   "objection:suppressed": 1}
    sync(crm, data_dir, "s.csv", [["erasure", "lee.listerby@acme-rd.com", "", "", "", "", "2026-11-20"],
                                  ["unsubscribe", "kimora.optley@acme-rd.com", "", "", "", "", "2026-11-20"]])
    tia = crm.scalar("SELECT prospect_id FROM prospects WHERE match_key = 'e:tianna.youngling@acme-rd.com'")
    inbox = data_dir / "inbox" / "reviews"
    write_csv(inbox / "d.csv", ["prospect_id", "decision"], [[str(tia), "minor"]])
    run_minor_reviews(crm.engine, POLICY, KEYS, RunInfo("review_minors", "d", TODAY), inbox,
                      data_dir / "archive" / "reviews")


def gone_as_the_erasures_left_it(crm, data_dir) -> None:
    people = held(crm)
    assert not [k for k in people if "quillon" in k or k.startswith("p:") or "listerby" in k or "youngling" in k]
    assert people[SAM] == "active" and people[KAI] == "active"  # the switchboard colleague is someone else
    assert people[KIM] == "suppressed" and people[OTIS] == "suppressed"
    assert crm.rows("SELECT applicant_id FROM applicants") == []
    assert crm.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert crm.scalar("SELECT COUNT(*) FROM data_subject_requests WHERE answer_file IS NOT NULL") == 0
    assert not (data_dir / "exports" / "dsr" / "A-1.json").exists()
    assert scan_database(crm.engine, ERASED_STRINGS) == []
    assert scan_folder(data_dir, ERASED_STRINGS) == []


def replay_with_the_cli(crm, capsys, *argv: str) -> str:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_CRM_DB", crm.airflow_conn)
        cli.main(["replay-erasures", *argv])
    crm.engine.dispose()
    return capsys.readouterr().out


def table_contents(crm) -> dict[str, list[str]]:
    """Every CRM table but the audit log, row by row."""
    return {t: sorted(map(repr, crm.rows(f"SELECT * FROM {t}"))) for t in CRM_TABLES if t != "audit_log"}


def folder_contents(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# Not marked slow: a few seconds a backend, and the one proof that a restore keeps the promises.
@pytest.mark.promise(1)
@pytest.mark.promise(3)
@pytest.mark.promise(6)
def test_restore_drill_a_restored_backup_loses_its_erased_people_again_on_replay(restorable, data_dir, capsys):
    crm, backups = restorable
    ingest_everyone(crm, data_dir)
    backups.take(data_dir)

    erase_and_opt_out(crm, data_dir)
    gone_as_the_erasures_left_it(crm, data_dir)
    suppressed_before, people_before = suppression_rows(crm), held(crm)

    backups.restore(data_dir)
    # The drill is real: the restored CRM and data folder hold the erased people again, and
    # the opt-outs are undone (Kim and Otis are marketable again).
    people = held(crm)
    assert {f"e:{PAT}", "p:+442079460111", "e:lee.listerby@acme-rd.com", "e:tianna.youngling@acme-rd.com"} <= set(people)
    assert people[KIM] == "active" and people[OTIS] == "active"
    assert not suppressed_before <= suppression_rows(crm)
    assert crm.scalar("SELECT COUNT(*) FROM applicants") == 2 and crm.scalar("SELECT COUNT(*) FROM quarantine") == 1
    assert (data_dir / "exports" / "dsr" / "A-1.json").exists()
    assert {h.needle for h in scan_folder(data_dir, ERASED_STRINGS)} >= {"Quillon", "Listerby", "Youngling"}

    out = replay_with_the_cli(crm, capsys)

    assert "Erasure log replayed." in out
    gone_as_the_erasures_left_it(crm, data_dir)
    assert suppression_rows(crm) == suppressed_before  # the list exactly as before the restore
    assert held(crm) == people_before
    audit = dict(crm.rows("SELECT action, COUNT(*) FROM audit_log WHERE dag_id = 'replay_erasures' GROUP BY action"))
    assert audit["replay_erasure_log"] == 1 and audit["erase"] == 2  # erasures, and the child
    # Put back per original subject: requests E-1, E-2 and O-1, the list, the reviewer's decision.
    assert audit["replay_suppression_entries"] == 5
    assert scan_database(crm.engine, ERASED_STRINGS) == []  # audit rows included: counts and ids only

    # A second replay changes nothing (and says so).
    tables, files = table_contents(crm), folder_contents(data_dir)
    audit_rows = crm.scalar("SELECT MAX(audit_id) FROM audit_log")
    out = replay_with_the_cli(crm, capsys)
    assert "nothing to do" in out
    assert table_contents(crm) == tables and folder_contents(data_dir) == files
    assert crm.rows("SELECT action, rows_affected FROM audit_log WHERE audit_id > :a ORDER BY audit_id",
                    a=audit_rows) == [("replay_erasure_log", 0), ("erasure_followups", 0)]

    # And whoever was erased is refused when a drop brings them back, however written.
    back = ingest(crm, data_dir, RESEARCH, "back.csv", RESEARCH_HEADER, [
        research_row("Patrova", "Quillon", "Pat.Quillon+news@ACME-RD.com"),
        research_row("Patrova", "Quillon", "", phone="+44 20 7946 0111"),
        research_row("Leandro", "Listerby", " LEE.LISTERBY@acme-rd.com"),
        research_row("Tianna", "Youngling", "tianna.youngling@acme-rd.com"),
        research_row("Quinnet", "Zapfel", "quinnet.zapfel@acme-rd.com")], run_id="back")
    assert back["rows_blocked"] == 5
    assert held(crm) == people_before


@pytest.mark.promise(3)
def test_a_data_folder_restored_over_a_current_database_loses_the_erased_rows_again(crm, data_dir, tmp_path):
    """Only the data folder comes back from an older backup: nobody erased is held, so the
    replay finds them by the log's hashes alone and scrubs the archived drops again."""
    ingest_everyone(crm, data_dir)
    copy = tmp_path / "data-backup"
    shutil.copytree(data_dir, copy)
    erase_and_opt_out(crm, data_dir)
    for entry in data_dir.iterdir():
        if entry.name != "erasure_log":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(copy, data_dir, dirs_exist_ok=True)
    assert {h.needle for h in scan_folder(data_dir, ERASED_STRINGS)} >= {"Quillon", "Listerby", "Youngling"}
    people = held(crm)

    counts = replay_erasure_log(crm.engine, POLICY, KEYS, RunInfo("replay_erasures", "t", TODAY), data_dir,
                                data_dir / "erasure_log")

    assert counts.erased == 0 and counts.suppression_entries_restored == 0 and held(crm) == people
    # The answer's pointer went with the erasure: the file is found again by the request's id.
    assert counts.drop_files_scrubbed >= 3 and counts.answer_files_deleted == 1
    assert scan_folder(data_dir, ERASED_STRINGS) == []


# --- the log itself ------------------------------------------------------------------

def log_text(data_dir: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted((data_dir / "erasure_log").glob("*.jsonl")))


@pytest.mark.promise(3)
def test_the_log_holds_keyed_hashes_and_ids_only_and_every_suppression_entry(crm, data_dir):
    ingest_everyone(crm, data_dir)
    erase_and_opt_out(crm, data_dir)
    ingest(crm, data_dir, RESEARCH, "kid.csv", RESEARCH_HEADER, [  # a certain minor: refused, hashes kept
        research_row("Minella", "Tinyworth", "minella.tinyworth@acme-rd.com", dob="2015-05-05")], run_id="kid")
    sync(crm, data_dir, "tps.csv", [["tps", "", "", "020 7946 0111", "", "phone", "2026-11-20"]])

    raw = log_text(data_dir)
    assert [s for s in (*ERASED_STRINGS, "Minella", "Tinyworth", "Kimora", "optley", "Otis", "objectwell",
                        "Samwise", "boardley", "acme-rd", "7946", "+4420", "Acme", "Globex")
            if s.lower() in raw.lower()] == []
    lines = [json.loads(line) for line in raw.splitlines()]
    allowed = {"v", "logged_at", "dag_id", "run_id", "record", "subject_ref", "key_type", "key_hash", "key_id",
               "reason", "scope", "added_at", "rescreen_at", "applies", "keeps"}
    assert all(set(line) <= allowed and HEX_HMAC.match(line["key_hash"]) for line in lines)
    refs = {line["subject_ref"] for line in lines}
    assert {"request:E-1", "request:E-2", "request:O-1", "minors:admission"} <= refs
    assert any(r.startswith("file:") for r in refs) and any(r.startswith("minor_reviews:") for r in refs)
    # Every row of the suppression list can be put back from the log.
    logged = erasure_log.read(data_dir / "erasure_log")
    assert logged.unreadable == 0
    from_log = {(r.key_type, r.key_hash, r.key_id, r.reason, r.scope) for r in logged.suppression}
    assert {row[:5] for row in suppression_rows(crm)} == from_log
    # Who was erased, by identity: Pat (and their phone-only record), Quinn (not held), Lee, the child.
    erased = {(r.key_type, r.key_hash, r.keeps) for r in logged.erased}
    digest = KEYS.current.digest
    assert {("email", digest(PAT), "erasure"), ("phone", digest("+442079460111"), "erasure"),
            ("email", digest("quinnet.zapfel@acme-rd.com"), "erasure"),
            ("email", digest("lee.listerby@acme-rd.com"), "erasure"),
            ("email", digest("tianna.youngling@acme-rd.com"), "minor")} <= erased
    # Sam shares Pat's number but was not erased: the log names no identity of theirs.
    assert ("email", digest("sam.boardley@acme-rd.com"), "erasure") not in erased


class CommitNeverHappened(RuntimeError):
    """Stands for the process dying between the log's fsync and the database commit."""


def test_the_log_entry_is_on_disk_before_the_commit_and_its_replay_is_harmless(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Patrova", "Quillon", PAT, phone="020 7946 0111"),
        research_row("Kaiden", "Keepsake", "kaiden.keepsake@acme-rd.com")])
    real_append = erasure_log.append

    def append_then_die(run, records, folder=None):
        real_append(run, records, folder)
        raise CommitNeverHappened

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(erasure_log, "append", append_then_die)
        requests(crm, data_dir, "e.csv", [["E-1", "erasure", PAT, "2026-11-20", ""]])

    # The erasure rolled back (the drop waits for its re-run), but its entry is in the log.
    assert f"e:{PAT}" in held(crm) and suppression_rows(crm) == set()
    logged = erasure_log.read(data_dir / "erasure_log")
    assert ("email", KEYS.current.digest(PAT)) in {(r.key_type, r.key_hash) for r in logged.erased}

    # Replaying it does what the re-run of the request will do, and nothing else.
    counts = replay_erasure_log(crm.engine, POLICY, KEYS, RunInfo("replay_erasures", "t", TODAY), data_dir,
                                data_dir / "erasure_log")
    assert counts.erased == 1 and counts.suppression_entries_restored == 2  # email and phone hashes
    assert held(crm) == {"e:kaiden.keepsake@acme-rd.com": "active"}


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_a_line_of_its_own(tmp_path):
    folder = tmp_path / "log"
    run = RunInfo("d", "r", TODAY)
    row = ("email", KEYS.current.digest("a@b.com"), KEYS.current.key_id, "erasure", "all", "2026-11-20 00:00:00", None)
    erasure_log.append(run, erasure_log.suppression_records("request:X", [row], applies=False), folder)
    day_file = next(folder.glob("*.jsonl"))
    with day_file.open("ab") as fh:
        fh.write(b'{"v":1,"record":"suppression","key_ha')  # a crash mid-append
    erasure_log.append(run, erasure_log.erased_records("request:X", "erasure", [row[:3]]), folder)

    contents = erasure_log.read(folder)
    assert (len(contents.suppression), len(contents.erased), contents.unreadable) == (1, 1, 1)
    assert erasure_log.read(folder, since=TODAY.replace(year=2100)).lines == 0


def test_a_replay_without_its_log_stops_and_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_ERASURE_LOG_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "c.db")}))
    with pytest.raises(SystemExit) as stopped:
        cli.main(["replay-erasures"])
    assert "no erasure log at" in str(stopped.value) and "CRM_ERASURE_LOG_DIR" in str(stopped.value)


# --- replays that must hold back ----------------------------------------------------------

@pytest.mark.promise(1)
def test_a_replay_after_a_key_rotation_matches_entries_under_the_older_key(restorable, data_dir):
    crm, backups = restorable
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Patrova", "Quillon", PAT, phone="020 7946 0111"),
        research_row("Kimora", "Optley", "kimora.optley@acme-rd.com"),
        research_row("Kaiden", "Keepsake", "kaiden.keepsake@acme-rd.com")])
    backups.take()
    requests(crm, data_dir, "e.csv", [["E-1", "erasure", PAT, "2026-11-20", ""]])
    sync(crm, data_dir, "s.csv", [["unsubscribe", "kimora.optley@acme-rd.com", "", "", "", "", "2026-11-20"]])
    backups.restore()
    run = RunInfo("replay_erasures", "t", TODAY)

    # The old key is gone from the configuration: the entries cannot match, and say so.
    new_only = parse_hash_keys("2027-01:another-secret-0123456789")
    counts = replay_erasure_log(crm.engine, POLICY, new_only, run, data_dir, data_dir / "erasure_log")
    assert counts.records_unmatchable == counts.log_records > 0 and counts.erased == 0
    assert f"e:{PAT}" in held(crm)

    # With the old key kept (as the README says), held people are matched through their plain keys.
    rotated = parse_hash_keys(f"2027-01:another-secret-0123456789 {os.environ['CRM_HASH_KEY']}")
    counts = replay_erasure_log(crm.engine, POLICY, rotated, run, data_dir, data_dir / "erasure_log")
    assert counts.records_unmatchable == 0 and counts.erased == 1
    assert held(crm) == {KIM: "suppressed", KAI: "active"}


@pytest.mark.enforces("retention")  # "legal claims": a hold refuses an erasure, replayed or not
def test_a_replay_refuses_to_erase_someone_a_legal_hold_names(restorable, data_dir):
    crm, backups = restorable
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Leandro", "Listerby", "lee.listerby@acme-rd.com"),
        research_row("Kaiden", "Keepsake", "kaiden.keepsake@acme-rd.com")])
    backups.take()
    sync(crm, data_dir, "s.csv", [["erasure", "lee.listerby@acme-rd.com", "", "", "", "", "2026-11-20"]])
    backups.restore()
    # A hold placed after the backup is lost with the restore: its drop is put back first (README).
    write_csv(data_dir / "inbox" / "legal_holds" / "h.csv", ["email", "case_ref", "placed_at"],
              [["lee.listerby@acme-rd.com", "CASE-9", "2026-11-21"]])

    counts = replay_erasure_log(crm.engine, POLICY, KEYS, RunInfo("replay_erasures", "t", TODAY), data_dir,
                                data_dir / "erasure_log")

    assert counts.erased == 0 and counts.erasure_refused_legal_hold == 1
    # Kept while the hold stands, out of marketing as the list's entry says.
    assert held(crm) == {"e:lee.listerby@acme-rd.com": "suppressed", KAI: "active"}
