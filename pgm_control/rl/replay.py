r"""The replay buffer D of Lecture 20's Algorithm 1: D ← D ∪ {(s_t, a_t, r(s_t, a_t), s_{t+1})}.

Each stored transition also keeps ``terminated``: whether s_{t+1} ended the episode by the task's own
rules (the pole fell). A time-limit cut (``truncated``) is *not* stored as an end: the learner then
bootstraps from V(s_{t+1}) as for any other step, since the process itself would have continued.

Storage is preallocated torch tensors of fixed capacity, written as a ring (the oldest transition is
overwritten first); sampling is uniform with replacement from a ``torch.Generator`` owned by the buffer,
so a seed fixes every batch and :meth:`ReplayBuffer.state_dict` carries the generator for exact resumes.

Proportional prioritized replay (Schaul et al. 2016, "Prioritized Experience Replay"), as DQfD uses it
for demonstrations (Hester et al. 2018; CS285 notes, "Learning With Demonstrations": demonstrations in the
buffer "optionally with a prioritized share"): transition i of the N stored has priority p_i and is drawn
with probability P(i), its loss weighted by w_i,

    p_i  = |δ_i| + ε  (after each update on it; new transitions enter at max_{k<i} p_k, 1 at first)
    P(i) = p_i^ω / Σ_k p_k^ω                                     (ω = 0: uniform)
    w_i  = (N P(i))^(-β) / max_j (N P(j))^(-β) = (min_j P(j) / P(i))^β   (β = 1: unbiased)

with δ_i the TD error of the latest update. The constants are a :class:`Prioritization`; the math is
:func:`priority_log_probabilities` and :func:`priority_importance_weights`; the buffer that keeps the priorities is
:class:`pgm_control.rl.DemonstrationReplayBuffer` (``prioritized=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from pgm_control._checks import (
    check_nonnegative,
    check_positive,
    check_positive_integer,
    check_real,
    check_seed,
    shape_str,
)

_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")


class Transitions(NamedTuple):
    """A batch of B transitions, batch first: ``observations`` ``[B, *obs]``, ``actions`` ``[B, *act]``,
    ``rewards`` ``[B]``, ``next_observations`` ``[B, *obs]``, ``terminated`` ``[B]`` (1.0 where s' ended
    the episode, 0.0 elsewhere, including time-limit cuts)."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor


class PrioritizedSample(NamedTuple):
    """A prioritized batch: the ``transitions`` ``[B, ...]``, the ``index`` ``[B]`` of each row in the
    buffer's priority vector (to refresh after the update) and its importance weight w_i ``weights`` ``[B]``."""

    transitions: Transitions
    index: torch.Tensor
    weights: torch.Tensor


@dataclass(frozen=True)
class Prioritization:
    r"""The constants of proportional prioritized replay (module docstring); the defaults are DQfD's
    (Hester et al. 2018: ω = 0.4, β = 0.6, ε_a = 0.001, ε_d = 1).

    Attributes:
        exponent: ω >= 0 of P(i) ∝ p_i^ω (0: uniform).
        importance_exponent: β in [0, 1] of the importance weights w_i (0: no correction, 1: unbiased).
            Schaul et al. anneal β to 1 over training; here it stays fixed.
        epsilon: ε_a > 0 added to every priority, so that every transition keeps a chance to be drawn.
        demo_bonus: ε_d >= 0 added on top for demonstrated transitions: p_i = |δ_i| + ε_a + ε_d.

    >>> Prioritization(exponent=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: Prioritization.exponent must be a finite number >= 0 (ω of P(i) ∝ p_i^ω), got -1.0
    """

    exponent: float = 0.4
    importance_exponent: float = 0.6
    epsilon: float = 0.001
    demo_bonus: float = 1.0

    def __post_init__(self):
        check_nonnegative(self.exponent, "Prioritization.exponent", " (ω of P(i) ∝ p_i^ω)")
        beta = check_real(self.importance_exponent, "Prioritization.importance_exponent", "a number in [0, 1]")
        if not 0.0 <= beta <= 1.0:  # also rejects NaN
            raise ValueError(f"Prioritization.importance_exponent must be a number in [0, 1] (β of the importance "
                             f"weights), got {beta}")
        check_positive(self.epsilon, "Prioritization.epsilon", " (ε_a, added to every priority)")
        check_nonnegative(self.demo_bonus, "Prioritization.demo_bonus", " (ε_d, added to demonstrated priorities)")


def priority_log_probabilities(priorities: torch.Tensor, exponent: float) -> torch.Tensor:
    r"""log P(i) = log (p_i^ω / Σ_k p_k^ω) = log_softmax_i(ω log p_i) for priorities ``[N]`` > 0 -> ``[N]``
    (in log space, so a large ω cannot overflow).

    >>> priority_log_probabilities(torch.tensor([1.0, 3.0], dtype=torch.float64), 0.5).exp() * (1 + 3 ** 0.5)
    tensor([1.0000, 1.7321], dtype=torch.float64)
    """
    return torch.log_softmax(exponent * priorities.log(), dim=0)


def priority_importance_weights(log_probabilities: torch.Tensor, index: torch.Tensor, exponent: float) -> torch.Tensor:
    r"""w_i = (N P(i))^(-β) / max_j (N P(j))^(-β) = exp(β (min_j log P(j) - log P(i))) for the rows ``index``
    ``[B]`` of log P ``[N]`` -> ``[B]`` in (0, 1]; the maximum is over all N stored transitions (the least
    likely has weight 1), so the weights only ever scale an update down.

    >>> priority_importance_weights(torch.tensor([0.5, 0.25, 0.25]).log(), torch.tensor([0, 1]), 1.0)
    tensor([0.5000, 1.0000])
    """
    return torch.exp(exponent * (log_probabilities.min() - log_probabilities[index]))


class ReplayBuffer:
    r"""A fixed-capacity ring of transitions (s, a, r, s', terminated) in preallocated tensors.

    Args:
        capacity: the number of transitions kept; the oldest is overwritten first.
        observation_shape: the shape of one observation (``env.observation_space.shape``).
        action_shape: the shape of one action: ``(dim A,)`` for a Box, ``()`` for a Discrete index.
        action_dtype: ``torch.float32`` for Box actions, ``torch.int64`` for Discrete ones.
        seed: seeds the buffer's own generator, which alone draws the batch indices.

    Example:
        >>> buffer = ReplayBuffer(3, observation_shape=(2,), action_shape=(), action_dtype=torch.int64)
        >>> for t in range(4):  # the 4th write overwrites the 1st
        ...     buffer.add([t, t], 1, float(t), [t + 1, t + 1], terminated=t == 3)
        >>> len(buffer), buffer.rewards.tolist(), buffer.terminated.tolist()
        (3, [3.0, 1.0, 2.0], [1.0, 0.0, 0.0])
        >>> batch = buffer.sample(5)
        >>> batch.observations.shape, batch.actions.shape, batch.rewards.shape
        (torch.Size([5, 2]), torch.Size([5]), torch.Size([5]))
    """

    # A Prioritization where the buffer draws by priority: it then has ``sample_prioritized(B)`` ->
    # PrioritizedSample and ``update_priorities(index, td_errors)``, which the training loop calls.
    prioritization: Prioritization | None = None

    def __init__(self, capacity: int, observation_shape, action_shape=(), *,
                 action_dtype: torch.dtype = torch.float32, seed: int = 0):
        capacity = check_positive_integer(capacity, "capacity")
        observation_shape = _shape(observation_shape, "observation_shape")
        action_shape = _shape(action_shape, "action_shape")
        if action_dtype not in (torch.float32, torch.int64):
            raise TypeError(f"action_dtype must be torch.float32 (Box actions) or torch.int64 (Discrete ones), "
                            f"got {action_dtype!r}")
        seed = check_seed(seed)
        self.capacity = capacity
        self.observations = torch.zeros((capacity, *observation_shape), dtype=torch.float32)
        self.actions = torch.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = torch.zeros(capacity, dtype=torch.float32)
        self.next_observations = torch.zeros((capacity, *observation_shape), dtype=torch.float32)
        self.terminated = torch.zeros(capacity, dtype=torch.float32)
        self.position = 0  # where the next transition is written
        self.size = 0  # how many slots hold a transition
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, observation, action, reward: float, next_observation, terminated: bool) -> None:
        """Store one transition (s, a, r, s', terminated), overwriting the oldest when full."""
        i = self.position
        for name, store, value in (("observation", self.observations, observation), ("action", self.actions, action),
                                   ("reward", self.rewards, reward), ("next_observation", self.next_observations,
                                                                      next_observation)):
            try:
                store[i] = torch.as_tensor(value, dtype=store.dtype)
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(f"{name} must be a number array of shape {shape_str(store.shape[1:])}, "
                                 f"got {value!r}") from None
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Transitions:
        """``batch_size`` transitions drawn uniformly with replacement, as a :class:`Transitions`."""
        batch_size = check_positive_integer(batch_size, "batch_size")
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        index = torch.randint(self.size, (batch_size,), generator=self.generator)
        return Transitions(self.observations[index], self.actions[index], self.rewards[index],
                           self.next_observations[index], self.terminated[index])

    def state_dict(self) -> dict:
        """The filled slots, the write position and the generator state (for checkpoints)."""
        n = self.size
        return {
            "capacity": self.capacity, "position": self.position, "size": n,
            "observations": self.observations[:n].clone(), "actions": self.actions[:n].clone(),
            "rewards": self.rewards[:n].clone(), "next_observations": self.next_observations[:n].clone(),
            "terminated": self.terminated[:n].clone(), "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s contents into a buffer of the same capacity and shapes."""
        keys = {"capacity", "position", "size", "generator", *_FIELDS}
        if not isinstance(state, dict) or set(state) != keys:
            raise ValueError(f"a replay buffer state must be a dict with the keys {sorted(keys)}")
        if state["capacity"] != self.capacity:
            raise ValueError(f"the saved buffer has capacity {state['capacity']}, this one {self.capacity}; "
                             "build the buffer with the saved capacity")
        n = check_positive_integer(state["size"], "size", allow_zero=True)
        position = check_positive_integer(state["position"], "position", allow_zero=True)
        if n > self.capacity or position >= self.capacity or (n < self.capacity and position != n):
            raise ValueError(f"size {n} and position {position} do not fit a buffer of capacity {self.capacity}")
        for name in _FIELDS:
            stored, saved = getattr(self, name), state[name]
            expected = (n, *stored.shape[1:])
            if not isinstance(saved, torch.Tensor) or saved.dtype != stored.dtype or tuple(saved.shape) != expected:
                raise ValueError(f"{name} must be a {stored.dtype} tensor of shape {shape_str(expected)}")
            if saved.is_floating_point() and not torch.isfinite(saved).all():
                raise ValueError(f"{name} holds non-finite values")
        generator = torch.Generator()
        try:  # checked before anything is written
            generator.set_state(state["generator"])
        except (TypeError, RuntimeError) as error:
            raise ValueError(f"generator must be a torch.Generator state ({error})") from None
        for name in _FIELDS:
            getattr(self, name)[:n] = state[name]
        self.position, self.size, self.generator = position, n, generator


def _shape(value, name: str) -> tuple[int, ...]:
    """A tensor shape: a sequence of non-negative integers."""
    try:
        dims = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of non-negative integers, got {value!r}") from None
    return tuple(check_positive_integer(d, f"{name}[{i}]", allow_zero=True) for i, d in enumerate(dims))
