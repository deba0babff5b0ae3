"""Set-based bulk insert: PostgreSQL COPY, SQLite one executemany.

For loads of thousands of rows; never row-by-row ORM writes. Table and column
names must be constants of the calling code: values are always bound or
streamed, never formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # worker processes import copy_csv and nothing heavier
    from sqlalchemy import Connection


def copy_csv(rows: Sequence[tuple]) -> str:
    """COPY ... (FORMAT csv) text, exactly as ``csv.writer(lineterminator="\\n")``
    writes it (tests/test_row_checks.py compares them). None and '' both become
    an empty field, which COPY reads as NULL: callers stage None, never ''
    (empty cells become None).

    Encoding where rows are prepared (a worker) spares the main process both the
    encoding and unpickling a tuple per row: it just streams the text. Not with
    csv.writer itself: it examines every character (~15 ns each, 7 us for a
    staged row), where joining the fields and searching the line are C loops.
    """
    lines = []
    for row in rows:
        texts = [v if v.__class__ is str else "" if v is None else str(v) for v in row]
        line = ",".join(texts)
        # Most rows need no quoting: no field holds a comma, a quote or a newline.
        if line.count(",") != len(texts) - 1 or '"' in line or "\n" in line:
            line = ",".join([_quoted(t) for t in texts])
        elif len(texts) == 1 and not line:
            line = '""'  # csv's form of a row of one empty field, which would read as a blank line
        lines.append(line)
    if lines:
        lines.append("")
    return "\n".join(lines)


def _quoted(text: str) -> str:
    """One field as csv.writer's minimal quoting writes it."""
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple], copy_text: str | None = None,
) -> None:
    """Insert `rows` (tuples in `columns` order) inside the caller's transaction.

    `copy_text` is the same rows already encoded by ``copy_csv`` (say, by
    the worker process that prepared them); PostgreSQL then just streams it.
    """
    column_list = ", ".join(columns)
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        payload = copy_text if copy_text is not None else copy_csv(rows)
        if payload:
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(payload)
        return
    if rows:
        placeholders = ", ".join("?" for _ in columns)
        raw.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", rows)  # noqa: S608
