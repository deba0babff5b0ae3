# The image docker-compose.yaml runs: the official Airflow image (the Python 3.11 the
# lock is resolved for) with this project's pinned requirements installed at build time,
# instead of by _PIP_ADDITIONAL_REQUIREMENTS on every start. The code (dags/, plugins/,
# include/) is mounted by docker-compose.yaml, not copied in.
FROM apache/airflow:3.3.2-python3.11

# The official image installs Python packages as the airflow user; pip refuses otherwise.
USER airflow
COPY --chown=airflow:0 requirements.txt constraints.txt /tmp/crm-hygiene/
# requirements.txt pins apache-airflow to the image's version, so the resolve cannot move
# Airflow. pip check fails the build when constraints.txt disagrees with a provider the
# image ships (Celery, FAB, PostgreSQL...): fix the pin and `make lock`; never drop the check.
RUN pip install --no-cache-dir -r /tmp/crm-hygiene/requirements.txt -c /tmp/crm-hygiene/constraints.txt \
 && pip check
