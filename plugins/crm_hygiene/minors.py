"""Is this person likely to be a child? A scored rule set read from the policy.

Two verdicts (privacy policy, "Children"):

- CERTAIN: a date of birth or a stated age puts the person under the policy's
  minimum age (16) on the run's logical date. They are removed, never held.
- LIKELY: no age is known, but school and pupil signals (job title, school
  mail domain, school-type company, youth event) add up to the policy's
  ``likely_score``. Signs of an adult at a school (a teacher, a governor, a
  PhD student) subtract. A person decides; until then the record is out of use.

A known age of 16 or more settles it: signals cannot make a known adult a
minor. Only rule names are returned, never the values that fired them, so an
assessment can go into the audit log and the review queue as it is.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from datetime import date

from crm_hygiene.per_value import PerValue
from crm_hygiene.policy import Minors, MinorSignal, MinorSignalField

CERTAIN = 2
LIKELY = 1
NOT_A_MINOR = 0


@dataclass(frozen=True)
class MinorAssessment:
    verdict: int  # CERTAIN, LIKELY or NOT_A_MINOR
    signals: tuple[str, ...] = ()  # names of the rules that fired

    @property
    def signal_text(self) -> str | None:
        """The form stored beside a row: comma-joined rule names."""
        return ",".join(self.signals) or None


NO_SIGNAL = MinorAssessment(NOT_A_MINOR)
# Distinct values remembered per field (a few hundred bytes each).
_FIELD_CACHE_LIMIT = 50_000


def age_on(born: date, today: date) -> int:
    """Whole years completed on `today`."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True)
class _CompiledSignal:
    name: str
    field: str
    weight: float
    regex: re.Pattern

    @classmethod
    def of(cls, signal: MinorSignal) -> _CompiledSignal:
        combined = "|".join(f"(?:{p})" for p in signal.patterns)
        return cls(signal.name, signal.field, signal.weight, re.compile(combined, re.IGNORECASE))


class MinorRules:
    """The policy's ``minors`` section, compiled once per process.

    Each signal reads one field, and a file repeats its job titles, companies,
    mail domains and event names: which rules fire on a field's value is worked
    out once per distinct value (bounded, see ``PerValue``). A row's combination
    of values is nearly unique, so combinations are not cached; the row's
    verdict is then set arithmetic on the per-field answers.
    """

    def __init__(self, minors: Minors, cache_limit: int = _FIELD_CACHE_LIMIT) -> None:
        self.minimum_age = minors.minimum_age
        self.parental_consent_age = minors.parental_consent_age
        self.likely_score = minors.likely_score
        self.signals = tuple(_CompiledSignal.of(s) for s in minors.signals)
        self.adult_markers = tuple(_CompiledSignal.of(s) for s in minors.adult_markers)
        # Per field, value -> (bits of the signals that fire, bits of the adult markers that fire).
        self._fired: dict[str, PerValue] = {
            field: PerValue(self._fired_on(field), cache_limit) for field in typing.get_args(MinorSignalField)
        }
        # Verdicts by the rules that fired (few combinations ever do).
        self._by_bits: dict[tuple[int, int], MinorAssessment] = {}

    def _fired_on(self, field: str):
        signals = [(1 << i, s.regex) for i, s in enumerate(self.signals) if s.field == field]
        markers = [(1 << i, m.regex) for i, m in enumerate(self.adult_markers) if m.field == field]

        def fired(value: str) -> tuple[int, int]:
            return (sum(bit for bit, regex in signals if regex.search(value)),
                    sum(bit for bit, regex in markers if regex.search(value)))
        return fired

    def certain_signals(self, years: int, how: str) -> tuple[str, ...]:
        names = [f"{how}_under_{self.minimum_age}"]
        if years < self.parental_consent_age:
            names.append(f"under_{self.parental_consent_age}")
        return tuple(names)

    def assess(
        self, *, today: date, date_of_birth: date | None = None, age: int | None = None,
        job_title: str | None = None, company: str | None = None, email_domain: str | None = None,
        event_name: str | None = None,
    ) -> MinorAssessment:
        known = []
        if date_of_birth is not None:
            known.append((age_on(date_of_birth, today), "date_of_birth"))
        if age is not None:
            known.append((age, "stated_age"))
        if known:
            # Either source saying "under" is enough: recall comes first for children.
            years, how = min(known)
            if years < self.minimum_age:
                return MinorAssessment(CERTAIN, self.certain_signals(years, how))
            return NO_SIGNAL
        return self.assess_signals(job_title, company, email_domain, event_name)

    def assess_signals(self, job_title: str | None, company: str | None, email_domain: str | None,
                       event_name: str | None) -> MinorAssessment:
        """The verdict of the signals alone, for a person of unknown age."""
        fired = self._fired
        signal_bits = marker_bits = 0
        if job_title:
            signal_bits, marker_bits = fired["job_title"][job_title]
        if company:
            s, m = fired["company"][company]
            signal_bits, marker_bits = signal_bits | s, marker_bits | m
        if email_domain:
            s, m = fired["email_domain"][email_domain]
            signal_bits, marker_bits = signal_bits | s, marker_bits | m
        if event_name:
            s, m = fired["event_name"][event_name]
            signal_bits, marker_bits = signal_bits | s, marker_bits | m
        if not signal_bits:
            return NO_SIGNAL
        verdict = self._by_bits.get((signal_bits, marker_bits))
        if verdict is None:
            verdict = self._by_bits[signal_bits, marker_bits] = self._scored(signal_bits, marker_bits)
        return verdict

    def _scored(self, signal_bits: int, marker_bits: int) -> MinorAssessment:
        fired = [s for i, s in enumerate(self.signals) if signal_bits >> i & 1]
        markers = [m for i, m in enumerate(self.adult_markers) if marker_bits >> i & 1]
        score = sum(s.weight for s in fired) - sum(m.weight for m in markers)
        if score + 1e-9 < self.likely_score:
            return NO_SIGNAL
        return MinorAssessment(LIKELY, tuple(s.name for s in fired))
