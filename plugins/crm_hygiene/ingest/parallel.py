"""Prepare chunks on every core while the main process loads the database.

Row normalisation is CPU-bound Python (email and phone parsing), so big files
fan chunks out to worker processes; results come back in file order, and only
a few chunks are in flight at once so memory stays flat whatever the file size.
Workers import the row checks only (no pandas, no SQLAlchemy), so each stays
small.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from datetime import date

from crm_hygiene.bulk import copy_csv
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.ingest.kinds import PROSPECT_KINDS, DropKind
from crm_hygiene.ingest.rows import PreparedChunk, RowContext, prepare_chunk
from crm_hygiene.keys import HashKeys
from crm_hygiene.policy import Policy

# Below this size a file is prepared in-process: starting workers costs more.
PARALLEL_MIN_BYTES = 8 << 20

_worker_ctx: RowContext | None = None


def _init_worker(policy: Policy, today: date, keys: HashKeys) -> None:
    global _worker_ctx
    _worker_ctx = RowContext(policy=policy, today=today, keys=keys)
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
    # What the worker has imported and built lives as long as it does: keep it
    # out of the cycle collector's full scans.
    gc.freeze()


def _exit_with_parent() -> None:
    """End this worker when the process that started it is gone.

    A parent killed outright (SIGKILL, the OOM killer, a task's hard timeout)
    never tells its pool to stop, and a spawned worker waiting for its next chunk
    would wait for ever, holding its ~200 MiB (measured). The parent's sentinel
    closes whenever and however the parent ends. Nothing is lost by exiting: the
    parent's transaction died with it.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    parent.join()
    os._exit(1)


def _prepare_in_worker(chunk: RawChunk, kind_name: str, dialect: str) -> PreparedChunk:
    assert _worker_ctx is not None
    # A chunk's rows are tuples and lists that live until the chunk is shipped
    # and hold no reference cycles; the collector scanning them as they pile up
    # cost ~5 core-us a row (measured). Whatever cycles a chunk does leave are
    # collected once it is done.
    gc.disable()
    try:
        prepared = prepare_chunk(chunk, PROSPECT_KINDS[kind_name], _worker_ctx)
        if dialect == "postgresql":
            # Ship one string instead of a tuple per row.
            return replace(prepared, staged=[], copy_csv=copy_csv(prepared.staged))
        return prepared
    finally:
        gc.enable()


def worker_count(file_size: int) -> int:
    if file_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def prepared_chunks(
    chunks: Iterable[RawChunk], kind: DropKind, policy: Policy, today: date, keys: HashKeys,
    workers: int, dialect: str,
) -> Iterator[PreparedChunk]:
    if workers <= 1:
        ctx = RowContext(policy=policy, today=today, keys=keys)
        for chunk in chunks:
            yield prepare_chunk(chunk, kind, ctx)
        return
    # spawn, not fork: the parent may be an Airflow task process holding sockets.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(policy, today, keys),
    ) as pool:
        in_flight: deque[list[Future]] = deque()  # per chunk, its pieces' results
        for chunk in chunks:
            # A file's last chunk is cut in one piece per worker, so that they finish
            # together instead of one checking a whole chunk while the other waits.
            pieces = _pieces(chunk, workers) if chunk.ends_file else [chunk]
            in_flight.append([pool.submit(_prepare_in_worker, piece, kind.name, dialect) for piece in pieces])
            if len(in_flight) > workers:
                yield _joined([piece.result() for piece in in_flight.popleft()])
        while in_flight:
            yield _joined([piece.result() for piece in in_flight.popleft()])


# Below this many rows a piece is not worth a round trip to a worker.
_MIN_PIECE_ROWS = 2_000


def _pieces(chunk: RawChunk, parts: int) -> list[RawChunk]:
    parts = min(parts, chunk.n_rows // _MIN_PIECE_ROWS)
    if parts <= 1:
        return [chunk]
    bounds = [chunk.n_rows * k // parts for k in range(parts + 1)]
    return [RawChunk({name: cells[start:end] for name, cells in chunk.columns.items()}, chunk.row_numbers[start:end])
            for start, end in itertools.pairwise(bounds)]


def _joined(pieces: list[PreparedChunk]) -> PreparedChunk:
    """One chunk's pieces, checked, as the one prepared chunk they make, in row order."""
    if len(pieces) == 1:
        return pieces[0]
    hits: dict[str, int] = {}
    for piece in pieces:
        for category, n in piece.special_category_hits.items():
            hits[category] = hits.get(category, 0) + n
    texts = [piece.copy_csv for piece in pieces]
    return PreparedChunk(
        n_read=sum(piece.n_read for piece in pieces),
        staged=[row for piece in pieces for row in piece.staged],
        quarantined=[row for piece in pieces for row in piece.quarantined],
        other_key_hashes=[row for piece in pieces for row in piece.other_key_hashes],
        copy_csv=None if all(text is None for text in texts) else "".join(text or "" for text in texts),
        special_category_hits=hits,
    )
