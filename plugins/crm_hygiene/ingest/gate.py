"""File-level validation gate with Great Expectations 1.x.

The gate decides whether a file is the kind its folder says: every required
column is there and a closed-set column mostly holds known values. Single bad
rows are not the gate's business: the row checks quarantine those.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from crm_hygiene.drops.cells import closed_set_value
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.gx_context import ephemeral_context
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.policy import Policy


@lru_cache(maxsize=1)
def _batch_definition():
    """Built once per process: a whole-DataFrame batch definition on the shared
    ephemeral context; each file's first chunk is passed in as the batch's data."""
    asset = ephemeral_context().data_sources.add_pandas("drop").add_dataframe_asset("first_chunk")
    return asset.add_batch_definition_whole_dataframe("whole_chunk")


def build_suite(kind: DropKind, policy: Policy):
    """The gate's expectations for ``kind`` under ``policy`` (built once per process for each)."""
    values = tuple(sorted(kind.allowed_values(policy))) if kind.value_set_column else ()
    return _suite(kind, values, policy.input_validation.min_valid_value_share)


@lru_cache(maxsize=16)
def _suite(kind: DropKind, allowed_values: tuple[str, ...], min_valid_value_share: float):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"{kind.name}_drop")
    for column in kind.required_columns:
        suite.add_expectation(gxe.ExpectColumnToExist(column=column))
    if kind.value_set_column:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column=kind.value_set_column,
                value_set=list(allowed_values),
                mostly=min_valid_value_share,
            )
        )
    return suite


def gate_failures(first_chunk: RawChunk, kind: DropKind, policy: Policy) -> list[str]:
    """Reasons the file fails the gate (empty when it passes); never cell values."""
    frame = pd.DataFrame(first_chunk.columns, dtype=object)
    if kind.value_set_column and kind.value_set_column in frame.columns:
        # Compare the cleaned value, as the row checks will.
        frame = frame.assign(**{kind.value_set_column: frame[kind.value_set_column].map(closed_set_value)})
    result = _batch_definition().get_batch(batch_parameters={"dataframe": frame}).validate(
        build_suite(kind, policy), result_format="BOOLEAN_ONLY"
    )
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        if config.type == "expect_column_to_exist":
            failures.append(f"required column '{column}' is missing")
        elif config.type == "expect_column_values_to_be_in_set":
            share = policy.input_validation.min_valid_value_share
            failures.append(f"fewer than {share:.0%} of rows have a known '{column}' value")
        else:  # pragma: no cover - only the expectations above are built
            failures.append(f"{config.type} failed on '{column}'")
    return failures
