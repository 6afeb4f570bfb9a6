"""Soft value iteration: Jensen's inequality, the ELBO it maximizes, its limits and conventions."""

import math

import numpy as np
import pytest
import torch

from pgm_control import TabularMDP
from pgm_control.envs import lottery_mdp, random_mdp
from pgm_control.inference import (
    log_evidence,
    soft_value_iteration,
    value_iteration,
)
from pgm_control.sampling import sample_trajectories

import brute_force

T = 4


def tiny(seed, deterministic=False):
    P, r, p0, prior = brute_force.tiny_mdp(seed, deterministic=deterministic)
    return TabularMDP(torch.tensor(P), torch.tensor(r), initial=torch.tensor(p0)), (P, r, p0, prior)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jensen_optimistic_values_dominate_expected_values(seed):
    mdp = random_mdp(6, 3, branching=3, seed=seed)
    optimistic = soft_value_iteration(mdp, horizon=6, backup="optimistic")
    expected = soft_value_iteration(mdp, horizon=6, backup="expected")
    assert (optimistic.q >= expected.q - 1e-12).all()
    assert (optimistic.v >= expected.v - 1e-12).all()
    assert (optimistic.v - expected.v).max() > 1e-3  # stochastic dynamics: strictly optimistic somewhere


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backups_coincide_under_deterministic_dynamics(seed):
    mdp, _ = tiny(seed, deterministic=True)
    optimistic = soft_value_iteration(mdp, horizon=T, backup="optimistic")
    expected = soft_value_iteration(mdp, horizon=T, backup="expected")
    torch.testing.assert_close(optimistic.q, expected.q, atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deterministic_point_mass_start_value_is_the_log_evidence(seed):
    mdp, _ = tiny(seed, deterministic=True)
    for start in range(3):
        pinned = mdp.replace(initial=torch.eye(3, dtype=torch.float64)[start])
        v1 = soft_value_iteration(pinned, horizon=T, backup="expected").v[0]
        assert (pinned.initial * v1).sum().item() == pytest.approx(log_evidence(pinned, T).item(), abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_expected_backup_policy_maximizes_the_elbo(seed):
    """ELBO(q) = E_q[Σ r + log p(a|s) - log q(a|s)] with fixed dynamics; its maximum is Σ p0 V_1."""
    mdp, (P, r, p0, prior) = tiny(seed)
    soft = soft_value_iteration(mdp, horizon=T, backup="expected", action_prior=torch.tensor(prior))
    best = (mdp.initial * soft.v[0]).sum().item()
    assert brute_force.elbo(P, r, p0, prior, soft.policy.numpy(), T) == pytest.approx(best, abs=1e-10)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        other = rng.dirichlet(np.ones(2), size=(T, 3))
        assert brute_force.elbo(P, r, p0, prior, other, T) < best
    exact_posterior = soft_value_iteration(mdp, horizon=T, backup="optimistic", action_prior=torch.tensor(prior))
    assert brute_force.elbo(P, r, p0, prior, exact_posterior.policy.numpy(), T) < best
    assert best < brute_force.log_evidence(P, r, p0, prior, T)  # stochastic dynamics: a strict bound


def test_lottery_optimism():
    mdp = lottery_mdp()
    start, safe, gamble = 0, 0, 1
    exact = soft_value_iteration(mdp, horizon=5, backup="optimistic")
    variational = soft_value_iteration(mdp, horizon=5, backup="expected")
    assert exact.policy[0, start, gamble] > 0.8
    assert variational.policy[0, start, safe] > 0.99
    # by hand: Q_gamble = log(0.1 e^0 + 0.9 e^{-12}), Q_safe = -4 (4 steps of -1 after the first)
    assert exact.q[0, start, gamble].item() == pytest.approx(math.log(0.1 + 0.9 * math.exp(-12)), abs=1e-12)
    assert exact.q[0, start, safe].item() == pytest.approx(-4.0, abs=1e-12)
    assert variational.q[0, start, gamble].item() == pytest.approx(0.9 * -12.0, abs=1e-12)


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_soft_policy_is_prior_times_exp_advantage(backup):
    mdp = random_mdp(5, 3, branching=2, seed=3)
    prior = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    soft = soft_value_iteration(mdp, horizon=3, temperature=0.7, backup=backup, action_prior=prior)
    torch.testing.assert_close(soft.policy, prior * torch.exp((soft.q - soft.v[..., None]) / 0.7))
    torch.testing.assert_close(soft.policy.sum(-1), torch.ones(3, 5, dtype=torch.float64))
    torch.testing.assert_close(soft.v, 0.7 * torch.log((prior * torch.exp(soft.q / 0.7)).sum(-1)))


def test_convention_offset_against_log_sum_exp_q():
    """V' = log Σ_a exp Q' (no 1/|A|) exceeds our V by (T - t) log|A| at code time t."""
    mdp = random_mdp(6, 4, branching=3, seed=4)
    soft = soft_value_iteration(mdp, horizon=5, backup="expected")
    P, r = mdp.transitions.numpy(), mdp.rewards.numpy()
    v_next, other = np.zeros(6), []
    for _ in range(5):
        q = r + P @ v_next
        v_next = np.log(np.exp(q).sum(-1))
        other.append(v_next)
    other = np.array(other[::-1])
    offsets = (5 - np.arange(5))[:, None] * math.log(4)
    np.testing.assert_allclose(other, soft.v.numpy() + offsets, atol=1e-10)


@pytest.mark.parametrize("horizon", [None, 6])
def test_temperature_zero_is_value_iteration(horizon):
    mdp = random_mdp(8, 3, branching=3, seed=5, discount=0.9)
    hard = value_iteration(mdp, horizon=horizon)
    zero = soft_value_iteration(mdp, horizon=horizon, temperature=0.0)
    torch.testing.assert_close(zero.q, hard.q, atol=1e-9, rtol=0)
    torch.testing.assert_close(zero.policy, hard.policy)


@pytest.mark.parametrize("temperature", [1e-1, 1e-2, 1e-4])
def test_small_temperature_approaches_value_iteration(temperature):
    """V_hard - α log|A| · (steps left) <= V_soft <= V_hard: the soft maximum of a uniform prior."""
    mdp = random_mdp(8, 3, branching=3, seed=6)
    horizon = 6
    soft = soft_value_iteration(mdp, horizon=horizon, temperature=temperature)
    hard = value_iteration(mdp, horizon=horizon)
    steps_left = (horizon - torch.arange(horizon, dtype=torch.float64))[:, None]
    gap = (soft.v - hard.v).abs()
    # the bound is attained when one action dominates; 1e-9 absorbs the rounding of values of size ~1
    assert (gap <= temperature * math.log(3) * steps_left + 1e-9).all()


def test_discounted_fixed_point_satisfies_the_soft_bellman_equation():
    mdp = random_mdp(10, 3, branching=4, seed=7, discount=0.95)
    soft = soft_value_iteration(mdp, temperature=0.5, tol=1e-12)
    q_again = mdp.rewards + 0.95 * mdp.expected_next(soft.v)
    v_again = 0.5 * torch.logsumexp(math.log(1 / 3) + soft.q / 0.5, -1)
    torch.testing.assert_close(soft.q, q_again, atol=1e-10, rtol=0)
    torch.testing.assert_close(soft.v, v_again, atol=1e-10, rtol=0)
    long_horizon = soft_value_iteration(mdp, horizon=1500, temperature=0.5)
    torch.testing.assert_close(long_horizon.v[0], soft.v, atol=1e-8, rtol=0)


@pytest.mark.parametrize("horizon", [None, 5])
def test_discounted_optimistic_backup_is_an_absorbing_death_state(horizon):
    """γ < 1 in the optimistic backup = an extra absorbing zero-reward state reached w.p. 1 - γ."""
    gamma = 0.8
    # rewards <= 0 (true probabilities exp(r) <= 1): the infinite-horizon optimistic values are finite
    base = random_mdp(5, 2, seed=8, discount=gamma)
    mdp = base.replace(rewards=-base.rewards.abs())
    P = mdp.transitions
    augmented = torch.zeros(6, 2, 6, dtype=torch.float64)
    augmented[:5, :, :5] = gamma * P
    augmented[:5, :, 5] = 1 - gamma
    augmented[5, :, 5] = 1.0
    rewards = torch.cat([mdp.rewards, torch.zeros(1, 2, dtype=torch.float64)])
    death = TabularMDP(augmented, rewards, discount=1.0, terminal=[5])
    ours = soft_value_iteration(mdp, horizon=horizon, backup="optimistic", tol=1e-12)
    explicit = soft_value_iteration(death, horizon=horizon, backup="optimistic", tol=1e-12)
    torch.testing.assert_close(ours.q, explicit.q[..., :5, :], atol=1e-9, rtol=0)


def test_gradient_of_optimal_elbo_is_the_soft_policy_occupancy():
    """Envelope theorem: ∂/∂r(s,a) of Σ p0 V_1 (expected backup) = Σ_t q(s_t = s, a_t = a)."""
    P, r, p0, _ = brute_force.tiny_mdp(9)
    rewards = torch.tensor(r, requires_grad=True)
    mdp = TabularMDP(torch.tensor(P), rewards, initial=torch.tensor(p0))
    soft = soft_value_iteration(mdp, horizon=T, backup="expected")
    (mdp.initial * soft.v[0]).sum().backward()
    pi = soft.policy.detach().numpy()
    state, occupancy = p0.copy(), np.zeros_like(r)
    for t in range(T):
        joint = state[:, None] * pi[t]
        occupancy += joint
        state = np.einsum("sa,sap->p", joint, P)
    np.testing.assert_allclose(rewards.grad.numpy(), occupancy, atol=1e-10)


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_stable_for_huge_rewards_and_long_horizons(backup):
    mdp = random_mdp(20, 4, branching=3, seed=10, reward_scale=1e4)
    soft = soft_value_iteration(mdp, horizon=10_000, backup=backup)
    assert torch.isfinite(soft.q).all() and torch.isfinite(soft.v).all()
    torch.testing.assert_close(soft.policy[0].sum(-1), torch.ones(20, dtype=torch.float64))
    hard = value_iteration(mdp, horizon=10_000)
    if backup == "expected":
        # 0 <= V_hard - V_soft <= T log|A| ≈ 1.4e4, attained when one action dominates; values are ~1e8,
        # so float64 rounding accumulated over 1e4 steps is ~1e-4: allow 1e-3.
        gap = hard.v[0] - soft.v[0]
        assert (gap >= -1e-3).all() and (gap <= 10_000 * math.log(4) + 1e-3).all()


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("temperature", [1e-6, 1e-2, 1.0, 1e6])
@pytest.mark.parametrize("horizon", [None, 10, 1000])
def test_soft_policy_rows_sum_to_one_at_every_temperature(backup, temperature, horizon):
    """Rows of π sum to 1 within 1e-12 (a few ulps of rounding over A = 4 terms) for α from 1e-6 to 1e6
    and |r| up to 1e4: the log-policy is normalized as a log-softmax of its own row."""
    discount = 0.9 if horizon is None else 1.0
    # the optimistic backup at γ < 1 has no fixed point for rewards this large: use r <= 0 there
    mdp = random_mdp(8, 4, branching=3, seed=11, reward_scale=1e4, discount=discount)
    if horizon is None and backup == "optimistic":
        mdp = mdp.replace(rewards=-mdp.rewards.abs())
    prior = torch.tensor([0.5, 0.0, 0.25, 0.25], dtype=torch.float64)
    soft = soft_value_iteration(mdp, horizon, temperature, backup, action_prior=prior, tol=1e-6)
    policy = soft.policy
    assert ((policy.sum(-1) - 1).abs() <= 1e-12).all()
    assert (policy[..., 1] == 0).all()  # zero prior, zero probability


@pytest.mark.slow
def test_sample_trajectories_accepts_the_policy_at_tiny_temperature():
    """The library's own policy at α = 1e-6, |r| ~ 1e4, T = 10^4 (its rows once summed to 1 ± 4e-3)
    is normalized to 1e-12 and samples."""
    mdp = random_mdp(6, 3, seed=0, reward_scale=1e4)
    soft = soft_value_iteration(mdp, horizon=10_000, temperature=1e-6)
    assert ((soft.policy.sum(-1) - 1).abs() <= 1e-12).all()
    trajectories = sample_trajectories(mdp, soft, 10_000, 2, generator=torch.Generator().manual_seed(0))
    # at α = 1e-6 the soft policy is the greedy one: every sampled action is the argmax of Q_t
    greedy = soft.q.argmax(-1)
    steps = torch.arange(10_000)
    assert torch.equal(trajectories.actions, greedy[steps, trajectories.states[:, :-1]])


def test_soft_log_policy_is_the_textbook_formula_where_it_is_well_conditioned():
    mdp = random_mdp(5, 3, branching=2, seed=3)
    soft = soft_value_iteration(mdp, horizon=4, temperature=0.7, backup="optimistic")
    textbook = math.log(1 / 3) + (soft.q - soft.v[..., None]) / 0.7
    torch.testing.assert_close(soft.log_policy, textbook, atol=1e-13, rtol=0)


def test_one_state_optimistic_fixed_point_condition():
    """One state, r, γ, α = 1: V = r + log(γ e^V + 1 - γ) ⇔ e^V (1 - γ e^r) = (1 - γ) e^r, solvable iff
    γ e^r < 1. r = 1, γ = 0.5 (γ e = 1.36) has none; r = 0.5 (γ e^0.5 = 0.82) has the closed form."""
    one = TabularMDP(torch.ones(1, 1, 1, dtype=torch.float64), torch.tensor([[1.0]]), discount=0.5)
    with pytest.raises(ValueError, match=r"no fixed point.*spectral radius γ ρ\(K\) < 1.*>= e\^0\.307"):
        soft_value_iteration(one, backup="optimistic")
    solvable = one.replace(rewards=torch.tensor([[0.5]], dtype=torch.float64))
    v = soft_value_iteration(solvable, backup="optimistic", tol=1e-9).v.item()
    assert abs(v - math.log(0.5 * math.exp(0.5) / (1 - 0.5 * math.exp(0.5)))) <= 1e-9


def exact_optimistic_fixed_point(mdp):
    """Independent truth: exp(V) solves the linear system W = γ K W + (1 - γ) u (α = 1, uniform prior)."""
    P, r, gamma = mdp.to_dense().transitions.numpy(), mdp.rewards.numpy(), mdp.discount
    weights = np.exp(r) / mdp.num_actions
    K = gamma * np.einsum("sa,sap->sp", weights, P)
    return np.log(np.linalg.solve(np.eye(mdp.num_states) - K, (1 - gamma) * weights.sum(-1)))


@pytest.mark.parametrize("shift", [-1.0, 0.0, 0.08])
def test_optimistic_fixed_point_is_within_tol_of_the_linear_solve(shift):
    """With V > 0 the optimistic backup is not a γ-contraction (shift 0.08: γ ρ(K) = 0.97, the
    γ/(1-γ) rule stopped with an error of 3·tol); the stopping rule uses its actual modulus."""
    base = random_mdp(6, 2, seed=1, discount=0.9)
    mdp = base.replace(rewards=0.1 * base.rewards + shift)
    result = soft_value_iteration(mdp, backup="optimistic", tol=1e-6)
    assert np.abs(result.v.numpy() - exact_optimistic_fixed_point(mdp)).max() <= 1e-6
    v_again = torch.logsumexp(math.log(0.5) + result.q, -1)
    torch.testing.assert_close(result.v, v_again, atol=1e-14, rtol=0)


def test_optimistic_divergence_with_a_terminal_state_is_certified_during_the_iteration():
    """A terminal state keeps the smallest row sum of γK below 1, so no up-front verdict: the iteration's
    Collatz–Wielandt bound on the growing states proves γ ρ(K) > 1 by sweep 256 (max_iter=300)."""
    base = random_mdp(6, 2, seed=1, discount=0.9)
    mdp = TabularMDP(base.transitions, base.rewards + 0.3, discount=0.9, terminal=[5])
    assert exact_spectral_radius(mdp) > 1
    with pytest.raises(ValueError, match=r"no fixed point.*on states \["):
        soft_value_iteration(mdp, backup="optimistic", max_iter=300)


def exact_spectral_radius(mdp):
    P, r, gamma = mdp.to_dense().transitions.numpy(), mdp.rewards.numpy(), mdp.discount
    return np.abs(np.linalg.eigvals(gamma * np.einsum("sa,sap->sp", np.exp(r) / mdp.num_actions, P))).max()


def test_expected_soft_fixed_point_is_within_tol_of_the_truth():
    mdp = random_mdp(10, 3, branching=3, seed=7, discount=0.99)
    P, r = mdp.to_dense().transitions.numpy(), mdp.rewards.numpy()
    v = np.zeros(10)
    for _ in range(5000):  # independent NumPy soft value iteration, 0.99^5000 ≈ 1e-22
        q = r + 0.99 * P @ v
        v = np.log(np.exp(q - q.max(-1, keepdims=True)).mean(-1)) + q.max(-1)
    result = soft_value_iteration(mdp, tol=1e-6)
    assert np.abs(result.v.numpy() - v).max() <= 1e-6


# ------------------------------------------------------------------------------ mutation guards
# Each test below pins a behaviour that a plausible one-line bug would break without failing any other
# test (found by planting the bug). The truth is a plain NumPy loop over the module docstring's equations.
@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("gamma", [0.0, 0.7, 1.0])
def test_soft_backups_at_any_temperature_discount_and_prior_by_numpy(backup, gamma):
    """Q_t = r + γ E[V_{t+1}] (expected) or r + α log(γ E[exp(V_{t+1}/α)] + 1 - γ) (optimistic),
    V_t = α log Σ_a p(a|s) exp(Q_t/α), at α = 0.5 with a non-uniform prior (γ = 0: Q = r in both)."""
    mdp = random_mdp(4, 3, seed=9, discount=gamma)
    alpha, horizon = 0.5, 3
    prior = np.random.default_rng(1).dirichlet(np.ones(3), size=4)
    P, r = mdp.transitions.numpy(), mdp.rewards.numpy()
    v_next, q_all, v_all = np.zeros(4), [], []
    for _ in range(horizon):
        if backup == "expected":
            q = r + gamma * P @ v_next
        else:
            q = r + alpha * np.log(gamma * P @ np.exp(v_next / alpha) + 1 - gamma)
        v_next = alpha * np.log((prior * np.exp(q / alpha)).sum(-1))
        q_all.append(q)
        v_all.append(v_next)
    soft = soft_value_iteration(mdp, horizon, temperature=alpha, backup=backup, action_prior=torch.tensor(prior))
    np.testing.assert_allclose(soft.q.numpy(), np.array(q_all[::-1]), atol=1e-12, rtol=0)
    np.testing.assert_allclose(soft.v.numpy(), np.array(v_all[::-1]), atol=1e-12, rtol=0)
    if gamma == 0.0:
        np.testing.assert_allclose(soft.q.numpy(), np.broadcast_to(r, (horizon, 4, 3)), atol=1e-12)
