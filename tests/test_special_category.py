"""Special-category data (GDPR Art. 9/10) is found in free text and redacted before storage."""

import pickle
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_hygiene.policy import DEFAULT_POLICY_FILE, PolicyError, SpecialCategory, load_policy
from crm_hygiene.special_category import Redaction, SpecialCategoryError, SpecialCategoryScanner, _phrase_regex

# The privacy-policy clauses and contract promises these tests prove (make compliance-report).
pytestmark = [
    pytest.mark.enforces("special_category"),
]

RULES = load_policy(DEFAULT_POLICY_FILE).special_category
SCANNER = SpecialCategoryScanner(RULES)
REDACTED = RULES.replacement

CATEGORIES = ("health", "religion", "ethnicity", "politics", "trade_union", "sex_life", "biometrics", "genetics",
              "criminal_records")


def test_policy_section_loads_with_every_category():
    assert set(RULES.categories) == set(CATEGORIES)
    assert "sensitive personal data" in RULES.clause and "Art. 9 and 10" in RULES.clause
    assert RULES.fields == ("notes", "job_title", "company")
    assert RULES.replacement == "[redacted]"
    for name in CATEGORIES:
        rule = RULES.categories[name]
        assert rule.get("keywords") or rule.get("patterns"), name


@pytest.mark.parametrize(
    ("category", "text", "gone"),
    [
        ("health", "Mentioned she is diabetic, prefers calls after 10", "diabetic"),
        ("health", "Was diagnosed with depression last spring", "depression"),
        ("health", "On sick leave until March", "sick leave"),
        ("religion", "Attends the local mosque on Fridays", "mosque"),
        ("religion", "Devout Catholic, no calls on Sundays", "Catholic"),
        ("ethnicity", "Described himself as Black British", "Black British"),
        ("ethnicity", "She is of Nigerian descent", "Nigerian descent"),
        ("politics", "Labour Party member and local activist", "Labour Party"),
        ("politics", "Says he voted Tory at the last election", "Tory"),
        ("trade_union", "He is a trade union member", "union"),
        ("trade_union", "Unison rep at the council", "Unison"),
        ("sex_life", "Mentioned his husband; he is gay", "gay"),
        ("sex_life", "Chairs the LGBTQ+ staff network as a bisexual woman", "bisexual"),
        ("biometrics", "Sent us her fingerprint scan by mistake", "fingerprint"),
        ("biometrics", "Voiceprint on file from the helpdesk call", "Voiceprint"),
        ("genetics", "Had a DNA test last month", "DNA test"),
        ("genetics", "Carries the BRCA1 mutation", "BRCA1"),
        ("criminal_records", "Has a criminal record for fraud", "criminal record"),
        ("criminal_records", "Spent two years in prison", "prison"),
        ("criminal_records", "Convicted of drink driving in 2019", "Convicted"),
    ],
)
def test_each_category_is_found_and_redacted(category, text, gone):
    result = SCANNER.redact(text)
    assert category in result.categories
    assert gone.lower() not in result.text.lower()
    assert REDACTED in result.text


@pytest.mark.parametrize(
    "text",
    [
        "Health & Safety Manager",
        "Health and Safety Officer",
        "Head of Health Insurance Sales",
        "Cancer Research UK",
        "Union Street Partners",
        "Christian Dior",
        "Unite Students Ltd",
        "Labour market analyst",
        "Conservation Officer",
        "Prison Reform Trust",
        "DNA Analytics Ltd",
        "Head of Healthcare Partnerships",
        "Genome Research Ltd",
        "Prison Officer, HM Prison Leeds",
        "Diabetes UK",
        "Gaynor Wells, Reunion Events",
        "Director of History and Heritage",
        "Browser fingerprint vendor evaluation",
        "Presented the roadmap with conviction",
        "Still on probation period at the new job",
        "",
    ],
)
def test_hard_negatives_are_unchanged(text):
    assert SCANNER.redact(text) == Redaction(text, ())


def test_christian_as_a_first_name_is_redacted_by_choice():
    # Case-insensitive matching cannot tell the first name from the faith; the
    # policy chooses to lose a first name from a note rather than keep a faith.
    result = SCANNER.redact("Spoke to Christian in procurement")
    assert result == Redaction(f"Spoke to {REDACTED} in procurement", ("religion",))


def test_none_and_empty_pass_through():
    assert SCANNER.redact(None) == Redaction(None, ())
    assert SCANNER.redact("") == Redaction("", ())


def test_several_categories_in_one_text_sorted_and_deduplicated():
    text = ("She was diagnosed with cancer, attends the local mosque, is a union member, "
            "votes Labour and has a criminal record. Also diabetic.")
    result = SCANNER.redact(text)
    assert result.categories == ("criminal_records", "health", "politics", "religion", "trade_union")
    for word in ("diagnosed", "cancer", "mosque", "union", "Labour", "criminal", "diabetic"):
        assert word.lower() not in result.text.lower()
    assert result.text.startswith("She was [redacted]")


def test_hits_inside_an_exemption_are_kept_and_others_redacted():
    result = SCANNER.redact("Works at Cancer Research UK; her own cancer is in remission")
    assert result == Redaction(f"Works at Cancer Research UK; her own {REDACTED} is in remission", ("health",))


@pytest.mark.parametrize("text", ["DIABETIC", "Diabetic", "diabetic", "dIaBeTiC"])
def test_case_insensitive(text):
    assert SCANNER.redact(f"Client is {text}.") == Redaction(f"Client is {REDACTED}.", ("health",))


@pytest.mark.parametrize(
    "text",
    ["Gaynor Smith", "Jewellery buyer", "History teacher", "Reunion planner", "Archive manager",
     "Chemours account", "Snippet library", "Victory Ltd", "Unionised workforce review"],
)
def test_keywords_match_whole_words_only(text):
    assert SCANNER.redact(text) == Redaction(text, ())


def test_keyword_across_line_break_and_non_breaking_space():
    result = SCANNER.redact("Was diagnosed\nwith something; trade\u00a0union rep")
    assert result.categories == ("health", "trade_union")
    assert "diagnosed" not in result.text and "union" not in result.text


def test_overlapping_hits_of_two_categories_leave_nothing_behind():
    categories = {name: {"keywords": (f"zz{name}",)} for name in CATEGORIES}
    categories["health"] = {"keywords": ("alpha beta",)}
    categories["genetics"] = {"keywords": ("beta gamma",)}
    rules = SpecialCategory(clause=RULES.clause, fields=RULES.fields, replacement="X", categories=categories)
    assert SpecialCategoryScanner(rules).redact("alpha beta gamma!") == Redaction("X!", ("genetics", "health"))


def test_pickle_round_trip_before_and_after_first_use():
    fresh = SpecialCategoryScanner(RULES)
    used = SpecialCategoryScanner(RULES)
    used.redact("diabetic")  # builds the Presidio recognizers
    for scanner in (fresh, used):
        blob = pickle.dumps(scanner)
        assert b"presidio" not in blob
        clone = pickle.loads(blob)
        assert clone.redact("Devout Sikh, diabetic") == SCANNER.redact("Devout Sikh, diabetic")
        assert clone.redact("Head of Procurement") == Redaction("Head of Procurement", ())


def test_presidio_is_imported_only_when_the_prefilter_hits():
    code = (
        "import sys\n"
        "from crm_hygiene.policy import load_policy\n"
        "from crm_hygiene.special_category import SpecialCategoryScanner\n"
        "s = SpecialCategoryScanner(load_policy().special_category)\n"
        "assert s.redact('Head of Procurement, Acme Ltd').categories == ()\n"
        "assert not [m for m in sys.modules if m.startswith(('presidio', 'spacy', 'airflow'))]\n"
        "assert s.redact('diabetic').categories == ('health',)\n"
        "assert 'presidio_analyzer' in sys.modules\n"
    )
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=plugins, env={"PYTHONPATH": str(plugins)})


def test_errors_never_contain_the_text():
    secret = "Patient is HIV positive, SECRET-123"

    class Exploding:
        def analyze(self, text, entities):
            raise ValueError(f"cannot analyze {text!r}")

    class BrokenEngine:
        entities = {"HEALTH": Exploding()}

    scanner = SpecialCategoryScanner(RULES)
    scanner._engine = BrokenEngine()
    with pytest.raises(SpecialCategoryError) as info:
        scanner.redact(secret)
    assert "SECRET" not in str(info.value) and "HIV" not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None

    with pytest.raises(TypeError) as info:
        SCANNER.redact(4242424242)
    assert "4242" not in str(info.value)
    assert "diabetic" not in repr(SCANNER)


def _write(tmp_path, mutate):
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    mutate(raw["special_category"])
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda sc: sc["categories"].pop("genetics"), "missing"),
        (lambda sc: sc["categories"]["health"].update(patterns=["had surgery"]), "has a space"),
        (lambda sc: sc["categories"]["health"].update(patterns=["(unclosed"]), "not a valid regular expression"),
        (lambda sc: sc["categories"]["health"].update(patterns=[r"\d*"]), "matches empty text"),
        (lambda sc: sc["categories"].update(hobbies={"keywords": ["golf"]}), "special_category.categories"),
    ],
)
def test_bad_special_category_section_fails_loudly(tmp_path, mutate, message):
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, mutate))


BUSINESS_PHRASES = [
    "Met at the London tech expo", "Interested in the enterprise plan", "Follow up in Q3",
    "Head of Procurement", "Senior Data Engineer", "Acme Widgets Ltd", "Union Street Partners",
    "Health & Safety Manager", "Labour market analyst", "Conservation Officer", "Unite Students Ltd",
    "DNA Analytics Ltd", "Prison Reform Trust", "Cancer Research UK", "Head of Health Insurance Sales",
    "Christian Dior", "Budget signed off for 2026", "Prefers email to phone", "Renewal due in June",
    "Asked for a demo of the reporting module", "CFO at Northwind Traders", "Moved to a new role",
]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=string.digits + string.punctuation + " \n\t", max_size=200))
def test_text_without_keywords_is_unchanged_symbols(text):
    assert SCANNER.redact(text) == Redaction(text, ())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(BUSINESS_PHRASES), max_size=8), st.sampled_from([" ", ", ", "; ", "\n", ". "]))
def test_text_without_keywords_is_unchanged_business(phrases, separator):
    text = separator.join(phrases)
    assert SCANNER.redact(text) == Redaction(text, ())


KEYWORDS = sorted({k for rule in RULES.categories.values() for k in rule.get("keywords", ())})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(["x", "s", "ed", "-", "'", "1", "_"])), max_size=5),
       st.sampled_from(["", " ", "\n", "-"]))
def test_prefilter_prefix_tree_matches_where_a_plain_alternation_does(parts, separator):
    # The pre-filter's prefix tree must accept exactly what Presidio's deny-list regex would.
    flags = re.IGNORECASE | re.MULTILINE | re.DOTALL
    escaped = sorted((re.escape(k).replace(r"\ ", r"\s") for k in KEYWORDS), key=len, reverse=True)
    plain = re.compile(r"(?<!\w)(?:" + "|".join(escaped) + r")(?!\w)", flags)
    tree = re.compile(_phrase_regex(KEYWORDS), flags)
    text = separator.join(parts).upper() if len(parts) % 2 else separator.join(parts)
    assert [m.span() for m in tree.finditer(text)] == [m.span() for m in plain.finditer(text)]
