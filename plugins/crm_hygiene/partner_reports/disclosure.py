"""Disclosure control of one aggregate table: primary and complementary
suppression, and the attacker's audit every release must pass.

A table is its interior cells and its margins (row, column and grand totals),
each a cell keyed by its dimension values, ``ALL`` standing for a total. Every
total is an equation: its terms add up to it. What a partner sees is every
published cell (suppressed cells are blank) and that the counts are whole and
never negative.

- **Primary suppression**: every cell from 1 to ``min_cell_size - 1``, margins
  included (a total of 3 is three people). Zero cells are published: a zero
  names nobody (it says no one is in a group, which is not about a person),
  and suppressing every zero would blank most of a sparse table for nothing.
  A zero is then an exact known value in the attacker's problem below.
- **Complementary suppression** (a heuristic, documented): while an equation
  has exactly one suppressed member, its smallest published member is
  suppressed too (interior cells before totals, then by value and key, so the
  result is deterministic); then the audit runs, and for every cell it finds
  too narrow the smallest published member of an equation through that cell is
  suppressed, until the audit passes.
- **The audit** (how R's sdcTable ``attack()`` and tau-Argus judge a pattern):
  for every suppressed cell, the smallest and largest value it can take given
  everything published, each a linear programme solved by HiGHS
  (``scipy.optimize.linprog``). A release is refused if any interval is
  narrower than ``min_interval_width``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

ALL = "ALL"  # the value of a dimension in a total
Key = tuple[str, ...]


class Equation(NamedTuple):
    """``sum(terms) == total``: a total and the cells it adds up."""

    total: Key
    terms: tuple[Key, ...]


class Interval(NamedTuple):
    """What an attacker can tell of a suppressed cell from everything published."""

    cell: Key
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


class Table(NamedTuple):
    """Counts by one or two dimensions, with every margin."""

    dimensions: tuple[str, ...]
    values: dict[Key, int]  # interior cells and margins
    equations: tuple[Equation, ...]


class CannotProtect(RuntimeError):
    """No suppression pattern passes the audit (a table too small to publish). Names cells' keys only."""


def build_table(dimensions: tuple[str, ...], counts: Mapping[Key, int],
                categories: Mapping[str, Iterable[str]] | None = None) -> Table:
    """The table of `counts` (interior cells by dimension values) with its margins.

    `categories` fixes each dimension's values (differential privacy: never taken
    from the data); otherwise they are the values the counts have. Missing
    interior cells are zero."""
    values_of = []
    for i, dimension in enumerate(dimensions):
        fixed = (categories or {}).get(dimension)
        values_of.append(sorted(set(fixed) if fixed is not None else {key[i] for key in counts}))
    values: dict[Key, int] = {}
    if len(dimensions) == 1:
        rows = values_of[0]
        for row in rows:
            values[(row,)] = int(counts.get((row,), 0))
        values[(ALL,)] = sum(values[(row,)] for row in rows)
        equations = (Equation((ALL,), tuple((row,) for row in rows)),)
        return Table(tuple(dimensions), values, equations)
    rows, cols = values_of
    for row in rows:
        for col in cols:
            values[(row, col)] = int(counts.get((row, col), 0))
    for row in rows:
        values[(row, ALL)] = sum(values[(row, col)] for col in cols)
    for col in cols:
        values[(ALL, col)] = sum(values[(row, col)] for row in rows)
    values[(ALL, ALL)] = sum(values[(row, ALL)] for row in rows)
    equations = [Equation((row, ALL), tuple((row, col) for col in cols)) for row in [*rows, ALL]]
    equations += [Equation((ALL, col), tuple((row, col) for row in rows)) for col in [*cols, ALL]]
    return Table(tuple(dimensions), values, tuple(equations))


def primary(table: Table, min_cell_size: int) -> set[Key]:
    """Every cell, margins included, with a count from 1 to min_cell_size - 1."""
    return {key for key, value in table.values.items() if 0 < value < min_cell_size}


def audit(table: Table, suppressed: set[Key], min_interval_width: float) -> list[Interval]:
    """The attacker's problem for every suppressed cell: intervals narrower than
    `min_interval_width` (empty when the pattern protects every cell)."""
    return [i for i in intervals(table, suppressed) if i.width < min_interval_width - 1e-6]


def intervals(table: Table, suppressed: set[Key]) -> list[Interval]:
    """For each suppressed cell, the least and greatest value it can take given the
    published cells, every total's equation and non-negativity (HiGHS via linprog)."""
    import numpy as np
    from scipy.optimize import linprog

    hidden = sorted(suppressed)
    if not hidden:
        return []
    index = {key: i for i, key in enumerate(hidden)}
    rows, rhs = [], []
    for equation in table.equations:
        coefficients = np.zeros(len(hidden))
        known = 0.0
        for key, sign in [(equation.total, -1.0), *((term, 1.0) for term in equation.terms)]:
            if key in index:
                coefficients[index[key]] += sign
            else:
                known += sign * table.values[key]
        if coefficients.any():
            rows.append(coefficients)
            rhs.append(-known)
    a_eq, b_eq = (np.array(rows), np.array(rhs)) if rows else (None, None)
    bounds = [(0, None)] * len(hidden)
    found = []
    for key, i in index.items():
        objective = np.zeros(len(hidden))
        objective[i] = 1.0
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if low.status != 0 or high.status not in (0, 3):  # 3: unbounded above, as wide as can be
            raise CannotProtect(f"the attacker's problem for cell {key} has no solution (status "
                                f"{low.status}/{high.status}): the published table is inconsistent")
        found.append(Interval(key, float(low.fun), float("inf") if high.status == 3 else float(-high.fun)))
    return found


def _choice(table: Table, candidates: Iterable[Key]) -> Key | None:
    """The cell whose suppression costs least: interior before totals, then the
    smallest non-zero count (a zero hides nothing), then the key (deterministic)."""
    ranked = sorted(candidates, key=lambda k: (ALL in k, table.values[k] == 0, table.values[k], k))
    return ranked[0] if ranked else None


def protect(table: Table, min_cell_size: int, min_interval_width: float,
            also: Iterable[Key] = ()) -> set[Key]:
    """The suppression pattern: primary cells, `also` (a previous release's pattern
    carried forward), and complementary cells until the audit passes."""
    suppressed = primary(table, min_cell_size) | {key for key in also if key in table.values}
    for _ in range(len(table.values) + 1):
        _pair_lonely_suppressions(table, suppressed)
        too_narrow = audit(table, suppressed, min_interval_width)
        if not too_narrow:
            return suppressed
        for interval in too_narrow:
            through = [e for e in table.equations if interval.cell == e.total or interval.cell in e.terms]
            members = {k for e in through for k in (e.total, *e.terms)} - suppressed
            extra = _choice(table, members)
            if extra is None:
                continue
            suppressed.add(extra)
            break  # re-audit after each addition: one cell may protect several
        else:
            raise CannotProtect(f"{len(too_narrow)} suppressed cell(s) stay narrower than "
                                f"{min_interval_width} with every neighbour suppressed")
    raise CannotProtect("complementary suppression did not settle")  # pragma: no cover - bounded above


def _pair_lonely_suppressions(table: Table, suppressed: set[Key]) -> None:
    """No equation may have exactly one suppressed member: it would be its difference."""
    changed = True
    while changed:
        changed = False
        for equation in table.equations:
            members = (equation.total, *equation.terms)
            if sum(key in suppressed for key in members) == 1:
                extra = _choice(table, [k for k in members if k not in suppressed])
                if extra is not None:
                    suppressed.add(extra)
                    changed = True
