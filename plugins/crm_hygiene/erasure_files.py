"""After an erasure commits: delete its answer files and scrub its people from drop files.

Contract promise 3: after an erasure the person's email, name and phone appear
nowhere in the data folder, archived and rejected drops included. An erasure
leaves its to-do in ``erasure_followups`` (answer file paths; erased
identifiers as keyed hashes only) inside its own transaction; this module does
the file work and then deletes those rows, so a crash at any point is finished
by the next run (every step is idempotent: deleting a missing file, scrubbing a
clean file). Every run that erases calls ``complete_pending_erasures`` first.

Scrubbing rewrites each archived or rejected drop atomically without the rows
that are an erased person's, telling rows apart by the merge rules: a row goes
when its email is theirs; or its phone is theirs and its email names nobody
else; or its name at its company is theirs and neither its email nor its phone
names someone else (so a colleague sharing a switchboard number stays). Every
other row is kept byte for byte. A cell naming an erased person as referrer in
someone else's row is emptied (that row is re-written, its other cells kept). A
file that does not read as CSV (binary, broken quoting, NUL bytes, another
encoding) is scanned as text lines instead and loses the lines that carry an
erased identifier. Only counts are logged and audited.
"""

from __future__ import annotations

import codecs
import csv
import fcntl
import hashlib
import io
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.db import read_sql
from crm_hygiene.drops.files import REJECTED_DIR, UnsafePath, fsync_dir, inside, sha256_of, within
from crm_hygiene.drops.inbox import archive_processed_leftovers
from crm_hygiene.keys import HashKey, HashKeys
from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.normalise.email_address import email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import company_key, name_key
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

log = logging.getLogger(__name__)

LOCK_NAME = ".erasure-followups.lock"
_TMP_SUFFIX = ".scrub-tmp"
_SNIFF_BYTES = 1 << 16
_EMAIL_TOKEN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE_TOKEN = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{5,}\d(?!\w)")
_NOT_DIGIT = re.compile(r"[^0-9]")
EMAIL_COLUMNS = ("email",)
REFERRER_COLUMNS = ("referred_by_email",)


@dataclass
class FollowupCounts:
    answer_files_deleted: int = 0
    answer_files_missing: int = 0  # already gone (a re-run after a crash)
    answer_files_refused: int = 0  # outside exports/: never deleted
    drop_files_scanned: int = 0
    drop_files_scrubbed: int = 0
    rows_removed: int = 0  # CSV records of erased people
    lines_removed: int = 0  # text lines of files that are not CSV
    cells_emptied: int = 0  # referrer cells in other people's rows
    scrub_keys_done: int = 0
    scrub_keys_unmatchable: int = 0  # hashed under a key no longer configured


class ScrubResult(NamedTuple):
    records_removed: int
    lines_removed: int
    cells_emptied: int

    @property
    def changed(self) -> bool:
        return bool(self.records_removed or self.lines_removed or self.cells_emptied)


class ErasedKeys:
    """Tells whether an identifier is an erased one, by keyed hash only."""

    def __init__(self, hash_keys: list[HashKey], hashes: set[tuple[str, str]], default_region: str,
                 countries: CountryResolver):
        self._keys, self._hashes = hash_keys, hashes
        self.default_region, self._countries = default_region, countries

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def _hit(self, key_type: str, value: str | None) -> bool:
        return bool(value) and any((key_type, k.digest(value)) in self._hashes for k in self._keys)

    def email(self, cell: str | None) -> bool | None:
        """True if erased, False if it names someone else, None if it names nobody."""
        key = email_match_key(cell) if cell and "@" in cell else None
        if key is None:
            return None
        return self._hit("email", key)

    def phone(self, cell: str | None, country: str | None = None) -> bool | None:
        forms = _phone_forms(cell or "", self._region(country))
        if not forms:
            return None
        return any(self._hit("phone", f) for f in forms)

    def name_company(self, first: str | None, last: str | None, company: str | None) -> bool:
        nkey, ckey = name_key(first, last), company_key(company)
        return bool(nkey and ckey) and self._hit("name_company", f"{nkey}|{ckey}")

    def _region(self, country: str | None) -> str:
        try:
            return self._countries.to_alpha2(country) or self.default_region
        except UnknownCountry:
            return self.default_region

    def row_is_erased(self, row: dict[str, str]) -> bool:
        """The merge rules, applied to a drop row."""
        email = self.email(row.get("email"))
        if email is not None:  # the row's own mailbox decides: theirs, or someone else's
            return email
        phone = self.phone(row.get("phone"), row.get("country"))
        if phone is not None:
            return phone
        return self.name_company(row.get("first_name"), row.get("last_name"), row.get("company"))

    def line_is_erased(self, line: str) -> bool:
        """For text that is not CSV: any erased email; an erased phone on a line naming no other mailbox."""
        emails = [self.email(token) for token in _EMAIL_TOKEN.findall(line)]
        if any(emails):
            return True
        if emails:  # the line names someone else by email
            return False
        return any(self.phone(token) for token in _PHONE_TOKEN.findall(line))


class EveryoneBut:
    """The matcher for keeping only some people's rows (a legal hold over a drop
    past retention): every row that does *not* name one of `kept` is the one to remove."""

    def __init__(self, kept: ErasedKeys):
        self._kept = kept

    def __bool__(self) -> bool:
        return True

    def email(self, cell: str | None) -> bool | None:
        named = self._kept.email(cell)
        return None if named is None else not named

    def row_is_erased(self, row: dict[str, str]) -> bool:
        return not self._kept.row_is_erased(row)

    def line_is_erased(self, line: str) -> bool:
        return not self._kept.line_is_erased(line)


@lru_cache(maxsize=100_000)
def _phone_forms(cell: str, region: str) -> tuple[str, ...]:
    """E.164 (read in the row's country), and the digits as a fallback as quarantine keeps them."""
    cell = cell.strip()
    if not cell:
        return ()
    forms = []
    try:
        if e164 := to_e164(cell, region):
            forms.append(e164)
    except InvalidPhone:
        pass
    digits = _NOT_DIGIT.sub("", cell)
    if digits:
        forms += [digits, "+" + digits]
        if digits.startswith("00"):
            forms.append("+" + digits[2:])
    return tuple(dict.fromkeys(forms))


# --- one file -------------------------------------------------------------

class _Encoding(NamedTuple):
    bom: bytes
    codec: str


def _sniff(path: Path) -> _Encoding:
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return _Encoding(bom, codec)
    if head.count(b"\x00") > len(head) // 4:  # UTF-16 without a BOM: every other byte is NUL
        even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
        return _Encoding(b"", "utf-16-be" if even > odd else "utf-16-le")
    return _Encoding(b"", "utf-8")


def _open_text(path: Path, enc: _Encoding) -> io.TextIOWrapper:
    raw = open(path, "rb")  # noqa: SIM115 - wrapped and closed by the caller
    raw.seek(len(enc.bom))
    return io.TextIOWrapper(raw, encoding=enc.codec, errors="strict", newline="")


def _csv_records(fh) -> Iterator[tuple[str, list[str]]]:
    """(raw text, cells) per CSV record, the raw text exactly as read (quoted newlines included)."""
    consumed: list[str] = []

    def lines():
        for line in fh:
            consumed.append(line)
            yield line

    for cells in csv.reader(lines()):
        raw = "".join(consumed)
        consumed.clear()
        yield raw, cells
    if consumed:
        yield "".join(consumed), []


def _header(cells: list[str]) -> list[str]:
    return [c.strip().lstrip("\ufeff").strip().lower() for c in cells]


def _knows_people(header: list[str]) -> bool:
    return bool({"email", "phone", "first_name", "last_name"} & set(header))


def _scrub_csv(fh, out, erased: ErasedKeys) -> ScrubResult:
    records = _csv_records(fh)
    first = next(records, None)
    if first is None:
        return ScrubResult(0, 0, 0)
    raw, cells = first
    header = _header(cells)
    if not _knows_people(header) or "\x00" in raw:
        raise _NotCsv
    out.write(raw)
    removed = emptied = 0
    referrers = [i for i, name in enumerate(header) if name in REFERRER_COLUMNS]
    for raw, cells in records:
        if "\x00" in raw:
            raise _NotCsv
        row = dict(zip(header, cells, strict=False))
        if cells and erased.row_is_erased(row):
            removed += 1
            continue
        hit = [i for i in referrers if i < len(cells) and erased.email(cells[i])]
        if hit:
            for i in hit:
                cells[i] = ""
            emptied += len(hit)
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator=_line_end(raw)).writerow(cells)
            raw = buffer.getvalue()
        out.write(raw)
    return ScrubResult(removed, 0, emptied)


def _line_end(raw: str) -> str:
    for end in ("\r\n", "\n", "\r"):
        if raw.endswith(end):
            return end
    return ""


class _NotCsv(Exception):
    """The file is not a CSV of people: scan it as text lines."""


def _scrub_lines(fh, out, erased: ErasedKeys) -> ScrubResult:
    removed = 0
    header: list[str] | None = None
    for line in fh:
        if header is None:
            header = _header(_cells(line))
            if erased.line_is_erased(line):
                removed += 1
            else:
                out.write(line)
            continue
        cells = _cells(line)
        as_row = _knows_people(header) and cells and erased.row_is_erased(dict(zip(header, cells, strict=False)))
        if as_row or erased.line_is_erased(line):
            removed += 1
            continue
        out.write(line)
    return ScrubResult(0, removed, 0)


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line.replace("\x00", "")]), [])
    except csv.Error:
        return []


class _Discard:
    """A writer that keeps nothing: the dry run."""

    def write(self, _text: str) -> None:
        return None


def _dry_scrub(path: Path, erased: ErasedKeys):
    """A read-only pass: (encoding, scrubber, what a rewrite would remove)."""
    enc = _sniff(path)
    # A CSV in a legacy encoding is still a CSV; only what reads as neither is scanned as lines.
    latin1 = _Encoding(b"", "latin-1")
    for encoding, scrub in ((enc, _scrub_csv), (latin1, _scrub_csv), (enc, _scrub_lines), (latin1, _scrub_lines)):
        try:
            with _open_text(path, encoding) as fh:
                return encoding, scrub, scrub(fh, _Discard(), erased)
        except (UnicodeError, csv.Error, _NotCsv):
            continue
    return None, None, ScrubResult(0, 0, 0)


def rows_naming(path: Path, people: ErasedKeys) -> int:
    """How many records (or, for a file that is not CSV, lines) of `path` name one of `people`."""
    result = _dry_scrub(path, people)[2]
    return result.records_removed + result.lines_removed


def scrub_file(path: Path, erased: ErasedKeys,
               before_rewrite: Callable[[Path, ScrubResult], None] = lambda _path, _result: None) -> ScrubResult:
    """Rewrite `path` atomically without the erased people's rows; unchanged files are not touched.

    A read-only pass first: most drops name nobody erased, and then nothing is
    written. `before_rewrite` hears what will be removed before the file is
    replaced (the audit row goes first, so a crash cannot leave a removal unaudited).
    """
    encoding, scrub, result = _dry_scrub(path, erased)
    if result.changed:
        before_rewrite(path, result)
        _rewrite(path, encoding, scrub, erased)
    return result


def _rewrite(path: Path, encoding: _Encoding, scrub, erased: ErasedKeys) -> None:
    """The scrubbed copy beside the file, synced, then renamed over it: a crash leaves one or the other whole."""
    tmp = path.with_name(f".{path.name}{_TMP_SUFFIX}")
    try:
        with _open_text(path, encoding) as fh, open(tmp, "wb") as raw_out:
            raw_out.write(encoding.bom)
            out = io.TextIOWrapper(raw_out, encoding=encoding.codec, newline="")
            scrub(fh, out, erased)
            out.flush()
            os.fsync(raw_out.fileno())
            out.detach()
        before = os.lstat(path)
        os.chmod(tmp, stat.S_IMODE(before.st_mode))
        # The file's age is its retention clock (archived_at): a rewrite must not restart it.
        os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def drop_files(data_folder: Path) -> Iterator[Path]:
    """Every regular file under archive/ and inbox/<kind>/rejected/, links never followed."""
    roots = [data_folder / "archive"]
    inbox = data_folder / "inbox"
    if inbox.is_dir():
        roots += sorted(p / REJECTED_DIR for p in inbox.iterdir() if p.is_dir() and not p.is_symlink())
    for root in roots:
        if not root.is_dir() or root.is_symlink():
            continue
        for folder, dirs, names in os.walk(root, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder) / name
                if name.endswith(_TMP_SUFFIX):
                    path.unlink(missing_ok=True)  # left by a crash: the original is still whole
                    continue
                if stat.S_ISREG(os.lstat(path).st_mode):
                    yield path


# --- the to-do ------------------------------------------------------------

class _Followup(NamedTuple):
    followup_id: int
    kind: str
    answer_file: str | None
    key_type: str | None
    key_hash: str | None
    key_id: str | None


def pending_followups(engine: Engine) -> list[_Followup]:
    with engine.connect() as conn:
        return [_Followup(*r) for r in conn.execute(text(read_sql("erasure/pending.sql")))]


@contextmanager
def _scrubber_lock(data_folder: Path):
    """One scrubber at a time: two rewriting one file from different to-do sets could undo each other."""
    with open(data_folder / LOCK_NAME, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _answer_path(exports: Path, stored: str) -> Path | None:
    """Where a stored answer file is now: stored as 'dsr/<request_id>.json' under
    exports/ (older rows hold an absolute path, read by its last two parts, so a
    data folder mounted elsewhere still finds it); None if it would leave exports/."""
    parts = Path(stored).parts[-2:]
    if len(parts) != 2:
        return None
    try:
        path = inside(inside(exports, parts[0]), parts[1])
    except UnsafePath:
        return None
    return path if within(exports, path) else None


def file_ref(folder: Path, path: Path) -> str:
    """How the audit log names one file's bytes at one place: a hash of its path
    under `folder` and of its content (a drop's name can be a person's; two
    archived copies of the same bytes are two files; ids of the to-do are reused)."""
    where = path.relative_to(folder).as_posix() if within(folder, path) else path.name
    return "file:" + hashlib.sha256(f"{where}\0{sha256_of(path)}".encode()).hexdigest()


def audit_file_once(engine: Engine, run: RunInfo, action: str, subject_ref: str, reason: str, rows: int,
                details: dict | None = None) -> None:
    """One audit row per (action, subject), whichever run writes it: written before the
    file work it records, so a crash can neither lose nor repeat it."""
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM audit_log WHERE action = :a AND subject_ref = :s"),
                        {"a": action, "s": subject_ref}).first() is None:
            write_audit(conn, run, action, subject_ref=subject_ref, reason=reason, rows_affected=rows,
                        details=details)


def _delete_answer_files(followups: list[_Followup], exports: Path, counts: FollowupCounts,
                         engine: Engine, run: RunInfo) -> None:
    for item in followups:
        if item.kind != "answer_file" or not item.answer_file:
            continue
        path = _answer_path(exports, item.answer_file)
        if path is None:
            counts.answer_files_refused += 1
            continue
        if os.path.lexists(path):
            audit_file_once(engine, run, "delete_answer_file", file_ref(exports, path),
                        "an access or portability answer deleted (erasure, or past retention)", 1)
            path.unlink()
            counts.answer_files_deleted += 1
        else:
            counts.answer_files_missing += 1


def erased_keys(followups: list[_Followup], keys: HashKeys, policy: Policy) -> tuple[ErasedKeys, int]:
    """The to-do's scrub keys as a matcher, and how many were hashed under no configured key."""
    configured = {k.key_id: k for k in keys.keys}
    scrub = [f for f in followups if f.kind == "scrub_key"]
    usable = [f for f in scrub if f.key_id in configured]
    used_keys = [configured[i] for i in sorted({f.key_id for f in usable})]
    matcher = ErasedKeys(used_keys, {(f.key_type, f.key_hash) for f in usable},
                         policy.suppression.default_phone_region,
                         CountryResolver(policy.input_validation.country_aliases))
    return matcher, len(scrub) - len(usable)


def _audit_file_scrub(engine: Engine, run: RunInfo, data_folder: Path) -> Callable[[Path, ScrubResult], None]:
    """An audit row per drop file rewritten, named by the hash of its bytes before:
    written once, so the run that finishes a crashed scrub of those same bytes
    neither repeats it nor loses it (counts only; a drop's name can be a person's)."""
    def audit(path: Path, result: ScrubResult) -> None:
        audit_file_once(engine, run, "scrub_drop_file", file_ref(data_folder, path),
                    "erased people's rows removed from an archived or rejected drop",
                    result.records_removed + result.lines_removed, result._asdict())
    return audit


def scrub_drops(data_folder: Path, erased: ErasedKeys, counts: FollowupCounts,
                before_rewrite: Callable[[Path, ScrubResult], None] = lambda _path, _result: None) -> None:
    if not erased:
        return
    for path in drop_files(data_folder):
        counts.drop_files_scanned += 1
        result = scrub_file(path, erased, before_rewrite)
        if result.changed:
            counts.drop_files_scrubbed += 1
            counts.rows_removed += result.records_removed
            counts.lines_removed += result.lines_removed
            counts.cells_emptied += result.cells_emptied


def complete_pending_erasures(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo,
                              data_folder: Path | None = None) -> FollowupCounts:
    """Finish every committed erasure's file work, then clear its to-do (audited, counts only).

    Touches no file when the to-do is empty. `data_folder` defaults to the
    contract's data folder (``CRM_DATA_DIR``).
    """
    counts = FollowupCounts()
    if not pending_followups(engine):
        return counts
    if data_folder is None:
        from crm_hygiene.settings import data_dir

        data_folder = data_dir()
    data_folder.mkdir(parents=True, exist_ok=True)
    with _scrubber_lock(data_folder):
        followups = pending_followups(engine)  # another run may have finished them meanwhile
        if not followups:
            return counts
        _delete_answer_files(followups, data_folder / "exports", counts, engine, run)
        matcher, counts.scrub_keys_unmatchable = erased_keys(followups, keys, policy)
        if matcher:
            # A drop whose run committed and then crashed before archiving it
            # would otherwise reach archive/ after this scrub, unscrubbed.
            archive_processed_leftovers(engine, data_folder / "inbox", data_folder / "archive")
        scrub_drops(data_folder, matcher, counts, _audit_file_scrub(engine, run, data_folder))
        counts.scrub_keys_done = sum(f.kind == "scrub_key" for f in followups)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM erasure_followups WHERE followup_id IN :ids").bindparams(
                bindparam("ids", expanding=True)), {"ids": [f.followup_id for f in followups]})
            # What was deleted is audited per answer file and per drop file, before
            # each (delete_answer_file, scrub_drop_file); this row sums up the batch.
            write_audit(conn, run, "erasure_followups", subject_ref="erasure_followups",
                        reason="answer files deleted and drops scrubbed after erasure",
                        rows_affected=0, details=asdict(counts))
    log.info("erasure follow-ups: %s", asdict(counts))
    return counts
