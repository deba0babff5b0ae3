"""atheris target: the drop reader, fed any bytes as a file, either refuses the
whole file (FileRejected, with a reason) or accounts for every row: numbered
1, 2, 3 ..., each fit to check or refused with reason codes. Nothing else."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris
import harness  # noqa: F401  (import path and test key first)

with atheris.instrument_imports(include=["crm_hygiene", "fuzz"]):
    from crm_hygiene.drops.files import FileRejected
    from fuzz.targets import check_records, read_drop

FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-reader-"))
DROP = FOLDER / "drop.csv"


def test_one_input(data: bytes) -> None:
    DROP.write_bytes(data)
    try:
        header, records = read_drop(DROP)
    except FileRejected as exc:
        if not str(exc):
            raise AssertionError("a file refused without a reason") from None
        return
    check_records(header, records)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
