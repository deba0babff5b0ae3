"""Schema migrations: first runs that start together cannot race, a current schema
is left alone, and a database ahead of the code fails with what to do."""

from __future__ import annotations

import multiprocessing

import pytest
from conftest import fresh_pg_database
from schema_racer import migrate_at_the_same_moment
from sqlalchemy import inspect, text

from crm_hygiene.db import SchemaAheadError, make_engine, schema_revisions, upgrade_schema

RACERS = 4
ROUNDS = 3


def _race(url: str) -> list[tuple[str, str | None]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(RACERS), ctx.Queue()
    racers = [ctx.Process(target=migrate_at_the_same_moment, args=(url, barrier, results)) for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=180) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
    return outcomes


def _fresh_database(backend: str, tmp_path, round_no: int):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'race{round_no}.db'}", lambda: None
    return fresh_pg_database(f"race{round_no}_")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_first_runs_started_together_migrate_once(backend, tmp_path):
    for round_no in range(ROUNDS):
        url, drop = _fresh_database(backend, tmp_path, round_no)
        try:
            outcomes = _race(url)
            failures = [detail for outcome, detail in outcomes if outcome == "failed"]
            assert not failures, f"round {round_no}: {failures}"
            # Exactly one racer did the work; the others waited for it and found it done.
            assert sorted(outcome for outcome, _ in outcomes) == ["found current"] * (RACERS - 1) + ["migrated"]
            engine = make_engine(url)
            with engine.connect() as conn:
                current, heads = schema_revisions(conn)
                versions = conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar()
            assert current == heads and versions == len(heads)
            assert {"prospects", "suppression_list", "audit_log"} <= set(inspect(engine).get_table_names())
            engine.dispose()
        finally:
            drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_crm_engine(request, tmp_path):
    """An engine on a database with no schema at all, dropped afterwards."""
    url, drop = _fresh_database(request.param, tmp_path, 9)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop()


def test_current_schema_is_only_read(empty_crm_engine):
    assert upgrade_schema(empty_crm_engine) is True
    assert upgrade_schema(empty_crm_engine) is False


def test_database_ahead_of_the_code_fails_with_what_to_do(empty_crm_engine):
    engine = empty_crm_engine
    upgrade_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacecafe'"))
    with pytest.raises(SchemaAheadError, match="newer release") as caught:
        upgrade_schema(engine)
    assert "f00dfacecafe" in str(caught.value)
    with engine.connect() as conn:  # nothing was touched
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "f00dfacecafe"
