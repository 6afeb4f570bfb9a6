"""MAML: the exact tabular returns against brute force over every trajectory; the second-order
meta-gradient against finite differences of the exact post-adaptation objective, and the first-order one
against the same gradient without the Hessian term; post-adaptation beats pretraining on all tasks;
the point-robot inner step; seeds, progress bars and bad inputs."""

import itertools

import numpy as np
import pytest
import torch

from pgm_control.mdp import TabularMDP
from pgm_control.meta import (
    FiniteTaskFamily,
    evaluate_point_robot,
    exact_task_returns,
    grid_navigation_tasks,
    init_gaussian_policy,
    point_robot_tasks,
    tabular_maml_objective,
    train_point_robot_maml,
    train_tabular_maml,
)
from pgm_control.meta.maml import _adapt_point_robot as adapt_point_robot
from pgm_control.meta.maml import _adapt_tabular as adapt_tabular
from pgm_control.meta.maml import _reinforce_loss as reinforce_loss
from pgm_control.meta.maml import _sample_episodes as sample_episodes

DTYPE = torch.float64


def tiny_family(seed, num_tasks=2, S=2, A=2, T=2):
    """Z random stochastic tasks with S states, A actions and random rewards r_z(s, a)."""
    generator = torch.Generator().manual_seed(seed)
    transitions = torch.rand(num_tasks, S, A, S, dtype=DTYPE, generator=generator) + 0.1
    transitions /= transitions.sum(-1, keepdim=True)
    rewards = torch.rand(num_tasks, S, A, dtype=DTYPE, generator=generator)
    initial = torch.full((S,), 1.0 / S, dtype=DTYPE)
    tasks = [TabularMDP(transitions[z], rewards[z], initial) for z in range(num_tasks)]
    observed = rewards[..., None].expand(num_tasks, S, A, S)
    return FiniteTaskFamily.from_tasks(tasks, observed, T, prior=torch.tensor([0.3, 0.7], dtype=DTYPE))


def brute_force_return(policy, mdp, T):
    """E[Σ_t r(s_t, a_t)] by summing over every (s_0, a_0, ..., s_{T-1}, a_{T-1})."""
    S, A = mdp.num_states, mdp.num_actions
    total = 0.0
    for path in itertools.product(range(S), range(A), repeat=T):
        states, actions = path[0::2], path[1::2]
        prob = float(mdp.initial[states[0]])
        for t in range(T):
            prob *= float(policy[t, states[t], actions[t]])
            if t + 1 < T:
                prob *= float(mdp.transitions[states[t], actions[t], states[t + 1]])
        total += prob * sum(float(mdp.rewards[s, a]) for s, a in zip(states, actions))
    return total


def meta_objective(logits, family, inner_lr, steps=1, first_order=False):
    return tabular_maml_objective(logits, family, inner_lr, steps, first_order) @ family.prior


def finite_difference_gradient(function, logits, step=1e-5):
    gradient = torch.zeros_like(logits)
    for index in itertools.product(*(range(n) for n in logits.shape)):
        shift = torch.zeros_like(logits)
        shift[index] = step
        gradient[index] = (function(logits + shift) - function(logits - shift)) / (2 * step)
    return gradient


def test_exact_task_returns_match_brute_force_over_all_trajectories():
    family = tiny_family(0, T=3)
    logits = torch.randn(3, 2, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    rewards = torch.stack([task.rewards for task in family.tasks])
    returns = exact_task_returns(logits, family.transitions, rewards, family.initial)
    expected = [brute_force_return(torch.softmax(logits, -1), task, 3) for task in family.tasks]
    assert returns.shape == (2,)
    assert torch.allclose(returns, torch.tensor(expected, dtype=DTYPE), rtol=0, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2])
def test_second_order_meta_gradient_matches_finite_differences(steps):
    family = tiny_family(2)
    logits = torch.randn(2, 2, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(3), requires_grad=True)
    (gradient,) = torch.autograd.grad(meta_objective(logits, family, 0.8, steps), logits)
    with torch.no_grad():
        numeric = finite_difference_gradient(lambda x: meta_objective(x, family, 0.8, steps), logits.detach())
    # Central differences of a smooth float64 function with h = 1e-5: truncation O(h²) ≈ 1e-10.
    assert torch.allclose(gradient, numeric, rtol=0, atol=1e-8)


def test_first_order_gradient_drops_exactly_the_hessian_term():
    family, alpha = tiny_family(4), 4.0
    logits = torch.randn(2, 2, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(5), requires_grad=True)
    (second,) = torch.autograd.grad(meta_objective(logits, family, alpha), logits)
    (first,) = torch.autograd.grad(meta_objective(logits, family, alpha, first_order=True), logits)
    # Independent route: ∇J_z at θ'_z and the Hessian of J_z at θ, per task, by autograd.functional.
    adapted = adapt_tabular(logits, family, alpha).detach()
    expected_first = torch.zeros(8, dtype=DTYPE)
    expected_second = torch.zeros(8, dtype=DTYPE)
    for z in range(family.num_tasks):
        def task_return(flat, z=z):
            return tabular_maml_objective(flat.reshape(2, 2, 2), family, alpha, 0)[z]
        outer = torch.autograd.functional.jacobian(task_return, adapted[z].flatten())
        hessian = torch.autograd.functional.hessian(task_return, logits.detach().flatten())
        expected_first += family.prior[z] * outer
        expected_second += family.prior[z] * (torch.eye(8, dtype=DTYPE) + alpha * hessian) @ outer
    assert torch.allclose(first.flatten(), expected_first, rtol=0, atol=1e-12)
    assert torch.allclose(second.flatten(), expected_second, rtol=0, atol=1e-12)
    assert (second - first).abs().max() > 1e-3  # the Hessian term is not negligible here


def test_zero_inner_steps_is_the_joint_objective():
    family = tiny_family(6)
    logits = torch.randn(2, 2, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(7))
    rewards = torch.stack([task.rewards for task in family.tasks])
    assert torch.equal(tabular_maml_objective(logits, family, 5.0, 0),
                       exact_task_returns(logits, family.transitions, rewards, family.initial))


@pytest.mark.slow
def test_maml_adapts_better_than_pretraining_on_all_goals():
    family, alpha = grid_navigation_tasks(3, episode_length=4), 5.0
    maml = train_tabular_maml(family, inner_lr=alpha, num_iterations=300, progress=False)
    joint = train_tabular_maml(family, num_inner_steps=0, num_iterations=300, progress=False)
    before = [float(meta_objective(fit.logits, family, alpha, 0).detach()) for fit in (maml, joint)]
    after = [float(meta_objective(fit.logits, family, alpha, 1).detach()) for fit in (maml, joint)]
    # Exact and deterministic (measured 1.557 against 1.073, oracle 2.02): the joint policy is better
    # before adaptation, MAML's after one step of the same size.
    assert before[1] > before[0]
    assert after[0] > after[1] + 0.3
    assert after[0] < family.num_tasks and np.isclose(joint.objectives[-1], before[1])


def test_point_robot_inner_step_shapes_and_zero_step_size():
    family = point_robot_tasks(episode_length=5)
    params = init_gaussian_policy(hidden=(4,), generator=torch.Generator().manual_seed(0))
    tasks = torch.tensor([0.5, 1.0, 2.0], dtype=DTYPE)
    adapted = adapt_point_robot(params, family, tasks, 0.1, num_episodes=4)
    assert [p.shape for p in adapted] == [(3, *p.shape) for p in params]
    assert adapted[0].requires_grad  # second order: the outer loss can differentiate through the step
    unchanged = adapt_point_robot(params, family, tasks, 0.0, num_episodes=4)
    assert all(torch.equal(a, p.expand_as(a)) for a, p in zip(unchanged, params))
    moved = adapt_point_robot(params, family, tasks, 0.1, num_episodes=4, first_order=True)
    # Each task takes its own step (the first layer gets no gradient yet: the output layer starts at 0);
    # log σ is a constant, never adapted.
    assert all(not torch.equal(p[0], p[1]) for p in moved[2:-1])
    assert torch.equal(moved[-1], params[-1].expand_as(moved[-1]))


def test_dice_loss_has_the_reinforce_gradient_and_the_return_as_value():
    family = point_robot_tasks(episode_length=3)
    params = init_gaussian_policy(generator=torch.Generator().manual_seed(0))
    tasks = torch.tensor([0.3, 2.5], dtype=DTYPE)
    adapted = tuple(p.expand(2, *p.shape) for p in params)
    episodes = sample_episodes(adapted, family, tasks, 4, torch.Generator().manual_seed(1))
    loss = reinforce_loss(episodes)
    # Written from the definition: −(1/K) Σ_k Σ_t log π (G_t − b_t), b_t the mean G_t of the other episodes.
    to_go = episodes.rewards.flip(-1).cumsum(-1).flip(-1)
    baseline = (to_go.sum(1, keepdim=True) - to_go) / 3
    surrogate = -(episodes.log_probs * (to_go - baseline)).sum(-1).mean(-1)
    assert torch.allclose(loss, -episodes.rewards.sum(-1).mean(-1), rtol=0, atol=1e-12)
    for z in range(2):
        dice_grad = torch.autograd.grad(loss[z], params[:2], retain_graph=True)
        plain_grad = torch.autograd.grad(surrogate[z], params[:2], retain_graph=True)
        assert all(torch.allclose(a, b, rtol=0, atol=1e-10) for a, b in zip(dice_grad, plain_grad))


def test_point_robot_runs_are_seeded():
    family = point_robot_tasks(episode_length=4)
    runs = [train_point_robot_maml(family, num_iterations=2, meta_batch_size=3, num_episodes=2, seed=seed,
                                   progress=False) for seed in (0, 0, 1)]
    assert np.array_equal(runs[0].mean_returns, runs[1].mean_returns)
    assert not np.array_equal(runs[0].mean_returns, runs[2].mean_returns)
    returns = evaluate_point_robot(runs[0].params, family, inner_lr=0.001, num_tasks=5, num_episodes=2)
    assert returns.shape == (5,) and bool(torch.isfinite(returns).all())


def test_progress_bars_are_switchable(capsys):
    family = tiny_family(8)
    train_tabular_maml(family, num_iterations=2, progress=True)
    assert "tabular MAML" in capsys.readouterr().err
    train_point_robot_maml(point_robot_tasks(episode_length=2), num_iterations=1, meta_batch_size=2,
                           num_episodes=2, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("call, error, match", [
    (lambda: train_tabular_maml(point_robot_tasks()), TypeError, "task_family must be a finite task family"),
    (lambda: train_tabular_maml(tiny_family(0), inner_lr=-1.0), ValueError, "inner_lr must be"),
    (lambda: train_tabular_maml(tiny_family(0), num_inner_steps=-1), ValueError, "num_inner_steps must be"),
    (lambda: train_tabular_maml(tiny_family(0), first_order="yes"), TypeError, "first_order must be True"),
    (lambda: tabular_maml_objective(torch.zeros(2, 2, 3), tiny_family(0), 1.0), ValueError, r"θ \[T, S, A\]"),
    (lambda: exact_task_returns(torch.zeros(2, 3, 2), torch.full((1, 2, 2, 2), 0.5), torch.zeros(1, 2, 2),
                                torch.tensor([1.0, 0.0])), ValueError, "logits must have shape"),
    (lambda: exact_task_returns(torch.zeros(2, 2, 2), torch.full((1, 2, 2, 3), 0.5), torch.zeros(1, 2, 2),
                                torch.tensor([1.0, 0.0])), ValueError, "transitions must have shape"),
    (lambda: train_point_robot_maml(tiny_family(0)), TypeError, "task_family must be a PointRobotFamily"),
    (lambda: train_point_robot_maml(point_robot_tasks(), num_episodes=1), ValueError, "at least 2"),
    (lambda: train_point_robot_maml(point_robot_tasks(), lr=0.0), ValueError, "lr must be a positive"),
    (lambda: evaluate_point_robot((), point_robot_tasks(), inner_lr=0.1), TypeError, "params must be"),
    (lambda: evaluate_point_robot(init_gaussian_policy(), point_robot_tasks(), inner_lr=0.1, num_tasks=0),
     ValueError, "num_tasks"),
])
def test_bad_inputs_raise_named_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
