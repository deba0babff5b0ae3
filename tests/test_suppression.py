"""Suppression lists on SQLite and PostgreSQL: stored as hashes, applied to what
is held, and checked at every admission so nobody who left comes back."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import write_csv
from drops import (
    ENQUIRY_HEADER,
    EVENT_HEADER,
    KEYS,
    POLICY,
    RESEARCH_HEADER,
    TODAY,
    enquiry_row,
    event_row,
    ingest,
    research_row,
    sync,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_hygiene.ingest.kinds import ENQUIRIES, EVENTS, RESEARCH
from crm_hygiene.keys import parse_hash_keys
from crm_hygiene.normalise.email_address import canonical_email, email_match_key
from crm_hygiene.run import RunInfo
from crm_hygiene.suppression import sync_inbox, tps_due_for_rescreen


def entry(reason, email="", *, email_hmac="", phone="", domain="", scope="", added_at="2026-11-01"):
    return [reason, email, email_hmac, phone, domain, scope, added_at]


def marketable(crm) -> set[str]:
    return {r[0] for r in crm.rows("SELECT email FROM marketing_prospects")}


def status_of(crm, email) -> str | None:
    return crm.scalar("SELECT status FROM prospects WHERE email = :e", e=email)


@pytest.mark.enforces("suppression")
@pytest.mark.promise(6)
def test_unsubscribe_is_stored_as_a_hash_and_takes_the_person_out_of_marketing(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "ann.lee@acme.com"), research_row("Bob", "Ray", "bob@acme.com")])
    assert marketable(crm) == {"ann.lee@acme.com", "bob@acme.com"}

    summary = sync(crm, data_dir, "unsub.csv", [entry("unsubscribe", " Ann.Lee+promo@ACME.com ")])

    assert summary["entries_added"] == 1 and summary["held_suppressed"] == 1
    assert marketable(crm) == {"bob@acme.com"}
    assert status_of(crm, "ann.lee@acme.com") == "suppressed"
    stored = crm.rows("SELECT key_type, key_hash, key_id, reason, scope FROM suppression_list")
    assert stored == [("email", KEYS.current.digest("ann.lee@acme.com"), KEYS.current.key_id, "unsubscribe", "all")]
    assert "ann" not in str(crm.rows("SELECT * FROM suppression_list")).lower()
    audit = crm.rows("SELECT action, rows_affected FROM audit_log WHERE action = 'suppression_list_applied'")
    assert audit == [("suppression_list_applied", 1)]


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@pytest.mark.parametrize("variant", [
    "ANN.LEE@ACME.COM", "ann.lee+news@acme.com", "  ann.lee@acme.com  ", "Ann.Lee+a+b@Acme.Com",
])
def test_a_suppressed_mailbox_never_re_enters_from_any_source(crm, data_dir, variant):
    sync(crm, data_dir, "unsub.csv", [entry("unsubscribe", "ann.lee@acme.com")])
    research = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", variant)])
    events = ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [event_row("Ann", "Lee", variant, "yes")])
    enquiries = ingest(crm, data_dir, ENQUIRIES, "q.csv", ENQUIRY_HEADER,
                       [enquiry_row("Ann", "Lee", variant, "web_form", "yes")])
    for summary in (research, events, enquiries):
        assert summary["rows_blocked"] == 1 and summary["rows_admitted"] == 0
        assert summary["rows_quarantined"] == 0  # counted, not kept with its data
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0
    assert crm.scalar("SELECT COUNT(*) FROM quarantine") == 0


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@pytest.mark.parametrize("variant", ["j.o.h.n.smith@gmail.com", "John.Smith+x@googlemail.com", "johnsmith@GMAIL.com"])
def test_gmail_dots_and_googlemail_are_one_suppressed_mailbox(crm, data_dir, variant):
    sync(crm, data_dir, "unsub.csv", [entry("complaint", "john.smith@gmail.com")])
    summary = ingest(crm, data_dir, EVENTS, "e.csv", EVENT_HEADER, [event_row("John", "Smith", variant, "yes")])
    assert summary["rows_blocked"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 0


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_email_hmac_entries_are_taken_as_given(crm, data_dir):
    digest = KEYS.current.digest("ann@acme.com")
    sync(crm, data_dir, "h.csv", [entry("hard_bounce", email_hmac=digest.upper())])
    assert crm.scalar("SELECT key_hash FROM suppression_list") == digest
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Ann", "X", "Ann+1@acme.com")])
    assert summary["rows_blocked"] == 1


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_domain_entry_suppresses_everyone_at_that_domain(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("A", "One", "a@blocked.example"), research_row("B", "Two", "b@fine.example")])
    summary = sync(crm, data_dir, "d.csv", [entry("manual", domain="@Blocked.Example")])
    assert summary["held_suppressed"] == 1
    assert marketable(crm) == {"b@fine.example"}
    later = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [research_row("C", "Three", "c@blocked.example")])
    assert later["rows_blocked"] == 1


@pytest.mark.enforces("suppression")
def test_tps_phone_scope_marks_do_not_call_keeps_email_and_sets_rescreen_date(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ann", "Lee", "ann@acme.com", phone="020 7946 0958")])
    summary = sync(crm, data_dir, "tps.csv", [entry("tps", phone="020 7946 0958", scope="phone",
                                                    added_at="2026-11-01")])
    assert summary["held_do_not_call"] == 1 and summary["held_suppressed"] == 0
    assert crm.scalar("SELECT do_not_call FROM prospects") in (1, True)
    assert marketable(crm) == {"ann@acme.com"}
    rescreen = crm.scalar("SELECT rescreen_at FROM suppression_list")
    assert str(rescreen)[:10] == "2026-11-29"  # 28 days on
    assert summary["tps_due_for_rescreen"] == 0  # not yet on TODAY (2026-11-24) ...
    assert tps_due_for_rescreen(crm.engine, RunInfo("s", "r", date(2026, 11, 29))) == 1  # ... due on the 29th
    # A new appearance with that phone is admitted, and flagged too.
    again = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Cy", "Doe", "cy@acme.com", phone="+44 20 7946 0958")])
    assert again["rows_admitted"] == 1
    assert crm.scalar("SELECT do_not_call FROM prospects WHERE email = 'cy@acme.com'") in (1, True)


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_phone_scope_all_suppresses_a_phone_only_person(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="+44 20 7946 0000")])
    summary = sync(crm, data_dir, "p.csv", [entry("objection", phone="020 7946 0000")])
    assert summary["held_suppressed"] == 1
    later = ingest(crm, data_dir, RESEARCH, "r2.csv", RESEARCH_HEADER, [
        research_row("Pat", "Phone", "", phone="020 7946 0000")])
    assert later["rows_blocked"] == 1


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@pytest.mark.parametrize("reason", ["unsubscribe", "hard_bounce", "complaint", "objection", "tps", "manual"])
@pytest.mark.parametrize("scope", ["all", "email"])
def test_each_reason_and_scope_is_kept_and_blocks(crm, data_dir, reason, scope):
    sync(crm, data_dir, "s.csv", [entry(reason, "x@acme.com", scope=scope)])
    assert crm.rows("SELECT reason, scope FROM suppression_list") == [(reason, scope)]
    assert ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
                  [research_row("X", "Y", "x@acme.com")])["rows_blocked"] == 1


@pytest.mark.enforces("suppression")
@pytest.mark.promise(3, 6)
def test_erasure_entry_deletes_the_held_person_and_keeps_only_hashes(crm, data_dir):
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Erin", "Gone", "erin@acme.com", phone="020 7946 0111"), research_row("Stay", "Here", "s@acme.com")])
    summary = sync(crm, data_dir, "e.csv", [entry("erasure", "Erin@Acme.com")])
    assert summary["held_erased"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospects") == 1
    assert crm.scalar("SELECT COUNT(*) FROM prospect_sources") == 1
    hashes = {r[0] for r in crm.rows("SELECT key_type FROM suppression_list WHERE reason = 'erasure'")}
    assert hashes == {"email", "phone"}
    erase_audit = crm.rows("SELECT rows_affected FROM audit_log WHERE action = 'erase'")
    assert erase_audit == [(1,)]


@pytest.mark.enforces("suppression")
def test_one_list_mixing_key_types_applies_each_entry_to_the_people_it_names(crm, data_dir):
    """Matching runs once per key type the list holds: each type reaches its people, and only them."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [
        research_row("Ann", "Mail", "ann@acme.com"), research_row("Dom", "Ain", "dom@blocked.example"),
        research_row("Tel", "Ephone", "tel@acme.com", phone="020 7946 0222"),
        research_row("Era", "Sed", "era@acme.com"), research_row("Kept", "Fine", "kept@acme.com")])
    summary = sync(crm, data_dir, "mixed.csv", [
        entry("unsubscribe", "ann@acme.com"), entry("manual", domain="blocked.example"),
        entry("tps", phone="020 7946 0222", scope="phone"), entry("erasure", "era@acme.com"),
        entry("hard_bounce", "nobody-held@elsewhere.example")])
    assert (summary["held_suppressed"], summary["held_do_not_call"], summary["held_erased"]) == (2, 1, 1)
    assert {r[0]: r[1] for r in crm.rows("SELECT email, status FROM prospects")} == {
        "ann@acme.com": "suppressed", "dom@blocked.example": "suppressed",
        "tel@acme.com": "active", "kept@acme.com": "active"}
    assert crm.scalar("SELECT do_not_call FROM prospects WHERE email = 'tel@acme.com'") in (1, True)
    assert marketable(crm) == {"tel@acme.com", "kept@acme.com"}


def test_suppression_lookups_are_tuned_per_backend(crm):
    """Migration 0004: SQLite probes indexed hashes; PostgreSQL leaves page room for heap-only status updates."""
    if crm.backend == "sqlite":
        indexes = {r[0] for r in crm.rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'prospects'")}
        assert {"ix_prospects_email_hash", "ix_prospects_domain_hash", "ix_prospects_phone_hash"} <= indexes
    else:
        options = crm.scalar("SELECT reloptions FROM pg_class WHERE relname = 'prospects'")
        assert "fillfactor=90" in options
        assert crm.scalar("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'prospects' AND indexname LIKE '%hash%'") == 0


@pytest.mark.enforces("suppression", "input_validation")
@pytest.mark.promise(7)
def test_bad_rows_are_quarantined_redacted_and_the_rest_loads(crm, data_dir):
    summary = sync(crm, data_dir, "bad.csv", [
        entry("bogus", "secret.person@acme.com"), entry("unsubscribe", "not an email"),
        entry("unsubscribe"), entry("unsubscribe", "ok@acme.com")])
    assert summary["rows_quarantined"] == 3 and summary["entries_added"] == 1
    reasons = [r[0] for r in crm.rows("SELECT reasons FROM quarantine ORDER BY row_number")]
    assert reasons == ["reason_unknown", "email_invalid", "no_key"]
    assert "secret.person" not in str(crm.rows("SELECT raw_row FROM quarantine"))


@pytest.mark.enforces("input_validation")
@pytest.mark.promise(7)
def test_a_list_without_a_key_column_is_rejected(crm, data_dir):
    inbox = data_dir / "inbox" / "suppression"
    write_csv(inbox / "x.csv", ["reason", "name"], [["unsubscribe", "Ann"]])
    summary = sync_inbox(crm.engine, POLICY, KEYS, RunInfo("s", "r", TODAY), inbox, data_dir / "archive")
    assert summary.rejected and (inbox / "rejected" / "x.csv.reason.txt").exists()


@pytest.mark.enforces("suppression")
def test_same_list_twice_changes_nothing(crm, data_dir):
    rows = [entry("unsubscribe", "a@acme.com")]
    sync(crm, data_dir, "s.csv", rows)
    before = crm.rows("SELECT * FROM suppression_list")
    summary = sync(crm, data_dir, "s-again.csv", rows)
    assert summary["files_already_processed"] == 1
    assert crm.rows("SELECT * FROM suppression_list") == before


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_rotating_the_key_keeps_every_suppression(crm, data_dir):
    old = parse_hash_keys("k1:first-secret-0123456789")
    rotated = parse_hash_keys("k2:second-secret-0123456789 k1:first-secret-0123456789")
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Held", "One", "held@acme.com")])
    sync(crm, data_dir, "old.csv", [entry("unsubscribe", "gone@acme.com")], keys=old)

    # After rotation: an entry made under the old key still blocks ...
    inbox = data_dir / "inbox" / "research"
    write_csv(inbox / "r2.csv", RESEARCH_HEADER, [research_row("Gone", "Again", "Gone+x@acme.com")])
    from crm_hygiene.ingest.pipeline import ingest_inbox

    blocked = ingest_inbox(crm.engine, RESEARCH, POLICY, rotated, RunInfo("i", "r2", TODAY), inbox,
                           data_dir / "archive").as_dict()
    assert blocked["rows_blocked"] == 1
    # ... and held people are re-hashed, so a new entry under the new key finds them.
    summary = sync(crm, data_dir, "new.csv", [entry("unsubscribe", "held@acme.com")], keys=rotated)
    assert summary["prospects_rehashed"] >= 1 and summary["held_suppressed"] == 1
    assert crm.scalar("SELECT hash_key_id FROM prospects") == "k2"
    assert {r[0] for r in crm.rows("SELECT key_id FROM suppression_list")} == {"k1", "k2"}


# --- property: no address variant slips past suppression -------------------------

_local = st.from_regex(r"[a-z][a-z0-9]{0,6}(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
_domain = st.sampled_from(["acme.com", "example.org", "gmail.com", "googlemail.com", "firm.co.uk"])


def _variants(local: str, domain: str, draw) -> str:
    """A way the same mailbox may arrive: case, +tag, spaces, and Gmail's dots and domain."""
    if domain in {"gmail.com", "googlemail.com"}:
        if draw(st.booleans()):
            local = local.replace(".", "")
        if draw(st.booleans()) and len(local) > 1:
            cut = draw(st.integers(1, len(local) - 1))
            local = local[:cut] + "." + local[cut:] if local[cut - 1] != "." and local[cut] != "." else local
        domain = draw(st.sampled_from(["gmail.com", "googlemail.com"]))
    if draw(st.booleans()):
        local += "+" + draw(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True))
    address = f"{local}@{domain}"
    address = "".join(c.upper() if draw(st.booleans()) else c for c in address)
    return " " * draw(st.integers(0, 2)) + address + " " * draw(st.integers(0, 2))


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
@settings(max_examples=300, deadline=None)
@given(local=_local, domain=_domain, data=st.data())
def test_property_every_variant_hashes_to_the_suppressed_key(local, domain, data):
    original = f"{local}@{domain}"
    variant = _variants(local, domain, data.draw)
    suppressed = KEYS.current.digest(email_match_key(canonical_email(original)))
    arriving = KEYS.current.digest(email_match_key(canonical_email(variant)))
    assert arriving == suppressed, "a variant of a suppressed address hashed differently"


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1)
def test_property_variants_are_blocked_in_the_database(crm, data_dir):
    """The same generator, end to end through the real gate, on both databases."""
    rows = []

    @settings(max_examples=40, deadline=None, database=None)
    @given(local=_local, domain=_domain, data=st.data())
    def collect(local, domain, data):
        rows.append((f"{local}@{domain}", _variants(local, domain, data.draw)))

    collect()
    originals = sorted({email_match_key(canonical_email(o)) for o, _ in rows})
    sync(crm, data_dir, "s.csv", [entry("unsubscribe", o) for o in originals])
    summary = ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER,
                     [research_row("V", str(i), v, company=f"Co {i}") for i, (_, v) in enumerate(rows)])
    assert summary["rows_admitted"] == 0 and summary["rows_blocked"] == len(rows)


@pytest.mark.enforces("suppression")
@pytest.mark.promise(1, 6)
def test_a_list_whose_erasure_log_cannot_be_written_is_not_applied_and_can_be_again(crm, data_dir, monkeypatch):
    """The erasure log is written beside the list's application (a thread, while the database
    works); if it fails, nothing of the list is kept, the file waits, and the next run applies it."""
    ingest(crm, data_dir, RESEARCH, "r.csv", RESEARCH_HEADER, [research_row("Ann", "Lee", "ann@acme.com")])
    blocker = data_dir / "not_a_folder"
    blocker.write_text("")
    monkeypatch.setenv("CRM_ERASURE_LOG_DIR", str(blocker / "erasure_log"))  # cannot be made: a file is in the way

    failed = sync(crm, data_dir, "unsub.csv", [entry("unsubscribe", "ann@acme.com"), entry("erasure", "x@y.com")])

    assert failed["files_loaded"] == 0 and failed["files_set_aside"] == 1
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list") == 0
    assert status_of(crm, "ann@acme.com") == "active"
    monkeypatch.delenv("CRM_ERASURE_LOG_DIR")
    rejected = data_dir / "inbox" / "suppression" / "rejected"
    (rejected / "unsub.csv").rename(data_dir / "inbox" / "suppression" / "again.csv")
    applied = sync_inbox(crm.engine, POLICY, KEYS, RunInfo("sync_suppression_lists", "again", TODAY),
                         data_dir / "inbox" / "suppression", data_dir / "archive" / "suppression").as_dict()
    assert applied["files_loaded"] == 1 and status_of(crm, "ann@acme.com") == "suppressed"
    assert crm.scalar("SELECT COUNT(*) FROM suppression_list") == 2
