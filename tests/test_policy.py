"""The policy file drives the code; a bad file fails loudly, naming the key."""

from datetime import date

import pytest
import yaml

from crm_hygiene.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy


def _write(tmp_path, mutate):
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    mutate(raw)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.enforces("sources", "email_marketing")
def test_shipped_policy_loads_with_every_rule_citing_a_clause():
    policy = load_policy(DEFAULT_POLICY_FILE)
    for section in (policy.sources, policy.lawful_basis_precedence, policy.art14_notice,
                    policy.email_marketing, policy.input_validation):
        assert len(section.clause) > 40
    assert policy.sources.research.lawful_basis == "legitimate_interests"
    assert set(policy.sources.research.values) == {
        "linkedin", "search_engine", "company_website", "public_register", "data_research"}
    assert policy.sources.enquiries.channels["email_a_friend"].marketable is False
    assert "gmail.com" in policy.email_marketing.free_mail_domains


@pytest.mark.enforces("art14_notice")
def test_art14_notice_is_one_calendar_month():
    period = load_policy(DEFAULT_POLICY_FILE).art14_notice.period
    assert period.after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert period.after(date(2026, 3, 15)) == date(2026, 4, 15)


def test_env_var_chooses_the_policy_file(tmp_path, monkeypatch):
    path = _write(tmp_path, lambda raw: raw["art14_notice"].update(period={"days": 10}))
    monkeypatch.setenv("CRM_POLICY_FILE", str(path))
    assert load_policy().art14_notice.period.days == 10


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda raw: raw["sources"]["research"].update(lawful_basis="because"), "sources.research.lawful_basis"),
        (lambda raw: raw["art14_notice"].pop("clause"), "art14_notice.clause"),
        (lambda raw: raw["email_marketing"].update(free_mail_domain=["x"]), "email_marketing.free_mail_domain"),
        (lambda raw: raw["art14_notice"].update(period={}), "art14_notice.period"),
    ],
)
def test_invalid_policy_names_the_bad_key(tmp_path, mutate, key):
    with pytest.raises(PolicyError, match=rf"key '{key}"):
        load_policy(_write(tmp_path, mutate))


def test_missing_policy_file_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("(unclosed", "is not a valid regular expression"),
     # One that matches empty text would fire on every filled-in field: everybody a likely minor.
     (r"\w*", "matches empty text")],
)
def test_a_bad_minor_signal_pattern_fails_loudly_naming_its_rule(tmp_path, pattern, message):
    path = _write(tmp_path, lambda raw: raw["minors"]["signals"][0].update(patterns=[pattern]))
    with pytest.raises(PolicyError, match=rf"pattern .* in 'pupil_job_title' {message}"):
        load_policy(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["retention"]["classes"].pop("quarantine"), r"missing \['quarantine'\]"),
        (lambda raw: raw["retention"]["classes"].update(contacts=raw["retention"]["classes"]["prospects"]),
         r"unknown \['contacts'\]"),
        (lambda raw: raw["retention"]["classes"]["prospects"].update(clock="first_seen_at"),
         "class 'prospects': clock must be 'last_contact_at'"),
        (lambda raw: raw["retention"]["classes"]["audit_log"].update(action="anonymise"),
         "class 'audit_log': action must be one of"),
        (lambda raw: raw["retention"]["classes"]["applicants_rejected"].update(action="shred"),
         "retention.classes.applicants_rejected.action"),
        (lambda raw: raw["retention"]["classes"]["quarantine"].update(period={}), "retention.classes.quarantine.period"),
        (lambda raw: raw["retention"]["circuit_breaker"].update(max_share=0), "retention.circuit_breaker.max_share"),
        (lambda raw: raw["retention"]["anonymise"]["seniority_bands"][0].update(patterns=[".*"]), "matches empty text"),
    ],
)
def test_a_bad_retention_class_fails_at_load_saying_what_is_wrong(tmp_path, mutate, message):
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, mutate))


@pytest.mark.enforces("retention.classes.*")
def test_every_retention_class_cites_a_clause_and_the_defaults_are_the_policys():
    classes = load_policy(DEFAULT_POLICY_FILE).retention.classes
    assert all(len(c.clause) > 40 for c in classes.values())
    assert (classes["prospects"].period.years, classes["prospects"].action) == (6, "anonymise")
    assert classes["applicants_rejected"].period.months == 6
    assert classes["applicants_future_roles"].period.months == 24
    assert {classes[n].period.days for n in ("quarantine", "drop_files", "answer_files")} == {30}
    assert classes["audit_log"].period.years == classes["data_subject_requests"].period.years == 6
