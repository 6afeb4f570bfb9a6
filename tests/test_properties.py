"""Property tests (hypothesis) on random MDPs: normalization, storage-independence, the α -> 0 limit."""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from pgm_control.envs import random_mdp
from pgm_control.inference import (
    forward_messages,
    log_evidence,
    posterior_dynamics,
    soft_value_iteration,
    state_marginals,
    value_iteration,
)

mdps = st.builds(
    random_mdp,
    num_states=st.integers(1, 7),
    num_actions=st.integers(1, 4),
    branching=st.one_of(st.none(), st.integers(1, 4)),
    seed=st.integers(0, 10_000),
    reward_scale=st.sampled_from([0.1, 1.0, 30.0]),
)
horizons = st.integers(1, 6)
backups = st.sampled_from(["expected", "optimistic"])
temperatures = st.sampled_from([0.3, 1.0, 4.0])


@given(mdps, horizons, backups, temperatures)
def test_soft_policies_are_normalized(mdp, horizon, backup, temperature):
    soft = soft_value_iteration(mdp, horizon, temperature, backup)
    torch.testing.assert_close(soft.policy.sum(-1), torch.ones(horizon, mdp.num_states, dtype=torch.float64))
    assert (soft.policy >= 0).all()


@given(mdps, horizons, backups)
def test_dense_and_successor_storage_agree(mdp, horizon, backup):
    dense, lists = mdp.to_dense(), mdp.to_successors()
    for solve in (
        lambda m: soft_value_iteration(m, horizon, backup=backup).q,
        lambda m: log_evidence(m, horizon),
        lambda m: state_marginals(m, horizon),
        lambda m: forward_messages(m, horizon).log_alpha,
    ):
        torch.testing.assert_close(solve(dense), solve(lists), atol=1e-10, rtol=1e-12)
    scattered = torch.zeros(horizon, *dense.transitions.shape, dtype=torch.float64).scatter_add_(
        -1, lists.next_states.expand(horizon, -1, -1, -1), posterior_dynamics(lists, horizon))
    torch.testing.assert_close(scattered, posterior_dynamics(dense, horizon), atol=1e-10, rtol=0)


@given(mdps, horizons)
def test_state_marginals_are_distributions(mdp, horizon):
    marginals = state_marginals(mdp, horizon)
    torch.testing.assert_close(marginals.sum(-1), torch.ones(horizon, dtype=torch.float64))


@given(mdps, horizons, st.sampled_from([1e-2, 1e-3, 1e-5]))
def test_temperature_to_zero_agrees_with_value_iteration(mdp, horizon, temperature):
    """0 <= V_hard - V_soft <= α log|A| per remaining step (uniform prior)."""
    soft = soft_value_iteration(mdp, horizon, temperature)
    hard = value_iteration(mdp, horizon)
    gap = hard.v - soft.v
    steps_left = (horizon - torch.arange(horizon, dtype=torch.float64))[:, None]
    bound = temperature * math.log(mdp.num_actions) * steps_left
    assert (gap >= -1e-9).all() and (gap <= bound + 1e-9).all()
