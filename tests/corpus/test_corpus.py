"""The bad-input corpus through every drop kind on SQLite and PostgreSQL.

Each test puts every case of one kind in that kind's inbox and runs it once,
as a DAG run would, then checks each file against its case's promise:
nothing ends without a reason (processed, rejected or set aside, never left in
the inbox or lost), no good row is lost, bad rows are quarantined with the
right reason codes on the right row numbers, nothing is written outside the
pipeline's folders, and no reason, audit row or run summary quotes a cell.
Failures name the case (see corpus/cases.py) so one run shows them all.
"""

from __future__ import annotations

import json

import pytest

from corpus.batch import BatchResult, run_batch
from corpus.cases import CASES, Drop, Processed, Rejected, build_drops
from corpus.kinds import KINDS, DropKindAdapter

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("input_validation"),
    pytest.mark.promise(7),
]

# A row over 1 MiB keeps only its first 64 KiB in quarantine (plus JSON quoting).
MAX_KEPT_RAW = 70_000


def _leaks(value: str, *texts: str) -> bool:
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    return any(form in t for form in forms for t in texts)


def check_drop(kind: DropKindAdapter, drop: Drop, result: BatchResult) -> list[str]:
    """What is wrong with how this drop ended (empty when it kept its promise)."""
    problems = []
    outcome = result.outcomes[drop.name]
    expect = drop.expect
    if isinstance(expect, Rejected):
        if outcome.end != "rejected":
            problems.append(f"expected rejected ({' + '.join(expect.all_of or expect.any_of)}), got {outcome}")
        else:
            reason = outcome.reason or ""
            missing = [p for p in expect.all_of if p.lower() not in reason.lower()]
            if missing or (expect.any_of and not any(p.lower() in reason.lower() for p in expect.any_of)):
                problems.append(f"reason {reason.strip()!r} lacks {missing or expect.any_of}")
            if result.summary_reasons.get(drop.name, "").strip() != reason.strip():
                problems.append("the run summary does not give the file's reason")
    else:
        problems += _check_processed(kind, drop, expect, outcome, result)
    if result.absent_loaded.get(drop.name, 0) > 0:
        problems.append("the rows of a file the drop only links to were loaded")
    for value in drop.planted:
        if _leaks(value, result.reasons_text, result.audit_text, result.summary_text):
            problems.append(f"a reason, audit row or summary quotes the cell value {value[:40]!r}")
        if kind.name == "suppression" and "@" in value and _leaks(value, result.quarantine_text):
            problems.append(f"quarantine keeps an opt-out's address in plain text {value[:40]!r}")
    return problems


def _check_processed(kind, drop: Drop, expect: Processed, outcome, result: BatchResult) -> list[str]:
    if outcome.end != "processed":
        return [f"expected processed, got {outcome.end} ({(outcome.reason or '').strip()})"]
    problems = []
    got = result.quarantine.get(drop.name, {})
    if set(got) != set(expect.quarantined):
        detail = {n: sorted(got[n][0]) for n in sorted(got)}
        problems.append(f"quarantined rows {detail}, expected rows {sorted(expect.quarantined)}")
    for row_number, codes in expect.quarantined.items():
        if row_number in got and not set(codes) & got[row_number][0]:
            problems.append(f"row {row_number} quarantined as {sorted(got[row_number][0])}, expected one of {codes}")
    for row_number, (codes, raw_length) in got.items():
        if "row_too_long" in codes and raw_length > MAX_KEPT_RAW:
            problems.append(f"row {row_number} is over 1 MiB and kept whole in quarantine ({raw_length} chars)")
    rows_read, rows_quarantined = result.registered.get(drop.name, (None, None))
    expected_read = len(drop.good) + len(expect.quarantined)
    if (rows_read, rows_quarantined) != (expected_read, len(expect.quarantined)):
        problems.append(f"registered rows_read={rows_read} rows_quarantined={rows_quarantined}, "
                        f"expected {expected_read} and {len(expect.quarantined)}")
    loaded = result.loaded[drop.name]
    if loaded != -1 and loaded != len(drop.good):
        problems.append(f"{len(drop.good) - loaded} of {len(drop.good)} good rows lost")
    for email, column, value in drop.stored:
        held = result.stored.get(email, {}).get(column)
        if held != value:
            problems.append(f"{column} stored as {held!r:.60}, expected {value!r:.60}")
    return problems


def check_batch(kind: DropKindAdapter, result: BatchResult) -> list[str]:
    problems = [f"[run] {e}: one file stopped the others" for e in result.run_errors]
    problems += [f"[tree] a file was written outside the pipeline's folders: {p}" for p in result.stray_files]
    problems += [f"[tree] a file outside the data folder changed: {p}" for p in result.outside_changed]
    problems += [f"[{name.removesuffix('.csv')}] a FIFO drop was opened for reading" for name in result.fifos_opened]
    for action, end in (("file_rejected", "rejected"), ("file_set_aside", "set_aside")):
        ended = sum(1 for o in result.outcomes.values() if o.end == end)
        if result.audit_actions.get(action, 0) != ended:
            problems.append(f"[audit] {result.audit_actions.get(action, 0)} '{action}' rows for {ended} files {end}")
    for drop in result.drops:
        problems += [f"[{drop.name.removesuffix('.csv')}] {p}" for p in check_drop(kind, drop, result)]
    return problems


def _run_and_check(crm, tmp_path, kind_name: str, slow: bool) -> None:
    kind = KINDS[kind_name]
    drops = build_drops(kind, slow=slow)
    result = run_batch(crm.engine, tmp_path / "corpus", kind, drops)
    problems = check_batch(kind, result)
    assert not problems, f"{len(problems)} broken promise(s) of {len(drops)} {kind_name} cases on {crm.backend}:\n" + \
        "\n".join(problems)


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_every_bad_input_case_ends_as_promised(crm, tmp_path, kind_name):
    _run_and_check(crm, tmp_path, kind_name, slow=False)


@pytest.mark.slow
@pytest.mark.parametrize("kind_name", list(KINDS))
def test_megabyte_values_and_rows_end_as_promised(crm, tmp_path, kind_name):
    _run_and_check(crm, tmp_path, kind_name, slow=True)


def test_the_corpus_is_as_large_as_it_says():
    """Guards the count the closing note reports: every case builds for at least one kind."""
    built = {drop.name for kind in KINDS.values() for drop in build_drops(kind)}
    assert len(CASES) >= 60
    assert {name.rsplit(".", 1)[0] for name in built} == set(CASES)
