"""Keyed hashes of personal identifiers, for suppression without plaintext.

The key (or keys) comes from ``CRM_HASH_KEY`` or the Airflow Variable
``crm_hash_key``, resolved by the caller and handed in as text:

* one secret: ``CRM_HASH_KEY=s3cret...``; its key id is derived from it;
* several, for rotation: ``CRM_HASH_KEY="2026-11:new-secret 2025-01:old-secret"``,
  ``id:secret`` pairs separated by spaces or commas, the first being current.

New hashes are written under the current key; matching tries every configured
key, so entries hashed under an older key keep working after a rotation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from crm_hygiene.per_value import PerValue

MIN_SECRET_LENGTH = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
HEX_HMAC = re.compile(r"^[0-9a-f]{64}$")


class HashKeyError(RuntimeError):
    """No usable hashing key: the message says what to set, never the key."""


# HMAC's key pads (RFC 2104), as byte translation tables.
_INNER_PAD = bytes(b ^ 0x36 for b in range(256))
_OUTER_PAD = bytes(b ^ 0x5C for b in range(256))
_SHA256_BLOCK = 64


@lru_cache(maxsize=8)
def _keyed_sha256(secret: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 keyed once (RFC 2104, as the hmac module computes it): the
    inner and outer SHA-256 states after the padded key. Copying them skips
    re-keying for every value, and copying hashlib's own objects skips the
    hmac module's Python wrapper: 0.9 us a value instead of 1.4 (tests/
    test_row_checks.py checks the result equals the hmac module's)."""
    if len(secret) > _SHA256_BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_SHA256_BLOCK, b"\0")
    return hashlib.sha256(secret.translate(_INNER_PAD)), hashlib.sha256(secret.translate(_OUTER_PAD))


@dataclass(frozen=True)
class HashKey:
    key_id: str
    secret: bytes

    def digest(self, value: str) -> str:
        """Lowercase hex HMAC-SHA256 of `value` (UTF-8): the contract's `email_hmac` form."""
        inner, outer = _keyed_sha256(self.secret)
        inner = inner.copy()
        inner.update(value.encode("utf-8"))
        outer = outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __repr__(self) -> str:  # never print the secret
        return f"HashKey({self.key_id!r})"


@dataclass(frozen=True)
class HashKeys:
    """The configured keys, current first."""

    keys: tuple[HashKey, ...]

    @property
    def current(self) -> HashKey:
        return self.keys[0]

    def all_digests(self, value: str) -> list[tuple[str, str]]:
        """(key_id, hash) under every key: what matching tries."""
        return [(k.key_id, k.digest(value)) for k in self.keys]


def derived_key_id(secret: str) -> str:
    """A stable, non-secret name for a secret given without one."""
    return "k" + hashlib.sha256(b"crm-hygiene key id:" + secret.encode("utf-8")).hexdigest()[:8]


def parse_hash_keys(raw: str | None, source: str = "CRM_HASH_KEY") -> HashKeys:
    """Keys from their configured text; HashKeyError naming `source` if unusable."""
    if raw is None or not raw.strip():
        raise HashKeyError(
            f"no suppression hashing key: set {source} (env CRM_HASH_KEY or Airflow Variable "
            "crm_hash_key) to a secret of at least 16 characters; see README, 'Hashing key'"
        )
    parts = [p for p in re.split(r"[\s,]+", raw.strip()) if p]
    keys: list[HashKey] = []
    for position, part in enumerate(parts, start=1):
        key_id, sep, secret = part.partition(":")
        if not sep:
            if len(parts) > 1:
                raise HashKeyError(f"{source}: with several keys each must be written id:secret (key {position})")
            key_id, secret = derived_key_id(part), part
        if not _KEY_ID.match(key_id):
            raise HashKeyError(f"{source}: key {position} has an invalid id (letters, digits, . _ -; at most 32)")
        if len(secret) < MIN_SECRET_LENGTH:
            raise HashKeyError(f"{source}: key {position} is shorter than {MIN_SECRET_LENGTH} characters")
        keys.append(HashKey(key_id, secret.encode("utf-8")))
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise HashKeyError(f"{source}: key ids repeat")
    return HashKeys(tuple(keys))


def identifier_values(email_key: str | None, phone_e164: str | None) -> list[tuple[str, str]]:
    """(key_type, value) pairs a suppression entry can name: the email match key,
    its domain and the E.164 phone. The one definition of what gets hashed."""
    values = []
    if email_key:
        values += [("email", email_key), ("domain", email_key.rpartition("@")[2])]
    if phone_e164:
        values.append(("phone", phone_e164))
    return values


class IdentifierDigests:
    """A row's identifiers hashed under one key: the pairs ``identifier_values``
    names, as (email hash, phone hash, domain hash), None where absent.

    For the row checks, which hash every row of a drop: the addresses of a file
    share a few thousand domains, so each domain is hashed once (bounded, see
    ``PerValue``); emails and phones are nearly all distinct and are hashed
    every time.
    """

    def __init__(self, key: HashKey, domain_cache_limit: int = 100_000) -> None:
        self._digest = key.digest
        self._domains = PerValue(key.digest, domain_cache_limit)

    def __call__(self, email_key: str | None, phone_e164: str | None) -> tuple[str | None, str | None, str | None]:
        if email_key:
            email_hash = self._digest(email_key)
            domain_hash = self._domains[email_key.rpartition("@")[2]]
        else:
            email_hash = domain_hash = None
        return email_hash, self._digest(phone_e164) if phone_e164 else None, domain_hash
