"""The domain package's layers stay one-way (read from the import statements).

base modules  <-  shared services (the drop layer, erasure)  <-  features  <-  entry points

A feature may use the layers below it and its own modules, never another
feature's: a rule two features need moves down into a shared layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "plugins" / "crm_hygiene"

BASE = {"run", "audit", "bulk", "db", "keys", "policy", "settings", "normalise", "minors", "special_category",
        "rehash", "seniority", "sqlmacros", "gx_context", "per_value"}
SHARED = {"drops", "erasure", "erasure_files", "erasure_log", "legal_holds", "suppression_entries"}
FEATURES = {"ingest", "suppression", "subject_requests", "minor_review", "applicants", "retention",
            "partner_reports", "hygiene_report", "erasure_replay"}
ENTRY = {"cli", "sample_data", "compliance", "__init__"}


def _top(module_path: Path) -> str:
    """The first component under crm_hygiene: 'drops' for drops/reader.py, 'suppression' for suppression.py."""
    return module_path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_tops(module_path: Path) -> set[str]:
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "crm_hygiene" and len(parts) > 1:
                found.add(parts[1])
    return found


def _allowed(top: str) -> set[str]:
    if top in BASE:
        return BASE
    if top == "drops":
        return BASE | {"drops"}  # the drop layer sits under erasure as well as the features
    if top in SHARED:
        return BASE | SHARED
    if top in FEATURES:
        return BASE | SHARED | {top}
    return BASE | SHARED | FEATURES | ENTRY


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_belongs_to_a_layer():
    unknown = sorted({_top(p) for p in MODULES} - BASE - SHARED - FEATURES - ENTRY)
    assert unknown == [], f"put these in a layer in tests/test_layers.py: {unknown}"


@pytest.mark.parametrize("module_path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers_only(module_path):
    top = _top(module_path)
    wrong = sorted(_imported_tops(module_path) - _allowed(top) - {""})
    assert wrong == [], f"{module_path.relative_to(PACKAGE)} ({top}) must not import crm_hygiene.{wrong}"


def test_the_domain_package_never_imports_airflow():
    offenders = [str(p.relative_to(PACKAGE)) for p in MODULES
                 if any(isinstance(n, (ast.Import, ast.ImportFrom)) and
                        any(name.split(".")[0] == "airflow" for name in
                            ([n.module or ""] if isinstance(n, ast.ImportFrom) else [a.name for a in n.names]))
                        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    assert offenders == []
