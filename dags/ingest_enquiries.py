"""
### ingest_enquiries

Ingests enquiries (web form, email, telephone, meetings, email a friend) dropped as CSV into `$CRM_DATA_DIR/inbox/enquiries/`.

Each file is processed once (by content hash): gated by a Great Expectations
suite (a file that fails is moved to `inbox/enquiries/rejected/` with a
`.reason.txt` and the run fails), rows that fail a check go to `quarantine`
with their reasons, the rest are normalised, de-duplicated and admitted into
`prospects` tagged with source and lawful basis, in one transaction per file.
The file then moves to `archive/enquiries/`. Counts are in `audit_log`.

Runs when a file arrives in its inbox (a watcher in the triggerer, no worker
slot held) and hourly; a suppression list waiting in `inbox/suppression/` is
applied first, so nobody on it is admitted in between.
"""

from crm_airflow.ingest_dag import build_ingest_dag

dag = build_ingest_dag(dag_id="ingest_enquiries", kind="enquiries", doc_md=__doc__)
