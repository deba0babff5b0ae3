"""The README's Params table is every Param of every DAG, with its default."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO

ROW = re.compile(r"^\| `(?P<dag>\w+)` \| `(?P<param>\w+)` \| `(?P<default>[^`]*)` \| .+ \|$")


def _readme_params() -> dict[tuple[str, str], str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Connections, variables and Params", 1)[1].split("\n### ", 1)[0]
    return {(m["dag"], m["param"]): m["default"] for line in section.splitlines() if (m := ROW.match(line))}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_the_readme_lists_every_param_with_its_default(dagbag):
    in_code = {(dag_id, name): json.dumps(param.value)
               for dag_id, dag in dagbag.dags.items() for name, param in dag.params.items()}
    assert in_code, "no DAG has a Param: the table would be checking nothing"
    assert _readme_params() == in_code
