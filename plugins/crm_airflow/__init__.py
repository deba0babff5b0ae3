"""Airflow glue: the only package that imports Airflow besides the DAG files.

It turns an Airflow task context into the plain arguments the domain package
(``crm_hygiene``) takes: a database engine, the policy, and a RunInfo whose
"today" is the run's logical date. DAG files stay a schedule and a few calls.
"""
