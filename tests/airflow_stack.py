"""Airflow's own services as subprocesses, the way a deployment runs them, for tests/test_scheduler_stack.py.

`airflow scheduler` (LocalExecutor), `airflow dag-processor`, `airflow triggerer` and `airflow
api-server` start in their own process groups, on loopback only, against a PostgreSQL metadata
database of the test's own, with an AIRFLOW_HOME, a CRM_DATA_DIR and logs in a temporary folder.
The tests talk to them only through the REST API (a JWT from the simple auth manager's
``POST /auth/token``), and every wait is bounded: on a timeout, or when a service exits, the
failure says what was awaited, what was last seen and the tail of each service's log.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text

AIRFLOW = Path(sys.executable).with_name("airflow")
USERNAME = "crm_tester"
# GET /api/v2/monitor/health names the three job runners so; the api-server answering is its own health.
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
TASK_FAILED_STATES = {"failed", "up_for_retry", "upstream_failed"}
LOG_TAIL_CHARS = 2500


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StackFailure(AssertionError):
    pass


class AirflowStack:
    def __init__(self, root: Path, repo: Path, metadata_url: str, crm_conn: str):
        self.root = root
        self.repo = repo
        self.home = root / "airflow_home"
        self.data_dir = root / "data"
        self.logs = root / "service_logs"
        for path in (self.home, self.data_dir, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.metadata_url = metadata_url
        self.crm_conn = crm_conn
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.processes: dict[str, subprocess.Popen] = {}
        self.timings: dict[str, float] = {}
        self._token: str | None = None
        self._started_at = 0.0
        self._spawned_at = datetime.now(UTC)

    # --- configuration -------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The services' whole configuration, in the environment. Nothing of the test process's own
        Airflow settings (conftest's SQLite metadata copy) leaks in."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "PYTEST_"))}
        env.update({
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": f"{self.repo / 'plugins'}{os.pathsep}{self.repo}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            # Airflow derives the async URL as postgresql+asyncpg, which is not installed; psycopg 3 does both.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.repo / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.repo / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # Paused: the test unpauses, through the API, only the DAGs it runs. Unpaused, every
            # hourly and daily DAG would start a run at once and crowd the two cores.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            # Task processes report to the execution API, which the api-server serves.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
            # One secret for the api-server and the scheduler, which signs the tasks' tokens.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # HS512 wants 64 bytes or more
            # Fast where it costs nothing: heartbeats, the idle loop, the bundle's file listing.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The DAG files do not change during the test: no re-parsing every 30 s on a loaded machine.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            "GX_ANALYTICS_ENABLED": "False",
            "CRM_DATA_DIR": str(self.data_dir),
            # The inbox watchers look every second and take a file left alone for two.
            "CRM_INBOX_POKE_SECONDS": "1",
            "CRM_INBOX_SETTLE_SECONDS": "2",
            "CRM_HASH_KEY": os.environ["CRM_HASH_KEY"],
            "AIRFLOW_CONN_CRM_DB": self.crm_conn,
        })
        return env

    def commands(self) -> dict[str, list[str]]:
        # --skip-serve-logs: the api-server reads task logs from this AIRFLOW_HOME; a log server
        # would also take fixed ports (8793, 8794) that two workers, or `make ui`, would fight over.
        return {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }

    # --- lifecycle ----------------------------------------------------------------------------------

    def migrate(self) -> None:
        started = time.monotonic()
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self.password}), encoding="utf-8")
        log = self.logs / "db-migrate.log"
        with log.open("w") as out:
            result = subprocess.run([str(AIRFLOW), "db", "migrate"], env=self.env(), cwd=self.root,
                                    stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False)
        if result.returncode != 0:
            raise StackFailure(f"`airflow db migrate` failed (exit {result.returncode}):\n{self._tail(log)}")
        self.timings["airflow db migrate"] = time.monotonic() - started

    def start(self) -> None:
        env = self.env()
        self._started_at = time.monotonic()
        self._spawned_at = datetime.now(UTC)
        for name, args in self.commands().items():
            with (self.logs / f"{name}.log").open("w") as out:
                # Own session and process group: stop() ends each service with every process it forked.
                self.processes[name] = subprocess.Popen([str(AIRFLOW), *args], env=env, cwd=self.root, stdout=out,
                                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_ready(self, expected_dag_count: int, timeout: float) -> None:
        """The api-server answers, the three job runners heartbeat, and every DAG file is parsed."""
        seen: dict[str, Any] = {}

        def everything_ready():
            try:
                health = self.request("GET", "/api/v2/monitor/health", auth=False, timeout=5)
            except (OSError, StackFailure) as exc:
                seen["api-server"] = f"not answering ({exc})"
                return None
            seen.setdefault("api-server answering", time.monotonic() - self._started_at)
            seen["health"] = {key: health.get(key, {}).get("status") for key in HEALTH_KEYS.values()}
            if set(seen["health"].values()) != {"healthy"}:
                return None
            seen["DAGs parsed"] = self.request("GET", "/api/v2/dags?limit=1")["total_entries"]
            return seen if seen["DAGs parsed"] >= expected_dag_count else None

        self.wait_for(f"the four services to be healthy and all {expected_dag_count} DAG files parsed",
                      everything_ready, timeout, lambda: f"last seen: {seen}")
        self.timings["api-server answering"] = seen["api-server answering"]
        self.timings.update(self._startup_from_metadata())

    def _startup_from_metadata(self) -> dict[str, float]:
        """Each job runner's own start (its job row), and the last DAG file's first parse, after spawning."""
        engine = create_engine(self.metadata_url)
        try:
            with engine.connect() as conn:
                jobs = conn.execute(text("SELECT job_type, MIN(start_date) FROM job GROUP BY job_type")).all()
                parsed = conn.execute(text("SELECT MAX(last_parsed_time) FROM dag")).scalar()
        finally:
            engine.dispose()
        timings = {f"{job_type} running": (started - self._spawned_at).total_seconds() for job_type, started in jobs}
        timings["every DAG file parsed"] = (parsed - self._spawned_at).total_seconds()
        return timings

    def stop(self, grace: float = 30) -> None:
        """SIGTERM each service (it stops its own workers and task processes); after `grace` seconds,
        SIGKILL the process group of any still running, and whatever any of them started.
        (Signalling the groups at once makes the scheduler wait forever on LocalExecutor workers
        killed by the same signal; `make ui` hit exactly that with Ctrl-C.)"""
        started = time.monotonic()
        tree: list[psutil.Process] = []
        for proc in self.processes.values():
            try:
                tree += psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
            proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:  # still alive, so its group id is still its own
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for child in tree:  # psutil refuses a pid reused by someone else's process
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        self.timings["stop all services"] = time.monotonic() - started

    # --- the REST API -------------------------------------------------------------------------------

    def token(self) -> str:
        if self._token is None:
            self._token = self.request("POST", "/auth/token", {"username": USERNAME, "password": self.password},
                                       auth=False)["access_token"]
        return self._token

    def request(self, method: str, path: str, body: dict | None = None, *, auth: bool = True,
                timeout: float = 30) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(self.base_url + path, method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise StackFailure(f"{method} {path} answered {exc.code}: {exc.read().decode(errors='replace')[:1500]}"
                               ) from None

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """Poll the run until it ends; a task failing (or waiting for a retry minutes away) fails at once."""
        seen: dict[str, Any] = {}

        def run_ended():
            run = seen["run"] = self.dag_run(dag_id, run_id)
            tis = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
            seen["tasks"] = {ti["task_id"]: ti["state"] for ti in tis}
            failed = [ti for ti in tis if ti["state"] in TASK_FAILED_STATES]
            if failed:
                raise StackFailure(f"{dag_id} run {run_id}: task(s) {seen['tasks']}\n"
                                   + "\n".join(self._task_log_tail(dag_id, run_id, ti) for ti in failed)
                                   + self.log_tails())
            return run if run["state"] in ("success", "failed") else None

        def last_seen() -> str:
            # A run left queued usually waits behind another run of the DAG (max_active_runs=1).
            runs = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            return (f"last seen: {seen.get('run', {}).get('state')}, tasks {seen.get('tasks')}; runs of {dag_id}: "
                    + ", ".join(f"{r['dag_run_id']} {r['state']}" for r in runs))

        return self.wait_for(f"{dag_id} run {run_id} to end", run_ended, timeout, last_seen)

    def wait_for(self, what: str, poll: Callable[[], Any], timeout: float,
                 last_seen: Callable[[], str] = lambda: "", interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise StackFailure(f"waiting for {what}: `airflow {name}` exited with {proc.returncode}"
                                       + self.log_tails())
            result = poll()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise StackFailure(f"waiting for {what}: not within {timeout:.0f} s on this machine "
                                   f"(load {os.getloadavg()[0]:.1f}); {last_seen()}" + self.log_tails())
            time.sleep(interval)

    # --- what to show when something fails ---------------------------------------------------------

    def log_tails(self) -> str:
        return "".join(f"\n--- {log.name} (tail) ---\n{self._tail(log)}" for log in sorted(self.logs.glob("*.log")))

    def _task_log_tail(self, dag_id: str, run_id: str, ti: dict) -> str:
        """The task's errors (its log is JSON lines; a traceback's frames would fill any tail), else its tail."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
        logs = sorted(folder.glob("attempt=*.log"))
        if not logs:
            return f"--- task {ti['task_id']}: no log in {folder} ---"
        errors = []
        for line in logs[-1].read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("level") in ("error", "critical"):
                errors.append(event.get("event", "") + "".join(
                    f"\n  {d.get('exc_type')}: {d.get('exc_value')}" for d in event.get("error_detail") or []))
        body = "\n".join(errors)[-LOG_TAIL_CHARS:] if errors else self._tail(logs[-1])
        return f"--- task {ti['task_id']} ({logs[-1].name}) ---\n{body}"

    @staticmethod
    def _tail(path: Path) -> str:
        if not path.exists():
            return "(no log)"
        # The api-server logs every request, and the test polls once a second: keep what else it said.
        lines = [line for line in path.read_text(errors="replace").splitlines() if "[http.access]" not in line]
        return "\n".join(lines)[-LOG_TAIL_CHARS:]


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass

