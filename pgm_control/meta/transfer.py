r"""Forward transfer on tabular tasks, exactly measured (CS285 notes, "Transfer Learning", "Forward
Transfer").

The notes' claims, each turned into a computation on small grids whose values are exact:

* **Fine-tuning and entropy.** "Optimal policies in fully observed MDPs are deterministic ... low-entropy
  policies adapt very slowly to new settings": :func:`fine_tune_soft_q` continues soft Q-learning from a
  pretrained Q table in a task whose goal has moved, R runs at once, and scores the greedy policy after
  every episode (:func:`normalized_score`); :func:`episodes_to_threshold` reads off the adaptation time.
* **Domain randomization.** "Randomize the source domain to add more diversity at training time":
  :func:`randomized_policy` maximizes the prior-weighted return Σ_z p(z) J_z(π) of one memoryless policy
  over a family of dynamics; :func:`task_returns` gives its robustness curve J_z(π) over test tasks.
* **Contextual policies and distillation.** "Train each separately, then combine the policies":
  :func:`distill` fits one student π_θ(a | s, z) with logits θ·φ(s, z) by minimizing

      L(θ) = Σ_z Σ_s w_z(s) D_KL(π_z(·|s) ‖ π_θ(·|s, z)),

  with the experts' discounted visits as w_z(s) (:func:`discounted_visits`). Its features φ choose the
  student: one-hot(s) (a state-only policy, whose optimum is the closed form
  :func:`distillation_optimum`, the visit-weighted average of the experts), one-hot(z, s) (a tabular
  contextual policy, optimum the experts themselves), or :func:`displacement_features` (a
  goal-conditioned policy that generalizes to goals it was not trained on).

Returns are discounted from p(s_1): J(π) = Σ_s d_π(s) r_π(s) with the discounted visits
d_π = p(s_1)ᵀ (I − γ P_π)⁻¹, solved in one batched linear system.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_discount,
    check_learning_rate,
    check_positive_integer,
    check_real,
    check_seed,
    check_shape,
    check_temperature,
)
from pgm_control._mdp_inputs import check_mdp
from pgm_control.inference.dynamic_programming import value_iteration
from pgm_control.inference.soft import soft_maximum
from pgm_control.meta.tasks import FiniteTaskFamily, check_family

# ----------------------------------------------------------------------------------------------------
# Exact returns


def discounted_visits(transitions: torch.Tensor, initial: torch.Tensor, policy: torch.Tensor,
                      discount: float) -> torch.Tensor:
    r"""d_π(s) = Σ_t γ^t p(s_t = s | π) = [p(s_1)ᵀ (I − γ P_π)⁻¹](s), batched: transitions ``[..., S, A, S']``,
    policy ``[..., S, A]``, initial ``[S]`` → ``[..., S]`` (γ < 1)."""
    p_pi = torch.einsum("...sa,...sap->...sp", policy, transitions)
    system = torch.eye(p_pi.shape[-1], dtype=p_pi.dtype) - discount * p_pi
    start = initial.expand(p_pi.shape[:-1])
    return torch.linalg.solve(system.transpose(-1, -2), start)


def policy_returns(transitions: torch.Tensor, rewards: torch.Tensor, initial: torch.Tensor,
                   policy: torch.Tensor, discount: float) -> torch.Tensor:
    r"""J(π) = Σ_s d_π(s) Σ_a π(a|s) r(s, a), batched (rewards ``[..., S, A]``) → ``[...]``."""
    visits = discounted_visits(transitions, initial, policy, discount)
    return (visits * (policy * rewards).sum(-1)).sum(-1)


def greedy_policy(q: torch.Tensor) -> torch.Tensor:
    """One-hot on argmax_a Q(s, a) (lowest index on ties), ``[..., S, A]``."""
    return torch.nn.functional.one_hot(q.argmax(-1), q.shape[-1]).to(q.dtype)


def normalized_score(returns: torch.Tensor, optimum: float, baseline: float) -> torch.Tensor:
    r"""(J(π) − J_uniform) / (J* − J_uniform): 0 for the uniform random policy, 1 for an optimal one."""
    return (returns - baseline) / (optimum - baseline)


def task_returns(task_family: FiniteTaskFamily, policy, discount: float) -> torch.Tensor:
    r"""J_z(π) of one memoryless policy ``[S, A]`` in every task of the family, ``[Z]`` (the robustness
    curve of a domain-randomized policy when the tasks differ in their dynamics)."""
    family = check_family(task_family, finite=True)
    policy = _check_policy(policy, family)
    rewards = torch.stack([task.rewards for task in family.tasks])
    return policy_returns(family.transitions, rewards, family.initial, policy, check_discount(discount))


# ----------------------------------------------------------------------------------------------------
# Fine-tuning soft Q-learning


@dataclass(frozen=True)
class FineTuneResult:
    r"""What :func:`fine_tune_soft_q` returns.

    Attributes:
        q: the Q tables after fine-tuning, ``[R, S, A]``.
        scores: the normalized score of the greedy policy of Q before the first episode and after each
            one, ``[R, E+1]`` (:func:`normalized_score`; 1 is optimal in the new task).
        optimum: J* of the new task; baseline: J of the uniform random policy there.
    """

    q: torch.Tensor
    scores: torch.Tensor
    optimum: float
    baseline: float


def soft_q_step(q: torch.Tensor, states, actions, rewards, next_states, *, temperature: float, discount: float,
                lr: float) -> torch.Tensor:
    r"""One soft Q-learning update of R tables ``[R, S, A]`` at once (CS285 notes, "Soft Optimality"):

        Q(s, a) ← Q(s, a) + η (r + γ softmax_{a'} Q(s', a') − Q(s, a)),
        softmax_{a'} Q(s', a') = α log Σ_{a'} (1/A) exp(Q(s', a')/α)

    states, actions, rewards, next_states ``[R]``; returns the new tables."""
    runs = torch.arange(q.shape[0])
    v_next = soft_maximum(q[runs, next_states], -math.log(q.shape[-1]), temperature)
    target = rewards + discount * v_next
    q = q.clone()
    q[runs, states, actions] += lr * (target - q[runs, states, actions])
    return q


def fine_tune_soft_q(mdp, initial_q, *, temperature: float, num_episodes: int, horizon: int,
                     discount: float = 0.9, lr: float = 0.5, seed: int = 0) -> FineTuneResult:
    r"""Soft Q-learning in ``mdp`` (a :class:`~pgm_control.TabularMDP`) from R initial tables ``[R, S, A]``
    (or one ``[S, A]``), acting by its own soft policy π(a|s) ∝ exp(Q(s, a)/α), for ``num_episodes``
    episodes of ``horizon`` steps from p(s_1); after each episode the greedy policy of every table is
    evaluated exactly in ``mdp`` (discount γ).

    The updates use the MDP's expected reward r(s, a) (exact for the deterministic rewards of the grids).
    A table pretrained at a small α is nearly greedy toward the old goal: its own behaviour rarely visits
    the new one, which is the notes' "low-entropy policies adapt very slowly"."""
    task = check_mdp(mdp)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("temperature must be > 0 (the soft policy exp(Q/α) explores); use a small α such as 0.01")
    discount = check_discount(discount)
    if discount >= 1.0:
        raise ValueError(f"discount must be < 1 (the returns are discounted sums from p(s_1)), got {discount}")
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    horizon = check_positive_integer(horizon, "horizon")
    lr = check_learning_rate(lr)
    if lr > 1.0:
        raise ValueError(f"lr must lie in (0, 1], got {lr}")
    q = as_float_tensor(initial_q, "initial_q").detach()
    S, A = task.num_states, task.num_actions
    if q.dim() == 2:
        q = q[None]
    check_shape(q, [None, S, A], "initial_q", "Q(s, a) of R runs [R, S, A] (or one table [S, A])")
    generator = torch.Generator().manual_seed(check_seed(seed))
    optimum, baseline = _optimum_and_baseline(task, discount)
    scores = [normalized_score(_greedy_returns(task, q, discount), optimum, baseline)]
    runs = torch.arange(q.shape[0])
    for _ in range(num_episodes):
        states = torch.multinomial(task.initial, q.shape[0], replacement=True, generator=generator)
        for _ in range(horizon):
            actions = torch.multinomial(torch.softmax(q[runs, states] / temperature, -1), 1,
                                        generator=generator).squeeze(-1)
            next_states = torch.multinomial(task.transitions[states, actions], 1, generator=generator).squeeze(-1)
            q = soft_q_step(q, states, actions, task.rewards[states, actions], next_states,
                            temperature=temperature, discount=discount, lr=lr)
            states = next_states
        scores.append(normalized_score(_greedy_returns(task, q, discount), optimum, baseline))
    return FineTuneResult(q, torch.stack(scores, -1), optimum, baseline)


def episodes_to_threshold(scores, threshold: float = 0.9) -> torch.Tensor:
    r"""The first episode after which the score reaches ``threshold``, per run: ``scores`` ``[R, E+1]``
    (column 0 before any episode) → ``[R]`` float, ``inf`` for a run that never reaches it."""
    scores = as_float_tensor(scores, "scores")
    check_shape(scores, [None, None], "scores", "[R, E+1]")
    threshold = check_real(threshold, "threshold", "a number")
    reached = scores >= threshold
    first = reached.to(torch.int64).argmax(-1).to(DTYPE)
    return torch.where(reached.any(-1), first, torch.tensor(math.inf, dtype=DTYPE))


def _greedy_returns(task, q: torch.Tensor, discount: float) -> torch.Tensor:
    return policy_returns(task.transitions, task.rewards, task.initial, greedy_policy(q), discount)


def _optimum_and_baseline(task, discount: float) -> tuple[float, float]:
    """J* (by value iteration on the discounted task) and J of the uniform policy."""
    optimum = float(task.initial @ value_iteration(task.replace(discount=discount)).v)
    uniform = torch.full((task.num_states, task.num_actions), 1.0 / task.num_actions, dtype=DTYPE)
    return optimum, float(policy_returns(task.transitions, task.rewards, task.initial, uniform, discount))


# ----------------------------------------------------------------------------------------------------
# Domain randomization


def randomized_policy(task_family: FiniteTaskFamily, discount: float, *, num_steps: int = 500,
                      lr: float = 0.5) -> torch.Tensor:
    r"""One memoryless policy for a family of dynamics (domain randomization): the softmax policy
    π_θ(a|s) ∝ exp θ(s, a) that maximizes the prior-weighted exact return

        Σ_z p(z) J_z(π_θ),    J_z(π) = p(s_1)ᵀ (I − γ P_{z,π})⁻¹ r_{z,π},

    by ``num_steps`` Adam steps on θ (gradients through the linear solve). Returns π ``[S, A]``. With a
    single task this is ordinary policy optimization, whose optimum is the greedy policy of value
    iteration."""
    family = check_family(task_family, finite=True)
    discount = check_discount(discount)
    if discount >= 1.0:
        raise ValueError(f"discount must be < 1, got {discount}")
    num_steps = check_positive_integer(num_steps, "num_steps")
    rewards = torch.stack([task.rewards for task in family.tasks])
    logits = torch.zeros(family.num_states, family.num_actions, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=check_learning_rate(lr))
    for _ in range(num_steps):
        policy = torch.softmax(logits, -1)
        loss = -(family.prior * policy_returns(family.transitions, rewards, family.initial, policy, discount)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.softmax(logits.detach(), -1)


def with_hazards(task_family: FiniteTaskFamily, cells, hazard_reward: float) -> FiniteTaskFamily:
    r"""The family with r_z(s, a, s') = ``hazard_reward`` for every step that ends in one of ``cells``
    (state indices), the other rewards unchanged; each task's r_z(s, a) is recomputed as
    Σ_{s'} p_z(s'|s, a) r_z(s, a, s'). With slippery dynamics a hazard beside the short path makes the
    best route depend on the slip."""
    family = check_family(task_family, finite=True)
    cells = torch.as_tensor(cells, dtype=torch.long)
    check_shape(cells, [None], "cells", "hazard state indices [K]")
    if cells.numel() and not 0 <= int(cells.min()) <= int(cells.max()) < family.num_states:
        raise ValueError(f"cells must be state indices in [0, {family.num_states}), got {cells.tolist()}")
    hazard_reward = check_real(hazard_reward, "hazard_reward", "a finite number")
    if not math.isfinite(hazard_reward):
        raise ValueError(f"hazard_reward must be finite, got {hazard_reward}")
    rewards = family.transition_rewards.clone()
    rewards[..., cells] = hazard_reward
    tasks = [task.replace(rewards=(task.transitions * rewards[z]).sum(-1)) for z, task in enumerate(family.tasks)]
    return FiniteTaskFamily.from_tasks(tasks, rewards, family.episode_length, family.prior, family.task_names,
                                       family.name)


# ----------------------------------------------------------------------------------------------------
# Distillation and contextual policies


def distillation_loss(expert_log_policies: torch.Tensor, student_log_policies: torch.Tensor,
                      state_weights: torch.Tensor) -> torch.Tensor:
    r"""L = Σ_z Σ_s w_z(s) Σ_a π_z(a|s) (log π_z(a|s) − log π_θ(a|s, z)); log policies ``[Z, S, A]``,
    weights ``[Z, S]``. Zero-probability expert actions contribute 0 (0 log 0 = 0)."""
    experts = expert_log_policies.exp()
    cross = torch.where(experts > 0, experts * (expert_log_policies - student_log_policies),
                        torch.zeros_like(experts))
    return (state_weights * cross.sum(-1)).sum()


def distillation_optimum(expert_policies, state_weights) -> torch.Tensor:
    r"""The state-only student that minimizes :func:`distillation_loss` in closed form:

        π*(a|s) = Σ_z w_z(s) π_z(a|s) / Σ_z w_z(s)

    (for each s, minimizing Σ_z w_z(s) KL(π_z ‖ π) over π is maximizing Σ_a m(a) log π(a) with
    m(a) = Σ_z w_z(s) π_z(a|s), whose maximizer is m normalized — Gibbs' inequality). Experts
    ``[Z, S, A]``, weights ``[Z, S]`` → ``[S, A]``; a state no task visits gets the plain average."""
    experts, weights = _check_experts(expert_policies, state_weights)
    total = weights.sum(0)
    mixture = (weights[..., None] * experts).sum(0)
    plain = experts.mean(0)
    return torch.where(total[:, None] > 0, mixture / total.clamp_min(torch.finfo(DTYPE).tiny)[:, None], plain)


def state_features(num_tasks: int, num_states: int) -> torch.Tensor:
    """φ(s, z) = one-hot(s), ``[Z, S, S]``: a state-only (context-free) student."""
    return torch.eye(num_states, dtype=DTYPE).expand(num_tasks, num_states, num_states)


def task_state_features(num_tasks: int, num_states: int) -> torch.Tensor:
    """φ(s, z) = one-hot(z, s), ``[Z, S, Z·S]``: a tabular contextual student, one row per (task, state)."""
    return torch.eye(num_tasks * num_states, dtype=DTYPE).reshape(num_tasks, num_states, num_tasks * num_states)


def displacement_features(size: int, goals) -> torch.Tensor:
    r"""φ(s, g) = one-hot(g − s), the goal's (row, column) displacement from the agent, on a size × size
    grid: ``[Z, S, (2·size − 1)²]`` for goal cells ``[Z]`` (row-major state indices). A student on these
    features is goal-conditioned and shares what it learns across goals, so it can act toward goals it
    was not distilled on."""
    size = check_positive_integer(size, "size")
    goals = torch.as_tensor(goals, dtype=torch.long)
    check_shape(goals, [None], "goals", "goal cells [Z]")
    if goals.numel() and not 0 <= int(goals.min()) <= int(goals.max()) < size * size:
        raise ValueError(f"goals must be cell indices in [0, {size * size}), got {goals.tolist()}")
    cells = torch.arange(size * size)
    d_row = goals[:, None] // size - cells // size + size - 1
    d_col = goals[:, None] % size - cells % size + size - 1
    width = 2 * size - 1
    return torch.nn.functional.one_hot(d_row * width + d_col, width * width).to(DTYPE)


def student_log_policies(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """log π_θ(a | s, z) = log softmax_a (φ(s, z) · θ)(a): features ``[Z, S, F]``, θ ``[F, A]`` → ``[Z, S, A]``."""
    return torch.log_softmax(features @ weights, -1)


def distill(expert_policies, state_weights, features, *, num_steps: int = 500) -> torch.Tensor:
    r"""Fit θ ``[F, A]`` of the student π_θ(a | s, z) ∝ exp(φ(s, z) · θ) by minimizing
    :func:`distillation_loss` (convex in θ) with at most ``num_steps`` L-BFGS iterations (strong Wolfe line
    search); experts ``[Z, S, A]``, weights ``[Z, S]``,
    features ``[Z, S, F]``. Returns θ (use :func:`student_log_policies` for the policies, on these or on
    new features)."""
    experts, weights = _check_experts(expert_policies, state_weights)
    features = as_float_tensor(features, "features").detach()
    check_shape(features, [*experts.shape[:2], None], "features", "φ(s, z) [Z, S, F]")
    num_steps = check_positive_integer(num_steps, "num_steps")
    log_experts = torch.log(experts)
    theta = torch.zeros(features.shape[-1], experts.shape[-1], dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=num_steps, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = distillation_loss(log_experts, student_log_policies(features, theta), weights)
        loss.backward()
        return loss

    optimizer.step(closure)
    return theta.detach()


def _check_experts(expert_policies, state_weights) -> tuple[torch.Tensor, torch.Tensor]:
    experts = as_float_tensor(expert_policies, "expert_policies").detach()
    check_shape(experts, [None, None, None], "expert_policies", "π_z(a|s) [Z, S, A]")
    if (experts < 0).any() or not torch.allclose(experts.sum(-1), torch.ones((), dtype=DTYPE), atol=1e-8):
        raise ValueError("expert_policies must be probabilities over the actions (last axis summing to 1)")
    weights = as_float_tensor(state_weights, "state_weights").detach()
    check_shape(weights, list(experts.shape[:2]), "state_weights", "w_z(s) [Z, S] like expert_policies")
    if (weights < 0).any() or not torch.isfinite(weights).all():
        raise ValueError("state_weights must be finite and non-negative")
    return experts, weights


def _check_policy(policy, family: FiniteTaskFamily) -> torch.Tensor:
    policy = as_float_tensor(policy, "policy").detach()
    check_shape(policy, [family.num_states, family.num_actions], "policy", "π(a|s) [S, A]")
    return policy
