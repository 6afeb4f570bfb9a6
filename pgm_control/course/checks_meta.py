r"""Grading checks for assignment 09, transfer and meta-RL.

As in :mod:`pgm_control.course.checks`: each check builds a randomized instance from its seed, calls the
student's function, and raises ``AssertionError`` naming the first wrong number, against the library's
:func:`~pgm_control.meta.transition_posterior` and :func:`~pgm_control.meta.bayes_adaptive_value`, and
against autograd for MAML's steps. Where a wrong answer matches a known mistake (the posterior left
unnormalized or without the prior, a +1 that rules nothing out, the oracle value, no reset between
episodes, the step taken uphill on the loss, first-order MAML), the message says which.
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE
from pgm_control.course.checks import call
from pgm_control.course.checks_learning import compare_or_explain
from pgm_control.meta import (
    FiniteTaskFamily,
    bandit_tasks,
    bayes_adaptive_value,
    grid_navigation_tasks,
    navigation_goals,
    oracle_value,
    transition_posterior,
)

DOWN, RIGHT = 2, 4  # grid navigation's actions stay, up, down, left, right


def _random_prior(size: int, generator: torch.Generator) -> torch.Tensor:
    """A random point of the simplex ``[size]`` (uniform: normalized exponentials), no entry tiny."""
    weights = 0.2 - torch.rand(size, generator=generator, dtype=DTYPE).log()
    return weights / weights.sum()


def _with_prior(family: FiniteTaskFamily, prior: torch.Tensor, episode_length: int | None = None) -> FiniteTaskFamily:
    return FiniteTaskFamily.from_tasks(family.tasks, family.transition_rewards,
                                       episode_length or family.episode_length, prior, family.task_names,
                                       family.name)


def _goal_label(family: FiniteTaskFamily):
    return lambda index: family.task_names[index[0]]


# ---- Question 1: the Bayes belief update over goals --------------------------------------------

def belief_instance(seed: int):
    """Grid navigation of size 3-5 with a random prior over its goals, and a context of 2 episodes of
    T = size + 1 steps, each a random walk down and right from the start; the goal is on the walk for an
    odd seed (a +1 is observed) and off it for an even one (when the walk leaves one unvisited):
    ``(family, states [N], actions [N], rewards [N], next_states [N])`` with N = 2T."""
    generator = torch.Generator().manual_seed(seed)
    size = int(torch.randint(3, 6, (), generator=generator))
    horizon = size + 1
    family = grid_navigation_tasks(size, horizon)
    family = _with_prior(family, _random_prior(family.num_tasks, generator))
    runs = torch.zeros(2, dtype=torch.long)
    moves = torch.where(torch.rand(2, horizon, generator=generator) < 0.5, DOWN, RIGHT)
    states, next_states = [], []
    for t in range(horizon):  # both episodes at once; the goal does not change where the agent goes
        states.append(runs)
        runs = family.transitions[0, runs, moves[:, t]].argmax(-1)
        next_states.append(runs)
    states, next_states = torch.stack(states, 1).reshape(-1), torch.stack(next_states, 1).reshape(-1)
    actions = moves.reshape(-1)
    goals = navigation_goals(size)
    visited = torch.isin(goals, next_states)
    # An odd seed puts the goal on the walk (a +1 is observed), an even seed off it when it can.
    candidates = goals[visited if seed % 2 == 1 or visited.all() else ~visited]
    goal = candidates[torch.randint(len(candidates), (), generator=generator)]
    rewards = family.transition_rewards[int((goals == goal).nonzero()), states, actions, next_states]
    return family, states, actions, rewards, next_states


def check_goal_posterior(goal_posterior, seed) -> None:
    """``goal_posterior(prior [Z], goals [Z], next_states [N], rewards [N]) -> p(z | c) [Z]``: the prior
    times 1[every observed reward agrees with goal z], normalized, against ``transition_posterior``."""
    family, states, actions, rewards, next_states = belief_instance(seed)
    goals = navigation_goals(int(family.num_states ** 0.5))
    expected = transition_posterior(family, states, actions, rewards, next_states)
    landed = next_states[None, :] == goals[:, None]  # [Z, N]
    ruled_out_by_misses = (landed & (rewards < 0)).any(1)
    mistakes = [
        (family.prior * (expected > 0), "p(z) p(c | z) is not normalized: divide by p(c) = Σ_z p(z) p(c | z)"),
        ((expected > 0) / (expected > 0).sum(), "the prior p(z) is missing: p(z | c) ∝ p(z) p(c | z)"),
        (family.prior * ~ruled_out_by_misses / (family.prior * ~ruled_out_by_misses).sum(),
         "a +1 on a cell says that cell is the goal, which rules out every other goal too"),
    ]
    got = call(goal_posterior, family.prior.clone(), goals.clone(), next_states.clone(), rewards.clone())
    compare_or_explain("p(z | c)", got, expected, _goal_label(family), mistakes=mistakes)


# ---- Question 2: the Bayes-adaptive value by recursion -----------------------------------------

def value_instance(seed: int) -> tuple[FiniteTaskFamily, int]:
    """An even seed: 3 × 3 grid navigation over H = 4 steps (N = 2 episodes of T = 2, or one of T = 4) with a
    random prior. An odd seed: 2-3 two-armed Bernoulli bandits with random means and prior, N = 3-5 episodes
    of one pull. A plain recursion over histories takes well under a second on each."""
    generator = torch.Generator().manual_seed(seed)
    if seed % 2 == 0:
        length = 2 * int(torch.randint(1, 3, (), generator=generator))
        family = grid_navigation_tasks(3, length)
        return _with_prior(family, _random_prior(family.num_tasks, generator)), 4 // length
    num_tasks = int(torch.randint(2, 4, (), generator=generator))
    means = torch.rand(num_tasks, 2, generator=generator, dtype=DTYPE)
    family = bandit_tasks(means, _random_prior(num_tasks, generator))
    return family, int(torch.randint(3, 6, (), generator=generator))


def check_bayes_value(bayes_value, seed) -> None:
    """``bayes_value(family, num_episodes) -> float``: the Bayes-optimal expected return over the
    episodes, by recursion over (step, state, belief), against ``bayes_adaptive_value``."""
    family, num_episodes = value_instance(seed)
    expected = torch.tensor(bayes_adaptive_value(family, num_episodes, progress=False).value, dtype=DTYPE)
    mistakes = [(torch.tensor(oracle_value(family, num_episodes), dtype=DTYPE),
                 "that is the oracle value of an agent told z: the maximum over actions must come after the "
                 "expectation over the belief, not inside an expectation over z")]
    if family.num_states > 2:  # a bandit's state says nothing, so the reset changes nothing there
        one_long = _with_prior(family, family.prior, num_episodes * family.episode_length)
        mistakes.append((torch.tensor(bayes_adaptive_value(one_long, 1, progress=False).value, dtype=DTYPE),
                         "no reset: after each episode of T steps the agent restarts from p(s_1) and keeps its "
                         "belief"))
    got = call(bayes_value, family, num_episodes)
    got = torch.tensor(float(got), dtype=DTYPE) if isinstance(got, float | int) else got
    compare_or_explain("Bayes-optimal value", got, expected, mistakes=mistakes)


# ---- Questions 3-4: MAML on a tabular softmax policy -------------------------------------------

def maml_instance(seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Logits θ ``[A]`` of a softmax policy over A = 3-6 arms, the mean rewards r_i ``[K, A]`` of K = 2-4
    bandit tasks, and a step size α in [0.5, 2]."""
    generator = torch.Generator().manual_seed(seed)
    num_arms = int(torch.randint(3, 7, (), generator=generator))
    num_tasks = int(torch.randint(2, 5, (), generator=generator))
    theta = torch.randn(num_arms, generator=generator, dtype=DTYPE)
    rewards = torch.rand(num_tasks, num_arms, generator=generator, dtype=DTYPE)
    lr = 0.5 + 1.5 * float(torch.rand((), generator=generator))
    return theta, rewards, lr


def task_loss(theta: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    r"""L_i(θ) = −Σ_a π_θ(a) r_i(a), π_θ = softmax(θ): for ``rewards`` ``[..., A]``, ``[...]``."""
    return -(torch.softmax(theta, -1) * rewards).sum(-1)


def _adapted(theta: torch.Tensor, rewards: torch.Tensor, lr: float, create_graph: bool) -> torch.Tensor:
    """θ' = θ − α ∇L_i(θ) by autograd, one row ``[A]`` per task of ``rewards`` ``[K, A]``."""
    rows = []
    for task_rewards in rewards:
        (gradient,) = torch.autograd.grad(task_loss(theta, task_rewards), theta, create_graph=create_graph)
        rows.append(theta - lr * gradient)
    return torch.stack(rows)


def _arm_label(index: tuple[int, ...]) -> str:
    return f"arm {index[-1]}"


def check_inner_step(maml_inner_step, seed) -> None:
    """``maml_inner_step(theta [A], rewards [A], lr) -> θ' [A]``: θ' = θ − α ∇_θ L_i(θ) for
    L_i(θ) = −Σ_a softmax(θ)_a r_i(a), against autograd."""
    theta, rewards, lr = maml_instance(seed)
    theta, rewards = theta.requires_grad_(True), rewards[0]
    expected = _adapted(theta, rewards[None], lr, create_graph=False)[0].detach()
    step = (expected - theta).detach()
    policy = torch.softmax(theta, -1).detach()
    mistakes = [
        ((theta - step).detach(), "the step goes uphill on L_i: θ' = θ − α ∇L_i(θ) with L_i = −J_i raises the "
                                  "expected reward"),
        ((theta + lr * policy * rewards).detach(), "the softmax's normalizer is missing: ∂π_θ(a)/∂θ_b = "
                                                   "π_θ(a)(1[a = b] − π_θ(b)) subtracts the mean reward"),
    ]
    got = call(maml_inner_step, theta.detach().clone(), rewards.clone(), lr)
    compare_or_explain("θ'", got, expected, _arm_label, mistakes=mistakes)


def check_meta_gradient(maml_meta_gradient, seed) -> None:
    """``maml_meta_gradient(theta [A], task_rewards [K, A], lr) -> [A]``: ∇_θ (1/K) Σ_i L_i(θ − α ∇L_i(θ)),
    second order, against autograd through the inner step."""
    theta, rewards, lr = maml_instance(seed)
    theta = theta.requires_grad_(True)
    adapted = _adapted(theta, rewards, lr, create_graph=True)
    (expected,) = torch.autograd.grad(task_loss(adapted, rewards).mean(), theta)
    first_order = adapted.detach().requires_grad_(True)
    (at_adapted,) = torch.autograd.grad(task_loss(first_order, rewards).mean(), first_order)
    fixed = theta.detach().requires_grad_(True)
    (pretraining,) = torch.autograd.grad(task_loss(fixed, rewards).mean(), fixed)
    mistakes = [
        (at_adapted.sum(0),  # rows are ∇L_i(θ'_i) / K
         "first-order MAML: the gradient through θ'_i = θ − α∇L_i(θ) carries the factor (I − α ∇²L_i(θ))"),
        (pretraining, "the gradient at θ, not at the adapted θ'_i: that is pretraining on all tasks"),
    ]
    got = call(maml_meta_gradient, theta.detach().clone(), rewards.clone(), lr)
    compare_or_explain("∇_θ L_meta", got, expected.detach(), _arm_label, mistakes=mistakes)

