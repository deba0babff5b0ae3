"""Read a CSV drop in fixed-size chunks so memory does not grow with the file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from crm_hygiene.ingest.files import FileRejected
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.ingest.rows import RawChunk

# Small enough that the few chunks in flight stay a small part of the memory
# budget, and that a 100k-row file already fills the pipeline as a big one does.
CHUNK_ROWS = 20_000


def normalise_header(name: str) -> str:
    """Contract: header names match case-insensitively, surrounding spaces ignored."""
    return name.strip().lower()


def read_header(path: Path) -> list[str]:
    """The file's normalised header; FileRejected if it is not UTF-8 CSV."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
            # Decode a first block too, so a non-UTF-8 file fails here, whole.
            fh.read(1 << 16)
    except UnicodeDecodeError:
        raise FileRejected("file is not UTF-8 text") from None
    except csv.Error as exc:
        raise FileRejected(f"file is not readable CSV ({exc.__class__.__name__})") from None
    if not header or not any(h.strip() for h in header):
        raise FileRejected("file has no header row")
    names = [normalise_header(h) for h in header]
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if duplicated:
        raise FileRejected(f"header repeats column(s): {', '.join(duplicated)}")
    return names


def missing_columns(header: list[str], kind: DropKind) -> list[str]:
    return [c for c in kind.required_columns if c not in header]


def iter_chunks(path: Path, header: list[str], chunk_rows: int = CHUNK_ROWS) -> Iterator[RawChunk]:
    """Chunks of the file as plain lists of text cells, by column.

    Every cell stays a string ('' for empty) so that nothing is guessed: the
    row checks decide what a value means. pandas' C parser does the reading;
    the lists let the chunks travel to workers that never import pandas.
    """
    try:
        reader = pd.read_csv(
            path,
            encoding="utf-8-sig",
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            header=0,
            names=header,
            chunksize=chunk_rows,
            skipinitialspace=False,
            on_bad_lines="error",
        )
        start = 1
        for frame in reader:
            yield RawChunk({name: frame[name].tolist() for name in header}, start, len(frame))
            start += len(frame)
    except UnicodeDecodeError:
        raise FileRejected("file is not UTF-8 text") from None
    except (pd.errors.ParserError, csv.Error, io.UnsupportedOperation) as exc:
        # pandas messages name line numbers only, never cell values.
        raise FileRejected(f"file is not readable CSV: {str(exc).splitlines()[0][:200]}") from None
