r"""The exact Bayes-optimal return of a finite task family: dynamic programming over beliefs (CS285
notes, "Meta-RL": adaptation is inference about the task; "Exploration": the POMDP whose state is the
belief).

An agent that meets z ~ p(z) for N episodes of T steps, and knows the family but not z, acts optimally by
planning in the belief MDP whose state is (s, b), b(z) = p(z | history) the posterior over tasks. After
action a the agent observes o = (s', r): p(o | s, a, b) = Σ_z b(z) p_z(s'|s,a) 1[r = r_z(s, a, s')], and
the belief moves to b'(z) ∝ b(z) p_z(s'|s,a) 1[r = r_z(s, a, s')]. Over the H = N · T steps,

    Q_k(s, b, a) = Σ_o p(o | s, a, b) [ r + V_{k+1}(s', b') ],    V_k(s, b) = max_{a ∈ A(s)} Q_k(s, b, a),

with V_H = 0 and, at the end of each episode, s' replaced by s_1 ~ p(s_1) (the belief is kept). The
Bayes-optimal value is Σ_{s_1} p(s_1) V_0(s_1, p(z)).

Beliefs are finite vectors ``[Z]``; the recursion enumerates the (s, b) nodes reachable at each step k,
one batch of tensors per step, merging equal nodes: histories that end in the same state with the same
posterior share one node, so the work grows with the number of distinct beliefs, not of histories. For
grid navigation the belief is uniform over the goals not yet ruled out (a subset of the Z goals), so a
level holds at most S · 2^Z nodes and far fewer are reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_distribution,
    check_integer,
    check_positive_integer,
    check_shape,
)
from pgm_control._progress import progress_bar
from pgm_control.inference.dynamic_programming import value_iteration
from pgm_control.meta.tasks import FiniteTaskFamily, check_family

# Beliefs are merged when they agree after rounding to multiples of 2^-40 (distinct posteriors of the
# small families here differ by far more; two nodes that should merge but straddle a rounding boundary
# stay apart, which costs time, never accuracy).
BELIEF_QUANTUM = 2.0 ** 40
# Largest number of (state, belief) nodes one step of the recursion may hold.
MAX_NODES = 5_000_000
# Observation entries (node × action × successor × reward value × task) expanded at once.
CHUNK_ENTRIES = 2 ** 24
# Actions whose values differ by at most this much count as tied in the optimal policy.
TIE_TOL = 1e-12


class _Model(NamedTuple):
    """A finite family as tensors: successors ``[S, A, K]`` (the union over tasks), their probabilities
    ``[Z, S, A, K]`` under each task, the index ``[Z, S, A, K]`` of the observed reward among the distinct
    ``reward_values`` ``[V]``, p(s_1) ``[S]`` and the available actions ``[S, A]``."""

    successors: torch.Tensor
    probs: torch.Tensor
    reward_index: torch.Tensor
    reward_values: torch.Tensor
    initial: torch.Tensor
    available: torch.Tensor


class _Level(NamedTuple):
    """The nodes of one step: states ``[M]``, belief keys ``[M, C]`` (a bitmask or a rounded posterior),
    the expected reward E[r | s, b, a] ``[M, A]``, and one entry per observation o: the flat index
    node · A + action (int32), p(o | s, a, b) and the next node (int32)."""

    states: torch.Tensor
    keys: torch.Tensor
    immediate: torch.Tensor
    entry: torch.Tensor
    prob: torch.Tensor
    child: torch.Tensor


@dataclass(frozen=True, eq=False)
class BayesAdaptiveResult:
    r"""The Bayes-optimal policy of a finite task family (from :func:`bayes_adaptive_value`).

    ``value``: the Bayes-optimal expected return Σ_{s_1} p(s_1) V_0(s_1, p(z)) over all episodes.
    ``oracle_value``: the expected return when z is known from the start and each episode is solved
    optimally, E_z[N · V*_z(s_1)] ≥ ``value``. ``q[k]`` ``[M_k, A]`` holds Q_k(s, b, a) for the M_k nodes
    of step k = e · T + t (episode e, step t within it), whose states are ``states[k]`` ``[M_k]``;
    :meth:`policy` and :meth:`action_values` look a node up by its belief. ``num_nodes`` lists M_k.
    """

    value: float
    oracle_value: float
    num_episodes: int
    episode_length: int
    prior: torch.Tensor = field(repr=False)
    q: list[torch.Tensor] = field(repr=False)
    states: list[torch.Tensor] = field(repr=False)
    keys: list[torch.Tensor] = field(repr=False)
    representation: object = field(repr=False)

    @property
    def num_nodes(self) -> list[int]:
        return [int(states.shape[0]) for states in self.states]

    def action_values(self, episode: int, step: int, state: int, belief) -> torch.Tensor:
        r"""Q_k(s, b, a) ``[A]`` at ``step`` t of ``episode`` e (both from 0) in ``state`` with ``belief``
        b: a posterior ``[Z]`` over the tasks, or a bool mask ``[Z]`` of the tasks not yet ruled out
        (then b = p(z) restricted to the mask). A (state, belief) that no history reaches at that step is a
        ValueError."""
        level = self._level(episode, step)
        belief = self._read_belief(belief)
        state = check_integer(state, "state", "a state index")
        key = self.representation.key_of(belief)
        match = (self.states[level] == state) & (self.keys[level] == key).all(-1)
        if not match.any():
            raise ValueError(f"no node with state={state} and this belief is reachable at episode {episode}, "
                             f"step {step}")
        return self.q[level][int(match.nonzero()[0])]

    def policy(self, episode: int, step: int, state: int, belief) -> torch.Tensor:
        """π_*(a | s, b) ``[A]``: uniform over the actions within 1e-12 of the best Q_k(s, b, a)."""
        q = self.action_values(episode, step, state, belief)
        best = (q >= q.max() - TIE_TOL).to(DTYPE)
        return best / best.sum()

    def _level(self, episode, step) -> int:
        episode = check_integer(episode, "episode", "an episode index")
        step = check_integer(step, "step", "a step index")
        if not (0 <= episode < self.num_episodes and 0 <= step < self.episode_length):
            raise ValueError(f"episode must lie in [0, {self.num_episodes}) and step in [0, {self.episode_length}), "
                             f"got episode={episode}, step={step}")
        return episode * self.episode_length + step

    def _read_belief(self, belief) -> torch.Tensor:
        num_tasks = self.prior.shape[0]
        tensor = belief if isinstance(belief, torch.Tensor) else torch.as_tensor(belief)
        if tensor.dtype == torch.bool:
            check_shape(tensor, [num_tasks], "belief", "mask of tasks not ruled out [Z]")
            if not tensor.any():
                raise ValueError("belief must keep at least one task, got an all-False mask")
            tensor = self.prior * tensor
            return tensor / tensor.sum()
        tensor = as_float_tensor(tensor, "belief")
        check_shape(tensor, [num_tasks], "belief", "p(z | history) [Z]")
        check_distribution(tensor, "belief", "a posterior over the Z tasks")
        return tensor


def bayes_adaptive_value(task_family: FiniteTaskFamily, num_episodes: int, *,
                         progress: bool | None = None) -> BayesAdaptiveResult:
    r"""The exact Bayes-optimal expected return over ``num_episodes`` episodes of a finite task family, by
    dynamic programming over beliefs (module docstring; CS285 notes, "Meta-RL"):

        Q_k(s, b, a) = Σ_{(s', r)} p(s', r | s, a, b) [ r + V_{k+1}(s', b') ],   V_k(s, b) = max_a Q_k(s, b, a)

    with b'(z) ∝ b(z) p_z(s'|s,a) 1[r = r_z(s, a, s')]. Returns a :class:`BayesAdaptiveResult` with the
    ``value``, the ``oracle_value`` (z known from the start) and the belief-conditioned ``policy``.

    Example:
        >>> from pgm_control.meta import grid_navigation_tasks
        >>> result = bayes_adaptive_value(grid_navigation_tasks(3, episode_length=4), num_episodes=2)
        >>> round(result.value, 6), round(result.oracle_value, 6)
        (2.94, 4.04)
        >>> result.policy(0, 0, 0, [True] * 5).tolist()  # first move: down or right
        [0.0, 0.0, 0.5, 0.0, 0.5]
    """
    family = check_family(task_family, finite=True)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    model = _family_model(family)
    horizon = num_episodes * family.episode_length
    representation = _beliefs_for(model, family.prior)
    levels = _forward(model, representation, family.episode_length, horizon, progress)
    q_tables, v_first = _backward(model, levels, progress)
    start = levels[0].states
    value = float((model.initial[start] * v_first).sum())
    return BayesAdaptiveResult(
        value=value,
        oracle_value=oracle_value(family, num_episodes),
        num_episodes=num_episodes,
        episode_length=family.episode_length,
        prior=family.prior,
        q=q_tables,
        states=[level.states for level in levels],
        keys=[level.keys for level in levels],
        representation=representation,
    )


def oracle_value(task_family: FiniteTaskFamily, num_episodes: int) -> float:
    r"""E_z[N · V*_z], V*_z = Σ_{s_1} p(s_1) V*_{z,0}(s_1) the optimal T-step value of task z (finite-horizon
    value iteration): the return of an agent told z before the first episode."""
    family = check_family(task_family, finite=True)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    per_task = torch.stack([value_iteration(task, horizon=family.episode_length).v[0] @ task.initial
                            for task in family.tasks])
    return float(num_episodes * (family.prior * per_task).sum())


# ----------------------------------------------------------------------------------------------------
# Beliefs: two representations with one interface


class _SubsetBeliefs:
    r"""Beliefs of a family whose tasks are deterministic given z (every p_z(s'|s,a) is 0 or 1, as in
    grid navigation): b is p(z) restricted to the tasks not yet ruled out, stored as a bitmask (one int64
    per node; bit z set while z is possible). An observation o = (s', r) keeps the tasks consistent with
    it, mask' = mask & consistent(s, a, o), with p(o | s, a, b) = p(mask') / p(mask)."""

    def __init__(self, model: _Model, prior: torch.Tensor):
        num_tasks, num_values = prior.shape[0], model.reward_values.shape[0]
        bits = 2 ** torch.arange(num_tasks)
        agrees = (model.probs == 1)[..., None] & (model.reward_index[..., None] == torch.arange(num_values))
        self.consistent = (agrees.long() * bits[:, None, None, None, None]).sum(0)  # [S, A, K, V]
        # p(mask) = Σ_j table_j[byte j of mask]: one 256-entry table of prior sums per byte.
        num_bytes = (num_tasks + 7) // 8
        padded = torch.cat([prior, prior.new_zeros(8 * num_bytes - num_tasks)]).reshape(num_bytes, 8)
        byte_bits = (torch.arange(256)[:, None] >> torch.arange(8)) & 1  # [256, 8]
        self.tables = byte_bits.to(DTYPE) @ padded.T  # [256, bytes]
        self.model, self.prior, self.num_tasks = model, prior, num_tasks

    def start(self, count: int) -> torch.Tensor:
        return torch.full((count,), 2 ** self.num_tasks - 1, dtype=torch.long)

    def weight(self, masks: torch.Tensor) -> torch.Tensor:
        """p(mask) = Σ_{z in mask} p(z), elementwise."""
        total = torch.zeros(masks.shape, dtype=DTYPE)
        for j in range(self.tables.shape[1]):
            total += self.tables[(masks >> (8 * j)) & 255, j]
        return total

    def expand(self, states: torch.Tensor, masks: torch.Tensor):
        children = masks[:, None, None, None] & self.consistent[states]  # [M, A, K, V]
        node, action, succ, value = children.nonzero(as_tuple=True)  # most observations rule out every task
        children = children[node, action, succ, value]
        mass = self.weight(children)
        if not bool((mass > 0).all()):  # tasks of prior probability 0 only
            kept = mass > 0
            node, action, succ, value, children, mass = (t[kept] for t in (node, action, succ, value, children, mass))
        prob = mass / self.weight(masks)[node]
        next_states = self.model.successors[states[node], action, succ]
        return node, action, prob, self.model.reward_values[value], next_states, children

    def label(self, states: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.unique(masks * self.model.successors.shape[0] + states, return_inverse=True)[1]
        return labels, _first_of_each(labels)

    def keys(self, masks: torch.Tensor) -> torch.Tensor:
        return masks[:, None]

    def key_of(self, belief: torch.Tensor) -> torch.Tensor:
        support = belief > 0
        restricted = self.prior * support
        if not torch.allclose(belief, restricted / restricted.sum(), rtol=0.0, atol=1e-9):
            raise ValueError("belief must be p(z) restricted to the tasks not ruled out (the only posteriors "
                             "of a family whose tasks are deterministic); pass a bool mask of those tasks")
        return (support.long() * 2 ** torch.arange(self.num_tasks)).sum()[None]


class _VectorBeliefs:
    r"""Beliefs as posterior vectors b ``[M, Z]`` (any finite family):
    b'(z) = b(z) p_z(s'|s,a) 1[r = r_z(s, a, s')] / p(o | s, a, b). Nodes merge when their states agree
    and their beliefs agree after rounding to multiples of 2^-40."""

    def __init__(self, model: _Model, prior: torch.Tensor):
        self.model, self.prior = model, prior

    def start(self, count: int) -> torch.Tensor:
        return self.prior.expand(count, -1)

    def expand(self, states: torch.Tensor, beliefs: torch.Tensor):
        num_tasks, _, num_actions, branching = self.model.probs.shape
        num_values = self.model.reward_values.shape[0]
        chunk = max(CHUNK_ENTRIES // (num_tasks * num_actions * branching * num_values), 1)
        parts = [self._expand_chunk(states[i:i + chunk], beliefs[i:i + chunk], i)
                 for i in range(0, states.shape[0], chunk)]
        return tuple(torch.cat(column) for column in zip(*parts))

    def _expand_chunk(self, states: torch.Tensor, beliefs: torch.Tensor, offset: int):
        model = self.model
        joint = beliefs.T[:, :, None, None] * model.probs[:, states]  # b(z) p_z(s'|s,a), [Z, M, A, K]
        matches = model.reward_index[:, states, ..., None] == torch.arange(model.reward_values.shape[0])
        joint = joint[..., None] * matches  # [Z, M, A, K, V]: b(z) p_z(s'|s,a) 1[r = r_z(s,a,s')]
        mass = joint.sum(0)  # p(s', r | s, a, b)
        node, action, succ, value = (mass > 0).nonzero(as_tuple=True)
        prob = mass[node, action, succ, value]
        next_beliefs = joint[:, node, action, succ, value].T / prob[:, None]
        next_states = model.successors[states[node], action, succ]
        return node + offset, action, prob, model.reward_values[value], next_states, next_beliefs

    def label(self, states: torch.Tensor, beliefs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _unique_rows(torch.cat([states[:, None], self.keys(beliefs)], 1))

    def keys(self, beliefs: torch.Tensor) -> torch.Tensor:
        return torch.round(beliefs * BELIEF_QUANTUM).long()

    def key_of(self, belief: torch.Tensor) -> torch.Tensor:
        return self.keys(belief)


def _unique_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Label equal rows of an integer table ``[N, C]``: the label ``[N]`` of each row (0..U−1) and the first
    row ``[U]`` of each label. Column by column with 1-D sorts (much faster than ``unique(dim=0)``): the
    label of the first c columns and the rank of column c pair up into the label of the first c + 1."""
    labels = torch.zeros(rows.shape[0], dtype=torch.long)
    for column in rows.T:
        ranks = torch.unique(column, return_inverse=True)[1]
        labels = torch.unique(labels * (int(ranks.max()) + 1) + ranks, return_inverse=True)[1]
    return labels, _first_of_each(labels)


def _first_of_each(labels: torch.Tensor) -> torch.Tensor:
    """The first position ``[U]`` of each label 0..U−1 in ``labels`` ``[N]``."""
    count = int(labels.max()) + 1 if labels.numel() else 0
    return torch.full((count,), labels.shape[0], dtype=torch.long).scatter_reduce_(
        0, labels, torch.arange(labels.shape[0]), "amin")


def _beliefs_for(model: _Model, prior: torch.Tensor):
    """Bitmask beliefs when every task is deterministic and the bitmask fits an int64 with the state."""
    deterministic = bool(((model.probs == 0) | (model.probs == 1)).all())
    fits = prior.shape[0] + model.successors.shape[0].bit_length() <= 62
    return (_SubsetBeliefs if deterministic and fits else _VectorBeliefs)(model, prior)


# ----------------------------------------------------------------------------------------------------
# The recursion


def _family_model(family: FiniteTaskFamily) -> _Model:
    transitions = family.transitions  # [Z, S, A, S']
    support = (transitions > 0).any(0)  # [S, A, S']
    branching = max(int(support.sum(-1).max()), 1)
    successors = torch.topk(support.to(torch.int8), branching, dim=-1).indices  # [S, A, K]
    index = successors.expand(family.num_tasks, *successors.shape)
    probs = transitions.gather(-1, index)
    rewards = family.transition_rewards.gather(-1, index)
    reward_values = torch.unique(rewards[probs > 0])
    reward_index = torch.searchsorted(reward_values, rewards.contiguous()).clamp(max=len(reward_values) - 1)
    return _Model(successors, probs, reward_index, reward_values, family.initial, family.tasks[0].available_actions)


def _forward(model: _Model, representation, episode_length: int, horizon: int, progress) -> list[_Level]:
    """The reachable (state, belief) nodes of every step, and the observation table of each."""
    states = model.initial.nonzero().squeeze(-1)
    beliefs = representation.start(states.shape[0])
    levels = []
    with progress_bar(horizon, progress, horizon * 1e6, "belief nodes") as bar:
        for k in range(horizon):
            observations = representation.expand(states, beliefs)
            if (k + 1) % episode_length == 0:
                observations = _reset(model.initial, *observations[:4], observations[5])  # s' is replaced
            node, action, prob, reward, next_states, next_beliefs = observations
            if k + 1 < horizon:
                child, first = representation.label(next_states, next_beliefs)
                _require_tractable(first.shape[0], k + 1)
            else:
                child = torch.zeros_like(node)
            keys = representation.keys(beliefs)
            levels.append(_compact_level(states, keys, node, action, prob, reward, child, model.available.shape[1]))
            if k + 1 < horizon:
                states, beliefs = next_states[first], next_beliefs[first]
            bar.update()
    return levels


def _compact_level(states, keys, node, action, prob, reward, child, num_actions: int) -> _Level:
    """The step's table as E[r | s, b, a] ``[M, A]`` and int32 entries: every entry of every step stays in
    memory until the backward pass."""
    immediate = torch.zeros(states.shape[0], num_actions, dtype=DTYPE)
    immediate.index_put_((node, action), prob * reward, accumulate=True)
    return _Level(states, keys, immediate, (node * num_actions + action).int(), prob, child.int())


def _reset(initial: torch.Tensor, node, action, prob, reward, next_beliefs):
    """End of an episode: each observation's next state becomes s_1 ~ p(s_1), the belief is kept."""
    start = initial.nonzero().squeeze(-1)
    repeat = start.shape[0]
    node, action, reward = (t.repeat_interleave(repeat) for t in (node, action, reward))
    prob = (prob[:, None] * initial[start]).reshape(-1)
    next_states = start.repeat(next_beliefs.shape[0])
    return node, action, prob, reward, next_states, next_beliefs.repeat_interleave(repeat, 0)


def _backward(model: _Model, levels: list[_Level], progress) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Q_k ``[M_k, A]`` of every step and V_0 of the first nodes, backward from V_H = 0."""
    v_next = torch.zeros(1, dtype=DTYPE)
    q_tables = [None] * len(levels)
    with progress_bar(len(levels), progress, len(levels) * 1e6, "belief backups") as bar:
        for k in range(len(levels) - 1, -1, -1):
            level = levels[k]
            q = level.immediate.clone()
            q.view(-1).index_add_(0, level.entry, level.prob * v_next[level.child])
            q = q.masked_fill(~model.available[level.states], -torch.inf)
            q_tables[k] = q
            v_next = q.max(-1).values
            bar.update()
    return q_tables, v_next


def _require_tractable(num_nodes: int, step: int) -> None:
    if num_nodes > MAX_NODES:
        raise ValueError(f"step {step} of the belief recursion reaches {num_nodes:,} (state, belief) nodes, more "
                         f"than the {MAX_NODES:,} it enumerates: use fewer tasks, episodes or steps")
