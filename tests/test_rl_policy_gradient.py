"""REINFORCE (pgm_control.rl.policy_gradient) against exact answers.

The exact objective J(θ) = Σ_t E[r - α log π] of a tabular policy is computed here by pushing the
state distribution through the dense dynamics with a plain loop (no library solver), so autograd gives
the exact gradient that the score-function estimator must match on average; the optima come from
``soft_value_iteration`` (α > 0) and ``value_iteration`` (α = 0).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgm_control.envs import GridWorld
from pgm_control.inference import policy_evaluation, soft_value_iteration, value_iteration
from pgm_control.rl.policy_gradient import (
    PolicyGradientResult,
    reinforce,
    reinforce_surrogate,
    rewards_to_go,
)
from pgm_control.sampling import sample_trajectories

T = 5


def slippery_grid() -> GridWorld:
    """2 x 3 cells, -1 per move, terminal goal in the corner (entering it pays 0), slip 0.2; starts
    uniform over the five live cells, so every state is visited early and the soft-optimal policy
    is far from uniform (mean KL(uniform || π*) = 0.158 at α = 1, T = 5)."""
    return GridWorld(["...", "..G"], slip=0.2, step_reward=-1.0, goal_reward=0.0)


def exact_objective(mdp, log_policy: torch.Tensor, entropy_bonus: float) -> torch.Tensor:
    """J = Σ_t Σ_s d_t(s) Σ_a π_t(a|s) [r(s, a) - α log π_t(a|s)], d_{t+1}(s') = Σ d_t π_t p(s'|s,a)
    (γ = 1), differentiable in log_policy ``[T, S, A]``."""
    transitions, rewards = mdp.to_dense().transitions, mdp.rewards
    d, total = mdp.initial, torch.zeros((), dtype=torch.float64)
    for t in range(log_policy.shape[0]):
        pi = log_policy[t].exp()
        total = total + (d[:, None] * pi * (rewards - entropy_bonus * log_policy[t])).sum()
        d = torch.einsum("s,sa,sak->k", d, pi, transitions)
    return total


def visitation(mdp, policy: torch.Tensor) -> torch.Tensor:
    """d_t(s) ``[T, S]`` under the policy, by the same plain loop."""
    transitions, d, out = mdp.to_dense().transitions, mdp.initial, []
    for t in range(policy.shape[0]):
        out.append(d)
        d = torch.einsum("s,sa,sak->k", d, policy[t], transitions)
    return torch.stack(out)


# ------------------------------------------------------------------------------ the pure functions
def test_rewards_to_go_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 4.0]], dtype=torch.float64)
    # γ = 0.5: G_2 = 3, G_1 = 2 + 1.5 = 3.5, G_0 = 1 + 1.75 = 2.75; second row 1, 2, 4.
    torch.testing.assert_close(rewards_to_go(rewards, 0.5),
                               torch.tensor([[2.75, 3.5, 3.0], [1.0, 2.0, 4.0]], dtype=torch.float64))
    torch.testing.assert_close(rewards_to_go(rewards), torch.tensor([[6.0, 5.0, 3.0], [4.0, 4.0, 4.0]],
                                                                    dtype=torch.float64))


def test_surrogate_by_hand():
    # One state, two actions, T = 1, three episodes taking actions 0, 0, 1 with rewards 1, 3, 2.
    # π = (0.25, 0.75). Without a baseline: surrogate = mean(G · log π(a)), G = r - α log π(a).
    log_policy = torch.log(torch.tensor([[[0.25, 0.75]]], dtype=torch.float64))
    states = torch.zeros(3, 2, dtype=torch.long)
    actions = torch.tensor([[0], [0], [1]])
    rewards = torch.tensor([[1.0], [3.0], [2.0]], dtype=torch.float64)
    l0, l1 = math.log(0.25), math.log(0.75)
    g = [1.0 - 0.5 * l0, 3.0 - 0.5 * l0, 2.0 - 0.5 * l1]  # α = 0.5
    plain = reinforce_surrogate(log_policy, states, actions, rewards, entropy_bonus=0.5, baseline=False)
    assert plain.item() == pytest.approx((g[0] * l0 + g[1] * l0 + g[2] * l1) / 3, abs=1e-12)
    # Leave-one-out baseline over the other two episodes (same t and state): b_n = (ΣG - G_n)/2.
    b = [(sum(g) - x) / 2 for x in g]
    based = reinforce_surrogate(log_policy, states, actions, rewards, entropy_bonus=0.5)
    expected = ((g[0] - b[0]) * l0 + (g[1] - b[1]) * l0 + (g[2] - b[2]) * l1) / 3
    assert based.item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("entropy_bonus", [0.0, 1.0])
def test_estimator_is_unbiased_and_the_baseline_cuts_its_variance(entropy_bonus):
    # A fixed, non-uniform policy; 200 batches of 128 episodes. Each coordinate of the mean estimate
    # must lie within 5 standard errors of the exact gradient (72 coordinates; a 5σ miss has
    # probability 6e-7 each), with and without the baseline.
    world = slippery_grid()
    S, A = world.num_states, world.num_actions
    logits = torch.randn(3, S, A, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = logits.clone().requires_grad_(True)
    exact, = torch.autograd.grad(exact_objective(world, torch.log_softmax(z, -1), entropy_bonus), z)
    policy = torch.softmax(logits, -1)
    generator = torch.Generator().manual_seed(0)
    estimates = {True: [], False: []}
    for _ in range(200):
        batch = sample_trajectories(world, policy, 3, 128, generator)
        for baseline in (True, False):
            z = logits.clone().requires_grad_(True)
            surrogate = reinforce_surrogate(torch.log_softmax(z, -1), batch.states, batch.actions,
                                            batch.rewards, entropy_bonus=entropy_bonus, baseline=baseline)
            estimates[baseline].append(torch.autograd.grad(surrogate, z)[0])
    for baseline, draws in estimates.items():
        draws = torch.stack(draws)
        standard_error = draws.std(0) / math.sqrt(len(draws))
        assert ((draws.mean(0) - exact).abs() <= 5 * standard_error + 1e-12).all(), baseline
    variance = {baseline: torch.stack(draws).var(0).sum() for baseline, draws in estimates.items()}
    assert variance[True] < 0.75 * variance[False]  # measured ratios: 0.08 (α = 0), 0.56 (α = 1)


# ------------------------------------------------------------------------------ convergence
def test_entropy_regularized_reinforce_converges_to_the_soft_optimal_policy():
    # Mean KL = (1/T) Σ_t Σ_s d_t(s) KL(π_t(·|s) || π*_t(·|s)) with d_t the state distribution of the
    # *learned* policy: exactly (J(π*) - J(π)) / (α T), the objective gap per step (checked below),
    # and the states a learner never reaches carry no weight (nothing can be learned there).
    # Measured: 0.0002 on seeds 0-2 after 150 iterations x 256 episodes; the bound is the issue's.
    world, alpha = slippery_grid(), 1.0
    fit = reinforce(world, T, 150, num_episodes=256, entropy_bonus=alpha, seed=0)
    optimum = soft_value_iteration(world, horizon=T, temperature=alpha, backup="expected")
    d = visitation(world, fit.policy)
    kl = (fit.policy * (fit.log_policy - optimum.log_policy)).sum(-1)
    mean_kl = (d * kl).sum() / T
    assert mean_kl.item() <= 0.05
    uniform = torch.full_like(optimum.policy, 0.25)
    start = (visitation(world, uniform) * (uniform * (uniform.log() - optimum.log_policy)).sum(-1)).sum() / T
    assert start.item() > 0.15  # the uniform start is far from π* (0.158)
    gap = exact_objective(world, optimum.log_policy, alpha) - exact_objective(world, fit.log_policy, alpha)
    assert gap.item() == pytest.approx(alpha * T * mean_kl.item(), abs=1e-10)
    # J(π*) = Σ_s p(s_1) V_1(s) + α T log A (this library's V keeps the 1/A prior inside the soft max).
    j_star = world.initial @ optimum.v[0] + alpha * T * math.log(4)
    assert exact_objective(world, optimum.log_policy, alpha).item() == pytest.approx(j_star.item(), abs=1e-10)
    # The sampled objective of the last 20 iterations (5120 episodes; per-episode sd 1.4 under π*, so
    # SE 0.02) estimates J of nearly-optimal policies (gap α T mean KL ~ 0.001): within 0.15 of J(π*).
    assert fit.objectives[-20:].mean().item() == pytest.approx(j_star.item(), abs=0.15)


def test_reinforce_without_entropy_approaches_the_optimal_return():
    # Exact expected return of the learned policy against value_iteration's optimum: the uniform
    # start is about 2.7 below it; measured gap 0.008-0.009 (seeds 0, 1) after 200 iterations.
    world = slippery_grid()
    fit = reinforce(world, T, 200, num_episodes=256, lr=0.2, seed=0)
    optimum = (world.initial @ value_iteration(world, horizon=T).v[0]).item()
    uniform = torch.full((T, world.num_states, 4), 0.25, dtype=torch.float64)
    achieved = (world.initial @ policy_evaluation(world, fit.policy, horizon=T).v[0]).item()
    start = (world.initial @ policy_evaluation(world, uniform, horizon=T).v[0]).item()
    assert optimum - start > 2.0
    assert optimum - 0.03 <= achieved <= optimum + 1e-12
    # The sampled returns: the first batch (uniform policy) near `start`; the last 20 batches (5120
    # episodes, per-episode sd 1.06 under the optimal policy, SE 0.015) within 0.1 of the optimum.
    assert fit.mean_returns[0].item() < optimum - 2.0
    assert fit.mean_returns[-20:].mean().item() == pytest.approx(optimum, abs=0.1)
    np.testing.assert_allclose(fit.objectives, fit.mean_returns, rtol=1e-12)  # α = 0: J is the return


# ------------------------------------------------------------------------------ API
def test_shapes_and_reproducibility():
    world = slippery_grid()
    fit = reinforce(world, 3, 4, num_episodes=16, entropy_bonus=0.5, seed=7)
    again = reinforce(world, 3, 4, num_episodes=16, entropy_bonus=0.5, seed=7)
    assert isinstance(fit, PolicyGradientResult) and fit.entropy_bonus == 0.5
    assert fit.log_policy.shape == (3, world.num_states, 4) and fit.log_policy.dtype == torch.float64
    assert fit.mean_returns.shape == (4,) and fit.objectives.shape == (4,)
    torch.testing.assert_close(fit.policy.sum(-1), torch.ones(3, world.num_states, dtype=torch.float64))
    assert torch.equal(fit.log_policy, again.log_policy) and np.array_equal(fit.objectives, again.objectives)
    assert not torch.equal(fit.log_policy, reinforce(world, 3, 4, num_episodes=16, entropy_bonus=0.5,
                                                     seed=8).log_policy)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (dict(mdp="grid"), TypeError, "mdp must be a pgm_control.TabularMDP"),
        (dict(horizon=0), ValueError, "horizon must be a positive integer"),
        (dict(num_iterations=0), ValueError, "num_iterations must be a positive integer"),
        (dict(num_episodes=1.5), TypeError, "num_episodes must be a positive integer"),
        (dict(lr=0.0), ValueError, "lr must be a positive, finite step size"),
        (dict(final_lr=-1.0), ValueError, "final_lr must be a positive, finite step size"),
        (dict(entropy_bonus=-1.0), ValueError, "entropy_bonus must be a finite number >= 0"),
        (dict(baseline=1), TypeError, "baseline must be True or False"),
    ],
)
def test_validation(arguments, error, message):
    call = dict(mdp=slippery_grid(), horizon=2, num_iterations=1) | arguments
    with pytest.raises(error, match=message):
        reinforce(call.pop("mdp"), call.pop("horizon"), call.pop("num_iterations"), **call)


# ------------------------------------------------------------------------------ mutation guards
# Each test below pins a behaviour that a plausible one-line bug would break without failing any other
# test (found by planting the bug). The truth is enumerated here, never sampled.
def discounted_objective(mdp, log_policy: torch.Tensor, entropy_bonus: float) -> torch.Tensor:
    """J = Σ_t γ^t Σ_s d_t(s) Σ_a π_t(a|s) [r(s, a) - α log π_t(a|s)] by the plain loop, for any γ."""
    transitions, rewards, gamma = mdp.to_dense().transitions, mdp.rewards, mdp.discount
    d, total = mdp.initial, torch.zeros((), dtype=torch.float64)
    for t in range(log_policy.shape[0]):
        pi = log_policy[t].exp()
        total = total + gamma ** t * (d[:, None] * pi * (rewards - entropy_bonus * log_policy[t])).sum()
        d = torch.einsum("s,sa,sak->k", d, pi, transitions)
    return total


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_discounted_surrogate_gradient_is_exact_in_expectation(gamma):
    """Σ_τ p(τ) ∇ surrogate(τ) over every trajectory of a 2-state, 2-action MDP (T = 3) equals ∇J of the
    discounted objective exactly: the γ^t weights and γ in the reward-to-go both matter when γ < 1."""
    import itertools

    from pgm_control.envs import random_mdp
    mdp = random_mdp(2, 2, seed=3, discount=gamma)
    horizon, alpha = 3, 0.5
    P, rewards = mdp.to_dense().transitions, mdp.rewards
    logits = torch.randn(horizon, 2, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    z = logits.clone().requires_grad_(True)
    exact, = torch.autograd.grad(discounted_objective(mdp, torch.log_softmax(z, -1), alpha), z)
    policy = torch.softmax(logits, -1)
    expected = torch.zeros_like(logits)
    for path in itertools.product(range(2), repeat=2 * horizon):
        s, a = list(path[0::2]), list(path[1::2])
        prob = mdp.initial[s[0]] * torch.prod(torch.stack([policy[t, s[t], a[t]] for t in range(horizon)]))
        prob = prob * torch.prod(torch.stack([P[s[t], a[t], s[t + 1]] for t in range(horizon - 1)]))
        states = torch.tensor([[*s, 0]])
        actions = torch.tensor([a])
        z = logits.clone().requires_grad_(True)
        surrogate = reinforce_surrogate(torch.log_softmax(z, -1), states, actions, rewards[states[:, :-1], actions],
                                        entropy_bonus=alpha, discount=gamma, baseline=False)
        expected += prob * torch.autograd.grad(surrogate, z)[0]
    torch.testing.assert_close(expected, exact, atol=1e-12, rtol=0)


def test_reported_returns_and_objectives_are_discounted():
    """One state, reward 1 for both actions, γ = 0.5, T = 3: every episode returns 1 + 0.5 + 0.25 = 1.75;
    the first (uniform) policy's objective adds α log 2 per step with the same weights."""
    from pgm_control import TabularMDP
    mdp = TabularMDP(torch.ones(1, 2, 1, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64), discount=0.5)
    fit = reinforce(mdp, 3, 2, num_episodes=4, entropy_bonus=0.3)
    np.testing.assert_allclose(fit.mean_returns, [1.75, 1.75], atol=1e-12, rtol=0)
    assert fit.objectives[0].item() == pytest.approx(1.75 * (1 + 0.3 * math.log(2)), abs=1e-12)
    # The logs are NumPy arrays, so NumPy's reductions work on them (they reject torch tensors).
    assert np.mean(fit.mean_returns[-2:]) == pytest.approx(1.75, abs=1e-12)
    assert np.max(fit.objectives) == pytest.approx(fit.objectives[0], abs=1e-12)
