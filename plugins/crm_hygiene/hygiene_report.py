"""The hygiene report for the data team: ``reports/hygiene_<date>.html`` in the data folder.

One self-contained HTML file (inline CSS and SVG, no script, no font or style
from anywhere else: it opens offline, and its Content-Security-Policy refuses
any fetch) with KPI tiles, one chart per topic over the policy's
``hygiene_report.days`` ending on the run's logical date, and the latest
validation results. Everything is read from the CRM with the set-based
statements in ``include/sql/hygiene_report/``; the report holds counts and
codes only, never a row, a name or an address.

Days are UTC days of when the pipeline acted (``processed_at``,
``quarantined_at``, ``occurred_at``); a request's days are its own
(received, due, completed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape
from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from crm_hygiene.db import read_sql
from crm_hygiene.drops.files import write_atomically
from crm_hygiene.policy import Policy
from crm_hygiene.run import utc_now

REPORTS_DIR = "reports"
LATEST_FILES = 15  # rows of the latest-files table
TOP_REASONS = 6  # quarantine codes charted on their own; the rest are "other"
# Drop kinds in the order the pipeline meets them (settings.INBOX_KINDS plus review decisions).
KIND_ORDER = ("research", "events", "enquiries", "suppression", "requests", "reviews", "applicants", "legal_holds")
# erase() reasons that remove a child (crm_hygiene.erasure.erase_minors callers); every other erasure
# is a person's request or a list's erasure entry.
MINOR_ERASURES = {"minor_certain": "held record deleted: age under 16",
                  "minor_review_decision": "a reviewer decided: minor",
                  "minor_review_timeout": "review timed out (safe default)"}
CHARTED_ACTIONS = ("file_rejected", "file_set_aside", "remove_minor", "queue_minor_review", "erase",
                   "retention_anonymise", "retention_delete", "retention_refused_legal_hold")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # a quarantine reason code; anything else is not shown
_JSON_INT = re.compile(r"\bJSON_INT\((\w+), (\w+)\)")
_JSON_INT_BY_DIALECT = {
    "sqlite": "CAST(json_extract({column}, '$.{key}') AS INTEGER)",
    "postgresql": "CAST(CAST({column} AS JSON) ->> '{key}' AS INTEGER)",
}

# Observable's 10-colour palette: tells series apart for most colour-vision deficiencies.
BLUE, GOLD, CORAL, TEAL, GREEN, PINK, PURPLE, SKY, BROWN, GREY = (
    "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0")
RED = "#d62728"
KIND_COLOURS = dict(zip(KIND_ORDER, (BLUE, GOLD, TEAL, CORAL, PURPLE, PINK, BROWN, GREY), strict=True))
REASON_COLOURS = (CORAL, GOLD, PURPLE, TEAL, PINK, SKY)


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: tuple[int, ...]
    line: bool = False
    snapshot: bool = False  # a level on each day (open requests), not events that day

    @property
    def total(self) -> int:
        return sum(self.values)

    @property
    def marks(self) -> int:
        """Drawn marks: a bar, or a point on a line, for each day with a value."""
        return sum(1 for v in self.values if v)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    what: str
    unit: str
    series: tuple[Series, ...]
    note: str = ""
    wide: bool = False  # drawn across the page

    @property
    def marks(self) -> int:
        return sum(s.marks for s in self.series)

    def series_named(self, label: str) -> Series:
        return next(s for s in self.series if s.label == label)


@dataclass(frozen=True)
class Kpi:
    label: str
    value: int
    detail: str
    tone: str = ""  # "", "warn" or "alert"


@dataclass(frozen=True)
class FileOutcome:
    """One drop's end: loaded (with counts) or rejected / set aside (with the reason)."""

    at: datetime
    kind: str
    dag_id: str
    ref: str  # first 12 hex digits of the sha256, as in archive/<kind>/<sha12>_<name>
    outcome: str
    rows_read: int | None = None
    rows_quarantined: int | None = None
    rows_admitted: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class HygieneReport:
    today: date
    days: tuple[date, ...]
    generated_at: datetime
    backend: str
    charts: tuple[Chart, ...]
    kpis: tuple[Kpi, ...]
    latest_files: tuple[FileOutcome, ...]
    quarantine_codes: tuple[tuple[str, int], ...]
    totals: dict[str, int] = field(default_factory=dict)
    gate_share: float = 0.0
    quarantine_kept: str = ""
    clause: str = ""

    def chart(self, key: str) -> Chart:
        return next(c for c in self.charts if c.key == key)

    @property
    def file_name(self) -> str:
        return report_name(self.today)


def report_name(today: date) -> str:
    return f"hygiene_{today.isoformat()}.html"


# --- reading the CRM ----------------------------------------------------------------


def _statement(conn: Connection, name: str):
    raw = read_sql(f"hygiene_report/{name}.sql")
    raw = _JSON_INT.sub(lambda m: _JSON_INT_BY_DIALECT[conn.dialect.name].format(column=m.group(1), key=m.group(2)),
                        raw)
    used = [p for p in ("start", "end") if f":{p}" in raw]
    clause = text(raw).bindparams(*(bindparam(p, type_=DateTime) for p in used))
    if ":actions" in raw:
        clause = clause.bindparams(bindparam("actions", expanding=True))
    return clause


def _day(value) -> date | None:
    """DATE(...) comes back as a date (PostgreSQL) or 'YYYY-MM-DD' text (SQLite)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _moment(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class _Days:
    """Per-day sums over the report's days; a day outside them is ignored."""

    def __init__(self, days: tuple[date, ...]):
        self.days = days
        self._index = {d: i for i, d in enumerate(days)}
        self._sums: dict[str, list[int]] = {}

    def add(self, key: str, day, n) -> None:
        row = self._sums.setdefault(key, [0] * len(self.days))
        i = self._index.get(_day(day))
        if i is not None and n:
            row[i] += int(n)

    def get(self, key: str) -> tuple[int, ...]:
        return tuple(self._sums.get(key, [0] * len(self.days)))

    def keys(self, prefix: str) -> list[str]:
        """The keys under `prefix` with a value on some day, the prefix removed."""
        return [k.removeprefix(prefix) for k, row in self._sums.items() if k.startswith(prefix) and any(row)]


def collect(engine: Engine, policy: Policy, today: date) -> HygieneReport:
    """Everything the report shows, as of the end of `today` (the run's logical date)."""
    n_days = policy.hygiene_report.days
    days = tuple(today - timedelta(days=n_days - 1 - i) for i in range(n_days))
    window = {"start": datetime.combine(days[0], time()), "end": datetime.combine(today + timedelta(days=1), time())}
    sums = _Days(days)
    with engine.connect() as conn:
        for r in conn.execute(_statement(conn, "files_by_day"), window).mappings():
            sums.add(f"read:{r['kind']}", r["day"], r["rows_read"])
            sums.add("files", r["day"], r["files"])
            sums.add("quarantined", r["day"], r["rows_quarantined"])
            sums.add("created", r["day"], r["prospects_created"])
            sums.add("merged", r["day"], int(r["rows_admitted"]) - int(r["prospects_created"]))
            sums.add("rows_blocked", r["day"], r["rows_blocked"])
        reasons: dict[str, int] = {}
        for day, joined, n in conn.execute(_statement(conn, "quarantine_by_day"), window):
            for code in {c.strip() for c in str(joined).split(";") if c.strip()}:
                code = code if _CODE.match(code) else "other_code"
                sums.add(f"reason:{code}", day, n)
                reasons[code] = reasons.get(code, 0) + int(n)
        for r in conn.execute(_statement(conn, "actions_by_day"), {**window, "actions": CHARTED_ACTIONS}).mappings():
            action, reason = r["action"], r["reason"] or ""
            if action in ("file_rejected", "file_set_aside"):
                sums.add(action, r["day"], r["entries"])
            elif action == "erase":
                sums.add(f"erase:{reason}" if reason in MINOR_ERASURES else "erase:people", r["day"],
                         r["rows_affected"])
            else:
                sums.add(action, r["day"], r["rows_affected"])
        for r in conn.execute(_statement(conn, "admission_by_day"), window).mappings():
            for key in ("blocked_suppressed", "blocked_minor_certain", "blocked_held_out_of_use",
                        "reviews_cleared_adult"):
                sums.add(key, r["day"], r[key])
        requests = [(_day(a), _day(b), _day(c), int(n))
                    for a, b, c, n in conn.execute(_statement(conn, "requests_by_day"), window)]
        latest = _latest_files(conn, window["end"])
        held = conn.execute(_statement(conn, "held_now")).mappings().one()
    for received, _due, completed, n in requests:
        sums.add("received", received, n)
        sums.add("completed", completed, n)
    open_, due_soon, overdue = _request_levels(requests, days, policy)
    read = sums.keys("read:")
    kinds = [k for k in KIND_ORDER if k in read] + sorted(k for k in read if k not in KIND_ORDER)
    top = sorted(reasons, key=lambda c: (-reasons[c], c))
    shown, rest = top[:TOP_REASONS], top[TOP_REASONS:]
    other = tuple(sum(col) for col in zip(*(sums.get(f"reason:{c}") for c in rest), strict=True)) if rest else ()
    quarantine_rule = policy.retention.classes["quarantine"].period
    kept = _period_text(quarantine_rule)
    charts = (
        Chart("came_in", "What came in", "Rows read from every drop, per day, by the inbox they came to.", "rows",
              tuple(Series(k, KIND_COLOURS.get(k, GREY), sums.get(f"read:{k}")) for k in kinds)),
        Chart("files", "Files checked", "Drops loaded, and drops rejected (a reason a person can act on) or set "
              "aside (an error nobody foresaw), per day.", "files",
              (Series("loaded", GREEN, sums.get("files")), Series("rejected", RED, sums.get("file_rejected")),
               Series("set aside", GOLD, sums.get("file_set_aside")))),
        Chart("quarantined", "Quarantined, by reason",
              "Rows that failed their checks, per day, by reason code (a row with two reasons counts under each).",
              "reason codes",
              tuple(Series(c, REASON_COLOURS[i], sums.get(f"reason:{c}")) for i, c in enumerate(shown))
              + ((Series("other codes", GREY, other),) if rest else ()),
              note=f"From the quarantined rows still held: the policy keeps them {kept}, so older days show "
                   "only in the totals of \u201cWhat came in\u201d."),
        Chart("admitted", "Admitted: new and merged",
              "Rows admitted per day: a new person, or merged into one already held or seen in the same file.",
              "rows", (Series("new prospects", BLUE, sums.get("created")),
                       Series("merged into someone held", TEAL, sums.get("merged")))),
        Chart("blocked", "Blocked by suppression",
              "People turned away at admission, per day: on a suppression list, and the other two gates.",
              "people", (Series("suppressed", CORAL, sums.get("blocked_suppressed")),
                         Series("certain minor", PURPLE, sums.get("blocked_minor_certain")),
                         Series("held out of use (restricted or in review)", GREY,
                                sums.get("blocked_held_out_of_use")))),
        Chart("minors", "Removed as minors",
              "Children refused at ingest (age under 16 known) and held records deleted as children, per day.",
              "people", (Series("refused at ingest", PURPLE, sums.get("remove_minor")),
                         *(Series(label, colour, sums.get(f"erase:{reason}")) for (reason, label), colour
                           in zip(MINOR_ERASURES.items(), (PINK, CORAL, GOLD), strict=True)))),
        Chart("review", "Sent to review",
              "Likely minors held out of use for a person's decision, per day, and reviews cleared as adults.",
              "people", (Series("sent to review", GOLD, sums.get("queue_minor_review")),
                         Series("cleared as adult", GREEN, sums.get("reviews_cleared_adult")))),
        Chart("retention", "Anonymised, purged and erased",
              "Records anonymised or deleted by the retention sweep, people erased on request or by a list's "
              "erasure entry, and records kept past retention because a legal hold names them.", "records",
              (Series("anonymised (retention)", BLUE, sums.get("retention_anonymise")),
               Series("purged (retention)", BROWN, sums.get("retention_delete")),
               Series("erased (request or list)", CORAL, sums.get("erase:people")),
               Series("kept for a legal hold", GOLD, sums.get("retention_refused_legal_hold"), line=True))),
        Chart("requests", "Data-subject requests: due and overdue",
              f"Requests received per day, and at each day's end those open, due within "
              f"{_period_text(policy.data_subject_requests.warn_before)}, and overdue "
              f"(answer within {_period_text(policy.data_subject_requests.response_period)}).", "requests",
              (Series("received", SKY, sums.get("received")),
               Series("open", BLUE, open_, line=True, snapshot=True),
               Series("due within the warning period", GOLD, due_soon, line=True, snapshot=True),
               Series("overdue", RED, overdue, line=True, snapshot=True)), wide=True),
    )
    totals = {
        "rows_read": sum(sum(sums.get(f"read:{k}")) for k in kinds),
        "files_loaded": sum(sums.get("files")),
        "files_rejected": sum(sums.get("file_rejected")) + sum(sums.get("file_set_aside")),
        "rows_quarantined": sum(sums.get("quarantined")),
        "prospects_created": sum(sums.get("created")),
        "rows_merged": sum(sums.get("merged")),
        "blocked_suppressed": sum(sums.get("blocked_suppressed")),
        "minors_removed": sum(sum(s.values) for s in charts[5].series),
        "sent_to_review": sum(sums.get("queue_minor_review")),
        "anonymised": sum(sums.get("retention_anonymise")),
        "purged": sum(sums.get("retention_delete")),
        "erased": sum(sums.get("erase:people")),
        "requests_received": sum(sums.get("received")),
        "requests_open": open_[-1],
        "requests_due_soon": due_soon[-1],
        "requests_overdue": overdue[-1],
        "prospects_held": int(held["prospects_held"]),
        "marketable": int(held["marketable"]),
        "reviews_open": int(held["reviews_open"]),
    }
    oldest = _moment(held["oldest_review_queued_at"])
    return HygieneReport(
        today=today, days=days, generated_at=utc_now(), backend=engine.dialect.name, charts=charts,
        kpis=_kpis(totals, today, days, oldest, policy), latest_files=latest,
        quarantine_codes=tuple((c, reasons[c]) for c in top), totals=totals,
        gate_share=policy.input_validation.min_valid_value_share, quarantine_kept=kept,
        clause=policy.hygiene_report.clause,
    )


def _request_levels(requests, days, policy: Policy) -> tuple[tuple[int, ...], ...]:
    """At each day's end: requests open, open and due within the warning period, open and overdue
    (due before the day began, as the request DAG counts them)."""
    warn = policy.data_subject_requests.warn_before
    open_, soon, late = [], [], []
    for day in days:
        warn_until = warn.after(day)
        held = [(due, n) for received, due, completed, n in requests
                if received <= day and (completed is None or completed > day)]
        open_.append(sum(n for _, n in held))
        soon.append(sum(n for due, n in held if day <= due < warn_until))
        late.append(sum(n for due, n in held if due < day))
    return tuple(open_), tuple(soon), tuple(late)


def _latest_files(conn: Connection, end: datetime) -> tuple[FileOutcome, ...]:
    limit = {"end": end, "limit": LATEST_FILES}
    outcomes = [FileOutcome(_moment(r["processed_at"]), r["kind"], r["dag_id"] or "", r["sha256"][:12], "loaded",
                            r["rows_read"], r["rows_quarantined"], r["rows_admitted"])
                for r in conn.execute(_statement(conn, "latest_files"), limit).mappings()]
    for r in conn.execute(_statement(conn, "latest_rejections"), limit).mappings():
        ref = (r["subject_ref"] or "").removeprefix("file:")
        outcomes.append(FileOutcome(
            _moment(r["occurred_at"]), "", r["dag_id"] or "",
            ref[:12] if re.fullmatch(r"[0-9a-f]{64}", ref) else "not read",
            "rejected" if r["action"] == "file_rejected" else "set aside", reason=r["reason"] or ""))
    return tuple(sorted(outcomes, key=lambda o: o.at, reverse=True)[:LATEST_FILES])


def _period_text(period) -> str:
    parts = [(period.years, "year"), (period.months, "month"), (period.days, "day")]
    return ", ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n)


def _kpis(t: dict[str, int], today: date, days, oldest_review: datetime | None, policy: Policy) -> tuple[Kpi, ...]:
    share = f"{t['rows_quarantined'] / t['rows_read']:.1%} of rows read" if t["rows_read"] else "no rows read"
    review_age = f"oldest waiting {(today - oldest_review.date()).days} days" if oldest_review else "none waiting"
    timeout = _period_text(policy.minors.actions.review_timeout)
    return (
        Kpi("Rows in", t["rows_read"], f"{t['files_loaded']:,} files loaded"),
        Kpi("Files rejected", t["files_rejected"], "rejected or set aside", "warn" if t["files_rejected"] else ""),
        Kpi("Quarantined rows", t["rows_quarantined"], share),
        Kpi("New prospects", t["prospects_created"], f"{t['rows_merged']:,} rows merged into someone held"),
        Kpi("Blocked by suppression", t["blocked_suppressed"], "people turned away at admission"),
        Kpi("Minors removed", t["minors_removed"], "refused at ingest or deleted"),
        Kpi("Sent to review", t["sent_to_review"], f"{t['reviews_open']:,} open now, {review_age} (limit {timeout})"),
        Kpi("Anonymised and purged", t["anonymised"] + t["purged"],
            f"{t['anonymised']:,} anonymised, {t['purged']:,} purged; {t['erased']:,} erased"),
        Kpi("Requests overdue", t["requests_overdue"],
            f"{t['requests_open']:,} open, {t['requests_due_soon']:,} due within the warning period",
            "alert" if t["requests_overdue"] else ("warn" if t["requests_due_soon"] else "")),
        Kpi("Prospects held", t["prospects_held"], f"{t['marketable']:,} marketing may email now"),
    )


# --- writing the page ---------------------------------------------------------------

W, WIDE_W, H = 640, 1300, 220
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 12, 26
LABEL_EVERY = 14  # days between labels on the time axis, counted back from the report's day


def _nice_scale(peak: int) -> tuple[int, int]:
    """The axis top and the step between gridlines: 1, 2 or 5 times a power of ten, about four steps."""
    if peak <= 0:
        return 1, 1
    raw = peak / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return math.ceil(peak / step) * step, step


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _svg(chart: Chart, days: tuple[date, ...]) -> str:
    cid = f"chart-{chart.key}"
    width = WIDE_W if chart.wide else W
    plot_w, plot_h = width - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(days)
    slot = plot_w / n
    bar_w = max(slot * 0.74, 0.8)
    bars = [s for s in chart.series if not s.line]
    lines = [s for s in chart.series if s.line]
    stacked = [sum(s.values[i] for s in bars) for i in range(n)]
    peak = max([*stacked, *(v for s in lines for v in s.values)], default=0)
    top, step = _nice_scale(peak)

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    summary = "; ".join(f"{s.label}: {_series_figure(s)}" for s in chart.series) or "nothing recorded"
    out = [f'<svg class="chart" id="{cid}" viewBox="0 0 {width} {H}" role="img" aria-labelledby="{cid}-t {cid}-d" '
           f'data-marks="{chart.marks}">',
           f'<title id="{cid}-t">{escape(chart.title)}, {escape(_day_label(days[0]))} to '
           f'{escape(_day_label(days[-1]))}</title>',
           f'<desc id="{cid}-d">{escape(chart.what)} {escape(summary)}.</desc>', '<g class="grid">']
    for v in range(0, top + 1, step):
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                   f'<text class="ylab" x="{LEFT - 6}" y="{y(v) + 3.5:.1f}">{v:,}</text>')
    out.append("</g><g class=\"xaxis\">")
    for i, day in enumerate(days):
        if (n - 1 - i) % LABEL_EVERY == 0:
            out.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}"/>'
                       f'<text class="xlab" x="{x(i):.1f}" y="{H - 8}">{escape(_day_label(day))}</text>')
    out.append("</g>")
    if peak == 0:
        out.append(f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}">'
                   f"Nothing recorded in these {n} days</text>")
    out.append('<g class="bars">')
    for i, day in enumerate(days):
        base = 0
        for s in bars:
            v = s.values[i]
            if not v:
                continue
            y0 = y(base)
            y1 = min(y(base + v), y0 - 1.5)  # a bar of 1 on a tall axis still shows
            out.append(f'<rect class="mark bar" x="{x(i) - bar_w / 2:.2f}" y="{y1:.2f}" width="{bar_w:.2f}" '
                       f'height="{y0 - y1:.2f}" fill="{s.colour}"><title>{escape(_day_label(day))} '
                       f'{day.year}: {escape(s.label)} {v:,}</title></rect>')
            base += v
    out.append("</g>")
    for s in lines:
        if not any(s.values):
            continue
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        out.append(f'<g class="line"><polyline points="{points}" stroke="{s.colour}"/>')
        out += [f'<circle class="mark point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.6" fill="{s.colour}">'
                f"<title>{escape(_day_label(days[i]))} {days[i].year}: {escape(s.label)} {v:,}</title></circle>"
                for i, v in enumerate(s.values) if v]
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _series_figure(s: Series) -> str:
    if s.snapshot:
        return f"{s.values[-1]:,} now, at most {max(s.values):,}"
    return f"{s.total:,} in all"


def _legend(chart: Chart) -> str:
    items = []
    for s in chart.series:
        swatch = (f'<span class="sw line" style="border-color:{s.colour}"></span>' if s.line
                  else f'<span class="sw" style="background:{s.colour}"></span>')
        items.append(f'<li class="{"none" if not any(s.values) else ""}">{swatch}{escape(s.label)} '
                     f"<b>{escape(_series_figure(s))}</b></li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def _table(chart: Chart, days: tuple[date, ...]) -> str:
    rows = [(day, [s.values[i] for s in chart.series]) for i, day in enumerate(days)
            if any(s.values[i] for s in chart.series)]
    if not rows:
        return ""
    head = "".join(f"<th>{escape(s.label)}</th>" for s in chart.series)
    body = "".join(f"<tr><td>{day.isoformat()}</td>{''.join(f'<td>{v:,}</td>' for v in values)}</tr>"
                   for day, values in reversed(rows))
    return (f'<details><summary>The numbers ({len(rows)} day{"s" if len(rows) != 1 else ""})</summary>'
            f'<table class="num"><thead><tr><th>day</th>{head}</tr></thead><tbody>{body}</tbody></table></details>')


def _figure(chart: Chart, days: tuple[date, ...]) -> str:
    note = f'<p class="note">{escape(chart.note)}</p>' if chart.note else ""
    return (f'<figure class="card{" wide" if chart.wide else ""}" data-chart="{chart.key}"><figcaption><h2>{escape(chart.title)}</h2>'
            f'<p>{escape(chart.what)} <span class="unit">Unit: {escape(chart.unit)}.</span></p></figcaption>'
            f"{_legend(chart)}{_svg(chart, days)}{note}{_table(chart, days)}</figure>")


def _tiles(report: HygieneReport) -> str:
    return "".join(f'<div class="tile {k.tone}"><p class="label">{escape(k.label)}</p>'
                   f'<p class="value">{k.value:,}</p><p class="detail">{escape(k.detail)}</p></div>'
                   for k in report.kpis)


def _files_table(report: HygieneReport) -> str:
    if not report.latest_files:
        return '<p class="muted">No drop has been processed yet.</p>'
    rows = []
    for f in report.latest_files:
        counts = ("".join(f'<td class="n">{v:,}</td>' for v in (f.rows_read, f.rows_quarantined, f.rows_admitted))
                  if f.rows_read is not None else '<td colspan="3" class="n muted">not loaded</td>')
        kind = escape(f.kind) if f.kind else f'<span class="muted">{escape(f.dag_id)}</span>'
        rows.append(f'<tr class="{f.outcome.replace(" ", "-")}"><td class="nw">{f.at:%Y-%m-%d %H:%M}</td>'
                    f'<td>{kind}</td><td class="nw"><code>{escape(f.ref)}</code></td>'
                    f'<td><span class="pill {f.outcome.replace(" ", "-")}">{escape(f.outcome)}</span></td>{counts}'
                    f'<td class="reason">{escape(f.reason)}</td></tr>')
    return ('<table class="files"><thead><tr><th>when (UTC)</th><th>kind (or DAG)</th><th>file</th>'
            '<th>outcome</th><th class="n">rows read</th><th class="n">quarantined</th><th class="n">admitted</th>'
            '<th>reason</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _codes_table(report: HygieneReport) -> str:
    if not report.quarantine_codes:
        return f'<p class="muted">No quarantined row held from these {len(report.days)} days.</p>'
    total = sum(n for _, n in report.quarantine_codes)
    rows = "".join(f"<tr><td><code>{escape(code)}</code></td><td>{n:,}</td><td>{n / total:.1%}</td></tr>"
                   for code, n in report.quarantine_codes)
    return ('<table class="num codes"><thead><tr><th>reason code</th><th>rows</th><th>share</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


CSS = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#e3e6ec;--bg:#f4f6f9;--card:#fff;--accent:#2f4fb0}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",Arial,sans-serif}
header.top{background:linear-gradient(120deg,#1f2f66,#2f4fb0);color:#fff;padding:22px 32px 20px;
 display:flex;flex-wrap:wrap;gap:16px;align-items:flex-end;justify-content:space-between}
header.top h1{margin:2px 0 4px;font-size:28px;font-weight:650;letter-spacing:-.01em}
header.top .eyebrow{margin:0;text-transform:uppercase;letter-spacing:.12em;font-size:12px;opacity:.8}
header.top .sub{margin:0;opacity:.85}
.status{padding:7px 14px;border-radius:999px;font-weight:600;background:rgba(255,255,255,.16)}
.status.alert{background:#d62728}.status.warn{background:#b7791f}
main{padding:20px 32px 32px;max-width:1480px;margin:0 auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px;margin-bottom:22px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;
 border-top:4px solid var(--accent)}
.tile.warn{border-top-color:#efb118}.tile.alert{border-top-color:#d62728;background:#fff6f5}
.tile p{margin:0}.tile .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.tile .value{font-size:28px;font-weight:650;font-variant-numeric:tabular-nums;margin:2px 0}
.tile .detail{color:var(--muted);font-size:12.5px}
h2.section{font-size:18px;margin:26px 0 10px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px 10px;margin:0}
.card h2{font-size:16px;margin:0 0 2px}.card figcaption p{margin:0;color:var(--muted);font-size:13px}
.unit{white-space:nowrap}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:8px 0 2px;font-size:12.5px}
.legend li.none{opacity:.45}.legend b{font-weight:600;font-variant-numeric:tabular-nums}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.sw.line{height:0;width:16px;border-top:3px solid;border-radius:0;vertical-align:3px}
svg.chart{width:100%;height:auto;display:block;overflow:visible}
svg.chart .grid line{stroke:var(--line);stroke-width:1}
svg.chart .xaxis line{stroke:#9aa3b2;stroke-width:1}
svg.chart text{font-size:10.5px;fill:var(--muted);font-family:inherit}
svg.chart .ylab{text-anchor:end}svg.chart .xlab{text-anchor:middle}
svg.chart .empty{text-anchor:middle;font-size:14px;fill:#8a93a3}
svg.chart polyline{fill:none;stroke-width:2;stroke-linejoin:round}
svg.chart .mark:hover{opacity:.75}
.note{font-size:12px;color:var(--muted);margin:6px 0 0}
details{margin:6px 0 2px;font-size:12.5px}summary{cursor:pointer;color:var(--accent)}
table{border-collapse:collapse;width:100%;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:#fafbfc}
table.num td+td,table.num th+th{text-align:right}
.validation{display:grid;grid-template-columns:minmax(0,1fr) minmax(260px,330px);gap:16px}
.card.wide{grid-column:1/-1}
table.files .nw,table.files .n{white-space:nowrap}table.files .n{text-align:right}
table.files td.reason{min-width:220px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;overflow-x:auto}
.panel h3{margin:0 0 8px;font-size:15px}.panel p{margin:0 0 10px;color:var(--muted);font-size:13px}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:#e6f4ea;
 color:#1e6b34}
.pill.rejected{background:#fde8e7;color:#a8201a}.pill.set-aside{background:#fdf3dc;color:#8a5a00}
.muted{color:var(--muted)}code{font-size:12px}
footer{color:var(--muted);font-size:12px;padding:0 32px 28px;max-width:1480px;margin:0 auto}
@media (max-width:700px){.charts{grid-template-columns:1fr}.validation{grid-template-columns:1fr}
 main,header.top{padding-left:14px;padding-right:14px}}
@media print{body{background:#fff}.card,.tile,.panel{break-inside:avoid}}
"""


def render_html(report: HygieneReport) -> str:
    t = report.totals
    if t["requests_overdue"]:
        status = ("alert", f"{t['requests_overdue']:,} request{'s' if t['requests_overdue'] != 1 else ''} overdue")
    elif t["requests_due_soon"] or t["files_rejected"]:
        status = ("warn", "Needs a look: " + ", ".join(
            p for p in (f"{t['requests_due_soon']:,} request(s) due soon" if t["requests_due_soon"] else "",
                        f"{t['files_rejected']:,} file(s) rejected" if t["files_rejected"] else "") if p))
    else:
        status = ("", "No request overdue, no file rejected")
    first, last = report.days[0], report.days[-1]
    gate = (f"Every prospect drop passes a Great Expectations gate before any row is read into the CRM: each "
            f"required column exists and at least {report.gate_share:.0%} of rows carry a known source or channel. "
            "A drop that fails, or cannot be read, is moved to inbox/&lt;kind&gt;/rejected/ with the reason shown "
            "here; a loaded drop is in archive/&lt;kind&gt;/ under the first 12 digits of its sha256.")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>CRM hygiene report {report.today.isoformat()}</title>
<style>{CSS}</style>
</head>
<body>
<header class="top">
<div><p class="eyebrow">CRM hygiene report</p><h1>{_long_date(report.today)}</h1>
<p class="sub">The {len(report.days)} days from {_day_label(first)} {first.year} to {_day_label(last)} {last.year} (UTC) &middot; written
{report.generated_at:%Y-%m-%d %H:%M} UTC from the CRM ({escape(report.backend)})</p></div>
<p class="status {status[0]}" role="status">{escape(status[1])}</p>
</header>
<main>
<section class="tiles" aria-label="Key figures for these {len(report.days)} days">{_tiles(report)}</section>
<h2 class="section">Over time</h2>
<section class="charts">{"".join(_figure(c, report.days) for c in report.charts)}</section>
<h2 class="section">Latest validation results</h2>
<section class="validation">
<div class="panel"><h3>Latest files</h3><p>{gate}</p>{_files_table(report)}</div>
<div class="panel"><h3>Quarantine codes</h3><p>Rows quarantined in these days and still held (kept
{escape(report.quarantine_kept)}), by reason code.</p>{_codes_table(report)}</div>
</section>
</main>
<footer><p>Counts and codes only: this report names nobody and quotes no row. Read from ingested_files,
quarantine, audit_log, data_subject_requests, minor_reviews and prospects. Days are UTC days of when the pipeline
acted; a request's days are its own (received, due, answered). Policy, hygiene_report:
{escape(report.clause)}</p></footer>
</body>
</html>
"""


def write_hygiene_report(engine: Engine, policy: Policy, today: date, data_folder: Path) -> tuple[Path, HygieneReport]:
    """Collect, render and write ``reports/hygiene_<today>.html`` atomically (a rerun replaces it)."""
    report = collect(engine, policy, today)
    folder = data_folder / REPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / report.file_name
    write_atomically(path, render_html(report))
    return path, report
