"""Differentially private counts with OpenDP (a partner's optional mode).

Each person is counted in exactly one cell of each measure's table, so adding
or removing a person changes one measure's vector of counts by 1 in L1: the
discrete Laplace mechanism with scale 1 / epsilon_share makes each vector
epsilon_share-DP, and the release's epsilon (split evenly over its measures)
adds up by sequential composition. OpenDP checks the privacy map of the
measurement it builds; negatives are clipped to zero afterwards
(post-processing costs no privacy). OpenDP keeps no budget across runs: the
CRM's ``partner_releases.epsilon`` is the ledger.
"""

from __future__ import annotations


class BudgetExceeded(RuntimeError):
    """A release would take a partner past its total epsilon. Names the partner and numbers only."""


def noisy(counts: list[int], epsilon: float) -> list[int]:
    """`counts` (one measure's cells) with discrete Laplace noise for `epsilon`, clipped at zero."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = space >> dp.m.then_laplace(scale=1.0 / epsilon)
    if measurement.map(1) > epsilon * (1 + 1e-9):  # what OpenDP proves this measurement spends per person
        raise RuntimeError("the noise measurement spends more than its share of epsilon")
    return [max(0, int(value)) for value in measurement(list(counts))]


def check_budget(partner: str, spent: float, epsilon: float, total: float) -> None:
    if spent + epsilon > total + 1e-9:
        raise BudgetExceeded(
            f"partner {partner}: this release would spend epsilon {epsilon:g} with {spent:g} of {total:g} "
            "already spent; no release is made. Raise total_epsilon in the policy only with the partner's "
            "agreement, or stop releasing to them.")
