"""Exact messages against brute-force enumeration of every trajectory (tests/brute_force.py)."""

import numpy as np
import pytest
import torch

from pgm_control import TabularMDP
from pgm_control.envs import lottery_mdp, random_mdp
from pgm_control.inference import (
    backward_messages,
    forward_messages,
    log_evidence,
    posterior_dynamics,
    soft_value_iteration,
    state_marginals,
)

import brute_force

T = 4
EXACT = dict(atol=1e-10, rtol=0)


def build(P, r, p0, successors=False):
    mdp = TabularMDP(torch.tensor(P), torch.tensor(r), initial=torch.tensor(p0))
    return mdp.to_successors() if successors else mdp


@pytest.fixture(params=[(seed, det, succ) for seed in (0, 1) for det in (False, True) for succ in (False, True)],
                ids=lambda p: f"seed{p[0]}-{'det' if p[1] else 'stoch'}-{'succ' if p[2] else 'dense'}")
def case(request):
    seed, deterministic, successors = request.param
    P, r, p0, prior = brute_force.tiny_mdp(seed, deterministic=deterministic)
    return build(P, r, p0, successors), (P, r, p0, prior)


def test_log_evidence_matches_enumeration(case):
    mdp, (P, r, p0, prior) = case
    expected = brute_force.log_evidence(P, r, p0, prior, T)
    got = log_evidence(mdp, T, action_prior=torch.tensor(prior))
    assert got.item() == pytest.approx(expected, abs=1e-10)
    forward = forward_messages(mdp, T, action_prior=torch.tensor(prior))
    assert forward.log_normalizers.sum().item() == pytest.approx(expected, abs=1e-10)


def test_uniform_prior_is_the_default(case):
    mdp, (P, r, p0, _) = case
    uniform = np.full_like(r, 0.5)
    assert log_evidence(mdp, T).item() == pytest.approx(brute_force.log_evidence(P, r, p0, uniform, T), abs=1e-10)


def test_state_marginals_match_enumeration(case):
    mdp, (P, r, p0, prior) = case
    expected = brute_force.state_marginals(P, r, p0, prior, T)
    got = state_marginals(mdp, T, action_prior=torch.tensor(prior))
    assert got.shape == (T, 3)
    np.testing.assert_allclose(got.numpy(), expected, **EXACT)


def test_soft_policy_is_the_posterior_action_distribution(case):
    """p(a_t | s_t, O_{1:T}) = p(a|s) β_t(s, a) / β_t(s) for every t, including p(a_1 | s_1, O_{1:T})."""
    mdp, (P, r, p0, prior) = case
    expected = brute_force.posterior_policy(P, r, p0, prior, T)
    soft = soft_value_iteration(mdp, horizon=T, backup="optimistic", action_prior=torch.tensor(prior))
    reached = ~np.isnan(expected)
    np.testing.assert_allclose(soft.policy.numpy()[reached], expected[reached], **EXACT)
    log_beta_sa, log_beta_s = backward_messages(mdp, T, action_prior=torch.tensor(prior))
    ratio = torch.tensor(prior) * torch.exp(log_beta_sa - log_beta_s[..., None])
    np.testing.assert_allclose(ratio.numpy()[reached], expected[reached], **EXACT)


def test_backward_messages_are_conditional_likelihoods(case):
    """β_1(s) = p(O_{1:T} | s_1 = s): enumerate with the initial state pinned to s."""
    mdp, (P, r, _, prior) = case
    _, log_beta_s = backward_messages(mdp, T, action_prior=torch.tensor(prior))
    for s in range(3):
        pinned = np.eye(3)[s]
        assert log_beta_s[0, s].item() == pytest.approx(brute_force.log_evidence(P, r, pinned, prior, T), abs=1e-10)


def test_forward_messages_filter_the_past(case):
    """α_t(s) = p(s_t | O_{1:t-1}): enumerate the model truncated at horizon t and take p(s_t | O_{1:t-1})."""
    mdp, (P, r, p0, prior) = case
    log_alpha = forward_messages(mdp, T, action_prior=torch.tensor(prior)).log_alpha
    assert log_alpha.shape == (T, 3)
    np.testing.assert_allclose(log_alpha[0].exp().numpy(), p0, **EXACT)
    for t in range(1, T):
        # states at time t+1 (code t) given O_{1:t}: marginal of the horizon-(t+1) model without O_{t+1}.
        r_masked = r.copy()
        states, actions, w = brute_force.trajectory_weights(P, r_masked, p0, prior, t + 1)
        w = w / np.exp(r[states[:, t], actions[:, t]]) / prior[states[:, t], actions[:, t]]
        filtered = np.zeros(3)
        np.add.at(filtered, states[:, t], w)
        np.testing.assert_allclose(log_alpha[t].exp().numpy(), filtered / filtered.sum(), **EXACT)


def test_posterior_dynamics_match_enumeration(case):
    mdp, (P, r, p0, prior) = case
    expected = brute_force.posterior_transition(P, r, p0, prior, T)
    got = posterior_dynamics(mdp.to_dense(), T, action_prior=torch.tensor(prior))
    assert got.shape == (T, 3, 2, 3)
    reached = ~np.isnan(expected)
    np.testing.assert_allclose(got[:-1].numpy()[reached], expected[reached], **EXACT)
    np.testing.assert_allclose(got[-1].numpy(), P, **EXACT)  # β_{T+1} = 1: the last step is the true one


def test_posterior_dynamics_successor_storage_aligns_with_next_states():
    mdp = random_mdp(6, 2, branching=3, seed=3)
    sparse = posterior_dynamics(mdp, 5)
    dense = posterior_dynamics(mdp.to_dense(), 5)
    assert sparse.shape == (5, 6, 2, 3)
    scattered = torch.zeros_like(dense).scatter_add_(-1, mdp.next_states.expand(5, -1, -1, -1), sparse)
    torch.testing.assert_close(scattered, dense, atol=1e-12, rtol=0)


def test_optimism_posterior_dynamics_favour_the_jackpot():
    mdp = lottery_mdp(win_prob=0.1)
    dynamics = posterior_dynamics(mdp, 5)
    start, gamble, jackpot = 0, 1, 2
    assert mdp.transitions[start, gamble, jackpot] == pytest.approx(0.1)
    assert dynamics[0, start, gamble, jackpot] > 0.99  # "given that you obtained high reward..."


def test_temperature_scales_rewards_in_the_model():
    """p(O|s,a) = exp(r/α): messages at temperature α equal messages of the rewards r/α."""
    mdp = random_mdp(5, 3, branching=2, seed=4)
    scaled = mdp.replace(rewards=mdp.rewards / 0.5)
    torch.testing.assert_close(log_evidence(mdp, 6, temperature=0.5), log_evidence(scaled, 6), atol=1e-12, rtol=0)
    torch.testing.assert_close(state_marginals(mdp, 6, temperature=0.5), state_marginals(scaled, 6),
                               atol=1e-12, rtol=0)


@pytest.mark.parametrize("successors", [False, True])
def test_large_rewards_and_long_horizons_stay_finite_and_consistent(successors):
    """Rewards of magnitude 1e4 over T = 1e4 steps: log Z ~ 1e8, still exact in float64 log space."""
    mdp = random_mdp(8, 3, branching=3, seed=5, reward_scale=1e4)
    mdp = mdp if successors else mdp.to_dense()
    horizon = 10_000
    backward = log_evidence(mdp, horizon)
    forward = forward_messages(mdp, horizon).log_normalizers.sum()
    assert torch.isfinite(backward)
    assert backward.item() == pytest.approx(forward.item(), rel=1e-12)
    marginals = state_marginals(mdp, 200)
    assert torch.isfinite(marginals).all()
    torch.testing.assert_close(marginals.sum(-1), torch.ones(200, dtype=torch.float64))


def test_log_evidence_is_differentiable_and_its_gradient_is_the_occupancy():
    """∂ log p(O_{1:T}) / ∂ r(s, a) = Σ_t p(s_t = s, a_t = a | O_{1:T}) (an exponential-family identity)."""
    P, r, p0, prior = brute_force.tiny_mdp(7)
    rewards = torch.tensor(r, requires_grad=True)
    mdp = TabularMDP(torch.tensor(P), rewards, initial=torch.tensor(p0))
    log_evidence(mdp, T, action_prior=torch.tensor(prior)).backward()
    states, actions, w = brute_force.trajectory_weights(P, r, p0, prior, T)
    occupancy = np.zeros_like(r)
    for t in range(T):
        np.add.at(occupancy, (states[:, t], actions[:, t]), w)
    np.testing.assert_allclose(rewards.grad.numpy(), occupancy / w.sum(), **EXACT)


# ---- mutation guards (second pass)
def test_messages_at_a_temperature_are_those_of_the_rewards_over_it():
    # p(O|s,a) = exp(r/α): at α = 0.5 every message equals brute-force enumeration with rewards r/α
    # (β_1(s) with s_1 pinned to s, log Σ normalizers = log p(O_{1:T}), the posterior dynamics).
    alpha = 0.5
    P, r, p0, prior = brute_force.tiny_mdp(0)
    mdp = build(P, r, p0)
    prior_t = torch.tensor(prior)
    log_beta_sa, log_beta_s = backward_messages(mdp, T, action_prior=prior_t, temperature=alpha)
    for s in range(3):
        expected = brute_force.log_evidence(P, r / alpha, np.eye(3)[s], prior, T)
        assert log_beta_s[0, s].item() == pytest.approx(expected, abs=1e-10)
    # log β_1(s) = log Σ_a p(a|s) β_1(s, a): the two tables are on the same scale
    np.testing.assert_allclose(torch.logsumexp(log_beta_sa[0] + prior_t.log(), -1).numpy(), log_beta_s[0].numpy(),
                               **EXACT)
    forward = forward_messages(mdp, T, action_prior=prior_t, temperature=alpha)
    assert forward.log_normalizers.sum().item() == pytest.approx(
        brute_force.log_evidence(P, r / alpha, p0, prior, T), abs=1e-10)
    expected = brute_force.posterior_transition(P, r / alpha, p0, prior, T)
    got = posterior_dynamics(mdp, T, action_prior=prior_t, temperature=alpha)
    reached = ~np.isnan(expected)
    np.testing.assert_allclose(got[:-1].numpy()[reached], expected[reached], **EXACT)
