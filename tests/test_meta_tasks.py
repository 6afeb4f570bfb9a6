"""Task families of pgm_control.meta against their definitions (VariBAD's GridNavi, Beta moments)."""

import math

import pytest
import torch

from pgm_control.meta import (
    bandit_tasks,
    beta_bandit_tasks,
    grid_navigation_tasks,
    point_robot_tasks,
    slippery_grid_tasks,
)


@pytest.mark.parametrize(("size", "num_goals"), [(3, 5), (4, 12), (5, 21)])
def test_grid_navigation_goal_counts_exclude_start_and_its_neighbours(size, num_goals):
    family = grid_navigation_tasks(size, episode_length=8)
    assert family.num_tasks == num_goals
    goals = {name for name in family.task_names}
    assert not goals & {"goal (0, 0)", "goal (0, 1)", "goal (1, 0)", "goal (1, 1)"}
    assert torch.allclose(family.prior, torch.full((num_goals,), 1.0 / num_goals, dtype=torch.float64))


def test_grid_navigation_dynamics_and_rewards_follow_the_definition():
    family = grid_navigation_tasks(3, episode_length=4)
    P = family.transitions[0]  # [S, A, S'], the same for every goal
    stay, up, down, left, right = range(5)
    assert P[0, up, 0] == 1 and P[0, left, 0] == 1  # walls leave the agent in place
    assert P[0, right, 1] == 1 and P[0, down, 3] == 1 and P[4, stay, 4] == 1
    assert torch.equal(family.transitions, P.expand_as(family.transitions))
    # goal (0, 2) is state 2: +1 for every step that ends there, -0.1 for every other step
    assert family.transition_rewards[0, 1, right, 2] == 1.0 and family.transition_rewards[0, 2, stay, 2] == 1.0
    assert family.transition_rewards[0, 0, right, 1] == -0.1
    assert family.tasks[0].rewards[2, stay] == 1.0 and family.tasks[0].terminal.sum() == 0
    assert family.initial.tolist() == [1.0] + [0.0] * 8


def test_batched_simulation_of_finite_and_point_robot_families():
    generator = torch.Generator().manual_seed(0)
    family = grid_navigation_tasks(3, episode_length=4)
    tasks = torch.tensor([0, 4, 4])
    states = family.reset(3, generator)
    next_states, rewards = family.step(tasks, states, torch.tensor([4, 4, 2]), generator)
    assert next_states.tolist() == [1, 1, 3] and rewards.tolist() == [-0.1, -0.1, -0.1]
    robot = point_robot_tasks(episode_length=5)
    angles = robot.sample(4, generator)
    assert angles.shape == (4,) and bool(((angles >= 0) & (angles <= math.pi)).all())
    positions, rewards = robot.step(angles, robot.reset(4), torch.full((4, 2), 5.0))  # clipped to 0.1
    assert torch.allclose(positions, torch.full((4, 2), 0.1, dtype=torch.float64))
    assert torch.allclose(rewards, -torch.linalg.vector_norm(positions - robot.goals(angles), dim=-1))


def test_slippery_grid_rows_are_distributions_and_slip_perpendicular():
    family = slippery_grid_tasks(3, slips=[0.0, 0.2, 0.6], episode_length=3)
    P = family.transitions
    assert torch.allclose(P.sum(-1), torch.ones(3, 9, 5, dtype=torch.float64))
    # right from the centre (state 4): straight to 5, perpendicular to 1 and 7
    assert P[2, 4, 4, [5, 1, 7]].tolist() == pytest.approx([0.4, 0.3, 0.3])
    assert P[1, 4, 0, 4] == 1.0  # stay never slips


def test_beta_bandit_family_matches_the_beta_moments_it_promises():
    alpha, beta, pulls = 2.0, 3.0, 5
    family = beta_bandit_tasks([alpha], [beta], num_pulls=pulls)
    means = family.tasks[0].rewards.new_tensor([task.rewards[0, 0] for task in family.tasks])
    for k in range(pulls + 1):
        exact = math.exp(math.lgamma(alpha + k) + math.lgamma(alpha + beta) - math.lgamma(alpha)
                         - math.lgamma(alpha + beta + k))  # E[μ^k] = B(α + k, β) / B(α, β)
        assert float((family.prior * means**k).sum()) == pytest.approx(exact, abs=1e-12)


def test_bandit_family_is_a_two_state_mdp_with_expected_rewards():
    family = bandit_tasks([[0.2, 0.8], [0.7, 0.1]], prior=[0.25, 0.75])
    assert family.tasks[1].rewards.tolist() == [[0.7, 0.1], [0.7, 0.1]]
    assert family.transitions[1, 0, 0].tolist() == pytest.approx([0.3, 0.7])


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: grid_navigation_tasks(2, 4), ValueError, "size must be at least 3"),
    (lambda: grid_navigation_tasks(3, 0), ValueError, "episode_length"),
    (lambda: grid_navigation_tasks(3.5, 4), TypeError, "size"),
    (lambda: slippery_grid_tasks(3, slips=[0.1, 1.5]), ValueError, "slips"),
    (lambda: slippery_grid_tasks(3, goal=9), ValueError, "goal"),
    (lambda: bandit_tasks([0.2, 0.8]), ValueError, r"means must have shape"),
    (lambda: bandit_tasks([[0.2, 1.8]]), ValueError, "means"),
    (lambda: bandit_tasks([[0.2, 0.8]], prior=[0.5, 0.5]), ValueError, "prior"),
    (lambda: beta_bandit_tasks([1, 0], [1, 1], 3), ValueError, "prior_successes"),
    (lambda: beta_bandit_tasks([1] * 5, [1] * 5, 12), ValueError, "tasks"),
    (lambda: point_robot_tasks(radius=-1.0), ValueError, "radius"),
    (lambda: grid_navigation_tasks(3, 4).step([0], [0], [7]), ValueError, "actions"),
    (lambda: point_robot_tasks().step([0.0], [[0.0, 0.0]], [[0.0, 0.0, 0.0]]), ValueError, "actions"),
])
def test_bad_family_inputs_raise_named_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()
