r"""Multi-armed bandits simulated for many independent runs at once (CS285 notes, "Exploration",
"Multi-Arm Bandits Problem").

Each arm a pays r(a) ~ p_{θ_a}(r) with mean μ_a. A bandit holds the means [A]; ``pull(actions, generator)``
takes one action per run, ``actions [R]``, and returns one reward per run, ``rewards [R]`` (float64), so
that R runs advance together with one tensor operation per step.
"""

from __future__ import annotations

import abc

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_broadcastable,
    check_finite,
    check_indices,
    check_positive,
    check_probabilities,
    check_shape,
)


def bernoulli_kl(p, q) -> torch.Tensor:
    r"""KL(Bernoulli(p) ‖ Bernoulli(q)) = p ln(p/q) + (1 − p) ln((1 − p)/(1 − q)), elementwise over the
    broadcast shape of ``p`` and ``q`` (probabilities in [0, 1]), with 0 ln 0 = 0; +inf where q ∈ {0, 1}
    and p ≠ q.

    >>> round(bernoulli_kl(0.0, 0.5).item(), 12)  # ln 2
    0.69314718056
    """
    p, q = as_float_tensor(p, "p"), as_float_tensor(q, "q")
    check_probabilities(p, "p")
    check_probabilities(q, "q")
    check_broadcastable(p, q, "p", "q")
    return bernoulli_kl_unchecked(p, q)


def bernoulli_kl_unchecked(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """:func:`bernoulli_kl` for float tensors already known to hold probabilities (inner loops)."""
    return torch.xlogy(p, p) - torch.xlogy(p, q) + torch.xlogy(1 - p, 1 - p) - torch.xlogy(1 - p, 1 - q)


class Bandit(abc.ABC):
    """Shared part of the bandits: the means μ [A], their best value μ* and the gaps Δ_a = μ* − μ_a."""

    def __init__(self, means):
        means = as_float_tensor(means, "means")
        check_shape(means, [None], "means", "[A] (one mean reward per arm)")
        if means.numel() < 1:
            raise ValueError("means must hold at least one arm, got an empty tensor")
        check_finite(means, "means")
        self.means = means

    @property
    def num_arms(self) -> int:
        return self.means.numel()

    @property
    def best_mean(self) -> float:
        """μ* = max_a μ_a."""
        return float(self.means.max())

    @property
    def gaps(self) -> torch.Tensor:
        """Δ_a = μ* − μ_a, shape [A]."""
        return self.means.max() - self.means

    def pull(self, actions, generator: torch.Generator | None = None) -> torch.Tensor:
        """One pull per run: ``actions [R]`` (integers in [0, A)) → ``rewards [R]`` (float64)."""
        actions = as_index_tensor(actions, "actions")
        check_shape(actions, [None], "actions", "[R] (one arm per run)")
        check_indices(actions, self.num_arms, "actions", " (arm indices)")
        return self._pull(actions, generator)

    @abc.abstractmethod
    def _pull(self, actions: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The rewards ``[R]`` of validated ``actions [R]``."""


class BernoulliBandit(Bandit):
    r"""Arm a pays r ~ Bernoulli(μ_a), μ_a ∈ [0, 1] (CS285 notes, "Multi-Arm Bandits Problem").

    >>> bandit = BernoulliBandit([0.5, 0.8, 0.3])
    >>> bandit.pull(torch.tensor([1, 1, 0]), torch.Generator().manual_seed(0)).shape
    torch.Size([3])
    """

    def __init__(self, means):
        super().__init__(means)
        if self.means.min() < 0 or self.means.max() > 1:
            raise ValueError(f"means must be probabilities in [0, 1] for a Bernoulli bandit, got "
                             f"{self.means.tolist()}")

    def _pull(self, actions, generator):
        return torch.bernoulli(self.means[actions], generator=generator)


class GaussianBandit(Bandit):
    r"""Arm a pays r ~ N(μ_a, sd²), the same known noise sd > 0 for every arm."""

    def __init__(self, means, sd=1.0):
        super().__init__(means)
        self.sd = check_positive(sd, "sd", " (the reward noise standard deviation)")

    def _pull(self, actions, generator):
        noise = torch.randn(actions.shape, generator=generator, dtype=DTYPE)
        return self.means[actions] + self.sd * noise
