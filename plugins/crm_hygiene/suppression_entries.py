"""What staged suppression entries (``stg_suppression``) do to the people held.

Shared by the list sync (crm_hygiene.suppression), which stages a dropped
list, and the erasure-log replay (crm_hygiene.erasure_replay), which stages the
entries a restore lost: one set of statements (include/sql/suppression/) for both.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene.db import read_sql
from crm_hygiene.run import RunInfo

# The prospects column holding each key type's hash (a fixed map: the name goes into SQL).
HASH_COLUMNS = {"email": "email_hash", "phone": "phone_hash", "domain": "domain_hash"}


def staged_kinds(conn: Connection) -> list[tuple[str, str, str]]:
    """The (key_type, reason, scope) combinations staged: a statement runs only for those
    that can match, so an email list never scans for phone numbers."""
    return [tuple(r) for r in conn.execute(text("SELECT DISTINCT key_type, reason, scope FROM stg_suppression"))]


def erasing_targets_sql(key_types: Iterable[str]) -> str:
    """The held people the staged entries with a reason in ``:erasing`` name, for each key
    type given: a query of prospect ids, for ``erasure.erase``."""
    return "\nUNION\n".join(
        read_sql("suppression/erasure_targets.sql").format(hash_column=HASH_COLUMNS[t], key_type=t).rstrip()
        for t in sorted(set(key_types)))


def suppress_and_mark_held(conn: Connection, run: RunInfo, staged: list[tuple[str, str, str]]) -> tuple[int, int]:
    """Scope ``all``/``email`` entries set status suppressed, scope ``phone`` entries
    do_not_call, for the key types `staged` holds; returns (suppressed, marked)."""
    matched = []
    for statement, scopes in (("suppress_held", {"all", "email"}), ("mark_do_not_call", {"phone"})):
        total = 0
        for key_type in sorted({key_type for key_type, _, scope in staged if scope in scopes}):
            sql = read_sql(f"suppression/{statement}.sql").format(hash_column=HASH_COLUMNS[key_type])
            stmt = text(sql).bindparams(bindparam("now", type_=DateTime))
            total += conn.execute(stmt, {"now": run.started_at, "key_type": key_type}).rowcount
        matched.append(total)
    return matched[0], matched[1]
