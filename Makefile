# crm-hygiene: two commands on a fresh machine are `make demo` and `make test`.
# Everything the project needs is installed here into .venv; nothing by hand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ROWS   ?= 2000
SEED   ?= 42
# Debian's Chromium, for the browser tests (installed by its target below).
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Embedded defaults: Airflow metadata and the CRM database are SQLite files
# under gitignored folders, so a clone runs with nothing else installed.
export AIRFLOW_HOME                  ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER    := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES  := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export GX_ANALYTICS_ENABLED          := False
export CRM_DATA_DIR                  ?= $(CURDIR)/data
export PYTHONPATH                    := $(CURDIR)/plugins:$(CURDIR)
# Playwright drives Debian's Chromium (CHROMIUM below); it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help venv demo test lint db-upgrade replay-erasures sample-data compliance-report bench eval eval-ceiling fuzz lock airflow-db airflow-clean ui clean

help:
	@echo "make demo         build .venv, generate sample data, run every DAG end to end (SQLite)"
	@echo "make test         build .venv if needed, install Debian's chromium if missing, run lint and the whole test suite"
	@echo "make bench        ingest benchmark (100k and 1M rows) on PostgreSQL and SQLite, and a fresh process's start-up"
	@echo "make eval         minor-detection quality: precision and recall per signal (labelled, generated set)"
	@echo "make eval-ceiling what any classifier reading the same fields reaches on that set (installs scikit-learn)"
	@echo "make fuzz         FUZZ_SECONDS=N: coverage-guided fuzzing (atheris) of the reader, row checks, request parser"
	@echo "make sample-data  ROWS=N SEED=S: write sample drops into \$$CRM_DATA_DIR/inbox"
	@echo "make db-upgrade   bring the CRM schema up to date (Alembic)"
	@echo "make replay-erasures  [SINCE=YYYY-MM-DD] after restoring the CRM database: apply the erasure log again"
	@echo "make compliance-report  one page for a regulator: each policy clause, the DAG task enforcing it, the tests"
	@echo "                  proving it, the latest runs' counts (\$$CRM_DATA_DIR/reports/compliance_<date>.html, .md)"
	@echo "make airflow-clean  delete Airflow's own run records, XCom and task logs older than the policy's period"
	@echo "make ui           Airflow UI on http://localhost:8080 over the demo's data (airflow standalone; prints the login)"
	@echo "make lock         regenerate constraints.txt from a fresh resolve of requirements.txt"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

# Airflow's own metadata database (SQLite, embedded).
airflow-db: $(AIRFLOW_HOME)/airflow.db

$(AIRFLOW_HOME)/airflow.db: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

db-upgrade: venv
	$(PY) -m crm_hygiene.cli db-upgrade

# After restoring the CRM database from a backup, before the scheduler resumes
# (README, "Backups and restores"): erasures and suppression entries since the
# backup, from the erasure log kept outside the database.
replay-erasures: venv
	$(PY) -m crm_hygiene.cli replay-erasures $(if $(SINCE),--since $(SINCE))

sample-data: venv
	$(PY) -m crm_hygiene.cli sample-data --rows $(ROWS) --seed $(SEED)

# Reads the policy file, include/compliance/enforcement.yaml, the tests' marks
# (without running them) and audit_log; writes reports/compliance_<date>.html and .md.
compliance-report: venv
	$(PY) -m crm_hygiene.cli compliance-report

demo: venv airflow-db
	$(PY) scripts/demo.py

lint: venv
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_lock.py

test: venv airflow-db lint $(VENV)/.fuzz-installed $(CHROMIUM)
	$(PY) -m pytest -n auto

# The benches' lists and children are nobody: their erasure log goes beside their
# output, never into the data folder's real one.
bench: export CRM_ERASURE_LOG_DIR := $(CURDIR)/bench/out/erasure_log
bench: venv
	$(PY) bench/ingest_bench.py
	$(PY) bench/suppression_bench.py
	$(PY) bench/retention_bench.py
	$(PY) bench/partner_bench.py
	$(PY) bench/startup_bench.py

eval: venv
	$(PY) eval/minors_eval.py

# scikit-learn is only a measuring instrument here, installed on demand.
$(VENV)/.eval-installed: $(VENV)/.installed eval/requirements.txt
	$(PY) -m pip install --quiet -r eval/requirements.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

eval-ceiling: $(VENV)/.eval-installed
	$(PY) eval/minors_ceiling.py

# atheris is a test instrument the pipeline never imports: installed for
# `make test` (a short fuzz run) and `make fuzz`, pinned in fuzz/requirements.txt.
$(VENV)/.fuzz-installed: $(VENV)/.installed fuzz/requirements.txt
	$(PY) -m pip install --quiet -r fuzz/requirements.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

# Debian's Chromium for the browser tests (the hygiene report, tests/test_hygiene_report_browser.py;
# the Airflow UI, tests/test_scheduler_stack.py):
# Playwright launches this binary; a browser download from anywhere else fails on these machines.
# fonts-dejavu-core and fonts-liberation give the page's text real glyphs.
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  chromium fonts-dejavu-core fonts-liberation

# Each target runs FUZZ_SECONDS from its committed seeds plus what earlier runs
# found (.fuzz/<target>, gitignored); a crash stops with the input in .fuzz/.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := reader rows requests

fuzz: $(VENV)/.fuzz-installed
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p .fuzz/$$target; \
	  echo "fuzz_$$target: $(FUZZ_SECONDS) s"; \
	  $(PY) fuzz/fuzz_$$target.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=.fuzz/ .fuzz/$$target fuzz/seeds/$$target || exit 1; \
	done

lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.txt
	(echo "# Full lock of every installed package (direct and transitive). Generated by \`make lock\`; do not edit by hand."; \
	 .lockvenv/bin/pip freeze | grep -v '^-e') > constraints.txt
	rm -rf .lockvenv

# Airflow's own records (runs, task instances, XCom, logs) hold counts and ids
# only, and are kept for the policy's airflow_records.period. A task cannot reach
# the metadata database in Airflow 3, so this runs from the scheduler's host (cron
# it daily, or the same two commands in the image). --skip-archive: an archive
# table would keep what is being deleted.
airflow-clean: venv airflow-db
	$(VENV)/bin/airflow db clean --yes --skip-archive --error-on-cleanup-failure \
	  --clean-before-timestamp "$$($(PY) -m crm_hygiene.cli airflow-records-cutoff)"
	$(PY) -m crm_hygiene.cli prune-airflow-logs "$$($(VENV)/bin/airflow config get-value logging base_log_folder)"

# `airflow standalone` over the demo's data (scripts/ui.py runs the demo first when the CRM holds
# nobody), every DAG unpaused; it prints the URL, the user and Airflow's generated password.
# Standalone starts its components as `airflow ...` from PATH: .venv/bin goes first.
ui: venv airflow-db
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/ui.py

clean:
	rm -rf $(VENV) .airflow data .pytest_cache .hypothesis .fuzz
