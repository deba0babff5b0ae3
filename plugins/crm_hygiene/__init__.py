"""crm-hygiene domain package: the rules and data work behind the DAGs.

Nothing here imports Airflow; the DAG files in ``dags/`` wrap these functions
at call time so that everything can be unit-tested without a scheduler.
"""
