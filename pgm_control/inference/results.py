"""Named result objects returned by the exact solvers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import torch

from pgm_control.inference.policies import soft_log_policy


@dataclass(frozen=True, eq=False)
class ValueResult:
    """Classic (hard) values: ``q`` ``[S, A]`` / ``[T, S, A]``, ``v`` ``[S]`` / ``[T, S]``, and
    ``policy`` ``[S, A]`` / ``[T, S, A]`` (greedy policies spread uniformly over tied actions).

    The tables are float64 torch tensors: call ``.numpy()`` for NumPy, whose reductions (``np.mean``,
    ``np.max``, ...) do not accept tensors."""

    q: torch.Tensor
    v: torch.Tensor
    policy: torch.Tensor
    iterations: int


@dataclass(frozen=True, eq=False)
class SoftValueResult:
    r"""Soft values Q, V and the soft-optimal policy, stationary or time-indexed.

    Shapes: ``q`` ``[S, A]`` or ``[T, S, A]``; ``v`` ``[S]`` or ``[T, S]``; ``log_policy`` and
    ``policy`` like ``q``. Which tables the solve stored depends on its ``keep`` option (see
    :func:`soft_value_iteration`); a table that was not stored is computed on first access and then
    cached (``log_policy`` from ``q``; ``q`` by one backup per step from ``v``). The per-step
    accessors :meth:`q_at`, :meth:`log_policy_at` and :meth:`policy_at` compute one ``[S, A]`` step
    without building any ``[T, S, A]`` table.
    The tables are float64 torch tensors: call ``.numpy()`` for NumPy, whose reductions (``np.mean``,
    ``np.max``, ...) do not accept tensors.
    """

    v: torch.Tensor
    temperature: float
    backup: str
    log_prior: torch.Tensor
    iterations: int
    q_table: torch.Tensor | None = None
    log_policy_table: torch.Tensor | None = None
    # Q from V_{t+1} (one soft Bellman backup), for the tables that were not stored.
    q_from_v: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    @property
    def time_indexed(self) -> bool:
        """True for finite-horizon results (a leading T axis)."""
        return self.v.dim() == 2

    @cached_property
    def q(self) -> torch.Tensor:
        """Soft Q, ``[T, S, A]`` or ``[S, A]``."""
        if self.q_table is not None:
            return self.q_table
        if not self.time_indexed:
            return self.q_at(0)
        return torch.stack([self.q_at(t) for t in range(self.v.shape[0])])

    @cached_property
    def log_policy(self) -> torch.Tensor:
        """log π(a|s) = log p(a|s) + (Q(s,a) - V(s)) / α, shaped like ``q``, as the log-softmax of
        log p(a|s) + Q(s,a)/α (:func:`~pgm_control.inference.policies.soft_log_policy`): each row sums
        to 1 within rounding at every α."""
        if self.log_policy_table is not None:
            return self.log_policy_table
        return soft_log_policy(self.q, self.log_prior, self.temperature)

    @property
    def policy(self) -> torch.Tensor:
        """π(a|s), shaped like ``q``."""
        return self.log_policy.exp()

    def q_at(self, t: int) -> torch.Tensor:
        """Q_t ``[S, A]`` (code time t = 0..T-1; any t for a stationary result), recomputed from
        V_{t+1} by one backup when the table was not stored."""
        t = self._check_time(t)
        if self.q_table is not None:
            return self.q_table[t] if self.time_indexed else self.q_table
        if not self.time_indexed:
            return self.q_from_v(self.v)
        last = t == self.v.shape[0] - 1
        return self.q_from_v(torch.zeros_like(self.v[t]) if last else self.v[t + 1])

    def log_policy_at(self, t: int) -> torch.Tensor:
        """log π_t(a|s) ``[S, A]`` at code time t, without building a ``[T, S, A]`` table."""
        t = self._check_time(t)
        if self.log_policy_table is not None:
            return self.log_policy_table[t] if self.time_indexed else self.log_policy_table
        return soft_log_policy(self.q_at(t), self.log_prior, self.temperature)

    def policy_at(self, t: int) -> torch.Tensor:
        """π_t(a|s) ``[S, A]`` at code time t."""
        return self.log_policy_at(t).exp()

    def _check_time(self, t: int) -> int:
        horizon = self.v.shape[0] if self.time_indexed else None
        if isinstance(t, bool) or not isinstance(t, int) or (horizon is not None and not 0 <= t < horizon):
            where = f"0 <= t < T = {horizon}" if horizon is not None else "an int"
            raise ValueError(f"t must be an integer time step with {where}, got {t!r}")
        return t


class BackwardMessages(NamedTuple):
    """log β_t(s, a) ``[T, S, A]`` and log β_t(s) ``[T, S]`` (t = 0..T-1 is the slides' 1..T)."""

    log_beta_sa: torch.Tensor
    log_beta_s: torch.Tensor


class ForwardMessages(NamedTuple):
    """log α_t(s) = log p(s_t | O_{1:t-1}) ``[T, S]`` and log p(O_t | O_{1:t-1}) ``[T]``."""

    log_alpha: torch.Tensor
    log_normalizers: torch.Tensor
