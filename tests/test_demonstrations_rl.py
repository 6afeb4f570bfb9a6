"""RL with demonstrations (CS285 notes, "Imitation vs. RL"): the importance-sampled and hybrid policy
gradients against the exact gradient of J(θ), differentiated by autograd through a backward induction
written here (not the library's)."""

import itertools

import pytest
import torch

from pgm_control import Demonstrations, TabularMDP
from pgm_control.rl.demonstrations_rl import (
    empirical_log_prefix_probs,
    fused_log_prefix_probs,
    hybrid_surrogate,
    importance_sampled_surrogate,
    log_prefix_probs,
    reinforce_with_demonstrations,
)
from pgm_control.sampling import sample_trajectories

from brute_force import tiny_mdp

T, GAMMA = 3, 0.9


def exact_return(P, r, p0, log_policy, gamma):
    """J(θ) = p0 · V_1 with V_t(s) = Σ_a π_t(a|s) [r(s, a) + γ Σ_s' P(s'|s,a) V_{t+1}(s')], V_{T+1} = 0."""
    v = torch.zeros(P.shape[0], dtype=torch.float64)
    for t in reversed(range(log_policy.shape[0])):
        v = (log_policy[t].exp() * (r + gamma * P @ v)).sum(-1)
    return p0 @ v


def exact_gradient(mdp_arrays, theta, gamma=GAMMA):
    P, r, p0 = (torch.as_tensor(x) for x in mdp_arrays)
    theta = theta.detach().clone().requires_grad_(True)
    exact_return(P, r, p0, torch.log_softmax(theta, -1), gamma).backward()
    return theta.grad


def chunk_gradients(estimate, num_chunks):
    """The gradient of each chunk's surrogate [K, T, S, A]: K independent estimates."""
    return torch.stack([estimate(k) for k in range(num_chunks)])


def assert_within_monte_carlo_error(estimates, exact):
    # K = 60 independent chunk estimates: the mean's standard error is their std / sqrt(K). With 18
    # coordinates, 5 SE bounds each one's two-sided tail at ~6e-7, so a correct estimator fails with
    # probability < 1e-5 (and the seed is fixed); the 1e-9 floor covers coordinates with zero variance.
    mean, se = estimates.mean(0), estimates.std(0) / estimates.shape[0] ** 0.5
    assert ((mean - exact).abs() <= 5 * se + 1e-9).all(), ((mean - exact) / se).abs().max()
    return mean, se


def stochastic_setup():
    P, r, p0, _ = tiny_mdp(3, S=3, A=2)
    mdp = TabularMDP(torch.as_tensor(P), torch.as_tensor(r), torch.as_tensor(p0), discount=GAMMA)
    g = torch.Generator().manual_seed(1)
    theta, old, demo = (torch.randn(T, 3, 2, generator=g, dtype=torch.float64) for _ in range(3))
    return (P, r, p0), mdp, theta, torch.log_softmax(old, -1), torch.log_softmax(demo, -1)


def gradient_of(surrogate_fn, theta):
    theta = theta.clone().requires_grad_(True)
    surrogate_fn(torch.log_softmax(theta, -1)).backward()
    return theta.grad


def test_importance_sampled_gradient_with_fused_sampling_is_the_exact_gradient():
    arrays, mdp, theta, log_old, log_demo = stochastic_setup()
    generator = torch.Generator().manual_seed(0)
    n_pi, n_demo = 400, 200

    def estimate(_):
        own = sample_trajectories(mdp, log_old.exp(), T, n_pi, generator)
        demos = sample_trajectories(mdp, log_demo.exp(), T, n_demo, generator)
        states, actions = torch.cat([own.states, demos.states]), torch.cat([own.actions, demos.actions])
        rewards = torch.cat([own.rewards, demos.rewards])
        log_q = fused_log_prefix_probs([log_prefix_probs(log_old, states, actions),
                                        log_prefix_probs(log_demo, states, actions)], [n_pi, n_demo])
        return gradient_of(lambda lp: importance_sampled_surrogate(lp, states, actions, rewards, log_q,
                                                                   discount=GAMMA), theta)

    exact = exact_gradient(arrays, theta)
    estimates = chunk_gradients(estimate, 60)
    _mean, se = assert_within_monte_carlo_error(estimates, exact)
    # the check has power: the exact gradient is far from 0 on the scale of the error
    assert exact.abs().max() > 10 * se.max()  # measured: 0.087 against SE 0.004


def test_ignoring_the_sampling_distribution_is_detected():
    # the same samples weighted as if drawn from π_θ (q = π_θ): biased, and the check above sees it
    arrays, mdp, theta, log_old, _log_demo = stochastic_setup()
    generator = torch.Generator().manual_seed(0)

    def estimate(_):
        own = sample_trajectories(mdp, log_old.exp(), T, 600, generator)
        log_q = log_prefix_probs(torch.log_softmax(theta, -1), own.states, own.actions)
        return gradient_of(lambda lp: importance_sampled_surrogate(lp, own.states, own.actions, own.rewards, log_q,
                                                                   discount=GAMMA), theta)

    estimates = chunk_gradients(estimate, 60)
    with pytest.raises(AssertionError):
        assert_within_monte_carlo_error(estimates, exact_gradient(arrays, theta))


def test_dirac_form_over_every_trajectory_is_exact():
    # deterministic dynamics from one start state: π_θ(τ_{1:t}) has no dynamics factor, and with every
    # action sequence demonstrated once the Dirac-form estimate is the exact sum over trajectories.
    P, r, _, _ = tiny_mdp(5, S=3, A=2, deterministic=True)
    p0 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    mdp = TabularMDP(torch.as_tensor(P), torch.as_tensor(r), p0, discount=GAMMA)
    actions = torch.tensor(list(itertools.product(range(2), repeat=T)))
    states = torch.zeros(len(actions), T + 1, dtype=torch.long)
    for t in range(T):
        states[:, t + 1] = mdp.transitions[states[:, t], actions[:, t]].argmax(-1)
    rewards = mdp.rewards[states[:, :-1], actions]
    theta = torch.randn(T, 3, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    log_q = empirical_log_prefix_probs(states, actions, states, actions)
    estimate = gradient_of(lambda lp: importance_sampled_surrogate(lp, states, actions, rewards, log_q,
                                                                   discount=GAMMA), theta)
    torch.testing.assert_close(estimate, exact_gradient((P, r, p0), theta), atol=1e-10, rtol=0)


def test_hybrid_gradient_is_policy_gradient_plus_lambda_times_cloning_gradient():
    arrays, mdp, theta, _, log_demo = stochastic_setup()
    demos = Demonstrations.from_trajectories(
        sample_trajectories(mdp, log_demo.exp(), T, 7, torch.Generator().manual_seed(5)))
    bc_weight = 0.3
    # ∇_θ[t,s,a] Σ_demo log π_t(a_t|s_t) = n_t(s, a) - n_t(s) π_t(a|s) in closed form
    counts = torch.zeros(T, 3, 2, dtype=torch.float64)
    counts.index_put_((torch.arange(T).expand(7, T), demos.states[:, :-1], demos.actions),
                      torch.ones(7, T, dtype=torch.float64), accumulate=True)
    cloning_gradient = counts - counts.sum(-1, keepdim=True) * torch.softmax(theta, -1)
    generator = torch.Generator().manual_seed(0)
    policy = torch.softmax(theta, -1)

    def estimate(_):
        batch = sample_trajectories(mdp, policy, T, 400, generator)
        return gradient_of(lambda lp: hybrid_surrogate(lp, batch.states, batch.actions, batch.rewards, demos,
                                                       bc_weight, discount=GAMMA), theta)

    estimates = chunk_gradients(estimate, 60)
    assert_within_monte_carlo_error(estimates, exact_gradient(arrays, theta) + bc_weight * cloning_gradient)


def test_shapes_and_documented_prefix_probabilities():
    log_pi = torch.log_softmax(torch.randn(T, 3, 2, dtype=torch.float64), -1)
    states, actions = torch.zeros(4, T + 1, dtype=torch.long), torch.ones(4, T, dtype=torch.long)
    prefix = log_prefix_probs(log_pi, states, actions)
    assert prefix.shape == (4, T)
    torch.testing.assert_close(prefix[0], log_pi[:, 0, 1].cumsum(0))
    never = empirical_log_prefix_probs(states, actions, states[:1], 1 - actions[:1])
    assert torch.isneginf(never).all()


@pytest.mark.parametrize("method", ["on_policy", "hybrid", "importance"])
def test_fine_tuning_improves_on_a_uniform_start(method):
    from pgm_control.envs import GridWorld
    world = GridWorld(["S.G"], step_reward=-1.0, goal_reward=0.0)
    demos = Demonstrations.from_sequences(states=[[0, 1, 2, 2]], actions=[[2, 2, 2]])
    fit = reinforce_with_demonstrations(world, demos, 3, 30, method=method, sampling="dirac", lr=0.3,
                                        num_episodes=32, progress=False)
    exact = exact_return(world.transitions, world.rewards, world.initial, fit.log_policy, 1.0)
    uniform = exact_return(world.transitions, world.rewards, world.initial,
                           torch.full((T, 3, 4), 0.25, dtype=torch.float64).log(), 1.0)
    assert exact > uniform + 0.5  # uniform: about -2.2; moving E twice: -2


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "greedy"}, "method must be one of"),
    ({"sampling": "uniform"}, "sampling must be one of"),
    ({"bc_weight": -1.0}, "bc_weight must be a finite number >= 0"),
    ({"initial_log_policy": torch.zeros(2, 2)}, "initial_log_policy must have shape"),
    ({"initial_log_policy": torch.full((3, 4), -torch.inf)}, "initial_log_policy must be finite"),
])
def test_bad_arguments_are_named(kwargs, message):
    from pgm_control.envs import GridWorld
    world = GridWorld(["S.G"], step_reward=-1.0, goal_reward=0.0)
    demos = Demonstrations.from_sequences(states=[[0, 1, 2, 2]], actions=[[2, 2, 2]])
    with pytest.raises(ValueError, match=message):
        reinforce_with_demonstrations(world, demos, 3, 1, progress=False, **kwargs)


def test_importance_needs_full_length_demonstrations():
    from pgm_control.envs import GridWorld
    world = GridWorld(["S.G"], step_reward=-1.0, goal_reward=0.0)
    demos = Demonstrations(torch.tensor([[0, 1, 2, 0]]), torch.tensor([[2, 2, 0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="full-length demonstrations"):
        reinforce_with_demonstrations(world, demos, 3, 1, method="importance", progress=False)
