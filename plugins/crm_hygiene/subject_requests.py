"""Data-subject requests: record each with its deadline, carry it out, report what is due.

Every request is recorded in ``data_subject_requests`` with ``due_at`` one
calendar month after receipt (Art. 12(3); the period is the policy's), the
requester held only as the keyed hash of their email match key. Then, each in
its own transaction:

* access / portability: ``exports/dsr/<request_id>.json`` (written atomically);
* rectification: the fields in ``details``, validated as the ingest does;
  audited by field name only; invalid details leave the request open for a person;
* erasure: the person and everything linked to them go, the hash stays on the
  suppression list; refused (``legal_hold``) while a legal hold names them;
* restriction: status ``restricted``; objection: suppressed (Art. 21(3)).

A request matching nobody is answered as such. Open requests due within the
policy's warning period are reported (ids and counts) for the DAG to fail on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Boolean, Connection, Date, DateTime, Engine, String, bindparam, text

from crm_hygiene import erasure_log
from crm_hygiene.audit import write_audit
from crm_hygiene.drops import files
from crm_hygiene.drops.cells import OffCalendar, closed_set_value, parse_timestamp, within_dates
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.registry import Drop, DropTally
from crm_hygiene.drops.small import read_small_drop, record_small_drop
from crm_hygiene.erasure import active_hold_exists, erase, lock_out_admission, queue_drop_scrub
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.keys import HashKeys, identifier_values
from crm_hygiene.legal_holds import load_pending_holds
from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text, company_key, name_key
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo, utc_now
from crm_hygiene.special_category import SpecialCategoryScanner

REQUIRED_COLUMNS = ("request_id", "type", "email", "received_at")
OPTIONAL_COLUMNS = ("details",)
# A request id names the answer file (exports/dsr/<request_id>.json): one
# plain path component, so "../../dags/evil" or "/etc/x" can never be one.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection")
_DT = DateTime


@dataclass
class Request:
    request_id: str
    type: str
    email_key: str
    received_at: datetime
    details: dict


@dataclass
class RequestSummary(DropTally):
    duplicates_ignored: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # "type:outcome" -> count
    open_ids: list[str] = field(default_factory=list)
    due_soon_ids: list[str] = field(default_factory=list)
    overdue_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Counts and request ids only: safe for XCom and logs."""
        return {
            **self.files_dict(), "duplicates_ignored": self.duplicates_ignored,
            "outcomes": dict(sorted(self.outcomes.items())),
            "open": len(self.open_ids), "due_within_warning": sorted(self.due_soon_ids),
            "overdue": sorted(self.overdue_ids),
        }


def _parse_row(row: dict[str, str], policy: Policy, today: date | None = None) -> tuple[Request | None, list[str]]:
    """A request, or the reasons it cannot be one; `today` (the run's day) refuses future receipts."""
    reasons = []
    request_id = row.get("request_id", "").strip()
    if not REQUEST_ID.fullmatch(request_id):
        reasons.append("request_id_invalid")
    kind = closed_set_value(row.get("type", ""))
    if kind not in TYPES:
        reasons.append("type_unknown")
    email_key = None
    try:
        email_key = email_match_key(canonical_email(row.get("email", "")))
    except InvalidEmail:
        reasons.append("email_invalid")
    if email_key is None and "email_invalid" not in reasons:
        reasons.append("email_missing")
    received_at, off_calendar = None, False
    try:
        received_at = parse_timestamp(row.get("received_at", ""))
    except OffCalendar:
        off_calendar = True
    except ValueError:
        pass
    dates = policy.input_validation
    if off_calendar or (received_at is not None and
                        not within_dates(received_at, dates.earliest_date, dates.latest_date)):
        reasons.append("received_at_out_of_range")
    elif received_at is None:
        reasons.append("received_at_invalid")
    elif today is not None and received_at.date() > today:
        reasons.append("received_at_in_future")
    details: dict = {}
    raw_details = row.get("details", "").strip()
    if raw_details:
        try:
            details = json.loads(raw_details)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            details = None
        if not isinstance(details, dict):
            reasons.append("details_not_json_object")
    if reasons:
        return None, reasons
    return Request(request_id, kind, email_key, received_at, details), []


def _read_file(drop: Drop, policy: Policy, today: date) -> tuple[list[Request], list]:
    """The file's valid requests, and its bad rows as quarantine rows."""
    return read_small_drop(drop, policy, REQUIRED_COLUMNS, OPTIONAL_COLUMNS,
                           lambda cells: _parse_row(cells, policy, today))


def _record(conn: Connection, request: Request, policy: Policy, keys: HashKeys, run: RunInfo) -> bool:
    """Insert the request; False if its id was recorded before (a re-drop, or a crashed
    run whose commit the database finished after this run had started: the insert
    waits for it instead of failing on the key)."""
    due_at = policy.data_subject_requests.response_period.after(request.received_at)
    return conn.execute(text(
        "INSERT INTO data_subject_requests (request_id, type, status, received_at, due_at, subject_hash, "
        "key_id, recorded_at) VALUES (:r, :t, 'open', :rec, :due, :h, :k, :now) "
        "ON CONFLICT (request_id) DO NOTHING"
    ).bindparams(bindparam("rec", type_=_DT), bindparam("due", type_=_DT), bindparam("now", type_=_DT)), {
        "r": request.request_id, "t": request.type, "rec": request.received_at, "due": due_at,
        "h": keys.current.digest(request.email_key), "k": keys.current.key_id, "now": run.started_at,
    }).rowcount == 1


def _finish(conn: Connection, request: Request, run: RunInfo, status: str, outcome: str, *,
            prospect_id=None, fields=None, answer_file=None) -> None:
    conn.execute(text(
        "UPDATE data_subject_requests SET status = :s, outcome = :o, completed_at = :done, prospect_id = :p, "
        "fields = :f, answer_file = :a WHERE request_id = :r"
    ).bindparams(bindparam("done", type_=_DT)), {
        "s": status, "o": outcome, "done": run.started_at if status != "open" else None, "p": prospect_id,
        "f": ",".join(fields) if fields else None, "a": answer_file, "r": request.request_id,
    })
    write_audit(conn, run, f"dsr_{request.type}", subject_ref=f"request:{request.request_id}",
                reason=outcome, rows_affected=1 if prospect_id else 0,
                details={"status": status, **({"fields": ",".join(fields)} if fields else {})})


# Typed so SQLite's text timestamps come back as datetimes, as on PostgreSQL.
_HELD = text("SELECT * FROM prospects WHERE match_key = :m").columns(
    first_seen_at=_DT, last_contact_at=_DT, created_at=_DT, updated_at=_DT, art14_notice_due_at=Date)


def _held(conn: Connection, email_key: str):
    return conn.execute(_HELD, {"m": f"e:{email_key}"}).mappings().first()


def _json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _suppression_entries(conn: Connection, keys: HashKeys, email_key: str, held) -> list[dict]:
    phone = held["phone_e164"] if held else None
    hashes = [keys_.digest(v) for _, v in identifier_values(email_key, phone) for keys_ in keys.keys]
    rows = conn.execute(text(
        "SELECT key_type, reason, scope, added_at FROM suppression_list WHERE key_hash IN :h ORDER BY added_at"
    ).bindparams(bindparam("h", expanding=True)), {"h": hashes}).mappings().all()
    return [{k: _json_value(v) for k, v in r.items()} for r in rows]


def _write_answer(conn: Connection, request: Request, policy: Policy, keys: HashKeys, run: RunInfo,
                  exports_dir: Path, held) -> Path:
    rules = policy.data_subject_requests
    answer: dict = {
        "request_id": request.request_id, "type": request.type,
        "answered_at": run.started_at.isoformat(), "controller_policy": policy.policy_document,
        "data_held": held is not None,
    }
    if held is not None:
        sources = conn.execute(text(
            "SELECT source, source_detail, collected_at, lawful_basis, marketing_consent FROM prospect_sources "
            "WHERE prospect_id = :p ORDER BY collected_at").columns(collected_at=_DT, marketing_consent=Boolean),
            {"p": held["prospect_id"]}).mappings().all()
        retention = policy.retention.classes["prospects"].period.after(held["last_contact_at"])
        answer.update({
            "personal_data": {k: _json_value(v) for k, v in held.items()},
            "where_it_came_from": [{k: _json_value(v) for k, v in s.items()} for s in sources],
            "lawful_basis": held["lawful_basis"],
            "retained_until": _json_value(retention),
        })
    answer.update({
        "purposes": list(rules.purposes),
        "recipient_categories": list(rules.recipient_categories),
        "suppression": _suppression_entries(conn, keys, request.email_key, held),
    })
    # The id was checked at parse time; checked again where it becomes a path.
    target = files.inside(exports_dir, f"{request.request_id}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomically(target, json.dumps(answer, indent=2, ensure_ascii=False, default=str))
    return target


def _rectify(conn: Connection, request: Request, policy: Policy, keys: HashKeys, held) -> list[str] | None:
    """Apply the corrected fields; None (nothing changed) if any is unknown or invalid."""
    allowed = set(policy.data_subject_requests.rectifiable_fields)
    details = request.details
    if not details or set(details) - allowed:
        return None
    countries = CountryResolver(policy.input_validation.country_aliases)
    scanner = SpecialCategoryScanner(policy.special_category)
    values: dict = {}
    try:
        for name, raw in details.items():
            raw = "" if raw is None else str(raw)
            if name == "country":
                values[name] = countries.to_alpha2(raw)
            elif name == "phone":
                values["phone_e164"] = to_e164(raw, details.get("country") and countries.to_alpha2(
                    str(details["country"])) or held["country"])
            elif name in policy.special_category.fields:
                # Free text is scanned as at ingest: special-category data never settles.
                values[name] = clean_text(scanner.redact(raw).text)
            else:
                values[name] = clean_text(raw)
    except (UnknownCountry, InvalidPhone):
        return None
    first = values.get("first_name", held["first_name"])
    last = values.get("last_name", held["last_name"])
    values["name_key"] = name_key(first, last)
    values["company_key"] = company_key(values.get("company", held["company"]))
    if "phone_e164" in values:
        phone = values["phone_e164"]
        values["phone_hash"] = keys.current.digest(phone) if phone else None
    columns = sorted(values)
    assignments = ", ".join(f"{c} = :{c}" for c in columns)  # column names from the policy's closed list
    conn.execute(text(f"UPDATE prospects SET {assignments}, updated_at = :now WHERE prospect_id = :pid")  # noqa: S608
                 .bindparams(bindparam("now", type_=_DT)),
                 {**values, "now": utc_now(), "pid": held["prospect_id"]})
    return sorted(details)


def _suppress(conn: Connection, keys: HashKeys, email_key: str, reason: str, run: RunInfo, subject_ref: str) -> None:
    added = conn.execute(text(
        "INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at) "
        "VALUES ('email', :h, :k, :r, 'all', :now) ON CONFLICT (key_type, key_hash, key_id, scope, reason) DO NOTHING "
        "RETURNING key_type, key_hash, key_id, reason, scope, added_at, rescreen_at"
    ).bindparams(bindparam("now", type_=_DT)),
        {"h": keys.current.digest(email_key), "k": keys.current.key_id, "r": reason, "now": run.started_at}).all()
    # Before the commit: an objection must outlive a restore of an older backup too.
    erasure_log.append(run, erasure_log.suppression_records(subject_ref, added, applies=True))


def carry_out(engine: Engine, request: Request, policy: Policy, keys: HashKeys, run: RunInfo,
              exports_dir: Path) -> str | None:
    """Record one request and carry it out in one transaction; None if recorded before.

    A failure leaves no trace of the request, so the re-run (the file is
    archived only after all its requests) records and carries it out afresh.
    """
    with engine.begin() as conn:
        if request.type in ("erasure", "objection"):
            lock_out_admission(conn)  # adds a suppression entry: never between an admission's check and insert
        if not _record(conn, request, policy, keys, run):
            if request.type == "erasure":
                # A re-run of a drop whose erasure committed before a crash: the
                # drop (with this row) is archived only now, so scrub it again.
                queue_drop_scrub(conn, run, keys, (request.email_key,), f"request:{request.request_id}")
            return None
        held = _held(conn, request.email_key)
        pid = held["prospect_id"] if held else None
        kind = request.type
        if kind in ("access", "portability"):
            answer = _write_answer(conn, request, policy, keys, run, exports_dir, held)
            outcome = "answered" if held else "answered_not_held"
            # Stored relative to exports/ ("dsr/<id>.json"): the data folder may be mounted elsewhere later.
            _finish(conn, request, run, "completed", outcome, prospect_id=pid,
                    answer_file=f"{exports_dir.name}/{answer.name}")
        elif kind == "rectification":
            if held is None:
                outcome = "not_held"
                _finish(conn, request, run, "completed", outcome)
            else:
                fields = _rectify(conn, request, policy, keys, held)
                outcome = "rectified" if fields else "details_invalid"
                # Invalid details need a person to go back to the requester: left open.
                _finish(conn, request, run, "completed" if fields else "open", outcome,
                        prospect_id=pid, fields=fields)
        elif kind == "erasure":
            if active_hold_exists(conn, keys, request.email_key, run.started_at):
                outcome = "legal_hold"
                _finish(conn, request, run, "refused", outcome, prospect_id=pid)
            else:
                result = erase(conn, run, keys, subject_ref=f"request:{request.request_id}",
                               reason="erasure request", email_keys=(request.email_key,))
                outcome = "erased" if result.erased else "not_held_suppressed"
                _finish(conn, request, run, "completed", outcome)
        elif kind == "restriction":
            if held is None:
                outcome = "not_held"
            else:
                conn.execute(text("UPDATE prospects SET status = 'restricted', updated_at = :now "
                                  "WHERE prospect_id = :p").bindparams(bindparam("now", type_=_DT)),
                             {"now": run.started_at, "p": pid})
                outcome = "restricted"
            _finish(conn, request, run, "completed", outcome, prospect_id=pid)
        else:  # objection: absolute for direct marketing (Art. 21(3)), held or not
            _suppress(conn, keys, request.email_key, "objection", run, f"request:{request.request_id}")
            if held is not None:
                conn.execute(text("UPDATE prospects SET status = 'suppressed', updated_at = :now "
                                  "WHERE prospect_id = :p AND status = 'active'").bindparams(
                    bindparam("now", type_=_DT)), {"now": run.started_at, "p": pid})
            outcome = "suppressed" if held else "not_held_suppressed"
            _finish(conn, request, run, "completed", outcome, prospect_id=pid)
    return outcome


def due_report(engine: Engine, policy: Policy, run: RunInfo, summary: RequestSummary) -> None:
    """Open requests, those due within the warning period and those overdue (ids only)."""
    today = run.today_start
    warn_until = policy.data_subject_requests.warn_before.after(today)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT request_id, due_at FROM data_subject_requests WHERE status = 'open' ORDER BY due_at"
        ).columns(request_id=String, due_at=_DT)).all()
    summary.open_ids = [r[0] for r in rows]
    summary.overdue_ids = [r[0] for r in rows if r[1] < today]
    summary.due_soon_ids = [r[0] for r in rows if today <= r[1] < warn_until]


def process_inbox(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
                  archive_dir: Path, exports_dir: Path) -> RequestSummary:
    summary = RequestSummary()
    load_pending_holds(engine, policy, keys, run, inbox, summary)  # holds first: the order of DAGs never matters
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # a crashed run's answer files and drops

    def handle(drop: Drop) -> None:
        requests, bad = _read_file(drop, policy, run.today)
        for request in sorted(requests, key=lambda r: r.received_at):
            outcome = carry_out(engine, request, policy, keys, run, exports_dir)
            if outcome is None:
                summary.duplicates_ignored += 1
                continue
            key = f"{request.type}:{outcome}"
            summary.outcomes[key] = summary.outcomes.get(key, 0) + 1
        # The file counts as processed only once every request in it is recorded.
        with engine.begin() as conn:
            record_small_drop(conn, drop, run, len(requests), bad, "request rows")
        summary.rows_quarantined += len(bad)

    process_drops(engine, run, "requests", inbox, archive_dir, handle, summary)
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # after the archive: the request rows too
    due_report(engine, policy, run, summary)
    return summary
