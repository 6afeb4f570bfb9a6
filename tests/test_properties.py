"""Property tests (hypothesis) on random MDPs: the invariants the README states.

The fast tests run the profile's examples; the ``slow`` ones draw 1,000 MDPs each (dense and successor
lists, terminal states, action priors with zeros, γ in {0, 0.5, 0.9, 1}) and check every invariant
on each, derandomized so CI sees the same examples.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pgm_control import TabularMDP
from pgm_control.envs import random_mdp
from pgm_control.inference import (
    backward_messages,
    elbo,
    forward_messages,
    log_evidence,
    policy_evaluation,
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


# ------------------------------------------------------------------ every invariant, on one random MDP
FAST = settings(max_examples=50, deadline=None, derandomize=True)
SLOW = settings(max_examples=1000, deadline=None, derandomize=True)
F64 = torch.float64


@st.composite
def cases(draw):
    """A random MDP with terminal states, a discount, and an action prior [S, A] with zeros."""
    S, A = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    dense = draw(st.booleans())
    base = random_mdp(S, A, branching=None if dense else draw(st.integers(1, 3)), seed=draw(st.integers(0, 10**6)),
                      reward_scale=draw(st.sampled_from([0.1, 1.0, 30.0])))
    terminal = draw(st.lists(st.booleans(), min_size=S, max_size=S))
    discount = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    mdp = TabularMDP(base.transitions if base.is_dense else (base.next_states, base.probs),
                     base.rewards, discount=discount, terminal=terminal)
    allowed = torch.tensor(draw(st.lists(st.lists(st.booleans(), min_size=A, max_size=A), min_size=S,
                                         max_size=S)))
    allowed[torch.arange(S), draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S))] = True
    weights = torch.rand(S, A, generator=torch.Generator().manual_seed(draw(st.integers(0, 10**6))), dtype=F64)
    prior = torch.where(allowed, weights + 0.1, 0.0)
    return mdp, prior / prior.sum(-1, keepdim=True), draw(st.integers(1, 5))


def assert_normalized(policy, prior):
    assert ((policy.sum(-1) - 1).abs() <= 1e-12).all()
    assert (policy >= 0).all() and (policy[..., prior == 0] == 0).all()


def check_finite_horizon(mdp, prior, horizon):
    undiscounted = mdp.replace(discount=1.0)
    hard = value_iteration(undiscounted, horizon)
    expected, optimistic = (soft_value_iteration(undiscounted, horizon, 1.0, backup, action_prior=prior)
                            for backup in ("expected", "optimistic"))
    for soft in (expected, optimistic):
        assert_normalized(soft.policy, prior)
    # the prior sits inside the soft maximum: V_expected <= V_hard; Jensen: V_expected <= V_optimistic
    assert (expected.v <= hard.v + 1e-9 * (1 + hard.v.abs())).all()
    assert (expected.v <= optimistic.v + 1e-9 * (1 + optimistic.v.abs())).all()
    # α = 1, γ = 1: the optimistic values are the backward messages, whose start is log p(O_{1:T})
    messages = backward_messages(undiscounted, horizon, action_prior=prior)
    torch.testing.assert_close(messages.log_beta_s, optimistic.v, atol=1e-10, rtol=1e-12)
    evidence = log_evidence(undiscounted, horizon, action_prior=prior)
    forward = forward_messages(undiscounted, horizon, action_prior=prior).log_normalizers.sum()
    torch.testing.assert_close(evidence, forward, atol=1e-9, rtol=1e-12)
    # the expected-backup policy attains the ELBO Σ p(s_1) V_1, a lower bound on log p(O)
    best = elbo(undiscounted, horizon, expected, action_prior=prior)
    torch.testing.assert_close(best, (undiscounted.initial * expected.v[0]).sum(), atol=1e-9, rtol=1e-12)
    assert best <= evidence + 1e-9 * (1 + evidence.abs())
    # the greedy policy's own value is V* (finite horizon)
    torch.testing.assert_close(policy_evaluation(undiscounted, hard.policy, horizon).v, hard.v,
                               atol=1e-9, rtol=1e-12)
    # temperature 0 is value iteration (uniform prior)
    torch.testing.assert_close(soft_value_iteration(undiscounted, horizon, 0.0).v, hard.v, atol=0, rtol=0)
    # storage does not matter
    other = undiscounted.to_successors() if undiscounted.is_dense else undiscounted.to_dense()
    torch.testing.assert_close(soft_value_iteration(other, horizon, 1.0, "optimistic", action_prior=prior).q,
                               optimistic.q, atol=1e-10, rtol=1e-12)


def check_infinite_horizon(mdp, prior):
    """γ < 1, or γ = 1 on a dense MDP with terminal states (every transition has positive probability,
    so every policy reaches them): the fixed points, each a consistent (q, v) pair."""
    if mdp.discount == 1.0 and not (mdp.is_dense and bool(mdp.terminal.any())):
        return
    event(f"infinite horizon, discount {mdp.discount}")
    tol = 1e-8
    hard = value_iteration(mdp, tol=tol)
    scale = 1 + hard.v.abs().max().item()
    torch.testing.assert_close(policy_evaluation(mdp, hard.policy).v, hard.v, atol=10 * tol * scale, rtol=0)
    soft = soft_value_iteration(mdp, temperature=1.0, action_prior=prior, tol=tol)
    assert_normalized(soft.policy, prior)
    v_again = torch.logsumexp(torch.log(prior) + soft.q, -1)
    torch.testing.assert_close(soft.v, v_again, atol=1e-12 * scale, rtol=0)
    q_again = mdp.rewards + mdp.discount * mdp.expected_next(soft.v)
    # q is the backup of the previous iterate: off by γ‖ΔV‖ <= (1 - γ) tol (tol when γ = 1)
    slack = (1 - mdp.discount if mdp.discount < 1 else 1.0) * tol
    assert (soft.q - q_again).abs().max() <= slack + 1e-12 * scale
    assert (soft.v <= hard.v + tol * scale).all()
    if mdp.discount == 0.0:  # one step: V = soft max of r, exactly
        torch.testing.assert_close(soft.v, torch.logsumexp(torch.log(prior) + mdp.rewards, -1), atol=1e-13,
                                   rtol=0)


def check_optimistic_infinite_horizon(mdp, prior):
    """Either the linear system in W = exp(V) has a positive solution and the iteration finds it, or
    γ ρ(K) >= 1 and the solver says there is no fixed point."""
    if mdp.discount in (0.0, 1.0) or not mdp.is_dense:
        return
    P, r, gamma = mdp.transitions.numpy(), mdp.rewards.numpy(), mdp.discount
    if np.abs(r).max() > 30:  # e^{r} then spans more than float64 can solve in one system
        return
    weights = prior.numpy() * np.exp(r)
    K = gamma * np.einsum("sa,sap->sp", weights, P)
    rho = np.abs(np.linalg.eigvals(K)).max()
    if abs(rho - 1) < 1e-3:  # too close to call in float64, and convergence is very slow
        return
    event(f"optimistic fixed point: {'none' if rho > 1 else 'exists'}")
    if rho > 1:
        with pytest.raises(ValueError, match="no fixed point"):
            soft_value_iteration(mdp, backup="optimistic", action_prior=prior, max_iter=20_000)
        return
    truth = np.log(np.linalg.solve(np.eye(len(K)) - K, (1 - gamma) * weights.sum(-1)))
    result = soft_value_iteration(mdp, backup="optimistic", action_prior=prior, tol=1e-8)
    assert np.abs(result.v.numpy() - truth).max() <= 1e-8 + 1e-12 * np.abs(truth).max()


def check_all(case):
    mdp, prior, horizon = case
    check_finite_horizon(mdp, prior, horizon)
    check_infinite_horizon(mdp, prior)
    check_optimistic_infinite_horizon(mdp, prior)


@FAST
@given(cases())
def test_readme_invariants(case):
    check_all(case)


@pytest.mark.slow
@SLOW
@given(cases())
def test_readme_invariants_on_a_thousand_mdps(case):
    check_all(case)
