"""Drop files for tests: the contract's headers, row builders, and running an ingest."""

from __future__ import annotations

import os
from datetime import date

from conftest import write_csv

from crm_hygiene.ingest.pipeline import ingest_inbox
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.policy import load_policy
from crm_hygiene.run import RunInfo
from crm_hygiene.subject_requests import process_inbox
from crm_hygiene.suppression import sync_inbox

RESEARCH_HEADER = ["first_name", "last_name", "email", "phone", "company", "job_title", "country",
                   "source", "source_url", "collected_at", "date_of_birth", "age", "notes"]
EVENT_HEADER = ["event_name", "event_date", "first_name", "last_name", "email", "phone", "company",
                "job_title", "country", "marketing_consent", "date_of_birth", "age", "notes"]
ENQUIRY_HEADER = ["received_at", "channel", "first_name", "last_name", "email", "phone", "company",
                  "job_title", "country", "marketing_consent", "referred_by_email", "notes"]
REQUEST_HEADER = ["request_id", "type", "email", "received_at", "details"]
SUPPRESSION_HEADER = ["reason", "email", "email_hmac", "phone", "domain", "scope", "added_at"]
TODAY = date(2026, 11, 24)
POLICY = load_policy()
KEYS = parse_hash_keys(os.environ["CRM_HASH_KEY"])


def research_row(first, last, email, *, phone="", company="Acme Ltd", title="CTO", country="UK",
                 source="linkedin", url="", collected="2026-03-01", dob="", age="", notes=""):
    return [first, last, email, phone, company, title, country, source, url, collected, dob, age, notes]


def event_row(first, last, email, consent, *, event="DataConf", day="2026-05-01", phone="", company="Acme Ltd",
              title="CTO", country="UK", dob="", age="", notes=""):
    return [event, day, first, last, email, phone, company, title, country, consent, dob, age, notes]


def enquiry_row(first, last, email, channel, consent, *, received="2026-06-01", referred_by=""):
    return [received, channel, first, last, email, "", "Acme Ltd", "CTO", "UK", consent, referred_by, ""]


def ingest(crm, data_dir, kind, name, header, rows, run_id="run-1"):
    inbox = data_dir / "inbox" / kind.name
    write_csv(inbox / name, header, rows)
    run = RunInfo(dag_id=f"ingest_{kind.name}", run_id=run_id, today=TODAY)
    return ingest_inbox(crm.engine, kind, POLICY, KEYS, run, inbox, data_dir / "archive" / kind.name).as_dict()


def requests(crm, data_dir, name, rows, today=TODAY, run_id=None):
    """Drop a requests file (none when `rows` is empty) and run the request DAG's work."""
    inbox = data_dir / "inbox" / "requests"
    if rows:
        write_csv(inbox / name, REQUEST_HEADER, rows)
    run = RunInfo(dag_id="process_data_subject_requests", run_id=run_id or name, today=today)
    return process_inbox(crm.engine, POLICY, KEYS, run, inbox, data_dir / "archive" / "requests",
                         data_dir / "exports" / "dsr").as_dict()


def sync(crm, data_dir, name, rows, keys=KEYS, today=TODAY):
    """Drop a suppression list and run the sync DAG's work."""
    inbox = data_dir / "inbox" / "suppression"
    write_csv(inbox / name, SUPPRESSION_HEADER, rows)
    run = RunInfo(dag_id="sync_suppression_lists", run_id=name, today=today)
    return sync_inbox(crm.engine, POLICY, keys, run, inbox, data_dir / "archive" / "suppression").as_dict()
