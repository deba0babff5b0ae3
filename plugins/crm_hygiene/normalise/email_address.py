"""Email addresses: syntax per email-validator's rules, match key, and flags."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part

# Gmail ignores dots in the local part and serves both domains (contract:
# "for gmail.com and googlemail.com, dots removed ... domain written gmail.com").
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_MAX_ADDRESS_LENGTH = 254  # RFC 3696 errata / RFC 5321 path limit


class InvalidEmail(ValueError):
    """The address breaks email syntax; the message names the rule, not the value."""


def email_match_key(address: str | None) -> str | None:
    """The contract's match key: two addresses with one key are one mailbox.

    Trimmed, Unicode NFC, lower-cased; a ``+tag`` dropped from the local part;
    for gmail.com/googlemail.com, dots dropped and the domain written gmail.com.
    """
    if address is None:
        return None
    address = unicodedata.normalize("NFC", address.strip()).lower()
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


@lru_cache(maxsize=200_000)
def _validated_domain(domain: str) -> str | None:
    """Validate a domain once: across a list most rows share a few domains."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def canonical_domain(raw: str | None) -> str | None:
    """A mail domain as email-validator normalises it, lower-cased; None if empty.

    Raises InvalidEmail when the value is not a mail domain.
    """
    domain = unicodedata.normalize("NFC", (raw or "").strip()).lower().lstrip("@")
    if not domain:
        return None
    valid = _validated_domain(domain)
    if valid is None:
        raise InvalidEmail("domain")
    return valid.lower()


def canonical_email(raw: str | None) -> str | None:
    """Trimmed, NFC, lower-cased, syntax-checked address; None when empty.

    Raises InvalidEmail when the value is present but is not an address.
    """
    if raw is None:
        return None
    address = unicodedata.normalize("NFC", raw.strip()).lower()
    if not address:
        return None
    if address.count("@") != 1 or '"' in address:
        # Quoted local parts and stray @ signs take the library's full path.
        try:
            return validate_email(address, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise InvalidEmail(type(exc).__name__) from None
    local, _, domain = address.partition("@")
    valid_domain = _validated_domain(domain)
    if valid_domain is None:
        raise InvalidEmail("domain")
    try:
        validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False, quoted_local_part=False)
    except EmailNotValidError:
        raise InvalidEmail("local part") from None
    address = f"{local}@{valid_domain.lower()}"
    if len(address) > _MAX_ADDRESS_LENGTH:
        raise InvalidEmail("length")
    return address


@dataclass(frozen=True)
class EmailFlags:
    is_personal: bool
    is_role: bool
    is_disposable: bool


NO_FLAGS = EmailFlags(is_personal=False, is_role=False, is_disposable=False)
# The eight possible answers, built once: email_flags runs for every row of a drop.
_FLAGS = {(p, r, d): EmailFlags(p, r, d) for p in (False, True) for r in (False, True) for d in (False, True)}


def email_flags(
    address: str,
    free_mail_domains: frozenset[str],
    role_local_parts: frozenset[str],
    disposable_domains: frozenset[str],
) -> EmailFlags:
    """Flags from the policy's lists: personal mailbox, role account, throw-away."""
    local, _, domain = address.rpartition("@")
    return _FLAGS[domain in free_mail_domains, local.split("+", 1)[0] in role_local_parts,
                  domain in disposable_domains]
