"""Find planted personal data where the contract forbids it.

A reusable scanner for the leak test, the bad-input corpus and the crash
tests: give it the distinctive strings planted in drops (``needles``) and the
places to look, and it lists every occurrence, each with where it is:

* databases (the CRM, or Airflow's metadata database: XCom, rendered fields):
  every row of every table, every column read as text;
* folders (the data folder, ``$AIRFLOW_HOME/logs``): every file, its bytes
  decoded leniently (UTF-8 with replacement, and UTF-16 if it has NULs), so a
  binary or mis-encoded file is still searched.

Matching is case-insensitive. Whether an occurrence is a leak depends on where
it is: callers filter ``Hit``s with ``Hit.is_in`` and the contract's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, inspect, text

MAX_FILE_BYTES = 64 << 20  # bigger files are read in blocks


class Hit(NamedTuple):
    """One planted string found: in a table (``where`` = "table.column") or a file (a relative path)."""

    needle: str
    kind: str  # "table" or "file"
    source: str  # a database's name or a folder's label
    where: str  # "table.column" or the file's path relative to its folder

    def is_in(self, *, tables: Iterable[str] = (), paths: Iterable[str] = (), suffixes: Iterable[str] = ()) -> bool:
        """Whether the hit is in one of these tables, under one of these path prefixes, or in a file with a suffix."""
        if self.kind == "table":
            return self.where.split(".", 1)[0] in set(tables)
        return (any(self.where.startswith(p) for p in paths)
                or any(self.where.endswith(s) for s in suffixes))

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.kind} {self.source}:{self.where}"


def _lowered(needles: Iterable[str]) -> list[tuple[str, str]]:
    return [(n, n.lower()) for n in needles if n]


def scan_database(engine: Engine, needles: Iterable[str], *, label: str = "crm",
                  tables: Iterable[str] | None = None) -> list[Hit]:
    """Every occurrence of a needle in any column of any table (or of `tables`)."""
    wanted = _lowered(needles)
    hits: set[Hit] = set()
    # One connection for reflection and reads (SQLite: a second would wait for the first's lock).
    with engine.connect() as conn:
        inspector = inspect(conn)
        names = sorted(tables) if tables is not None else sorted(inspector.get_table_names())
        for table in names:
            columns = [c["name"] for c in inspector.get_columns(table)]
            quoted = ", ".join(engine.dialect.identifier_preparer.quote(c) for c in columns)
            table_sql = engine.dialect.identifier_preparer.quote(table)
            for row in conn.execute(text(f"SELECT {quoted} FROM {table_sql}")):  # names from the inspector
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes | bytearray | memoryview):
                        value = _decoded(bytes(value))
                    lowered = str(value).lower()
                    hits.update(Hit(n, "table", label, f"{table}.{column}") for n, low in wanted if low in lowered)
    return sorted(hits)


def _decoded(data: bytes) -> str:
    """Text for searching, whatever the encoding: UTF-8 (lenient), plus UTF-16 if the bytes look like it."""
    decoded = data.decode("utf-8", errors="replace")
    if b"\x00" in data:
        for encoding in ("utf-16-le", "utf-16-be"):
            decoded += "\n" + data.decode(encoding, errors="replace")
    return decoded


def scan_folder(folder: Path, needles: Iterable[str], *, label: str | None = None) -> list[Hit]:
    """Every occurrence of a needle in any file below `folder` (links not followed)."""
    wanted = _lowered(needles)
    label = label or str(folder)
    hits: set[Hit] = set()
    if not folder.exists():
        return []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(folder).as_posix()
        with path.open("rb") as fh:
            carry = b""
            while block := fh.read(MAX_FILE_BYTES):
                lowered = _decoded(carry + block).lower()
                hits.update(Hit(n, "file", label, relative) for n, low in wanted if low in lowered)
                carry = block[-4096:]  # a needle across a block boundary
    return sorted(hits)


def scan_everywhere(needles: Iterable[str], *, databases: dict[str, Engine] | None = None,
                    folders: dict[str, Path] | None = None) -> list[Hit]:
    """All hits in the given databases (label -> engine) and folders (label -> path)."""
    needles = list(needles)
    hits: list[Hit] = []
    for label, engine in (databases or {}).items():
        hits += scan_database(engine, needles, label=label)
    for label, folder in (folders or {}).items():
        hits += scan_folder(folder, needles, label=label)
    return hits


def airflow_metadata_engine(airflow_home: Path) -> Engine:
    """Airflow's metadata database as the tests configure it (SQLite in $AIRFLOW_HOME)."""
    from sqlalchemy import create_engine

    return create_engine(f"sqlite:///{airflow_home / 'airflow.db'}")
