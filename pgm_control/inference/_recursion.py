"""Thin drivers shared by every Bellman-type solver: backward induction and the fixed-point loop.

Each solver supplies two pure functions of tensors, ``q_from_v`` (a backup through the dynamics) and
``v_from_q`` (a maximum, soft maximum or policy average over actions); the drivers only loop over
time or iterations, never over states.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pgm_control._checks import DTYPE
from pgm_control._progress import progress_bar
from pgm_control.mdp import TabularMDP

Backup = Callable[[torch.Tensor], torch.Tensor]
TimedBackup = Callable[[torch.Tensor, int], torch.Tensor]
# step(v_next, t, out, need_q) -> (q_t or None, v_t); see backward_induction.
Step = Callable[[torch.Tensor, int, "torch.Tensor | None", bool], "tuple[torch.Tensor | None, torch.Tensor]"]


def sequential_step(q_from_v: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                    v_from_q: TimedBackup) -> Step:
    """The step Q_t = q_from_v(V_{t+1}, out), V_t = v_from_q(Q_t, t) (Q always formed)."""
    def step(v_next, t, out, need_q):
        q = q_from_v(v_next, out)
        return q, v_from_q(q, t)
    return step


def backward_induction(
    mdp: TabularMDP,
    horizon: int,
    step: Step,
    *,
    keep_q: bool = True,
    progress: bool | None = None,
    desc: str = "backward induction",
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(Q_t, V_t) = step(V_{t+1}, t, out, need_q) for t = T-1, ..., 0 with V_T = 0.

    Without autograd, ``out`` is a preallocated ``[S, A]`` buffer: with ``keep_q`` the slot t of the
    returned table (the step writes Q_t there), otherwise one scratch buffer reused at every step,
    which the step may use as workspace (``need_q=False``: Q_t need not be formed). When autograd
    records the solve (rewards that require grad), ``out`` is None and the step returns fresh
    tensors, stacked once at the end. Returns q ``[T, S, A]`` (None with ``keep_q=False``) and v
    ``[T, S]`` (T entries: the terminal V_T = 0 is not stored), on ``mdp.device``.
    """
    S, A = mdp.num_states, mdp.num_actions
    # With autograd on, collect steps in lists and stack once; otherwise write into preallocated
    # tensors so that a [T, S, A] table of 10^8 entries is never held twice.
    track = torch.is_grad_enabled() and mdp.rewards.requires_grad
    q_steps, v_steps = [], []
    if not track:
        q_all = torch.empty(horizon if keep_q else 1, S, A, dtype=DTYPE, device=mdp.device)
        v_all = torch.empty(horizon, S, dtype=DTYPE, device=mdp.device)
    v_next = torch.zeros(S, dtype=DTYPE, device=mdp.device)
    with progress_bar(horizon, progress, horizon * S * A, desc) as bar:
        for t in reversed(range(horizon)):
            q, v = step(v_next, t, None if track else q_all[t if keep_q else 0], keep_q or track)
            if track:
                q_steps.append(q)
                v_steps.append(v)
                v_next = v
            else:
                v_next = v_all[t].copy_(v)
            bar.update()
    if track:
        q_all, v_all = (torch.stack(q_steps[::-1]) if keep_q else None), torch.stack(v_steps[::-1])
    return (q_all if keep_q else None), v_all


def fixed_point(
    mdp: TabularMDP,
    q_from_v: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    v_from_q: Backup,
    *,
    tol: float,
    max_iter: int,
    progress: bool | None = None,
    desc: str = "fixed point",
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Iterate V <- v_from_q(q_from_v(V)) from V = 0 until the error bound on V is below `tol`.

    With γ < 1 the bound is γ/(1-γ) ‖V_{k+1} - V_k‖_∞ (contraction); with γ = 1 (terminal states) it is
    the change itself. Returns q ``[S, A]``, v ``[S]`` and the number of sweeps.
    """
    require_infinite_horizon_ok(mdp)
    gamma = mdp.discount
    factor = gamma / (1.0 - gamma) if gamma < 1.0 else 1.0
    v = torch.zeros(mdp.num_states, dtype=DTYPE, device=mdp.device)
    with progress_bar(max_iter, progress, 0.0, desc) as bar:
        for sweep in range(1, max_iter + 1):
            q = q_from_v(v, None)
            v_new = v_from_q(q)
            change = (v_new - v).abs().max().item()
            v = v_new
            bar.update()
            if factor * change <= tol:
                return q_from_v(v, None), v, sweep
    raise RuntimeError(
        f"{desc} did not converge in max_iter={max_iter} sweeps (last change {change:.3g}); with "
        "discount=1 some policy may never reach a terminal state. Raise max_iter, lower the "
        "discount, or pass a finite horizon."
    )


def require_infinite_horizon_ok(mdp: TabularMDP) -> None:
    if mdp.discount == 1.0 and not bool(mdp.terminal.any()):
        raise ValueError(
            "discount=1 with no horizon: the undiscounted infinite-horizon value is unbounded. "
            "Pass horizon=T, use an MDP with discount < 1 (mdp.replace(discount=0.99)), or mark "
            "terminal states."
        )
