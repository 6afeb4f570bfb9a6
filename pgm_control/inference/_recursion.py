"""Thin drivers shared by every Bellman-type solver: backward induction and the fixed-point loop.

Each solver supplies two pure functions of tensors, ``q_from_v`` (a backup through the dynamics) and
``v_from_q`` (a maximum, soft maximum or policy average over actions); the drivers only loop over
time or iterations, never over states.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

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
    # With autograd on, or rewards of a tensor subclass that carries information through the ops (Pyro's
    # provenance tracking, which pgm_graph reads the IRL model's edges from), collect the steps' own
    # results in lists and stack once; otherwise write into preallocated tensors so that a [T, S, A]
    # table of 10^8 entries is never held twice (a write into a plain tensor drops both).
    track = (torch.is_grad_enabled() and mdp.rewards.requires_grad) or type(mdp.rewards) is not torch.Tensor
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


# The iteration has stalled at float64 resolution when the changes, at most this many units in the last
# place of max|V| (a backup's own rounding), have not reached a new minimum for STALL_SWEEPS sweeps
# (a converging iteration makes a new minimum nearly every sweep).
STALL_ULPS = 64
STALL_SWEEPS = 50
EPS = torch.finfo(DTYPE).eps

# A solver's certificate that its iteration has no fixed point: (V_k, V_{k+1}, k) -> an explanation,
# or None while it cannot tell.
DivergenceCheck = Callable[[torch.Tensor, torch.Tensor, int], str | None]


def fixed_point(
    mdp: TabularMDP,
    q_from_v: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    v_from_q: Backup,
    *,
    tol: float,
    max_iter: int,
    progress: bool | None = None,
    desc: str = "fixed point",
    divergence: DivergenceCheck | None = None,
    modulus: Callable[[torch.Tensor], float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    r"""Iterate Q_k = q_from_v(V_k), V_{k+1} = v_from_q(Q_k) from V_0 = 0 until the error bound on
    V_{k+1} is below `tol`.

    With γ < 1 the bound is L/(1-L) ‖V_{k+1} - V_k‖_∞ with L the contraction modulus: γ, or
    ``modulus(V_{k+1})`` for a backup that is not a γ-contraction. With γ = 1 (terminal states) no
    modulus is known in advance, so L is estimated by the observed rate of the last three sweeps,
    L̂ = max ‖V_{j+1} - V_j‖_∞ / ‖V_j - V_{j-1}‖_∞ (exact for a single slowly absorbing state, where the
    change itself would understate the error by a factor 1/(1-L)), and the bound is
    max(1, L̂/(1-L̂)) ‖V_{k+1} - V_k‖_∞; a sweep that changes nothing, or (γ = 1) changes V by no more
    than rounding while within `tol`, stops at once. Returns q ``[S, A]``, v ``[S]``
    and the number of sweeps, as a consistent pair: v = v_from_q(q) exactly (so a policy read off q
    and v is normalized) and q = q_from_v(V_k) is the backup of v to within γ‖V_{k+1} - V_k‖_∞ <=
    (1-γ)·tol (tol when γ = 1).

    Errors, by cause: ``divergence`` (a solver's certificate, e.g. the optimistic backup's spectral
    condition) proves there is no fixed point: ``ValueError`` with its explanation; the changes stall
    at float64's resolution of V with the bound still above `tol`: ``ValueError`` naming `tol`;
    `max_iter` sweeps pass: ``RuntimeError``, saying whether V was still converging or kept growing.
    """
    require_infinite_horizon_ok(mdp)
    gamma = mdp.discount
    factor = _bound_factor(gamma) if gamma < 1.0 else 1.0
    v = torch.zeros(mdp.num_states, dtype=DTYPE, device=mdp.device)
    stalled, smallest, half_change = 0, math.inf, None
    changes = []  # the last few ‖V_{k+1} - V_k‖_∞, for the observed rate when γ = 1
    with progress_bar(max_iter, progress, 0.0, desc) as bar:
        for sweep in range(1, max_iter + 1):
            q = q_from_v(v, None)
            v_new = v_from_q(q)
            change = (v_new - v).abs().max().item()
            bar.update()
            if modulus is not None and gamma < 1.0:
                factor = _bound_factor(modulus(v_new))
            elif gamma == 1.0:
                changes = [*changes[-3:], change]
                # at least 1: the returned q (the backup of V_k) is then within tol of the backup of v
                factor = max(1.0, _bound_factor(_observed_rate(changes)))
            scale = max(v_new.abs().max().item(), v.abs().max().item())
            at_rounding = change <= STALL_ULPS * EPS * max(scale, 1.0)  # no sweep can tell more
            if change == 0.0 or factor * change <= tol or (gamma == 1.0 and at_rounding and change <= tol):
                return q, v_new, sweep
            if divergence is not None and (reason := divergence(v, v_new, sweep)) is not None:
                raise ValueError(reason)
            if change > STALL_ULPS * EPS * scale or change < smallest:
                stalled, smallest = 0, min(change, smallest)
            else:
                stalled += 1
            if stalled >= STALL_SWEEPS:
                raise ValueError(_stall_message(desc, tol, factor, change, scale))
            v = v_new
            if sweep == max_iter // 2:
                half_change = change
    raise RuntimeError(_not_converged_message(desc, max_iter, gamma, factor, change, half_change, tol))


def _bound_factor(lipschitz: float) -> float:
    """L/(1-L): ‖V_{k+1} - V*‖ <= L/(1-L) ‖V_{k+1} - V_k‖ for an L-contraction."""
    return lipschitz / (1.0 - lipschitz) if lipschitz < 1.0 else math.inf


def _observed_rate(changes: list[float]) -> float:
    """The largest ratio of successive changes among the last three (1 until three ratios exist)."""
    if len(changes) < 4:
        return 1.0
    return max(later / earlier if earlier > 0 else 1.0 for earlier, later in pairwise(changes))


def _stall_message(desc: str, tol: float, factor: float, change: float, scale: float) -> str:
    floor = factor * STALL_ULPS * EPS * scale
    return (
        f"{desc}: tol={tol:.3g} is below what float64 resolves here: with values of size {scale:.3g} "
        f"the changes of V have stalled at rounding level ({change:.3g}, about "
        f"{change / (EPS * scale):.0f} units in the last place) for {STALL_SWEEPS} sweeps, so the error "
        f"bound cannot fall below about {floor:.2g}. Pass tol >= {floor:.1g}."
    )


def _not_converged_message(desc, max_iter, gamma, factor, change, half_change, tol) -> str:
    head = f"{desc} did not converge in max_iter={max_iter} sweeps: "
    if half_change is not None and change >= half_change:
        hint = (" With discount=1 a policy that the backup weighs may cycle forever without reaching a "
                "terminal state, with a positive return per cycle." if gamma == 1.0 else "")
        return (head + f"V still changes by {change:.3g} per sweep, no less than {half_change:.3g} "
                f"halfway, so it may have no fixed point.{hint} Check the rewards and terminal states, "
                "lower the discount, or pass a finite horizon.")
    return (head + f"the error bound {factor * change:.3g} is still above tol={tol:.3g} and shrinking "
            "(a discount near 1 converges slowly). Raise max_iter, loosen tol, or pass a finite horizon.")


def require_infinite_horizon_ok(mdp: TabularMDP) -> None:
    if mdp.discount == 1.0 and not bool(mdp.terminal.any()):
        raise ValueError(
            "discount=1 with no horizon: the undiscounted infinite-horizon value is unbounded. "
            "Pass horizon=T, use an MDP with discount < 1 (mdp.replace(discount=0.99)), or mark "
            "terminal states."
        )
