"""Countries to ISO 3166-1 alpha-2 with pycountry plus the policy's aliases."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import pycountry

from crm_hygiene.per_value import PerValue

_CACHE_SIZE = 10_000


class UnknownCountry(ValueError):
    """The value names no country we can resolve."""


def _fold(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).strip().casefold().split())


_UNKNOWN = object()  # what the raw-spelling cache holds for a value naming no country


class CountryResolver:
    """Resolves free-text countries; remembers answers, since lists repeat them:
    by folded name, and by raw spelling (bounded: junk values are many)."""

    def __init__(self, aliases: Mapping[str, str]):
        self._aliases = {_fold(k): v.upper() for k, v in aliases.items()}
        self._by_folded = PerValue(self._resolve, _CACHE_SIZE)
        self._by_raw = PerValue(self._code_or_unknown, _CACHE_SIZE)

    def to_alpha2(self, raw: str | None) -> str | None:
        """Alpha-2 code, None for an empty value; raises UnknownCountry otherwise."""
        if raw is None:
            return None
        code = self._by_raw[raw]
        if code is _UNKNOWN:
            raise UnknownCountry("unrecognised country")
        return code

    def _code_or_unknown(self, raw: str) -> str | object | None:
        if not raw.strip():
            return None
        code = self._by_folded[_fold(raw)]
        return _UNKNOWN if code is None else code

    def _resolve(self, key: str) -> str | None:
        if key in self._aliases:
            return self._aliases[key]
        try:
            return pycountry.countries.lookup(key).alpha_2
        except LookupError:
            return None
