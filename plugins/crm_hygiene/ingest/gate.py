"""File-level validation gate with Great Expectations 1.x.

The gate decides whether a file is the kind its folder says: every required
column is there and a closed-set column mostly holds known values. Single bad
rows are not the gate's business: the row checks quarantine those.

Where it runs. Importing GX (with the pandas, scipy and altair it imports
eagerly) is most of what a fresh task process paid before its first row:
about 2.4 of 5 CPU-seconds for a 10,000-row drop, on one core, while the other
idled. So a process that has not imported GX yet validates in a process of its
own, the gate process: spawned as soon as a drop is seen waiting, it imports
GX on the other core while this process reads and checks the rows, and stays
for the next files (a big file's worker processes want its memory: then it
stops once it has answered). The caller asks for the verdict
(``gate_failures``) before the file's transaction commits, so a file that
fails the gate still keeps nothing (the ingest also stops such a file at its
next chunk once the verdict is in). A
process that has GX already (a warm test process, a fork server that preloaded
it) validates in-process: there is nothing left to hide. If the gate process
gives no verdict (killed, out of memory, an error), the gate runs in-process:
same expectations, same verdict (or the same error, raised here), only slower.
The gate process reads its work from a pipe and leaves when the pipe closes,
so it never outlives the process that started it, even one killed with SIGKILL.

This module imports neither GX nor pandas at import time, and the gate
process imports nothing of the project but this module and ``gx_context``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from functools import lru_cache
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from crm_hygiene.gx_context import ephemeral_context

if TYPE_CHECKING:
    from crm_hygiene.drops.reader import RawChunk
    from crm_hygiene.ingest.kinds import DropKind
    from crm_hygiene.policy import Policy


class GateInput(NamedTuple):
    """What the expectations read, as plain data (it crosses to the gate process)."""

    kind_name: str
    columns: dict[str, list[str]]  # the file's first chunk, by column, closed-set cells cleaned
    required_columns: tuple[str, ...]
    value_set_column: str | None
    allowed_values: tuple[str, ...]
    min_valid_value_share: float


def gate_input(first_chunk: RawChunk, kind: DropKind, policy: Policy) -> GateInput:
    from crm_hygiene.drops.cells import closed_set_value

    columns = first_chunk.columns
    column = kind.value_set_column
    values: tuple[str, ...] = ()
    if column:
        values = tuple(sorted(kind.allowed_values(policy)))
        if column in columns:
            # Compare the cleaned value, as the row checks will.
            columns = {**columns, column: [closed_set_value(v) for v in columns[column]]}
    return GateInput(kind.name, columns, kind.required_columns, column, values,
                     policy.input_validation.min_valid_value_share)


# --------------------------------------------------------------------------
# The expectations (run in the gate process, or here)
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _batch_definition():
    """Built once per process: a whole-DataFrame batch definition on the shared
    ephemeral context; each file's first chunk is passed in as the batch's data."""
    asset = ephemeral_context().data_sources.add_pandas("drop").add_dataframe_asset("first_chunk")
    return asset.add_batch_definition_whole_dataframe("whole_chunk")


@lru_cache(maxsize=16)
def _suite(kind_name: str, required_columns: tuple[str, ...], value_set_column: str | None,
           allowed_values: tuple[str, ...], min_valid_value_share: float):
    """The gate's expectations for one kind under one policy (built once per process for each)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"{kind_name}_drop")
    for column in required_columns:
        suite.add_expectation(gxe.ExpectColumnToExist(column=column))
    if value_set_column:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column=value_set_column,
                value_set=list(allowed_values),
                mostly=min_valid_value_share,
            )
        )
    return suite


def validate(gate: GateInput) -> list[str]:
    """Reasons the file fails the gate (empty when it passes); never cell values."""
    import pandas as pd

    frame = pd.DataFrame(gate.columns, dtype=object)
    batch = _batch_definition()  # first: it builds the context that a new suite needs
    suite = _suite(gate.kind_name, gate.required_columns, gate.value_set_column, gate.allowed_values,
                   gate.min_valid_value_share)
    result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format="BOOLEAN_ONLY")
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        if config.type == "expect_column_to_exist":
            failures.append(f"required column '{column}' is missing")
        elif config.type == "expect_column_values_to_be_in_set":
            failures.append(f"fewer than {gate.min_valid_value_share:.0%} of rows have a known '{column}' value")
        else:  # pragma: no cover - only the expectations above are built
            failures.append(f"{config.type} failed on '{column}'")
    return failures


# --------------------------------------------------------------------------
# The gate process
# --------------------------------------------------------------------------

# The gate process is a plain interpreter running serve(): not a multiprocessing
# child, which would first import the parent's __main__ (in a task process the
# `airflow` script, 1.5 CPU-seconds of Airflow before GX's own 2.4).
_SERVE = "import sys; from crm_hygiene.ingest.gate import serve; serve(int(sys.argv[1]))"
_PLUGINS_DIR = str(Path(__file__).resolve().parents[2])
# A verdict later than this is given up on and computed in-process instead.
VERDICT_TIMEOUT_S = 300


def serve(fd: int) -> None:
    """The gate process: import GX, then answer each GateInput sent on ``fd`` with
    ("failures", [...]) or ("error", type name), until the other end closes (the
    process that started it has finished, or was killed)."""
    conn = Connection(fd)
    _defer_scipy_stats()
    _batch_definition()  # GX imported and the context built before the first file arrives
    while True:
        try:
            gate = conn.recv()
        except EOFError:
            return
        try:
            reply = ("failures", validate(gate))
        except Exception as exc:  # noqa: BLE001 - the caller validates in-process and raises it there
            reply = ("error", type(exc).__name__)
        conn.send(reply)


def _defer_scipy_stats() -> None:
    """GX imports every expectation it has at its own import, and one of them (KL divergence)
    imports scipy.stats: a fifth of GX's import time, for a module neither gate expectation
    uses. In the gate process, which runs nothing else, scipy.stats is loaded at its first
    use instead (the standard library's LazyLoader): never, for these expectations."""
    import importlib.util

    import scipy

    spec = importlib.util.find_spec("scipy.stats")
    if spec is None or spec.loader is None or "scipy.stats" in sys.modules:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    stats = importlib.util.module_from_spec(spec)
    sys.modules["scipy.stats"] = stats
    spec.loader.exec_module(stats)
    # GX says `from scipy import stats`: found as an attribute, the module is not touched
    # (scipy's own lazy __getattr__ would import it to check).
    scipy.stats = stats


class GateProcessLost(RuntimeError):
    """The gate process gave no verdict (it died, or failed): validate in-process instead."""


class _GateProcess:
    def __init__(self) -> None:
        ours, theirs = Pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_PLUGINS_DIR, os.environ.get("PYTHONPATH")) if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        theirs.close()
        self.started_by = os.getpid()
        self._conn, self._lock = ours, threading.Lock()

    def submit(self, gate: GateInput, then_stop: bool = False) -> Future:
        """The verdict on ``gate``, filled in by a thread that sends it and waits for the
        answer (the send waits too while the process is still importing GX); with
        ``then_stop``, the process is stopped once it has answered."""
        verdict: Future = Future()

        def exchange() -> None:
            try:
                with self._lock:
                    self._conn.send(gate)
                    kind, value = self._conn.recv()
            except (OSError, EOFError) as exc:
                kind, value = "error", type(exc).__name__
            if then_stop:
                release_gate_process(self)
            if kind == "failures":
                verdict.set_result(value)
            else:
                verdict.set_exception(GateProcessLost(value))

        threading.Thread(target=exchange, name="gate-verdict", daemon=True).start()
        return verdict

    def close(self) -> None:
        self._conn.close()  # it reads the end of its input and leaves
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_lock = threading.Lock()
_process: _GateProcess | None = None


def _gate_process() -> _GateProcess:
    global _process
    with _lock:
        if _process is None or _process.started_by != os.getpid():  # none yet, or inherited through fork
            _process = _GateProcess()
        return _process


def start_gate_process() -> None:
    """Start the gate process now, unless this process has GX or a gate process already: a
    caller that knows files are waiting lets GX's import run while it imports and reads."""
    if "great_expectations" not in sys.modules:
        with contextlib.suppress(OSError):  # cannot start one: the gate will run in-process
            _gate_process()


def release_gate_process(process: _GateProcess | None = None) -> None:
    """Stop the gate process (or only ``process``, if it is still the current one); the
    next gate starts another."""
    global _process
    with _lock:
        if process is not None and process is not _process:
            return
        process, _process = _process, None
    if process is not None and process.started_by == os.getpid():
        process.close()


class PendingGate:
    """One file's gate, started: its verdict is there, or being computed in the gate process."""

    def __init__(self, gate: GateInput, keep_process: bool = True) -> None:
        self._gate = gate
        self._failures: list[str] | None = None
        self._verdict: Future | None = None
        if "great_expectations" in sys.modules:
            self._failures = validate(gate)
        else:
            try:
                self._verdict = _gate_process().submit(gate, then_stop=not keep_process)
            except OSError:  # cannot start a process: validate here
                self._failures = validate(gate)

    def answered(self) -> bool:
        return self._failures is not None or self._verdict.done()

    def failures(self) -> list[str]:
        """The verdict, waiting for the gate process if it is still importing GX or validating."""
        if self._failures is None:
            try:
                self._failures = self._verdict.result(timeout=VERDICT_TIMEOUT_S)
            except (GateProcessLost, TimeoutError):
                release_gate_process()  # the next file starts a new one
                self._failures = validate(self._gate)
        return self._failures


def start_gate(first_chunk: RawChunk, kind: DropKind, policy: Policy, keep_process: bool = True) -> PendingGate:
    """Validate the file's first chunk against ``kind``'s expectations, in the gate process
    unless this process has GX loaded already; ``gate_failures`` gives the verdict. Without
    ``keep_process`` the gate process stops once it has answered (its memory is wanted)."""
    return PendingGate(gate_input(first_chunk, kind, policy), keep_process)


def gate_failures(gate: PendingGate) -> list[str]:
    """Reasons the file fails the gate (empty when it passes); never cell values."""
    return gate.failures()
