"""Partner reports benchmark (part of `make bench`).

A CRM of 1,000,000 prospects (``at_scale.load_prospects``: synthetic people
with keyed hashes and one ``prospect_sources`` row each): 30 countries, a few
big markets and a long tail, 2% with none; the five research sources, events
and enquiries; about 10,800 distinct job titles (one in ten without); 90%
active, 5% anonymised (as the retention sweep leaves them: identifiers gone,
the title replaced by its band, dates to the month), the rest suppressed,
restricted or under minor review; first seen over two years; one in eight
with a personal address, some disposable or referred only, so about four in
five are in ``marketing_prospects``. The run's logical date is 2026-12-01,
a monthly release, and every report of the shipped policy is released:
``northwind_events`` (country x source, ``prospects_held`` and
``contactable_now``, suppression) and ``contoso_research`` (seniority band,
differential privacy). Per backend, two measurements over the same rows:

* ``floor``: what any implementation must at least do, one read-only
  transaction with the report's ``work_mem`` running bare ``GROUP BY``s that
  compute the same numbers: ``country, source`` with ``COUNT(*)`` and the
  contactable count (the floor includes no join: the ``marketing_prospects``
  view is a filter on ``prospects`` itself, so its ``WHERE`` is evaluated on
  the row, which gives the same number in the same scan; the bench checks
  every published cell against the floor's), and ``job_title, status`` for
  the seniority report (a title is banded by the policy's patterns, which SQL
  cannot write portably, so any implementation must fetch the counts per
  title; the status is needed because an anonymised row's title is already
  its band);
* ``report``: ``release_reports(every_report=True)``, the whole call:
  counting (``ReleaseSummary.seconds_counting``) and disclosure control
  (``seconds_disclosure_control``: noise, suppression, the LP audit, the CSV
  and the Great Expectations export gate), then storing the release and
  writing the files. Each measurement starts with no GX context, as a release
  in a fresh task process does; the libraries' imports are timed on their own,
  once, and are in no figure.

``x floor`` = report seconds / floor seconds, for the whole call and for its
counting alone; the target (from the issue) is 2.0 or less. A miss prints
FAIL; the exit status stays 0 (a report, not a gate).

Fairness as in the retention bench (``at_scale.BenchDatabases``): the rows
are loaded once per backend into a template (untimed); every measurement
runs on its own fresh copy (so no release ledger or suppression pattern
carries over: the DP budget is never spent), after a checkpoint and an OS
``sync``; ``--rounds`` (default 3) pairs run with the order alternating; the
medians are reported, and every sample. Per phase: the release's steps are
timed by wrapping them in place, every SQL statement and COMMIT by engine
hooks (until its first row: SQLite computes a ``GROUP BY``'s later groups
while they are fetched, so its statement times undercount; the phases hold
the fetching).

Results also go to ``bench/out/partner_results.md``.
"""

from __future__ import annotations

import csv
import random
import shutil
import sys
import time
from datetime import date, datetime, timedelta

from at_scale import (
    OUT_DIR,
    BenchDatabases,
    Clock,
    bench_main,
    load_prospects,
    median,
    median_clock,
    statement_hooks,
    synthetic_person,
    wrapped,
)

PROSPECTS = 1_000_000
LOGICAL_DATE = date(2026, 12, 1)  # a monthly release; every report is released (every_report=True)
PERIOD_END = datetime(2026, 12, 2)  # releases.py: people first seen before the day after the period
TARGET = 2.0
DATABASES = BenchDatabases("crm_bench_partners_")
WORK = OUT_DIR / "partner_work"

# A UK-based B2B list: a few big markets and a long tail (each country about 0.72 of the one before),
# so the smallest countries' cells are a handful of people and suppression has work to do.
COUNTRIES = ("GB", "US", "DE", "FR", "NL", "IE", "ES", "IT", "SE", "BE", "CH", "DK", "NO", "AT", "PL",
             "FI", "PT", "CA", "AU", "IN", "SG", "AE", "CZ", "ZA", "LU", "BR", "JP", "GR", "HU", "RO")
COUNTRY_WEIGHTS = [0.72 ** k for k in range(len(COUNTRIES))]
NO_COUNTRY = 0.02
# Research sources (the policy's values), then events and enquiries as the ingest stores them.
SOURCES = ("linkedin", "search_engine", "company_website", "public_register", "data_research", "event", "enquiry")
SOURCE_WEIGHTS = (0.34, 0.14, 0.12, 0.04, 0.08, 0.17, 0.11)
STATUSES = ("active", "anonymised", "suppressed", "restricted", "minor_review")
STATUS_WEIGHTS = (0.90, 0.05, 0.035, 0.01, 0.005)
FIRST_SEEN_FROM = datetime(2024, 12, 8, 8)  # first seen over the two years to a week after the period
SPREAD_MINUTES = 2 * 365 * 24 * 60
_COUNTED = ("active", "anonymised")

# The floor: bare GROUP BYs over the same rows, computing the same numbers (see the docstring).
# `marketable` is the marketing_prospects view's WHERE (migration 0001), on the row itself.
FLOOR_SQL = {
    "prospects_by_country_and_source": (
        "SELECT COALESCE(country, 'unknown'), source, COUNT(*), "
        "SUM(CASE WHEN status = 'active' AND email IS NOT NULL AND email_is_disposable = FALSE "
        "AND referred_only = FALSE AND (lawful_basis = 'consent' OR (lawful_basis = 'legitimate_interests' "
        "AND email_is_personal = FALSE)) THEN 1 ELSE 0 END) "
        "FROM prospects WHERE status IN ('active', 'anonymised') AND first_seen_at < :period_end "
        "GROUP BY COALESCE(country, 'unknown'), source"),
    "prospects_by_seniority": (
        "SELECT job_title, status, COUNT(*) FROM prospects "
        "WHERE status IN ('active', 'anonymised') AND first_seen_at < :period_end GROUP BY job_title, status"),
}


def policy_and_run():
    from crm_hygiene.policy import load_policy
    from crm_hygiene.run import RunInfo

    return load_policy(), RunInfo("partner_aggregate_reports", "bench", LOGICAL_DATE, datetime(2026, 12, 1, 4))


# --- the data -----------------------------------------------------------------

def partner_rows(policy):
    """row_for(i, key) for at_scale.load_prospects: country, source, status, lawful basis, flags and dates
    drawn from random.Random(i) (the same person whatever the order of loading)."""
    from crm_hygiene.seniority import SeniorityBands

    bands = SeniorityBands(policy.retention.anonymise)
    band_of = {}

    def row_for(i: int, key) -> dict:
        draw = random.Random(i)
        country = None if draw.random() < NO_COUNTRY else draw.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        source = draw.choices(SOURCES, SOURCE_WEIGHTS)[0]
        status = draw.choices(STATUSES, STATUS_WEIGHTS)[0]
        consent = source in ("event", "enquiry") and draw.random() < 0.55
        first = FIRST_SEEN_FROM + timedelta(minutes=draw.randrange(SPREAD_MINUTES))
        last = first + timedelta(days=draw.randrange(200))
        person = synthetic_person(
            i, key, first, last, country=country, source=source, status=status,
            lawful_basis="consent" if consent else "legitimate_interests",
            email_is_personal=draw.random() < 0.12, email_is_disposable=draw.random() < 0.01,
            referred_only=source == "enquiry" and draw.random() < 0.05)
        if status == "anonymised":  # as the retention sweep leaves them: a band, months, no identifiers
            title = person["job_title"]
            if title is not None and title not in band_of:
                band_of[title] = bands.band(title)
            month = {"first_seen_at": f"{first:%Y-%m}-01 00:00:00.000000",
                     "last_contact_at": f"{last:%Y-%m}-01 00:00:00.000000"}
            person.update({c: None for c in ("email", "email_match_key", "first_name", "last_name", "name_key",
                                             "company", "company_key", "phone_e164", "email_hash", "domain_hash",
                                             "phone_hash", "hash_key_id")},
                          match_key=f"anonymised:{i + 1}", job_title=band_of.get(title),
                          created_at=month["first_seen_at"], updated_at=month["last_contact_at"], **month)
        return person

    return row_for


# --- the two measurements ---------------------------------------------------

def run_floor(engine) -> tuple[float, dict, Clock]:
    """Both bare GROUP BYs in one read-only transaction with the report's work_mem."""
    from sqlalchemy import DateTime, bindparam, text

    from crm_hygiene.db import use_large_work_mem

    statements = {name: text(sql).bindparams(bindparam("period_end", type_=DateTime))
                  for name, sql in FLOOR_SQL.items()}
    clock = Clock()
    found = {}
    with statement_hooks(engine, clock):
        started = time.perf_counter()
        with engine.begin() as conn:
            use_large_work_mem(conn)
            for name, statement in statements.items():
                found[name] = conn.execute(statement, {"period_end": PERIOD_END}).all()
        seconds = time.perf_counter() - started
    return seconds, found, clock


def report_phases(clock: Clock):
    """The release's steps, wrapped in place and labelled (restored after)."""
    import scipy.optimize

    from crm_hygiene.partner_reports import counts, disclosure, gate, releases

    return wrapped(clock, [
        (releases, "_release_one", lambda a: f"1 release {a[3].label}"),
        (counts, "count", lambda a: f"2 count: SQL by {', '.join(a[2])}"),
        (releases, "noisy", "3 noise (OpenDP)"),
        (releases, "protect", "4 suppression: protect (primary, complementary, its audits)"),
        (disclosure, "intervals", "4 audit: LP intervals (every call)"),
        (scipy.optimize, "linprog", "4 audit: one LP (HiGHS)"),
        (releases, "audit", "4 audit: the release's own audit"),
        (releases, "csv_text", "5 CSV text"),
        (releases, "gate_failures", "6 export gate (Great Expectations)"),
        (gate, "_source", "6 export gate: GX context"),
        (gate, "_validate", "6 export gate: one GX validation"),
        (releases, "write_export", "7 write files"),
    ])


def run_report(engine, policy, run) -> tuple[float, object, Clock]:
    from crm_hygiene.partner_reports import gate
    from crm_hygiene.partner_reports.releases import release_reports

    shutil.rmtree(WORK, ignore_errors=True)
    gate._source.cache_clear()  # a release runs in a fresh task process: it creates its GX context
    clock = Clock()
    with statement_hooks(engine, clock), report_phases(clock):
        started = time.perf_counter()
        with clock.phase("total: release_reports"):
            summary = release_reports(engine, policy, run, WORK / "exports", every_report=True)
        seconds = time.perf_counter() - started
    return seconds, summary, clock


def published(report: str, partner: str) -> list[dict]:
    path = WORK / "exports" / "partners" / partner / f"{report}_{LOGICAL_DATE}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def mismatches(floor: dict) -> int:
    """Published country x source cells (both measures) that differ from the floor's numbers."""
    exact = {(c, s): (n, m) for c, s, n, m in floor["prospects_by_country_and_source"]}
    wrong = 0
    for row in published("prospects_by_country_and_source", "northwind_events"):
        key = (row["country"], row["source"])
        if "ALL" in key:
            continue
        held, contactable = exact.get(key, (0, 0))
        wrong += row["prospects_held"] not in ("", str(held))
        wrong += row["contactable_now"] not in ("", str(int(contactable or 0)))
    return wrong


def exact_bands(engine, policy) -> dict[str, int]:
    """The report's own counting by seniority band, before noise (not timed)."""
    from crm_hygiene.partner_reports import counts

    with engine.begin() as conn:
        found = counts.count(conn, policy, ("seniority_band",), ("prospects_held",), PERIOD_END)["prospects_held"]
    return {key[0]: n for key, n in found.items()}


def band_mismatches(policy, floor: dict, got: dict[str, int]) -> list[str]:
    """Bands whose exact count differs from the floor's titles banded here: an anonymised
    row's title is its band, any other's is banded by the policy's patterns."""
    from crm_hygiene.seniority import SeniorityBands

    bands = SeniorityBands(policy.retention.anonymise)
    expected: dict[str, int] = {}
    for title, status, n in floor["prospects_by_seniority"]:
        band = "unknown" if title is None else title if status == "anonymised" else bands.band(title)
        expected[band] = expected.get(band, 0) + n
    return [f"{b} {got.get(b, 0):,} not {expected.get(b, 0):,}" for b in sorted(set(expected) | set(got))
            if got.get(b, 0) != expected.get(b, 0)]


def first_use_imports() -> float:
    """Seconds to import what the release imports on first use (once per process, not in any figure)."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401
    import opendp.prelude  # noqa: F401
    import pandas  # noqa: F401
    import scipy.optimize  # noqa: F401

    return time.perf_counter() - started


def measure(backend: str, size: int, rounds: int, policy, run) -> dict:
    print(f"partner bench: {backend}: loading {size:,} prospects into a template (not timed) ...", file=sys.stderr)
    load_seconds = DATABASES.build_template(backend, lambda e: load_prospects(e, size, partner_rows(policy)))
    samples: dict[str, list] = {"floor": [], "report": []}
    floor_numbers, bands = None, None
    for r in range(rounds):
        for side in (("floor", "report") if r % 2 == 0 else ("report", "floor")):
            engine = DATABASES.fresh_copy(backend)
            if side == "floor":
                seconds, floor_numbers, clock = run_floor(engine)
                detail = {name: len(rows) for name, rows in floor_numbers.items()}
            else:
                seconds, summary, clock = run_report(engine, policy, run)
                detail = summary
                bands = bands or exact_bands(engine, policy)
            engine.dispose()
            print(f"partner bench: {backend}: {side} {seconds:.2f} s", file=sys.stderr)
            samples[side].append((seconds, detail, clock))
    reports = {name: len(published(name, partner)) for name, partner in (
        ("prospects_by_country_and_source", "northwind_events"), ("prospects_by_seniority", "contoso_research"))}
    return {"backend": backend, "load": load_seconds, "csv_rows": reports, "wrong": mismatches(floor_numbers),
            "bands_wrong": band_mismatches(policy, floor_numbers, bands), **samples}


# --- report -----------------------------------------------------------------

def _median_of(samples: list, value) -> float:
    return median([(value(s),) for s in samples])


def report_lines(results: list[dict], size: int, rounds: int, environment: str, imports: float) -> list[str]:
    lines = [
        "## Partner reports benchmark", "", environment, "",
        f"{size:,} prospects (30 countries and none, 7 sources, ~10,800 job titles; 90% active, 5% anonymised, "
        f"the rest suppressed, restricted or under minor review), first seen over two years; logical date "
        f"{LOGICAL_DATE}. `floor` = the bare `GROUP BY`s of the same rows computing the same numbers "
        "(country x source, the contactable count on the row; job title and status); `report` = "
        "`release_reports(every_report=True)`, the whole call (both partners' reports). Each on a fresh copy of "
        f"one loaded template database; {rounds} round{'s' if rounds != 1 else ''}"
        f"{', order alternating, medians' if rounds > 1 else ', floor first'}.", "",
        "| backend | floor s | report s | x floor | target 2x | counting s | x floor | target 2x | "
        "disclosure control s | floor groups | CSV rows | suppressed cells | load s (untimed) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: |",
    ]
    for r in results:
        floor, report = median(r["floor"]), median(r["report"])
        counting = _median_of(r["report"], lambda s: s[1].seconds_counting)
        control = _median_of(r["report"], lambda s: s[1].seconds_disclosure_control)
        summary = r["report"][0][1]
        lines.append(
            f"| {r['backend']} | {floor:.2f} | {report:.2f} | {report / floor:.2f} | "
            f"**{'PASS' if report / floor <= TARGET else 'FAIL'}** | {counting:.2f} | {counting / floor:.2f} | "
            f"**{'PASS' if counting / floor <= TARGET else 'FAIL'}** | {control:.2f} | "
            f"{' + '.join(f'{n:,}' for n in r['floor'][0][1].values())} | "
            f"{' + '.join(str(n) for n in r['csv_rows'].values())} | {summary.suppressed_cells} | {r['load']:.0f} |")
    lines += ["", "All samples (s): " + "; ".join(
        f"{r['backend']} floor {', '.join(f'{s[0]:.2f}' for s in r['floor'])}, report "
        f"{', '.join(f'{s[0]:.2f}' for s in r['report'])} (counting "
        f"{', '.join(f'{s[1].seconds_counting:.2f}' for s in r['report'])}, disclosure control "
        f"{', '.join(f'{s[1].seconds_disclosure_control:.2f}' for s in r['report'])})" for r in results),
        "", "Published country x source cells that differ from the floor's numbers: " + ", ".join(
            f"{r['backend']} {r['wrong']}" for r in results) + ". Seniority bands whose exact count (before "
        "noise) differs from the floor's titles banded: " + "; ".join(
            f"{r['backend']} {', '.join(r['bands_wrong']) or 'none'}" for r in results) + ".",
        "", f"Not in any figure: the release's first-use imports (Great Expectations, OpenDP, pandas, SciPy), "
        f"{imports:.2f} s here, once per task process whatever the CRM's size."]
    for r in results:
        report_clock, floor_clock = median_clock(r["report"]), median_clock(r["floor"])
        lines += ["", f"### Where the report's time goes: {r['backend']} (median sample)", "",
                  "| phase | calls | s | of which SQL + COMMIT s |", "| --- | ---: | ---: | ---: |"]
        for label in sorted(report_clock.phases):
            lines.append(f"| {label} | {report_clock.calls[label]} | {report_clock.phases[label]:.2f} | "
                         f"{report_clock.phase_sql[label]:.2f} |")
        lines += ["", "| statement (first words) | side | n | s |", "| --- | --- | ---: | ---: |"]
        for side, clock in (("floor", floor_clock), ("report", report_clock)):
            for label, (count, seconds) in sorted(clock.statements.items(), key=lambda kv: -kv[1][1]):
                if seconds >= 0.01:
                    lines.append(f"| `{label}` | {side} | {count} | {seconds:.2f} |")
        if report_clock.missing:
            lines += ["", "Not wrapped (renamed or removed): " + ", ".join(report_clock.missing)]
    return lines + [""]


def main() -> int:
    policy, run = policy_and_run()
    imports = first_use_imports()
    return bench_main(__doc__, DATABASES, "partner_results.md",
                      lambda backend, size, rounds: measure(backend, size, rounds, policy, run),
                      lambda results, size, rounds, environment: report_lines(results, size, rounds, environment,
                                                                              imports),
                      prospects=PROSPECTS, rounds=3, side="report")


if __name__ == "__main__":
    sys.exit(main())
