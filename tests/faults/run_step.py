"""Run one pipeline step in its own process, so a test can SIGKILL it anywhere.

    python tests/faults/run_step.py STEP --db URL --data DIR [--kill-at N] [--probe-log FILE]

STEP is one of STEPS below; each calls the public entry points exactly as the
DAG tasks do (crm_hygiene.ingest.pipeline.ingest_inbox,
crm_hygiene.suppression.sync_inbox, crm_hygiene.subject_requests.process_inbox)
with a fixed run: logical date FAULT_TODAY and a fixed ``started_at``, so an
interrupted run and its re-run stamp the same times an uninterrupted run would.

The process prints ``STEP_STARTED`` once everything is imported and just before
the step begins (a random kill delay is measured from there) and
``STEP_DONE <seconds>`` when it returns.

Deterministic kills, without any hook in production code: ``--kill-at N`` wraps
the operations whose order matters for crash safety (a database COMMIT, moving,
replacing, writing and deleting a file) from outside, in this process only, and
SIGKILLs the process at the N-th "probe point" - just before or just after one
of them. ``--probe-log FILE`` writes one line per probe point instead, so a
reference run says how many there are and what each is.

``--serve`` makes it a fork server for a test that kills many runs: it imports
everything once, then for each JSON request line on stdin forks a child that
runs the step (the child is what gets SIGKILLed), answering ``PID <pid>``,
``STEP_STARTED <pid>`` and ``EXIT <pid> <code>`` (negative: killed by that
signal). The server is single-threaded, so forking it is safe, and each child
starts from the same clean imported state, as a fresh process would.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))

FAULT_TODAY = date(2026, 11, 24)
FAULT_STARTED_AT = datetime(2026, 11, 24, 9, 30)
FAULT_RUN_ID = "fault-run"


def _run(dag_id: str):
    from crm_hygiene.run import RunInfo

    return RunInfo(dag_id=dag_id, run_id=FAULT_RUN_ID, today=FAULT_TODAY, started_at=FAULT_STARTED_AT)


def _context():
    from crm_hygiene.keys import parse_hash_keys
    from crm_hygiene.policy import load_policy

    return load_policy(), parse_hash_keys(os.environ["CRM_HASH_KEY"])


def step_ingest(engine, data: Path) -> None:
    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.ingest.pipeline import ingest_inbox

    policy, keys = _context()
    ingest_inbox(engine, RESEARCH, policy, keys, _run("ingest_research_lists"),
                 data / "inbox" / "research", data / "archive" / "research")


def step_suppression(engine, data: Path) -> None:
    from crm_hygiene.suppression import sync_inbox

    policy, keys = _context()
    sync_inbox(engine, policy, keys, _run("sync_suppression_lists"),
               data / "inbox" / "suppression", data / "archive" / "suppression")


def step_requests(engine, data: Path) -> None:
    from crm_hygiene.subject_requests import process_inbox

    policy, keys = _context()
    process_inbox(engine, policy, keys, _run("process_data_subject_requests"),
                  data / "inbox" / "requests", data / "archive" / "requests", data / "exports" / "dsr")


def step_erasure(engine, data: Path) -> None:
    """Erasure both ways: erasure requests, then a suppression list with reason erasure."""
    step_requests(engine, data)
    step_suppression(engine, data)


# The retention scenario sweeps years later, when everything it holds is past
# retention; its own run id, so the audit rows the setup wrote are old evidence
# the sweep may delete while its own stay.
RETENTION_TODAY = date(2033, 1, 1)
RETENTION_RUN_ID = "fault-sweep"


def step_retention(engine, data: Path) -> None:
    from crm_hygiene.retention.sweep import run_retention_sweep
    from crm_hygiene.run import RunInfo

    policy, keys = _context()
    run = RunInfo(dag_id="retention_sweep", run_id=RETENTION_RUN_ID, today=RETENTION_TODAY,
                  started_at=datetime(2033, 1, 1, 2, 0))
    run_retention_sweep(engine, policy, keys, run, data, force=True)


STEPS = {"ingest": step_ingest, "suppression": step_suppression, "requests": step_requests,
         "erasure": step_erasure, "retention": step_retention}


def _preload(step: str) -> None:
    """Import what the steps import, so STEP_STARTED means the step's own work begins."""
    if step == "ingest":
        import great_expectations  # noqa: F401 - imported lazily by the gate; the slowest import
        import great_expectations.expectations  # noqa: F401

        import crm_hygiene.ingest.gate  # noqa: F401
    import crm_hygiene.ingest.pipeline  # noqa: F401
    import crm_hygiene.retention.sweep  # noqa: F401
    import crm_hygiene.subject_requests  # noqa: F401
    import crm_hygiene.suppression  # noqa: F401


class Probes:
    """Counts probe points around crash-relevant operations; kills at one, or logs them all."""

    def __init__(self, kill_at: int | None, log_path: Path | None):
        self.kill_at, self.log_path, self.n = kill_at, log_path, 0
        self.log = log_path.open("w", encoding="utf-8") if log_path else None

    def hit(self, where: str) -> None:
        self.n += 1
        if self.log:
            self.log.write(f"{self.n}\t{where}\n")
            self.log.flush()
        if self.kill_at == self.n:
            os.kill(os.getpid(), signal.SIGKILL)

    def around(self, name: str, func):
        def wrapped(*args, **kwargs):
            self.hit(f"before {name}")
            result = func(*args, **kwargs)
            self.hit(f"after {name}")
            return result
        return wrapped

    def install(self) -> None:
        import pathlib
        import shutil

        from sqlalchemy.engine.default import DefaultDialect

        DefaultDialect.do_commit = self.around("COMMIT", DefaultDialect.do_commit)
        shutil.move = self.around("move", shutil.move)
        os.replace = self.around("replace", os.replace)
        pathlib.Path.unlink = self.around("unlink", pathlib.Path.unlink)
        pathlib.Path.write_text = self.around("write_text", pathlib.Path.write_text)
        pathlib.Path.write_bytes = self.around("write_bytes", pathlib.Path.write_bytes)


def _run_child(request: dict, protocol_fd: int) -> None:
    """In the forked child: run one step, say when it starts; never returns."""
    code = 1
    try:
        os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
        # Log as a task would (INFO and up, to stderr): the test scans it for personal data.
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
        os.environ["CRM_DATA_DIR"] = request["data"]
        from crm_hygiene.db import make_engine

        engine = make_engine(request["db"])
        if request.get("kill_at") is not None or request.get("probe_log"):
            Probes(request.get("kill_at"), Path(request["probe_log"]) if request.get("probe_log") else None).install()
        os.write(protocol_fd, f"STEP_STARTED {os.getpid()}\n".encode())
        STEPS[request["step"]](engine, Path(request["data"]))
        engine.dispose()
        code = 0
    except BaseException:  # noqa: B036 - the child must exit, whatever happened
        import traceback

        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Fork server: one JSON request per stdin line, one child per request (see module doc)."""
    import json

    for step in STEPS:
        _preload(step)
    protocol_fd = os.dup(1)
    out = os.fdopen(protocol_fd, "w", buffering=1)
    out.write("READY\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(request, protocol_fd)
        out.write(f"PID {pid}\n")
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        out.write(f"EXIT {pid} {code}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--serve"] or argv == ["--serve"]:
        return serve()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the CRM database")
    parser.add_argument("--data", required=True, type=Path, help="the data folder ($CRM_DATA_DIR)")
    parser.add_argument("--kill-at", type=int, help="SIGKILL this process at the N-th probe point")
    parser.add_argument("--probe-log", type=Path, help="write every probe point to this file")
    args = parser.parse_args(argv)
    os.environ["CRM_DATA_DIR"] = str(args.data)

    from crm_hygiene.db import make_engine

    _preload(args.step)
    engine = make_engine(args.db)
    if args.kill_at is not None or args.probe_log is not None:
        Probes(args.kill_at, args.probe_log).install()
    print("STEP_STARTED", flush=True)
    began = time.perf_counter()
    STEPS[args.step](engine, args.data)
    engine.dispose()
    print(f"STEP_DONE {time.perf_counter() - began:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
