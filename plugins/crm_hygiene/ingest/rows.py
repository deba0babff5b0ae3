"""Row checks and normalisation of one chunk of a prospect drop.

A chunk comes in as all-text cells and leaves as two things: the rows fit for
the CRM, normalised and tagged with source and lawful basis, and the rows that
are not, with reason codes. Pure function of its inputs (no database), so it can
run in worker processes and be tested alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pandas as pd

from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_flags, email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text, company_key, name_key
from crm_hygiene.policy import Policy

_CONSENT_VALUES = {
    "yes": True, "y": True, "true": True, "1": True,
    "no": False, "n": False, "false": False, "0": False,
}
_MAX_AGE = 130

# The staging table's columns, in order (see staging.py).
STAGE_COLUMNS = (
    "row_number", "identity_key", "email", "email_match_key",
    "first_name", "last_name", "name_key", "company", "company_key", "job_title",
    "country", "phone_e164", "source", "source_detail", "lawful_basis", "basis_rank",
    "marketing_consent", "seen_at", "notice_due_at",
    "email_is_personal", "email_is_role", "email_is_disposable", "referred_only",
    "referred_by_match_key", "date_of_birth", "age",
)


@dataclass
class RowContext:
    """Everything the row checks read: the policy and the run's 'today'."""

    policy: Policy
    today: date
    countries: CountryResolver = field(init=False)

    def __post_init__(self) -> None:
        self.countries = CountryResolver(self.policy.input_validation.country_aliases)

    @property
    def today_start(self) -> datetime:
        return datetime.combine(self.today, time())


@dataclass
class PreparedChunk:
    staged: pd.DataFrame  # STAGE_COLUMNS
    quarantined: list[tuple[int, str, str, str | None]]  # row_number, reasons, raw JSON, email key


def closed_set_value(raw: str) -> str:
    """'Company Website' and 'company-website' both mean company_website."""
    return "_".join(raw.strip().lower().replace("-", " ").split())


def _texts(chunk: pd.DataFrame, column: str) -> list[str]:
    return chunk[column].tolist() if column in chunk.columns else [""] * len(chunk)


def _parse_timestamps(
    values: list[str], column: str, reasons: list[list[str]], latest: datetime
) -> list[datetime | None]:
    """ISO 8601 dates or timestamps as naive UTC; a reason for each bad or future one."""
    parsed = pd.to_datetime(pd.Series(values, dtype="string"), format="ISO8601", errors="coerce", utc=True)
    out: list[datetime | None] = []
    for i, (raw, ts) in enumerate(zip(values, parsed.tolist(), strict=True)):
        if pd.isna(ts):
            if raw.strip():
                reasons[i].append(f"{column}_invalid")
            out.append(None)
            continue
        moment = ts.tz_convert(None).to_pydatetime()
        if moment >= latest:
            reasons[i].append(f"{column}_in_future")
        out.append(moment)
    return out


def _parse_age(raw: str, reasons: list[str]) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.isdigit() and int(raw) <= _MAX_AGE:
        return int(raw)
    reasons.append("age_invalid")
    return None


def _parse_consent(raw: str, reasons: list[str]) -> bool | None:
    raw = raw.strip().lower()
    if not raw:
        return None
    if raw in _CONSENT_VALUES:
        return _CONSENT_VALUES[raw]
    reasons.append("marketing_consent_invalid")
    return None


def _kind_specifics(chunk, kind: DropKind, ctx: RowContext, reasons):
    """Per-row source, source detail, seen-at, consent, channel, referrer."""
    n = len(chunk)
    tomorrow = ctx.today_start + timedelta(days=1)
    if kind.name == "research":
        allowed = set(ctx.policy.sources.research.values)
        sources = [closed_set_value(v) for v in _texts(chunk, "source")]
        for i, s in enumerate(sources):
            if s not in allowed:
                reasons[i].append("source_unknown")
        details = [clean_text(v) for v in _texts(chunk, "source_url")]
        seen = _parse_timestamps(_texts(chunk, "collected_at"), "collected_at", reasons, tomorrow)
        return sources, details, seen, [None] * n, [None] * n, [None] * n
    if kind.name == "events":
        details = [clean_text(v) for v in _texts(chunk, "event_name")]
        seen = _parse_timestamps(_texts(chunk, "event_date"), "event_date", reasons, tomorrow)
        consent = [_parse_consent(v, reasons[i]) for i, v in enumerate(_texts(chunk, "marketing_consent"))]
        return ["event"] * n, details, seen, consent, [None] * n, [None] * n
    channels_policy = ctx.policy.sources.enquiries.channels
    channels = [closed_set_value(v) for v in _texts(chunk, "channel")]
    for i, c in enumerate(channels):
        if c not in channels_policy:
            reasons[i].append("channel_unknown")
    seen = _parse_timestamps(_texts(chunk, "received_at"), "received_at", reasons, tomorrow)
    consent = [_parse_consent(v, reasons[i]) for i, v in enumerate(_texts(chunk, "marketing_consent"))]
    referrers = [email_match_key(v) for v in _texts(chunk, "referred_by_email")]
    return ["enquiry"] * n, channels, seen, consent, channels, referrers


def prepare_chunk(chunk: pd.DataFrame, kind: DropKind, ctx: RowContext) -> PreparedChunk:
    """Check and normalise one chunk; see the module docstring."""
    policy = ctx.policy
    n = len(chunk)
    reasons: list[list[str]] = [[] for _ in range(n)]

    first = [clean_text(v) for v in _texts(chunk, "first_name")]
    last = [clean_text(v) for v in _texts(chunk, "last_name")]
    company = [clean_text(v) for v in _texts(chunk, "company")]
    job_title = [clean_text(v) for v in _texts(chunk, "job_title")]

    country: list[str | None] = []
    for i, raw in enumerate(_texts(chunk, "country")):
        try:
            country.append(ctx.countries.to_alpha2(raw))
        except UnknownCountry:
            reasons[i].append("country_unrecognised")
            country.append(None)

    raw_emails = _texts(chunk, "email")
    email: list[str | None] = []
    for i, raw in enumerate(raw_emails):
        try:
            email.append(canonical_email(raw))
        except InvalidEmail:
            reasons[i].append("email_invalid")
            email.append(None)

    phone: list[str | None] = []
    for i, raw in enumerate(_texts(chunk, "phone")):
        try:
            phone.append(to_e164(raw, country[i]))
        except InvalidPhone:
            reasons[i].append("phone_invalid")
            phone.append(None)

    sources, details, seen, consent, channels, referrers = _kind_specifics(chunk, kind, ctx, reasons)
    dob = _parse_timestamps(_texts(chunk, "date_of_birth"), "date_of_birth", reasons, ctx.today_start)
    age = [_parse_age(v, reasons[i]) for i, v in enumerate(_texts(chunk, "age"))]

    marketing = policy.email_marketing
    precedence = policy.lawful_basis_precedence
    notice_period = policy.art14_notice.period
    research_from_subject = policy.sources.research.obtained_from_data_subject
    consent_sources = policy.sources.events if kind.name == "events" else policy.sources.enquiries

    staged_rows: list[tuple] = []
    quarantined: list[tuple[int, str, str, str | None]] = []
    row_numbers = chunk.index.tolist()
    for i in range(n):
        mkey = email_match_key(email[i]) if email[i] else None
        nkey = name_key(first[i], last[i])
        ckey = company_key(company[i])
        if mkey:
            identity = f"e:{mkey}"
        elif phone[i]:
            identity = f"p:{phone[i]}"
        elif nkey and ckey:
            identity = f"n:{nkey}|{ckey}"
        else:
            identity = None
            if not reasons[i]:
                reasons[i].append("no_identity")
        if reasons[i]:
            raw = {col: chunk.iat[i, j] for j, col in enumerate(chunk.columns)}
            quarantined.append(
                (row_numbers[i], ";".join(reasons[i]), json.dumps(raw, ensure_ascii=False),
                 email_match_key(raw_emails[i]))
            )
            continue

        seen_at = seen[i] or ctx.today_start
        referred = False
        if kind.name == "research":
            basis, from_subject, row_consent = policy.sources.research.lawful_basis, research_from_subject, None
        else:
            channel = policy.sources.enquiries.channels.get(channels[i]) if channels[i] else None
            from_subject = consent_sources.obtained_from_data_subject and (
                channel is None or channel.obtained_from_data_subject
            )
            referred = channel is not None and not channel.marketable
            # Only the person can consent for themselves: a referral carries none.
            row_consent = consent[i] if from_subject else None
            basis = (
                consent_sources.lawful_basis_with_consent if row_consent
                else consent_sources.lawful_basis_without_consent
            )
        flags = email_flags(
            email[i], marketing.free_mail_domains, marketing.role_local_parts, marketing.disposable_domains
        ) if email[i] else None
        staged_rows.append((
            row_numbers[i], identity, email[i], mkey,
            first[i], last[i], nkey, company[i], ckey, job_title[i],
            country[i], phone[i], sources[i], details[i], basis, precedence.rank(basis),
            None if row_consent is None else int(row_consent),
            seen_at,
            None if from_subject else notice_period.after(seen_at.date()),
            int(bool(flags and flags.is_personal)), int(bool(flags and flags.is_role)),
            int(bool(flags and flags.is_disposable)), int(referred),
            referrers[i], dob[i].date() if dob[i] else None, age[i],
        ))
    staged = pd.DataFrame.from_records(staged_rows, columns=list(STAGE_COLUMNS))
    return PreparedChunk(staged=staged, quarantined=quarantined)
