"""atheris target: the request row parser never raises, and an id it accepts
is always a safe file name (the access answer is written under it)."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris
import harness

with atheris.instrument_imports(include=["crm_hygiene", "fuzz"]):
    from crm_hygiene.drops.files import inside
    from fuzz.cases import REQUEST_TYPES
    from fuzz.targets import parse_request_row

FOLDER = Path("/srv/crm/exports/dsr")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    row = {"request_id": harness.cell(fdp),
           "type": fdp.PickValueInList(list(REQUEST_TYPES)) if fdp.ConsumeBool() else harness.cell(fdp),
           "email": harness.cell(fdp), "received_at": harness.cell(fdp), "details": harness.cell(fdp)}
    request, reasons = parse_request_row(row)
    if (request is None) != bool(reasons):
        raise AssertionError("a request is neither accepted nor refused with a reason")
    if request is not None:
        inside(FOLDER, request.request_id + ".json")  # UnsafePath here is the crash


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
