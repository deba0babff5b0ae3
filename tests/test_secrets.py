"""No secret is committed, and no failing statement's error carries a bound value.

Secrets: every git-tracked file is scanned for private key blocks, AWS-style
keys, password / secret / token / hash-key assignments with a literal value,
URLs with user:password@ and long high-entropy tokens. What may be there is an
explicit, short allowlist (the test-only hash key, documentation placeholders);
anything else fails (the compose stack takes every secret from .env). The
detector is itself tested on synthetic secrets built at run time (so this file
holds none) and on a planted file in a scratch git repository.

Errors: a statement that fails with a planted value bound to it, through
crm_hygiene.db.make_engine, on SQLite and PostgreSQL: the exception's text
(and its whole formatted traceback, what a task log shows) must not contain it.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import string
import subprocess
import traceback
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import REPO
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_hygiene.db import make_engine


class Finding(NamedTuple):
    path: str
    line: int
    rule: str
    value: str


_NAME = r"[A-Za-z0-9_]*(?:password|passwd|secret|token|api_?key|hash_key|private_key|access_key)[A-Za-z0-9_]*"
RULES = {
    "private key block": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})\b"),
    # name = "literal" / "name": "literal" (any case), the literal without spaces
    "quoted secret assignment": re.compile(
        rf"(?i)\b{_NAME}\b['\"]?\s*[:=]\s*[bfru]?['\"](?![$<{{])([^'\"\s]{{4,}})['\"]"),
    # NAME=value / NAME: value (environment files, YAML, shell): upper-case names only,
    # so code such as `secret = part.partition(":")` is not taken for one
    "bare secret assignment": re.compile(
        r"\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|HASH_KEY|PRIVATE_KEY)[A-Z0-9_]*\s*[:=]\s*"
        r"(?![$<{'\"(])([^\s'\"#,;()`]{4,})"),
    "URL with user:password@": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"`]+:([^\s/@'\"`{}]+)@"),
}
TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
MIN_TOKEN_ENTROPY = 4.2  # bits per character: random base64/urlsafe text is ~5, words and hex are below

# (path, value): each allowed on purpose, and why.
ALLOWED = {
    ("tests/conftest.py", "test-key-1:test-secret-0123456789abcdef"): "the documented test-only hash key",
    ("README.md", "pass"): "the password placeholder in the example connection URL (user:pass@host)",
    ("plugins/crm_hygiene/keys.py", "s3cret..."): "placeholder in a docstring",
    ("plugins/crm_airflow/runtime.py", "crm_hash_key"): "the Airflow Variable's name, not its value",
}


def entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _high_entropy(token: str) -> bool:
    """Random-looking: high entropy and letters of both cases and digits mixed throughout
    (a CamelCase file name with one trailing digit is words, not a key)."""
    return (entropy(token) >= MIN_TOKEN_ENTROPY and sum(c.isdigit() for c in token) >= 3
            and sum(c.isupper() for c in token) >= 3 and sum(c.islower() for c in token) >= 3)


def find_secrets(path: str, content: str) -> list[Finding]:
    """Every committed-secret look-alike in one file's text, minus the allowlist."""
    found = []
    for number, line in enumerate(content.splitlines(), start=1):
        for rule, pattern in RULES.items():
            for match in pattern.finditer(line):
                value = match.group(1) if pattern.groups and match.group(1) else match.group(0)
                if rule == "bare secret assignment" and line[match.end():match.end() + 1] == "(":
                    continue  # NAME = some.call(...): code, not a literal
                found.append(Finding(path, number, rule, value))
        for match in TOKEN.finditer(line):
            if _high_entropy(match.group(0)):
                found.append(Finding(path, number, "high-entropy token", match.group(0)))
    return [f for f in found if (f.path, f.value) not in ALLOWED]


def scan_tree(repo: Path) -> list[Finding]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=repo, check=True, capture_output=True).stdout
    findings = []
    for name in filter(None, names.decode().split("\0")):
        path = repo / name
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings += find_secrets(name, data.decode("utf-8", errors="replace"))
    return findings


def _shown(findings: list[Finding]) -> str:
    # The value is shown cut short: the report must not become the leak.
    return "\n".join(f"{f.path}:{f.line}: {f.rule}: {f.value[:6]}..." for f in findings)


def test_no_secret_is_committed():
    findings = scan_tree(REPO)
    assert not findings, "committed secrets (allowlist in tests/test_secrets.py if truly harmless):\n" + _shown(findings)


def test_every_allowlisted_value_is_still_there():
    """An allowlist entry whose value is gone is stale: drop it, so it cannot hide a real one later."""
    for path, value in ALLOWED:
        assert value in (REPO / path).read_text(encoding="utf-8"), (path, value)


def _random_token(length: int) -> str:
    """A key-like token, the same every run (a truly random one could, rarely, look tame)."""
    alphabet, draw = string.ascii_letters + string.digits + "-_", random.Random(7)
    return "".join(draw.choice(alphabet) for _ in range(length))


def _synthetic() -> dict[str, str]:
    """One planted secret per rule, assembled here so this file commits none."""
    begin = "-----BEGIN " + "RSA PRIVATE KEY-----"
    aws_id = "AKIA" + "QX7Z" * 4
    aws_secret = secrets.token_urlsafe(30)[:40].replace("-", "A").replace("_", "b")
    return {
        "private key block": f"{begin}\nMIIEowIBAAKCAQEA...\n",
        "AWS access key id": f"aws_access_key_id = {aws_id}",
        "AWS secret access key": f"aws_secret_access_key={aws_secret}",
        "quoted secret assignment": 'db_password = "' + "hunter2" + "-prod" + '"',
        "bare secret assignment": "CRM_HASH_KEY=" + "prod-2026:" + secrets.token_hex(12),
        "URL with user:password@": "postgresql://crm:" + "S3cr3t-pw" + "@db.internal:5432/crm",
        "high-entropy token": "token " + _random_token(43),
    }


@pytest.mark.parametrize("rule", list(_synthetic()))
def test_the_detector_finds_each_kind_of_secret(rule):
    assert rule in {f.rule for f in find_secrets("planted.txt", _synthetic()[rule])}


@pytest.mark.parametrize("harmless", [
    'CRM_HASH_KEY="2026-11:<new secret> k1a2b3c4d:<old secret>"',
    "AIRFLOW_CONN_CRM_DB=postgresql://user:" + "pass@host:5432/crm",  # in README.md: allowlisted there only
    "key_id, sep, secret = part.partition(':')",
    'return url.render_as_string(hide_password=False)',
    "sha256 = 3f786850e387550fdab836ed7e6dc881de23001b",  # hex: low entropy
    "export CRM_HASH_KEY=${CRM_HASH_KEY}",
    'TOKEN = re.compile(r"[A-Za-z0-9]{32,}")',
])
def test_the_detector_leaves_placeholders_and_code_alone(harmless):
    assert find_secrets("README.md", harmless) == []


def test_a_planted_secret_in_a_tracked_file_fails_the_scan(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "settings.env").write_text("DEBUG=1\n" + _synthetic()["bare secret assignment"] + "\n")
    (tmp_path / "notes.md").write_text("nothing to see\n")
    subprocess.run(["git", "add", "settings.env", "notes.md"], cwd=tmp_path, check=True)
    findings = scan_tree(tmp_path)
    assert [(f.path, f.line, f.rule) for f in findings] == [("settings.env", 2, "bare secret assignment")]


# --- errors carry no bound values ---------------------------------------------------

PLANTED = "zq.hideparam@example-plant.com"
_PROSPECT = (
    "INSERT INTO prospects (match_key, email, first_name, source, lawful_basis, status, first_seen_at, "
    "last_contact_at, created_at, updated_at) VALUES (:m, :e, :f, 'linkedin', 'legitimate_interests', :s, "
    "'2026-01-01', '2026-01-01', '2026-01-01', '2026-01-01')"
)


def _error_text(engine, statement: str, params: dict, held_key: str = "e:someone-else") -> str:
    """The text of the error `statement` raises, once a prospect with `held_key` is held."""
    with pytest.raises(DBAPIError) as info, engine.begin() as conn:
        conn.execute(text(_PROSPECT), {"m": held_key, "e": "x@y.example", "f": "X", "s": "active"})
        conn.execute(text(statement), params)
    return str(info.value) + "\n" + "".join(traceback.format_exception(info.value))


def test_a_failing_statement_hides_its_parameters(crm):
    """hide_parameters: the [parameters: ...] part SQLAlchemy adds is left out."""
    engine = make_engine(crm.url)
    shown = _error_text(engine, "INSERT INTO no_such_table (email) VALUES (:e)", {"e": PLANTED})
    assert "no_such_table" in shown  # it did fail, on that statement
    assert PLANTED not in shown


# PostgreSQL puts the offending key or the whole failing row in the error's DETAIL, and a bad
# cast quotes its input, which hide_parameters does not touch; SQLite names only the constraint.
@pytest.mark.parametrize("failure", ["unique_violation", "check_violation", "bad_cast"])
def test_a_constraint_violation_does_not_quote_the_row(crm, failure):
    engine = make_engine(crm.url)
    params = {"m": f"e:{PLANTED}", "e": PLANTED, "f": "Zyqxhide", "s": "active"}
    if failure == "unique_violation":  # the same person inserted twice, as a race would
        shown = _error_text(engine, _PROSPECT, params, held_key=f"e:{PLANTED}")
    elif failure == "bad_cast":  # PostgreSQL: invalid input syntax for type integer: "<value>"
        cast = "SELECT CAST(:e AS INTEGER) FROM prospects WHERE CAST(:e AS INTEGER) > 0 AND email = :e"
        if crm.backend == "sqlite":  # SQLite casts anything; make it fail on the value instead
            cast = "INSERT INTO prospects (match_key, email) VALUES (:e, :e)"
        shown = _error_text(engine, cast, {"e": PLANTED})
    else:
        shown = _error_text(engine, _PROSPECT, {**params, "s": "not-a-status"})
    assert "prospects" in shown or "match_key" in shown or "ck_prospects_status" in shown
    assert PLANTED not in shown and "Zyqxhide" not in shown
