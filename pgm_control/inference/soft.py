r"""Soft value iteration: the lecture's soft Bellman backups (seed 000, "How are these messages related
to RL?" and "Control via variational inference"; seed 004, "Soft Optimality").

With temperature α (π ∝ exp(Q/α)) and action prior p(a|s) (uniform by default):

    V_t(s)    = α log Σ_a p(a|s) exp(Q_t(s, a)/α)                    (soft maximum)
    π_t(a|s)  = p(a|s) exp((Q_t(s, a) - V_t(s))/α)
    Q_t(s, a) = r(s, a) + γ E_{s'}[V_{t+1}(s')]                       backup="expected"
    Q_t(s, a) = r(s, a) + α log(γ E_{s'}[exp(V_{t+1}(s')/α)] + 1 - γ)  backup="optimistic"

"expected" is the variational solution with the dynamics held fixed: the ordinary Bellman backup with
a soft maximum (seed 000, "regular Bellman backup, not optimistic"). "optimistic" is the exact
posterior: with α = 1 and γ = 1, Q_t = log β_t(s, a) and V_t = log β_t(s), the backward messages.
A discount γ < 1 enters the optimistic backup as a probability 1 - γ of moving to an absorbing,
zero-reward state each step (Levine 2018, §2.3), which gives the familiar r + γ E[V'] in the expected
case.

Convention. This V is seed 000's log β_t(s) = log E_{a~p(a|s)}[β_t(s, a)]: the action prior sits
inside the soft maximum. The other common convention, V = log ∫ exp Q da (seed 004, and e.g.
``imitation``'s ``mce_partition_fh``), drops the 1/|A| of the uniform prior, so its V_t exceeds this one
by log|A| times the number of remaining steps (T - t for code time t = 0..T-1, γ = 1); policies are the
same. As α -> 0 the soft maximum becomes max_a and soft value iteration becomes
:func:`value_iteration` (``temperature=0`` computes that limit exactly for the expected backup).
"""

from __future__ import annotations

import math
import numbers

import torch

from pgm_control._checks import (
    as_float_tensor,
    check_horizon,
    check_positive_integer,
    check_temperature,
    check_tolerance,
    shape_str,
)
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control.inference._recursion import backward_induction, fixed_point
from pgm_control.inference.dynamic_programming import expected_backup
from pgm_control.inference.results import SoftValueResult
from pgm_control.mdp import TabularMDP

BACKUPS = ("expected", "optimistic")


def soft_maximum(q: torch.Tensor, log_prior: torch.Tensor | float, temperature: float) -> torch.Tensor:
    r"""V(s) = α log Σ_a p(a|s) exp(Q(s, a)/α); at α = 0, max over actions with p(a|s) > 0.

    q ``[..., S, A]``; log_prior ``[S, A]`` (broadcast against q), or a float for a uniform prior
    (log 1/A, the fast path); returns ``[..., S]``.
    """
    if not isinstance(q, torch.Tensor) or not q.is_floating_point() or q.dim() == 0:
        raise TypeError(f"q must be a float tensor [..., S, A], got {q!r:.60}")
    temperature = check_temperature(temperature)
    if isinstance(log_prior, numbers.Real) and not isinstance(log_prior, bool):
        log_prior = float(log_prior)
    else:
        log_prior = as_float_tensor(log_prior, "log_prior")
        if log_prior.dim() > q.dim() or q.shape[q.dim() - log_prior.dim():] != log_prior.shape:
            raise ValueError(f"log_prior must have the shape of q's last axes, log p(a|s) [S, A] = "
                             f"{shape_str(q.shape[-2:])}, got {shape_str(log_prior.shape)}")
    return _soft_maximum(q, log_prior, temperature)


def _soft_maximum(q: torch.Tensor, log_prior: torch.Tensor | float, temperature: float) -> torch.Tensor:
    """:func:`soft_maximum` for inputs already validated (the solvers' inner loop)."""
    if temperature == 0.0:
        if not isinstance(log_prior, float):
            q = torch.where(torch.isfinite(log_prior), q, -torch.inf)
        return q.max(-1).values
    scaled = q if temperature == 1.0 else q / temperature
    if isinstance(log_prior, float):
        value = torch.logsumexp(scaled, dim=-1) + log_prior
    else:
        value = torch.logsumexp(scaled + log_prior, dim=-1)
    return value if temperature == 1.0 else temperature * value


def optimistic_backup(mdp: TabularMDP, v_next: torch.Tensor, temperature: float,
                      out: torch.Tensor | None = None) -> torch.Tensor:
    r"""Q(s, a) = r(s, a) + α log(γ E_{s'}[exp(V(s')/α)] + 1 - γ); v_next ``[S]`` -> ``[S, A]`` (into ``out``)."""
    log_continue = mdp.log_expected_exp_next(v_next if temperature == 1.0 else v_next / temperature)
    gamma = mdp.discount
    if gamma < 1.0:
        log_gamma = math.log(gamma) if gamma > 0 else -math.inf
        log_continue = torch.logaddexp(log_continue + log_gamma,
                                       torch.full_like(log_continue, math.log1p(-gamma)))
    return torch.add(mdp.rewards, log_continue, alpha=temperature, out=out)


def soft_value_iteration(
    mdp: TabularMDP,
    horizon: int | None = None,
    temperature: float = 1.0,
    backup: str = "expected",
    *,
    action_prior=None,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    progress: bool | None = None,
) -> SoftValueResult:
    r"""Soft Q, V and the soft-optimal policy π(a|s) = p(a|s) exp((Q - V)/α).

    Args:
        mdp: the :class:`TabularMDP`.
        horizon: T for time-indexed tables (``q`` ``[T, S, A]``, ``v`` ``[T, S]``, code t = 0..T-1 is
            the slides' t = 1..T, V_T = 0), or None to iterate the discounted backup to its fixed point
            (``q`` ``[S, A]``, ``v`` ``[S]``; needs γ < 1 or terminal states).
        temperature: α >= 0 (``temperature=0`` is the hard limit, expected backup only).
        backup: ``"expected"`` (variational, fixed dynamics) or ``"optimistic"`` (exact posterior).
        action_prior: p(a|s) ``[S, A]`` or ``[A]``; uniform when None. Restricted to the available
            actions A(s) of ``mdp.available_actions`` and renormalized there (uniform over A(s) when
            None), so that the soft maximum runs over A(s) only.
        tol, max_iter: stopping rule of the infinite-horizon iteration (error bound on V).
        progress: show a tqdm bar (None: only for large problems).

    Returns:
        :class:`SoftValueResult` with ``q``, ``v``, ``log_policy``, ``policy``.

    Example:
        >>> from pgm_control.envs import lottery_mdp
        >>> mdp = lottery_mdp()
        >>> safe, gamble = 0, 1
        >>> exact = soft_value_iteration(mdp, horizon=5, backup="optimistic")
        >>> variational = soft_value_iteration(mdp, horizon=5, backup="expected")
        >>> bool(exact.policy[0, 0, gamble] > 0.5), bool(variational.policy[0, 0, safe] > 0.5)
        (True, True)
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon)
    temperature = check_temperature(temperature)
    tol, max_iter = check_tolerance(tol), check_positive_integer(max_iter, "max_iter")
    log_prior = log_action_prior(mdp, action_prior)
    return solve_soft(mdp, horizon, temperature, backup, log_prior, uniform_prior=action_prior is None, tol=tol,
                      max_iter=max_iter, progress=progress)


def solve_soft(mdp: TabularMDP, horizon: int | None, temperature: float, backup: str, log_prior: torch.Tensor, *,
               uniform_prior: bool, tol: float = 1e-10, max_iter: int = 100_000,
               progress: bool | None = None) -> SoftValueResult:
    """:func:`soft_value_iteration` for inputs already validated (inverse RL solves at every step):
    ``log_prior`` log p(a|s) ``[S, A]``, ``uniform_prior`` True when it is log 1/A (the fast path)."""
    q_from_v, v_from_q = soft_bellman_operators(mdp, temperature, backup, log_prior, uniform_prior)
    if horizon is not None:
        q, v = backward_induction(mdp, horizon, q_from_v, v_from_q, progress=progress,
                                  desc="soft value iteration")
        iterations = horizon
    else:
        divergence, modulus = (optimistic_iteration_checks(mdp, temperature, log_prior)
                               if backup == "optimistic" else (None, None))
        q, v, iterations = fixed_point(mdp, q_from_v, v_from_q, tol=tol, max_iter=max_iter, progress=progress,
                                       desc="soft value iteration", divergence=divergence, modulus=modulus)
    return SoftValueResult(q=q, v=v, temperature=temperature, backup=backup, log_prior=log_prior,
                           iterations=iterations)


# A log ratio above this (a few hundred ulps of 1) is a ratio above 1 despite rounding.
_RATIO_MARGIN = 1e-13


def optimistic_iteration_checks(mdp: TabularMDP, temperature: float, log_prior: torch.Tensor):
    r"""The ``divergence`` and ``modulus`` arguments of ``fixed_point`` for the optimistic backup.

    Divergence: raises at once when there is certainly no fixed point, gives None when there
    certainly is one, else a check run during the iteration. Modulus: the backup is not a
    γ-contraction in V when V > 0; its Lipschitz constant in the sup norm at V is
    max_s (γ K W)(s) / (γ K W + (1 - γ) u)(s), at least γ.

    In W(s) = exp(V(s)/α) the optimistic backup is linear (Levine 2018, §2.3, with the discount as
    an absorbing zero-reward state):

        W <- γ K W + (1 - γ) u,   K(s, s') = Σ_a p(a|s) e^{r(s,a)/α} p(s'|s,a),   u(s) = Σ_a p(a|s) e^{r(s,a)/α}

    With γ < 1 (so (1 - γ) u > 0) a finite fixed point exists iff the spectral radius γ ρ(K) < 1
    (with γ = 1, W grows without bound when γ ρ(K) > 1). For one state, V = r + α log(γ e^{V/α} + 1 - γ)
    has the solution e^{V/α} (1 - γ e^{r/α}) = (1 - γ) e^{r/α} only when γ e^{r/α} < 1. The row sums
    γ u(s) of γK bound ρ: min_s γ u(s) >= 1 proves divergence, max_s γ u(s) < 1 convergence. In
    between, the returned check applies the Collatz–Wielandt bound ρ(A) >= min_s (A x)_s / x_s
    (x > 0) to the iterate x = W_k on the states J where it grows, with A = γ K restricted to J (one
    extra backup, at sweeps 2^n and every 1024th).
    """
    gamma = mdp.discount
    if gamma == 0.0:
        return None, None
    log_gamma = math.log(gamma)
    log_rows = log_gamma + torch.logsumexp(log_prior + mdp.rewards / temperature, dim=-1)  # log γ u(s)
    if log_rows.min().item() >= _RATIO_MARGIN:
        raise ValueError(_optimistic_divergence_message(gamma, temperature, log_rows.min().item(),
                                                        "the smallest row sum of γ K, min_s γ Σ_a p(a|s) e^{r(s,a)/α}"))
    log_escape = math.log1p(-gamma) + log_rows - log_gamma if gamma < 1.0 else None  # log (1-γ) u(s)

    def modulus(v_new: torch.Tensor) -> float:  # 1 - min_s (1 - γ) u(s) / W(s)
        return max(gamma, 1.0 - (log_escape - v_new / temperature).exp().min().item())

    def check(v: torch.Tensor, v_new: torch.Tensor, sweep: int) -> str | None:
        if sweep & (sweep - 1) and sweep % 1024:
            return None
        log_w, log_w_new = v / temperature, v_new / temperature
        log_kw = log_w_new if log_escape is None else log_w_new + _log1mexp(log_escape - log_w_new)  # log γKW
        growing = log_kw - log_w >= _RATIO_MARGIN
        if not bool(growing.any()):
            return None
        on_j = torch.where(growing, log_w, -torch.inf)
        log_kw_j = log_gamma + torch.logsumexp(log_prior + mdp.rewards / temperature
                                               + mdp.log_expected_exp_next(on_j), dim=-1)
        bound = (log_kw_j - log_w)[growing].min().item()  # log of a lower bound on γ ρ(K)
        if bound < _RATIO_MARGIN:
            return None
        states = growing.nonzero().squeeze(-1).tolist()
        where = f"on states {states[:10]}{'...' if len(states) > 10 else ''}"
        return _optimistic_divergence_message(gamma, temperature, bound, where)

    if log_rows.max().item() < 0.0:
        return None, (modulus if log_escape is not None else None)
    return check, (modulus if log_escape is not None else None)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - e^x) for x <= 0, accurate on both sides of -log 2."""
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def _optimistic_divergence_message(gamma: float, temperature: float, log_bound: float, where: str) -> str:
    return (
        f"backup='optimistic' with discount={gamma:g} and temperature={temperature:g} has no fixed point: "
        "exp(V/α) follows W <- γ K W + (1 - γ) u with K(s, s') = Σ_a p(a|s) e^{r(s,a)/α} p(s'|s,a), "
        "finite only when the spectral radius γ ρ(K) < 1, but here γ ρ(K) >= "
        f"e^{log_bound:.3g} ({where}): the exponentiated return grows faster than the discount shrinks "
        "it. Lower the rewards or the discount, raise the temperature, or pass a finite horizon."
    )


def soft_bellman_operators(mdp: TabularMDP, temperature: float, backup: str, log_prior: torch.Tensor,
                           uniform_prior: bool):
    """The pair (q_from_v, v_from_q) of soft value iteration, for the drivers of ``_recursion``."""
    if backup not in BACKUPS:
        raise ValueError(f"backup must be one of {BACKUPS}, got {backup!r}")
    if backup == "optimistic" and temperature == 0.0:
        raise ValueError("temperature=0 is supported for backup='expected' only; pass a temperature > 0")
    # The float fast path is log 1/A: only for the uniform prior over *all* actions.
    hot_prior = -math.log(mdp.num_actions) if uniform_prior and mdp.all_actions_available else log_prior

    def q_from_v(v_next, out=None):
        if backup == "expected":
            return expected_backup(mdp, v_next, out)
        return optimistic_backup(mdp, v_next, temperature, out)

    def v_from_q(q, t=None):
        return _soft_maximum(q, hot_prior, temperature)

    return q_from_v, v_from_q
