"""Named result objects returned by the exact solvers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import torch

from pgm_control.inference.policies import greedy_policy, soft_log_policy


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
    ``policy`` like ``q``. ``log_policy = log p(a|s) + (Q - V)/α`` is computed on first access (a
    10^6-state, T=100 solve then holds one ``[T, S, A]`` table, not two). The tables are float64 torch
    tensors: call ``.numpy()`` for NumPy, whose reductions (``np.mean``, ``np.max``, ...) do not accept
    tensors.
    """

    q: torch.Tensor
    v: torch.Tensor
    temperature: float
    backup: str
    log_prior: torch.Tensor
    iterations: int

    @cached_property
    def log_policy(self) -> torch.Tensor:
        """log π(a|s) = log p(a|s) + (Q(s,a) - V(s)) / α, shaped like ``q``, as the log-softmax of
        log p(a|s) + Q(s,a)/α (:func:`~pgm_control.inference.policies.soft_log_policy`): each row sums
        to 1 within rounding at every α."""
        if self.temperature == 0.0:
            return torch.log(greedy_policy(self.q, self.log_prior))
        return soft_log_policy(self.q, self.log_prior, self.temperature)

    @property
    def policy(self) -> torch.Tensor:
        """π(a|s), shaped like ``q``."""
        return self.log_policy.exp()


class BackwardMessages(NamedTuple):
    """log β_t(s, a) ``[T, S, A]`` and log β_t(s) ``[T, S]`` (t = 0..T-1 is the slides' 1..T)."""

    log_beta_sa: torch.Tensor
    log_beta_s: torch.Tensor


class ForwardMessages(NamedTuple):
    """log α_t(s) = log p(s_t | O_{1:t-1}) ``[T, S]`` and log p(O_t | O_{1:t-1}) ``[T]``."""

    log_alpha: torch.Tensor
    log_normalizers: torch.Tensor
