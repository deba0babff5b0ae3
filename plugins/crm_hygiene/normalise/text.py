"""Names and companies: tidy for display, fold for matching."""

from __future__ import annotations

import re
import unicodedata

# Legal-form suffixes that do not distinguish one company from another when
# matching ("Acme Ltd" and "ACME Limited" are one company).
_LEGAL_FORMS = frozenset(
    {
        "ltd", "limited", "plc", "llp", "llc", "inc", "incorporated", "corp",
        "corporation", "co", "company", "gmbh", "ag", "kg", "sa", "sas", "sarl",
        "srl", "spa", "bv", "nv", "ab", "as", "oy", "aps", "pty", "pte", "group",
    }
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Invisible marks that change how text is shown, not what it says: bidi
# embeddings, overrides and isolates (a right-to-left override can make a
# name read backwards on screen), zero-width space, word joiner, BOM. The
# zero-width (non-)joiners stay: emoji sequences and some scripts need them.
_INVISIBLE_MARKS = dict.fromkeys(
    [0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF]
)


def clean_text(raw: str | None) -> str | None:
    """Trimmed, inner whitespace collapsed, invisible direction marks removed,
    Unicode NFC; None when empty.

    Case, accents and emoji are kept: "José" and "Zoë" are names, not noise.
    """
    if raw is None:
        return None
    if raw.isascii():
        # ASCII holds no invisible mark and nothing to compose: only whitespace
        # to tidy (and str.translate walks a string char by char, ~1 us a URL).
        text = " ".join(raw.split())
    else:
        text = " ".join(unicodedata.normalize("NFC", raw.translate(_INVISIBLE_MARKS)).split())
    return text or None


def company_key(company: str | None) -> str | None:
    """Matching key for a company: case-folded, punctuation and legal form dropped."""
    if not company:
        return None
    words = _NON_WORD.sub(" ", unicodedata.normalize("NFKC", company).casefold()).split()
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return " ".join(words) or None


def name_key(first_name: str | None, last_name: str | None) -> str | None:
    """Matching key for a person's name; None unless both parts are known."""
    if not first_name or not last_name:
        return None
    return " ".join(unicodedata.normalize("NFKC", f"{first_name} {last_name}").casefold().split())
