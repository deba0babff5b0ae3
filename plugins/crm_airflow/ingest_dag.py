"""The one shape every prospect-ingest DAG has: ensure schema, then ingest drops."""

from __future__ import annotations

from airflow.sdk import DAG, dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, INBOX_TIMEOUT, PROSPECTS


def build_ingest_dag(dag_id: str, kind: str, doc_md: str) -> DAG:
    @dag(dag_id=dag_id, schedule="@hourly", tags=["crm", "ingest", kind], doc_md=doc_md, **COMMON)
    def ingest_dag():
        ingest = task(tasks.ingest_drops, task_id="ingest_drops", outlets=[PROSPECTS], execution_timeout=INBOX_TIMEOUT)
        task(tasks.ensure_schema)() >> ingest(kind=kind)

    return ingest_dag()
