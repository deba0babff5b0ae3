"""Migration 0006 on SQLite: prospects and ingested_files rebuilt with
AUTOINCREMENT lose nothing (rows, indexes, CHECKs, UNIQUE, the view), and the
id counter starts above every id still named anywhere. On both backends the
review status 'erased' is allowed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm_hygiene.db import make_engine, upgrade_schema


def _master(engine) -> dict[tuple[str, str], str | None]:
    with engine.connect() as conn:
        return {(t, n): s for t, n, s in conn.execute(text(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'alembic%' AND name <> 'sqlite_sequence'"))}


def test_sqlite_rebuild_keeps_every_index_constraint_and_row(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    upgrade_schema(engine, "0005")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO prospects (prospect_id, match_key, email, source, lawful_basis, first_seen_at, "
            "last_contact_at, created_at, updated_at, phone_hash) VALUES (3, 'e:a@b.com', 'a@b.com', 'linkedin', "
            "'consent', '2026-01-01', '2026-01-01', '2026-01-01', '2026-01-01', 'h')"))
        # An erased person's id is still named by a review and a request: never to be handed out again.
        conn.execute(text("INSERT INTO minor_reviews (prospect_id, signals, status, queued_at) "
                          "VALUES (9, 's', 'open', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO ingested_files (file_id, kind, file_name, sha256, size_bytes, processed_at) "
            "VALUES (4, 'research', 'r.csv', 'abc', 1, '2026-01-01')"))
    before = _master(engine)

    upgrade_schema(engine, "0006")  # later revisions add their own tables

    after = _master(engine)
    new_objects = {key for key in after if key not in before}
    assert new_objects == {("table", "erasure_followups")}
    assert set(before) <= set(after)
    for key, sql in before.items():
        if key[0] in ("index", "view"):  # every index (the partial phone_hash one too) and the view, unchanged
            assert after[key] == sql, key
    prospects = after[("table", "prospects")]
    assert "prospect_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in prospects
    assert "AUTOINCREMENT" in after[("table", "ingested_files")]
    for constraint in ("CONSTRAINT ck_prospects_lawful_basis CHECK", "CONSTRAINT ck_prospects_status CHECK",
                       "UNIQUE (match_key)"):
        assert constraint in prospects
    assert prospects.replace('"prospects"', "prospects").replace(" PRIMARY KEY AUTOINCREMENT", "") == before[
        ("table", "prospects")].replace(",\n\tPRIMARY KEY (prospect_id)", "").replace(
        ", \n\tPRIMARY KEY (prospect_id)", "")
    assert "'erased'" in after[("table", "minor_reviews")]
    assert ("index", "ix_prospects_phone_hash") in after and "WHERE phone_hash IS NOT NULL" in after[
        ("index", "ix_prospects_phone_hash")]

    with engine.begin() as conn:
        assert conn.execute(text("SELECT prospect_id, match_key FROM prospects")).all() == [(3, "e:a@b.com")]
        assert dict(conn.execute(text("SELECT name, seq FROM sqlite_sequence")).all()) == {
            "prospects": 9, "ingested_files": 4}
        conn.execute(text(
            "INSERT INTO prospects (match_key, source, lawful_basis, first_seen_at, last_contact_at, created_at, "
            "updated_at) VALUES ('e:new@b.com', 'linkedin', 'consent', '2026-01-01', '2026-01-01', '2026-01-01', "
            "'2026-01-01')"))
        assert conn.execute(text("SELECT prospect_id FROM prospects WHERE match_key = 'e:new@b.com'")).scalar() == 10
        with pytest.raises(Exception, match="UNIQUE"):
            with conn.begin_nested():
                conn.execute(text(
                    "INSERT INTO prospects (match_key, source, lawful_basis, first_seen_at, last_contact_at, "
                    "created_at, updated_at) VALUES ('e:new@b.com', 'x', 'consent', '2026-01-01', '2026-01-01', "
                    "'2026-01-01', '2026-01-01')"))
        with pytest.raises(Exception, match="CHECK"):
            with conn.begin_nested():
                conn.execute(text("UPDATE prospects SET status = 'gone'"))
        assert conn.execute(text("SELECT COUNT(*) FROM marketing_prospects")).scalar() == 1  # the view reads the new table


def test_reviews_accept_the_erased_status_and_nothing_unknown(crm):
    with crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO minor_reviews (prospect_id, signals, status, queued_at) "
                          "VALUES (1, 's', 'erased', '2026-01-01')"))
    with pytest.raises(Exception, match="ck_minor_reviews_status|CHECK"), crm.engine.begin() as conn:
        conn.execute(text("INSERT INTO minor_reviews (prospect_id, signals, status, queued_at) "
                          "VALUES (2, 's', 'bogus', '2026-01-01')"))
