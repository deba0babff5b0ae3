"""The sweep's statements from ``include/sql/retention``, ready for one database.

A file may hold several statements separated by ``;`` at a line end, and may
use ``MONTH_START(column)``, the one expression the two databases spell
differently (dates generalised to their month). Everything is constant text of
this repository: values are always bound.
"""

from __future__ import annotations

import re

from sqlalchemy import Boolean, Connection, DateTime, TextClause, bindparam, text

from crm_hygiene.db import read_sql

_MONTH_START = re.compile(r"MONTH_START\((\w+)\)")
_MONTH_START_BY_DIALECT = {
    "sqlite": "strftime('%Y-%m-01 00:00:00.000000', {column})",
    "postgresql": "date_trunc('month', {column})",
}
_TYPED = {"cutoff": DateTime, "as_of": DateTime, "now": DateTime, "retain": Boolean}


def statements(conn: Connection, name: str, **constants: str) -> list[TextClause]:
    """The statements of ``retention/<name>.sql`` (or its ``.<dialect>.sql`` form)
    for `conn`'s database; `constants` fill ``{placeholders}`` with names of the code's own."""
    dialect = conn.dialect.name
    try:
        raw = read_sql(f"retention/{name}.{dialect}.sql")
    except FileNotFoundError:
        raw = read_sql(f"retention/{name}.sql")
    if constants:
        raw = raw.format(**constants)
    raw = _MONTH_START.sub(lambda m: _MONTH_START_BY_DIALECT[dialect].format(column=m.group(1)), raw)
    body = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("--"))
    return [_typed(part.strip()) for part in re.split(r";\s*\n", body) if part.strip()]


def _typed(sql: str) -> TextClause:
    clause = text(sql)
    used = [name for name in _TYPED if f":{name}" in sql]
    return clause.bindparams(*(bindparam(name, type_=_TYPED[name]) for name in used))


def run_all(conn: Connection, name: str, params: dict, **constants: str) -> int:
    """Execute every statement of a file; the rows the last one changed."""
    changed = 0
    for statement in statements(conn, name, **constants):
        wanted = {k: v for k, v in params.items() if f":{k}" in statement.text}
        changed = conn.execute(statement, wanted).rowcount
    return changed
