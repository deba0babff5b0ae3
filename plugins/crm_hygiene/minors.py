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
from dataclasses import dataclass
from datetime import date

from crm_hygiene.policy import Minors, MinorSignal

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
    """The policy's ``minors`` section, compiled once per process."""

    def __init__(self, minors: Minors) -> None:
        self.minimum_age = minors.minimum_age
        self.parental_consent_age = minors.parental_consent_age
        self.likely_score = minors.likely_score
        self.signals = tuple(_CompiledSignal.of(s) for s in minors.signals)
        self.adult_markers = tuple(_CompiledSignal.of(s) for s in minors.adult_markers)

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
        values = {"job_title": job_title, "company": company, "email_domain": email_domain,
                  "event_name": event_name}
        fired = [s for s in self.signals if values[s.field] and s.regex.search(values[s.field])]
        if not fired:
            return NO_SIGNAL
        markers = [m for m in self.adult_markers if values[m.field] and m.regex.search(values[m.field])]
        score = sum(s.weight for s in fired) - sum(m.weight for m in markers)
        if score + 1e-9 < self.likely_score:
            return NO_SIGNAL
        return MinorAssessment(LIKELY, tuple(s.name for s in fired))
