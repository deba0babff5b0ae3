"""A short coverage-guided run of every atheris target in fuzz/ (the long one is `make fuzz`).

Each target starts from its committed seeds and runs a fixed number of inputs
with a fixed seed, so the run takes seconds and says the same thing twice; a
crash (an exception the code was not built to give) fails the test with the
fuzzer's traceback and the input that caused it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("input_validation"),
    pytest.mark.promise(7),
]

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("reader", "rows", "requests")
RUNS = 4000
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_survives_a_short_run(target, tmp_path):
    if importlib.util.find_spec("atheris") is None:
        message = "atheris is not installed: `make test` installs fuzz/requirements.txt"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    work = tmp_path / "corpus"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, str(REPO / "fuzz" / f"fuzz_{target}.py"), f"-runs={RUNS}", "-seed=1",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(work), str(REPO / "fuzz" / "seeds" / target)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, f"fuzz_{target} crashed:\n{result.stderr[-6000:]}"
    assert "Done" in result.stderr, result.stderr[-2000:]
