"""Policies (and hard maxima) read off value tables, over the available actions A(s)."""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_tolerance, shape_str
from pgm_control.mdp import TabularMDP

# Entries per in-place pass of soft_log_policy (its temporaries stay this size, about 8 MB).
CHUNK = 1 << 20


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
    ``mdp.available_actions``) and, with ``log_prior`` (shaped like q's last axes), those of positive
    prior probability.
    """
    if not isinstance(q, torch.Tensor) or not q.is_floating_point() or q.dim() == 0:
        raise TypeError(f"q must be a float tensor [..., S, A], got {q!r:.60}")
    if bool(torch.isnan(q).any()):
        raise ValueError("q must not hold NaN: the greedy action of a NaN row is undefined")
    for name, table in (("log_prior", log_prior), ("available", available)):
        if table is None:
            continue
        if not isinstance(table, torch.Tensor):
            table = as_float_tensor(table, name)
        if table.dim() > q.dim() or q.shape[q.dim() - table.dim():] != table.shape:
            raise ValueError(f"{name} must have the shape of q's last axes, got {shape_str(table.shape)} "
                             f"for q of shape {shape_str(q.shape)}")
    if available is not None and available.dtype != torch.bool:
        raise TypeError(f"available must be a bool mask [S, A], got dtype {available.dtype}")
    return greedy_policy_unchecked(q, log_prior, check_tolerance(rtol, "rtol"), available=available)


def greedy_policy_unchecked(q: torch.Tensor, log_prior: torch.Tensor | None = None, rtol: float = 1e-9, *,
                            available: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`~pgm_control.inference.greedy_policy` for inputs already validated (the solvers' own tables)."""
    q = q.detach()
    if log_prior is not None:
        q = torch.where(torch.isfinite(log_prior), q, -torch.inf)
    if available is not None:
        q = torch.where(available, q, -torch.inf)
    best = q.max(-1, keepdim=True).values
    ties = q >= best - rtol * (1.0 + best.abs())
    return ties.to(DTYPE) / ties.sum(-1, keepdim=True)


def soft_log_policy(q: torch.Tensor, log_prior: torch.Tensor | float, temperature: float,
                    out: torch.Tensor | None = None) -> torch.Tensor:
    r"""log π(a|s) = log p(a|s) + (Q(s, a) - V(s))/α (CS285 notes, "Soft Optimality"), shaped like ``q``.

    Computed as the log-softmax of the row x(a) = log p(a|s) + Q(s, a)/α itself,

        log π(a|s) = x(a) - log Σ_a' exp(x(a')),

    which equals the formula above in exact arithmetic (V(s) = α log Σ_a p(a|s) exp(Q(s, a)/α)) but
    normalizes each row to rounding error at every α: subtracting a separately computed V instead
    amplifies V's rounding by 1/α (rows summing to 1 ± 1e-3 at α = 1e-6). ``q`` ``[..., S, A]``;
    ``log_prior`` ``[S, A]`` or a float. At α = 0, the log of the greedy policy over the actions of
    positive prior. Without autograd the table is built in place a block of time steps at a time into
    ``out`` (shaped like q; it may be q itself, as the solvers' ``keep="policy"`` does), so the result
    is the only full-size allocation. The one place where every soft policy of the exact solvers is
    formed.
    """
    if temperature == 0.0:
        log_prior = None if isinstance(log_prior, float) else log_prior
        return torch.log(greedy_policy_unchecked(q, log_prior), out=out)
    if q.requires_grad or (isinstance(log_prior, torch.Tensor) and log_prior.requires_grad):
        return torch.log_softmax(q / temperature + log_prior, dim=-1)
    S, A = q.shape[-2:]
    if out is None:
        out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    steps = max(1, CHUNK // max(1, S * A))  # whole time steps per in-place pass
    for q_part, out_part in zip(q.reshape(-1, S, A).split(steps), out.view(-1, S, A).split(steps)):
        torch.div(q_part, temperature, out=out_part)
        out_part += log_prior
        out_part -= torch.logsumexp(out_part, dim=-1, keepdim=True)
    return out
