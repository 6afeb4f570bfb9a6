"""Small log-space primitives shared by the solvers."""

from __future__ import annotations

import torch


def scatter_logsumexp(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    r"""out[j] = log Σ_{i : index[i] = j} exp(values[i]), exactly, for 1-D `values` and `index`.

    The shift is the per-bin maximum (not a global one), so no bin underflows however far apart the
    bins' magnitudes are; empty bins get -inf. Differentiable with respect to `values`.
    """
    shift = values.new_full((size,), -torch.inf).scatter_reduce(
        0, index, values.detach(), reduce="amax", include_self=True
    )
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = values.new_zeros(size).scatter_add(0, index, torch.exp(values - shift[index]))
    return torch.log(total) + shift


def safe_log(x: torch.Tensor) -> torch.Tensor:
    """log(x) with log(0) = -inf and no warning; gradients at zero entries are zero, not NaN."""
    positive = x > 0
    return torch.where(positive, torch.log(torch.where(positive, x, torch.ones_like(x))), -torch.inf)
