"""Row checks and normalisation of one chunk of a prospect drop.

A chunk comes in as all-text cells and leaves as two things: the rows fit for
the CRM, normalised, tagged with source and lawful basis and already in the
form the staging table takes, and the rows that are not, with reason codes.
Pure function of its inputs (no database, no pandas), so it runs in small
worker processes and can be tested alone.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from crm_hygiene.drops.cells import (
    OffCalendar,
    closed_set_value,
    parse_timestamp,
    parse_whole_number,
    wire_timestamp,
    within_dates,
)
from crm_hygiene.drops.quarantine import NO_KEYS, IdentityKeys, capped, loose_email_key, phone_key
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.keys import HashKeys, IdentifierDigests, identifier_values
from crm_hygiene.minors import CERTAIN, LIKELY, MinorRules
from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.normalise.email_address import (
    NO_FLAGS,
    InvalidEmail,
    canonical_email,
    email_flags,
    email_match_key,
)
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text, company_key, name_key
from crm_hygiene.per_value import PerValue
from crm_hygiene.policy import InputValidation, Policy
from crm_hygiene.special_category import SpecialCategoryScanner

_CONSENT_VALUES = {
    "yes": True, "y": True, "true": True, "1": True,
    "no": False, "n": False, "false": False, "0": False,
}
_MAX_AGE = 130
_REDACTION_CACHE_SIZE = 50_000
# Distinct values remembered per column (a file's names, companies or titles;
# a few hundred bytes each, so at most ~10 MiB a column in a worker).
_TEXT_CACHE_SIZE = 50_000
# Timestamps: dates repeat, times of day mostly do not.
_MOMENT_CACHE_SIZE = 20_000
# Free-text columns whose clean_text is remembered (each its own cache, so
# one column's many distinct values do not push out another's).
_CLEANED_COLUMNS = ("first_name", "last_name", "company", "job_title", "event_name")

class StagedRow(NamedTuple):
    """A checked, normalised row as the staging table takes it (see staging.py)."""

    row_number: int
    identity_key: str
    email: str | None
    email_match_key: str | None
    first_name: str | None
    last_name: str | None
    name_key: str | None
    company: str | None
    company_key: str | None
    job_title: str | None
    country: str | None
    phone_e164: str | None
    source: str
    source_detail: str | None
    lawful_basis: str
    basis_rank: int
    marketing_consent: int | None
    seen_at: str
    notice_due_at: str | None
    email_is_personal: int
    email_is_role: int
    email_is_disposable: int
    referred_only: int
    referred_by_match_key: str | None
    date_of_birth: str | None
    age: int | None
    email_hash: str | None
    phone_hash: str | None
    domain_hash: str | None
    minor_verdict: int
    minor_signals: str | None


STAGE_COLUMNS = StagedRow._fields
_new_tuple = tuple.__new__


class OtherKeyHash(NamedTuple):
    """A row's identifier hashed under a key other than the current one (during a rotation)."""

    row_number: int
    key_type: str
    key_hash: str


OTHER_KEY_HASH_COLUMNS = OtherKeyHash._fields


class RowRejection(NamedTuple):
    """A row the checks turned away: for quarantine, with what an erasure finds it by."""

    row_number: int
    reasons: str
    raw_row: str
    keys: IdentityKeys


@dataclass
class RowContext:
    """Everything the row checks read: the policy and the run's 'today'; and what
    they remember per distinct value across the chunks of a file (all bounded,
    see ``PerValue``: names, companies, titles and domains repeat, emails and
    phones do not and are not remembered)."""

    policy: Policy
    today: date
    keys: HashKeys
    countries: CountryResolver = field(init=False)
    minors: MinorRules = field(init=False)
    scanner: SpecialCategoryScanner = field(init=False)
    # Free text scanned once per distinct value (titles and company names repeat).
    redactions: PerValue = field(init=False)
    # clean_text by column (_CLEANED_COLUMNS); company_key of a cleaned company.
    clean: dict[str, PerValue] = field(init=False)
    company_keys: PerValue = field(init=False)
    digests: IdentifierDigests = field(init=False)
    # Source and channel words, as closed_set_value reads them.
    closed_set: PerValue = field(init=False)
    _moments: dict[datetime, PerValue] = field(init=False, default_factory=dict)
    _notice_due: dict[date, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.countries = CountryResolver(self.policy.input_validation.country_aliases)
        self.minors = MinorRules(self.policy.minors)
        self.scanner = SpecialCategoryScanner(self.policy.special_category)
        self.redactions = PerValue(self.scanner.redact, _REDACTION_CACHE_SIZE)
        self.clean = {name: PerValue(clean_text, _TEXT_CACHE_SIZE) for name in _CLEANED_COLUMNS}
        self.company_keys = PerValue(company_key, _TEXT_CACHE_SIZE)
        self.digests = IdentifierDigests(self.keys.current)
        self.closed_set = PerValue(closed_set_value, _TEXT_CACHE_SIZE)

    def moments(self, latest: datetime) -> PerValue:
        """Timestamp cells read against `latest` (dates repeat across a file: each is read once)."""
        read = self._moments.get(latest)
        if read is None:
            rules = self.policy.input_validation
            read = self._moments[latest] = PerValue(lambda raw: _read_moment(raw, latest, rules), _MOMENT_CACHE_SIZE)
        return read

    @property
    def today_start(self) -> datetime:
        return datetime.combine(self.today, time())

    def notice_due(self, seen: date) -> str:
        """Art. 14 due date for data seen on `seen`; few distinct days per file, so remembered."""
        due = self._notice_due.get(seen)
        if due is None:
            due = self._notice_due[seen] = self.policy.art14_notice.period.after(seen).isoformat()
        return due


@dataclass
class PreparedChunk:
    n_read: int
    staged: list[StagedRow]
    quarantined: list[RowRejection]
    # Hashes under the other configured keys (only while a key rotation is under
    # way), so suppression entries made under an older key still match.
    other_key_hashes: list[OtherKeyHash] = field(default_factory=list)
    # The staged rows as COPY CSV text, when a worker encoded them (PostgreSQL).
    copy_csv: str | None = None
    # Free-text cells redacted for special-category data, by category (counts only).
    special_category_hits: dict[str, int] = field(default_factory=dict)

    # Sent back from a worker, the rows travel as plain tuples in one marshal
    # string (every field is a str, an int or None): pickling a named tuple per
    # row cost ~7 us a row on each side, this ~1-2.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["staged"] = marshal.dumps(list(map(tuple, self.staged)))
        state["other_key_hashes"] = marshal.dumps(list(map(tuple, self.other_key_hashes)))
        return state

    def __setstate__(self, state: dict) -> None:
        state["staged"] = list(map(StagedRow._make, marshal.loads(state["staged"])))
        state["other_key_hashes"] = list(map(OtherKeyHash._make, marshal.loads(state["other_key_hashes"])))
        self.__dict__.update(state)


class _Moment(NamedTuple):
    """A timestamp cell, read: naive UTC or None, what is wrong with it, and its wire text."""

    moment: datetime | None
    problem: str | None  # "invalid", "out_of_range" or "in_future" (the moment is then kept)
    wire: str | None


_NO_MOMENT = _Moment(None, None, None)


def _read_moment(raw: str, latest: datetime, rules: InputValidation) -> _Moment:
    try:
        moment = parse_timestamp(raw)
    except OffCalendar:
        return _Moment(None, "out_of_range", None)
    except ValueError:
        return _Moment(None, "invalid", None)
    if moment is None:
        return _NO_MOMENT
    if not within_dates(moment, rules.earliest_date, rules.latest_date):
        return _Moment(None, "out_of_range", None)
    return _Moment(moment, "in_future" if moment >= latest else None, wire_timestamp(moment))


def _parse_timestamps(
    values: list[str], column: str, reasons: list[list[str]], latest: datetime, ctx: RowContext,
) -> list[_Moment]:
    """Each value read; a reason for each bad, implausible or future one."""
    read = ctx.moments(latest).map(values)
    for i in [i for i, moment in enumerate(read) if moment.problem]:
        reasons[i].append(f"{column}_{read[i].problem}")
    return read


def _parse_age(raw: str, reasons: list[str]) -> int | None:
    try:
        age = parse_whole_number(raw)
    except ValueError:
        age = _MAX_AGE + 1
    if age is not None and age > _MAX_AGE:
        reasons.append("age_invalid")
        return None
    return age


def _parse_consent(raw: str, reasons: list[str]) -> bool | None:
    raw = raw.strip().lower()
    if not raw:
        return None
    if raw in _CONSENT_VALUES:
        return _CONSENT_VALUES[raw]
    reasons.append("marketing_consent_invalid")
    return None


def _kind_specifics(chunk: RawChunk, kind: DropKind, ctx: RowContext, reasons):
    """Per-row source, source detail, seen-at, consent, channel, referrer."""
    n = chunk.n_rows
    tomorrow = ctx.today_start + timedelta(days=1)
    if kind.name == "research":
        allowed = set(ctx.policy.sources.research.values)
        sources = ctx.closed_set.map(chunk.column("source"))
        for i, s in enumerate(sources):
            if s not in allowed:
                reasons[i].append("source_unknown")
        details = [clean_text(v) for v in chunk.column("source_url")]
        seen = _parse_timestamps(chunk.column("collected_at"), "collected_at", reasons, tomorrow, ctx)
        return sources, details, seen, [None] * n, [None] * n, [None] * n
    if kind.name == "events":
        details = ctx.clean["event_name"].map(chunk.column("event_name"))
        seen = _parse_timestamps(chunk.column("event_date"), "event_date", reasons, tomorrow, ctx)
        consent = [_parse_consent(v, reasons[i]) for i, v in enumerate(chunk.column("marketing_consent"))]
        return ["event"] * n, details, seen, consent, [None] * n, [None] * n
    channels_policy = ctx.policy.sources.enquiries.channels
    channels = ctx.closed_set.map(chunk.column("channel"))
    for i, c in enumerate(channels):
        if c not in channels_policy:
            reasons[i].append("channel_unknown")
    seen = _parse_timestamps(chunk.column("received_at"), "received_at", reasons, tomorrow, ctx)
    consent = [_parse_consent(v, reasons[i]) for i, v in enumerate(chunk.column("marketing_consent"))]
    referrers = [email_match_key(v) for v in chunk.column("referred_by_email")]
    return ["enquiry"] * n, channels, seen, consent, channels, referrers


def _checked(values: list[str], convert, error: type[Exception], reason: str, reasons) -> list:
    """convert(value) per cell; None and a reason code where it raises `error`."""
    out = []
    for i, raw in enumerate(values):
        try:
            out.append(convert(raw))
        except error:
            reasons[i].append(reason)
            out.append(None)
    return out


def redact_free_text(chunk: RawChunk, ctx: RowContext) -> tuple[RawChunk, dict[str, int]]:
    """The chunk with special-category data in its free-text columns (policy
    ``special_category.fields``) replaced, before anything is stored or
    quarantined; and how many cells each category hit."""
    hits: dict[str, int] = {}
    columns = dict(chunk.columns)
    for name in ctx.policy.special_category.fields:
        if name not in columns:
            continue
        # An empty cell scans to itself with no category, like any clean text.
        found = ctx.redactions.map(columns[name])
        flagged = [i for i, redaction in enumerate(found) if redaction.categories]
        if not flagged:
            continue
        cells = columns[name] = list(columns[name])
        for i in flagged:
            cells[i] = found[i].text
            for category in found[i].categories:
                hits[category] = hits.get(category, 0) + 1
    return RawChunk(columns, chunk.row_numbers), hits


class _Tags(NamedTuple):
    """How a row is held, which follows from its kind, channel and consent alone."""

    lawful_basis: str
    basis_rank: int
    marketing_consent: int | None
    from_subject: bool
    referred_only: int


def _tagging(kind: DropKind, policy: Policy):
    """(channel, consent) -> _Tags for rows of `kind`: the policy read once per file, not per row."""
    precedence = policy.lawful_basis_precedence
    research = policy.sources.research
    consent_sources = policy.sources.events if kind.name == "events" else policy.sources.enquiries

    def tags(channel_name: str | None, consent: bool | None) -> _Tags:
        if kind.name == "research":
            return _Tags(research.lawful_basis, precedence.rank(research.lawful_basis), None,
                         research.obtained_from_data_subject, 0)
        channel = policy.sources.enquiries.channels.get(channel_name) if channel_name else None
        from_subject = consent_sources.obtained_from_data_subject and (
            channel is None or channel.obtained_from_data_subject
        )
        referred = channel is not None and not channel.marketable
        # Only the person can consent for themselves: a referral carries none.
        row_consent = consent if from_subject else None
        basis = (
            consent_sources.lawful_basis_with_consent if row_consent
            else consent_sources.lawful_basis_without_consent
        )
        return _Tags(basis, precedence.rank(basis), None if row_consent is None else int(row_consent),
                     from_subject, int(referred))
    return tags


def prepare_chunk(chunk: RawChunk, kind: DropKind, ctx: RowContext) -> PreparedChunk:
    """Check and normalise one chunk; see the module docstring."""
    chunk, special_category_hits = redact_free_text(chunk, ctx)
    policy = ctx.policy
    n = chunk.n_rows
    reasons: list[list[str]] = [[] for _ in range(n)]

    first, last, company, job_title = (ctx.clean[name].map(chunk.column(name))
                                       for name in ("first_name", "last_name", "company", "job_title"))
    country = _checked(chunk.column("country"), ctx.countries.to_alpha2, UnknownCountry,
                       "country_unrecognised", reasons)
    raw_emails = chunk.column("email")
    email = _checked(raw_emails, canonical_email, InvalidEmail, "email_invalid", reasons)
    raw_phones = chunk.column("phone")
    phone = []
    for i, raw in enumerate(raw_phones):
        try:
            phone.append(to_e164(raw, country[i]))
        except InvalidPhone:
            reasons[i].append("phone_invalid")
            phone.append(None)

    sources, details, seen, consent, channels, referrers = _kind_specifics(chunk, kind, ctx, reasons)
    dob = _parse_timestamps(chunk.column("date_of_birth"), "date_of_birth", reasons, ctx.today_start, ctx)
    age = [_parse_age(v, reasons[i]) if v else None for i, v in enumerate(chunk.column("age"))]

    marketing = policy.email_marketing
    free_mail, role_parts, disposable = (
        marketing.free_mail_domains, marketing.role_local_parts, marketing.disposable_domains
    )
    tags_of = _tagging(kind, policy)
    tags_seen: dict[tuple[str | None, bool | None], _Tags] = {}
    today = ctx.today
    today_wire = wire_timestamp(ctx.today_start)
    minors, company_keys, digests = ctx.minors, ctx.company_keys, ctx.digests
    older_keys = ctx.keys.keys[1:]
    event_names = details if kind.name == "events" else [None] * n
    default_region = policy.suppression.default_phone_region
    staged: list[StagedRow] = []
    other_key_hashes: list[OtherKeyHash] = []
    quarantined: list[RowRejection] = []
    for i, (row_number, row_reasons, address, first_name, last_name, company_name, title, phone_e164,
            born_read, stated_age) in enumerate(zip(
            chunk.row_numbers, reasons, email, first, last, company, job_title, phone, dob, age, strict=True)):
        mkey = email_match_key(address) if address else None
        nkey = name_key(first_name, last_name)
        ckey = company_keys[company_name] if company_name else None
        if mkey:
            identity = f"e:{mkey}"
        elif phone_e164:
            identity = f"p:{phone_e164}"
        elif nkey and ckey:
            identity = f"n:{nkey}|{ckey}"
        else:
            identity = None
            if not row_reasons:
                row_reasons.append("no_identity")
        born = born_read.moment.date() if born_read.moment else None
        domain = address.rpartition("@")[2] if address else None
        if born is None and stated_age is None:
            minor = minors.assess_signals(title, company_name, domain, event_names[i])
        else:
            minor = minors.assess(today=today, date_of_birth=born, age=stated_age, job_title=title,
                                  company=company_name, email_domain=domain, event_name=event_names[i])
        if row_reasons:
            if minor.verdict == CERTAIN:
                # A child's details are only ever removed: the row is counted
                # with its reasons, and nothing of it is kept.
                quarantined.append(RowRejection(row_number, ";".join([*row_reasons, "minor_certain"]), "{}", NO_KEYS))
            else:
                if minor.verdict == LIKELY:
                    row_reasons.append("likely_minor")
                keys = IdentityKeys(
                    loose_email_key(raw_emails[i]) if raw_emails[i].strip() else None,
                    # An unknown country reads the number as a list's would: in the default region.
                    phone_e164 or (phone_key(raw_phones[i], country[i] or default_region)
                                   if raw_phones[i].strip() else None),
                    capped(f"{nkey}|{ckey}") if nkey and ckey else None,
                )
                quarantined.append(RowRejection(row_number, ";".join(row_reasons), chunk.raw_row_json(i), keys))
            continue

        seen_at = seen[i].moment
        tag_key = (channels[i], consent[i])
        tags = tags_seen.get(tag_key)
        if tags is None:
            tags = tags_seen[tag_key] = tags_of(*tag_key)
        flags = email_flags(address, free_mail, role_parts, disposable) if address else NO_FLAGS
        email_hash, phone_hash, domain_hash = digests(mkey, phone_e164)
        if older_keys:
            identifiers = identifier_values(mkey, phone_e164)
            for key in older_keys:
                other_key_hashes += [OtherKeyHash(row_number, key_type, key.digest(value))
                                     for key_type, value in identifiers]
        # tuple.__new__ as StagedRow._make does: the named tuple's own __new__ is a
        # Python call taking 31 arguments, for every row.
        staged.append(_new_tuple(StagedRow, (
            row_number, identity, address, mkey,
            first_name, last_name, nkey, company_name, ckey, title,
            country[i], phone_e164, sources[i], details[i], tags.lawful_basis, tags.basis_rank,
            tags.marketing_consent,
            seen[i].wire if seen_at else today_wire,
            None if tags.from_subject else ctx.notice_due(seen_at.date() if seen_at else today),
            int(flags.is_personal), int(flags.is_role), int(flags.is_disposable), tags.referred_only,
            referrers[i], born.isoformat() if born else None, stated_age,
            email_hash, phone_hash, domain_hash,
            minor.verdict, minor.signal_text,
        )))
    return PreparedChunk(n_read=n, staged=staged, quarantined=quarantined, other_key_hashes=other_key_hashes,
                         special_category_hits=special_category_hits)
