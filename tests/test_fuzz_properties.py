"""Property-based fuzzing (hypothesis) of the three places hostile input meets code:
the drop reader, the prospect row checks and the request row parser.

Whatever arrives, each must end in an answer it was built to give (a row
accepted or quarantined with a reason, or the whole file refused with
FileRejected), never an exception nobody foresaw; and an accepted request id is
always a safe file name. The coverage-guided twins of these are in fuzz/.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from drops import KEYS, POLICY, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_hygiene.drops.files import FileRejected, inside
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.ingest.kinds import PROSPECT_KINDS
from crm_hygiene.ingest.rows import RowContext, prepare_chunk
from fuzz.cases import EDGE_CELLS, READER_HEADERS, READER_TOKENS, REQUEST_TYPES
from fuzz.targets import check_records, parse_request_row, read_drop

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("input_validation"),
    pytest.mark.promise(7),
]

CTX = RowContext(policy=POLICY, today=TODAY, keys=KEYS)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.one_of(st.sampled_from(EDGE_CELLS), st.text(max_size=60),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=12))


@st.composite
def prospect_chunks(draw):
    kind = PROSPECT_KINDS[draw(st.sampled_from(sorted(PROSPECT_KINDS)))]
    n = draw(st.integers(1, 6))
    first = draw(st.integers(1, 10_000))
    columns = {name: [draw(cells) for _ in range(n)] for name in kind.all_columns}
    return kind, RawChunk(columns, list(range(first, first + n)))


@given(prospect_chunks())
@FUZZ
def test_row_checks_stage_or_quarantine_every_row_and_never_raise(kind_and_chunk):
    kind, chunk = kind_and_chunk
    prepared = prepare_chunk(chunk, kind, CTX)
    numbers = [row.row_number for row in prepared.staged] + [row.row_number for row in prepared.quarantined]
    assert prepared.n_read == chunk.n_rows
    assert sorted(numbers) == chunk.row_numbers
    assert all(row.reasons for row in prepared.quarantined)


request_rows = st.fixed_dictionaries({
    "request_id": cells, "type": st.one_of(st.sampled_from(REQUEST_TYPES), cells), "email": cells,
    "received_at": cells, "details": cells,
})


@given(request_rows)
@FUZZ
def test_request_rows_are_accepted_or_refused_and_an_accepted_id_is_a_safe_file_name(row):
    request, reasons = parse_request_row(row)
    assert (request is None) == bool(reasons)
    if request is not None:
        folder = Path("/srv/crm/exports/dsr")
        assert inside(folder, request.request_id + ".json").parent == folder


@st.composite
def drop_bytes(draw):
    """Mostly CSV-shaped bytes (a header, lines of hostile tokens), sometimes noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    header = draw(st.sampled_from(READER_HEADERS))
    body = b"".join(draw(st.lists(st.sampled_from(READER_TOKENS), max_size=120)))
    return header + body


@given(drop_bytes())
@FUZZ
def test_reader_refuses_the_file_or_accounts_for_every_row(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "drop.csv"
        path.write_bytes(content)
        try:
            header, records = read_drop(path)
        except FileRejected as exc:
            assert str(exc)
            return
    check_records(header, records)
    assert len(records) <= content.count(b"\n") + content.count(b"\r") + 1
