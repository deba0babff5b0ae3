"""Quarantine: rows that cannot be used, kept with their reasons and the row as
it arrived, plus every identifier an erasure looks them up by."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from crm_hygiene.bulk import bulk_insert
from crm_hygiene.normalise.email_address import email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text, company_key, name_key

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from crm_hygiene.drops.reader import DropRecord


class QuarantineRow(NamedTuple):
    kind: str
    source_file: str
    file_sha256: str
    row_number: int
    reasons: str  # reason codes joined by ';'
    raw_row: str  # JSON of the row as it arrived (or '{}' when nothing may be kept)
    email_match_key: str | None
    phone_key: str | None  # E.164 where the number parses, else its digits
    name_company_key: str | None  # name key | company key
    quarantined_at: str


QUARANTINE_COLUMNS = QuarantineRow._fields


class IdentityKeys(NamedTuple):
    email_match_key: str | None
    phone_key: str | None
    name_company_key: str | None


NO_KEYS = IdentityKeys(None, None, None)
# Keys longer than any real identifier are junk, and PostgreSQL cannot index them.
_MAX_KEY_CHARS = 500
_EMAIL_IN_TEXT = re.compile(r"[^\s,;\"'<>()]+@[^\s,;\"'<>()]+")
_NON_DIGIT = re.compile(r"\D")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def capped(value: str | None) -> str | None:
    """A key fit to store and index: none longer than a real identifier, and
    none with control characters (PostgreSQL refuses a NUL in text)."""
    return value if value and len(value) <= _MAX_KEY_CHARS and not _CONTROL.search(value) else None


def loose_email_key(raw: str) -> str | None:
    """The match key of what was meant as an address, even a malformed one
    (spaces inside, stray punctuation at the ends), so an erasure finds it."""
    return capped(email_match_key("".join(raw.split()).strip(".,;:<>\"'")))


def phone_key(raw: str, region: str | None) -> str | None:
    try:
        e164 = to_e164(raw, region)
    except InvalidPhone:
        digits = _NON_DIGIT.sub("", raw)
        return capped(digits) if len(digits) >= 6 else None
    return e164


def name_company(first: str | None, last: str | None, company: str | None) -> str | None:
    nkey, ckey = name_key(clean_text(first), clean_text(last)), company_key(clean_text(company))
    return capped(f"{nkey}|{ckey}") if nkey and ckey else None


def identity_keys(cells: Mapping[str, str], region_of: Callable[[str], str | None] = lambda _: None) -> IdentityKeys:
    """The identifiers of a row given by cells (email, phone in the row's country, name and company)."""
    email = cells.get("email", "")
    return IdentityKeys(
        loose_email_key(email) if email.strip() else None,
        phone_key(cells.get("phone", ""), region_of(cells.get("country", ""))) if cells.get("phone", "").strip()
        else None,
        name_company(cells.get("first_name"), cells.get("last_name"), cells.get("company")),
    )


def record_keys(record: DropRecord, region_of: Callable[[str], str | None] = lambda _: None) -> IdentityKeys:
    """A reader record's identifiers; from its text when it could not be split into cells."""
    if record.unsplit is not None:
        found = _EMAIL_IN_TEXT.search(record.unsplit.replace("\x00", ""))
        return IdentityKeys(loose_email_key(found.group(0)) if found else None, None, None)
    return identity_keys(record.cells, region_of)


def quarantine_rows(conn: Connection, rows: Iterable[QuarantineRow]) -> int:
    """Insert quarantine rows in the caller's transaction; returns how many."""
    rows = list(rows)
    bulk_insert(conn, "quarantine", QUARANTINE_COLUMNS, rows)
    return len(rows)
