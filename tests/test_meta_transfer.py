"""Forward transfer (pgm_control.meta.transfer): exact returns, soft Q-learning fine-tuning, domain
randomization and distillation against closed forms and the library's own dynamic programming."""

import math

import pytest
import torch

from pgm_control.inference import policy_evaluation, soft_value_iteration, value_iteration
from pgm_control.meta import grid_navigation_tasks, slippery_grid_tasks
from pgm_control.meta.transfer import (
    discounted_visits,
    displacement_features,
    distill,
    distillation_loss,
    distillation_optimum,
    episodes_to_threshold,
    fine_tune_soft_q,
    greedy_policy,
    policy_returns,
    randomized_policy,
    soft_q_step,
    state_features,
    student_log_policies,
    task_returns,
    task_state_features,
    with_hazards,
)

DTYPE = torch.float64


def random_policy(S, A, seed=0):
    return torch.softmax(torch.randn(S, A, dtype=DTYPE, generator=torch.Generator().manual_seed(seed)), -1)


def test_policy_returns_match_policy_evaluation():
    family = slippery_grid_tasks(3, slips=[0.0, 0.4], episode_length=5)
    policy = random_policy(family.num_states, family.num_actions)
    for task in family.tasks:
        exact = float(task.initial @ policy_evaluation(task.replace(discount=0.9), policy).v)
        ours = policy_returns(task.transitions, task.rewards, task.initial, policy, 0.9)
        assert ours.item() == pytest.approx(exact, abs=1e-10)
    # The visits sum to Σ_t γ^t = 1 / (1 - γ).
    visits = discounted_visits(family.transitions, family.initial, policy, 0.9)
    assert visits.shape == (2, 9)
    torch.testing.assert_close(visits.sum(-1), torch.full((2,), 10.0, dtype=DTYPE))


def test_task_returns_is_the_robustness_curve():
    family = slippery_grid_tasks(3, slips=[0.0, 0.3, 0.6], episode_length=5)
    policy = random_policy(9, 5, seed=1)
    curve = task_returns(family, policy, 0.9)
    assert curve.shape == (3,)
    for z, task in enumerate(family.tasks):
        assert curve[z].item() == pytest.approx(float(task.initial @ policy_evaluation(
            task.replace(discount=0.9), policy).v), abs=1e-10)


def test_soft_q_step_leaves_the_soft_fixed_point_unchanged():
    task = grid_navigation_tasks(3, 4).tasks[2]  # deterministic dynamics: the sampled target is exact
    q = soft_value_iteration(task.replace(discount=0.9), temperature=0.3).q
    q = q.expand(4, *q.shape)
    states, actions = torch.tensor([0, 3, 5, 8]), torch.tensor([0, 1, 4, 2])
    next_states = task.transitions[states, actions].argmax(-1)
    new = soft_q_step(q, states, actions, task.rewards[states, actions], next_states, temperature=0.3,
                      discount=0.9, lr=0.7)
    torch.testing.assert_close(new, q, rtol=0, atol=1e-9)


def test_soft_q_step_hand_computed():
    q = torch.zeros(1, 2, 2, dtype=DTYPE)
    # target = r + γ α log Σ_a (1/2) exp(0) = r = 1, so Q(0, 1) = 0 + 0.5 (1 - 0) = 0.5.
    new = soft_q_step(q, torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0], dtype=DTYPE),
                      torch.tensor([1]), temperature=1.0, discount=0.9, lr=0.5)
    assert new[0].tolist() == [[0.0, 0.5], [0.0, 0.0]]


def test_fine_tuning_from_the_new_optimum_stays_optimal_and_is_seeded():
    family = grid_navigation_tasks(3, 4)
    task = family.tasks[4]
    q = soft_value_iteration(task.replace(discount=0.9), temperature=0.01).q
    result = fine_tune_soft_q(task, q.expand(3, *q.shape), temperature=0.01, num_episodes=2, horizon=6, seed=1)
    assert result.scores.shape == (3, 3) and result.q.shape == (3, 9, 5)
    torch.testing.assert_close(result.scores[:, 0], torch.ones(3, dtype=DTYPE))
    assert result.optimum == pytest.approx(float(task.initial @ value_iteration(task.replace(discount=0.9)).v))
    again = fine_tune_soft_q(task, q, temperature=0.01, num_episodes=2, horizon=6, seed=1)
    assert again.scores.shape == (1, 3)
    zero = torch.zeros(2, 9, 5, dtype=DTYPE)
    a = fine_tune_soft_q(task, zero, temperature=0.5, num_episodes=3, horizon=6, seed=7)
    b = fine_tune_soft_q(task, zero, temperature=0.5, num_episodes=3, horizon=6, seed=7)
    torch.testing.assert_close(a.q, b.q, rtol=0, atol=0)


def test_episodes_to_threshold():
    scores = torch.tensor([[0.0, 0.5, 0.95, 0.2], [0.0, 0.1, 0.2, 0.3], [1.0, 1.0, 1.0, 1.0]])
    assert episodes_to_threshold(scores, 0.9).tolist() == [2.0, math.inf, 0.0]


def test_randomized_policy_on_one_task_is_optimal():
    task = slippery_grid_tasks(3, slips=[0.2], episode_length=5)
    policy = randomized_policy(task, 0.9, num_steps=200)
    optimum = float(task.initial @ value_iteration(task.tasks[0].replace(discount=0.9)).v)
    # Softmax policy gradient approaches the deterministic optimum like 1/steps; measured gap 2e-4.
    assert task_returns(task, policy, 0.9).item() == pytest.approx(optimum, abs=2e-3)


def test_with_hazards_rewards():
    family = slippery_grid_tasks(3, slips=[0.0, 0.5], episode_length=5)
    hazardous = with_hazards(family, [4], -2.0)
    assert (hazardous.transition_rewards[..., 4] == -2.0).all()
    # Right from (0, 0) with slip 0.5: to (0, 1) w.p. 0.5, stays w.p. 0.25, down to (1, 0) w.p. 0.25.
    assert hazardous.tasks[1].rewards[0, 4].item() == pytest.approx(-0.1)
    # Down from (0, 1) with slip 0.5: to the hazard (1, 1) w.p. 0.5.
    assert hazardous.tasks[1].rewards[1, 2].item() == pytest.approx(0.5 * -2.0 + 0.5 * -0.1)
    with pytest.raises(ValueError, match="cells"):
        with_hazards(family, [9], -1.0)


def test_distillation_optimum_hand_computed():
    experts = torch.tensor([[[0.8, 0.2]], [[0.2, 0.8]]], dtype=DTYPE)  # Z = 2 tasks, one state
    weights = torch.tensor([[1.0], [3.0]], dtype=DTYPE)
    # π*(a) = (1 · 0.8 + 3 · 0.2) / 4 = 0.35.
    torch.testing.assert_close(distillation_optimum(experts, weights), torch.tensor([[0.35, 0.65]], dtype=DTYPE))


def expert_setup():
    family = grid_navigation_tasks(3, 4)
    experts = torch.stack([soft_value_iteration(task.replace(discount=0.9), temperature=0.5).policy
                           for task in family.tasks])
    weights = family.prior[:, None] * discounted_visits(family.transitions, family.initial, experts, 0.9)
    return experts, weights


def test_distilled_state_only_student_is_the_closed_form():
    experts, weights = expert_setup()
    Z, S, _ = experts.shape
    theta = distill(experts, weights, state_features(Z, S))
    student = student_log_policies(state_features(Z, S), theta).exp()
    exact = distillation_optimum(experts, weights)
    visited = weights.sum(0) > 1e-12
    torch.testing.assert_close(student[0][visited], exact[visited], rtol=0, atol=1e-6)
    # The loss at the closed form is below that at any perturbation of it.
    loss = distillation_loss(experts.log(), exact.log().expand_as(experts), weights)
    nudged = torch.softmax(exact.log() + 0.01 * torch.randn(exact.shape, dtype=DTYPE), -1)
    assert loss < distillation_loss(experts.log(), nudged.log().expand_as(experts), weights)


def test_distilled_contextual_students_recover_the_experts():
    experts, weights = expert_setup()
    Z, S, _ = experts.shape
    # The optimum is the experts for any positive weights; uniform ones keep L-BFGS well conditioned (the
    # visits span 3e-5 .. 1.5, and a pair's logits move in proportion to its weight).
    uniform = torch.ones(Z, S, dtype=DTYPE)
    tabular = student_log_policies(task_state_features(Z, S), distill(experts, uniform, task_state_features(Z, S)))
    torch.testing.assert_close(tabular.exp(), experts, rtol=0, atol=1e-6)
    goals = torch.tensor([2, 5, 6, 7, 8])  # navigation goals of size 3
    features = displacement_features(3, goals)
    assert features.shape == (5, 9, 25)
    assert features[0, 2, 12].item() == 1.0  # agent on its goal: displacement (0, 0) is the centre
    assert distillation_loss(experts.log(), student_log_policies(features, distill(experts, weights, features)),
                             weights) < distillation_loss(experts.log(), torch.full_like(experts, -math.log(5)),
                                                          weights)


def test_greedy_policy_one_hot():
    assert greedy_policy(torch.tensor([[1.0, 3.0, 3.0]])).tolist() == [[0.0, 1.0, 0.0]]


def test_bad_inputs():
    family = grid_navigation_tasks(3, 4)
    task = family.tasks[0]
    with pytest.raises(ValueError, match="initial_q"):
        fine_tune_soft_q(task, torch.zeros(9, 4), temperature=0.1, num_episodes=1, horizon=2)
    with pytest.raises(ValueError, match="temperature"):
        fine_tune_soft_q(task, torch.zeros(9, 5), temperature=0.0, num_episodes=1, horizon=2)
    with pytest.raises(ValueError, match="discount"):
        fine_tune_soft_q(task, torch.zeros(9, 5), temperature=0.1, num_episodes=1, horizon=2, discount=1.0)
    with pytest.raises(TypeError, match="task_family"):
        randomized_policy(task, 0.9)
    with pytest.raises(TypeError, match="TabularMDP"):
        fine_tune_soft_q(family, torch.zeros(9, 5), temperature=0.1, num_episodes=1, horizon=2)
    with pytest.raises(ValueError, match="policy"):
        task_returns(family, torch.ones(9, 4) / 4, 0.9)
    with pytest.raises(ValueError, match="expert_policies"):
        distillation_optimum(torch.ones(2, 3, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="state_weights"):
        distillation_optimum(torch.full((2, 3, 2), 0.5), torch.ones(2, 4))
    with pytest.raises(ValueError, match="features"):
        distill(torch.full((2, 3, 2), 0.5), torch.ones(2, 3), torch.ones(2, 4, 3))
    with pytest.raises(ValueError, match="goals"):
        displacement_features(3, [9])
