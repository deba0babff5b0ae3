"""The row checks' shortcuts change no row (issue 15: leaner row checks, work done once per value).

The row checks remember answers per distinct value, hash with hashlib's keyed
states, write COPY text without csv.writer, ship chunks to worker processes in
a compact form and cut a file's last chunk in pieces. Each shortcut is checked
here against the plain way it replaces: the same staged rows, the same
quarantine rows and reasons, the same bytes.
"""

from __future__ import annotations

import csv
import hmac
import io
import os
import pickle
import random
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import psutil
import pytest
from drops import KEYS, POLICY, TODAY

from crm_hygiene.bulk import copy_csv
from crm_hygiene.drops.reader import CsvDrop, RawChunk, chunked
from crm_hygiene.ingest.kinds import PROSPECT_KINDS, RESEARCH
from crm_hygiene.ingest.parallel import _pieces, prepared_chunks
from crm_hygiene.ingest.rows import STAGE_COLUMNS, PreparedChunk, RowContext, prepare_chunk
from crm_hygiene.keys import HashKey, IdentifierDigests, identifier_values, parse_hash_keys
from crm_hygiene.minors import LIKELY, NO_SIGNAL, MinorAssessment, MinorRules
from crm_hygiene.per_value import PerValue
from crm_hygiene.sample_data import write_enquiry_file, write_event_file, write_research_file
from fuzz.cases import EDGE_CELLS

pytestmark = [pytest.mark.enforces("input_validation"), pytest.mark.promise(7)]

WRITERS = {"research": write_research_file, "events": write_event_file, "enquiries": write_enquiry_file}


def _chunks(path, kind, rows_per_chunk=1_000) -> list[RawChunk]:
    with CsvDrop(path, required=kind.required_columns, known=kind.all_columns,
                 lengths=POLICY.input_validation.max_cell_length) as drop:
        return [chunk for chunk, _unread in chunked(drop, rows_per_chunk)]


def _edge_chunk(kind, seed: int, n: int = 400) -> RawChunk:
    """Rows of hostile cells (fuzz/cases.py) mixed with plausible ones, so that some are staged."""
    rng = random.Random(seed)
    plausible = {"email": ["ann.lee+x@gmail.com", "bob@school.sch.uk", "Info@Acme.co.uk", " Zoë@example.de "],
                 "first_name": ["Ann", " zoë ", "Student"], "last_name": ["Lee", "O'Neil"],
                 "company": ["Acme, Inc.", "St Mary's Primary School", "ACME Limited"],
                 "job_title": ["Pupil", "Head Teacher", "Year 9 student", "CTO"],
                 "country": ["UK", "Germany", "", "fr"], "phone": ["", "020 7946 0123", "+49 89 25259278"],
                 "collected_at": ["2026-03-01", "2025-11-01T10:00:00Z"], "event_date": ["2026-03-01"],
                 "received_at": ["2026-03-01"], "source": ["linkedin", "Company Website"],
                 "channel": ["web_form", "email_a_friend"], "marketing_consent": ["yes", "no", ""]}
    columns = {name: [rng.choice(plausible[name]) if name in plausible and rng.random() < 0.5
                      else rng.choice(EDGE_CELLS) for _ in range(n)] for name in kind.all_columns}
    return RawChunk(columns, list(range(1, n + 1)))


def _outcome(prepared: PreparedChunk) -> tuple:
    return (prepared.n_read, [tuple(r) for r in prepared.staged], prepared.quarantined,
            [tuple(r) for r in prepared.other_key_hashes], prepared.special_category_hits)


@pytest.fixture(scope="module")
def sample_chunks(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("row_checks")
    out = {}
    for name, write in WRITERS.items():
        path = folder / f"{name}.csv"
        write(path, 2_000, 11, TODAY)
        kind = PROSPECT_KINDS[name]
        out[name] = _chunks(path, kind) + [_edge_chunk(kind, seed) for seed in range(3)]
    return out


ROTATING_KEYS = parse_hash_keys("new:test-secret-0123456789abcdef old:older-secret-0123456789abcd")


@pytest.mark.parametrize("keys", [KEYS, ROTATING_KEYS], ids=["one key", "key rotation"])
def test_remembered_answers_give_the_rows_computed_afresh(sample_chunks, monkeypatch, keys):
    """One context across a file's chunks (answers remembered) against every answer worked
    out again (nothing remembered), and against caches so small they are emptied all along."""
    for name, chunks in sample_chunks.items():
        kind = PROSPECT_KINDS[name]
        remembering = RowContext(policy=POLICY, today=TODAY, keys=keys)
        remembered = [_outcome(prepare_chunk(chunk, kind, remembering)) for chunk in chunks]
        assert sum(len(outcome[1]) for outcome in remembered) > 1_000  # the sample stages rows
        assert all(len(row) == len(STAGE_COLUMNS) for outcome in remembered for row in outcome[1])
        with monkeypatch.context() as patched:
            patched.setattr(PerValue, "__missing__", lambda cache, value: cache.fn(value))  # remember nothing
            afresh = [_outcome(prepare_chunk(chunk, kind, RowContext(policy=POLICY, today=TODAY, keys=keys)))
                      for chunk in chunks]
        assert remembered == afresh, name
        with monkeypatch.context() as patched:
            patched.setattr(PerValue, "__missing__", _remember_one)
            forgetting = RowContext(policy=POLICY, today=TODAY, keys=keys)
            assert [_outcome(prepare_chunk(chunk, kind, forgetting)) for chunk in chunks] == remembered, name


def _remember_one(cache: PerValue, value):
    """A cache emptied at every miss, as a full one is: the answers must not depend on what it holds."""
    cache.clear()
    cache[value] = answer = cache.fn(value)
    return answer


def _minor_by_the_rules(rules: MinorRules, *, today, date_of_birth=None, age=None, job_title=None, company=None,
                        email_domain=None, event_name=None) -> MinorAssessment:
    """The rule set read row by row, every signal searched in every value: what MinorRules
    computed before it remembered per-value answers. A known age remembers nothing, so
    that path is the rules' own."""
    if date_of_birth is not None or age is not None:
        return rules.assess(today=today, date_of_birth=date_of_birth, age=age)
    values = {"job_title": job_title, "company": company, "email_domain": email_domain, "event_name": event_name}
    fired = [s for s in rules.signals if values[s.field] and s.regex.search(values[s.field])]
    if not fired:
        return NO_SIGNAL
    markers = [m for m in rules.adult_markers if values[m.field] and m.regex.search(values[m.field])]
    if sum(s.weight for s in fired) - sum(m.weight for m in markers) + 1e-9 < POLICY.minors.likely_score:
        return NO_SIGNAL
    return MinorAssessment(LIKELY, tuple(s.name for s in fired))


@pytest.mark.parametrize("cache_limit", [50_000, 2], ids=["remembered", "evicted"])
def test_minor_signals_per_value_match_the_rules_row_by_row(cache_limit):
    rules = MinorRules(POLICY.minors, cache_limit=cache_limit)
    titles = [None, "", "Pupil", "Year 9 student", "Head Teacher", "Student", "PhD student", "Work experience",
              "Governor", "CTO", "Intern", "Sixth form student", "Teaching assistant", "student ambassador"]
    companies = [None, "St Mary's Primary School", "Acme Ltd", "Hillside Academy", "University of Leeds",
                 "Cancer Research UK", "Youth Club"]
    domains = [None, "school.sch.uk", "acme.co.uk", "students.hillside.org", "gmail.com"]
    events = [None, "Junior Coding Camp", "DataConf", "Sixth Form Careers Fair"]
    seen = set()
    for title in titles:
        for company in companies:
            for domain in domains:
                for event in events:
                    kwargs = dict(job_title=title, company=company, email_domain=domain, event_name=event)
                    got = rules.assess(today=TODAY, **kwargs)
                    assert got == _minor_by_the_rules(rules, today=TODAY, **kwargs), kwargs
                    assert rules.assess_signals(title, company, domain, event) == got
                    seen.add(got.verdict)
    assert seen == {0, 1}  # the grid reaches both verdicts
    for born, age in ((date(2015, 1, 1), None), (None, 12), (date(2000, 1, 1), 15), (None, 40)):
        kwargs = dict(today=TODAY, date_of_birth=born, age=age, job_title="Pupil", company="Hillside Academy")
        assert rules.assess(**kwargs) == _minor_by_the_rules(rules, **kwargs)


def test_keyed_hashes_are_hmac_sha256():
    rng = random.Random(5)
    secrets = [b"s" * 16, b"k" * 64, b"long-" * 30, "clé-secrète-ünïcode".encode()]
    values = ["", "a@b.co", "+442079460123", "zoë@exämple.de", "x" * 300, *(str(rng.random()) for _ in range(50))]
    for secret in secrets:
        key = HashKey("k", secret)
        for value in values:
            assert key.digest(value) == hmac.new(secret, value.encode(), "sha256").hexdigest()


def test_identifier_digests_hash_what_identifier_values_names():
    key = KEYS.current
    digests = IdentifierDigests(key, domain_cache_limit=2)
    for email_key in (None, "ann@acme.co.uk", "bob@acme.co.uk", "x@gmail.com", "ann@acme.co.uk"):
        for phone in (None, "+442079460123"):
            expected = {key_type: key.digest(value) for key_type, value in identifier_values(email_key, phone)}
            assert digests(email_key, phone) == (expected.get("email"), expected.get("phone"), expected.get("domain"))


def _csv_writer_text(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def test_copy_text_is_what_csv_writer_writes(sample_chunks):
    rng = random.Random(9)
    atoms = ["", None, 0, 17, True, "a", "a,b", '"', 'x"y', "\n", "\r", "\r\n", " ", "é", "\x00", "\\.", ","]
    for _ in range(3_000):
        rows = [tuple(rng.choice(atoms) if rng.random() < 0.7 else
                      "".join(rng.choice('a,"\n\r é') for _ in range(rng.randint(0, 4)))
                      for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(0, 4))]
        assert copy_csv(rows) == _csv_writer_text(rows), rows
    ctx = RowContext(policy=POLICY, today=TODAY, keys=KEYS)
    for name, chunks in sample_chunks.items():
        for chunk in chunks:
            staged = prepare_chunk(chunk, PROSPECT_KINDS[name], ctx).staged
            assert copy_csv(staged) == _csv_writer_text(staged)


def test_chunks_and_results_cross_process_boundaries_unchanged(sample_chunks):
    numbered = RawChunk({"a": ["x", "", "nul\x00inside"], "b": ["", "", ""], "c": ["1", "2", "3"]}, [4, 9, 2**40],
                        ends_file=True)
    for chunk in [numbered, RawChunk({"a": []}, []), *sample_chunks["research"][:2]]:
        assert pickle.loads(pickle.dumps(chunk)) == chunk
    prepared = prepare_chunk(sample_chunks["research"][0], RESEARCH,
                             RowContext(policy=POLICY, today=TODAY, keys=ROTATING_KEYS))
    assert prepared.other_key_hashes
    copy = pickle.loads(pickle.dumps(prepared))
    assert _outcome(copy) == _outcome(prepared)
    assert [type(row) for row in copy.staged] == [type(row) for row in prepared.staged]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_two_workers_give_what_one_process_gives(tmp_path, dialect):
    """Worker processes against the same file checked in-process; the last chunk, cut
    in one piece per worker, comes back joined."""
    path = tmp_path / "research.csv"
    write_research_file(path, 9_000, 3, TODAY)
    with CsvDrop(path, required=RESEARCH.required_columns, known=RESEARCH.all_columns,
                 lengths=POLICY.input_validation.max_cell_length) as drop:
        chunks = [chunk for chunk, _unread in chunked(drop, 4_500)]
    assert [chunk.ends_file for chunk in chunks] == [False, True]
    pieces = _pieces(chunks[-1], 2)
    assert len(pieces) == 2 and [n for piece in pieces for n in piece.row_numbers] == chunks[-1].row_numbers

    ctx = RowContext(policy=POLICY, today=TODAY, keys=ROTATING_KEYS)
    alone = [prepare_chunk(chunk, RESEARCH, ctx) for chunk in chunks]
    shared = list(prepared_chunks(iter(chunks), RESEARCH, POLICY, TODAY, ROTATING_KEYS, 2, dialect))
    assert [p.n_read for p in shared] == [p.n_read for p in alone]
    for mine, theirs in zip(alone, shared, strict=True):
        assert theirs.quarantined == mine.quarantined
        assert theirs.other_key_hashes == mine.other_key_hashes
        assert theirs.special_category_hits == mine.special_category_hits
        if dialect == "postgresql":
            assert theirs.staged == [] and theirs.copy_csv == copy_csv(mine.staged)
        else:
            assert theirs.staged == mine.staged


@pytest.mark.parametrize("rows, per_chunk", [(2_500, 1_000), (3_000, 1_000), (999, 1_000), (1, 1_000)])
def test_the_reader_marks_the_last_chunk(tmp_path, rows, per_chunk):
    path = tmp_path / "research.csv"
    write_research_file(path, rows, 5, TODAY)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n,,,\n\n")  # blank lines and a row of commas after the last row are no rows
    with CsvDrop(path, required=RESEARCH.required_columns, known=RESEARCH.all_columns,
                 lengths=POLICY.input_validation.max_cell_length) as drop:
        read = [(chunk.n_rows + len(unread), chunk.ends_file) for chunk, unread in chunked(drop, per_chunk)]
    sizes = [per_chunk] * (rows // per_chunk) + ([rows % per_chunk] if rows % per_chunk else [])
    assert read == [(size, i == len(sizes) - 1) for i, size in enumerate(sizes)]


# A parent that has handed its chunks to two workers, prints their pids and waits to be killed.
_PARENT_OF_TWO_WORKERS = """
import sys, time
import psutil
from drops import KEYS, POLICY, TODAY
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.ingest.kinds import RESEARCH
from crm_hygiene.ingest.parallel import prepared_chunks

def chunks():
    for _ in range(2):
        yield RawChunk({name: [""] for name in RESEARCH.all_columns}, [1])
    # The pool's workers, not the resource tracker multiprocessing also starts.
    while len(workers := [c for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]) < 2:
        time.sleep(0.05)
    print(" ".join(str(worker.pid) for worker in workers), flush=True)
    time.sleep(600)

for _ in prepared_chunks(chunks(), RESEARCH, POLICY, TODAY, KEYS, 2, sys.argv[1]):
    pass
"""


def test_workers_end_when_their_parent_is_killed():
    """A task killed outright (SIGKILL, the OOM killer) leaves no worker waiting for chunks for ever."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parent / "plugins"), str(here.parent), str(here)])}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT_OF_TWO_WORKERS, "sqlite"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = [psutil.Process(int(pid)) for pid in parent.stdout.readline().split()]
        parent.send_signal(signal.SIGKILL)
    finally:
        parent.kill()
        _, errors = parent.communicate(timeout=60)
    assert len(workers) == 2, errors[-2000:]
    gone, alive = psutil.wait_procs(workers, timeout=30)
    for worker in alive:
        worker.kill()
    assert not alive, "workers outlived their killed parent"
