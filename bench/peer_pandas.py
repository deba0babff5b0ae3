"""The peer (issue 15, item 7): the plain pandas script a data engineer would write instead.

Read the CSV in chunks, validate emails with email-validator and phones with
phonenumbers row by row, lower-case and de-duplicate on email, COPY into
PostgreSQL. Written the two ways such a script is usually written: ``apply``
(``Series.apply`` and ``DataFrame.apply(axis=1)``) and list comprehensions.
Single process, no gate, no quarantine, no merge, no hashing, no minors, no
audit: it does far less than the ingest, and the ingest must still beat it.

`bench/ingest_bench.py` runs it in a fresh process on the same file, into a
fresh database, and reads the JSON line it prints:

    python bench/peer_pandas.py --style apply|comprehension --dsn DSN --file CSV
"""

from __future__ import annotations

import argparse
import io
import json
import time

CHUNK_ROWS = 50_000
RESULT_PREFIX = "PEER_RESULT "
COLUMNS = ["email", "first_name", "last_name", "company", "job_title", "country", "phone"]

# What such a script hard-codes: the country spellings seen in the data it was written for.
COUNTRY_CODES = {
    "united kingdom": "GB", "uk": "GB", "u.k.": "GB", "gb": "GB", "great britain": "GB", "england": "GB",
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US", "us": "US",
    "france": "FR", "fr": "FR", "germany": "DE", "deutschland": "DE", "de": "DE",
    "ireland": "IE", "republic of ireland": "IE", "ie": "IE",
    "netherlands": "NL", "the netherlands": "NL", "nederland": "NL", "holland": "NL", "nl": "NL",
    "spain": "ES", "españa": "ES", "es": "ES", "poland": "PL", "polska": "PL", "pl": "PL",
    "japan": "JP", "日本": "JP", "jp": "JP",
}


def valid_email(raw):
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def e164(raw, country):
    import phonenumbers

    if not isinstance(raw, str) or not raw.strip():
        return None
    region = COUNTRY_CODES.get(country.strip().lower()) if isinstance(country, str) else None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_apply(df):
    df["email"] = df["email"].apply(valid_email)
    df["phone"] = df.apply(lambda row: e164(row["phone"], row["country"]), axis=1)
    return df


def clean_comprehension(df):
    df["email"] = [valid_email(v) for v in df["email"].tolist()]
    df["phone"] = [e164(p, c) for p, c in zip(df["phone"].tolist(), df["country"].tolist(), strict=True)]
    return df


def run(style: str, dsn: str, path: str) -> dict:
    import pandas as pd
    import psycopg

    clean = clean_apply if style == "apply" else clean_comprehension
    started = time.perf_counter()
    parts = []
    for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS, usecols=COLUMNS):
        chunk = clean(chunk)
        parts.append(chunk[chunk["email"].notna()])
    people = pd.concat(parts, ignore_index=True).drop_duplicates(subset="email")
    buffer = io.StringIO()
    people[COLUMNS].to_csv(buffer, index=False, header=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE peer_prospects (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")")
        with conn.cursor() as cur, cur.copy("COPY peer_prospects FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
    return {"seconds": time.perf_counter() - started, "rows_loaded": len(people)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=("apply", "comprehension"), required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    print(RESULT_PREFIX + json.dumps(run(args.style, args.dsn, args.file)), flush=True)


if __name__ == "__main__":
    main()
