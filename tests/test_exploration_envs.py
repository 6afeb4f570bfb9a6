"""Exploration testbeds: RiverSwim's table (rebuilt here from Strehl & Littman's description) and its
optimal finite-horizon values (a NumPy backward recursion written here), Deep Sea's optimal return and a
random policy's treasure probability (closed forms), the chain's optimal values (by hand)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgm_control.envs import chain_mdp, deep_sea, riverswim
from pgm_control.inference import policy_evaluation, value_iteration


def riverswim_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """p(s'|s, a) and r(s, a) of RiverSwim, written out state by state from the paper's figure."""
    P, R = np.zeros((n, 2, n)), np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        if s == 0:
            P[s, 1, 1], P[s, 1, 0] = 0.6, 0.4
        elif s == n - 1:
            P[s, 1, s], P[s, 1, s - 1] = 0.6, 0.4
        else:
            P[s, 1, s + 1], P[s, 1, s], P[s, 1, s - 1] = 0.35, 0.6, 0.05
    R[0, 0], R[n - 1, 1] = 0.005, 1.0
    return P, R


def backward_recursion(P: np.ndarray, R: np.ndarray, horizon: int) -> np.ndarray:
    """V_t(s) = max_a r(s, a) + Σ_s' p(s'|s, a) V_{t+1}(s'), V_T = 0; returns V [T, S]."""
    v = np.zeros(P.shape[0])
    values = []
    for _ in range(horizon):
        v = (R + P @ v).max(axis=1)
        values.append(v)
    return np.array(values[::-1])


@pytest.mark.parametrize("n", [2, 6, 12])
def test_riverswim_table_and_optimal_values(n):
    mdp = riverswim(n)
    P, R = riverswim_table(n)
    np.testing.assert_allclose(mdp.transitions.numpy(), P, atol=0)
    np.testing.assert_allclose(mdp.rewards.numpy(), R, atol=0)
    np.testing.assert_allclose(mdp.transitions.sum(-1).numpy(), 1.0, atol=1e-15)
    assert mdp.initial.tolist() == [1.0] + [0.0] * (n - 1)
    horizon = 20
    expected = backward_recursion(P, R, horizon)
    np.testing.assert_allclose(value_iteration(mdp, horizon=horizon).v.numpy(), expected, atol=1e-12)


def test_riverswim_short_horizon_prefers_the_small_reward():
    # With 2 steps from the left end the right end is out of reach: staying left pays 2 · 0.005.
    result = value_iteration(riverswim(6), horizon=2)
    assert result.v[0, 0].item() == pytest.approx(0.01, abs=1e-15)
    assert result.policy[0, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_deep_sea_optimal_and_random_returns(size):
    mdp = deep_sea(size)
    assert mdp.num_states == size * size + 1
    np.testing.assert_allclose(mdp.transitions.sum(-1).numpy(), 1.0, atol=1e-15)
    # Optimal: go right all N steps, N costs of 0.01/N and the treasure: 1 - 0.01.
    optimal = value_iteration(mdp, horizon=size)
    assert optimal.v[0, 0].item() == pytest.approx(1 - 0.01, abs=1e-12)
    diagonal = torch.arange(size) * (size + 1)  # cell (t, t) at step t
    assert (optimal.policy[torch.arange(size), diagonal, 1] == 1).all()
    # Uniformly random: E[#right] = N/2, treasure with probability 2^-N.
    uniform = torch.full((mdp.num_states, 2), 0.5, dtype=torch.float64)
    random_return = policy_evaluation(mdp, uniform).v[0].item()
    assert random_return == pytest.approx(2.0**-size - 0.01 / 2, abs=1e-12)


@pytest.mark.parametrize("size", [2, 6])
def test_deep_sea_random_policy_reaches_the_treasure_cell_with_probability_two_to_minus_n_minus_1(size):
    mdp = deep_sea(size)
    corner = size * size - 1
    # A reward of 1 for being in the corner cell (any action), nothing else: the value is the probability.
    indicator = torch.zeros(mdp.num_states, 2, dtype=torch.float64)
    indicator[corner] = 1.0
    uniform = torch.full((mdp.num_states, 2), 0.5, dtype=torch.float64)
    reach = policy_evaluation(mdp.replace(rewards=indicator), uniform).v[0].item()
    assert reach == pytest.approx(2.0 ** -(size - 1), abs=1e-15)


def test_deep_sea_moves_down_and_clips_at_the_left_edge():
    mdp = deep_sea(3)
    # Cell (0, 0) = state 0: left stays in column 0 of row 1 (state 3), right goes to (1, 1) = state 4.
    assert mdp.transitions[0, 0].argmax().item() == 3
    assert mdp.transitions[0, 1].argmax().item() == 4
    # The last row leads to the end state 9 whatever the action.
    assert (mdp.transitions[6:9, :, 9] == 1).all()
    assert mdp.rewards[8, 1].item() == pytest.approx(1 - 0.01 / 3, abs=1e-15)


def test_chain_optimal_values_by_hand():
    n, horizon = 6, 15
    mdp = chain_mdp(n)
    assert mdp.initial.argmax().item() == 1
    # From state 1: 4 unrewarded steps reach state 5, whose 11 remaining steps pay 1 each.
    assert value_iteration(mdp, horizon=horizon).v[0, 1].item() == pytest.approx(11.0, abs=1e-12)
    # With a horizon of 4 the large reward is out of reach: step left, then 3 steps at 0.001.
    assert value_iteration(mdp, horizon=4).v[0, 1].item() == pytest.approx(0.003, abs=1e-15)


@pytest.mark.parametrize("call, message", [
    (lambda: riverswim(1), "num_states must be an integer >= 2"),
    (lambda: deep_sea(0), "size must be a positive integer"),
    (lambda: deep_sea(3, move_cost=-1.0), "move_cost must be a finite number >= 0"),
    (lambda: chain_mdp(2), "n must be an integer >= 3"),
])
def test_bad_sizes_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_integer_size_is_a_type_error():
    with pytest.raises(TypeError, match="size must be a positive integer"):
        deep_sea(2.5)
