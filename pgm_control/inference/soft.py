r"""Soft value iteration: the lecture's soft Bellman backups (Lecture 20, "How are these messages related
to RL?" and "Control via variational inference"; the CS285 notes, "Soft Optimality").

With temperature α (π ∝ exp(Q/α)) and action prior p(a|s) (uniform by default):

    V_t(s)    = α log Σ_a p(a|s) exp(Q_t(s, a)/α)                    (soft maximum)
    π_t(a|s)  = p(a|s) exp((Q_t(s, a) - V_t(s))/α)
    Q_t(s, a) = r(s, a) + γ E_{s'}[V_{t+1}(s')]                       backup="expected"
    Q_t(s, a) = r(s, a) + α log(γ E_{s'}[exp(V_{t+1}(s')/α)] + 1 - γ)  backup="optimistic"

"expected" is the variational solution with the dynamics held fixed: the ordinary Bellman backup with
a soft maximum (Lecture 20, "regular Bellman backup, not optimistic"). "optimistic" is the exact
posterior: with α = 1 and γ = 1, Q_t = log β_t(s, a) and V_t = log β_t(s), the backward messages.
A discount γ < 1 enters the optimistic backup as a probability 1 - γ of moving to an absorbing,
zero-reward state each step (Levine 2018, §2.3), which gives the familiar r + γ E[V'] in the expected
case.

Convention. This V is Lecture 20's log β_t(s) = log E_{a~p(a|s)}[β_t(s, a)]: the action prior sits
inside the soft maximum. The other common convention, V = log ∫ exp Q da (CS285 notes, and e.g.
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
    DTYPE,
    as_float_tensor,
    check_horizon,
    check_positive_integer,
    check_temperature,
    check_tolerance,
    shape_str,
)
from pgm_control._logspace import SAFE_MIN
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control.inference._recursion import backward_induction, fixed_point, sequential_step
from pgm_control.inference.dynamic_programming import expected_backup
from pgm_control.inference.policies import soft_log_policy
from pgm_control.inference.results import SoftValueResult
from pgm_control.mdp import TabularMDP

BACKUPS = ("expected", "optimistic")
KEEP = ("all", "policy", "v")


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
    keep: str = "all",
    tol: float = 1e-10,
    max_iter: int = 100_000,
    progress: bool | None = None,
) -> SoftValueResult:
    r"""Soft Q, V and the soft-optimal policy π(a|s) = p(a|s) exp((Q - V)/α).

    Args:
        mdp: the :class:`TabularMDP` (the solve runs on ``mdp.device``).
        horizon: T for time-indexed tables (``q`` ``[T, S, A]``, ``v`` ``[T, S]``, code t = 0..T-1 is
            the slides' t = 1..T, V_T = 0), or None to iterate the discounted backup to its fixed point
            (``q`` ``[S, A]``, ``v`` ``[S]``; needs γ < 1 or terminal states).
        temperature: α >= 0 (``temperature=0`` is the hard limit, expected backup only).
        backup: ``"expected"`` (variational, fixed dynamics) or ``"optimistic"`` (exact posterior).
        action_prior: p(a|s) ``[S, A]`` or ``[A]``; uniform when None.
        keep: which tables the solve stores (``"all"``, ``"policy"`` or ``"v"``; see below).
        tol, max_iter: stopping rule of the infinite-horizon iteration (error bound on V).
        progress: show a tqdm bar (None: only for large problems).

    What ``keep`` stores, and the peak memory (RSS, GiB) of the 10^6-state, 4-action grid at T = 100
    (where a ``[T, S, A]`` table is 3.0 GiB and ``v`` 0.75 GiB; the MDP itself peaks at 1.3 GiB):

    ============  ========================  =============================  =============  ============
    ``keep``      stored                    the policy                     after solve    + policy
    ============  ========================  =============================  =============  ============
    ``"all"``     ``q``, ``v``              ``.log_policy`` builds it       4.7            7.7
    ``"policy"``  ``log_policy``, ``v``     stored (``.q`` is rebuilt)     4.7            4.7
    ``"v"``       ``v``                     ``log_policy_at(t)`` per step  1.7            1.7
    ============  ========================  =============================  =============  ============

    Whatever was not stored is computed on first access from ``v`` (one backup per step);
    ``result.q_at(t)``, ``log_policy_at(t)`` and ``policy_at(t)`` give one ``[S, A]`` step without
    any ``[T, S, A]`` table, which is how ``keep="v"`` serves a policy step by step.

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
        >>> lean = soft_value_iteration(mdp, horizon=5, backup="optimistic", keep="v")
        >>> bool(torch.allclose(lean.policy_at(0), exact.policy[0], atol=1e-12))
        True
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon)
    temperature = check_temperature(temperature)
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
    tol, max_iter = check_tolerance(tol), check_positive_integer(max_iter, "max_iter")
    log_prior = log_action_prior(mdp, action_prior)
    return solve_soft(mdp, horizon, temperature, backup, log_prior, uniform_prior=action_prior is None, keep=keep,
                      tol=tol, max_iter=max_iter, progress=progress)


def solve_soft(mdp: TabularMDP, horizon: int | None, temperature: float, backup: str, log_prior: torch.Tensor, *,
               uniform_prior: bool, keep: str = "all", tol: float = 1e-10, max_iter: int = 100_000,
               progress: bool | None = None) -> SoftValueResult:
    """:func:`soft_value_iteration` for inputs already validated (inverse RL solves at every step):
    ``log_prior`` log p(a|s) ``[S, A]``, ``uniform_prior`` True when it is log 1/A (the fast path)."""
    q_from_v, v_from_q = soft_bellman_operators(mdp, temperature, backup, log_prior, uniform_prior)
    if horizon is not None:
        step = soft_bellman_step(mdp, temperature, backup, log_prior, uniform_prior)
        if keep == "policy":
            step = _policy_step(step, log_prior, temperature)
        table, v = backward_induction(mdp, horizon, step, keep_q=keep != "v", progress=progress,
                                      desc="soft value iteration")
        iterations = horizon
    else:
        divergence, modulus = (optimistic_iteration_checks(mdp, temperature, log_prior)
                               if backup == "optimistic" else (None, None))
        table, v, iterations = fixed_point(mdp, q_from_v, v_from_q, tol=tol, max_iter=max_iter,
                                           progress=progress, desc="soft value iteration",
                                           divergence=divergence, modulus=modulus)
        if keep == "policy":
            table = soft_log_policy(table, log_prior, temperature)
    return SoftValueResult(v=v, temperature=temperature, backup=backup, log_prior=log_prior,
                           iterations=iterations, q_table=table if keep == "all" else None,
                           log_policy_table=table if keep == "policy" else None, q_from_v=q_from_v)


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


def soft_bellman_step(mdp: TabularMDP, temperature: float, backup: str, log_prior: torch.Tensor,
                      uniform_prior: bool):
    """The step of ``backward_induction`` for soft value iteration: the fused
    :class:`FusedSoftStep` when nothing needs gradients and α > 0, else the two operators in turn."""
    q_from_v, v_from_q = soft_bellman_operators(mdp, temperature, backup, log_prior, uniform_prior)
    if temperature == 0.0 or (torch.is_grad_enabled() and mdp.rewards.requires_grad):
        return sequential_step(q_from_v, v_from_q)
    # The 1/A fast path holds only when every action is available (as in soft_bellman_operators).
    return FusedSoftStep(mdp, temperature, backup, log_prior, uniform_prior and mdp.all_actions_available,
                         q_from_v)


def _policy_step(step, log_prior: torch.Tensor, temperature: float):
    """Wrap a step so that the stored ``[S, A]`` slot holds log π_t instead of Q_t (keep="policy")."""
    def policy_step(v_next, t, out, need_q):
        q, v = step(v_next, t, out, need_q)
        return soft_log_policy(q, log_prior, temperature, out=out), v
    return policy_step


class FusedSoftStep:
    r"""One backward step V_{t+1} -> (Q_t, V_t) of soft value iteration in a few in-place passes.

    The soft maximum is shifted by one bound c_t >= max_{s,a} Q_t known before Q_t is formed, so
    that one exp and one weighted sum over the action axis (a matrix-vector product) replace the
    row-wise max, subtract, exp, sum and log of a logsumexp:

        w_t(s, a) = p(a|s) exp((Q_t(s, a) - c_t)/α) ∈ [0, 1],   V_t(s) = c_t + α log Σ_a w_t(s, a)

    expected:    c_t = max r + γ max V_{t+1}, and without Q (``need_q=False``)
                 log w_t = [log p(a|s) + (r - max r)/α] + (γ/α) E[V_{t+1} - max V_{t+1}]  (one addmv)
    optimistic:  m = max V_{t+1} (and >= 0 when γ < 1), c_t = max r + m,
                 z(s, a) = γ E[exp((V_{t+1}(s') - m)/α)] + (1 - γ) exp(-m/α) ∈ (0, 1],
                 w_t = p(a|s) exp((r - max r)/α) z,   Q_t = r + m + α log z.

    Nothing overflows (every term is <= 1). A state whose sum falls below float64's safe range
    (Q_t far below c_t for every action) gets its V_t recomputed exactly with a per-state shift, and
    an optimistic Q_t with some z below it is recomputed by the exact log-space product, so the
    result is exact wherever the two-step route is. Used without autograd only (in-place buffers).
    """

    def __init__(self, mdp: TabularMDP, temperature: float, backup: str, log_prior: torch.Tensor,
                 uniform_prior: bool, q_from_v):
        rewards = mdp.rewards.detach()
        self.mdp, self.temperature, self.backup, self.log_prior = mdp, temperature, backup, log_prior
        self.q_from_v = q_from_v
        self.gamma = mdp.discount
        self.max_reward = rewards.max()
        # log p(a|s) + (r - max r)/α: the part of log w_t fixed for the whole solve.
        self.log_tilt = torch.add(log_prior, rewards - self.max_reward, alpha=1.0 / temperature)
        self.tilt = self.log_tilt.exp() if backup == "optimistic" else None
        self.uniform_prior = uniform_prior
        A = mdp.num_actions
        # Σ_a w(s, a) as a matrix-vector product; 1/A carries a uniform prior left out of w.
        self.ones = torch.ones(A, dtype=DTYPE, device=mdp.device)
        self.uniform = torch.full((A,), 1.0 / A, dtype=DTYPE, device=mdp.device)
        self.total = torch.empty(mdp.num_states, dtype=DTYPE, device=mdp.device)
        self._work = None

    def work(self) -> torch.Tensor:
        if self._work is None:
            self._work = torch.empty_like(self.log_tilt)
        return self._work

    def __call__(self, v_next: torch.Tensor, t: int, out: torch.Tensor, need_q: bool):
        alpha = self.temperature
        v_max = v_next.max()
        weights = self.ones
        if self.backup == "expected":
            shift = self.max_reward + self.gamma * v_max
            if need_q:
                q = self.mdp.backup(v_next, self.gamma, out)
                w = torch.add(shift * (-1.0 / alpha), q, alpha=1.0 / alpha, out=self.work())
                if self.uniform_prior:
                    weights = self.uniform
                else:
                    w.add_(self.log_prior)
            else:
                q, w = None, self.mdp.backup(v_next - v_max, self.gamma / alpha, out, base=self.log_tilt)
            w.exp_()
        else:
            if self.gamma < 1.0:
                v_max = v_max.clamp(min=0.0)
            shift = self.max_reward + v_max
            w = self.mdp.expected_next(torch.exp((v_next - v_max) / alpha), self.work() if need_q else out)
            if self.gamma < 1.0:
                w = torch.add(torch.exp(-v_max / alpha) * (1.0 - self.gamma), w, alpha=self.gamma, out=w)
            q = self._optimistic_q(v_next, w, v_max, out) if need_q else None
            w.mul_(self.tilt)
        v = torch.mv(w, weights, out=self.total)
        low = v < SAFE_MIN
        v.log_().mul_(alpha).add_(shift)
        if bool(low.any()):
            self._exact_rows(v, low, v_next if q is None else None, q)
        return q, v

    def _optimistic_q(self, v_next, z, v_max, out):
        """Q_t = r + m + α log z into ``out``; exactly by the log-space product if some z underflows."""
        if bool(z.min() < SAFE_MIN):
            return self.q_from_v(v_next, out)
        q = torch.log(z, out=out)
        return torch.add(self.mdp.rewards.detach(), q, alpha=self.temperature, out=q).add_(v_max)

    def _exact_rows(self, v, low, v_next, q):
        """V_t(s) = α log Σ_a p(a|s) exp(Q_t(s, a)/α) with a per-state shift, for the states `low`."""
        q = self.q_from_v(v_next, None) if q is None else q
        rows = low.nonzero().squeeze(-1)
        v[rows] = soft_maximum(q[rows], self.log_prior[rows], self.temperature)
