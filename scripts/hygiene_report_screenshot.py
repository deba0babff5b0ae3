"""The README's screenshot of the hygiene report (docs/hygiene_report.png), from a demo-like CRM.

    .venv/bin/python scripts/hygiene_report_screenshot.py [--days 90] [--out docs/hygiene_report.png]

A report needs days behind it, and the pipeline stamps what it does with the wall clock. So this
runs the real pipelines (the demo's sample generator, suppression lists, requests, review decisions,
the retention sweep) once per day for the last `--days` days, each day with the clock the pipeline
reads (crm_hygiene.run.utc_now and the modules that imported it) set to that day, into a throwaway
SQLite CRM and data folder; then writes the report as of today and has Debian's Chromium
(/usr/bin/chromium, via Playwright) take the picture of its top. Fictional people only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import random
import secrets
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from sqlalchemy import text  # noqa: E402

import crm_hygiene.run as run_module  # noqa: E402
from crm_hygiene.db import make_engine, upgrade_schema  # noqa: E402
from crm_hygiene.hygiene_report import write_hygiene_report  # noqa: E402
from crm_hygiene.ingest.kinds import PROSPECT_KINDS  # noqa: E402
from crm_hygiene.ingest.pipeline import ingest_inbox  # noqa: E402
from crm_hygiene.keys import parse_hash_keys  # noqa: E402
from crm_hygiene.minor_review import run_minor_reviews  # noqa: E402
from crm_hygiene.policy import load_policy  # noqa: E402
from crm_hygiene.retention.sweep import run_retention_sweep  # noqa: E402
from crm_hygiene.run import RunInfo  # noqa: E402
from crm_hygiene.sample_data import generate_inbox  # noqa: E402
from crm_hygiene.subject_requests import process_inbox  # noqa: E402
from crm_hygiene.suppression import sync_inbox  # noqa: E402

REAL_UTC_NOW = run_module.utc_now
RESEARCH_HEADER = ["first_name", "last_name", "email", "phone", "company", "job_title", "country", "source",
                   "source_url", "collected_at"]
CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def clock_at(moment: datetime):
    """The pipeline's clock (every crm_hygiene module's utc_now) reads `moment`, a second more each call."""
    ticks = iter(range(10**9))

    def fake_now() -> datetime:
        return moment + timedelta(seconds=next(ticks))

    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("crm_hygiene") and getattr(m, "utc_now", None) is REAL_UTC_NOW]
    for module in patched:
        module.utc_now = fake_now
    try:
        yield
    finally:
        for module in patched:
            module.utc_now = REAL_UTC_NOW


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def held_emails(engine, status: str, n: int, rng: random.Random) -> list[str]:
    with engine.connect() as conn:
        emails = [r[0] for r in conn.execute(text(
            "SELECT email FROM prospects WHERE status = :s AND email IS NOT NULL ORDER BY prospect_id"), {"s": status})]
    return rng.sample(emails, min(n, len(emails)))


def import_all() -> None:
    """Every crm_hygiene module loaded now, so that clock_at finds each one that reads the clock."""
    import importlib
    import pkgutil

    import crm_hygiene

    for info in pkgutil.walk_packages(crm_hygiene.__path__, "crm_hygiene."):
        importlib.import_module(info.name)


def simulate(data: Path, engine, days: int, today: date) -> None:
    import_all()
    policy = load_policy()
    keys = parse_hash_keys(f"screenshot:{secrets.token_urlsafe(24)}")
    rng = random.Random(13)
    suppressed: list[str] = []
    for i in range(days):
        day = today - timedelta(days=days - 1 - i)
        with clock_at(datetime.combine(day, time(6, rng.randrange(60)))):
            def run(dag_id: str, day: date = day) -> RunInfo:
                return RunInfo(dag_id, f"sim_{day}", day, started_at=run_module.utc_now())

            if day.weekday() < 5 or i == days - 1:  # lists arrive on working days
                generate_inbox(data, rows=rng.randrange(90, 260), seed=500 + i, today=day)
                if i == 2:  # contacts from long ago: anonymised once six years have passed
                    write_rows(data / "inbox" / "research" / "old_contacts.csv", RESEARCH_HEADER,
                               [[f"Old{n}", "Contact", f"old.contact{n}@example.com", "", "Oldco Ltd", "CTO", "UK",
                                 "linkedin", "", (day - timedelta(days=6 * 366 - 20)).isoformat()] for n in range(8)])
                if suppressed and i % 4 == 1:  # people on a list come back in a later list: blocked
                    write_rows(data / "inbox" / "research" / f"returning_{i}.csv", RESEARCH_HEADER,
                               [["Back", "Again", email, "", "Backco Ltd", "CTO", "UK", "linkedin", "", ""]
                                for email in suppressed[-3:]])
                if i % 9 == 4:  # a list exported with the wrong columns: rejected
                    write_rows(data / "inbox" / "events" / f"wrong_columns_{i}.csv", ["event", "name"],
                               [["Expo", "Someone"]])
                for kind in ("research", "events", "enquiries"):
                    ingest_inbox(engine, PROSPECT_KINDS[kind], policy, keys, run(f"ingest_{kind}"),
                                 data / "inbox" / kind, data / "archive" / kind)
            if i % 3 == 2:
                chosen = held_emails(engine, "active", 4, rng)
                suppressed += chosen[:3]
                write_rows(data / "inbox" / "suppression" / f"list_{i}.csv", ["reason", "email"],
                           [[r, e] for r, e in zip(("unsubscribe", "hard_bounce", "complaint", "erasure"), chosen,
                                                   strict=False)])
                sync_inbox(engine, policy, keys, run("sync_suppression_lists"), data / "inbox" / "suppression",
                           data / "archive" / "suppression")
            if i % 5 == 0 or i == 1:
                people = held_emails(engine, "active", 3, rng)
                rows = [[f"SIM-{i}-{n}", kind, email, (day - timedelta(days=rng.randrange(0, 4))).isoformat(), ""]
                        for n, (kind, email) in enumerate(zip(("access", "erasure", "objection"), people,
                                                              strict=False))]
                if i == 1:  # a correction nobody can apply from the file: open until a person answers
                    rows.append([f"SIM-{i}-open", "rectification", people[0], (day - timedelta(days=12)).isoformat(),
                                 '{"favourite_colour": "blue"}'])
                write_rows(data / "inbox" / "requests" / f"requests_{i}.csv",
                           ["request_id", "type", "email", "received_at", "details"], rows)
                process_inbox(engine, policy, keys, run("process_data_subject_requests"), data / "inbox" / "requests",
                              data / "archive" / "requests", data / "exports" / "dsr")
            if i % 4 == 3:
                with engine.connect() as conn:
                    waiting = [r[0] for r in conn.execute(text(
                        "SELECT prospect_id FROM minor_reviews WHERE status = 'open' ORDER BY review_id"))]
                write_rows(data / "inbox" / "reviews" / f"decisions_{i}.csv", ["prospect_id", "decision"],
                           [[str(pid), "minor" if n % 3 == 0 else "adult"] for n, pid in enumerate(waiting[:5])])
            run_minor_reviews(engine, policy, keys, run("review_minors"), data / "inbox" / "reviews",
                              data / "archive" / "reviews")
            run_retention_sweep(engine, policy, keys, run("retention_sweep"), data, force=True)
        print(f"  {day}: simulated", flush=True)


def screenshot(page_path: Path, out: Path, charts: int) -> None:
    """The page's top, down to the end of its first `charts` charts (a small PNG for the README)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(offline=True, viewport={"width": 1200, "height": 900}).new_page()
        page.goto(page_path.as_uri(), wait_until="load")
        last = page.locator("figure.card").nth(charts - 1).bounding_box()
        page.screenshot(path=str(out), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1200, "height": last["y"] + last["height"] + 16})
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90, help="days of runs to simulate")
    parser.add_argument("--charts", type=int, default=4, help="charts the picture shows (from the top)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "hygiene_report.png")
    parser.add_argument("--keep", type=Path, help="also copy the report's HTML here")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="hygiene-shot-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        engine = make_engine(f"sqlite:///{data / 'crm.db'}")
        upgrade_schema(engine)
        simulate(data, engine, args.days, today)
        page, _report = write_hygiene_report(engine, load_policy(), today, data)
        if args.keep:
            args.keep.write_bytes(page.read_bytes())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, args.out, args.charts)
    print(f"{args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
