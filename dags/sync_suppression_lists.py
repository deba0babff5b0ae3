"""
### sync_suppression_lists

Reads suppression lists dropped as CSV into `$CRM_DATA_DIR/inbox/suppression/`
(`reason` and at least one of `email`, `email_hmac`, `phone`, `domain`; optional
`scope` and `added_at`) and applies them to everything already held.

Only keyed hashes (HMAC-SHA256 under `CRM_HASH_KEY` / Variable `crm_hash_key`)
are stored. Scope `all`/`email` entries take people out of `marketing_prospects`
at once (status `suppressed`); scope `phone` entries (TPS, re-screen date 28
days on) mark them `do_not_call`; `erasure` entries delete them, keeping only
the hash. Every ingest checks the same list, so nobody on it comes back. After
a key rotation, held people are re-hashed under the new key first. Counts are
in `audit_log`; a file that cannot be read is rejected and the run fails.
Runs when a list arrives (a watcher in the triggerer) and hourly; each ingest
DAG also applies a list waiting in the inbox before it admits anyone.
"""

from airflow.sdk import dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, INBOX_TIMEOUT, PROSPECTS, SCHEDULES


@dag(dag_id="sync_suppression_lists", schedule=SCHEDULES["sync_suppression_lists"], tags=["crm", "suppression", "gdpr"],
     doc_md=__doc__, **COMMON)
def sync_suppression_lists():
    sync = task(tasks.sync_suppression_lists, task_id="sync_suppression_lists", outlets=[PROSPECTS],
                execution_timeout=INBOX_TIMEOUT)
    task(tasks.ensure_schema)() >> sync()


sync_suppression_lists()
