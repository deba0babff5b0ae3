"""Which value of a person's field survives, written once for the SQL that applies it.

Two statements merge values field by field: folding a file's rows into one
candidate per person (``ingest/05_build_candidates.sql``) and merging a
candidate into the person already held (``ingest/07_insert_prospects.sql`` with
``ingest/07_merge_held_prospects.sql``).
Both are templates; their per-field parts are generated here from
``PERSON_FIELDS``, so a field added to the list is folded, inserted and merged
alike. Only identifiers from this list are formatted into the SQL, never a value.

The rule, per field: the newest non-empty value wins (newest by when the row
was seen, then by its row number in the file); an empty value never replaces a
known one. A field that describes another (an address's flags and hashes, a
phone's hash) is taken from the same row, or the same side of the merge, as the
field it describes, so the two never disagree. The email match key, once held,
stays: it is how the person is found.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_hygiene.db import read_sql
from crm_hygiene.sqlmacros import expand_macros


@dataclass(frozen=True)
class PersonField:
    name: str
    # Taken from wherever this other field's value is taken from.
    describes: str | None = None
    # 0/1 in staging, BOOLEAN in prospects.
    flag: bool = False
    # The held value is never replaced by a drop's.
    kept_once_held: bool = False


PERSON_FIELDS: tuple[PersonField, ...] = (
    PersonField("email"),
    PersonField("email_match_key", kept_once_held=True),
    PersonField("first_name"),
    PersonField("last_name"),
    PersonField("name_key"),
    PersonField("company"),
    PersonField("company_key"),
    PersonField("job_title"),
    PersonField("country"),
    PersonField("phone_e164"),
    PersonField("email_is_personal", describes="email", flag=True),
    PersonField("email_is_role", describes="email", flag=True),
    PersonField("email_is_disposable", describes="email", flag=True),
    PersonField("email_hash", describes="email"),
    PersonField("domain_hash", describes="email"),
    PersonField("phone_hash", describes="phone_e164"),
)

# The fold ranks each person's rows newest first and writes the rank as
# fixed-width text (1000000001, 1000000002, ...): prefixed to a value, MIN()
# over the person's rows then picks the value of the newest row that has one.
# MIN/MAX over such text is the portable stand-in for FIRST_VALUE ... IGNORE
# NULLS (neither SQLite nor PostgreSQL 15 has it), and one window sort serves
# every field. Ten digits: up to 8,999,999,999 rows per person.
RANK_DIGITS = 10
NEWEST_FIRST = f"CAST({10 ** (RANK_DIGITS - 1)} + ROW_NUMBER() OVER w AS TEXT)"


def _ranked(value: str, anchor: str | None) -> str:
    """`value` prefixed by its row's rank; rows whose `anchor` is empty rank after all others."""
    if anchor is None:
        return f"newest_first || {value}"
    return f"CASE WHEN {anchor} IS NULL THEN '1' ELSE '0' END || newest_first || {value}"


def _folded(field: PersonField) -> str:
    width = RANK_DIGITS
    if field.describes is None:
        # NULL || anything is NULL: empty values drop out of MIN().
        value = f"SUBSTR(MIN({_ranked(field.name, None)}), {width + 1})"
    else:
        # Any value, NULL included ('n'), of the row whose described field is taken
        # (or of the newest row when none has one): 'v' marks a value.
        marked = f"COALESCE('v' || {field.name}, 'n')"
        best = f"MIN({_ranked(marked, field.describes)})"
        value = f"CASE WHEN SUBSTR({best}, {width + 2}, 1) = 'v' THEN SUBSTR({best}, {width + 3}) END"
    if field.flag:
        value = f"CAST({value} AS INTEGER)"
    return f"{value} AS {field.name}"


def _taken_from_drop(name: str) -> str:
    """True when the merge takes `name` from the candidate (excluded) rather than the held record."""
    return (f"excluded.{name} IS NOT NULL AND (prospects.{name} IS NULL "
            f"OR excluded.last_contact_at >= prospects.last_contact_at)")


def _merged(field: PersonField) -> str:
    name = field.name
    if field.kept_once_held:
        return f"{name} = COALESCE(prospects.{name}, excluded.{name})"
    return (f"{name} = CASE WHEN {_taken_from_drop(field.describes or name)}\n"
            f"        THEN excluded.{name} ELSE prospects.{name} END")


def candidate_parts(fields: tuple[PersonField, ...] = PERSON_FIELDS) -> dict[str, str]:
    """The generated parts of 05_build_candidates.sql."""
    return {
        "newest_first": NEWEST_FIRST,
        "value_start": str(RANK_DIGITS + 1),
        "row_fields": ", ".join(f.name for f in fields),
        "folded_fields": ",\n       ".join(_folded(f) for f in fields),
    }


def prospect_parts(fields: tuple[PersonField, ...] = PERSON_FIELDS) -> dict[str, str]:
    """The generated parts of 07_insert_prospects.sql and 07_merge_held_prospects.sql."""
    return {
        "person_fields": ", ".join(f.name for f in fields),
        "candidate_fields": ", ".join(f"{f.name} = 1" if f.flag else f.name for f in fields),
        "merged_fields": ",\n    ".join(_merged(f) for f in fields),
    }


def build_candidates_sql(dialect: str) -> str:
    """05_build_candidates.sql with its parts filled in, for `dialect`."""
    return expand_macros(read_sql("ingest/05_build_candidates.sql").format(**candidate_parts()), dialect)


def write_prospects_sql(merge_held: bool) -> str:
    """07_insert_prospects.sql, with 07_merge_held_prospects.sql appended when
    the CRM may already hold some of the candidates."""
    parts = prospect_parts()
    sql = read_sql("ingest/07_insert_prospects.sql").format(**parts)
    if merge_held:
        sql += "\n" + read_sql("ingest/07_merge_held_prospects.sql").format(**parts)
    return sql
