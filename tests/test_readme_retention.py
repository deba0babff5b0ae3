"""The README's retention table and the policy file cannot drift apart."""

from __future__ import annotations

import re

from conftest import REPO

from crm_hygiene.cli import retention_table
from crm_hygiene.policy import load_policy

TABLE = re.compile(r"<!-- retention-table:start -->\n(.*?)\n<!-- retention-table:end -->", re.DOTALL)


def test_the_readme_retention_table_is_the_policy_files():
    found = TABLE.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no retention table between its markers"
    expected = retention_table(load_policy())
    assert found.group(1).strip() == expected, (
        "README.md's retention table differs from include/policy/privacy_policy.yaml; replace it with the "
        "output of `python -m crm_hygiene.cli retention-table`:\n" + expected)


def test_the_table_changes_when_the_policy_does(tmp_path):
    import yaml

    raw = yaml.safe_load((REPO / "include" / "policy" / "privacy_policy.yaml").read_text(encoding="utf-8"))
    raw["retention"]["classes"]["quarantine"]["period"] = {"days": 14}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert "| `quarantine` | other data ... for a period of time that is reasonable | `quarantined_at` | 14 days" in \
        retention_table(load_policy(path))
