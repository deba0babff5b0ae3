"""Parsers for the text cells every drop kind shares: dates, closed-set words,
whole numbers. Each returns a value or raises ValueError naming no value, so a
caller turns the failure into a reason code."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_ASCII_DIGITS = re.compile(r"[0-9]+")


class OffCalendar(ValueError):
    """A well-formed timestamp that its UTC offset moves off the calendar."""


def wire_timestamp(moment: datetime) -> str:
    """The text form SQLAlchemy writes for DateTime on SQLite; PostgreSQL reads it too."""
    return moment.isoformat(sep=" ", timespec="microseconds")


def closed_set_value(raw: str) -> str:
    """'Company Website' and 'company-website' both mean company_website."""
    return "_".join(raw.strip().lower().replace("-", " ").split())


def parse_timestamp(raw: str) -> datetime | None:
    """ISO 8601 date or timestamp as naive UTC; None when empty.

    ValueError when it is not ISO 8601; OffCalendar (a ValueError) when its
    offset moves it off the calendar (year 1 at +02:00, year 9999 at -05:00).
    """
    raw = raw.strip()
    if not raw:
        return None
    moment = datetime.fromisoformat(raw.replace("z", "Z"))
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise OffCalendar("timestamp off the calendar once made UTC") from None
    return moment


def within_dates(moment: datetime | date, earliest: date, latest: date) -> bool:
    """Whether the day of `moment` lies within the policy's plausible dates."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return earliest <= day <= latest


def parse_whole_number(raw: str) -> int | None:
    """A non-negative whole number written in ASCII digits; None when empty.

    ValueError otherwise: str.isdigit() also accepts '²' and '٣', which int()
    then refuses or reads as another number.
    """
    raw = raw.strip()
    if not raw:
        return None
    if not _ASCII_DIGITS.fullmatch(raw) or len(raw) > 9:
        raise ValueError("not a whole number in ASCII digits")
    return int(raw)
