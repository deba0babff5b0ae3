"""What every atheris target shares: the import path, a test key, and decoding
fuzzer bytes into the cells a CSV drop can hold.

Run a target directly (libFuzzer flags after it), e.g.
    .venv/bin/python fuzz/fuzz_rows.py -max_total_time=60 /tmp/corpus fuzz/seeds/rows
`make fuzz` runs them all for longer; tests/test_fuzz_smoke.py runs each briefly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "plugins", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
# A fuzzing key only: no target touches a real suppression list.
os.environ.setdefault("CRM_HASH_KEY", "fuzz-key-1:fuzz-secret-0123456789abcdef")

from fuzz.cases import EDGE_CELLS  # noqa: E402


def cell(fdp) -> str:
    """One cell: often a known edge value, otherwise any text the bytes spell."""
    choice = fdp.ConsumeIntInRange(0, 3)
    if choice == 0:
        return fdp.PickValueInList(list(EDGE_CELLS))
    if choice == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 8))
    return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64))
