"""How a file's people are written: incrementally, or as a bulk load.

Incremental: every admitted candidate goes through the upsert into
``prospects`` and its rows into ``prospect_sources`` with every index kept up
as rows arrive. Bulk: the two tables' secondary indexes are dropped first and
built again from the table once the rows are in, inside the same transaction
(both databases have transactional DDL: a failure rolls the indexes back with
the rows), and with nothing held the insert skips the merge clause. Keeping an
index up costs a search and an insertion at a random place per row; building
it is one sort of the whole table, so the bulk load pays when the file writes
many people against what is held: the first load of a new CRM, a backfill.

The results are the same either way (tests/test_ingest_write_paths.py): the
statements are the same but for the ON CONFLICT clause, which cannot fire when
nothing is held. What differs is locking: on PostgreSQL, DROP INDEX locks
``prospects`` and ``prospect_sources`` against readers until the commit, so a
bulk load is chosen only for files large against the CRM.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, text

INCREMENTAL = "incremental"
BULK = "bulk"
WRITE_PATHS = (INCREMENTAL, BULK)

# The tables the admission writes a row per person or per row into.
WRITTEN_TABLES = ("prospects", "prospect_sources")

# Bulk when the file writes at least this many people per person held. At 1:1
# rebuilding is already cheaper (bench/ingest_sql_bench.py, 200k people written
# into a CRM holding 200k others: see the README's Benchmark section); far below
# it, the rebuild re-sorts a table mostly untouched by the file.
BULK_WRITTEN_PER_HELD = 1.0

# PostgreSQL: memory for each index build, for this transaction only. With it a
# build sorts in memory, and it is enough for the server's parallel workers
# (each needs 32 MB of it) to share the sort: the SQL runs on one core while
# the machine's other cores idle.
PG_INDEX_BUILD_MEMORY = "256MB"


def choose_write_path(written: int, held: int) -> str:
    """BULK when `written` people (candidates admitted) are many against the `held` ones."""
    return BULK if written >= BULK_WRITTEN_PER_HELD * held and written > 0 else INCREMENTAL


def held_people(conn: Connection, written: int) -> int:
    """The people the CRM holds, counted only as far as the choice needs: an
    hourly file of 10k rows should not count a million-person table through."""
    enough = int(written / BULK_WRITTEN_PER_HELD) + 1
    return conn.execute(text("SELECT COUNT(*) FROM (SELECT 1 FROM prospects LIMIT :enough) AS held"),
                        {"enough": enough}).scalar_one()


def _secondary_indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of each index on `table` that enforces nothing:
    no primary key, unique or other constraint; their definitions as the
    database itself stores them, so that the rebuilt index is the same one."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE t.relname = :table AND n.nspname = current_schema() AND NOT x.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            "ORDER BY i.relname"), {"table": table})
    else:
        # origin 'c': made by CREATE INDEX (not by a UNIQUE or PRIMARY KEY clause).
        rows = conn.execute(text(
            "SELECT l.name, m.sql FROM pragma_index_list(:table) l JOIN sqlite_master m ON m.name = l.name "
            "WHERE l.origin = 'c' AND NOT l.\"unique\" AND m.sql IS NOT NULL ORDER BY l.name"), {"table": table})
    return [(name, ddl) for name, ddl in rows]


@contextlib.contextmanager
def indexes_built_after(conn: Connection, tables: tuple[str, ...] = WRITTEN_TABLES) -> Iterator[None]:
    """Drop the secondary indexes of `tables`, let the caller write, build them again.

    Inside the caller's transaction; nothing between must need those indexes.
    """
    indexes = [index for table in tables for index in _secondary_indexes(conn, table)]
    quote = conn.dialect.identifier_preparer.quote
    # Sent as they are (no bind parsing): the definitions are the catalogue's own text.
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    yield
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{PG_INDEX_BUILD_MEMORY}'")
    for _, create in indexes:
        conn.exec_driver_sql(create)
