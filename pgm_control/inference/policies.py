"""Policies read off value tables."""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_tolerance, shape_str


def greedy_policy(q: torch.Tensor, log_prior: torch.Tensor | None = None, rtol: float = 1e-9) -> torch.Tensor:
    r"""π(a|s) uniform over argmax_a Q(s, a) (ties within ``rtol`` relative), shaped like ``q``.

    With ``log_prior`` (shaped like q's last axes) only actions of positive prior probability compete.
    """
    if not isinstance(q, torch.Tensor) or not q.is_floating_point() or q.dim() == 0:
        raise TypeError(f"q must be a float tensor [..., S, A], got {q!r:.60}")
    if bool(torch.isnan(q).any()):
        raise ValueError("q must not hold NaN: the greedy action of a NaN row is undefined")
    if log_prior is not None:
        log_prior = as_float_tensor(log_prior, "log_prior")
        if log_prior.dim() > q.dim() or q.shape[q.dim() - log_prior.dim():] != log_prior.shape:
            raise ValueError(f"log_prior must have the shape of q's last axes, got {shape_str(log_prior.shape)} "
                             f"for q of shape {shape_str(q.shape)}")
    return greedy_policy_unchecked(q, log_prior, check_tolerance(rtol, "rtol"))


def greedy_policy_unchecked(q: torch.Tensor, log_prior: torch.Tensor | None = None, rtol: float = 1e-9) -> torch.Tensor:
    """:func:`greedy_policy` for inputs already validated (the solvers' own tables)."""
    q = q.detach()
    if log_prior is not None:
        q = torch.where(torch.isfinite(log_prior), q, -torch.inf)
    best = q.max(-1, keepdim=True).values
    ties = q >= best - rtol * (1.0 + best.abs())
    return ties.to(DTYPE) / ties.sum(-1, keepdim=True)
