"""A small CRM built by real pipeline runs, with something in every chart of the hygiene report.

Used by tests/test_hygiene_report.py (the numbers against the database) and
tests/test_hygiene_report_browser.py (the page in a real browser). The
pipeline stamps what it does with the wall clock, so everything lands on
today's (UTC) date; `today` is that date.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import write_csv
from drops import EVENT_HEADER, KEYS, POLICY, RESEARCH_HEADER, event_row, ingest, requests, research_row, sync

from crm_hygiene.ingest.kinds import EVENTS, RESEARCH
from crm_hygiene.minor_review import run_minor_reviews
from crm_hygiene.retention.sweep import run_retention_sweep
from crm_hygiene.run import RunInfo, utc_now

# Everyone the drops name: none of it may reach the report.
NAMES = ("Annzq Leezq", "Bozq Ngzq", "Cyzq Oxzq", "Dizq Foxzq", "Edzq Halezq", "Flozq Reyeszq", "Ottozq Oldenzq",
         "Pipzq Youngzq", "Kimzq Grownzq", "Tiazq Tinyzq", "Badzq Mailzq", "Nowherezq Landzq", "Guszq Hayzq",
         "Halzq Iveszq", "Ivyzq Lanezq")
PEOPLE = (*(part for name in NAMES for part in name.split()), "@acme-zq.com", "zq@", "07700 900123", "7700900123")

# What the build does, as the report should count it.
EXPECTED = {
    "quarantined_codes": {"email_invalid": 1, "country_unrecognised": 1, "phone_invalid": 1,
                          "marketing_consent_invalid": 1},
    "blocked_suppressed": 2,  # Bo (unsubscribed) and Cy (erased) come back in r2.csv
    "minors_removed": 2,  # Tia refused at ingest (born 2015), Pip decided a minor
    "sent_to_review": 2,  # Pip and Kim
    "cleared_adult": 1,  # Kim
    "anonymised": 1,  # Otto, last contacted in 2019
    "erased": 2,  # Cy by the list's erasure entry, Di by a request
    "requests_received": 4,
    "requests_open": 2,  # two rectifications with details that cannot be applied
    "requests_overdue": 1,  # received 40 days ago
    "requests_due_soon": 1,  # received 27 days ago: due within the week
    "files_rejected": 1,
}


def build(crm, data_dir: Path):
    """Run every pipeline the report charts; returns the run's date (today, UTC)."""
    today = utc_now().date()
    ingest(crm, data_dir, RESEARCH, "r1.csv", RESEARCH_HEADER, [
        research_row("Annzq", "Leezq", "annzq@acme-zq.com"),
        research_row("Bozq", "Ngzq", "bozq@acme-zq.com"),
        research_row("Cyzq", "Oxzq", "cyzq@acme-zq.com"),
        research_row("Dizq", "Foxzq", "dizq@acme-zq.com"),
        research_row("Edzq", "Halezq", "edzq@acme-zq.com"),
        research_row("Flozq", "Reyeszq", "flozq@acme-zq.com"),
        research_row("Ottozq", "Oldenzq", "ottozq@acme-zq.com", collected="2019-01-01"),
        research_row("Pipzq", "Youngzq", "pipzq@acme-zq.com", title="Year 10 pupil"),
        research_row("Kimzq", "Grownzq", "kimzq@acme-zq.com", title="Pupil"),
        research_row("Tiazq", "Tinyzq", "tiazq@acme-zq.com", dob="2015-05-05"),
        research_row("Badzq", "Mailzq", "badzq@"),
        research_row("Nowherezq", "Landzq", "nowherezq@acme-zq.com", country="Atlantis", phone="07700 900123x"),
    ], run_id="r1")
    ingest(crm, data_dir, EVENTS, "e1.csv", EVENT_HEADER, [
        event_row("Annzq", "Leezq", "annzq@acme-zq.com", "yes"),  # merged into Ann
        event_row("Guszq", "Hayzq", "guszq@acme-zq.com", "no"),
        event_row("Halzq", "Iveszq", "halzq@acme-zq.com", "perhaps"),
    ], run_id="e1")
    write_csv(data_dir / "inbox" / "events" / "e2.csv", ["event_name", "first_name"], [["DataConf", "Annzq"]])
    ingest(crm, data_dir, EVENTS, "e3.csv", EVENT_HEADER, [], run_id="e2")  # finds e2.csv: rejected
    sync(crm, data_dir, "s1.csv", [["unsubscribe", "bozq@acme-zq.com", "", "", "", "", ""],
                                   ["erasure", "cyzq@acme-zq.com", "", "", "", "", ""]], today=today)
    ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Bozq", "Ngzq", "BOZQ@ACME-ZQ.com"), research_row("Cyzq", "Oxzq", "cyzq@acme-zq.com"),
        research_row("Ivyzq", "Lanezq", "ivyzq@acme-zq.com")], run_id="r2")
    requests(crm, data_dir, "q1.csv", [
        ["ACC-1", "access", "annzq@acme-zq.com", (today - timedelta(days=2)).isoformat(), ""],
        ["ERA-1", "erasure", "dizq@acme-zq.com", (today - timedelta(days=2)).isoformat(), ""],
        ["REC-1", "rectification", "edzq@acme-zq.com", (today - timedelta(days=40)).isoformat(), '{"salary": "1"}'],
        ["REC-2", "rectification", "flozq@acme-zq.com", (today - timedelta(days=27)).isoformat(), '{"salary": "1"}'],
    ], today=today)
    ids = dict(crm.rows("SELECT email, prospect_id FROM prospects WHERE status = 'minor_review'"))
    write_csv(data_dir / "inbox" / "reviews" / "d1.csv", ["prospect_id", "decision"],
              [[str(ids["pipzq@acme-zq.com"]), "minor"], [str(ids["kimzq@acme-zq.com"]), "adult"]])
    run_minor_reviews(crm.engine, POLICY, KEYS, RunInfo("review_minors", "m1", today),
                      data_dir / "inbox" / "reviews", data_dir / "archive" / "reviews")
    run_retention_sweep(crm.engine, POLICY, KEYS, RunInfo("retention_sweep", "s1", today), data_dir)
    return today
