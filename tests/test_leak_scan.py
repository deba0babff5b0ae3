"""Planted people, run through the DAGs end to end as Airflow runs them, then
looked for everywhere the contract says they must not be (CONTRACT.md promises
1-3 and 6, and "personal data never in logs, XCom, audit_log").

The people (each with a distinctive name, email and phone nobody else has):
erased by a request (after an access answer was sent), erased by a suppression
list entry (likewise), quarantined as a bad row and then erased, only ever on a
suppression list (unsubscribe), in a malformed suppression row, a child (date of
birth under 16), one whose notes carry special-category data, the first row of
a headerless (rejected) drop, and one kept as a control that must be found where
data is allowed (so a scan that finds nothing cannot pass by being blind).

Places scanned (tests/leak_scan.py): every table of the CRM, every file of the
data folder (archive/, inbox/*/rejected/, exports/, reports/), Airflow's task
logs under $AIRFLOW_HOME/logs and every table of Airflow's metadata database
(XCom, rendered task fields, ...).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import REPO, fresh_pg_database, write_csv
from drops import EVENT_HEADER, RESEARCH_HEADER, event_row, research_row
from leak_scan import Hit, scan_database, scan_folder
from sqlalchemy import bindparam, create_engine, text

from crm_hygiene.db import make_engine, upgrade_schema

LOGICAL_DATE = datetime(2032, 1, 1, tzinfo=UTC)
REQUEST_HEADER = ["request_id", "type", "email", "received_at", "details"]
SUPPRESSION_HEADER = ["reason", "email", "email_hmac", "phone", "domain", "scope", "added_at"]
# What the contract forbids where (table names; data-folder path prefixes).
LIST_TABLES = ("suppression_list", "audit_log", "legal_holds", "data_subject_requests")


class Plant(NamedTuple):
    role: str
    first: str
    last: str
    email: str
    phone: str  # as dropped (UK national format)
    phone_e164: str

    @property
    def needles(self) -> tuple[str, ...]:
        return tuple(v for v in (self.first, self.last, self.email, self.phone, self.phone_e164) if v)


def _plant(n: int, role: str, *, phone: bool = True) -> Plant:
    words = "zero one two three four five six seven eight nine".split()
    return Plant(role, f"Zyqxplant{words[n]}", f"Qvleak{words[n]}", f"zq.leakplant{n}@example-plant.com",
                 f"020 7946 09{n:02d}" if phone else "", f"+44207946 09{n:02d}".replace(" ", "") if phone else "")


ERASED_BY_REQUEST = _plant(1, "erased by an erasure request")
ERASED_BY_LIST = _plant(2, "erased by a suppression list entry (reason erasure)")
QUARANTINED_ERASED = _plant(3, "in a quarantined row, then erased by a request")
QUARANTINED_LISTED = _plant(0, "in a quarantined row, then erased by a suppression list entry (email)")
QUARANTINED_PHONED = _plant(6, "in a quarantined row, then erased by a suppression list entry (phone only)")
UNSUBSCRIBED = _plant(4, "only on a suppression list (unsubscribe)", phone=False)
CHILD = _plant(5, "a child (date of birth under 16)")
MALFORMED_SUPPRESSION = _plant(7, "in a malformed suppression row", phone=False)
HEADERLESS = _plant(8, "first row of a headerless drop")
KEPT = _plant(9, "kept: the control")
SPECIAL_NOTE = "zyqxhealth diabetes"  # special-category text: redacted before storage
ERASED = (ERASED_BY_REQUEST, ERASED_BY_LIST, QUARANTINED_ERASED, QUARANTINED_LISTED, QUARANTINED_PHONED)
ALL_PLANTS = (*ERASED, UNSUBSCRIBED, CHILD, MALFORMED_SUPPRESSION, HEADERLESS, KEPT)


def _research(p: Plant, **kw) -> list[str]:
    return research_row(p.first, p.last, p.email, phone=p.phone, company="Plantco Ltd", title="Head of Data",
                        collected="2031-06-01", **kw)


def _drops_ingest(data: Path) -> None:
    rows = [_research(ERASED_BY_REQUEST), _research(ERASED_BY_LIST), _research(KEPT),
            _research(QUARANTINED_ERASED, country="Atlantis"),  # quarantined: country unrecognised
            _research(QUARANTINED_LISTED, country="Atlantis"),
            _research(QUARANTINED_PHONED, country="Atlantis"),
            _research(CHILD, dob="2020-03-01"),
            research_row("Sana", "Note", "sana.note@plantco.example", company="Plantco Ltd", title="CFO",
                         collected="2031-06-01", notes=f"Met at stand; {SPECIAL_NOTE} mentioned")]
    rows += [research_row(f"Filler{i}", f"Person{i}", f"filler{i}@plantco.example", company="Plantco Ltd",
                          collected="2031-06-01") for i in range(10)]
    write_csv(data / "inbox" / "research" / "r1.csv", RESEARCH_HEADER, rows)
    # No header: the first row is a person (the contract: rejected with a reason, run fails);
    # their address twice, as a sheet with "email" and "work email" columns would have it.
    headerless = event_row(HEADERLESS.first, HEADERLESS.last, HEADERLESS.email, "yes", phone=HEADERLESS.phone,
                           notes=HEADERLESS.email)
    write_csv(data / "inbox" / "events" / "e1.csv", headerless, [event_row("Ann", "Other", "ann@plantco.example", "no")])
    assert EVENT_HEADER  # the header it should have had


def _drops_access(data: Path) -> None:
    write_csv(data / "inbox" / "requests" / "q1.csv", REQUEST_HEADER, [
        ["ACC-1", "access", ERASED_BY_REQUEST.email, "2031-12-28", ""],
        ["ACC-2", "access", ERASED_BY_LIST.email, "2031-12-28", ""],
        ["ACC-9", "access", KEPT.email, "2031-12-28", ""]])


def _drops_erasure(data: Path) -> None:
    write_csv(data / "inbox" / "requests" / "q2.csv", REQUEST_HEADER, [
        ["ERA-1", "erasure", ERASED_BY_REQUEST.email.upper(), "2031-12-29", ""],
        ["ERA-3", "erasure", QUARANTINED_ERASED.email, "2031-12-29", ""]])
    write_csv(data / "inbox" / "suppression" / "s1.csv", SUPPRESSION_HEADER, [
        ["erasure", ERASED_BY_LIST.email, "", ERASED_BY_LIST.phone, "", "", "2031-12-30"],
        ["erasure", QUARANTINED_LISTED.email, "", "", "", "", "2031-12-30"],
        ["erasure", "", "", QUARANTINED_PHONED.phone, "", "", "2031-12-30"],
        ["unsubscribe", UNSUBSCRIBED.email, "", "", "", "", "2031-12-30"],
        ["bogus", MALFORMED_SUPPRESSION.email, "", "", "", "", "2031-12-30"]])


# (dag_id, drops to write before it, expected run state)
RUNS = (
    ("ingest_research_lists", _drops_ingest, "success"),
    ("ingest_event_lists", None, "failed"),  # the headerless drop is rejected: the run fails visibly
    ("process_data_subject_requests", _drops_access, "success"),
    ("process_data_subject_requests", _drops_erasure, "success"),
    ("sync_suppression_lists", None, "success"),
    ("hygiene_report", None, "success"),  # the data team's report: counts and codes only
)


class World(NamedTuple):
    backend: str
    states: list[tuple[str, str, str]]  # (dag_id, expected, got)
    crm: list[Hit]
    data: list[Hit]
    logs: list[Hit]
    metadata: list[Hit]
    log_text: str  # what the tasks logged, for the scan's own control
    xcom_rows: int  # XCom rows these runs left, likewise

    @property
    def everywhere(self) -> list[Hit]:
        return self.crm + self.data + self.logs + self.metadata


def _crm_url(backend: str, tmp: Path) -> tuple[str, object]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'crm.db'}", None
    return fresh_pg_database("leak_")


def _airflow_conn(backend: str, url: str) -> str:
    import json

    if backend == "sqlite":
        return json.dumps({"conn_type": "sqlite", "host": url.removeprefix("sqlite:///")})
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def task_output_to(path: Path):
    """What a task logs and prints while `dag.test` runs it, into files under `path`'s folder.

    `dag.test` runs tasks in this process and writes no task log files, so the
    log records (logging, at INFO and up) and everything written to stdout and
    stderr (file descriptors 1 and 2) are kept there for the scan instead.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.with_suffix(".out").open("wb") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    backend = request.param
    tmp = tmp_path_factory.mktemp(f"leaks-{backend}")
    data = tmp / "data"
    data.mkdir()
    url, drop = _crm_url(backend, tmp)
    upgrade_schema(make_engine(url))
    dagbag = DagBag(dag_folder=str(REPO / "dags"))
    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    task_logs = airflow_home / "logs" / f"leak_scan_{backend}"
    states = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_CRM_DB", _airflow_conn(backend, url))
        mp.setenv("CRM_DATA_DIR", str(data))
        for n, (dag_id, drops, expected) in enumerate(RUNS):
            if drops:
                drops(data)
            dag = dagbag.get_dag(dag_id)
            for task in dag.tasks:
                task.retries = 0
            with task_output_to(task_logs / f"{n}_{dag_id}.log"):
                state = dag.test(logical_date=LOGICAL_DATE).state
            states.append((dag_id, expected, state))
    needles = {n for p in ALL_PLANTS for n in p.needles} | {SPECIAL_NOTE}
    crm = make_engine(url)
    metadata = create_engine(conf.get("database", "sql_alchemy_conn"))
    found = World(
        backend, states,
        crm=scan_database(crm, needles, label=f"crm ({backend})"),
        data=scan_folder(data, needles, label="data"),
        logs=[h for h in scan_folder(airflow_home / "logs", needles, label="airflow logs")
              if not h.where.startswith("leak_scan_") or h.where.startswith(f"leak_scan_{backend}/")],
        log_text=" ".join(p.read_text(errors="replace") for p in sorted(task_logs.iterdir())),
        xcom_rows=_xcom_rows(metadata),
        metadata=scan_database(metadata, needles, label="airflow metadata"),
    )
    crm.dispose()
    metadata.dispose()
    yield found
    if drop:
        drop()


def _xcom_rows(metadata) -> int:
    with metadata.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM xcom WHERE dag_id IN :d").bindparams(
            bindparam("d", expanding=True)), {"d": sorted({d for d, _, _ in RUNS})}).scalar_one()


def _of(plants, hits: list[Hit]) -> list[Hit]:
    needles = {n.lower() for p in plants for n in p.needles}
    return [h for h in hits if h.needle.lower() in needles]


def _report(hits: list[Hit]) -> str:
    return "leaks:\n  " + "\n  ".join(str(h) for h in hits)


# Leaks this scan found, fixed since and kept as regressions: a headerless drop's rejection
# quoted an address; a phone-only erasure missed a row quarantined with an unknown country
# (its phone was keyed without a region); an answer file survived once the data folder moved
# (its absolute path looked outside exports/).



@pytest.mark.slow
def test_the_dag_runs_end_as_they_should(world):
    assert [(d, e) for d, e, _ in world.states] == [(d, g) for d, _, g in world.states]


@pytest.mark.slow
def test_the_scan_finds_the_control_where_data_may_be(world):
    """A blind scan would pass every other test: the kept person is found in the CRM,
    their archived drop and their access answer; an unsubscribe's drop is archived as is."""
    kept = _of([KEPT], world.everywhere)
    assert any(h.kind == "table" and h.where == "prospects.email" for h in kept)
    assert any(h.where.startswith("archive/research/") for h in kept)
    assert any(h.where == "exports/dsr/ACC-9.json" for h in kept)
    assert any(h.where.startswith("archive/suppression/") for h in _of([UNSUBSCRIBED], world.data))
    # The task logs were caught: every task's summary line and the rejection's failure are there.
    for line in ("ingest summary", "data-subject request summary", "suppression summary", "rejected"):
        assert line in world.log_text
    assert world.xcom_rows > 0  # and XCom holds what the tasks returned


# Promise 3: after an erasure the person's email, name and phone appear nowhere in the
# database, the data folder (archived and rejected drops included), the exports or the logs.
# One test per kind of place, so each known gap is tracked on its own.

@pytest.mark.enforces("data_subject_requests", "suppression")
@pytest.mark.promise(3)
@pytest.mark.slow
def test_erased_people_are_not_in_the_crm(world):
    leaks = _of(ERASED, world.crm)
    assert not leaks, _report(leaks)


@pytest.mark.enforces("data_subject_requests", "suppression")
@pytest.mark.promise(3)
@pytest.mark.slow
def test_erased_people_are_not_in_exports_reports_logs_or_xcom(world):
    leaks = [h for h in _of(ERASED, world.everywhere)
             if h.kind == "table" and not h.source.startswith("crm") or h.is_in(paths=("exports/", "reports/"))
             or h.source == "airflow logs"]
    assert not leaks, _report(leaks)


@pytest.mark.enforces("data_subject_requests", "suppression")
@pytest.mark.promise(3)
@pytest.mark.slow
def test_erased_people_are_not_in_archived_or_rejected_drops(world):
    leaks = [h for h in _of(ERASED, world.data) if not h.is_in(paths=("exports/", "reports/"))]
    assert not leaks, _report(leaks)


@pytest.mark.enforces("suppression")
@pytest.mark.slow
def test_no_plaintext_in_lists_audit_holds_requests_or_reasons(world):
    """suppression_list, audit_log, legal_holds and data_subject_requests hold hashes, ids and
    counts only; a malformed suppression row is quarantined redacted; a reason never quotes a cell."""
    leaks = [h for h in world.crm + world.data
             if h.is_in(tables=LIST_TABLES, suffixes=(".reason.txt",))]
    leaks += [h for h in _of([UNSUBSCRIBED, MALFORMED_SUPPRESSION], world.crm) if h.is_in(tables=["quarantine"])]
    assert not leaks, _report(leaks)


@pytest.mark.enforces("minors", "special_category")
@pytest.mark.promise(2)
@pytest.mark.slow
def test_children_and_special_category_text_are_not_held(world):
    """Promise 2 and the policy ("the only processing of children's data ... would be to remove
    their details"): a child is removed, not held or reviewed, and scrubbed from the archived
    drop; special-category text is redacted before storage (the archived drop keeps the rest of
    the input as it came)."""
    leaks = _of([CHILD], world.crm + world.data)  # the drop is archived without the child's row
    leaks += [h for h in world.crm if h.needle == SPECIAL_NOTE]
    leaks += [h for h in world.data if h.needle == SPECIAL_NOTE and h.where.startswith("exports/")]
    assert not leaks, _report(leaks)


@pytest.mark.slow
def test_the_hygiene_report_names_nobody(world):
    """reports/hygiene_<date>.html holds counts and codes only: not even the kept control is in it."""
    leaks = [h for h in world.data if h.where.startswith("reports/hygiene_")]
    assert not leaks, _report(leaks)


@pytest.mark.slow
def test_no_personal_data_in_airflow_logs_or_xcom(world):
    """Personal data never in task logs, XCom or anything else Airflow stores."""
    leaks = world.logs + world.metadata
    assert not leaks, _report(leaks)




@pytest.mark.enforces("data_subject_requests")
@pytest.mark.promise(3)
def test_an_erasure_after_the_data_folder_moved_still_deletes_the_answer(crm, tmp_path):
    """Promise 3 holds when the data folder is not where it was when the answer was written."""
    from drops import KEYS, POLICY, TODAY, ingest

    from crm_hygiene.ingest.kinds import RESEARCH
    from crm_hygiene.run import RunInfo
    from crm_hygiene.subject_requests import process_inbox

    def requests(data: Path, name: str, rows) -> None:
        write_csv(data / "inbox" / "requests" / name, REQUEST_HEADER, rows)
        process_inbox(crm.engine, POLICY, KEYS, RunInfo("process_data_subject_requests", name, TODAY),
                      data / "inbox" / "requests", data / "archive" / "requests", data / "exports" / "dsr")

    before, after = tmp_path / "mounted-here", tmp_path / "mounted-there"
    p = ERASED_BY_REQUEST
    ingest(crm, before, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row(p.first, p.last, p.email, phone=p.phone)])
    requests(before, "q1.csv", [["ACC-1", "access", p.email, "2026-11-20", ""]])
    assert p.email in (before / "exports" / "dsr" / "ACC-1.json").read_text()  # the answer holds their data
    before.rename(after)
    requests(after, "q2.csv", [["ERA-1", "erasure", ERASED_BY_REQUEST.email, "2026-11-21", ""]])
    leaks = [h for h in scan_folder(after, ERASED_BY_REQUEST.needles) if h.where.startswith("exports/")]
    assert not leaks, _report(leaks)
