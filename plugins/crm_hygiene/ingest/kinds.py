"""What each kind of prospect drop looks like (contract, "Input files")."""

from __future__ import annotations

from dataclasses import dataclass

from crm_hygiene.policy import Policy


@dataclass(frozen=True)
class DropKind:
    """One inbox folder's file format and how its rows reach the CRM."""

    name: str
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...]
    # Column whose values must come from a closed set, and the set's name in
    # the policy ("source" for research, "channel" for enquiries).
    value_set_column: str | None

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.required_columns + self.optional_columns

    def allowed_values(self, policy: Policy) -> frozenset[str]:
        if self.name == "research":
            return frozenset(policy.sources.research.values)
        if self.name == "enquiries":
            return frozenset(policy.sources.enquiries.channels)
        return frozenset()


_PERSON = ("first_name", "last_name", "email", "phone", "company", "job_title", "country")

RESEARCH = DropKind(
    name="research",
    required_columns=_PERSON + ("source", "source_url", "collected_at"),
    optional_columns=("date_of_birth", "age", "notes"),
    value_set_column="source",
)
EVENTS = DropKind(
    name="events",
    required_columns=("event_name", "event_date") + _PERSON + ("marketing_consent",),
    optional_columns=("date_of_birth", "age", "notes"),
    value_set_column=None,
)
ENQUIRIES = DropKind(
    name="enquiries",
    required_columns=("received_at", "channel") + _PERSON + ("marketing_consent",),
    optional_columns=("referred_by_email", "notes"),
    value_set_column="channel",
)

PROSPECT_KINDS = {kind.name: kind for kind in (RESEARCH, EVENTS, ENQUIRIES)}
