"""File-level validation gate with Great Expectations 1.x.

The gate decides whether a file is the kind its folder says: every required
column is there and a closed-set column mostly holds known values. Single bad
rows are not the gate's business: the row checks quarantine those.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from crm_hygiene.drops.cells import closed_set_value
from crm_hygiene.drops.reader import RawChunk
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.policy import Policy

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# GX is chatty at INFO (docs registration, temp dirs); the gate reports its own result.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("drop").add_dataframe_asset("first_chunk")
    return asset.add_batch_definition_whole_dataframe("whole_chunk")


def build_suite(kind: DropKind, policy: Policy):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"{kind.name}_drop")
    for column in kind.required_columns:
        suite.add_expectation(gxe.ExpectColumnToExist(column=column))
    if kind.value_set_column:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column=kind.value_set_column,
                value_set=sorted(kind.allowed_values(policy)),
                mostly=policy.input_validation.min_valid_value_share,
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
