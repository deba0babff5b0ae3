"""atheris target: the prospect row checks (prepare_chunk) never raise, and
every row of a chunk is staged or quarantined with a reason, exactly once."""

from __future__ import annotations

import sys

import atheris
import harness  # noqa: F401  (import path and test key first)

with atheris.instrument_imports(include=["crm_hygiene"]):
    from crm_hygiene.drops.reader import RawChunk
    from crm_hygiene.ingest.kinds import PROSPECT_KINDS
    from crm_hygiene.ingest.rows import RowContext, prepare_chunk
    from crm_hygiene.keys import parse_hash_keys
    from crm_hygiene.policy import load_policy

import os  # noqa: E402
from datetime import date  # noqa: E402

KINDS = [PROSPECT_KINDS[name] for name in sorted(PROSPECT_KINDS)]
CTX = RowContext(policy=load_policy(harness.REPO / "include" / "policy" / "privacy_policy.yaml"),
                 today=date(2026, 11, 24), keys=parse_hash_keys(os.environ["CRM_HASH_KEY"]))


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
    n = fdp.ConsumeIntInRange(1, 4)
    columns = {name: [harness.cell(fdp) for _ in range(n)] for name in kind.all_columns}
    prepared = prepare_chunk(RawChunk(columns, list(range(1, n + 1))), kind, CTX)
    numbers = sorted([r.row_number for r in prepared.staged] + [r.row_number for r in prepared.quarantined])
    if numbers != list(range(1, n + 1)):
        raise AssertionError(f"rows not accounted for: {numbers} of {n}")
    if any(not row.reasons for row in prepared.quarantined):
        raise AssertionError("a row was quarantined without a reason")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
