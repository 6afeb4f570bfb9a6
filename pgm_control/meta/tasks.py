r"""Task families: the task as a latent variable z ~ p(z) (CS285 notes, "Meta-RL", "Latent Model").

A meta-RL problem draws a task z from a family, then lets the agent act in the MDP_z for several episodes
of ``episode_length`` steps; between episodes the agent returns to p(s_1) while z stays. Every family
here has the same small interface (:class:`TaskFamily`):

* ``prior``: p(z), a ``[Z]`` probability vector for a finite family or a torch distribution for a
  continuous one;
* ``episode_length``: T, the steps of one episode;
* ``sample(num_runs, generator)``: z for R independent runs;
* ``reset(num_runs)`` and ``step(tasks, states, actions, generator)``: a batched simulator, one tensor
  operation per step for R runs, each in its own task (for RL², MAML and PEARL).

A finite family (:class:`FiniteTaskFamily`) also holds its ``tasks``, each an ordinary
:class:`~pgm_control.TabularMDP`, and the reward observed on each transition, r_z(s, a, s') ``[Z, S, A, S']``.
That reward is what makes rewards informative about z: in grid navigation a step that ends on a cell
and pays −0.1 rules that cell out as the goal. The MDPs store the expected reward
r_z(s, a) = Σ_{s'} p_z(s'|s,a) r_z(s, a, s') as usual.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyro.distributions as dist
import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_distribution,
    check_finite,
    check_positive,
    check_positive_integer,
    check_shape,
    shape_str,
)
from pgm_control.envs.grid import GridLayout
from pgm_control.mdp import TabularMDP

NAVIGATION_ACTIONS = ("stay", "up", "down", "left", "right")
# (row, column) displacement of stay, up, down, left, right.
NAVIGATION_MOVES = torch.tensor([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])
GOAL_REWARD, STEP_REWARD = 1.0, -0.1
# Tasks of a bandit family built for exact Bayes-adaptive planning: beyond this many the belief vectors
# of the recursion grow too large.
MAX_BANDIT_TASKS = 4096


class TaskFamily(abc.ABC):
    """The common interface of the task families (module docstring): the attributes ``prior`` (p(z), a
    ``[Z]`` probability vector for a finite family, a torch distribution for a continuous one) and
    ``episode_length`` (T), and the methods below."""

    @abc.abstractmethod
    def sample(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z for R runs: task indices ``[R]`` (finite) or task parameters ``[R, ...]`` (continuous)."""

    @abc.abstractmethod
    def reset(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The first states ``[R, ...]`` of R runs, s_1 ~ p(s_1)."""

    @abc.abstractmethod
    def step(self, tasks, states, actions, generator: torch.Generator | None = None):
        """One step of R runs, run r in task ``tasks[r]``: returns ``(next_states, rewards)``."""


@dataclass(frozen=True, eq=False)
class FiniteTaskFamily(TaskFamily):
    r"""Z tabular tasks sharing states, actions and p(s_1), with a prior p(z).

    Fields: ``tasks`` (Z :class:`~pgm_control.TabularMDP`), ``prior`` ``[Z]``, ``transition_rewards``
    r_z(s, a, s') ``[Z, S, A, S']`` (the reward observed on each transition), ``episode_length`` T,
    ``task_names`` (one label per task), ``name`` (the family).

    Build it with :func:`grid_navigation_tasks`, :func:`bandit_tasks`, :func:`beta_bandit_tasks`,
    :func:`slippery_grid_tasks`, or :meth:`from_tasks`.
    """

    tasks: tuple[TabularMDP, ...]
    prior: torch.Tensor
    transition_rewards: torch.Tensor
    episode_length: int
    task_names: tuple[str, ...]
    name: str = "tasks"

    @classmethod
    def from_tasks(cls, tasks, transition_rewards, episode_length: int, prior=None, task_names=None,
                   name: str = "tasks") -> FiniteTaskFamily:
        """Validate and build a family from Z MDPs and their rewards r_z(s, a, s') ``[Z, S, A, S']``
        (prior uniform by default)."""
        tasks = tuple(tasks)
        if not tasks or not all(isinstance(task, TabularMDP) for task in tasks):
            raise TypeError("tasks must be a non-empty sequence of pgm_control.TabularMDP")
        first = tasks[0]
        S, A, Z = first.num_states, first.num_actions, len(tasks)
        for z, task in enumerate(tasks):
            if (task.num_states, task.num_actions) != (S, A):
                raise ValueError(f"every task must have S={S} states and A={A} actions like tasks[0], got "
                                 f"S={task.num_states}, A={task.num_actions} for tasks[{z}]")
            if not torch.equal(task.initial, first.initial):
                raise ValueError(f"every task must share p(s_1) with tasks[0] (the reset does not depend on "
                                 f"the task), tasks[{z}] differs")
            if not torch.equal(task.available_actions, first.available_actions):
                raise ValueError(f"every task must share the available actions of tasks[0], tasks[{z}] differs")
        rewards = as_float_tensor(transition_rewards, "transition_rewards").detach()
        check_shape(rewards, [Z, S, A, S], "transition_rewards", "r_z(s, a, s') [Z, S, A, S']")
        check_finite(rewards, "transition_rewards")
        if prior is None:
            prior = torch.full((Z,), 1.0 / Z, dtype=DTYPE)
        prior = as_float_tensor(prior, "prior").detach()
        check_shape(prior, [Z], "prior", "p(z) [Z]")
        check_distribution(prior, "prior", "p(z) over the Z tasks")
        episode_length = check_positive_integer(episode_length, "episode_length")
        names = tuple(task_names) if task_names is not None else tuple(f"task {z}" for z in range(Z))
        if len(names) != Z:
            raise ValueError(f"task_names must name the Z={Z} tasks, got {len(names)} names")
        return cls(tasks, prior, rewards, episode_length, names, name)

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def num_states(self) -> int:
        return self.tasks[0].num_states

    @property
    def num_actions(self) -> int:
        return self.tasks[0].num_actions

    @property
    def initial(self) -> torch.Tensor:
        """p(s_1) ``[S]``, shared by the tasks."""
        return self.tasks[0].initial

    @cached_property
    def transitions(self) -> torch.Tensor:
        """p_z(s' | s, a) of every task, ``[Z, S, A, S']`` (stacked once, for batched simulation)."""
        return torch.stack([task.transitions for task in self.tasks])

    def sample(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Task indices z ~ p(z) ``[R]``."""
        num_runs = check_positive_integer(num_runs, "num_runs")
        return torch.multinomial(self.prior, num_runs, replacement=True, generator=generator)

    def reset(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """s_1 ~ p(s_1) for R runs, ``[R]``."""
        num_runs = check_positive_integer(num_runs, "num_runs")
        return torch.multinomial(self.initial, num_runs, replacement=True, generator=generator)

    def step(self, tasks, states, actions, generator: torch.Generator | None = None):
        """s' ~ p_z(s'|s, a) and r_z(s, a, s') for R runs: ``tasks``, ``states``, ``actions`` ``[R]`` →
        ``(next_states [R], rewards [R])``."""
        tasks = self._read_indices(tasks, "tasks", self.num_tasks)
        states = self._read_indices(states, "states", self.num_states, tasks.shape[0])
        actions = self._read_indices(actions, "actions", self.num_actions, tasks.shape[0])
        return self._step(tasks, states, actions, generator)

    def _step(self, tasks: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
              generator: torch.Generator | None = None):
        """:meth:`step` without validation, for training loops whose indices come from the family itself."""
        probs = self.transitions[tasks, states, actions]
        next_states = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return next_states, self.transition_rewards[tasks, states, actions, next_states]

    @staticmethod
    def _read_indices(values, name: str, size: int, length: int | None = None) -> torch.Tensor:
        values = as_index_tensor(values, name)
        check_shape(values, [length], name, "one index per run [R]")
        if values.numel() and not 0 <= int(values.min()) <= int(values.max()) < size:
            raise ValueError(f"{name} must be indices in [0, {size}), got values in "
                             f"[{int(values.min())}, {int(values.max())}]")
        return values


# ----------------------------------------------------------------------------------------------------
# Grid navigation and slippery grids


def navigation_goals(size: int) -> torch.Tensor:
    """The goal cells of :func:`grid_navigation_tasks`: every cell of a size × size grid except the start
    (0, 0) and its neighbours (0, 1), (1, 0), (1, 1), as row-major state indices ``[size² − 4]``."""
    cells = torch.arange(size * size)
    return cells[(cells // size >= 2) | (cells % size >= 2)]


def grid_navigation_tasks(size: int, episode_length: int) -> FiniteTaskFamily:
    r"""Grid navigation with an unknown goal (VariBAD's GridNavi; Zintgraf et al. 2020, "VariBAD").

    A size × size grid, states the cells in row-major order (row 0 at the top); the agent starts in the
    top-left cell; actions stay / up / down / left / right, a move into a wall leaves the agent in place.
    The goal z is uniform over every cell except the start and its three neighbours (5 goals for
    size 3, 12 for size 4, 21 for size 5). Each step pays r_z(s, a, s') = +1 if s' is the goal and
    −0.1 otherwise; the goal is not terminal. After each episode of ``episode_length`` steps the agent
    returns to the start and the goal stays.

    Example:
        >>> family = grid_navigation_tasks(3, episode_length=4)
        >>> family.num_tasks, family.num_states, family.num_actions
        (5, 9, 5)
        >>> family.task_names[0], family.tasks[0].rewards[1, 4].item()  # right from (0, 1)
        ('goal (0, 2)', 1.0)
    """
    size = _check_size(size)
    episode_length = check_positive_integer(episode_length, "episode_length")
    goals = navigation_goals(size)
    return _goal_grid_family(size, _grid_transitions(size, 0.0), goals, episode_length, "grid navigation")


def slippery_grid_tasks(size: int, slips=(0.0, 0.2, 0.4), episode_length: int = 8, prior=None,
                        goal: int | None = None) -> FiniteTaskFamily:
    r"""Grids whose dynamics vary: task z slips with probability slip_z (a finite set, prior uniform by
    default). The grid, actions and rewards are those of :func:`grid_navigation_tasks` with one known goal
    (the bottom-right cell by default, a row-major state index otherwise); a move other than stay goes in
    one of the two perpendicular directions with probability slip_z / 2 each.

    Example:
        >>> family = slippery_grid_tasks(3, slips=[0.0, 0.5], episode_length=3)
        >>> family.num_tasks, family.tasks[1].transitions[0, 4].tolist()  # right from (0, 0)
        (2, [0.25, 0.5, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0])
    """
    size = _check_size(size)
    episode_length = check_positive_integer(episode_length, "episode_length")
    slips = as_float_tensor(slips, "slips").detach()
    check_shape(slips, [None], "slips", "one slip probability per task [Z]")
    check_finite(slips, "slips")
    if slips.numel() == 0 or slips.min() < 0 or slips.max() > 1:
        raise ValueError(f"slips must be a non-empty list of probabilities in [0, 1], got {slips.tolist()}")
    if goal is None:
        goal = size * size - 1
    goal = check_positive_integer(goal, "goal", allow_zero=True)
    if goal >= size * size:
        raise ValueError(f"goal must be a cell index in [0, {size * size}), got {goal}")
    transitions = torch.stack([_grid_transitions(size, float(slip)) for slip in slips])
    family = _goal_grid_family(size, transitions, torch.full((len(slips),), goal), episode_length,
                               "slippery grids", prior)
    names = tuple(f"slip {float(slip):g}" for slip in slips)
    return FiniteTaskFamily(family.tasks, family.prior, family.transition_rewards, episode_length, names,
                            family.name)


def _check_size(size) -> int:
    size = check_positive_integer(size, "size")
    if size < 3:
        raise ValueError(f"size must be at least 3 (the start and its neighbours are no goals), got {size}")
    return size


def _grid_transitions(size: int, slip: float) -> torch.Tensor:
    """p(s' | s, a) ``[S, A, S']`` of the navigation grid: a move goes straight with probability 1 − slip
    and in each perpendicular direction with slip / 2; moves off the grid stay in place."""
    cells = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij"), -1).reshape(-1, 2)
    targets = (cells[:, None] + NAVIGATION_MOVES).clamp(0, size - 1)  # [S, A, 2]
    index = targets[..., 0] * size + targets[..., 1]  # [S, A]
    straight = torch.nn.functional.one_hot(index, size * size).to(DTYPE)
    # Perpendicular directions of stay, up, down, left, right (stay slips into itself).
    sideways = straight[:, [[0, 0], [3, 4], [3, 4], [1, 2], [1, 2]]].mean(2)
    return (1.0 - slip) * straight + slip * sideways


def _goal_grid_family(size: int, transitions: torch.Tensor, goals: torch.Tensor, episode_length: int,
                      name: str, prior=None) -> FiniteTaskFamily:
    """One grid task per goal (transitions ``[S, A, S']`` shared, or ``[Z, S, A, S']`` per task)."""
    S = size * size
    Z = goals.shape[0]
    transitions = transitions.expand(Z, S, len(NAVIGATION_ACTIONS), S)
    on_goal = torch.nn.functional.one_hot(goals, S).bool()  # [Z, S']
    rewards = torch.where(on_goal, torch.tensor(GOAL_REWARD, dtype=DTYPE), torch.tensor(STEP_REWARD, dtype=DTYPE))
    rewards = rewards[:, None, None, :]
    rewards = rewards.expand(Z, S, len(NAVIGATION_ACTIONS), S).contiguous()
    initial = torch.nn.functional.one_hot(torch.tensor(0), S).to(DTYPE)
    cells = torch.stack([torch.arange(S) // size, torch.arange(S) % size], -1)
    tasks = []
    for z in range(Z):
        kinds = np.full((size, size), ".")
        kinds[0, 0] = "S"
        kinds[int(goals[z]) // size, int(goals[z]) % size] = "G"
        layout = GridLayout((size, size), cells, kinds, moves=NAVIGATION_MOVES)
        tasks.append(TabularMDP(transitions[z], rewards[z], initial, action_names=NAVIGATION_ACTIONS,
                                layout=layout))
    names = tuple(f"goal ({int(g) // size}, {int(g) % size})" for g in goals)
    return FiniteTaskFamily.from_tasks(tasks, rewards, episode_length, prior, names, name)


# ----------------------------------------------------------------------------------------------------
# Bandits


def bandit_tasks(means, prior=None, episode_length: int = 1) -> FiniteTaskFamily:
    r"""A finite family of Bernoulli bandits (CS285 notes, "Multi-Arm Bandits Problem"): task z pays
    r ~ Bernoulli(μ_{z,a}) for arm a, with ``means`` μ ``[Z, A]`` and p(z) = ``prior`` (uniform by default).

    Each bandit is a two-state MDP: state 0 "no reward" (the start), state 1 "reward"; pulling arm a
    from either state moves to state 1 with probability μ_{z,a} and pays r_z(s, a, s') = 1[s' = 1], so the
    MDP's expected reward is r_z(s, a) = μ_{z,a}. The state carries no information about the future, so
    num_episodes episodes of T pulls are one bandit game of num_episodes · T pulls.

    Example:
        >>> family = bandit_tasks([[0.2, 0.8], [0.8, 0.2]])
        >>> family.tasks[0].rewards.tolist()
        [[0.2, 0.8], [0.2, 0.8]]
    """
    means = as_float_tensor(means, "means").detach()
    check_shape(means, [None, None], "means", "μ_{z,a} [Z, A]")
    check_finite(means, "means")
    if means.numel() == 0 or means.min() < 0 or means.max() > 1:
        raise ValueError(f"means must be a non-empty [Z, A] table of probabilities in [0, 1], got shape "
                         f"{shape_str(means.shape)}")
    Z, A = means.shape
    paid = means[:, None, :].expand(Z, 2, A)  # p(s' = 1 | s, a) for s = 0, 1
    transitions = torch.stack([1.0 - paid, paid], -1)  # [Z, 2, A, 2]
    rewards = torch.tensor([0.0, 1.0], dtype=DTYPE).expand(Z, 2, A, 2).contiguous()
    initial = torch.tensor([1.0, 0.0], dtype=DTYPE)
    tasks = [TabularMDP(transitions[z], rewards[z], initial, state_names=("no reward", "reward"))
             for z in range(Z)]
    names = tuple("μ = (" + ", ".join(f"{float(m):.3g}" for m in row) + ")" for row in means)
    return FiniteTaskFamily.from_tasks(tasks, rewards, episode_length, prior, names, "Bernoulli bandits")


def beta_bandit_tasks(prior_successes, prior_failures, num_pulls: int) -> FiniteTaskFamily:
    r"""A finite bandit family equivalent, over at most ``num_pulls`` pulls, to the Beta–Bernoulli bandit
    μ_a ~ Beta(α_a, β_a) of :func:`pgm_control.exploration.bayes_optimal_bandit`.

    The probability of any history of H pulls is a polynomial of degree at most H in each μ_a, so any
    expected return over H pulls (the Bayes-optimal one included) depends on the prior only through its
    moments E[μ_a^k], k ≤ H. An n-point Gauss–Jacobi rule for the Beta(α_a, β_a) density matches
    them for k ≤ 2n − 1, so n = ⌈(H + 1) / 2⌉ atoms per arm, with their weights as p(z), give the product
    family of n^A bandits the same Bayes-adaptive values as the Beta prior (up to rounding).

    Example:
        >>> beta_bandit_tasks([1, 1], [1, 1], num_pulls=3).num_tasks
        4
    """
    alpha = as_float_tensor(prior_successes, "prior_successes").detach()
    beta = as_float_tensor(prior_failures, "prior_failures").detach()
    check_shape(alpha, [None], "prior_successes", "α per arm [A]")
    check_shape(beta, [alpha.shape[0]], "prior_failures", "β per arm [A]")
    for tensor, label in ((alpha, "prior_successes"), (beta, "prior_failures")):
        check_finite(tensor, label)
        if tensor.numel() == 0 or (tensor <= 0).any():
            raise ValueError(f"{label} must be positive Beta parameters, one per arm, got {tensor.tolist()}")
    num_pulls = check_positive_integer(num_pulls, "num_pulls")
    atoms = (num_pulls + 2) // 2
    num_arms = alpha.shape[0]
    if atoms ** num_arms > MAX_BANDIT_TASKS:
        raise ValueError(f"{num_arms} arms over num_pulls={num_pulls} need {atoms}^{num_arms} tasks, more than "
                         f"{MAX_BANDIT_TASKS}: use fewer arms or fewer pulls")
    nodes, weights = zip(*(_beta_quadrature(float(a), float(b), atoms) for a, b in zip(alpha, beta)))
    grids = torch.meshgrid(*nodes, indexing="ij")
    means = torch.stack([g.reshape(-1) for g in grids], -1)  # [n^A, A]
    prior = math.prod(torch.meshgrid(*weights, indexing="ij")).reshape(-1)
    return bandit_tasks(means, prior / prior.sum(), episode_length=1)


def _beta_quadrature(alpha: float, beta: float, atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Nodes in (0, 1) and weights (summing to 1) of the n-point Gauss rule for the Beta(α, β) density:
    Gauss–Jacobi on [−1, 1] with weight (1 − x)^a (1 + x)^b, a = β − 1, b = α − 1, x = 2μ − 1, by
    Golub–Welsch (the eigenvalues of the Jacobi matrix of the monic recurrence, weights from the first
    components of its eigenvectors). Recurrence (with the removable 0/0 of k = 0 and 1 cancelled):

        α_k = (b² − a²) / ((2k + a + b)(2k + a + b + 2)),     α_0 = (b − a) / (a + b + 2)
        β_k = 4k (k + a)(k + b)(k + a + b) / ((2k + a + b)² (2k + a + b + 1)(2k + a + b − 1)),
        β_1 = 4 (1 + a)(1 + b) / ((2 + a + b)² (3 + a + b))
    """
    a, b = beta - 1.0, alpha - 1.0
    k = torch.arange(atoms, dtype=DTYPE)
    c = 2 * k + a + b
    diagonal = (b * b - a * a) / (c * (c + 2))
    diagonal[0] = (b - a) / (a + b + 2)
    off = 4 * k * (k + a) * (k + b) * (k + a + b) / (c * c * (c + 1) * (c - 1))
    if atoms > 1:
        off[1] = 4 * (1 + a) * (1 + b) / ((2 + a + b) ** 2 * (3 + a + b))
    jacobi = torch.diag(diagonal) + torch.diag(off[1:].sqrt(), 1) + torch.diag(off[1:].sqrt(), -1)
    x, vectors = torch.linalg.eigh(jacobi)
    weights = vectors[0] ** 2
    return (x + 1.0) / 2.0, weights / weights.sum()


def check_family(task_family, finite: bool = False) -> TaskFamily:
    """``task_family`` must be a :class:`~pgm_control.meta.TaskFamily` (a
    :class:`~pgm_control.meta.FiniteTaskFamily` when ``finite``)."""
    expected = FiniteTaskFamily if finite else TaskFamily
    if not isinstance(task_family, expected):
        what = "a finite task family (FiniteTaskFamily, e.g. grid_navigation_tasks(3, 4))" if finite else \
            "a TaskFamily (e.g. grid_navigation_tasks(3, 4) or point_robot_tasks())"
        raise TypeError(f"task_family must be {what}, got {type(task_family).__name__}")
    return task_family



# ----------------------------------------------------------------------------------------------------
# The 2-D point robot


@dataclass(frozen=True, eq=False)
class PointRobotFamily(TaskFamily):
    r"""A 2-D point robot whose goal lies on a half circle (Finn et al. 2017, "MAML"; Rakelly et al. 2019,
    "PEARL"): the task z is the goal's angle, z ~ Uniform(0, π), goal g(z) = radius · (cos z, sin z). Each
    run starts at the origin; the action a ∈ R² is clipped to [−max_step, max_step]² and
    s' = s + clip(a); the reward is r = −‖s' − g(z)‖. Fields: ``radius``, ``episode_length``,
    ``max_step``. States ``[R, 2]``, actions ``[R, 2]``, tasks (angles) ``[R]``.

    Example:
        >>> family = point_robot_tasks(episode_length=5)
        >>> states, rewards = family.step(torch.tensor([0.0]), family.reset(1), torch.tensor([[1.0, 0.0]]))
        >>> states.tolist(), round(rewards.item(), 6)
        ([[0.1, 0.0]], -0.9)
    """

    radius: float = 1.0
    episode_length: int = 20
    max_step: float = 0.1

    @property
    def prior(self) -> dist.Uniform:
        """p(z) = Uniform(0, π) over the goal angle (a Pyro distribution)."""
        return dist.Uniform(torch.tensor(0.0, dtype=DTYPE), torch.tensor(math.pi, dtype=DTYPE))

    def goals(self, tasks) -> torch.Tensor:
        """g(z) = radius · (cos z, sin z), ``[..., 2]`` for angles ``[...]``."""
        tasks = as_float_tensor(tasks, "tasks")
        return self.radius * torch.stack([torch.cos(tasks), torch.sin(tasks)], -1)

    def sample(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Goal angles z ~ Uniform(0, π), ``[R]``."""
        num_runs = check_positive_integer(num_runs, "num_runs")
        return math.pi * torch.rand(num_runs, dtype=DTYPE, generator=generator)

    def reset(self, num_runs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Every run starts at the origin, ``[R, 2]``."""
        return torch.zeros(check_positive_integer(num_runs, "num_runs"), 2, dtype=DTYPE)

    def step(self, tasks, states, actions, generator: torch.Generator | None = None):
        """s' = s + clip(a) and r = −‖s' − g(z)‖ for R runs (any batch shape ``[...]``): angles ``[...]``,
        states and actions ``[..., 2]`` → ``(next_states [..., 2], rewards [...])``."""
        states, actions = as_float_tensor(states, "states"), as_float_tensor(actions, "actions")
        goals = self.goals(tasks)
        for tensor, name in ((states, "states"), (actions, "actions")):
            if tensor.shape != goals.shape:
                raise ValueError(f"{name} must have shape [..., 2] = {shape_str(goals.shape)} (one 2-D vector per "
                                 f"task), got {shape_str(tensor.shape)}")
        next_states = states + actions.clamp(-self.max_step, self.max_step)
        return next_states, -torch.linalg.vector_norm(next_states - goals, dim=-1)


def point_robot_tasks(radius: float = 1.0, episode_length: int = 20, max_step: float = 0.1) -> PointRobotFamily:
    """The point robot with goals on a half circle (:class:`PointRobotFamily`), validated."""
    radius = check_positive(radius, "radius")
    max_step = check_positive(max_step, "max_step")
    return PointRobotFamily(radius, check_positive_integer(episode_length, "episode_length"), max_step)
