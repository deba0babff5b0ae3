"""The file a partner receives: CSV text, its manifest, and formula neutralisation.

Bytes are a pure function of the counts, the suppression pattern and the
policy: rows in a fixed order, no wall-clock time, so a re-run for the same
period gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping

from crm_hygiene.partner_reports.disclosure import ALL, Key, Table

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run (OWASP: prefix a quote)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def restored(cell: str) -> str:
    """The value a neutralised cell stands for (the gate reads the file back)."""
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in "".join(FORMULA_STARTS) else cell


def _order(key: Key) -> tuple:
    return (sum(v == ALL for v in key), key)


def csv_text(dimensions: tuple[str, ...], measures: tuple[str, ...], tables: Mapping[str, Table],
             suppressed: Mapping[str, set[Key]]) -> str:
    """Interior cells first, then the totals (dimension value ``ALL``); a suppressed count is blank."""
    keys = sorted(tables[measures[0]].values, key=_order)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(dimensions) + list(measures))
    for key in keys:
        counts = ["" if key in suppressed[m] else str(tables[m].values[key]) for m in measures]
        writer.writerow([neutralised(v) for v in (*key, *counts)])
    return out.getvalue()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_text(*, partner: str, report: str, period: str, dimensions: tuple[str, ...],
                  measures: tuple[str, ...], min_cell_size: int, min_interval_width: int,
                  suppressed: Mapping[str, set[Key]], rows: int, sha256: str, policy_version: str,
                  mode: str, epsilon: float) -> str:
    """The contract's manifest.json: report, partner, period, min_cell_size, suppressed cells, rows, sha256."""
    manifest = {
        "report": report, "partner": partner, "period": period, "file": f"{report}_{period}.csv",
        "dimensions": list(dimensions), "measures": list(measures), "total_marker": ALL,
        "min_cell_size": min_cell_size, "min_interval_width": min_interval_width,
        "suppressed_cells": sum(len(cells) for cells in suppressed.values()),
        "suppressed_cells_by_measure": {m: len(suppressed[m]) for m in measures},
        "blank_means": "suppressed", "rows": rows, "sha256": sha256, "policy_version": policy_version,
        "mode": mode, "epsilon": epsilon,
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
