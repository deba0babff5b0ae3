"""The sweep's statements from ``include/sql/retention``, ready for one database.

A file may hold several statements separated by ``;`` at a line end, and may
use the dialect macros of crm_hygiene.sqlmacros (``MONTH_START(column)``) and
two of the sweep's own, each written once here instead of in every class's file:

- ``HELD_HASH(column)``: 1 if a legal hold standing on ``:as_of`` names the
  keyed hash in `column`, else 0;
- ``HELD_EMAIL_KEY(column)``: 1 if the email match key in `column` is one a
  standing hold names (staged in ``ret_held_keys``: holds keep hashes only).

Everything is constant text of this repository: values are always bound.
"""

from __future__ import annotations

import re

from sqlalchemy import Boolean, Connection, DateTime, TextClause, bindparam, text

from crm_hygiene.db import read_sql
from crm_hygiene.sqlmacros import expand_macros

_HELD_HASH = ("CASE WHEN EXISTS (SELECT 1 FROM legal_holds h WHERE (h.released_at IS NULL OR h.released_at > :as_of) "
              "AND h.subject_hash = {column}) THEN 1 ELSE 0 END")
_HELD_EMAIL_KEY = "CASE WHEN {column} IN (SELECT email_match_key FROM ret_held_keys) THEN 1 ELSE 0 END"

_SWEEP_MACROS = {"HELD_HASH": _HELD_HASH, "HELD_EMAIL_KEY": _HELD_EMAIL_KEY}
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
    raw = expand_macros(raw, dialect, _SWEEP_MACROS)
    body = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("--"))
    return [_typed(part.strip()) for part in re.split(r";\s*\n", body) if part.strip()]


def wrapped(conn: Connection, name: str, template: str, **constants: str) -> TextClause:
    """The one SELECT of ``retention/<name>.sql`` placed into `template` at ``{select}``
    (a class's due rows counted, or staged), ready for `conn`'s database."""
    (select,) = statements(conn, name)
    return _typed(template.format(select=select.text, **constants))


def _typed(sql: str) -> TextClause:
    clause = text(sql)
    used = [name for name in _TYPED if f":{name}" in sql]
    return clause.bindparams(*(bindparam(name, type_=_TYPED[name]) for name in used))


def run_all(conn: Connection, name: str, params: dict, **constants: str) -> int:
    """Execute every statement of a file; the rows the last one changed."""
    changed = 0
    for statement in statements(conn, name, **constants):
        changed = conn.execute(statement, used_by(statement, params)).rowcount
    return changed


def used_by(statement: TextClause, params: dict) -> dict:
    """The values a statement binds, of those a caller has for every file of its kind."""
    return {k: v for k, v in params.items() if f":{k}" in statement.text}
