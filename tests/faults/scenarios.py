"""The state each crash test starts from: drops waiting in the inbox and, for
the steps that act on people already held, a CRM that holds them.

Everything is deterministic (no clock, no randomness), so every fresh copy of a
scenario is the same bytes and the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from conftest import write_csv
from drops import RESEARCH_HEADER, research_row

from faults.run_step import STEPS, step_ingest, step_requests

SUPPRESSION_HEADER = ["reason", "email", "email_hmac", "phone", "domain", "scope", "added_at"]
REQUEST_HEADER = ["request_id", "type", "email", "received_at", "details"]
COUNTRIES = ("UK", "DE", "FR", "IE", "NL")


class Person(NamedTuple):
    first: str
    last: str
    email: str
    phone: str
    company: str


def person(i: int) -> Person:
    firm = i % 23
    phone = f"020 7946 {i:04d}" if i % 3 == 0 else ""
    return Person(f"Crashfirst{i}", f"Crashlast{i}", f"crash.person{i}@firm{firm}.example.com", phone,
                  f"Firm {firm} Ltd")


def _research_rows(indices, *, variant: bool = False, collected: str = "2026-03-01",
                   children: bool = True) -> list[list[str]]:
    rows = []
    for i in indices:
        p = person(i)
        email = p.email
        if variant:  # the same mailbox as another file writes it: case, +tag, spaces
            local, domain = email.split("@")
            email = f" {local.upper()}+news@{domain.upper()} "
        notes = "Mentioned her diabetes at the stand" if i % 41 == 0 else ""
        dob = "2014-05-01" if children and i % 37 == 0 else ""  # a child: removed at admission, scrubbed from the drop
        title = "Year 10 pupil" if i % 53 == 0 else "Head of Data"  # queued for a minor review
        rows.append(research_row(p.first, p.last, email, phone=p.phone, company=p.company, title=title,
                                 country=COUNTRIES[i % len(COUNTRIES)], collected=collected, dob=dob, notes=notes))
    return rows


def _bad_rows(indices) -> list[list[str]]:
    """Rows the checks refuse (quarantined), still carrying the person's email and name."""
    return [research_row(person(i).first, person(i).last, person(i).email, country="Atlantis", source="gossip")
            for i in indices]


def research_drops(inbox: Path, *, children: bool = True) -> None:
    """Two research drops that overlap (people merge across them)."""
    write_csv(inbox / "a_first.csv", RESEARCH_HEADER,
              _research_rows(range(0, 150), children=children) + _bad_rows(range(300, 306)))
    write_csv(inbox / "b_second.csv", RESEARCH_HEADER,
              _research_rows(range(100, 220), variant=True, collected="2026-06-01", children=children)
              + _bad_rows(range(5, 8)))


def _held_crm(engine, data: Path) -> None:
    """A CRM holding people 0..149 (6 more only in quarantine, 4 held ones also there), drops archived."""
    write_csv(data / "inbox" / "research" / "a_first.csv", RESEARCH_HEADER,
              _research_rows(range(0, 150)) + _bad_rows(range(300, 306)) + _bad_rows(range(60, 64)))
    step_ingest(engine, data)


def setup_ingest(engine, data: Path) -> None:
    research_drops(data / "inbox" / "research", children=False)


def setup_ingest_with_children(engine, data: Path) -> None:
    research_drops(data / "inbox" / "research")


def _suppression_lists(inbox: Path) -> None:
    rows = [["unsubscribe", f" {person(i).email.upper()} ", "", "", "", "", "2026-11-01"] for i in range(0, 40)]
    rows += [["tps", "", "", person(i).phone, "", "phone", "2026-11-01"] for i in range(42, 90, 3)]
    rows += [["complaint", person(i).email.replace("@", "+x@"), "", "", "", "", "2026-11-02"] for i in range(90, 110)]
    rows += [["unsubscribe", "not-an-address", "", "", "", "", "2026-11-02"]]  # quarantined
    write_csv(inbox / "s1_lists.csv", SUPPRESSION_HEADER, rows)
    write_csv(inbox / "s2_domain.csv", SUPPRESSION_HEADER,
              [["manual", "", "", "", "firm7.example.com", "", "2026-11-03"]])


def setup_suppression(engine, data: Path) -> None:
    _held_crm(engine, data)
    _suppression_lists(data / "inbox" / "suppression")


def setup_rejected_drop(engine, data: Path) -> None:
    """A list that cannot be read (no reason column) between two that can."""
    _held_crm(engine, data)
    inbox = data / "inbox" / "suppression"
    _suppression_lists(inbox)
    write_csv(inbox / "s15_broken.csv", ["email"], [["someone@firm1.example.com"]])


# Erased by a request, or by an erasure list (by email, or by phone).
ERASED_BY_REQUEST = (5, 6, 60)      # 60 is also in quarantine
ERASED_BY_LIST = (50, 51, 61, 303)  # 61 in quarantine too; 303 only in quarantine
ERASED_BY_PHONE = (63,)
EARLIER_ANSWERS = (5, 6, 50, 51)    # access answers already sent to people about to be erased


def _erasure_drops(data: Path) -> None:
    write_csv(data / "inbox" / "requests" / "erase.csv", REQUEST_HEADER,
              [[f"ERA-{i}", "erasure", person(i).email.upper(), "2026-11-20", ""] for i in ERASED_BY_REQUEST]
              + [["ERA-X", "erasure", "never.held@nowhere.example.com", "2026-11-20", ""]])
    rows = [["erasure", person(i).email, "", "", "", "", "2026-11-21"] for i in ERASED_BY_LIST]
    rows += [["erasure", "", "", person(i).phone, "", "", "2026-11-21"] for i in ERASED_BY_PHONE]
    write_csv(data / "inbox" / "suppression" / "erase_list.csv", SUPPRESSION_HEADER, rows)


def _earlier_answers(engine, data: Path, people) -> None:
    write_csv(data / "inbox" / "requests" / "earlier.csv", REQUEST_HEADER,
              [[f"ACC-{i}", "access", person(i).email, "2026-11-10", ""] for i in people])
    step_requests(engine, data)


def setup_erasure(engine, data: Path) -> None:
    _held_crm(engine, data)
    _earlier_answers(engine, data, (7,))  # someone who stays: their answer must stay too
    _erasure_drops(data)


def setup_erasure_with_answers(engine, data: Path) -> None:
    _held_crm(engine, data)
    _earlier_answers(engine, data, (*EARLIER_ANSWERS, 7))
    _erasure_drops(data)


def setup_requests(engine, data: Path) -> None:
    _held_crm(engine, data)
    inbox = data / "inbox" / "requests"
    write_csv(inbox / "q1.csv", REQUEST_HEADER,
              [[f"ACC-{i}", "access", person(i).email, "2026-11-20", ""] for i in range(10, 22)]
              + [[f"POR-{i}", "portability", person(i).email, "2026-11-20", ""] for i in range(30, 33)]
              + [["ACC-NOBODY", "access", "nobody@nowhere.example.com", "2026-11-20", ""]])
    write_csv(inbox / "q2.csv", REQUEST_HEADER,
              [[f"ACC-{i}", "access", person(i).email, "2026-11-21", ""] for i in range(40, 48)]
              + [["REC-1", "rectification", person(70).email, "2026-11-21", '{"job_title": "CDO"}'],
                 ["RES-1", "restriction", person(71).email, "2026-11-21", ""],
                 ["OBJ-1", "objection", person(72).email, "2026-11-21", ""],
                 ["BAD-1", "teleport", person(73).email, "2026-11-21", ""]])


APPLICANT_HEADER = ["applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                    "decided_at", "retain_for_future_roles", "dispute"]
HOLD_HEADER = ["email", "case_ref", "placed_at", "released_at"]
HELD_BY_CASE = (8, 120)  # a prospect, and an applicant, a legal hold names


def setup_retention(engine, data: Path) -> None:
    """Years of everything for the sweep: prospects (with children's hashes and
    reviews), quarantined rows, access answers, applicants of every kind,
    archived drops; a hold dropped for two people, read by the sweep itself."""
    from crm_hygiene.applicants import process_applicant_files
    from faults.run_step import FAULT_TODAY, _context, _run

    _held_crm(engine, data)
    _earlier_answers(engine, data, (7, 8, 9))
    inbox = data / "inbox" / "applicants"
    statuses = [("rejected", "no"), ("rejected", "yes"), ("hired", ""), ("pending", "")]
    write_csv(inbox / "apps.csv", APPLICANT_HEADER, [
        [f"APP-{i}", person(i).first, person(i).last, person(i).email, person(i).phone, "2026-01-05",
         statuses[i % 4][0], "" if statuses[i % 4][0] == "pending" else "2026-02-01", statuses[i % 4][1], ""]
        for i in range(110, 130)])
    process_applicant_files(engine, _context()[0], _run("ingest_applicants"), inbox, data / "archive" / "applicants")
    write_csv(data / "inbox" / "legal_holds" / "holds.csv", HOLD_HEADER,
              [[person(i).email, f"CASE-{i}", str(FAULT_TODAY), ""] for i in HELD_BY_CASE])


class Scenario(NamedTuple):
    step: str
    setup: object  # (engine, data folder) -> None


SCENARIOS = {
    "ingest": Scenario("ingest", setup_ingest),
    # Children in the drops: removed at admission, and their rows scrubbed from the archived drop.
    "ingest_with_children": Scenario("ingest", setup_ingest_with_children),
    "suppression": Scenario("suppression", setup_suppression),
    "erasure": Scenario("erasure", setup_erasure),
    "requests": Scenario("requests", setup_requests),
    # A drop that is rejected, between two that load (its crash window is fixed in the drop layer).
    "rejected_drop": Scenario("suppression", setup_rejected_drop),
    # Erasing people whose access answers were sent (the answer files must go, crash or not).
    "erasure_with_answers": Scenario("erasure", setup_erasure_with_answers),
    # Years later: prospects anonymised, the rest deleted, files removed, two people held.
    "retention": Scenario("retention", setup_retention),
}
assert {s.step for s in SCENARIOS.values()} == set(STEPS)
