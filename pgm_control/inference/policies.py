"""Policies read off value tables."""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE


def greedy_policy(q: torch.Tensor, log_prior: torch.Tensor | None = None, rtol: float = 1e-9) -> torch.Tensor:
    r"""π(a|s) uniform over argmax_a Q(s, a) (ties within ``rtol`` relative), shaped like ``q``.

    With ``log_prior`` only actions of positive prior probability compete.
    """
    q = q.detach()
    if log_prior is not None:
        q = torch.where(torch.isfinite(log_prior), q, -torch.inf)
    best = q.max(-1, keepdim=True).values
    ties = q >= best - rtol * (1.0 + best.abs())
    return ties.to(DTYPE) / ties.sum(-1, keepdim=True)
