"""Countries to ISO 3166-1 alpha-2 with pycountry plus the policy's aliases."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import pycountry


class UnknownCountry(ValueError):
    """The value names no country we can resolve."""


def _fold(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).strip().casefold().split())


class CountryResolver:
    """Resolves free-text countries; remembers answers, since lists repeat them."""

    def __init__(self, aliases: Mapping[str, str]):
        self._aliases = {_fold(k): v.upper() for k, v in aliases.items()}
        self._cache: dict[str, str | None] = {}

    def to_alpha2(self, raw: str | None) -> str | None:
        """Alpha-2 code, None for an empty value; raises UnknownCountry otherwise."""
        if raw is None or not raw.strip():
            return None
        key = _fold(raw)
        if key not in self._cache:
            self._cache[key] = self._resolve(key)
        code = self._cache[key]
        if code is None:
            raise UnknownCountry("unrecognised country")
        return code

    def _resolve(self, key: str) -> str | None:
        if key in self._aliases:
            return self._aliases[key]
        try:
            return pycountry.countries.lookup(key).alpha_2
        except LookupError:
            return None
