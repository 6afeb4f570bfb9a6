r"""Pseudo-counts from a density model (CS285 notes, "Count-Based Exploration"; Bellemare et al. 2016,
"Unifying count-based exploration and intrinsic motivation").

When states are too many to count, fit a density p_θ(x) and ask which count would explain it. If the
model's probability of x before and after one more observation of x were

    p_θ(x) = N̂(x) / n̂,   p_θ'(x) = (N̂(x) + 1) / (n̂ + 1),

then solving the two equations gives the pseudo-count

    N̂(x) = n̂ p_θ(x),   n̂ = (1 − p_θ'(x)) / (p_θ'(x) − p_θ(x)) · p_θ(x).

Density models here are over a finite alphabet of X symbols (a tabular state, or a state-action pair),
batched over R independent runs: ``prob`` and ``recoding_prob`` map symbols ``[R]`` to probabilities
``[R]`` (float64) and ``update`` adds one observation per run.
"""

from __future__ import annotations

import abc

import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_finite, check_positive, check_probabilities


def _pseudo_count_formula(prob_before: torch.Tensor, prob_after: torch.Tensor) -> torch.Tensor:
    """N̂ = p_θ (1 − p_θ') / (p_θ' − p_θ), unchecked (callers guarantee p_θ' > p_θ)."""
    return prob_before * (1 - prob_after) / (prob_after - prob_before)


def pseudo_count(prob_before, prob_after) -> torch.Tensor:
    r"""The pseudo-count of the CS285 notes, "Count-Based Exploration":

        N̂(x) = n̂ p_θ(x),   n̂ = (1 − p_θ'(x)) / (p_θ'(x) − p_θ(x)) · p_θ(x),

    with ``prob_before`` = p_θ(x), the density of x before the model is trained on one more x, and
    ``prob_after`` = p_θ'(x), its density after (the "recoding probability"). Both are probabilities
    of the same shape; the model must have learned from x: p_θ'(x) > p_θ(x) (else the formula divides
    by zero or turns negative). Returns N̂ with their shape (float64).

    Example:
        >>> pseudo_count(0.25, 0.4)  # a frequency model that has seen x 1 time in 4: 1/4 → 2/5
        tensor(1.0000, dtype=torch.float64)
    """
    before, after = as_float_tensor(prob_before, "prob_before"), as_float_tensor(prob_after, "prob_after")
    if before.shape != after.shape:
        raise ValueError(f"prob_before and prob_after must have the same shape, got {list(before.shape)} "
                         f"and {list(after.shape)}")
    for value, name in ((before, "prob_before"), (after, "prob_after")):
        check_finite(value, name)
        check_probabilities(value, name)
    if before.numel() and not bool((after > before).all()):
        index = (after <= before).nonzero()[0].tolist() if before.dim() else []
        raise ValueError(f"prob_after must exceed prob_before (the density must rise after one more "
                         f"observation of x: a learning-positive model), got p_θ'(x) = "
                         f"{after[tuple(index)].item():.6g} <= p_θ(x) = {before[tuple(index)].item():.6g}"
                         + (f" at index {index}" if index else ""))
    return _pseudo_count_formula(before, after)


class DensityModel(abc.ABC):
    """A density over X symbols for each of R runs, learned online one symbol per run at a time.

    It must be learning-positive: observing x never lowers p(x), and raises it unless p(x) = 1."""

    def reset(self, num_runs: int, num_symbols: int) -> None:
        """Forget everything: R runs over an alphabet of X symbols."""
        self.counts = torch.zeros(num_runs, num_symbols, dtype=DTYPE)

    def update(self, symbols: torch.Tensor) -> None:
        """Train on one observation per run, ``symbols [R]`` (long)."""
        self.counts.scatter_add_(1, symbols[:, None], torch.ones(symbols.shape[0], 1, dtype=DTYPE))

    @property
    def num_observations(self) -> torch.Tensor:
        """n, the number of observations per run, [R]."""
        return self.counts.sum(-1)

    @abc.abstractmethod
    def prob(self, symbols: torch.Tensor) -> torch.Tensor:
        """p_θ(x) of ``symbols [R]`` in each run, ``[R]``."""

    @abc.abstractmethod
    def recoding_prob(self, symbols: torch.Tensor) -> torch.Tensor:
        """p_θ'(x): the density of x after one more observation of x, ``[R]`` (the model is unchanged)."""

    def pseudo_counts(self, symbols: torch.Tensor) -> torch.Tensor:
        """N̂(x) of ``symbols [R]`` from ``prob`` and ``recoding_prob`` (``pseudo_count``'s formula), [R].

        Where the model has seen nothing but x, p_θ(x) = p_θ'(x) = 1 and the formula reads 0/0; any n̂
        fits, and the number of observations n is taken."""
        before, after = self.prob(symbols), self.recoding_prob(symbols)
        learned = after > before
        formula = _pseudo_count_formula(before, torch.where(learned, after, 1.0))
        return torch.where(learned, formula, self.num_observations)


class EmpiricalDensity(DensityModel):
    r"""The empirical frequency model p_θ(x) = N(x) / n (0 before any observation).

    Its recoding probability is p_θ'(x) = (N(x) + 1) / (n + 1), so the pseudo-count is the true count:
    N̂(x) = (N/n)(1 − (N+1)/(n+1)) / ((N+1)/(n+1) − N/n) = N(x), exactly (up to float64 rounding)."""

    def prob(self, symbols):
        seen = self.num_observations
        return self.counts.gather(1, symbols[:, None]).squeeze(1) / seen.clamp(min=1)

    def recoding_prob(self, symbols):
        return (self.counts.gather(1, symbols[:, None]).squeeze(1) + 1) / (self.num_observations + 1)


class DirichletDensity(DensityModel):
    r"""The Dirichlet-smoothed frequency model (the posterior predictive of a symmetric Dirichlet(α)
    prior; α = 1/2 is the Krichevsky-Trofimov estimator that Bellemare et al.'s CTS model places at each
    node of its context tree, and the whole CTS model for a single context):

        p_θ(x) = (N(x) + α) / (n + α X),   p_θ'(x) = (N(x) + α + 1) / (n + α X + 1).

    It never assigns probability 0 or 1, so a new symbol already has a pseudo-count: substituting into
    the notes' formula gives N̂(x) = N(x) + α and n̂ = n + α X, exactly — the prior acts as α imaginary
    visits to every symbol."""

    def __init__(self, prior: float = 0.5):
        self.prior = check_positive(prior, "prior", " (the Dirichlet concentration α per symbol)")

    def _total(self) -> torch.Tensor:
        return self.num_observations + self.prior * self.counts.shape[-1]

    def prob(self, symbols):
        return (self.counts.gather(1, symbols[:, None]).squeeze(1) + self.prior) / self._total()

    def recoding_prob(self, symbols):
        return (self.counts.gather(1, symbols[:, None]).squeeze(1) + self.prior + 1) / (self._total() + 1)


__all__ = ["DensityModel", "DirichletDensity", "EmpiricalDensity", "pseudo_count"]
