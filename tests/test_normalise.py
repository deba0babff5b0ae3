"""Normalisers: examples from real dirt, and properties that must hold for any input."""

import string

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_flags, email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text, company_key, name_key
from crm_hygiene.policy import load_policy

POLICY = load_policy()


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("John.Smith@Example.com", "john.smith@example.com"),
        ("  john.smith+newsletter@example.com ", "john.smith@example.com"),
        ("J.O.H.N.Smith+x@GoogleMail.com", "johnsmith@gmail.com"),
        ("johnsmith@gmail.com", "johnsmith@gmail.com"),
        ("jo.hn@gmail.co.uk", "jo.hn@gmail.co.uk"),  # only gmail.com/googlemail.com fold dots
        ("ZOË@exämple.de", "zoë@exämple.de"),
    ],
)
def test_email_match_key(raw, key):
    assert email_match_key(raw) == key


@pytest.mark.parametrize("raw", ["plainaddress", "a@@b.com", "john smith@x.com", "x@y.", "x@-bad-.com", ".a@b.com"])
def test_invalid_emails_are_refused_without_echoing_the_value(raw):
    with pytest.raises(InvalidEmail) as info:
        canonical_email(raw)
    assert raw not in str(info.value)


def test_canonical_email_trims_and_lowercases_and_keeps_tags():
    assert canonical_email("  Ana.Lopez+Events@ACME.co.uk ") == "ana.lopez+events@acme.co.uk"
    assert canonical_email("") is None and canonical_email("   ") is None


@pytest.mark.enforces("email_marketing")
def test_email_flags_come_from_the_policy_lists():
    m = POLICY.email_marketing
    flags = email_flags("info@bigco.com", m.free_mail_domains, m.role_local_parts, m.disposable_domains)
    assert (flags.is_personal, flags.is_role, flags.is_disposable) == (False, True, False)
    flags = email_flags("x@mailinator.com", m.free_mail_domains, m.role_local_parts, m.disposable_domains)
    assert flags.is_disposable
    assert email_flags("x@gmail.com", m.free_mail_domains, m.role_local_parts, m.disposable_domains).is_personal


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", None, "+442079460958"),
        ("(212) 555-0147", "US", "+12125550147"),
        ("12345", "GB", None),
        ("30000000000000", "DE", None),  # valid to libphonenumber, but 16 digits break E.164
        ("030 123456", "DE", "+4930123456"),
        ("01 42 68 53 00", "FR", "+33142685300"),
    ],
)
def test_phone_to_e164(raw, country, e164):
    if e164 is None:
        with pytest.raises(InvalidPhone):
            to_e164(raw, country)
    else:
        assert to_e164(raw, country) == e164


def test_national_phone_without_a_country_cannot_be_placed():
    with pytest.raises(InvalidPhone):
        to_e164("020 7946 0958", None)
    assert to_e164(" ", "GB") is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [("UK", "GB"), ("england", "GB"), (" United Kingdom ", "GB"), ("USA", "US"), ("U.S.A.", "US"),
     ("United States", "US"), ("Deutschland", "DE"), ("DE", "DE"), ("deu", "DE"), ("France", "FR"),
     ("Nederland", "NL"), ("España", "ES"), ("Ireland", "IE")],
)
def test_country_aliases_and_iso_names(raw, code):
    assert CountryResolver(POLICY.input_validation.country_aliases).to_alpha2(raw) == code


def test_unknown_country_is_refused():
    with pytest.raises(UnknownCountry):
        CountryResolver(POLICY.input_validation.country_aliases).to_alpha2("Narnia")


def test_names_keep_unicode_and_companies_fold_legal_forms():
    assert clean_text("  José   María ") == "José María"
    assert clean_text("田中") == "田中"
    assert company_key("ACME Limited") == company_key("Acme Ltd.") == "acme"
    assert company_key("The Group") == "the"  # the last word stays even if a legal form
    assert name_key("Zoë", "O'Neil") == "zoë o'neil"
    assert name_key("Zoë", None) is None


# --- properties -------------------------------------------------------------

local_parts = st.text(alphabet=string.ascii_lowercase + string.digits + "._-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
domains = st.sampled_from(["example.com", "acme.co.uk", "gmail.com", "googlemail.com", "firm.de"])


def _random_case(draw, text):
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@st.composite
def address_variants(draw):
    """An address and a variant the contract says is the same mailbox."""
    local, domain = draw(local_parts), draw(domains)
    variant_local = local
    if draw(st.booleans()):
        variant_local += "+" + draw(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8))
    variant_domain = domain
    if domain in {"gmail.com", "googlemail.com"}:
        variant_domain = draw(st.sampled_from(["gmail.com", "googlemail.com"]))
        cut = draw(st.integers(min_value=0, max_value=len(variant_local.split("+")[0])))
        if 0 < cut < len(variant_local.split("+")[0]):
            variant_local = variant_local[:cut] + "." + variant_local[cut:]
    spaces = draw(st.sampled_from(["", " ", "\t", "  "]))
    variant = spaces + _random_case(draw, f"{variant_local}@{variant_domain}") + spaces
    return f"{local}@{domain}", variant


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@given(address_variants())
@settings(max_examples=300)
def test_every_variant_of_an_address_has_its_match_key(pair):
    original, variant = pair
    assert email_match_key(variant) == email_match_key(original)


@given(st.text(max_size=40))
def test_match_key_is_idempotent(raw):
    key = email_match_key(raw)
    assert key is None or email_match_key(key) == key


@given(st.text(max_size=40))
def test_canonical_email_is_idempotent_or_refuses(raw):
    try:
        once = canonical_email(raw)
    except InvalidEmail:
        return
    assert once is None or canonical_email(once) == once


@given(st.from_regex(r"\+?[0-9 ()\-]{4,20}", fullmatch=True), st.sampled_from(["GB", "US", "DE", "FR", None]))
@settings(max_examples=300)
def test_e164_output_is_canonical(raw, country):
    try:
        e164 = to_e164(raw, country)
    except InvalidPhone:
        return
    if not raw.strip():
        assert e164 is None
        return
    assert e164.startswith("+") and e164[1:].isdigit() and len(e164) <= 16
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))
    assert to_e164(e164, None) == e164
