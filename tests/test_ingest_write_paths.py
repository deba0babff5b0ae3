"""The bulk load and the incremental write leave the CRM exactly alike, and the
fold of a file's rows into one candidate per person keeps each field's newest
non-empty value with what describes it. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from conftest import CRM, fresh_pg_database, write_csv
from drops import KEYS, POLICY, RESEARCH_HEADER, SUPPRESSION_HEADER, TODAY, ingest, research_row

from crm_hygiene.db import make_engine, upgrade_schema
from crm_hygiene.drops.registry import Drop
from crm_hygiene.ingest import admission, bulk_load
from crm_hygiene.ingest.bulk_load import BULK, INCREMENTAL, choose_write_path
from crm_hygiene.ingest.kinds import EVENTS, RESEARCH
from crm_hygiene.ingest.pipeline import ingest_file
from crm_hygiene.run import RunInfo
from crm_hygiene.sample_data import write_event_file, write_research_file
from crm_hygiene.suppression import sync_inbox

# Written at the moment of writing, not from the data or the run: they differ
# between any two runs whatever the path.
# And an appearance's id: numbered in the order the insert's join yields the
# rows, which is the planner's choice (PostgreSQL's changes with the indexes).
NOT_COMPARED = {"quarantine": ("quarantined_at",), "ingested_files": ("processed_at",),
                "audit_log": ("occurred_at",), "prospect_sources": ("prospect_source_id",)}
COMPARED_TABLES = ("prospects", "prospect_sources", "quarantine", "audit_log", "ingested_files",
                   "minor_reviews", "suppression_list", "erasure_followups")


def _dump(crm: CRM) -> dict[str, list[tuple]]:
    """Every row of every compared table, in primary-key order, ids included."""
    out = {}
    with crm.engine.connect() as conn:
        for table in COMPARED_TABLES:
            result = conn.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608 - table names are constants
            columns = list(result.keys())
            kept = [i for i, c in enumerate(columns) if c not in NOT_COMPARED.get(table, ())]
            out[table] = sorted((tuple(row[i] for i in kept) for row in result),
                                key=lambda row: tuple((v is None, str(v)) for v in row))
    return out


def _index_definitions(crm: CRM) -> list[tuple]:
    sql = ("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
           "ORDER BY 1, 2" if crm.backend == "postgresql" else
           "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' ORDER BY 1, 2")
    return crm.rows(sql)


@pytest.fixture
def second_crm(crm, tmp_path):
    """Another empty CRM on the same backend as `crm`."""
    if crm.backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'crm_other.db'}", lambda: None
    else:
        url, drop = fresh_pg_database("paths_")
    upgrade_schema(make_engine(url))
    other = CRM(crm.backend, url)
    yield other
    other.engine.dispose()
    drop()


def _drops(folder) -> list[tuple]:
    """A first load, the same people again later with values changed or gone plus
    new people, and an event list: (kind, path)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "research_first.csv"
    write_research_file(first, 1_500, 11, TODAY)
    again = folder / "research_again.csv"
    with first.open(encoding="utf-8", newline="") as src, again.open("w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(out, reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            if i % 3:
                continue
            row["collected_at"] = "2026-11-01" if i % 2 else "2019-01-01"  # newer, and older than held
            row["job_title"] = "" if i % 5 == 0 else "Head of Data"
            row["phone"] = "" if i % 7 == 0 else row["phone"]
            writer.writerow(row)
        for i in range(200):
            writer.writerow({**dict.fromkeys(reader.fieldnames, ""), "first_name": f"New{i}", "last_name": "Person",
                             "email": f"new{i}@new-people.example", "country": "UK", "source": "linkedin",
                             "collected_at": "2026-10-01"})
    events = folder / "events.csv"
    write_event_file(events, 800, 12, TODAY)
    return [(RESEARCH, first), (RESEARCH, again), (EVENTS, events)]


def _suppression_rows(path, n: int) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        emails = [row["email"] for row in csv.DictReader(fh) if "@" in row["email"]]
    return [["unsubscribe", email, "", "", "", "", "2026-10-01"] for email in emails[:n]]


def _load_all(crm: CRM, data_dir, drops, write_path: str, monkeypatch) -> list[str]:
    """Ingest the drops in order with `write_path` forced; the paths really taken."""
    data_dir = data_dir / write_path  # a folder of its own: the erasure follow-ups scan its archive
    taken = []
    original = admission.choose_write_path
    monkeypatch.setattr(admission, "choose_write_path", lambda written, held: taken.append("auto") or original(written, held))
    real_rebuild = admission.indexes_built_after

    def rebuild(conn, *args):
        taken.append(BULK)
        return real_rebuild(conn, *args)

    monkeypatch.setattr(admission, "indexes_built_after", rebuild)
    # One run clock for both CRMs: created_at and updated_at come from it.
    run = RunInfo(dag_id="t", run_id="r", today=TODAY, started_at=datetime(2026, 11, 24, 6, tzinfo=UTC))
    for i, (kind, path) in enumerate(drops):
        if i == 1:  # a list between two loads: the gates turn some of the returning people away
            inbox = data_dir / "inbox" / "suppression"
            write_csv(inbox / "list.csv", SUPPRESSION_HEADER, _suppression_rows(drops[0][1], 25))
            sync_inbox(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "suppression")
        ingest_file(crm.engine, Drop.of(kind.name, path, data_dir / "archive"), kind, POLICY, KEYS, run,
                    workers=1, write_path=write_path)
    return taken


def test_bulk_and_incremental_writes_leave_identical_tables(crm, second_crm, data_dir, tmp_path, monkeypatch):
    drops = _drops(tmp_path / "drops")
    indexes_before = _index_definitions(crm)
    assert _load_all(crm, data_dir, drops, INCREMENTAL, monkeypatch) == []
    assert _load_all(second_crm, data_dir, drops, BULK, monkeypatch) == [BULK] * len(drops)
    incremental, bulk = _dump(crm), _dump(second_crm)
    assert len(incremental["prospects"]) > 1_500 and len(incremental["prospect_sources"]) > 2_000
    assert incremental["quarantine"] and incremental["minor_reviews"]
    # The gates blocked some returning people between the two loads.
    assert any('"blocked_suppressed": 0' not in str(row) for row in incremental["audit_log"])
    for table in COMPARED_TABLES:
        assert bulk[table] == incremental[table], table
    # The rebuilt indexes are the migrations' own: same names, same definitions.
    assert _index_definitions(second_crm) == indexes_before


def test_the_sizes_choose_the_path():
    assert choose_write_path(written=900_000, held=0) == BULK
    assert choose_write_path(written=200_000, held=200_000) == BULK
    assert choose_write_path(written=10_000, held=900_000) == INCREMENTAL
    assert choose_write_path(written=0, held=0) == INCREMENTAL


def test_a_first_load_is_a_bulk_load_and_a_small_one_is_not(crm, data_dir, monkeypatch):
    taken = []
    real = bulk_load.indexes_built_after
    monkeypatch.setattr(admission, "indexes_built_after", lambda conn, *a: taken.append(BULK) or real(conn, *a))
    ingest(crm, data_dir, RESEARCH, "first.csv", RESEARCH_HEADER,
           [research_row("Ann", "Lee", "ann@acme.com"), research_row("Bob", "Ray", "bob@acme.com")])
    assert taken == [BULK]
    ingest(crm, data_dir, RESEARCH, "second.csv", RESEARCH_HEADER, [research_row("Cy", "Fox", "cy@acme.com")])
    assert taken == [BULK]
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 3


def test_each_field_keeps_its_newest_value_and_what_describes_it_comes_with_it(crm, data_dir):
    """Within one file: the newest row wins field by field, an empty cell never
    wins, an address's flags and hashes come from the row whose address is kept
    (not from the newest row, which has none); the first row's source stays."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "info@acme.com", phone="020 7946 0958", title="Analyst",
                     source="public_register", collected="2026-01-01"),
        # Linked to the row above by its phone, then by name and company.
        research_row("Ann", "Lee", "", phone="020 7946 0958", title="Head of Data",
                     source="company_website", collected="2026-03-01"),
        research_row("Ann", "Lee", "", title="", source="linkedin", collected="2026-02-01"),
    ])
    rows = crm.rows("SELECT email, phone_e164, job_title, country, source, email_is_role, email_hash IS NOT NULL, "
                    "domain_hash IS NOT NULL, phone_hash IS NOT NULL, first_seen_at, last_contact_at FROM prospects")
    assert len(rows) == 1
    email, phone, title, country, source, is_role, *hashes, first, last = rows[0]
    assert (email, phone, title, country, source) == (
        "info@acme.com", "+442079460958", "Head of Data", "GB", "public_register")
    assert bool(is_role) and hashes == [True, True, True]
    assert str(first).startswith("2026-01-01") and str(last).startswith("2026-03-01")
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == 3
