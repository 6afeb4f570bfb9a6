r"""MAML: meta-RL by optimization (CS285 notes, "Meta-RL", "Optimization"; Finn et al. 2017,
"Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks").

Each task z has an objective J_z(θ), the expected return of the policy π_θ in MDP_z (a loss
L_z = −J_z). MAML adapts to a task by K policy-gradient steps and trains the initial θ for the return
*after* adaptation:

    θ'_z = θ − α ∇_θ L_z(θ)            (one inner step; K steps repeat it from θ'_z)
    max_θ  E_{z ~ p(z)} [ J_z(θ'_z) ],   ∇_θ J_z(θ'_z) = (I − α ∇²_θ L_z(θ)) ∇_{θ'} J_z(θ'_z)

The outer gradient goes through the inner step by autograd (``create_graph=True``): the Hessian term is
the second-order part; ``first_order=True`` drops it (FOMAML: the inner gradient is held constant).
Pretraining one policy on all tasks (``num_inner_steps=0``) maximizes E_z[J_z(θ)] instead; adapting
it afterwards by the same inner step is the baseline MAML should beat.

Two settings:

* **Tabular softmax policies on a finite family** (:func:`train_tabular_maml`): π_θ,t(a|s) =
  softmax_a θ[t, s, a] ``[T, S, A]``, and J_z(θ) is computed **exactly** by the forward recursion over
  state distributions (:func:`exact_task_returns`), so the inner gradient is the exact policy gradient
  and the meta-gradient is exact too (checked against finite differences in the tests).
* **The 2-D point robot** (:func:`train_point_robot_maml`): a Gaussian policy a ~ N(μ_θ(s), σ²) with
  μ_θ(s) = max_step · tanh(f_θ(s)) and a fixed σ, and sampled REINFORCE gradients in the inner and the
  outer step, batched over the tasks of a meta-batch (each task gets its own copy of θ, so one backward
  pass gives every task's inner gradient). Departures from Finn et al.: σ is not learned (a learned σ
  collapsed towards 0 in our runs, which leaves the inner step nothing to explore with) and the mean is
  squashed into the action box (an unbounded mean drifted, in one seed of three, to where every action is
  clipped alike and the returns collapsed).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_finite,
    check_layer_widths,
    check_learning_rate,
    check_nonnegative,
    check_positive_integer,
    check_real,
    check_seed,
    check_shape,
    shape_str,
)
from pgm_control._progress import progress_bar
from pgm_control.meta.tasks import FiniteTaskFamily, PointRobotFamily, check_family
from pgm_control.rl.policy_gradient import rewards_to_go

# ----------------------------------------------------------------------------------------------------
# Tabular softmax policies with exact returns


def exact_task_returns(logits: torch.Tensor, transitions: torch.Tensor, rewards: torch.Tensor,
                       initial: torch.Tensor, available: torch.Tensor | None = None) -> torch.Tensor:
    r"""J_z(θ) = E[Σ_{t<T} r_z(s_t, a_t)] of the softmax policy π_θ,t(a|s) in each of Z tasks, exactly,
    differentiable in θ (forward recursion over state distributions, Lecture 20's forward pass with the
    policy as the action prior):

        d_0 = p(s_1),   J_z = Σ_t Σ_{s,a} d_t(s) π_t(a|s) r_z(s, a),
        d_{t+1}(s') = Σ_{s,a} d_t(s) π_t(a|s) p_z(s'|s,a)

    ``logits`` θ ``[T, S, A]`` (one policy) or ``[Z, T, S, A]`` (one per task); ``transitions``
    ``[Z, S, A, S']``, ``rewards`` ``[Z, S, A]``, ``initial`` ``[S]``; actions that ``available``
    ``[S, A]`` marks unavailable get probability 0. Returns ``[Z]`` (undiscounted)."""
    logits = as_float_tensor(logits, "logits")
    transitions = as_float_tensor(transitions, "transitions")
    if transitions.dim() != 4 or transitions.shape[1] != transitions.shape[3]:
        raise ValueError(f"transitions must have shape [Z, S, A, S'] (p_z(s'|s,a), S' = S), got "
                         f"{shape_str(transitions.shape)}")
    Z, S, A, _ = transitions.shape
    rewards, initial = as_float_tensor(rewards, "rewards"), as_float_tensor(initial, "initial")
    check_shape(rewards, [Z, S, A], "rewards", "r_z(s, a) [Z, S, A]")
    check_shape(initial, [S], "initial", "p(s_1) [S]")
    if logits.dim() not in (3, 4) or logits.shape[-2:] != (S, A) or (logits.dim() == 4 and logits.shape[0] != Z):
        raise ValueError(f"logits must have shape [T, S, A] or [Z, T, S, A] with S={S}, A={A}, Z={Z}, got "
                         f"{shape_str(logits.shape)}")
    for tensor, name in ((logits, "logits"), (transitions, "transitions"), (rewards, "rewards"),
                         (initial, "initial")):
        check_finite(tensor, name)
    if available is not None:
        available = torch.as_tensor(available, dtype=torch.bool)
        check_shape(available, [S, A], "available", "A(s) mask [S, A]")
    return _exact_task_returns(logits, transitions, rewards, initial, available)


def _exact_task_returns(logits: torch.Tensor, transitions: torch.Tensor, rewards: torch.Tensor,
                        initial: torch.Tensor, available: torch.Tensor | None) -> torch.Tensor:
    if available is not None:
        logits = logits.masked_fill(~available, -math.inf)
    policy = torch.softmax(logits, -1).expand(transitions.shape[0], *logits.shape[-3:])  # [Z, T, S, A]
    occupancy = initial.expand(transitions.shape[0], -1)  # d_t [Z, S]
    total = torch.zeros(transitions.shape[0], dtype=rewards.dtype)
    for t in range(policy.shape[1]):
        joint = occupancy[..., None] * policy[:, t]  # d_t(s) π_t(a|s), [Z, S, A]
        total = total + (joint * rewards).sum((-2, -1))
        occupancy = torch.einsum("zsa,zsat->zt", joint, transitions)
    return total


def _adapt_tabular(logits: torch.Tensor, family: FiniteTaskFamily, inner_lr: float, num_inner_steps: int = 1,
                  first_order: bool = False) -> torch.Tensor:
    r"""θ'_z after ``num_inner_steps`` exact policy-gradient steps θ ← θ + α ∇_θ J_z(θ) in each task
    (module docstring), ``[Z, T, S, A]`` from θ ``[T, S, A]``. Differentiable in θ through the inner
    gradients (second order), unless ``first_order`` (the inner gradients are then constants)."""
    with torch.enable_grad():
        if not logits.requires_grad:
            logits = logits.detach().requires_grad_(True)
        adapted = logits.expand(family.num_tasks, *logits.shape)
        for _ in range(num_inner_steps):
            returns = _family_returns(adapted, family)
            (gradient,) = torch.autograd.grad(returns.sum(), adapted, create_graph=not first_order)
            adapted = adapted + inner_lr * gradient
    return adapted


def tabular_maml_objective(logits, task_family: FiniteTaskFamily, inner_lr: float, num_inner_steps: int = 1,
                           first_order: bool = False) -> torch.Tensor:
    r"""The post-adaptation returns J_z(θ'_z) ``[Z]`` of θ ``[T, S, A]`` (exact; T = ``episode_length``);
    their p(z)-weighted sum is the MAML objective. With ``num_inner_steps=0``, J_z(θ): the
    joint-pretraining objective."""
    family = check_family(task_family, finite=True)
    inner_lr, num_inner_steps, first_order = _check_inner(inner_lr, num_inner_steps, first_order)
    logits = as_float_tensor(logits, "logits")
    check_shape(logits, [family.episode_length, family.num_states, family.num_actions], "logits",
                "θ [T, S, A] (T = episode_length)")
    check_finite(logits, "logits")
    return _maml_objective(logits, family, inner_lr, num_inner_steps, first_order)


def _maml_objective(logits: torch.Tensor, family: FiniteTaskFamily, inner_lr: float, num_inner_steps: int,
                    first_order: bool) -> torch.Tensor:
    return _family_returns(_adapt_tabular(logits, family, inner_lr, num_inner_steps, first_order), family)


@dataclass(frozen=True, eq=False)
class TabularMAMLResult:
    r"""What :func:`train_tabular_maml` returns: the initial ``logits`` θ ``[T, S, A]``, the inner step
    (``inner_lr``, ``num_inner_steps``) it was trained for, and ``objectives`` ``[num_iterations]``,
    E_z[J_z(θ'_z)] before each outer step (NumPy)."""

    logits: torch.Tensor
    inner_lr: float
    num_inner_steps: int
    objectives: np.ndarray

    @property
    def policy(self) -> torch.Tensor:
        """π_θ,t(a|s) ``[T, S, A]`` before adaptation."""
        return torch.softmax(self.logits, -1)


def train_tabular_maml(task_family: FiniteTaskFamily, *, inner_lr: float = 1.0, num_inner_steps: int = 1,
                       first_order: bool = False, num_iterations: int = 500, lr: float = 0.1,
                       progress: bool | None = None) -> TabularMAMLResult:
    r"""MAML with exact gradients on a finite family: Adam ascent on E_z[J_z(θ'_z)] over θ ``[T, S, A]``
    (T = ``episode_length``), from θ = 0 (the uniform policy). ``num_inner_steps=0`` pretrains one
    policy on all tasks. Deterministic (no sampling).

    Example:
        >>> from pgm_control.meta import grid_navigation_tasks
        >>> family = grid_navigation_tasks(3, episode_length=4)
        >>> maml = train_tabular_maml(family, inner_lr=5.0, num_iterations=50)
        >>> joint = train_tabular_maml(family, num_inner_steps=0, num_iterations=50)
        >>> after = [tabular_maml_objective(fit.logits, family, 5.0) @ family.prior for fit in (maml, joint)]
        >>> bool(after[0] > after[1])
        True
    """
    family = check_family(task_family, finite=True)
    inner_lr, num_inner_steps, first_order = _check_inner(inner_lr, num_inner_steps, first_order)
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    lr = check_learning_rate(lr)
    logits = torch.zeros(family.episode_length, family.num_states, family.num_actions, dtype=DTYPE,
                         requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    objectives = []
    work = num_iterations * family.num_tasks * logits.numel() * family.num_states * (num_inner_steps + 1)
    with progress_bar(num_iterations, progress, work, "tabular MAML") as bar:
        for _ in range(num_iterations):
            objective = _maml_objective(logits, family, inner_lr, num_inner_steps, first_order) @ family.prior
            optimizer.zero_grad()
            (-objective).backward()
            optimizer.step()
            objectives.append(float(objective.detach()))
            bar.update()
    return TabularMAMLResult(logits.detach(), inner_lr, num_inner_steps, np.array(objectives))


def _family_returns(logits: torch.Tensor, family: FiniteTaskFamily) -> torch.Tensor:
    rewards = torch.stack([task.rewards for task in family.tasks])
    return _exact_task_returns(logits, family.transitions, rewards, family.initial,
                               family.tasks[0].available_actions)


# ----------------------------------------------------------------------------------------------------
# The point robot: a Gaussian policy and sampled policy gradients


def init_gaussian_policy(hidden=(), log_std: float = math.log(0.05),
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    r"""Parameters θ of the point robot's Gaussian policy a ~ N(μ_θ(s), diag σ²), μ_θ(s) = max_step ·
    tanh(f_θ(s)): the weights and biases ``(W_1, b_1, ..., W_L, b_L)`` of a tanh perceptron f_θ
    (``hidden=()``: linear, f = W s + b, which can express a = max_step · tanh(k (g − s)), heading for the
    goal g and slowing down on it), then log σ ``[2]``, a constant (neither trained nor adapted). Float64;
    W scaled by 1/√fan-in, the output layer and b at 0."""
    widths = (2, *check_layer_widths(hidden), 2)
    log_std = check_real(log_std, "log_std", "a finite number (log σ of the Gaussian policy)")
    if not math.isfinite(log_std):
        raise ValueError(f"log_std must be a finite number (log σ of the Gaussian policy), got {log_std}")
    params = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        scale = 0.0 if i == len(widths) - 2 else 1.0 / math.sqrt(fan_in)
        params += [scale * torch.randn(fan_in, fan_out, dtype=DTYPE, generator=generator),
                   torch.zeros(fan_out, dtype=DTYPE)]
    return (*(p.requires_grad_(True) for p in params), torch.full((2,), log_std, dtype=DTYPE))


def _gaussian_policy_mean(params, states: torch.Tensor, max_step: float) -> torch.Tensor:
    """μ_θ(s) = max_step · tanh(f_θ(s)) ``[M, K, 2]`` for per-task parameters (each with a leading task
    axis M) and states ``[M, K, 2]``: the mean stays inside the action box, so a large step of θ cannot
    push it where every action is clipped alike and the score no longer tells good from bad actions."""
    *layers, _ = params
    hidden = states
    for i in range(0, len(layers), 2):
        if i:
            hidden = torch.tanh(hidden)
        hidden = hidden @ layers[i] + layers[i + 1][:, None, :]
    return max_step * torch.tanh(hidden)


@dataclass(frozen=True, eq=False)
class _Episodes:
    """K episodes in each of M tasks: ``states`` ``[M, K, T+1, 2]``, ``actions`` ``[M, K, T, 2]``,
    ``rewards`` and ``log_probs`` (log π_θ(a_t|s_t), differentiable in θ) ``[M, K, T]``."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    log_probs: torch.Tensor


def _sample_episodes(params, family: PointRobotFamily, tasks: torch.Tensor, num_episodes: int,
                                generator: torch.Generator | None = None) -> _Episodes:
    """Run K = ``num_episodes`` episodes of the Gaussian policy in each of the tasks ``[M]`` (angles), with
    per-task parameters (leading axis M)."""
    num_tasks = tasks.shape[0]
    states = family.reset(num_tasks * num_episodes).reshape(num_tasks, num_episodes, 2)
    angles = tasks[:, None].expand(num_tasks, num_episodes)
    std = params[-1].exp()[:, None, :]
    trajectory, actions, rewards, log_probs = [states], [], [], []
    for _ in range(family.episode_length):
        mean = _gaussian_policy_mean(params, states, family.max_step)
        action = (mean + std * torch.randn(mean.shape, dtype=DTYPE, generator=generator)).detach()
        log_probs.append(torch.distributions.Normal(mean, std).log_prob(action).sum(-1))
        states, reward = family.step(angles, states, action)
        trajectory.append(states)
        actions.append(action)
        rewards.append(reward)
    return _Episodes(torch.stack(trajectory, 2), torch.stack(actions, 2), torch.stack(rewards, 2),
                              torch.stack(log_probs, 2))


def _reinforce_loss(episodes: _Episodes) -> torch.Tensor:
    r"""L_z(θ) ``[M]``, the policy-gradient loss of each task from its K ≥ 2 episodes, written with DiCE's
    "magic box" ⊡(x) = exp(x − stopgrad(x)) (value 1, gradient ∇x; Foerster et al. 2018, "DiCE"):

        L_z = −(1/K) Σ_k Σ_t [ ⊡(Σ_{t' ≤ t} ℓ_{t'}^k) r_t^k + (1 − ⊡(ℓ_t^k)) b_t^k ],   ℓ_t^k = log π_θ(a_t^k | s_t^k)

    Its gradient is REINFORCE's, −(1/K) Σ_k Σ_t ∇ log π_θ(a_t^k | s_t^k) (G_t^k − b_t^k) with the
    reward-to-go G_t = Σ_{t' ≥ t} r_{t'}; b_t^k is the mean reward-to-go at t of the task's other K − 1
    episodes (a baseline that leaves the estimate unbiased). Unlike the usual surrogate
    Σ log π (G − b), its Hessian is also an unbiased estimate (it keeps the score outer products
    ∇ log π ∇ log πᵀ), so the second-order MAML gradient through the inner step is unbiased too."""
    to_go = rewards_to_go(episodes.rewards.flatten(0, 1)).reshape(episodes.rewards.shape)
    num_episodes = to_go.shape[1]
    baseline = (to_go.sum(1, keepdim=True) - to_go) / (num_episodes - 1)
    log_probs = episodes.log_probs
    dice = (_magic_box(log_probs.cumsum(-1)) * episodes.rewards + (1.0 - _magic_box(log_probs)) * baseline)
    return -dice.sum(-1).mean(-1)


def _magic_box(x: torch.Tensor) -> torch.Tensor:
    """⊡(x) = exp(x − stopgrad(x)): 1 in value, ∇x in gradient, at every order."""
    return torch.exp(x - x.detach())


def _adapt_point_robot(params, family: PointRobotFamily, tasks: torch.Tensor, inner_lr: float,
                      num_inner_steps: int = 1, num_episodes: int = 10, first_order: bool = False,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    r"""θ'_z = θ − α ∇_θ L_z(θ) for each of the M tasks, each inner step on K = ``num_episodes`` fresh
    episodes of the current policy: per-task parameters with a leading axis M. Differentiable in θ
    (second order) unless ``first_order``."""
    with torch.enable_grad():
        *adapted, log_std = (p.expand(tasks.shape[0], *p.shape) for p in params)
        for _ in range(num_inner_steps):
            loss = _reinforce_loss(_sample_episodes((*adapted, log_std), family, tasks, num_episodes, generator))
            gradients = torch.autograd.grad(loss.sum(), adapted, create_graph=not first_order)
            adapted = [p - inner_lr * g for p, g in zip(adapted, gradients)]
    return (*adapted, log_std)


@dataclass(frozen=True, eq=False)
class PointRobotMAMLResult:
    r"""What :func:`train_point_robot_maml` returns: the initial ``params`` θ, the inner step (``inner_lr``,
    ``num_inner_steps``, ``num_episodes`` per step) and ``mean_returns`` ``[num_iterations]``, the mean
    return per episode after adaptation at each iteration (NumPy)."""

    params: tuple[torch.Tensor, ...]
    inner_lr: float
    num_inner_steps: int
    num_episodes: int
    mean_returns: np.ndarray


def train_point_robot_maml(task_family: PointRobotFamily, *, inner_lr: float = 0.1, num_inner_steps: int = 1,
                           first_order: bool = False, num_iterations: int = 300, meta_batch_size: int = 20,
                           num_episodes: int = 10, lr: float = 0.02, hidden=(), seed: int = 0,
                           progress: bool | None = None) -> PointRobotMAMLResult:
    r"""MAML on the point robot (module docstring): each iteration draws M = ``meta_batch_size`` goals,
    adapts θ to each by ``num_inner_steps`` REINFORCE steps on ``num_episodes`` episodes, samples fresh
    episodes with θ'_z and takes one Adam step on −(1/M) Σ_z L_z(θ'_z) through the adaptation.
    ``num_inner_steps=0`` pretrains one policy on all goals. The outer gradient is autograd's derivative
    through θ'_z of a loss written with DiCE's magic box, so it keeps the dependence of the inner episodes'
    distribution on θ that the plain REINFORCE surrogate drops (the original implementation's bias)."""
    family = check_family(task_family)
    if not isinstance(family, PointRobotFamily):
        raise TypeError(f"task_family must be a PointRobotFamily (point_robot_tasks()), got {type(family).__name__}")
    inner_lr, num_inner_steps, first_order = _check_inner(inner_lr, num_inner_steps, first_order)
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    meta_batch_size = check_positive_integer(meta_batch_size, "meta_batch_size")
    num_episodes = _check_episodes(num_episodes)
    lr = check_learning_rate(lr)
    generator = torch.Generator().manual_seed(check_seed(seed))
    params = init_gaussian_policy(hidden, generator=generator)
    optimizer = torch.optim.Adam(params[:-1], lr=lr)
    mean_returns = []
    work = num_iterations * meta_batch_size * num_episodes * family.episode_length * (num_inner_steps + 1) * 100
    with progress_bar(num_iterations, progress, work, "point-robot MAML") as bar:
        for _ in range(num_iterations):
            tasks = family.sample(meta_batch_size, generator)
            adapted = _adapt_point_robot(params, family, tasks, inner_lr, num_inner_steps, num_episodes,
                                        first_order, generator)
            episodes = _sample_episodes(adapted, family, tasks, num_episodes, generator)
            optimizer.zero_grad()
            _reinforce_loss(episodes).mean().backward()
            optimizer.step()
            mean_returns.append(float(episodes.rewards.sum(-1).mean()))
            bar.update()
    return PointRobotMAMLResult(tuple(p.detach() for p in params), inner_lr, num_inner_steps, num_episodes,
                                np.array(mean_returns))


def evaluate_point_robot(params, task_family: PointRobotFamily, *, inner_lr: float, num_inner_steps: int = 1,
                         num_episodes: int = 10, num_tasks: int = 200, seed: int = 0) -> torch.Tensor:
    r"""The mean return per episode ``[num_tasks]`` after adapting ``params`` (from
    :func:`train_point_robot_maml`) to fresh goals z ~ p(z) by ``num_inner_steps`` inner steps of
    ``inner_lr`` on ``num_episodes`` episodes each, then running ``num_episodes`` episodes of θ'_z
    (``num_inner_steps=0``: the return before adaptation)."""
    family = check_family(task_family)
    params = _check_params(params)
    inner_lr, num_inner_steps, _ = _check_inner(inner_lr, num_inner_steps, True)
    num_episodes = _check_episodes(num_episodes)
    generator = torch.Generator().manual_seed(check_seed(seed))
    tasks = family.sample(check_positive_integer(num_tasks, "num_tasks"), generator)
    adapted = _adapt_point_robot(params, family, tasks, inner_lr, num_inner_steps, num_episodes, True, generator)
    with torch.no_grad():
        episodes = _sample_episodes(adapted, family, tasks, num_episodes, generator)
    return episodes.rewards.sum(-1).mean(-1)


def _check_params(params) -> tuple[torch.Tensor, ...]:
    """θ as :func:`init_gaussian_policy` lays it out: (W_1, b_1, ..., W_L, b_L, log σ), float tensors;
    returned detached, as fresh leaves."""
    if (not isinstance(params, (tuple, list)) or len(params) < 3 or len(params) % 2 == 0
            or not all(isinstance(p, torch.Tensor) and p.is_floating_point() for p in params)
            or params[-1].shape != (2,)):
        raise TypeError("params must be the policy parameters (W_1, b_1, ..., W_L, b_L, log σ) of "
                        "init_gaussian_policy or train_point_robot_maml(...).params")
    return (*(p.detach().to(DTYPE).requires_grad_(True) for p in params[:-1]), params[-1].detach().to(DTYPE))


def _check_inner(inner_lr, num_inner_steps, first_order) -> tuple[float, int, bool]:
    inner_lr = check_nonnegative(inner_lr, "inner_lr", " (the step size α of the inner step)")
    num_inner_steps = check_positive_integer(num_inner_steps, "num_inner_steps", allow_zero=True)
    if not isinstance(first_order, bool):
        raise TypeError(f"first_order must be True or False, got {first_order!r}")
    return inner_lr, num_inner_steps, first_order


def _check_episodes(num_episodes) -> int:
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    if num_episodes < 2:
        raise ValueError(f"num_episodes must be at least 2 (the baseline of each episode is the mean of the "
                         f"others), got {num_episodes}")
    return num_episodes
