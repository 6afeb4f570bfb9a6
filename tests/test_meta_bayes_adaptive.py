"""The exact Bayes-adaptive value against brute force over all histories, the Beta-bandit recursion
of pgm_control.exploration, closed-form oracle values and the ordering oracle ≥ Bayes ≥ non-adaptive."""

import time

import numpy as np
import pytest
import torch

from pgm_control.exploration import bayes_bandit_value, bayes_optimal_bandit
from pgm_control.inference import value_iteration
from pgm_control.mdp import TabularMDP
from pgm_control.meta import (
    FiniteTaskFamily,
    bayes_adaptive_value,
    beta_bandit_tasks,
    grid_navigation_tasks,
    oracle_value,
    slippery_grid_tasks,
)
from pgm_control.meta import bayes_adaptive as bayes_adaptive_module

NAVIGATION = grid_navigation_tasks(3, episode_length=2)
MOVES = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]  # stay, up, down, left, right


def navigation_expectimax(size, episode_length, num_episodes):
    """Bayes-optimal return of grid navigation by expectimax over every history (no memo), written from
    the definition: goals uniform over the cells other than (0, 0), (0, 1), (1, 0), (1, 1)."""
    goals = frozenset((r, c) for r in range(size) for c in range(size) if r >= 2 or c >= 2)

    def value(cell, candidates, steps_left, episodes_left):
        if steps_left == 0:
            return 0.0 if episodes_left == 1 else value((0, 0), candidates, episode_length, episodes_left - 1)
        best = -np.inf
        for dr, dc in MOVES:
            nxt = (min(max(cell[0] + dr, 0), size - 1), min(max(cell[1] + dc, 0), size - 1))
            p_goal = (nxt in candidates) / len(candidates)
            total = 0.0
            if p_goal > 0:
                total += p_goal * (1.0 + value(nxt, frozenset([nxt]), steps_left - 1, episodes_left))
            if p_goal < 1:
                total += (1 - p_goal) * (-0.1 + value(nxt, candidates - {nxt}, steps_left - 1, episodes_left))
            best = max(best, total)
        return best

    return value((0, 0), goals, episode_length, num_episodes)


def posterior_expectimax(P, R, prior, initial, episode_length, num_episodes):
    """Bayes-optimal return of any finite family (P, R [Z, S, A, S'] numpy) by expectimax over every
    history with the posterior vector as belief (no memo)."""
    _, S, A, _ = P.shape

    def value(s, belief, steps_left, episodes_left):
        if steps_left == 0:
            if episodes_left == 1:
                return 0.0
            return sum(initial[s1] * value(s1, belief, episode_length, episodes_left - 1)
                       for s1 in range(S) if initial[s1] > 0)
        best = -np.inf
        for a in range(A):
            total = 0.0
            for s2 in range(S):
                for r in np.unique(R[:, s, a, s2]):
                    joint = belief * P[:, s, a, s2] * (R[:, s, a, s2] == r)
                    if joint.sum() > 0:
                        total += joint.sum() * (r + value(s2, joint / joint.sum(), steps_left - 1, episodes_left))
            best = max(best, total)
        return best

    return sum(initial[s] * value(s, prior, episode_length, num_episodes) for s in range(S) if initial[s] > 0)


@pytest.mark.parametrize(("episode_length", "num_episodes"), [(4, 1), (2, 2), (1, 4), (5, 1)])
def test_grid_navigation_equals_expectimax_over_all_histories(episode_length, num_episodes):
    result = bayes_adaptive_value(grid_navigation_tasks(3, episode_length), num_episodes)
    assert result.value == pytest.approx(navigation_expectimax(3, episode_length, num_episodes), abs=1e-10)


@pytest.mark.parametrize(("family", "num_episodes"), [
    (slippery_grid_tasks(3, slips=[0.0, 0.5], episode_length=1, goal=4), 3),
    (slippery_grid_tasks(3, slips=[0.1, 0.9], episode_length=3, prior=[0.3, 0.7]), 1),
    (beta_bandit_tasks([1, 2], [2, 1], num_pulls=4), 4),
    # bitmask beliefs under a prior that is not uniform and gives one goal no mass
    (FiniteTaskFamily.from_tasks(NAVIGATION.tasks, NAVIGATION.transition_rewards, 2, prior=[0, .1, .2, .3, .4]), 2),
])
def test_families_equal_posterior_expectimax_over_all_histories(family, num_episodes):
    truth = posterior_expectimax(family.transitions.numpy(), family.transition_rewards.numpy(),
                                 family.prior.numpy(), family.initial.numpy(), family.episode_length, num_episodes)
    assert bayes_adaptive_value(family, num_episodes).value == pytest.approx(truth, abs=1e-10)


@pytest.mark.parametrize(("alpha", "beta", "pulls"),
                         [([1, 1], [1, 1], 8), ([1, 2], [3, 1], 6), ([1, 1, 2], [1, 2, 1], 4)])
def test_beta_bandit_family_matches_the_exploration_recursion(alpha, beta, pulls):
    family = beta_bandit_tasks(alpha, beta, num_pulls=pulls)
    value = bayes_adaptive_value(family, num_episodes=pulls).value
    assert value == pytest.approx(bayes_optimal_bandit(alpha, beta, pulls).value, abs=1e-10)
    assert value == pytest.approx(bayes_bandit_value("bayes_optimal", alpha, beta, pulls), abs=1e-10)


def test_oracle_value_is_the_hand_computed_mean_of_shortest_paths():
    # Episodes of 4 steps on the 3 x 3 grid: a goal at distance d pays -0.1 (d - 1) + (4 - d + 1), i.e.
    # 2.9 for the two goals at distance 2, 1.8 for the two at 3, 0.7 for (2, 2); mean 2.02 per episode.
    assert oracle_value(grid_navigation_tasks(3, 4), num_episodes=2) == pytest.approx(4.04, abs=1e-12)


def non_adaptive_value(family, num_episodes):
    """The best policy that ignores what it observed: optimal for the prior-mean reward (dynamics are
    shared by the goals), so its value is N times the T-step value of that MDP."""
    mean_rewards = torch.einsum("z,zsa->sa", family.prior, torch.stack([t.rewards for t in family.tasks]))
    mdp = TabularMDP(family.tasks[0].transitions, mean_rewards, family.initial)
    return num_episodes * float(value_iteration(mdp, horizon=family.episode_length).v[0] @ family.initial)


def test_oracle_beats_bayes_which_beats_a_non_adaptive_policy():
    family = grid_navigation_tasks(3, episode_length=6)
    result = bayes_adaptive_value(family, num_episodes=3)
    # Learning the goal in episode 1 pays in episodes 2 and 3, so both gaps are well above rounding.
    assert result.oracle_value > result.value + 0.5
    assert result.value > non_adaptive_value(family, 3) + 0.5


def test_policy_moves_towards_the_remaining_goals():
    family = grid_navigation_tasks(3, episode_length=4)
    result = bayes_adaptive_value(family, num_episodes=2)
    assert result.policy(0, 0, 0, [True] * 5).tolist() == [0.0, 0.0, 0.5, 0.0, 0.5]  # down or right
    # Second episode, goal known to be (2, 2) (task 4): the value is the oracle's 0.7 and the first move
    # is down or right.
    known = torch.tensor([False, False, False, False, True])
    assert result.action_values(1, 0, 0, known).max().item() == pytest.approx(0.7, abs=1e-12)
    assert result.policy(1, 0, 0, known).tolist() == [0.0, 0.0, 0.5, 0.0, 0.5]
    belief = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.equal(result.action_values(1, 0, 0, belief), result.action_values(1, 0, 0, known))


def test_bitmask_and_posterior_vector_beliefs_agree(monkeypatch):
    family = grid_navigation_tasks(3, episode_length=3)
    subsets = bayes_adaptive_value(family, num_episodes=2)
    monkeypatch.setattr(bayes_adaptive_module, "_beliefs_for", bayes_adaptive_module._VectorBeliefs)
    vectors = bayes_adaptive_value(family, num_episodes=2)
    assert vectors.value == pytest.approx(subsets.value, abs=1e-12)
    assert vectors.num_nodes == subsets.num_nodes


@pytest.mark.slow
def test_grid_navigation_size_4_with_four_episodes_of_8_steps_runs_in_seconds():
    family = grid_navigation_tasks(4, episode_length=8)
    start = time.perf_counter()
    result = bayes_adaptive_value(family, num_episodes=4)
    assert time.perf_counter() - start < 30.0  # measured ~2.5 s on 2 busy cores
    assert result.oracle_value > result.value > non_adaptive_value(family, 4)


def test_bad_inputs_raise_named_errors():
    family = grid_navigation_tasks(3, episode_length=2)
    with pytest.raises(TypeError, match="task_family must be a finite task family"):
        bayes_adaptive_value("grid", 2)
    with pytest.raises(ValueError, match="num_episodes"):
        bayes_adaptive_value(family, 0)
    result = bayes_adaptive_value(family, 1)
    with pytest.raises(ValueError, match="episode must lie in"):
        result.policy(1, 0, 0, [True] * 5)
    with pytest.raises(ValueError, match="belief must have shape"):
        result.policy(0, 0, 0, [True] * 4)
    with pytest.raises(ValueError, match="belief must sum to 1"):
        result.policy(0, 0, 0, [0.5] * 5)
    with pytest.raises(ValueError, match="no node with state=8"):
        result.policy(0, 1, 8, [True] * 5)
    with pytest.raises(ValueError, match="restricted to the tasks not ruled out"):
        result.policy(0, 0, 0, [0.6, 0.1, 0.1, 0.1, 0.1])
