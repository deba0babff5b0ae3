"""`make demo`: sample data in, every DAG run end to end on SQLite, a summary out.

Runs each DAG with `airflow dags test` exactly as the data team would, against
the embedded defaults (Airflow metadata in .airflow/, the CRM in data/crm.db).
Safe to run again: the same sample bytes are recognised and change nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from crm_hygiene import settings  # noqa: E402
from crm_hygiene.cli import summary_counts  # noqa: E402
from crm_hygiene.db import make_engine  # noqa: E402
from crm_hygiene.sample_data import generate_inbox  # noqa: E402

# Every DAG that exists so far, in the order data flows through them.
DAG_IDS = ("ingest_research_lists", "ingest_event_lists", "ingest_enquiries")
ROWS = 2000
SEED = 42


def run_dag(dag_id: str, logical_date: str) -> bool:
    started = time.monotonic()
    log_file = REPO / ".airflow" / f"demo-{dag_id}.log"
    with log_file.open("w") as log:
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / "airflow"), "dags", "test", dag_id, logical_date],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, check=False,
        )
    ok = result.returncode == 0 and "state=success" in log_file.read_text(errors="replace")
    print(f"  {dag_id:<28} {'ok' if ok else 'FAILED':<7} {time.monotonic() - started:5.1f}s  log: {log_file.relative_to(REPO)}")
    return ok


def main() -> int:
    today = date.today()
    data_dir = settings.data_dir()
    print(f"1. Sample data ({ROWS} rows, seed {SEED}) into {data_dir / 'inbox'}")
    generate_inbox(data_dir, rows=ROWS, seed=SEED, today=today)
    print(f"2. Running every DAG with `airflow dags test DAG_ID {today}` (SQLite)")
    results = [run_dag(dag_id, today.isoformat()) for dag_id in DAG_IDS]
    print("3. What the CRM holds now")
    for label, value in summary_counts(make_engine(settings.database_url_from_env())).items():
        print(f"  {label:<40} {value:>8,}")
    print(f"""
Where to look
  CRM database      {data_dir / 'crm.db'}   (sqlite3 it; tables prospects, marketing_prospects,
                    prospect_sources, quarantine, audit_log, ingested_files)
  processed drops   {data_dir / 'archive'}
  rejected drops    {data_dir / 'inbox'}/<kind>/rejected/ (with .reason.txt)
  Airflow UI        AIRFLOW_HOME=.airflow .venv/bin/airflow standalone   then http://localhost:8080
                    (prints an admin password; run `make demo` first so the metadata DB exists)
Running `make demo` again re-drops the same sample bytes: they are archived and nothing changes.""")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
