"""Each inbox drop kind as the corpus sees it: its header, a valid row, where a
hostile value goes, how to run its inbox and how to count the good rows loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from drops import ENQUIRY_HEADER, EVENT_HEADER, KEYS, POLICY, RESEARCH_HEADER
from sqlalchemy import Engine, bindparam, text

from crm_hygiene.ingest.kinds import ENQUIRIES, EVENTS, RESEARCH
from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.minor_review import run_minor_reviews
from crm_hygiene.normalise.email_address import canonical_email, email_match_key
from crm_hygiene.run import RunInfo
from crm_hygiene.subject_requests import process_inbox
from crm_hygiene.suppression import sync_inbox

SUPPRESSION_HEADER = ["reason", "email", "email_hmac", "phone", "domain", "scope", "added_at"]
REQUEST_HEADER = ["request_id", "type", "email", "received_at", "details"]
REVIEW_HEADER = ["prospect_id", "decision"]
# Kinds without a free-text column get this extra one (ignored by the reader)
# to carry text cases: the row must still load.
COMMENT = "comment"
EMAIL_DOMAIN = "acme-corpus.com"


class Folders(NamedTuple):
    """Where one kind's run reads and writes, under one data folder."""

    inbox: Path
    archive: Path
    exports: Path


class LongCell(NamedTuple):
    """The column whose length limit a kind's long-field cases probe."""

    column: str
    limit: int
    at_limit: Callable[[str], str] | None  # a valid value exactly `limit` long (None: none is valid)
    over: Callable[[int], str]  # a value `n` characters long, over any limit
    over_codes: tuple[str, ...]  # any of these reasons is right for it


class DropKindAdapter(NamedTuple):
    name: str
    header: list[str]
    good_row: Callable[[int, str], dict[str, str]]  # (i, case tag) -> a valid row by column
    run: Callable[[Engine, Folders, RunInfo], dict]
    loaded: Callable[[Engine, list[dict[str, str]]], int]  # how many of these good rows are held
    prospect: bool  # rows become people: stored text can be read back from `prospects`
    text_column: str  # a free-text cell a hostile text goes in
    id_column: str  # the identifying cell checked for syntax
    id_invalid: str  # its reason code
    required_to_drop: str  # a required column: without it the file is rejected
    date_column: str | None
    digits_column: str | None  # a number cell: odd digits ('²', '٣') must be refused
    digits_invalid: str | None
    long_cell: LongCell
    plants_ids: bool  # whether good rows' ids are personal data (never in reasons or audit)

    @property
    def has_comment(self) -> bool:
        return self.text_column == COMMENT


def good_email(i: int, tag: str) -> str:
    return f"good{i}.{tag}@{EMAIL_DOMAIN}".lower()


def _person(i: int, tag: str) -> dict[str, str]:
    return {"first_name": "Goodname", "last_name": f"Tester{tag.title().replace('_', '')}{i}",
            "email": good_email(i, tag), "phone": "", "company": "Acme Ltd", "job_title": "Engineer",
            "country": "UK"}


def _research_row(i: int, tag: str) -> dict[str, str]:
    return {**_person(i, tag), "source": "linkedin", "source_url": "", "collected_at": "2026-03-01",
            "date_of_birth": "", "age": "", "notes": ""}


def _event_row(i: int, tag: str) -> dict[str, str]:
    return {"event_name": "DataConf", "event_date": "2026-05-01", **_person(i, tag), "marketing_consent": "yes",
            "date_of_birth": "", "age": "", "notes": ""}


def _enquiry_row(i: int, tag: str) -> dict[str, str]:
    return {"received_at": "2026-06-01", "channel": "web_form", **_person(i, tag), "marketing_consent": "yes",
            "referred_by_email": "", "notes": ""}


def _suppression_row(i: int, tag: str) -> dict[str, str]:
    return {"reason": "unsubscribe", "email": good_email(i, tag), "email_hmac": "", "phone": "", "domain": "",
            "scope": "", "added_at": "2026-11-01", COMMENT: ""}


def _request_row(i: int, tag: str) -> dict[str, str]:
    return {"request_id": f"{tag}-{i}", "type": "access", "email": good_email(i, tag),
            "received_at": "2026-11-20", "details": "", COMMENT: ""}


def _review_row(i: int, tag: str) -> dict[str, str]:
    return {"prospect_id": str(1000 + i), "decision": "adult", COMMENT: ""}


def _count_in(engine: Engine, sql: str, values: list[str]) -> int:
    if not values:
        return 0
    with engine.connect() as conn:
        return conn.execute(text(sql).bindparams(bindparam("v", expanding=True)), {"v": values}).scalar_one()


def _prospects_loaded(engine: Engine, rows: list[dict[str, str]]) -> int:
    return _count_in(engine, "SELECT COUNT(*) FROM prospects WHERE email IN :v", [r["email"] for r in rows])


def _suppression_loaded(engine: Engine, rows: list[dict[str, str]]) -> int:
    hashes = [KEYS.current.digest(email_match_key(canonical_email(r["email"]))) for r in rows]
    return _count_in(engine, "SELECT COUNT(*) FROM suppression_list WHERE key_type = 'email' AND key_hash IN :v",
                     hashes)


def _requests_loaded(engine: Engine, rows: list[dict[str, str]]) -> int:
    return _count_in(engine, "SELECT COUNT(*) FROM data_subject_requests WHERE request_id IN :v",
                     [r["request_id"] for r in rows])


def _reviews_loaded(engine: Engine, rows: list[dict[str, str]]) -> int:
    # A decision naming nobody under review leaves no row of its own: the
    # registry's count of good rows is what there is to check (-1: not countable here).
    return -1


def _prospect_run(kind):
    def run(engine: Engine, folders: Folders, run: RunInfo) -> dict:
        return ingest_inbox(engine, kind, POLICY, KEYS, run, folders.inbox, folders.archive).as_dict()
    return run


def _suppression_run(engine: Engine, folders: Folders, run: RunInfo) -> dict:
    return sync_inbox(engine, POLICY, KEYS, run, folders.inbox, folders.archive).as_dict()


def _requests_run(engine: Engine, folders: Folders, run: RunInfo) -> dict:
    return process_inbox(engine, POLICY, KEYS, run, folders.inbox, folders.archive, folders.exports).as_dict()


def _reviews_run(engine: Engine, folders: Folders, run: RunInfo) -> dict:
    return run_minor_reviews(engine, POLICY, KEYS, run, folders.inbox, folders.archive).as_dict()


def _email_of_length(n: int) -> str:
    """A syntactically valid address exactly `n` (>= 200) characters long."""
    local = "l" * 64
    rest = n - len(local) - 1 - len(".com")
    labels = []
    while rest > 0:
        size = min(63, rest)
        if rest - size == 1:  # a lone '.' cannot end the domain
            size -= 1
        labels.append("d" * size)
        rest -= size + 1
    return f"{local}@{'.'.join(labels)}.com"


LIMITS = POLICY.input_validation.max_cell_length
_COMPANY = LongCell("company", LIMITS.limit("company"),
                    lambda tag: ("Long " + tag + " ").ljust(LIMITS.limit("company"), "x"), lambda n: "C" * n,
                    ("company_too_long",))


def _prospect_kind(name: str, header: list[str], good_row, kind, date_column: str, digits: bool) -> DropKindAdapter:
    return DropKindAdapter(
        name=name, header=header, good_row=good_row, run=_prospect_run(kind), loaded=_prospects_loaded,
        prospect=True, text_column="company", id_column="email", id_invalid="email_invalid",
        required_to_drop="email", date_column=date_column,
        digits_column="age" if digits else None, digits_invalid="age_invalid" if digits else None,
        long_cell=_COMPANY, plants_ids=True,
    )


KINDS: dict[str, DropKindAdapter] = {
    "research": _prospect_kind("research", RESEARCH_HEADER, _research_row, RESEARCH, "collected_at", True),
    "events": _prospect_kind("events", EVENT_HEADER, _event_row, EVENTS, "event_date", True),
    "enquiries": _prospect_kind("enquiries", ENQUIRY_HEADER, _enquiry_row, ENQUIRIES, "received_at", False),
    "suppression": DropKindAdapter(
        name="suppression", header=[*SUPPRESSION_HEADER, COMMENT], good_row=_suppression_row,
        run=_suppression_run, loaded=_suppression_loaded, prospect=False, text_column=COMMENT,
        id_column="email", id_invalid="email_invalid", required_to_drop="reason", date_column="added_at",
        digits_column=None, digits_invalid=None,
        long_cell=LongCell("email", LIMITS.limit("email"), lambda tag: _email_of_length(LIMITS.limit("email")),
                           lambda n: _email_of_length(n),
                           ("email_too_long", "email_invalid")),
        plants_ids=True,
    ),
    "requests": DropKindAdapter(
        name="requests", header=[*REQUEST_HEADER, COMMENT], good_row=_request_row, run=_requests_run,
        loaded=_requests_loaded, prospect=False, text_column=COMMENT, id_column="request_id",
        id_invalid="request_id_invalid", required_to_drop="type", date_column="received_at",
        digits_column="request_id", digits_invalid="request_id_invalid",
        long_cell=LongCell("request_id", LIMITS.limit("request_id"),
                           lambda tag: (tag + "-").ljust(LIMITS.limit("request_id"), "x"), lambda n: "R" * n,
                           ("request_id_too_long", "request_id_invalid")),
        plants_ids=False,  # request ids are named in the audit log by design
    ),
    "reviews": DropKindAdapter(
        name="reviews", header=[*REVIEW_HEADER, COMMENT], good_row=_review_row, run=_reviews_run,
        loaded=_reviews_loaded, prospect=False, text_column=COMMENT, id_column="prospect_id",
        id_invalid="prospect_id_invalid", required_to_drop="decision", date_column=None,
        digits_column="prospect_id", digits_invalid="prospect_id_invalid",
        long_cell=LongCell("prospect_id", LIMITS.limit("prospect_id"), None, lambda n: "7" * n,
                           ("prospect_id_too_long", "prospect_id_invalid")),
        plants_ids=False,  # prospect ids are not personal data
    ),
}
