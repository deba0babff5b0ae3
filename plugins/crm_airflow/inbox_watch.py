"""Run a DAG when a file arrives in its inbox, without holding a worker slot.

An ``InboxArrivalTrigger`` runs in the triggerer (asyncio, no worker): it lists
``$CRM_DATA_DIR/inbox/<kind>/`` every ``poke_interval`` seconds and fires an
asset event when CSV files are waiting that it has not fired for yet. It never
reads, moves or deletes a file: the standard provider's file triggers delete
the file they watch, which an inbox cannot allow (the drop layer alone
archives or rejects what it has processed). A file whose size or mtime changed
within ``settle_seconds`` may still be being copied in and waits for the next
look. The event carries a count only; file names can hold personal data.

After a triggerer restart the trigger fires once more for files still waiting;
the DAG run that follows finds them processed (by content hash) or processes
them, so a repeated event costs a short run and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "crm_airflow.inbox_watch.InboxArrivalTrigger"


def waiting_files(inbox: Path, settle_seconds: float, now: float) -> frozenset[tuple[str, int, int]]:
    """(name, size, mtime_ns) of each regular CSV in ``inbox`` untouched for ``settle_seconds``."""
    from crm_hygiene.drops.files import pending_files

    settled = set()
    for path in pending_files(inbox):
        try:
            info = path.stat()
        except FileNotFoundError:  # processed between the listing and now
            continue
        if now - info.st_mtime >= settle_seconds:
            settled.add((path.name, info.st_size, info.st_mtime_ns))
    return frozenset(settled)


class InboxArrivalTrigger(BaseEventTrigger):
    """Fires once per new set of settled files waiting in one inbox."""

    def __init__(self, kind: str, poke_interval: float = 30.0, settle_seconds: float = 10.0):
        super().__init__()
        self.kind = kind
        self.poke_interval = poke_interval
        self.settle_seconds = settle_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        # The kind, not a path: the folder is resolved from CRM_DATA_DIR where the
        # trigger runs, which is the data folder the workers see (one shared mount).
        return CLASSPATH, {"kind": self.kind, "poke_interval": self.poke_interval,
                           "settle_seconds": self.settle_seconds}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from crm_hygiene.settings import inbox_dir

        inbox = inbox_dir(self.kind)
        fired_for: frozenset = frozenset()
        while True:
            waiting = await asyncio.to_thread(waiting_files, inbox, self.settle_seconds, time.time())
            if waiting - fired_for:
                self.log.info("%d file(s) waiting in inbox/%s", len(waiting), self.kind)
                yield TriggerEvent({"kind": self.kind, "files_waiting": len(waiting)})
            # Forget files that left the inbox, so the same bytes dropped again later fire again.
            fired_for = waiting
            await asyncio.sleep(self.poke_interval)


def inbox_asset(kind: str) -> Asset:
    """The asset 'files waiting in inbox/<kind>/', updated by its watcher when files arrive.

    How often it looks and how long a file must be left alone are read when the
    DAGs are parsed: ``CRM_INBOX_POKE_SECONDS`` (30) and ``CRM_INBOX_SETTLE_SECONDS`` (10).
    """
    trigger = InboxArrivalTrigger(kind, poke_interval=float(os.environ.get("CRM_INBOX_POKE_SECONDS", 30)),
                                  settle_seconds=float(os.environ.get("CRM_INBOX_SETTLE_SECONDS", 10)))
    return Asset(name=f"crm_inbox_{kind}", uri=f"crm://inbox/{kind}",
                 watchers=[AssetWatcher(name=f"crm_inbox_{kind}_arrivals", trigger=trigger)])
