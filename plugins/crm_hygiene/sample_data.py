"""Seeded generator of realistic, dirty prospect drop files.

Writes research, event and enquiry CSVs in the formats of CONTRACT.md ("Input
files"), with the kinds of mess real drops have: stray spaces and odd casing,
broken addresses, unknown sources, free-text countries, national phone formats,
the same person arriving several times with small variations, a few minors,
bad dates. Same arguments give byte-identical files.

It has to write a million rows in seconds, so Faker (slow per call) is only used
to build small pools of names, companies and titles once; rows are assembled
from those pools with vectorised numpy draws and written in fixed-size chunks,
so memory does not grow with the row count.

A person is a pure function of (seed, person id): see `_PersonDraws`. That lets
three independent writers share people (an event attendee who is also in the
research list) without any shared state, and lets a duplicate row far down a
million-row file recreate the person it copies without keeping earlier rows.

Imports nothing from Airflow, so it can run in tests, the CLI and benchmarks.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from faker import Faker

RESEARCH_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "country",
    "source",
    "source_url",
    "collected_at",
    "date_of_birth",
    "age",
    "notes",
)
EVENT_COLUMNS = (
    "event_name",
    "event_date",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "country",
    "marketing_consent",
    "date_of_birth",
    "age",
    "notes",
)
ENQUIRY_COLUMNS = (
    "received_at",
    "channel",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "country",
    "marketing_consent",
    "referred_by_email",
    "notes",
)

RESEARCH_SOURCES = ("linkedin", "search_engine", "company_website", "public_register", "data_research")
ENQUIRY_CHANNELS = ("web_form", "email", "telephone", "meeting", "email_a_friend")

# Rows are built and written this many at a time. Fixed, because the random
# stream is consumed per chunk: changing it changes the output for a seed.
CHUNK_ROWS = 50_000

# How far back dates go ("within ~2 years" of today).
MAX_DAYS_AGO = 730

# Person ids: research row i is person i, so other files can point at research
# people by id. Events and enquiries get their own, far-apart id ranges.
_EVENT_PERSON_BASE = 1 << 40
_ENQUIRY_PERSON_BASE = 2 << 40

# Share of `rows` for each kind in generate_inbox (enquiries get the rest).
_INBOX_SHARES = {"research": 0.60, "events": 0.25}


# --------------------------------------------------------------------------
# Countries: the spellings people type, and their phone numbering
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _PhonePlan:
    """One kind of number in a country: `prefix` then random digits up to `digits`.

    Templates are national, international and a local idiom; each '#' takes the
    next digit of the national significant number.
    """

    prefix: str
    digits: int
    templates: tuple[str, str, str]


@dataclass(frozen=True)
class _Country:
    code: str
    faker_locale: str
    weight: float
    tld: str
    spellings: tuple[tuple[str, float], ...]
    phone_plans: tuple[_PhonePlan, ...]


def _plans(prefixes: tuple[str, ...], digits: int, templates: tuple[str, str, str]) -> tuple[_PhonePlan, ...]:
    return tuple(_PhonePlan(p, digits, templates) for p in prefixes)


_GB_LONDON = ("0## #### ####", "+44 ## #### ####", "+44 (0)## #### ####")
_GB_CITY = ("0### ### ####", "+44 ### ### ####", "(0###) ### ####")
_GB_MOBILE = ("0#### ######", "+44 #### ######", "+44##########")

COUNTRIES: tuple[_Country, ...] = (
    _Country(
        code="GB",
        faker_locale="en_GB",
        weight=0.35,
        tld="co.uk",
        spellings=(
            ("United Kingdom", 0.45),
            ("UK", 0.25),
            ("England", 0.10),
            ("Great Britain", 0.08),
            ("GB", 0.07),
            ("U.K.", 0.05),
        ),
        phone_plans=_plans(("207", "203"), 10, _GB_LONDON)
        + _plans(("1614", "1214", "1134", "1314"), 10, _GB_CITY)
        + _plans(("79", "75"), 10, _GB_MOBILE),
    ),
    _Country(
        code="US",
        faker_locale="en_US",
        weight=0.25,
        tld="com",
        spellings=(
            ("United States", 0.45),
            ("USA", 0.28),
            ("U.S.A.", 0.07),
            ("US", 0.12),
            ("United States of America", 0.08),
        ),
        phone_plans=_plans(
            ("2125", "4153", "3127", "6172", "2066", "5124", "3034", "4048", "6467"),
            10,
            ("(###) ###-####", "+1 ### ### ####", "###-###-####"),
        ),
    ),
    _Country(
        code="DE",
        faker_locale="de_DE",
        weight=0.10,
        tld="de",
        spellings=(("Germany", 0.60), ("Deutschland", 0.25), ("DE", 0.15)),
        phone_plans=_plans(("301",), 8, ("0## ######", "+49 ## ######", "0##/######"))
        + _plans(("302", "892", "404", "693"), 10, ("0## ########", "+49 ## ########", "(0##) ########"))
        + _plans(("151", "176"), 11, ("0### ########", "+49 ### ########", "0###-########")),
    ),
    _Country(
        code="FR",
        faker_locale="fr_FR",
        weight=0.07,
        tld="fr",
        spellings=(("France", 0.90), ("FR", 0.10)),
        phone_plans=_plans(("1", "42", "61", "62"), 9, ("0# ## ## ## ##", "+33 # ## ## ## ##", "0#########")),
    ),
    _Country(
        code="NL",
        faker_locale="nl_NL",
        weight=0.06,
        tld="nl",
        spellings=(
            ("Netherlands", 0.50),
            ("Nederland", 0.20),
            ("The Netherlands", 0.15),
            ("NL", 0.10),
            ("Holland", 0.05),
        ),
        phone_plans=_plans(("20", "10"), 9, ("0## ### ####", "+31 ## ### ####", "0##-#######"))
        + _plans(("61", "65"), 9, ("0# ## ## ## ##", "+31 # ########", "0#-########")),
    ),
    _Country(
        code="IE",
        faker_locale="en_IE",
        weight=0.05,
        tld="ie",
        spellings=(("Ireland", 0.85), ("IE", 0.10), ("Republic of Ireland", 0.05)),
        phone_plans=_plans(("1",), 8, ("0# ### ####", "+353 # ### ####", "(0#) ### ####"))
        + _plans(("87", "86"), 9, ("0## ### ####", "+353 ## ### ####", "0#########")),
    ),
    _Country(
        code="ES",
        faker_locale="es_ES",
        weight=0.05,
        tld="es",
        spellings=(("Spain", 0.60), ("España", 0.30), ("ES", 0.10)),
        phone_plans=_plans(("91", "93", "6"), 9, ("### ### ###", "+34 ### ### ###", "+34 ## ### ## ##")),
    ),
    _Country(
        code="PL",
        faker_locale="pl_PL",
        weight=0.04,
        tld="pl",
        spellings=(("Poland", 0.70), ("Polska", 0.20), ("PL", 0.10)),
        phone_plans=_plans(("22",), 9, ("## ### ## ##", "+48 ## ### ## ##", "(##) ### ## ##"))
        + _plans(("60", "50"), 9, ("### ### ###", "+48 ### ### ###", "#########")),
    ),
    _Country(
        code="JP",
        faker_locale="ja_JP",
        weight=0.03,
        tld="co.jp",
        spellings=(("Japan", 0.85), ("JP", 0.10), ("日本", 0.05)),
        phone_plans=_plans(("3", "6"), 9, ("0#-####-####", "+81 #-####-####", "0# #### ####"))
        + _plans(("80",), 10, ("0##-####-####", "+81 ##-####-####", "0##########")),
    ),
)
_COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)
_PHONE_STYLE_WEIGHTS = (0.55, 0.35, 0.10)  # national, international, local idiom

# Countries nobody can resolve, typed now and then.
_UNRESOLVABLE_COUNTRIES = ("Narnia", "Atlantis", "Europe", "Mars")

_PERSONAL_DOMAINS = (("gmail.com", 0.50), ("outlook.com", 0.20), ("hotmail.com", 0.15), ("yahoo.com", 0.15))
_ROLE_LOCAL_PARTS = ("info", "sales", "contact", "hello", "office")
_DISPOSABLE_DOMAIN = "mailinator.com"
_PLUS_TAGS = ("news", "crm", "events", "work", "2024", "linkedin")

# How a company spells its staff's addresses (one shape per company), and the
# shapes people pick for a personal mailbox (always with a number on the end).
_EMAIL_PATTERNS = ("first.last", "flast", "f.last", "first_last", "firstl")
_EMAIL_PATTERN_WEIGHTS = (0.60, 0.15, 0.12, 0.05, 0.08)
_PERSONAL_PATTERNS = ("first.last", "firstlast", "f.last")

_MAILBOX_COMPANY, _MAILBOX_PERSONAL, _MAILBOX_ROLE, _MAILBOX_DISPOSABLE = range(4)
_MAILBOX_WEIGHTS = (0.885, 0.10, 0.01, 0.005)

_INVALID_PHONES = ("12345", "0000", "+44 123", "n/a", "ask reception", "555-CALL-NOW")

# Names that must survive the round trip; added to the pools so they turn up.
_UNICODE_FIRST_NAMES = {"en_GB": ("Zoë", "Siobhán"), "es_ES": ("José",), "pl_PL": ("Łukasz",), "de_DE": ("Jürgen",)}
_UNICODE_LAST_NAMES = {"de_DE": ("Müller",), "es_ES": ("Muñoz",), "fr_FR": ("Lefèvre",), "en_IE": ("Ó Briain",)}

_JOB_FUNCTIONS = (
    "Marketing",
    "Sales",
    "Finance",
    "Operations",
    "IT",
    "Procurement",
    "Human Resources",
    "Engineering",
    "Data",
    "Customer Success",
    "Product",
    "Legal",
    "Compliance",
    "Security",
)
_JOB_LEVELS = (
    "Head of {}",
    "{} Director",
    "{} Manager",
    "Senior {} Manager",
    "VP {}",
    "{} Lead",
    "{} Analyst",
    "{} Coordinator",
)
_EXECUTIVE_TITLES = ("CEO", "CTO", "CFO", "COO", "CMO", "CIO", "Founder", "Managing Director", "Owner")

# Titles of pupils under 16 (a sixth former is 16-18, over the policy's line, so not one of them).
_PUPIL_TITLES = ("Year 10 pupil", "Year 9 student", "GCSE student")

_NOTES = (
    # Special-category remarks that must never settle in the CRM (redacted at ingest).
    "Mentioned she is pregnant, follow up in spring",
    "Off sick with depression, call later",
    "Met at stand 14",
    "Asked for pricing",
    "Call back in Q3",
    "Prefers phone, not email",
    'Said "send the deck"',
    "Interested in API access",
    "Left company?",
    "Spoke to PA",
    "Follow up after budget sign-off,\nthen book a demo",
    "Très intéressé",
    "Gatekeeper – try again",
)

_EVENT_TOPICS = (
    "FinTech",
    "Data & AI",
    "Cloud",
    "Cyber Security",
    "Retail Tech",
    "MarTech",
    "Supply Chain",
    "HR Tech",
    "InsurTech",
    "Green Energy",
)
_EVENT_FORMATS = ("Summit", "Expo", "Forum", "Roundtable", "Breakfast Briefing", "Conference", "Meetup")
_EVENT_CITIES = (
    "London",
    "Manchester",
    "Edinburgh",
    "Dublin",
    "Berlin",
    "Munich",
    "Amsterdam",
    "Paris",
    "Madrid",
    "Warsaw",
    "New York",
    "Austin",
    "Tokyo",
)
_EVENT_POOL_SIZE = 60

# Legal-form and filler words left out when a company name becomes a domain.
_COMPANY_STOPWORDS = frozenset(
    "and und et y e of the group llc ltd limited plc inc gmbh ag kg kgaa co ohg gbr stiftung mbh ug eg "
    "sa sarl sas fils cie bv nv vof sl sll slu scoop sp z o oo sc spk ska s a l asociados partners le la "
    "les de du des van der den het koninklijke stichting groupe grupo banco hermanos".split()
)
# Letters NFKD does not take apart into ASCII plus accents.
_ASCII_FOLD = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
    }
)
_JAPANESE_INDUSTRIES = (("電気", "denki"), ("商事", "shoji"), ("情報", "joho"), ("工業", "kogyo"), ("物産", "bussan"))


# --------------------------------------------------------------------------
# Pools built once per seed with Faker
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slice:
    """Where one country's entries sit in a pool concatenated across countries."""

    offset: np.ndarray
    count: np.ndarray

    def pick(self, country: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.offset[country] + (u * self.count[country]).astype(np.int64)


@dataclass(frozen=True)
class _Pools:
    first_names: np.ndarray  # display form (object array of str)
    first_slugs: np.ndarray  # ASCII form used in addresses
    first_by_country: _Slice
    last_names: np.ndarray
    last_slugs: np.ndarray
    last_by_country: _Slice
    companies: np.ndarray
    company_domains: np.ndarray
    company_email_patterns: np.ndarray  # index into _EMAIL_PATTERNS, one per company
    companies_by_country: _Slice
    job_titles: np.ndarray
    b2b_title_count: int  # the first titles are plain B2B ones, the rest Faker's odd jobs
    event_names: tuple[str, ...]
    event_days_ago: tuple[int, ...]


def _ascii_slug(text: str, keep: str = "-") -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    ascii_text = folded.encode("ascii", "ignore").decode().lower()
    return re.sub(rf"[^a-z0-9{re.escape(keep)}]", "", ascii_text).strip(keep)


def _unique(values) -> list:
    """Drop repeats, keeping first-seen order (so the pool is deterministic)."""
    return list(dict.fromkeys(values))


def _name_pool(fake: Faker, country: _Country, which: str, draws: int) -> list[tuple[str, str]]:
    """(display, ascii slug) pairs; Japanese names carry their romanisation."""
    if country.faker_locale == "ja_JP":
        pair = fake.first_name_pair if which == "first" else fake.last_name_pair
        return _unique((kanji, roman.lower()) for kanji, _kana, roman in (pair() for _ in range(draws)))
    extras = (_UNICODE_FIRST_NAMES if which == "first" else _UNICODE_LAST_NAMES).get(country.faker_locale, ())
    draw = fake.first_name if which == "first" else fake.last_name
    names = _unique([*extras, *(draw() for _ in range(draws))])
    return [(name, _ascii_slug(name) or "x") for name in names]


def _company_pool(fake: Faker, country: _Country, draws: int, used_domains: set[str]) -> list[tuple[str, str]]:
    """(company name, web domain) pairs with domains unique across all countries."""
    if country.faker_locale == "ja_JP":
        names = []
        for _ in range(draws):
            kanji, _kana, roman = fake.last_name_pair()
            industry, industry_roman = _JAPANESE_INDUSTRIES[fake.random_int(0, len(_JAPANESE_INDUSTRIES) - 1)]
            names.append((f"株式会社{kanji}{industry}", (f"{roman.lower()}-{industry_roman}",)))
    else:
        names = [(name, _company_domain_stems(name, i)) for i, name in enumerate(fake.company() for _ in range(draws))]
    pool = []
    for name, stems in _unique(names):
        pool.append((name, _free_domain(stems, country.tld, used_domains)))
    return pool


def _company_domain_stems(company: str, index: int) -> tuple[str, ...]:
    """Domain names the company might have registered, most likely first."""
    all_words = _ascii_slug(company, keep=" ").split()
    words = [w for w in all_words if w not in _COMPANY_STOPWORDS]
    if not words:
        return (f"company{index}",)
    # When the plain name is taken, firms fall back on their legal form ("hughes-ltd").
    fallbacks = ("-".join(all_words[:2]), "".join(all_words[:2]), f"{words[0]}group")
    if len(words) == 1:
        return (words[0], *fallbacks)
    two_words = ("-".join(words[:2]), "".join(words[:2]))
    # Some firms use one word, some two: alternate so both shapes appear.
    preferred = (*two_words, words[0]) if index % 3 == 0 else (words[0], *two_words)
    return (*preferred, *fallbacks)


def _free_domain(stems: tuple[str, ...], tld: str, used_domains: set[str]) -> str:
    """The first of `stems` not taken by another company, else the first with a number."""
    candidates = [f"{stem}.{tld}" for stem in stems]
    n = 2
    while all(c in used_domains for c in candidates):
        candidates, n = [f"{stems[0]}{n}.{tld}"], n + 1
    domain = next(c for c in candidates if c not in used_domains)
    used_domains.add(domain)
    return domain


def _job_titles(fake: Faker) -> tuple[list[str], int]:
    b2b = [level.format(f) for f in _JOB_FUNCTIONS for level in _JOB_LEVELS] + list(_EXECUTIVE_TITLES)
    odd_jobs = [j for j in _unique(fake.job() for _ in range(300)) if j not in b2b]
    # Research scraping brings in the odd pupil: something for the minor rules to find.
    return b2b + odd_jobs + list(_PUPIL_TITLES), len(b2b)


def _event_pool(fake: Faker, today: date) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Distinct event names, each with the date it took place (days before today)."""
    events: dict[str, int] = {}
    while len(events) < _EVENT_POOL_SIZE:
        days_ago = fake.random_int(3, MAX_DAYS_AGO)
        year = (today - timedelta(days=days_ago)).year
        topic = fake.random_element(_EVENT_TOPICS)
        if fake.random_int(0, 4) == 0:
            name = f"Webinar: {topic} in {year}"
        else:
            name = f"{fake.random_element(_EVENT_CITIES)} {topic} {fake.random_element(_EVENT_FORMATS)} {year}"
        events.setdefault(name, days_ago)
    return tuple(events), tuple(events.values())


def _concat(groups: list[list[tuple[str, ...]]]) -> tuple[list[tuple[str, ...]], _Slice]:
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return [row for g in groups for row in g], _Slice(offsets, counts)


def _column(rows: list[tuple], i: int) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = [r[i] for r in rows]
    return out


@lru_cache(maxsize=4)
def _build_pools(seed: int, today: date) -> _Pools:
    firsts, lasts, companies = [], [], []
    used_domains: set[str] = set()
    for i, country in enumerate(COUNTRIES):
        fake = Faker(country.faker_locale)
        fake.seed_instance(seed * 101 + i)
        firsts.append(_name_pool(fake, country, "first", 1500))
        lasts.append(_name_pool(fake, country, "last", 1500))
        companies.append(_company_pool(fake, country, 700, used_domains))
    first_rows, first_slice = _concat(firsts)
    last_rows, last_slice = _concat(lasts)
    company_rows, company_slice = _concat(companies)

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    titles, b2b_count = _job_titles(fake)
    event_names, event_days = _event_pool(fake, today)
    pattern_rng = np.random.default_rng([seed, 99])
    patterns = pattern_rng.choice(len(_EMAIL_PATTERNS), size=len(company_rows), p=_EMAIL_PATTERN_WEIGHTS)
    return _Pools(
        first_names=_column(first_rows, 0),
        first_slugs=_column(first_rows, 1),
        first_by_country=first_slice,
        last_names=_column(last_rows, 0),
        last_slugs=_column(last_rows, 1),
        last_by_country=last_slice,
        companies=_column(company_rows, 0),
        company_domains=_column(company_rows, 1),
        company_email_patterns=patterns,
        companies_by_country=company_slice,
        job_titles=np.array(titles, dtype=object),
        b2b_title_count=b2b_count,
        event_names=event_names,
        event_days_ago=event_days,
    )


# --------------------------------------------------------------------------
# People: everything about a person is a function of (seed, person id)
# --------------------------------------------------------------------------

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a cheap, well-spread hash of uint64 arrays."""
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


class _PersonDraws:
    """Random numbers per person that depend only on seed, person id and field.

    Counter-based rather than a stream, so the same person comes out the same
    wherever and whenever they are generated.
    """

    def __init__(self, seed: int, person_ids: np.ndarray) -> None:
        seed_key = _U64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64))
        self._base = _mix64(person_ids.astype(np.uint64) * _GOLDEN + seed_key)

    def uniform(self, field: int) -> np.ndarray:
        h = _mix64(self._base + _U64(field * 0x9E3779B97F4A7C15 % (1 << 64)))
        return (h >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def integers(self, field: int, high: int) -> np.ndarray:
        return (self.uniform(field) * high).astype(np.int64)

    def choice(self, field: int, weights) -> np.ndarray:
        cumulative = np.cumsum(weights) / np.sum(weights)
        return np.minimum(np.searchsorted(cumulative, self.uniform(field), side="right"), len(cumulative) - 1)


# Field numbers for _PersonDraws: one per independent attribute.
(
    _F_COUNTRY,
    _F_COMPANY,
    _F_FOREIGN_NAME,
    _F_NAME_COUNTRY,
    _F_FIRST,
    _F_LAST,
    _F_MAILBOX,
    _F_PERSONAL_DOMAIN,
    _F_PERSONAL_SHAPE,
    _F_NUMBER,
    _F_DISAMBIGUATE,
    _F_ROLE,
    _F_TITLE_KIND,
    _F_TITLE,
    _F_NEW_TITLE,
    _F_PHONE_PLAN,
    _F_PHONE_DIGITS,
    _F_HAS_PHONE,
    _F_AGE_KNOWN,
    _F_MINOR,
    _F_AGE,
    _F_BIRTHDAY,
    _F_FIRST_SEEN,
    _F_PROFILE,
) = range(24)


@dataclass(frozen=True)
class _People:
    """Clean attributes of a batch of people, one array entry per row."""

    country: np.ndarray  # index into COUNTRIES
    first_name: np.ndarray
    last_name: np.ndarray
    first_slug: np.ndarray
    last_slug: np.ndarray
    company: np.ndarray
    company_domain: np.ndarray
    email_local: np.ndarray
    email_domain: np.ndarray
    job_title: np.ndarray
    newer_job_title: np.ndarray  # what a later copy of this person says
    phone_plan: np.ndarray  # index into _PHONE_PLANS
    phone_digits: np.ndarray  # national significant number after the plan prefix
    has_phone: np.ndarray
    age_known: np.ndarray
    date_of_birth: np.ndarray  # days before today; meaningful where age_known
    first_seen_days_ago: np.ndarray
    profile_id: np.ndarray  # stable number for profile URLs and register numbers


# Every country's phone plans in one tuple; a person's plan is an index into it.
_PHONE_PLANS: tuple[_PhonePlan, ...] = tuple(plan for c in COUNTRIES for plan in c.phone_plans)
_PHONE_PLAN_OFFSETS = np.cumsum([0] + [len(c.phone_plans) for c in COUNTRIES])[:-1]
_PHONE_PLAN_COUNTS = np.array([len(c.phone_plans) for c in COUNTRIES])
# Templates as str.format patterns: "0## ####" -> "0{}{} {}{}{}{}", filled with *digits.
_PHONE_FORMATS = tuple(tuple(t.replace("{", "{{").replace("#", "{}") for t in plan.templates) for plan in _PHONE_PLANS)


def _make_people(person_ids: np.ndarray, pools: _Pools, seed: int) -> _People:
    draws = _PersonDraws(seed, person_ids)
    country = draws.choice(_F_COUNTRY, _COUNTRY_WEIGHTS)
    # Most people carry a name from their company's country; some do not (José in London).
    foreign = draws.uniform(_F_FOREIGN_NAME) < 0.15
    name_country = np.where(foreign, draws.integers(_F_NAME_COUNTRY, len(COUNTRIES)), country)
    first = pools.first_by_country.pick(name_country, draws.uniform(_F_FIRST))
    last = pools.last_by_country.pick(name_country, draws.uniform(_F_LAST))
    company = pools.companies_by_country.pick(country, draws.uniform(_F_COMPANY))
    first_slug, last_slug = pools.first_slugs[first], pools.last_slugs[last]

    local, domain = _email_addresses(draws, first_slug, last_slug, company, pools)
    job_title, newer_job_title = _job_title_pair(draws, pools)
    plan = _PHONE_PLAN_OFFSETS[country] + (draws.uniform(_F_PHONE_PLAN) * _PHONE_PLAN_COUNTS[country]).astype(np.int64)
    age_known, date_of_birth = _birth_dates(draws)
    return _People(
        country=country,
        first_name=pools.first_names[first],
        last_name=pools.last_names[last],
        first_slug=first_slug,
        last_slug=last_slug,
        company=pools.companies[company],
        company_domain=pools.company_domains[company],
        email_local=local,
        email_domain=domain,
        job_title=job_title,
        newer_job_title=newer_job_title,
        phone_plan=plan,
        phone_digits=draws.integers(_F_PHONE_DIGITS, 10**11),
        has_phone=draws.uniform(_F_HAS_PHONE) < 0.75,
        age_known=age_known,
        date_of_birth=date_of_birth,
        first_seen_days_ago=30 + draws.integers(_F_FIRST_SEEN, MAX_DAYS_AGO - 30),
        profile_id=draws.integers(_F_PROFILE, 1 << 40),
    )


def _email_addresses(
    draws: _PersonDraws, first: np.ndarray, last: np.ndarray, company: np.ndarray, pools: _Pools
) -> tuple[np.ndarray, np.ndarray]:
    """Clean (local part, domain) per person: work address mostly, sometimes personal, role or throwaway."""
    n = len(first)
    number = (1 + draws.integers(_F_NUMBER, 98)).astype(str).astype(object)
    local = np.empty(n, dtype=object)
    pattern = pools.company_email_patterns[company]
    for i, shape in enumerate(_EMAIL_PATTERNS):
        rows = np.flatnonzero(pattern == i)
        local[rows] = _local_part(shape, first[rows], last[rows])
    # Colleagues with the same name get a number, as a real mail admin would do.
    numbered = draws.uniform(_F_DISAMBIGUATE) < 0.02
    local[numbered] = local[numbered] + number[numbered]
    domain = pools.company_domains[company].copy()

    mailbox = draws.choice(_F_MAILBOX, _MAILBOX_WEIGHTS)
    personal = np.flatnonzero(mailbox == _MAILBOX_PERSONAL)
    personal_domains = np.array([d for d, _ in _PERSONAL_DOMAINS], dtype=object)
    domain[personal] = personal_domains[draws.choice(_F_PERSONAL_DOMAIN, [w for _, w in _PERSONAL_DOMAINS])[personal]]
    personal_shape = draws.integers(_F_PERSONAL_SHAPE, len(_PERSONAL_PATTERNS))[personal]
    for i, shape in enumerate(_PERSONAL_PATTERNS):
        rows = personal[personal_shape == i]
        local[rows] = _local_part(shape, first[rows], last[rows]) + number[rows]

    role = mailbox == _MAILBOX_ROLE
    local[role] = np.array(_ROLE_LOCAL_PARTS, dtype=object)[draws.integers(_F_ROLE, len(_ROLE_LOCAL_PARTS))[role]]
    disposable = mailbox == _MAILBOX_DISPOSABLE
    local[disposable] = (first[disposable] + last[disposable]) + number[disposable]
    domain[disposable] = _DISPOSABLE_DOMAIN
    return local, domain


def _local_part(shape: str, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Local parts of one shape ("first.last", "flast", ...) from ASCII name slugs."""
    if shape == "first.last":
        return first + "." + last
    if shape == "first_last":
        return first + "_" + last
    if shape == "firstlast":
        return first + last
    initial = _objects(s[:1] for s in first)
    if shape == "flast":
        return initial + last
    if shape == "f.last":
        return initial + "." + last
    if shape == "firstl":
        return first + _objects(s[:1] for s in last)
    raise ValueError(f"unknown address shape {shape!r}")


def _job_title_pair(draws: _PersonDraws, pools: _Pools) -> tuple[np.ndarray, np.ndarray]:
    """A title and the different one a later record of the same person shows."""
    plain = draws.uniform(_F_TITLE_KIND) < 0.8
    b2b, odd = pools.b2b_title_count, len(pools.job_titles) - pools.b2b_title_count
    title = np.where(plain, draws.integers(_F_TITLE, b2b), b2b + draws.integers(_F_TITLE, odd))
    newer = (title + 1 + draws.integers(_F_NEW_TITLE, len(pools.job_titles) - 1)) % len(pools.job_titles)
    return pools.job_titles[title], pools.job_titles[newer]


def _birth_dates(draws: _PersonDraws) -> tuple[np.ndarray, np.ndarray]:
    """Whether we know a person's age, and their birth date as days before today.

    About 3% tell us; one in eight of those is 13-15, so the under-16 rule has
    something to catch.
    """
    age_known = draws.uniform(_F_AGE_KNOWN) < 0.03
    minor = draws.uniform(_F_MINOR) < 0.125
    years = np.where(minor, 13 + draws.integers(_F_AGE, 3), 18 + draws.integers(_F_AGE, 53))
    # Whole years plus 1-360 days, so the age on `today` is `years` (to within a leap
    # day; the age column itself is computed from the date, so the two always agree).
    days = (years * 365.25).astype(np.int64) + 1 + draws.integers(_F_BIRTHDAY, 360)
    return age_known, days


# --------------------------------------------------------------------------
# Rendering: turning clean people into the strings a messy drop contains
# --------------------------------------------------------------------------


def _objects(values) -> np.ndarray:
    """A 1-d object array of str (np.array would make a fixed-width str array)."""
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _apply(values: np.ndarray, mask: np.ndarray, change: Callable[[str], str]) -> None:
    """Rewrite values[mask] in place with a per-string function (masks are small)."""
    if mask.any():
        values[mask] = [change(v) for v in values[mask]]


def _weighted(rng: np.random.Generator, options: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    values = np.array([v for v, _ in options], dtype=object)
    weights = np.array([w for _, w in options])
    return values[rng.choice(len(values), size=size, p=weights / weights.sum())]


def _pad(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Leading/trailing spaces (and the odd non-breaking space from a copy-paste) on non-empty values."""
    out = values.copy()
    mask = (rng.random(len(values)) < rate) & (out != "")
    shapes = rng.integers(0, 4, size=int(mask.sum()))
    if mask.any():
        out[mask] = [
            (" " + v, v + " ", "  " + v + " ", v + "\u00a0")[s] for v, s in zip(out[mask], shapes, strict=True)
        ]
    return out


def _recase(rng: np.random.Generator, values: np.ndarray, rate: float | np.ndarray) -> np.ndarray:
    out = values.copy()
    mask = rng.random(len(values)) < rate
    shapes = rng.integers(0, 3, size=int(mask.sum()))
    if mask.any():
        out[mask] = [(v.upper(), v.lower(), v.title())[s] for v, s in zip(out[mask], shapes, strict=True)]
    return out


def _noisy(rng: np.random.Generator, values: np.ndarray, case_rate: float = 0.02, pad_rate: float = 0.03) -> np.ndarray:
    return _pad(rng, _recase(rng, values, case_rate), pad_rate)


def _redotted(rng: np.random.Generator, local: str) -> str:
    """Gmail ignores dots, so people write them anywhere (or nowhere); a +tag stays put."""
    name, plus, tag = local.partition("+")
    bare = name.replace(".", "")
    cut = int(rng.integers(0, len(bare)))
    return (bare if cut == 0 else bare[:cut] + "." + bare[cut:]) + plus + tag


def _render_emails(rng: np.random.Generator, people: _People, is_duplicate: np.ndarray) -> np.ndarray:
    """Addresses as typed: repeat visitors vary the mailbox, some rows are broken or empty."""
    n = len(is_duplicate)
    local, domain = people.email_local.copy(), people.email_domain.copy()

    # A returning person's address differs the ways one mailbox can be written.
    tagged = is_duplicate & (rng.random(n) < 0.25)
    tags = np.array(_PLUS_TAGS, dtype=object)[rng.integers(0, len(_PLUS_TAGS), size=n)]
    local[tagged] = local[tagged] + "+" + tags[tagged]
    gmail = is_duplicate & (domain == "gmail.com")
    redotted = gmail & (rng.random(n) < 0.6)
    _apply(local, redotted, lambda v: _redotted(rng, v))
    domain[gmail & (rng.random(n) < 0.4)] = "googlemail.com"
    emails = local + "@" + domain
    emails = _recase(rng, emails, np.where(is_duplicate, 0.3, 0.015))
    broken = rng.random(n) < 0.015
    kinds = rng.integers(0, 4, size=n)
    _apply(emails, broken & (kinds == 0), lambda v: v.replace("@", "", 1))
    _apply(emails, broken & (kinds == 1), lambda v: v.replace("@", "@@", 1))
    _apply(emails, broken & (kinds == 2), lambda v: v.replace("@", " @", 1))
    _apply(emails, broken & (kinds == 3), lambda v: v + ".")
    return _pad(rng, emails, 0.03)


def _render_phones(rng: np.random.Generator, people: _People, shown: np.ndarray) -> np.ndarray:
    """National or international formats as people write them for their country; a few junk values."""
    n = len(shown)
    style = rng.choice(3, size=n, p=_PHONE_STYLE_WEIGHTS)
    out = np.full(n, "", dtype=object)
    rows = np.flatnonzero(shown)
    out[rows] = [
        _format_phone(int(p), int(d), int(s))
        for p, d, s in zip(people.phone_plan[rows], people.phone_digits[rows], style[rows], strict=True)
    ]
    junk = shown & (rng.random(n) < 0.01)
    out[junk] = np.array(_INVALID_PHONES, dtype=object)[rng.integers(0, len(_INVALID_PHONES), size=int(junk.sum()))]
    return _pad(rng, out, 0.02)


def _format_phone(plan: int, digits: int, style: int) -> str:
    spec = _PHONE_PLANS[plan]
    rest = spec.digits - len(spec.prefix)
    number = spec.prefix + str(digits % 10**rest).zfill(rest)
    return _PHONE_FORMATS[plan][style].format(*number)


def _render_countries(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Free text: each country in its usual spellings, sometimes blank or unresolvable."""
    n = len(country)
    out = np.empty(n, dtype=object)
    for i, spec in enumerate(COUNTRIES):
        mask = country == i
        out[mask] = _weighted(rng, spec.spellings, int(mask.sum()))
    roll = rng.random(n)
    out[roll < 0.015] = ""
    nowhere = (roll >= 0.015) & (roll < 0.02)
    out[nowhere] = np.array(_UNRESOLVABLE_COUNTRIES, dtype=object)[
        rng.integers(0, len(_UNRESOLVABLE_COUNTRIES), size=int(nowhere.sum()))
    ]
    return _noisy(rng, out, case_rate=0.03, pad_rate=0.03)


@lru_cache(maxsize=4)
def _calendar(today: date) -> tuple[np.ndarray, np.ndarray]:
    """ISO dates indexed by days before today, and times of day indexed by second."""
    dates = _objects((today - timedelta(days=d)).isoformat() for d in range(MAX_DAYS_AGO + 1))
    times = _objects(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
    return dates, times


def _bad_dates(today: date) -> tuple[str, ...]:
    return (f"31/02/{today.year}", "yesterday", f"{today.year - 1}-13-01", f"03/04/{today.year - 1}", "TBC")


def _render_datetimes(
    rng: np.random.Generator, days_ago: np.ndarray, today: date, timestamp_share: float, bad_rate: float = 0.01
) -> np.ndarray:
    """ISO 8601 dates or timestamps, all before today, with a few unparseable ones.

    Offsets are only ever ahead of UTC, so a late-evening time on the day before
    `today` never lands on or after `today` once converted.
    """
    n = len(days_ago)
    dates, times = _calendar(today)
    out = dates[np.clip(days_ago, 1, MAX_DAYS_AGO)]
    clock = times[rng.integers(7 * 3600, 20 * 3600, size=n)]
    roll = rng.random(n)
    utc = roll < timestamp_share * 0.75
    local = (roll >= timestamp_share * 0.75) & (roll < timestamp_share)
    out[utc] = out[utc] + "T" + clock[utc] + "Z"
    offsets = np.array(["+01:00", "+02:00"], dtype=object)[rng.integers(0, 2, size=n)]
    out[local] = out[local] + "T" + clock[local] + offsets[local]
    bad = rng.random(n) < bad_rate
    bad_values = np.array(_bad_dates(today), dtype=object)
    out[bad] = bad_values[rng.integers(0, len(bad_values), size=int(bad.sum()))]
    return out


def _render_age(rng: np.random.Generator, people: _People, today: date) -> tuple[np.ndarray, np.ndarray]:
    """date_of_birth and age columns: both, either or neither, for the few who said."""
    n = len(people.age_known)
    dob, age = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    shape = rng.choice(3, size=n, p=(0.45, 0.25, 0.30))  # dob only, age only, both
    for row in np.flatnonzero(people.age_known):
        born = today - timedelta(days=int(people.date_of_birth[row]))
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if shape[row] != 1:
            dob[row] = born.isoformat()
        if shape[row] != 0:
            age[row] = str(years)
    return dob, age


def _render_notes(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    mask = rng.random(n) < 0.05
    out[mask] = np.array(_NOTES, dtype=object)[rng.integers(0, len(_NOTES), size=int(mask.sum()))]
    return out


_CONSENT_YES = (
    ("yes", 0.40),
    ("Yes", 0.20),
    ("YES", 0.05),
    ("true", 0.10),
    ("True", 0.05),
    ("1", 0.12),
    ("Y", 0.05),
    ("y", 0.03),
)
_CONSENT_NO = (
    ("no", 0.40),
    ("No", 0.20),
    ("NO", 0.05),
    ("false", 0.10),
    ("False", 0.05),
    ("0", 0.12),
    ("N", 0.05),
    ("n", 0.03),
)


def _render_consent(rng: np.random.Generator, yes_rate: np.ndarray, no_rate: np.ndarray) -> np.ndarray:
    """marketing_consent in its many spellings; per-row rates, the rest left empty."""
    n = len(yes_rate)
    roll = rng.random(n)
    out = np.full(n, "", dtype=object)
    yes, no = roll < yes_rate, (roll >= yes_rate) & (roll < yes_rate + no_rate)
    out[yes] = _weighted(rng, _CONSENT_YES, int(yes.sum()))
    out[no] = _weighted(rng, _CONSENT_NO, int(no.sum()))
    return _pad(rng, out, 0.02)


def _person_columns(
    rng: np.random.Generator, people: _People, is_duplicate: np.ndarray, force_phone: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The columns every kind shares, rendered with row-level variation and dirt."""
    n = len(is_duplicate)
    email = _render_emails(rng, people, is_duplicate)
    no_email = rng.random(n) < 0.02
    if force_phone is not None:
        no_email |= force_phone
    email[no_email] = ""
    # Someone reached without an email was reached by phone: keep the phone then.
    shown = (people.has_phone & ~(is_duplicate & (rng.random(n) < 0.3))) | no_email
    changed_job = is_duplicate & (rng.random(n) < 0.3)
    return {
        "first_name": _noisy(rng, people.first_name),
        "last_name": _noisy(rng, people.last_name),
        "email": email,
        "phone": _render_phones(rng, people, shown),
        "company": _pad(rng, people.company, 0.02),
        "job_title": _pad(rng, np.where(changed_job, people.newer_job_title, people.job_title), 0.02),
        "country": _render_countries(rng, people.country),
        "notes": _render_notes(rng, n),
    }


# --------------------------------------------------------------------------
# Which person each row is
# --------------------------------------------------------------------------


def _row_people(
    rng: np.random.Generator,
    start: int,
    stop: int,
    base: int,
    repeat_rate: float,
    borrowed: tuple[tuple[int, int, float], ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Person id per row, and whether the row repeats someone seen before.

    Row i is a new person (base + i) unless it repeats an earlier row of this
    file (rate `repeat_rate`) or, for each (other_base, span, rate) in
    `borrowed`, someone from another kind's first `span` ids: the same person
    reaching us through another source.
    """
    rows = np.arange(start, stop, dtype=np.int64)
    ids = base + rows
    roll = rng.random(len(rows))
    repeat = (roll < repeat_rate) & (rows > 0)
    ids[repeat] = base + (rng.random(int(repeat.sum())) * rows[repeat]).astype(np.int64)
    low = repeat_rate
    for other_base, span, rate in borrowed:
        mask = (roll >= low) & (roll < low + rate)
        if span > 0:
            ids[mask] = other_base + rng.integers(0, span, size=int(mask.sum()))
            repeat |= mask
        low += rate
    return ids, repeat


# --------------------------------------------------------------------------
# Chunk builders per kind
# --------------------------------------------------------------------------

_UNKNOWN_SOURCES = ("linkdin", "twitter", "facebook", "trade_show", "purchased_list", "LinkedIn", "Company Website")
_SOURCE_WEIGHTS = (0.40, 0.15, 0.20, 0.10, 0.15)
_UNKNOWN_CHANNELS = ("chat", "webform", "Web Form", "fax", "linkedin_message")
_CHANNEL_WEIGHTS = (0.45, 0.22, 0.12, 0.09, 0.12)


def _research_chunk(
    rng: np.random.Generator, pools: _Pools, seed: int, today: date, start: int, stop: int
) -> dict[str, np.ndarray]:
    ids, repeat = _row_people(rng, start, stop, 0, 0.04)
    people = _make_people(ids, pools, seed)
    n = len(ids)
    columns = _person_columns(rng, people, repeat)
    source = np.array(RESEARCH_SOURCES, dtype=object)[rng.choice(len(RESEARCH_SOURCES), size=n, p=_SOURCE_WEIGHTS)]
    unknown = rng.random(n) < 0.02
    source[unknown] = np.array(_UNKNOWN_SOURCES, dtype=object)[
        rng.integers(0, len(_UNKNOWN_SOURCES), int(unknown.sum()))
    ]
    # A repeat is a later sighting: it is dated after the first one, which is
    # why its job title may be newer.
    first_seen = people.first_seen_days_ago
    days_ago = np.where(repeat, 1 + (rng.random(n) * (first_seen - 1)).astype(np.int64), first_seen)
    collected_at = _render_datetimes(rng, days_ago, today, timestamp_share=0.6)
    collected_at[rng.random(n) < 0.002] = ""
    dob, age = _render_age(rng, people, today)
    columns.update(
        source=source,
        source_url=_source_urls(rng, people, source),
        collected_at=collected_at,
        date_of_birth=dob,
        age=age,
    )
    return columns


def _source_urls(rng: np.random.Generator, people: _People, source: np.ndarray) -> np.ndarray:
    """Where a researcher found the person, shaped like each source's real URLs."""
    n = len(source)
    out = np.full(n, "", dtype=object)
    for name, build in _SOURCE_URL_BUILDERS.items():
        rows = np.flatnonzero(source == name)
        if len(rows):
            out[rows] = build(people, rows)
    out[rng.random(n) < 0.1] = ""  # researchers do not always paste the link
    return out


def _linkedin_url(people: _People, rows: np.ndarray) -> np.ndarray:
    handle = _objects(f"{p:010x}"[:8] for p in people.profile_id[rows])
    return "https://www.linkedin.com/in/" + people.first_slug[rows] + "-" + people.last_slug[rows] + "-" + handle


def _company_website_url(people: _People, rows: np.ndarray) -> np.ndarray:
    return "https://www." + people.company_domain[rows] + "/about/team"


def _search_engine_url(people: _People, rows: np.ndarray) -> np.ndarray:
    return (
        "https://www.google.com/search?q="
        + people.first_slug[rows]
        + "+"
        + people.last_slug[rows]
        + "+"
        + people.company_domain[rows]
    )


def _public_register_url(people: _People, rows: np.ndarray) -> np.ndarray:
    number = _objects(str(p % 10**8).zfill(8) for p in people.profile_id[rows])
    country = np.array([c.code.lower() for c in COUNTRIES], dtype=object)[people.country[rows]]
    return np.where(
        country == "gb",
        "https://find-and-update.company-information.service.gov.uk/company/" + number,
        "https://opencorporates.com/companies/" + country + "/" + number,
    )


def _twitter_url(people: _People, rows: np.ndarray) -> np.ndarray:
    return "https://twitter.com/" + people.first_slug[rows] + people.last_slug[rows]


_SOURCE_URL_BUILDERS = {
    "linkedin": _linkedin_url,
    "company_website": _company_website_url,
    "search_engine": _search_engine_url,
    "public_register": _public_register_url,
    "twitter": _twitter_url,
}


def _event_chunk(
    rng: np.random.Generator, pools: _Pools, seed: int, today: date, start: int, stop: int, total: int, event_count: int
) -> dict[str, np.ndarray]:
    ids, repeat = _row_people(rng, start, stop, _EVENT_PERSON_BASE, 0.025, ((0, total, 0.04),))
    people = _make_people(ids, pools, seed)
    n = len(ids)
    columns = _person_columns(rng, people, repeat)
    event = rng.integers(0, event_count, size=n)
    days_ago = np.array(pools.event_days_ago, dtype=np.int64)[event]
    dob, age = _render_age(rng, people, today)
    columns.update(
        event_name=_pad(rng, np.array(pools.event_names, dtype=object)[event], 0.02),
        event_date=_render_datetimes(rng, days_ago, today, timestamp_share=0.0),
        marketing_consent=_render_consent(rng, np.full(n, 0.5), np.full(n, 0.3)),
        date_of_birth=dob,
        age=age,
    )
    return columns


def _enquiry_chunk(
    rng: np.random.Generator, pools: _Pools, seed: int, today: date, start: int, stop: int, total: int
) -> dict[str, np.ndarray]:
    borrowed = ((0, total, 0.02), (_EVENT_PERSON_BASE, total, 0.02))
    ids, repeat = _row_people(rng, start, stop, _ENQUIRY_PERSON_BASE, 0.03, borrowed)
    people = _make_people(ids, pools, seed)
    n = len(ids)
    channel = np.array(ENQUIRY_CHANNELS, dtype=object)[rng.choice(len(ENQUIRY_CHANNELS), size=n, p=_CHANNEL_WEIGHTS)]
    unknown = rng.random(n) < 0.02
    channel[unknown] = np.array(_UNKNOWN_CHANNELS, dtype=object)[
        rng.integers(0, len(_UNKNOWN_CHANNELS), int(unknown.sum()))
    ]
    by_phone = (channel == "telephone") & (rng.random(n) < 0.2)
    columns = _person_columns(rng, people, repeat, force_phone=by_phone)
    friend = channel == "email_a_friend"
    # A friend never agreed to anything themselves; the referrer's "yes" for them still turns up.
    yes_rate = np.where(friend, 0.10, np.where(channel == "web_form", 0.60, 0.40))
    no_rate = np.where(friend, 0.20, 0.25)
    columns.update(
        received_at=_render_datetimes(rng, 1 + rng.integers(0, MAX_DAYS_AGO, size=n), today, timestamp_share=0.85),
        channel=channel,
        marketing_consent=_render_consent(rng, yes_rate, no_rate),
        referred_by_email=_referrer_emails(rng, pools, seed, friend, total),
    )
    return columns


def _referrer_emails(rng: np.random.Generator, pools: _Pools, seed: int, friend: np.ndarray, total: int) -> np.ndarray:
    """For email_a_friend rows, the address of the person who passed the friend on."""
    out = np.full(len(friend), "", dtype=object)
    rows = np.flatnonzero(friend)
    if len(rows):
        referrers = _make_people(rng.integers(0, max(total, 1), size=len(rows)), pools, seed)
        out[rows] = _recase(rng, referrers.email_local + "@" + referrers.email_domain, 0.05)
    return out


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

_KIND_STREAM = {"research": 1, "events": 2, "enquiries": 3}


def _write_csv(
    path: Path, columns: tuple[str, ...], rows: int, make_chunk: Callable[[int, int], dict[str, np.ndarray]]
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for start in range(0, rows, CHUNK_ROWS):
            chunk = make_chunk(start, min(rows, start + CHUNK_ROWS))
            writer.writerows(zip(*(chunk[c] for c in columns), strict=True))
    return rows


def _as_date(today: date) -> date:
    """Accept a datetime too (Airflow's logical date is one) without leaking its time into ISO dates."""
    return today.date() if isinstance(today, datetime) else today


def write_research_file(path: Path, rows: int, seed: int, today: date) -> int:
    """Write a research drop of `rows` data rows; returns the number written."""
    today = _as_date(today)
    rng = np.random.default_rng([seed, _KIND_STREAM["research"]])
    pools = _build_pools(seed, today)
    return _write_csv(
        Path(path), RESEARCH_COLUMNS, rows, lambda start, stop: _research_chunk(rng, pools, seed, today, start, stop)
    )


def write_event_file(path: Path, rows: int, seed: int, today: date) -> int:
    """Write an event attendee list of `rows` data rows; returns the number written."""
    today = _as_date(today)
    rng = np.random.default_rng([seed, _KIND_STREAM["events"]])
    pools = _build_pools(seed, today)
    # Roughly 150 attendees an event, so a small file still has a few events.
    event_count = int(np.clip(rows // 150, 3, _EVENT_POOL_SIZE))
    return _write_csv(
        Path(path),
        EVENT_COLUMNS,
        rows,
        lambda start, stop: _event_chunk(rng, pools, seed, today, start, stop, rows, event_count),
    )


def write_enquiry_file(path: Path, rows: int, seed: int, today: date) -> int:
    """Write an enquiries drop of `rows` data rows; returns the number written."""
    today = _as_date(today)
    rng = np.random.default_rng([seed, _KIND_STREAM["enquiries"]])
    pools = _build_pools(seed, today)
    return _write_csv(
        Path(path),
        ENQUIRY_COLUMNS,
        rows,
        lambda start, stop: _enquiry_chunk(rng, pools, seed, today, start, stop, rows),
    )


def generate_inbox(data_dir: Path, rows: int, seed: int, today: date) -> dict[str, list[Path]]:
    """Drop one file of each kind into `data_dir/inbox/<kind>/`, `rows` in total.

    Research gets about 60%, events 25%, enquiries the rest. Events and
    enquiries draw some of their people from the research file (fewer rows, so
    the ids they borrow are all in it), so the same person arrives by several
    routes.
    """
    research_rows = round(rows * _INBOX_SHARES["research"])
    event_rows = round(rows * _INBOX_SHARES["events"])
    enquiry_rows = max(rows - research_rows - event_rows, 0)
    inbox = Path(data_dir) / "inbox"
    plan = (
        ("research", write_research_file, research_rows),
        ("events", write_event_file, event_rows),
        ("enquiries", write_enquiry_file, enquiry_rows),
    )
    written: dict[str, list[Path]] = {}
    for kind, write, count in plan:
        path = inbox / kind / f"{kind}_{seed}.csv"
        write(path, count, seed, today)
        written[kind] = [path]
    return written
