"""Classic DP against textbook tables (Sutton & Barto Figures 3.2, 3.5, 4.1) and hand-computed cases."""

import numpy as np
import pytest
import torch

from pgm_control import TabularMDP
from pgm_control.envs import random_mdp, sutton_barto_gridworld, sutton_barto_small_gridworld
from pgm_control.inference import greedy_policy, policy_evaluation, policy_iteration, value_iteration

FIGURE_3_2 = [
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
]
FIGURE_3_5 = [
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
]
# Figure 3.5's optimal policy: the arrows of each cell (N, S, E, W), ties included.
FIGURE_3_5_ARROWS = [
    ["E", "NSEW", "W", "NSEW", "W"],
    ["NE", "N", "NW", "W", "W"],
    ["NE", "N", "NW", "NW", "NW"],
    ["NE", "N", "NW", "NW", "NW"],
    ["NE", "N", "NW", "NW", "NW"],
]
FIGURE_4_1 = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]


def uniform(mdp):
    return torch.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions, dtype=torch.float64)


def test_figure_3_2_random_policy_values():
    mdp = sutton_barto_gridworld()
    v = policy_evaluation(mdp, uniform(mdp)).v
    np.testing.assert_array_equal(v.reshape(5, 5).numpy().round(1), FIGURE_3_2)


@pytest.mark.parametrize("solver", [value_iteration, policy_iteration])
def test_figure_3_5_optimal_values_and_policy(solver):
    mdp = sutton_barto_gridworld()
    result = solver(mdp)
    np.testing.assert_array_equal(result.v.reshape(5, 5).numpy().round(1), FIGURE_3_5)
    arrows = [["".join("NSEW"[a] for a in range(4) if result.policy[5 * r + c, a] > 0) for c in range(5)]
              for r in range(5)]
    assert arrows == FIGURE_3_5_ARROWS


def test_figure_4_1_random_policy_with_terminal_corners_and_no_discount():
    mdp = sutton_barto_small_gridworld()
    v = policy_evaluation(mdp, uniform(mdp)).v
    np.testing.assert_allclose(v.reshape(4, 4).numpy(), FIGURE_4_1, atol=1e-9)


FIGURE_4_1_SWEEPS = {  # the book's v_k for k = 1, 2, 3, printed to one decimal (it truncates -1.75 to -1.7)
    1: [[0.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, 0.0]],
    2: [[0.0, -1.7, -2.0, -2.0], [-1.7, -2.0, -2.0, -2.0], [-2.0, -2.0, -2.0, -1.7], [-2.0, -2.0, -1.7, 0.0]],
    3: [[0.0, -2.4, -2.9, -3.0], [-2.4, -2.9, -3.0, -2.9], [-2.9, -3.0, -2.9, -2.4], [-3.0, -2.9, -2.4, 0.0]],
}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_figure_4_1_sweeps_match_the_book(k):
    """The k = 1, 2, 3 panels of Figure 4.1 are finite-horizon evaluations with horizon k (to 0.05)."""
    mdp = sutton_barto_small_gridworld()
    v = policy_evaluation(mdp, uniform(mdp), horizon=k).v[0].reshape(4, 4).numpy()
    np.testing.assert_allclose(v, FIGURE_4_1_SWEEPS[k], atol=0.05 + 1e-12, rtol=0)
    if k == 2:  # by hand: next to a corner, 1/4 of moves end in the corner: -1 - 3/4 · 1 = -1.75
        assert v[0, 1] == pytest.approx(-1.75, abs=1e-12)


def test_two_state_hand_computed_values():
    """s0 --a0--> s0 (r=1), s0 --a1--> s1 (r=0); s1 absorbing with r=2 per step.

    γ = 0.5: V*(s1) = 2/(1-0.5) = 4; V*(s0) = max(1 + 0.5 V*(s0), 0 + 0.5·4) -> V*(s0) = 2 (both tie).
    """
    P = torch.zeros(2, 2, 2, dtype=torch.float64)
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    r = torch.tensor([[1.0, 0.0], [2.0, 2.0]], dtype=torch.float64)
    mdp = TabularMDP(P, r, discount=0.5)
    result = value_iteration(mdp)
    torch.testing.assert_close(result.v, torch.tensor([2.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(result.policy[0], torch.tensor([0.5, 0.5], dtype=torch.float64))
    # γ = 0: values are the immediate rewards.
    zero = value_iteration(mdp.replace(discount=0.0))
    torch.testing.assert_close(zero.q, r)
    # A fixed policy: always a0 from s0 -> V = 1 / (1 - 0.5) = 2; with a1 -> 0.5 · 4 = 2.
    both = torch.tensor([2.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(policy_evaluation(mdp, torch.tensor([0, 0])).v, both)
    torch.testing.assert_close(policy_evaluation(mdp, torch.tensor([1, 1])).v, both)


def test_stochastic_two_state_evaluation_by_hand():
    """One state, one action with p=0.5 of staying and reward 1, else a terminal state: V = 1/(1-0.5γ)."""
    P = torch.tensor([[[0.5, 0.5]], [[0.0, 1.0]]], dtype=torch.float64)
    mdp = TabularMDP(P, torch.tensor([[1.0], [0.0]]), discount=1.0, terminal=[1])
    assert policy_evaluation(mdp, torch.tensor([0, 0])).v[0].item() == pytest.approx(2.0, abs=1e-12)
    assert value_iteration(mdp).v[0].item() == pytest.approx(2.0, abs=1e-9)


@pytest.mark.parametrize("successors", [False, True])
def test_iterative_and_direct_evaluation_agree(successors, monkeypatch):
    mdp = random_mdp(30, 3, branching=4 if successors else None, seed=2, discount=0.9)
    pi = torch.softmax(torch.randn(30, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64), -1)
    direct = policy_evaluation(mdp, pi)
    import pgm_control.inference.dynamic_programming as dp
    monkeypatch.setattr(dp, "DIRECT_SOLVE_MAX_STATES", 0)
    iterative = policy_evaluation(mdp, pi, tol=1e-12)
    torch.testing.assert_close(iterative.v, direct.v, atol=1e-10, rtol=0)
    torch.testing.assert_close(iterative.q, direct.q, atol=1e-10, rtol=0)


def test_value_and_policy_iteration_agree_on_random_mdps():
    for seed in range(3):
        mdp = random_mdp(20, 4, branching=3, seed=seed, discount=0.95)
        vi, pi = value_iteration(mdp), policy_iteration(mdp)
        torch.testing.assert_close(vi.v, pi.v, atol=1e-8, rtol=0)
        # the optimal policy's own value is the optimal value
        torch.testing.assert_close(policy_evaluation(mdp, pi.policy).v, vi.v, atol=1e-8, rtol=0)


def test_finite_horizon_value_iteration_matches_enumeration_over_deterministic_plans():
    """With deterministic dynamics, V*_1(s) = max over all action sequences of the return."""
    import itertools
    P = torch.zeros(3, 2, 3, dtype=torch.float64)
    nxt = [[1, 2], [0, 2], [2, 0]]
    for s in range(3):
        for a in range(2):
            P[s, a, nxt[s][a]] = 1.0
    r = torch.tensor([[0.5, -1.0], [2.0, 0.0], [-0.5, 1.5]], dtype=torch.float64)
    mdp = TabularMDP(P, r)
    T = 4
    v = value_iteration(mdp, horizon=T).v
    assert v.shape == (T, 3)
    for s0 in range(3):
        best = -np.inf
        for plan in itertools.product(range(2), repeat=T):
            s, total = s0, 0.0
            for a in plan:
                total += r[s, a].item()
                s = nxt[s][a]
            best = max(best, total)
        assert v[0, s0].item() == pytest.approx(best, abs=1e-12)


def test_greedy_policy_spreads_over_ties_and_respects_prior_support():
    q = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(greedy_policy(q), torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64))
    log_prior = torch.log(torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5]], dtype=torch.float64))
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(greedy_policy(q, log_prior), expected)


def test_improper_policy_with_discount_one_is_rejected():
    mdp = sutton_barto_small_gridworld()
    always_west = torch.full((16,), 3)
    with pytest.raises(ValueError, match="terminal state"):
        policy_evaluation(mdp, always_west)


def test_result_shapes_are_documented_shapes():
    mdp = random_mdp(7, 3, branching=2, seed=0, discount=0.9)
    stationary = value_iteration(mdp)
    assert stationary.q.shape == (7, 3) and stationary.v.shape == (7,) and stationary.policy.shape == (7, 3)
    timed = value_iteration(mdp, horizon=5)
    assert timed.q.shape == (5, 7, 3) and timed.v.shape == (5, 7) and timed.policy.shape == (5, 7, 3)
    evaluated = policy_evaluation(mdp, timed.policy, horizon=5)
    torch.testing.assert_close(evaluated.v, timed.v)


# ------------------------------------------------------------------------------ mutation guards
# Each test below pins a behaviour that a plausible one-line bug would break without failing any other
# test (found by planting the bug). The truth is computed here in plain NumPy, never by the library.
def numpy_tables(mdp):
    """P [S, A, S'], r [S, A], γ as NumPy arrays (dense, whatever the storage)."""
    return mdp.to_dense().transitions.numpy(), mdp.rewards.numpy(), mdp.discount


def numpy_policy_values(mdp, policy):
    """V_π = (I - γ P_π)^{-1} r_π by a NumPy linear solve (γ < 1, no terminal states)."""
    P, r, gamma = numpy_tables(mdp)
    p_pi = np.einsum("sa,sap->sp", policy, P)
    return np.linalg.solve(np.eye(len(r)) - gamma * p_pi, (policy * r).sum(-1))


def numpy_optimal_values(mdp, sweeps=5000):
    """V* by NumPy value iteration run far past convergence (γ^5000 underflows for γ <= 0.99)."""
    P, r, gamma = numpy_tables(mdp)
    v = np.zeros(len(r))
    for _ in range(sweeps):
        v = (r + gamma * P @ v).max(-1)
    return v


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_infinite_horizon_value_is_within_tol_of_the_true_fixed_point(gamma):
    """‖V - V*‖ <= tol: with the stopping rule's γ/(1-γ) factor dropped the error would reach
    γ/(1-γ)·tol (99·tol at γ = 0.99), and the q returned is the backup of the v returned."""
    mdp = random_mdp(12, 3, branching=3, seed=4, discount=gamma)
    tol = 1e-6
    result = value_iteration(mdp, tol=tol)
    truth = numpy_optimal_values(mdp, 5000)  # 0.99^5000 ≈ 1e-22 of the initial error
    assert np.abs(result.v.numpy() - truth).max() <= tol
    torch.testing.assert_close(result.v, result.q.max(-1).values, atol=0, rtol=0)
    backup = mdp.rewards + gamma * mdp.expected_next(result.v)
    assert (result.q - backup).abs().max() <= (1 - gamma) * tol


def test_iterative_policy_evaluation_is_within_tol_of_the_linear_solve(monkeypatch):
    mdp = random_mdp(15, 3, branching=3, seed=5, discount=0.99)
    pi = torch.softmax(torch.randn(15, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64), -1)
    P = mdp.to_dense().transitions.numpy()
    p_pi, r_pi = np.einsum("sa,sap->sp", pi.numpy(), P), (pi * mdp.rewards).sum(-1).numpy()
    truth = np.linalg.solve(np.eye(15) - 0.99 * p_pi, r_pi)
    import pgm_control.inference.dynamic_programming as dp
    monkeypatch.setattr(dp, "DIRECT_SOLVE_MAX_STATES", 0)
    assert np.abs(policy_evaluation(mdp, pi, tol=1e-6).v.numpy() - truth).max() <= 1e-6


def test_tol_below_float64_resolution_is_reported_as_such():
    mdp = random_mdp(10, 3, seed=2, discount=0.99)  # values ~ 100: float64 resolves ~1e-14 per sweep
    with pytest.raises(ValueError, match=r"tol=1e-20 is below what float64 resolves.*Pass tol >="):
        value_iteration(mdp, tol=1e-20)


def test_too_few_sweeps_says_it_is_still_converging():
    mdp = random_mdp(10, 3, seed=2, discount=0.99)
    with pytest.raises(RuntimeError, match=r"max_iter=5 .*still above tol=1e-10 and shrinking.*Raise max_iter"):
        value_iteration(mdp, max_iter=5)


def test_discount_one_with_a_rewarding_cycle_says_there_may_be_no_fixed_point():
    """State 0: action 0 ends the episode, action 1 loops on state 0 with reward 1: V* = ∞."""
    P = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]], dtype=torch.float64)
    mdp = TabularMDP(P, torch.tensor([[0.0, 1.0], [0.0, 0.0]]), discount=1.0, terminal=[1])
    with pytest.raises(RuntimeError, match=r"still changes by 1 per sweep.*no fixed point.*terminal state"):
        value_iteration(mdp, max_iter=200)


def test_time_indexed_policy_evaluation_uses_each_steps_policy():
    """V_t = Σ_a π_t(a|s)[r + γ P V_{t+1}] with a different random π_t at every t, by a NumPy loop."""
    mdp = random_mdp(4, 3, seed=5, discount=0.8)
    T = 4
    policy = torch.softmax(torch.randn(T, 4, 3, generator=torch.Generator().manual_seed(3),
                                       dtype=torch.float64), -1)
    P, r, gamma = numpy_tables(mdp)
    v_next, v, q = np.zeros(4), np.zeros((T, 4)), np.zeros((T, 4, 3))
    for t in reversed(range(T)):
        q[t] = r + gamma * P @ v_next
        v[t] = v_next = (policy[t].numpy() * q[t]).sum(-1)
    result = policy_evaluation(mdp, policy, horizon=T)
    np.testing.assert_allclose(result.v.numpy(), v, atol=1e-12, rtol=0)
    np.testing.assert_allclose(result.q.numpy(), q, atol=1e-12, rtol=0)


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_value_iteration_returns_values_within_tol_of_the_fixed_point(gamma):
    """The documented stopping rule bounds the error of V by tol: |V - V*|_∞ <= tol, against V* of a
    NumPy value iteration. Without the γ/(1-γ) factor the error is ~γ/(1-γ) times larger (checked
    on a planted bug: 9x and 99x tol here)."""
    mdp = random_mdp(12, 3, branching=3, seed=4, discount=gamma)
    truth = numpy_optimal_values(mdp)
    P, r, _ = numpy_tables(mdp)
    for tol in (1e-2, 1e-4):
        result = value_iteration(mdp, tol=tol)
        assert np.abs(result.v.numpy() - truth).max() <= tol
        assert np.abs(result.q.numpy() - (r + gamma * P @ truth)).max() <= tol


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_iterative_policy_evaluation_returns_values_within_tol(gamma, monkeypatch):
    """Above DIRECT_SOLVE_MAX_STATES policy evaluation iterates: its V must still be within tol of
    the exact V_π (a NumPy linear solve)."""
    import pgm_control.inference.dynamic_programming as dp
    monkeypatch.setattr(dp, "DIRECT_SOLVE_MAX_STATES", 0)
    mdp = random_mdp(12, 3, branching=3, seed=6, discount=gamma)
    policy = torch.softmax(torch.randn(12, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64), -1)
    truth = numpy_policy_values(mdp, policy.numpy())
    P, r, _ = numpy_tables(mdp)
    for tol in (1e-2, 1e-4):
        result = policy_evaluation(mdp, policy, tol=tol)
        assert result.iterations > 1  # the iterative path ran
        assert np.abs(result.v.numpy() - truth).max() <= tol
        assert np.abs(result.q.numpy() - (r + gamma * P @ truth)).max() <= tol


def test_undiscounted_fixed_point_with_slow_absorption_is_within_tol():
    """γ = 1, one live state that stays with probability 0.999 (reward 1), else terminates: V = 1000.
    The docstrings promise an error bound on V; the change per sweep (0.999^k) is 1000x smaller than the
    error, so the rule must bound the error by the observed rate, not by the change itself. (tol=1e-4:
    near tol=1e-6 the changes are ~1e-9, within 1e4 ulps of V, and the rate estimate is off by ~1%.)"""
    P = torch.tensor([[[0.999, 0.001]], [[0.0, 1.0]]], dtype=torch.float64)
    mdp = TabularMDP(P, torch.tensor([[1.0], [0.0]]), discount=1.0, terminal=[1])
    assert abs(value_iteration(mdp, tol=1e-4).v[0].item() - 1000.0) <= 1e-4
