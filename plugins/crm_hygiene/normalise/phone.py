"""Phone numbers to E.164 with Google's libphonenumber (phonenumbers)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_E164_MAX_DIGITS = 15


class InvalidPhone(ValueError):
    """The number is not a valid number for its country."""


def to_e164(raw: str | None, country_alpha2: str | None) -> str | None:
    """E.164 form of ``raw``, read in the row's country when it has no ``+``.

    Returns None for an empty value; raises InvalidPhone when present but not a
    valid number (a national number without a known country cannot be placed).
    """
    if raw is None:
        return None
    raw = raw.strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, country_alpha2 or None)
    except NumberParseException:
        raise InvalidPhone("unparseable") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # libphonenumber accepts some long national plans; E.164 itself allows 15 digits.
    if len(e164) - 1 > _E164_MAX_DIGITS:
        raise InvalidPhone("longer than E.164 allows")
    return e164
