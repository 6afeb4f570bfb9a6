"""Policies (and hard maxima) read off value tables, over the available actions A(s)."""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE
from pgm_control.mdp import TabularMDP


def action_mask(mdp: TabularMDP) -> torch.Tensor | None:
    """``mdp.available_actions`` ``[S, A]``, or None when every action is available (nothing to mask)."""
    return None if mdp.all_actions_available else mdp.available_actions


def hard_maximum(q: torch.Tensor, available: torch.Tensor | None = None) -> torch.Tensor:
    r"""V(s) = max_{a ∈ A(s)} Q(s, a): q ``[..., S, A]``, available ``[S, A]`` bool (None: all) -> ``[..., S]``."""
    if available is not None:
        q = torch.where(available, q, -torch.inf)
    return q.max(-1).values


def greedy_policy(q: torch.Tensor, log_prior: torch.Tensor | None = None, rtol: float = 1e-9, *,
                  available: torch.Tensor | None = None) -> torch.Tensor:
    r"""π(a|s) uniform over argmax_{a ∈ A(s)} Q(s, a) (ties within ``rtol`` relative), shaped like ``q``.

    Only available actions compete: those of ``available`` (a bool mask ``[S, A]``, e.g.
    ``mdp.available_actions``) and, with ``log_prior``, those of positive prior probability.
    """
    q = q.detach()
    if log_prior is not None:
        q = torch.where(torch.isfinite(log_prior), q, -torch.inf)
    if available is not None:
        q = torch.where(available, q, -torch.inf)
    best = q.max(-1, keepdim=True).values
    ties = q >= best - rtol * (1.0 + best.abs())
    return ties.to(DTYPE) / ties.sum(-1, keepdim=True)
