"""Work done once per distinct value: a pure function's answers, remembered.

A drop repeats most of its free text (a few thousand companies, a few hundred
job titles, countries and mail domains across a million rows), so the row
checks look those answers up instead of computing them again. Emails and
phones are nearly all distinct: they are not cached (measured: no gain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class PerValue(dict):
    """``cache[value]`` is ``fn(value)``, computed on the first look-up only.

    A dict that fills itself on a miss, so a hit never leaves C: map a column
    with ``cache.map(values)``. ``fn`` must be pure (the same answer for the
    same value, every time); if it raises, nothing is remembered. Bounded: once ``limit`` values
    are held, the next miss starts afresh, so memory stays flat whatever the
    file's size.
    """

    __slots__ = ("fn", "limit")

    def __init__(self, fn: Callable[[Any], Any], limit: int) -> None:
        super().__init__()
        self.fn = fn
        self.limit = limit

    def __missing__(self, value: Any) -> Any:
        if len(self) >= self.limit:
            self.clear()
        result = self[value] = self.fn(value)
        return result

    def map(self, values: Iterable) -> list:
        return list(map(self.__getitem__, values))
