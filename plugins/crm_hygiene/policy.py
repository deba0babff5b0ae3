"""The privacy policy as a typed model, loaded from ``privacy_policy.yaml``.

The YAML file is the one place where rules live; this module only gives it a
shape, so that a typo in the file fails loudly with the key that is wrong
instead of silently changing what the pipelines do.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LawfulBasis = Literal["consent", "legitimate_interests", "contract", "legal_obligation"]

DEFAULT_POLICY_FILE = Path(__file__).resolve().parents[2] / "include" / "policy" / "privacy_policy.yaml"


class PolicyError(ValueError):
    """The policy file is missing or does not say what the code needs."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """A calendar period: months are calendar months, not 30 days."""

    years: int = Field(default=0, ge=0)
    months: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Period:
        if not (self.years or self.months or self.days):
            raise ValueError("a period needs at least one of years, months, days")
        return self

    def after(self, moment: date | datetime) -> date | datetime:
        return moment + relativedelta(years=self.years, months=self.months, days=self.days)

    def before(self, moment: date | datetime) -> date | datetime:
        return moment - relativedelta(years=self.years, months=self.months, days=self.days)


class ResearchSources(_Strict):
    lawful_basis: LawfulBasis
    obtained_from_data_subject: bool
    values: tuple[str, ...] = Field(min_length=1)


class Channel(_Strict):
    marketable: bool
    obtained_from_data_subject: bool = True


class ConsentedSources(_Strict):
    lawful_basis_with_consent: LawfulBasis
    lawful_basis_without_consent: LawfulBasis
    obtained_from_data_subject: bool


class EnquirySources(ConsentedSources):
    channels: dict[str, Channel] = Field(min_length=1)


class Sources(_Strict):
    clause: str = Field(min_length=10)
    research: ResearchSources
    events: ConsentedSources
    enquiries: EnquirySources


class LawfulBasisPrecedence(_Strict):
    clause: str = Field(min_length=10)
    order: tuple[LawfulBasis, ...]

    @model_validator(mode="after")
    def _complete(self) -> LawfulBasisPrecedence:
        if sorted(self.order) != sorted(set(LawfulBasis.__args__)):
            raise ValueError(f"order must list each of {sorted(LawfulBasis.__args__)} once")
        return self

    def rank(self, basis: str) -> int:
        """0 is the strongest basis."""
        return self.order.index(basis)


class Art14Notice(_Strict):
    clause: str = Field(min_length=10)
    period: Period


class EmailMarketing(_Strict):
    clause: str = Field(min_length=10)
    free_mail_domains: frozenset[str]
    role_local_parts: frozenset[str]
    disposable_domains: frozenset[str]


class CellLengths(_Strict):
    """The longest value a cell may hold, in characters: ``default`` for every
    column not named in ``columns``. A longer cell quarantines its row."""

    default: int = Field(gt=0)
    columns: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _positive(self) -> CellLengths:
        bad = sorted(name for name, limit in self.columns.items() if limit <= 0)
        if bad:
            raise ValueError(f"limits must be positive: {', '.join(bad)}")
        return self

    def limit(self, column: str) -> int:
        return self.columns.get(column, self.default)


class InputValidation(_Strict):
    clause: str = Field(min_length=10)
    min_valid_value_share: float = Field(gt=0, le=1)
    country_aliases: dict[str, str]
    max_cell_length: CellLengths
    # Dates outside these bounds are typing errors, not history: quarantined.
    earliest_date: date
    latest_date: date

    @model_validator(mode="after")
    def _date_bounds(self) -> InputValidation:
        if self.earliest_date >= self.latest_date:
            raise ValueError("earliest_date must be before latest_date")
        return self


SuppressionScope = Literal["all", "email", "phone"]


class TpsRule(_Strict):
    reason: str
    rescreen_period: Period


class Suppression(_Strict):
    clause: str = Field(min_length=10)
    reasons: tuple[str, ...] = Field(min_length=1)
    scopes: tuple[SuppressionScope, ...] = Field(min_length=1)
    default_scope: SuppressionScope
    erasing_reasons: tuple[str, ...]
    tps: TpsRule
    default_phone_region: str = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> Suppression:
        unknown = (set(self.erasing_reasons) | {self.tps.reason}) - set(self.reasons)
        if unknown:
            raise ValueError(f"reasons {sorted(unknown)} are used but not listed in 'reasons'")
        if self.default_scope not in self.scopes:
            raise ValueError("default_scope must be one of 'scopes'")
        return self


RectifiableField = Literal["first_name", "last_name", "company", "job_title", "country", "phone"]


class DataSubjectRequests(_Strict):
    clause: str = Field(min_length=10)
    response_period: Period
    warn_before: Period
    rectifiable_fields: tuple[RectifiableField, ...]
    purposes: tuple[str, ...] = Field(min_length=1)
    recipient_categories: tuple[str, ...] = Field(min_length=1)


MinorSignalField = Literal["job_title", "company", "email_domain", "event_name"]


def _check_pattern(pattern: str, where: str) -> None:
    """A policy regular expression must compile and must not match empty text: one that
    does would fire on every value (every person a likely minor, every note redacted)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} in {where!r} is not a valid regular expression: {exc}") from None
    if compiled.search(""):
        raise ValueError(f"pattern {pattern!r} in {where!r} matches empty text")


def _check_patterns(patterns: tuple[str, ...], where: str) -> None:
    for pattern in patterns:
        _check_pattern(pattern, where)


class MinorSignal(_Strict):
    """A named rule: any of its patterns found in `field` adds `weight` once."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    field: MinorSignalField
    weight: float = Field(gt=0)
    patterns: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns_compile(self) -> MinorSignal:
        _check_patterns(self.patterns, self.name)
        return self


class MinorActions(_Strict):
    keep_match_key_hash: bool
    review_timeout: Period


class Minors(_Strict):
    clause: str = Field(min_length=10)
    minimum_age: int = Field(gt=0, le=21)
    parental_consent_age: int = Field(gt=0)
    likely_score: float = Field(gt=0)
    signals: tuple[MinorSignal, ...] = Field(min_length=1)
    adult_markers: tuple[MinorSignal, ...] = ()
    actions: MinorActions

    @model_validator(mode="after")
    def _consistent(self) -> Minors:
        if self.parental_consent_age > self.minimum_age:
            raise ValueError("parental_consent_age must not exceed minimum_age")
        names = [s.name for s in (*self.signals, *self.adult_markers)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"signal names must be unique: {repeated}")
        return self


SpecialCategoryName = Literal[
    "health", "religion", "ethnicity", "politics", "trade_union", "sex_life", "biometrics", "genetics",
    "criminal_records",
]


class SpecialCategory(_Strict):
    """GDPR Art. 9/10 data to find and redact in free text (see crm_hygiene.special_category).

    Each category maps to ``keywords`` (whole words or phrases) and/or
    ``patterns`` (regular expressions), all case-insensitive. Every category
    must be listed: a category left out would silently let its data through.
    """

    clause: str = Field(min_length=10)
    fields: tuple[str, ...] = Field(min_length=1)
    replacement: str = Field(min_length=1)
    categories: dict[SpecialCategoryName, dict[Literal["keywords", "patterns"], tuple[str, ...]]]
    exemptions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _usable(self) -> SpecialCategory:
        missing = sorted(set(SpecialCategoryName.__args__) - set(self.categories))
        if missing:
            raise ValueError(f"categories {missing} are missing")
        for name, rule in self.categories.items():
            if not rule.get("keywords") and not rule.get("patterns"):
                raise ValueError(f"category {name!r} needs keywords or patterns")
            for phrase in (*rule.get("keywords", ()), *self.exemptions):
                if not phrase.strip() or phrase != phrase.strip():
                    raise ValueError(f"{phrase!r} in {name!r} or exemptions is empty or has outer spaces")
            for pattern in rule.get("patterns", ()):
                if " " in pattern:
                    raise ValueError(f"pattern {pattern!r} in {name!r} has a space: write \\s+ instead")
                _check_pattern(pattern, name)
        return self


RetentionAction = Literal["delete", "anonymise"]


class RetentionKind(NamedTuple):
    """What the code can do for one retention class: the clock it reads and the actions it has."""

    clock: str
    actions: tuple[RetentionAction, ...]


# Every class retention_sweep knows (crm_hygiene.retention.classes implements
# each): the policy file must give each one, with this clock and one of these
# actions, so a typo or a class the code cannot act on fails at load.
RETENTION_KINDS: dict[str, RetentionKind] = {
    "prospects": RetentionKind("last_contact_at", ("anonymise", "delete")),
    "applicants_rejected": RetentionKind("decided_at", ("delete",)),
    "applicants_future_roles": RetentionKind("decided_at", ("delete",)),
    "applicants_hired": RetentionKind("decided_at", ("delete",)),
    "quarantine": RetentionKind("quarantined_at", ("delete",)),
    "drop_files": RetentionKind("archived_at", ("delete",)),
    "answer_files": RetentionKind("completed_at", ("delete",)),
    "minor_reviews": RetentionKind("decided_at", ("delete",)),
    "suppression_minor": RetentionKind("added_at", ("delete",)),
    "legal_holds": RetentionKind("released_at", ("delete",)),
    "data_subject_requests": RetentionKind("completed_at", ("delete",)),
    "audit_log": RetentionKind("occurred_at", ("delete",)),
}


class RetentionClass(_Strict):
    clause: str = Field(min_length=10)
    clock: str
    period: Period
    action: RetentionAction
    # Stop the sweep if it would remove more than the breaker's share of the table.
    circuit_breaker: bool = True


class CircuitBreaker(_Strict):
    max_share: float = Field(gt=0, le=1)


class SeniorityBand(_Strict):
    band: str = Field(pattern=r"^[a-z][a-z_]*$")
    patterns: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns_compile(self) -> SeniorityBand:
        _check_patterns(self.patterns, self.band)
        return self


class Anonymise(_Strict):
    seniority_bands: tuple[SeniorityBand, ...] = Field(min_length=1)
    other_band: str = Field(pattern=r"^[a-z][a-z_]*$")


class Retention(_Strict):
    clause: str = Field(min_length=10)
    circuit_breaker: CircuitBreaker
    classes: dict[str, RetentionClass]
    anonymise: Anonymise

    @model_validator(mode="after")
    def _known_classes(self) -> Retention:
        missing = sorted(set(RETENTION_KINDS) - set(self.classes))
        unknown = sorted(set(self.classes) - set(RETENTION_KINDS))
        if missing or unknown:
            raise ValueError(f"classes must be exactly {sorted(RETENTION_KINDS)}: "
                             f"missing {missing}, unknown {unknown}")
        for name, rule in self.classes.items():
            kind = RETENTION_KINDS[name]
            if rule.clock != kind.clock:
                raise ValueError(f"class {name!r}: clock must be {kind.clock!r}, not {rule.clock!r}")
            if rule.action not in kind.actions:
                raise ValueError(f"class {name!r}: action must be one of {list(kind.actions)}, "
                                 f"not {rule.action!r}")
        return self


# What a partner report may count by, and what it may count. A dimension is a
# value many people share; anything that is or can stand for an identifier
# (IDENTIFYING_DIMENSIONS) is refused by name.
PartnerDimension = Literal["country", "source", "lawful_basis", "seniority_band", "first_contact_month"]
PartnerMeasure = Literal["prospects_held", "contactable_now"]
PARTNER_DIMENSIONS: tuple[str, ...] = PartnerDimension.__args__
IDENTIFYING_DIMENSIONS = frozenset({
    "email", "email_match_key", "email_hash", "first_name", "last_name", "name", "full_name", "phone",
    "phone_e164", "company", "company_key", "job_title", "source_url", "url", "source_detail", "notes",
    "date_of_birth", "age", "collected_at", "first_seen_at", "last_contact_at", "received_at", "event_date",
    "prospect_id", "match_key", "domain", "address", "postcode", "ip",
})


class PartnerProtection(_Strict):
    min_cell_size: int = Field(default=10, ge=2)
    min_interval_width: int = Field(default=10, ge=1)
    carry_suppression_forward: bool = True


class PartnerReport(_Strict):
    dimensions: tuple[str, ...] = Field(min_length=1, max_length=2)
    measures: tuple[PartnerMeasure, ...] = Field(min_length=1)
    # Released on the run dates this names: every day, Mondays, or the 1st of the month.
    schedule: Literal["@daily", "@weekly", "@monthly"] = "@monthly"
    min_cell_size: int | None = Field(default=None, ge=2)
    min_interval_width: int | None = Field(default=None, ge=1)
    carry_suppression_forward: bool | None = None

    @model_validator(mode="after")
    def _dimensions_identify_nobody(self) -> PartnerReport:
        for dimension in self.dimensions:
            if dimension.lower() in IDENTIFYING_DIMENSIONS:
                raise ValueError(f"dimension {dimension!r} is or can stand for an identifier: aggregates "
                                 "may not be broken down by it")
            if dimension not in PARTNER_DIMENSIONS:
                raise ValueError(f"dimension {dimension!r} is unknown: use one of {list(PARTNER_DIMENSIONS)}")
        if len(set(self.dimensions)) != len(self.dimensions) or len(set(self.measures)) != len(self.measures):
            raise ValueError("dimensions and measures must not repeat")
        return self

    def protection(self, defaults: PartnerProtection) -> PartnerProtection:
        return PartnerProtection(
            min_cell_size=self.min_cell_size or defaults.min_cell_size,
            min_interval_width=self.min_interval_width or defaults.min_interval_width,
            carry_suppression_forward=(defaults.carry_suppression_forward if self.carry_suppression_forward is None
                                       else self.carry_suppression_forward))


OTHER_CATEGORY = "other"


class DifferentialPrivacy(_Strict):
    epsilon_per_release: float = Field(gt=0)
    total_epsilon: float = Field(gt=0)
    # Each dimension's values, fixed here; a value not listed counts as OTHER_CATEGORY.
    categories: dict[PartnerDimension, tuple[str, ...]] = Field(min_length=1)

    @model_validator(mode="after")
    def _budget_fits_a_release(self) -> DifferentialPrivacy:
        if self.epsilon_per_release > self.total_epsilon:
            raise ValueError("epsilon_per_release exceeds total_epsilon: no release could ever be made")
        for dimension, values in self.categories.items():
            if OTHER_CATEGORY not in values:
                raise ValueError(f"categories of {dimension!r} must include {OTHER_CATEGORY!r} (unlisted values "
                                 "count there)")
        return self


class Partner(_Strict):
    reports: dict[str, PartnerReport] = Field(min_length=1)
    differential_privacy: DifferentialPrivacy | None = None

    @model_validator(mode="after")
    def _dp_categories_fixed_for_every_dimension(self) -> Partner:
        if self.differential_privacy is None:
            return self
        for name, report in self.reports.items():
            missing = sorted(set(report.dimensions) - set(self.differential_privacy.categories))
            if missing:
                raise ValueError(f"report {name!r}: differential privacy needs the categories of {missing} "
                                 "fixed in the policy (never taken from the data)")
        return self


_NAME = r"^[a-z][a-z0-9_]*$"


class Partners(_Strict):
    clause: str = Field(min_length=10)
    defaults: PartnerProtection
    list: dict[str, Partner]

    @model_validator(mode="after")
    def _names_are_folder_names(self) -> Partners:
        for partner, spec in self.list.items():
            for name in (partner, *spec.reports):
                if not re.match(_NAME, name):
                    raise ValueError(f"{name!r}: partner and report names are lower-case letters, digits and _ "
                                     "(they become folder and file names)")
        return self


class AirflowRecords(_Strict):
    clause: str = Field(min_length=10)
    period: Period


class HygieneReportRule(_Strict):
    """The data team's daily report (crm_hygiene.hygiene_report): how many days its charts cover."""

    clause: str = Field(min_length=10)
    days: int = Field(ge=7, le=366)


class Policy(_Strict):
    policy_document: str
    sources: Sources
    lawful_basis_precedence: LawfulBasisPrecedence
    art14_notice: Art14Notice
    email_marketing: EmailMarketing
    input_validation: InputValidation
    suppression: Suppression
    data_subject_requests: DataSubjectRequests
    retention: Retention
    partners: Partners
    airflow_records: AirflowRecords
    hygiene_report: HygieneReportRule
    minors: Minors
    special_category: SpecialCategory


def _error_text(path: Path, err: ValidationError) -> str:
    lines = [f"policy file {path} is invalid:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  - key '{key}': {e['msg']}")
    return "\n".join(lines)


def policy_file(path: str | Path | None = None) -> Path:
    """The policy file in use: `path`, else ``CRM_POLICY_FILE``, else the shipped one."""
    return Path(path or os.environ.get("CRM_POLICY_FILE") or DEFAULT_POLICY_FILE)


_QUOTED = re.compile(r'"([^"]+)"')


def clause_heading(clause: str) -> str | None:
    """The first text a clause quotes: the privacy policy's heading it enforces
    ("How long do we keep your information?"), or None if it quotes nothing."""
    found = _QUOTED.search(clause)
    return found.group(1) if found else None


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy; ``CRM_POLICY_FILE`` overrides the default."""
    path = policy_file(path)
    return _load_cached(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


def read_policy_yaml(path: Path) -> dict:
    """The policy file as plain YAML, before any typing (the compliance report
    reads every clause from it, also of sections the model does not know yet)."""
    if not path.exists():
        raise PolicyError(f"policy file {path} does not exist (set CRM_POLICY_FILE)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"policy file {path} must be a mapping at the top level")
    return raw


@lru_cache(maxsize=8)
def _load_cached(path: Path, _mtime: int) -> Policy:
    raw = read_policy_yaml(path)
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_error_text(path, exc)) from None
