"""The few expressions SQLite and PostgreSQL spell differently, written once.

SQL files stay one text for both databases (``include/sql``); where they need
one of these they write the macro, and the caller expands it for its
connection's dialect before binding values (macros take column names only):

- ``MONTH_START(column)``: the timestamp moved to the first of its month;
- ``MONTH_LABEL(column)``: its month as text, ``YYYY-MM``;
- ``BYTEWISE(column)``: the text column compared byte by byte, for a sort or
  grouping that needs no language order (SQLite's default already is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_BY_DIALECT = {
    "MONTH_START": {"sqlite": "strftime('%Y-%m-01 00:00:00.000000', {column})",
                    "postgresql": "date_trunc('month', {column})"},
    "MONTH_LABEL": {"sqlite": "strftime('%Y-%m', {column})",
                    "postgresql": "to_char({column}, 'YYYY-MM')"},
    "BYTEWISE": {"sqlite": "{column}",
                 "postgresql": '{column} COLLATE "C"'},
}


def expand_macros(sql: str, dialect: str, extra: Mapping[str, str] | None = None) -> str:
    """`sql` with every ``NAME(column)`` macro expanded; `extra` adds a caller's own
    macros (name -> template with ``{column}``), the same for both databases."""
    templates = {name: forms[dialect] for name, forms in _BY_DIALECT.items()} | dict(extra or {})
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, templates)) + r")\(([\w.]+)\)")
    return pattern.sub(lambda m: templates[m.group(1)].format(column=m.group(2)), sql)
