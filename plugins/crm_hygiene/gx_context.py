"""The one Great Expectations context a process uses, for both file gates.

Ephemeral (GX 1.x ``get_context(mode="ephemeral")``): configuration lives in
memory only, so nothing is read from or written to a project folder (no
``gx/`` directory, no stores or Data Docs on disk), and GX's usage statistics
are off. It is built at the first gate of a process and kept: every later
gate call pays its validation only.

What a fresh process pays at its first gate is almost all GX's own import
(about 3.0 s of 3.1 s on the benchmark machine; the context 0.03 s, the suite,
batch and first validation 0.05 s: ``bench/startup_bench.py``). That import
is the floor of a gate built on GX; this module keeps the rest off it.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

# GX's documented switch for its usage statistics, set before GX is imported.
# (The GX pinned here sends none; the switch stays in case a release does again.)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# GX is chatty at INFO (docs registration, temp dirs); each gate reports its own result.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def ephemeral_context():
    """The process's ephemeral GX context, built (and GX imported) at the first call."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
