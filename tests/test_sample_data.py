"""The sample-data generator writes contract-shaped, deterministic, realistically dirty drops.

Everything is checked by parsing the files it writes, the way the pipeline will
read them, never by looking at the generator's internals.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from crm_hygiene.sample_data import generate_inbox, write_enquiry_file, write_event_file, write_research_file

TODAY = date(2026, 3, 15)
SEED = 7
ROWS = 2000

# The contract's column lists (CONTRACT.md, "Input files"), spelled out here on
# purpose: if the generator's constants drift, these tests must notice.
RESEARCH_HEADER = (
    "first_name,last_name,email,phone,company,job_title,country,source,source_url,collected_at,date_of_birth,age,notes"
)
EVENT_HEADER = (
    "event_name,event_date,first_name,last_name,email,phone,company,job_title,country,"
    "marketing_consent,date_of_birth,age,notes"
)
ENQUIRY_HEADER = (
    "received_at,channel,first_name,last_name,email,phone,company,job_title,country,"
    "marketing_consent,referred_by_email,notes"
)

WRITERS = {
    "research": (write_research_file, RESEARCH_HEADER),
    "events": (write_event_file, EVENT_HEADER),
    "enquiries": (write_enquiry_file, ENQUIRY_HEADER),
}

VALID_SOURCES = {"linkedin", "search_engine", "company_website", "public_register", "data_research"}
VALID_CHANNELS = {"web_form", "email", "telephone", "meeting", "email_a_friend"}
CONSENT_SPELLINGS = {"yes", "no", "true", "false", "1", "0", "y", "n", ""}
PLAUSIBLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def read_drop(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def match_key(address: str) -> str:
    """The contract's email match key (trim, lower, drop +tag, gmail dots and googlemail)."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> dict[str, list[Path]]:
    return generate_inbox(tmp_path_factory.mktemp("data"), ROWS, SEED, TODAY)


@pytest.fixture(scope="module")
def drops(inbox) -> dict[str, pd.DataFrame]:
    return {kind: read_drop(paths[0]) for kind, paths in inbox.items()}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_header_is_exactly_the_contract_columns(tmp_path, kind):
    write, header = WRITERS[kind]
    path = tmp_path / f"{kind}.csv"
    write(path, 50, SEED, TODAY)
    assert path.read_text(encoding="utf-8").split("\n", 1)[0] == header


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("rows", [0, 1, 737])
def test_writer_returns_and_writes_the_requested_row_count(tmp_path, kind, rows):
    write, header = WRITERS[kind]
    path = tmp_path / f"{kind}.csv"
    assert write(path, rows, SEED, TODAY) == rows
    frame = read_drop(path)
    assert len(frame) == rows
    assert ",".join(frame.columns) == header


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path, kind):
    write, _ = WRITERS[kind]
    first, again, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write(first, 500, SEED, TODAY)
    write(again, 500, SEED, TODAY)
    write(other, 500, SEED + 1, TODAY)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_generate_inbox_lays_out_one_file_per_kind_and_splits_the_rows(inbox, drops):
    assert set(inbox) == {"research", "events", "enquiries"}
    for kind, paths in inbox.items():
        assert len(paths) == 1
        assert paths[0].parent.name == kind
        assert paths[0].parent.parent.name == "inbox"
        assert paths[0].name == f"{kind}_{SEED}.csv"
    counts = {kind: len(frame) for kind, frame in drops.items()}
    assert sum(counts.values()) == ROWS
    assert counts["research"] == pytest.approx(0.60 * ROWS, abs=2)
    assert counts["events"] == pytest.approx(0.25 * ROWS, abs=2)
    assert counts["enquiries"] == pytest.approx(0.15 * ROWS, abs=2)


def test_files_parse_without_missing_cells(drops):
    for frame in drops.values():
        assert not frame.isna().any().any()


def test_research_has_the_expected_dirt(drops):
    research = drops["research"]
    emails = research["email"].str.strip()
    assert (~emails.str.fullmatch(PLAUSIBLE_EMAIL) & (emails != "")).any(), "an invalid email"
    assert ((emails == "") & (research["phone"].str.strip() != "")).any(), "a phone-only row"
    assert (emails != research["email"]).any(), "leading/trailing spaces"
    sources = set(research["source"].str.strip())
    assert sources - VALID_SOURCES, "an unknown source"
    countries = set(research["country"].str.strip())
    assert {"UK", "United Kingdom", "USA"} <= countries
    assert countries & {"Deutschland", "Nederland", "España", "U.S.A.", "England", "Great Britain"}
    assert (research["collected_at"] == "").any()
    assert (research["date_of_birth"] != "").any()
    assert (research["notes"] == "").mean() > 0.8


def test_a_person_repeats_with_a_plus_tag_variant(drops):
    emails = drops["research"]["email"].str.strip()
    emails = emails[emails.str.fullmatch(PLAUSIBLE_EMAIL)]
    lowered = set(emails.str.lower())
    tagged = emails[emails.str.contains("+", regex=False)]
    assert any(match_key(e) in lowered for e in tagged)


def test_people_recur_across_sources(drops):
    research_keys = {match_key(e) for e in drops["research"]["email"] if "@" in e}
    assert drops["events"]["email"].map(match_key).isin(research_keys).any()
    assert drops["enquiries"]["email"].map(match_key).isin(research_keys).any()


def test_some_people_are_under_sixteen(drops):
    today = pd.Timestamp(TODAY)
    minors = 0
    for kind in ("research", "events"):
        frame = drops[kind]
        ages = pd.to_numeric(frame["age"], errors="coerce")
        born = pd.to_datetime(frame["date_of_birth"], format="ISO8601", errors="coerce")
        minors += int(((ages < 16) | (born > today - pd.DateOffset(years=16))).sum())
    assert minors > 0


def test_dates_are_iso_and_in_the_last_two_years_except_a_few_bad_ones(drops):
    midnight = pd.Timestamp(TODAY, tz="UTC")
    columns = {"research": "collected_at", "events": "event_date", "enquiries": "received_at"}
    for kind, column in columns.items():
        values = drops[kind][column].str.strip()
        values = values[values != ""]
        parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
        assert parsed.notna().mean() > 0.95
        assert (parsed.dropna() < midnight).all()
        assert (parsed.dropna() > midnight - timedelta(days=731)).all()
    unparseable = drops["research"]["collected_at"].str.strip()
    assert unparseable.isin(["yesterday", f"31/02/{TODAY.year}"]).any()


def test_consent_and_channels_use_the_contract_spellings_with_a_little_noise(drops):
    for kind in ("events", "enquiries"):
        consent = drops[kind]["marketing_consent"].str.strip().str.lower()
        assert set(consent) <= CONSENT_SPELLINGS
        assert len(set(drops[kind]["marketing_consent"])) > len(set(consent)), "mixed case"
    channels = drops["enquiries"]["channel"].str.strip()
    assert channels.isin(VALID_CHANNELS).mean() > 0.9
    assert not channels.isin(VALID_CHANNELS).all(), "an unknown channel"


def test_email_a_friend_rows_name_the_referrer(drops):
    enquiries = drops["enquiries"]
    friend = enquiries["channel"] == "email_a_friend"
    assert friend.any()
    assert (enquiries.loc[friend, "referred_by_email"] != "").all()
    assert (enquiries.loc[~friend, "referred_by_email"] == "").all()


def test_unicode_names_survive(drops):
    names = pd.concat([frame["first_name"] + " " + frame["last_name"] for frame in drops.values()])
    assert (~names.map(str.isascii)).any()
    assert names.str.contains(r"[\u3040-\u30ff\u4e00-\u9fff]").any(), "a Japanese name"
    assert names.str.contains(r"[À-ž]").any(), "an accented Latin name"
