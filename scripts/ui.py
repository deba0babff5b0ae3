"""`make ui`: Airflow's UI over the demo's data, ready to log in to.

Runs the demo first when the CRM holds nobody (`make demo`'s data, under a minute), starts `airflow
standalone` (scheduler, dag-processor, triggerer and api-server with the LocalExecutor, metadata in
.airflow/), waits until every component is healthy, unpauses every DAG, prints the URL, the user and
the password Airflow generated, then runs until Ctrl-C. Its components' output goes to
.airflow/standalone.log.

Standalone starts each component as `airflow ...` from PATH: this script puts its own interpreter's
bin folder (.venv/bin) first, so a fresh clone needs nothing activated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from demo import demo_hash_key  # noqa: E402

from crm_hygiene import settings  # noqa: E402

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60
USER = "admin"  # standalone's simple auth manager user (`[core] simple_auth_manager_users = admin:admin`)


def crm_holds_people() -> bool:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from crm_hygiene.db import make_engine

    engine = make_engine(settings.database_url_from_env())
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT COUNT(*) FROM prospects")).scalar())
    except SQLAlchemyError:  # no schema yet
        return False
    finally:
        engine.dispose()


def standalone_env(home: Path, host: str, port: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(home)
    # Every DAG runs on its schedule, as in production: the ingests hourly find the demo's drops
    # archived and change nothing; DAGs that arrive later are not paused either.
    env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    # This machine only: the simple auth manager keeps its password in a plain file.
    env.setdefault("AIRFLOW__API__HOST", host)
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://{host}:{port}/execution/")
    return env


def call(base_url: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(base_url + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until_healthy(base_url: str, standalone: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if standalone.poll() is not None:
            sys.exit(f"airflow standalone exited with {standalone.returncode}; its log ends:\n"
                     + log.read_text(errors="replace")[-3000:])
        try:
            health = call(base_url, "GET", "/api/v2/monitor/health")
            if all(part.get("status") == "healthy" for part in health.values()):
                return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    sys.exit(f"Airflow was not healthy within {START_TIMEOUT_S} s; see {log}")


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and `kill` both stop Airflow in order. A handler of our own also gives standalone the
    # default SIGINT disposition, even where this script was started with SIGINT ignored (a `make ui &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    data_dir = settings.data_dir()
    if not crm_holds_people():
        print("The CRM holds nobody yet: running the demo first (make demo, under a minute)")
        if subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], cwd=REPO, check=False).returncode:
            print("The demo did not finish cleanly (see above); starting the UI anyway.")
    demo_hash_key(data_dir)  # the tasks the scheduler runs need the key the demo hashed with

    home = Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow"))
    host = os.environ.get("AIRFLOW__API__HOST", "127.0.0.1")
    port = os.environ.get("AIRFLOW__API__PORT", "8080")
    base_url = f"http://{host}:{port}"
    log = home / "standalone.log"
    print(f"Starting airflow standalone (its output: {log})")
    with log.open("w") as out:
        # A session of its own: Ctrl-C reaches this script only, which stops standalone in order.
        # (Ctrl-C reaching every process at once left the scheduler waiting forever for
        # LocalExecutor workers that had died of the same SIGINT.)
        standalone = subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=standalone_env(home, host, port),
                                      cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(base_url, standalone, log)
        password_file = Path(os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                             or home / "simple_auth_manager_passwords.json.generated")
        password = json.loads(password_file.read_text(encoding="utf-8"))[USER]
        token = call(base_url, "POST", "/auth/token", {"username": USER, "password": password})["access_token"]
        # DAGs that `make demo` registered earlier were created paused; unpause them all.
        call(base_url, "PATCH", "/api/v2/dags?dag_id_pattern=~", {"is_paused": False}, token)
        print(f"""
Airflow UI   http://localhost:{port}   (scheduler, dag-processor, triggerer, api-server: all healthy)
  user       {USER}
  password   {password}   (generated by Airflow, kept in {password_file})
Every DAG is unpaused and runs on its schedule over the CRM in {data_dir}.
Ctrl-C stops Airflow.""", flush=True)
        return standalone.wait()
    except KeyboardInterrupt:
        print("\nStopping Airflow ...", flush=True)
        return 0
    finally:
        stop(standalone)


def stop(standalone: subprocess.Popen) -> None:
    """SIGINT to standalone, which stops each component (SIGTERM) and waits for it; whatever is
    left of its process group after that is terminated, then killed."""
    if standalone.poll() is None:
        standalone.send_signal(signal.SIGINT)
        try:
            standalone.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(standalone.pid, sig)
        except ProcessLookupError:
            return
        time.sleep(5)


if __name__ == "__main__":
    sys.exit(main())
