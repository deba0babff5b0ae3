"""The export gate: a Great Expectations suite every partner file passes before it leaves.

It checks the file as the partner will read it (the CSV text parsed back), not
the tables it came from: only the report's columns; no value that looks like
an email, a phone number or a URL; every published count zero or at least the
cell size (zeros are published: see disclosure.py); and every total consistent
with its published cells (equal when none is suppressed, at least their sum
otherwise). A failure names the expectation and column, never a value.
"""

from __future__ import annotations

import io
import itertools
from functools import lru_cache

import pandas as pd

from crm_hygiene.gx_context import ephemeral_context
from crm_hygiene.partner_reports.disclosure import Table
from crm_hygiene.partner_reports.export_file import restored

EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
PHONE = r"\+?(?:\d[\s()./-]*){8,}"  # eight digits or more: a month (2026-03) is not a phone
URL = r"(?i)(?:https?://|www\.|\.(?:com|org|net|io|co\.uk)\b)"
COUNT = r"^\d*$"
FORMULA = r"^[=+\-@\t\r]"  # a spreadsheet would run it (export_file.neutralised prevents it)
_frames = itertools.count()


class ExportRefused(RuntimeError):
    """The export gate failed: nothing is written. Names checks and columns only."""


@lru_cache(maxsize=1)
def _source():
    """The export gate's pandas data source on the process's one GX context (gx_context.py)."""
    return ephemeral_context().data_sources.add_pandas("export")


def _validate(frame: pd.DataFrame, expectations: list) -> list[str]:
    import great_expectations as gx

    source = _source()
    name = f"frame_{next(_frames)}"
    batch = (source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
             .get_batch(batch_parameters={"dataframe": frame}))
    suite = gx.ExpectationSuite(name="partner_export")
    for expectation in expectations:
        suite.add_expectation(expectation)
    result = batch.validate(suite, result_format="BOOLEAN_ONLY")
    source.delete_asset(name)
    failed = []
    for item in result.results:
        if not item.success:
            config = item.expectation_config
            where = config.kwargs.get("column") or config.kwargs.get("column_A") or "table"
            failed.append(f"{config.type} ({where})")
    return failed


def gate_failures(text: str, dimensions: tuple[str, ...], measures: tuple[str, ...], min_cell_size: int,
                  table_for: dict[str, Table]) -> list[str]:
    """What is wrong with an export file (empty when it may leave)."""
    import great_expectations.expectations as gxe

    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    checks = [gxe.ExpectTableColumnsToMatchSet(column_set=[*dimensions, *measures], exact_match=True)]
    for column in frame.columns:
        checks += [gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=EMAIL),
                   gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=URL),
                   gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=FORMULA)]
        if column not in measures:
            checks.append(gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=PHONE))
    for measure in (m for m in measures if m in frame.columns):
        checks.append(gxe.ExpectColumnValuesToMatchRegex(column=measure, regex=COUNT))
    failures = _validate(frame, checks)
    if not set(measures) <= set(frame.columns) or any("match_regex (" in f and "not_match" not in f
                                                       for f in failures):
        return failures  # no counts to read back
    # Published counts: a number below the cell size (other than zero) must not leave.
    numbers = pd.DataFrame({m: pd.to_numeric(frame[m].replace("", None)) for m in measures})
    published = numbers.where(numbers != 0)
    failures += _validate(published, [gxe.ExpectColumnValuesToBeBetween(column=m, min_value=min_cell_size)
                                      for m in measures])
    failures += _validate(_equations(frame, dimensions, measures, table_for),
                          [gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="total", column_B="published_sum",
                                                                        or_equal=True),
                           gxe.ExpectColumnPairValuesToBeEqual(column_A="total", column_B="published_sum",
                                                               row_condition='complete == True',
                                                               condition_parser="pandas")])
    return failures


def _equations(frame: pd.DataFrame, dimensions: tuple[str, ...], measures: tuple[str, ...],
               table_for: dict[str, Table]) -> pd.DataFrame:
    """One row per total the file publishes: the total, the sum of its published cells, and
    whether all of them are published (read back from the file, not from the tables)."""
    published = {}
    for _, row in frame.iterrows():
        key = tuple(restored(str(row[d])) for d in dimensions)
        for measure in measures:
            published[(measure, key)] = int(row[measure]) if row[measure] != "" else None
    rows = []
    for measure in measures:
        for equation in table_for[measure].equations:
            total = published.get((measure, equation.total))
            terms = [published.get((measure, t)) for t in equation.terms]
            if total is None:
                continue
            rows.append({"total": total, "published_sum": sum(v for v in terms if v is not None),
                         "complete": all(v is not None for v in terms)})
    return pd.DataFrame(rows or [{"total": 0, "published_sum": 0, "complete": True}])
