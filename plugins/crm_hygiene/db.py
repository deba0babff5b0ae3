"""Engines and schema upgrades for the CRM database (SQLite or PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import DateTime, Engine, TextClause, bindparam, create_engine, event, text

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "include" / "sql"
MIGRATIONS_DIR = REPO_ROOT / "include" / "migrations"
SQLITE_BUSY_TIMEOUT_S = 600
# SQLite for bulk work without giving up what the contract needs: a process
# killed at any point loses no committed change and leaves no half-done one
# (tests/test_crash_recovery.py; tests/test_db_settings.py kills an ingest
# before its commit). README "SQLite settings" has the measurements.
SQLITE_PRAGMAS = (
    # Readers (the UI, reports, other DAGs) never wait for a writer, and a
    # commit appends to one log instead of journaling every page twice.
    "journal_mode=WAL",
    # Under WAL, NORMAL syncs the log at each checkpoint rather than at every
    # commit: a killed process still loses nothing committed (the log is the
    # OS's at the commit); only a power cut or OS crash can roll back the last
    # commits, never corrupt the file. FULL measured the same for an ingest (one
    # commit a file) but 4.4 ms a commit here against 0.01 ms, for every small
    # transaction (a request run makes one per request).
    "synchronous=NORMAL",
    # The staging tables are TEMPORARY and as large as the file's rows: kept in
    # a temporary file (the OS caches it), never in this process's memory,
    # where a 1M-row file would take hundreds of MiB of the 1 GiB budget.
    "temp_store=FILE",
)
# A quoted input in a primary message ('invalid input syntax for type date: "x"').
_quoted_literal = re.compile(r"\"[^\"]*\"|'[^']*'")


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs to behave like the other.

    Both hide bound parameters: a failing statement's error text would
    otherwise carry its values (personal data) into logs and exceptions.
    """
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        # A writer waits (up to SQLITE_BUSY_TIMEOUT_S) for another's transaction
        # instead of failing at once with "database is locked".
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy, not pysqlite, decide where transactions begin so
            # that one file is one transaction, and enforce foreign keys as
            # PostgreSQL does.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            for pragma in SQLITE_PRAGMAS:
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # IMMEDIATE takes the write lock at BEGIN, waiting for it if need be.
            # A deferred transaction that read first and then wrote could only
            # fail once another writer had committed (its snapshot is stale,
            # and SQLite then returns "database is locked" without waiting).
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "checkin")
        def _sqlite_default_cache(dbapi_conn, record):  # pragma: no cover - trivial
            # use_large_page_cache lasts until the connection goes back to the pool.
            if dbapi_conn is not None and record.info.pop("large_page_cache", False):
                dbapi_conn.execute(f"PRAGMA cache_size = {SQLITE_DEFAULT_CACHE}")

        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _primary_message_only)
    return engine


def _primary_message_only(context) -> None:
    """PostgreSQL's error text quotes values whatever the client hides: a unique
    violation's DETAIL names the key ("Key (match_key)=(e:ann@...) already
    exists"), a bad cast quotes the input. Keep only the primary message, which
    names constraints and types; the SQLSTATE and the DETAIL object stay on
    ``orig.diag`` for code that needs them, never in the text that is logged."""
    error = context.original_exception
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary is None:
        return
    # Names of the schema's own objects stay readable; any other quoted text is a value.
    names = {getattr(diag, f, None) for f in ("constraint_name", "table_name", "column_name", "datatype_name")}
    message = _quoted_literal.sub(lambda m: m.group(0) if m.group(0)[1:-1] in names else "'…'", primary)
    error.args = (message,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args:
        # SQLAlchemy wrote the driver's whole text into its own message already.
        wrapped.args = (f"({type(error).__module__}.{type(error).__name__}) {message}", *wrapped.args[1:])


# Sort and hash memory for one transaction: the window and join steps over a
# million staged rows (or a 100k-key list against a million people) spill to
# disk at PostgreSQL's 4 MB default.
PG_WORK_MEM = "256MB"


def use_large_work_mem(conn) -> None:
    """Raise work_mem for the caller's transaction only (PostgreSQL; SQLite has none)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL work_mem = '{PG_WORK_MEM}'"))


# SQLite's page cache for one large transaction (its default is 2 MB). The
# retention sweep rewrites 300,000 of 1M prospects under new ids drawn in
# random order, so its inserts land on pages all over the table's tail and its
# indexes; with 2 MB each page was read and spilled to the WAL again and again
# (the anonymising UPDATE took 37 s, 18 s with 256 MB; make bench). An
# ingest's upsert does the same to prospects' indexes (a 200k-row drop:
# admission 8-10 CPU-s with 2 MB, 5-6 with 256 MB). Only for the transaction:
# a pooled connection would keep its cache, so the memory comes back at
# checkin. Not taken: an mmap of the file (its pages count as resident memory
# as the cache's do, and it saved nothing measurable), a larger temp cache
# (nothing measurable), 8 KiB pages (within the noise, and only for a new file).
SQLITE_LARGE_CACHE_KIB = 262_144
SQLITE_DEFAULT_CACHE = -2000


def use_large_page_cache(conn) -> None:
    """SQLite: a page cache of SQLITE_LARGE_CACHE_KIB for this connection until it
    goes back to the pool (PostgreSQL: nothing; its shared buffers are the server's)."""
    if conn.dialect.name == "sqlite":
        conn.connection.info["large_page_cache"] = True
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_LARGE_CACHE_KIB}")


def read_sql(name: str) -> str:
    """A statement from ``include/sql`` (the same text runs on SQLite and PostgreSQL)."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def timed_sql(name: str) -> TextClause:
    """A statement from ``include/sql`` whose ``:now`` binds as a timestamp on both databases."""
    return text(read_sql(name)).bindparams(bindparam("now", type_=DateTime))


# One advisory-lock key for "the CRM schema is being migrated" (any constant
# bigint no other code on the server uses; this is crc32 of "crm_hygiene.schema").
SCHEMA_LOCK_KEY = 0x68D8_3F1E


class SchemaAheadError(RuntimeError):
    """The database is at a revision this code does not know: a retry cannot help."""


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def schema_revisions(conn) -> tuple[set[str], set[str]]:
    """(the revisions the database is at, the head revisions of this code's migrations)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    return current, heads


def _refuse_unknown_revision(current: set[str]) -> None:
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    if unknown := current - known:
        raise SchemaAheadError(
            f"The CRM database is at schema revision {', '.join(sorted(unknown))}, which this code does not "
            "know: it was migrated by a newer release. Deploy that release (or restore a backup taken "
            "before the upgrade); do not run this one against it."
        )


def upgrade_schema(engine: Engine, revision: str = "head") -> bool:
    """Bring the CRM schema up to ``revision`` with Alembic; True if anything was migrated.

    Safe when several processes start at once (two first runs, two scheduler
    workers, the deploy's init service beside a task): on PostgreSQL the
    migration runs under a transaction-scoped advisory lock, and the revision is
    read again once the lock is held, so the second process finds the work done.
    SQLite's BEGIN IMMEDIATE (make_engine) serialises the same way. A schema
    already current costs one read and no lock.
    """
    from alembic import command

    with engine.connect() as conn:
        current, heads = schema_revisions(conn)
    _refuse_unknown_revision(current)
    if revision == "head" and current == heads:
        return False
    cfg = _alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        before, _ = schema_revisions(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after, _ = schema_revisions(conn)
    return after != before
