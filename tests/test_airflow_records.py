"""Airflow's own records are kept for the policy's period: `make airflow-clean`'s two steps."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO

from crm_hygiene.cli import prune_logs
from crm_hygiene.policy import load_policy
from crm_hygiene.run import utc_now

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("airflow_records"),
    pytest.mark.promise(4),
]


def test_task_logs_older_than_the_policys_period_are_deleted_and_newer_ones_kept(tmp_path):
    period = load_policy().airflow_records.period
    cutoff = period.before(utc_now())
    run_folder = tmp_path / "dag_id=ingest_enquiries" / "run_id=old" / "task_id=ingest"
    run_folder.mkdir(parents=True)
    old, fresh = run_folder / "attempt=1.log", tmp_path / "dag_id=ingest_enquiries" / "recent.log"
    old.write_text("counts only\n")
    fresh.write_text("counts only\n")
    stamp = (cutoff - timedelta(days=1) - datetime(1970, 1, 1)).total_seconds()
    os.utime(old, (stamp, stamp))
    outside = tmp_path.parent / "not-a-log.txt"
    outside.write_text("x")
    os.symlink(outside, run_folder.parent / "link.log")
    os.utime(run_folder.parent / "link.log", (stamp, stamp), follow_symlinks=False)
    assert prune_logs(tmp_path, cutoff) == 2
    assert not run_folder.parent.exists() and fresh.exists() and outside.exists()


def test_the_cutoff_is_one_airflow_db_clean_accepts():
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}
    cutoff = subprocess.run([sys.executable, "-m", "crm_hygiene.cli", "airflow-records-cutoff"], env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    expected = load_policy().airflow_records.period.before(utc_now())
    assert abs(datetime.fromisoformat(cutoff).replace(tzinfo=None) - expected) < timedelta(minutes=5)
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run([airflow, "db", "clean", "--dry-run", "--clean-before-timestamp", cutoff, "-t", "xcom"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
