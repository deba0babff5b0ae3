"""The database settings bulk work runs under (crm_hygiene/db.py), and that a killed ingest under
them loses nothing: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from drops import KEYS, POLICY, TODAY

from crm_hygiene.db import PG_WORK_MEM, SQLITE_BUSY_TIMEOUT_S, SQLITE_LARGE_CACHE_KIB, make_engine
from crm_hygiene.ingest import pipeline
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.run import RunInfo
from crm_hygiene.sample_data import write_research_file

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def sqlite_settings(conn) -> dict:
    return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "temp_store", "cache_size")}


def test_every_sqlite_connection_is_set_for_concurrent_and_crash_safe_work(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.connect() as conn:
        assert sqlite_settings(conn) == {
            "journal_mode": "wal",  # readers never wait for the writer
            "synchronous": 1,  # NORMAL: a killed process loses no commit (under WAL)
            "foreign_keys": 1,
            "busy_timeout": SQLITE_BUSY_TIMEOUT_S * 1000,
            "temp_store": 1,  # FILE: the staging tables never sit in this process's memory
            "cache_size": -2000,  # SQLite's default between bulk transactions
        }
    engine.dispose()


def test_the_ingest_transaction_has_the_bulk_memory_and_gives_it_back(crm, data_dir, monkeypatch):
    """SQLite: a 256 MiB page cache for the ingest's transaction (its upsert touches index pages all
    over prospects), back to the default once the connection returns to the pool; PostgreSQL: the
    larger work_mem, for the transaction only."""
    seen = []
    admit = pipeline.admit_candidates

    def admit_and_look(conn, *args, **kwargs):
        seen.append(_bulk_memory(conn))
        return admit(conn, *args, **kwargs)

    monkeypatch.setattr(pipeline, "admit_candidates", admit_and_look)
    inbox = data_dir / "inbox" / "research"
    write_research_file(inbox / "drop.csv", 200, 5, TODAY)
    summary = pipeline.ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, RunInfo("t", "r", TODAY), inbox,
                                    data_dir / "archive" / "research").as_dict()
    assert summary["files_loaded"] == 1 and summary["rows_admitted"] > 0
    with crm.engine.connect() as conn:
        after = _bulk_memory(conn)
    if crm.backend == "sqlite":
        assert (seen, after) == ([-SQLITE_LARGE_CACHE_KIB], -2000)
    else:
        assert (seen, after) == ([PG_WORK_MEM], "4MB")


def _bulk_memory(conn):
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA cache_size").scalar()
    return conn.exec_driver_sql("SHOW work_mem").scalar()


# The ingest, stopped (then killed) after it has written the file's people and before it commits.
_KILLED_BEFORE_THE_COMMIT = """
import json, os, sys, time
from datetime import date
from pathlib import Path
from crm_hygiene.db import make_engine
from crm_hygiene.ingest import pipeline
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.policy import load_policy
from crm_hygiene.run import RunInfo

admit = pipeline.admit_candidates
def admit_then_wait(conn, *args, **kwargs):
    result = admit(conn, *args, **kwargs)
    print("ADMITTED", flush=True)
    time.sleep(600)
pipeline.admit_candidates = admit_then_wait
data = Path(sys.argv[2])
pipeline.ingest_inbox(make_engine(sys.argv[1]), RESEARCH, load_policy(), parse_hash_keys(os.environ["CRM_HASH_KEY"]),
                      RunInfo("t", "killed", date(2026, 11, 24)), data / "inbox" / "research",
                      data / "archive" / "research")
"""


@pytest.mark.promise(7)
def test_an_ingest_killed_before_its_commit_leaves_nothing_and_its_drop_pending(crm, data_dir):
    """SIGKILL with the file's people written (on SQLite in the large page cache and the WAL) but not
    committed: the database is whole and holds nothing of the file, the drop is still in the inbox,
    and the next run loads it."""
    inbox = data_dir / "inbox" / "research"
    write_research_file(inbox / "drop.csv", 3000, 5, TODAY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(PLUGINS.parent)])}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_BEFORE_THE_COMMIT, crm.url, str(data_dir)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "ADMITTED", child.stderr.read()[-2000:]
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    if crm.backend == "sqlite":
        assert crm.scalar("PRAGMA integrity_check") == "ok"
    for table in ("prospects", "prospect_sources", "quarantine", "ingested_files", "audit_log"):
        assert crm.scalar(f"SELECT COUNT(*) FROM {table}") == 0, table
    assert (inbox / "drop.csv").exists() and not (data_dir / "archive" / "research").exists()

    summary = pipeline.ingest_inbox(crm.engine, RESEARCH, POLICY, KEYS, RunInfo("t", "again", TODAY), inbox,
                                    data_dir / "archive" / "research").as_dict()
    assert summary["files_loaded"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == summary["prospects_created"] > 2000
    assert json.loads(crm.scalar("SELECT details FROM audit_log WHERE action = 'ingest_file'"))["rows_read"] == 3000
