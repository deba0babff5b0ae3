"""The one shape every prospect-ingest DAG has: check the schema, apply any
suppression list waiting (suppression before ingest), then ingest the drops."""

from __future__ import annotations

from airflow.sdk import DAG, dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, INBOX_TIMEOUT, PROSPECTS, SCHEDULES


def build_ingest_dag(dag_id: str, kind: str, doc_md: str) -> DAG:
    @dag(dag_id=dag_id, schedule=SCHEDULES[dag_id], tags=["crm", "ingest", kind], doc_md=doc_md, **COMMON)
    def ingest_dag():
        ingest = task(tasks.ingest_drops, task_id="ingest_drops", outlets=[PROSPECTS], execution_timeout=INBOX_TIMEOUT)
        suppress_first = task(tasks.apply_pending_suppression_lists, task_id="apply_pending_suppression_lists",
                              execution_timeout=INBOX_TIMEOUT)
        task(tasks.ensure_schema)() >> suppress_first() >> ingest(kind=kind)

    return ingest_dag()
