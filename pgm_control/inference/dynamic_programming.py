r"""Classic dynamic programming (Lecture 20, "Bellman Equation", "Optimal Policies and Value Functions").

    V_π(s) = Σ_a π(a|s) [ r(s, a) + γ Σ_{s'} p(s'|s,a) V_π(s') ]
    Q_π(s, a) = r(s, a) + γ Σ_{s'} p(s'|s,a) Σ_{a'} π(a'|s') Q_π(s', a')
    V_*(s) = max_{a ∈ A(s)} [ r(s, a) + γ Σ_{s'} p(s'|s,a) V_*(s') ]

With state-dependent action sets (``mdp.available_actions``) maxima and greedy policies range over the
available actions A(s) only; ``q`` still holds r(s, a) + γ E[V(s')] for every action.

Infinite horizon (``horizon=None``) needs γ < 1 or terminal states; a finite horizon T gives
time-indexed tables with T entries (t = 0..T-1; V_T = 0 is implicit).
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, check_horizon, check_positive_integer, check_tolerance
from pgm_control._mdp_inputs import check_mdp, log_action_prior, read_policy
from pgm_control.inference._recursion import (
    backward_induction,
    fixed_point,
    require_infinite_horizon_ok,
    sequential_step,
)
from pgm_control.inference.policies import action_mask, greedy_policy_unchecked, hard_maximum
from pgm_control.inference.results import ValueResult
from pgm_control.mdp import TabularMDP

# Largest S for which policy evaluation solves the linear system directly (a dense S x S matrix).
DIRECT_SOLVE_MAX_STATES = 4096


def expected_backup(mdp: TabularMDP, v_next: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    r"""Q(s, a) = r(s, a) + γ E_{s' ~ p(s'|s,a)}[V(s')]; v_next ``[S]`` -> ``[S, A]`` (into ``out``)."""
    return mdp.backup(v_next, mdp.discount, out)


def policy_evaluation(mdp: TabularMDP, policy, horizon: int | None = None, *, tol: float = 1e-10,
                      max_iter: int = 100_000, progress: bool | None = None) -> ValueResult:
    r"""V_π and Q_π of a policy (Lecture 20, "Bellman Equation for V_π(s)").

        V_π(s) = Σ_a π(a|s) [ r(s, a) + γ Σ_{s'} p(s'|s,a) V_π(s') ]

    Args:
        policy: π(a|s) ``[S, A]``, time-indexed ``[T, S, A]`` (with ``horizon=T``), deterministic
            actions (long ``[S]``), or a result object with ``.policy``; it may put probability only on
            the available actions A(s) (else a ValueError names the states).
        horizon: T for finite-horizon evaluation; None for the infinite-horizon fixed point, solved
            exactly as the linear system (I - γ P_π) V = r_π on the non-terminal states when
            S <= 4096, else by iteration to ``tol``.

    Returns:
        :class:`ValueResult` with ``v`` ``[S]`` (``[T, S]``), ``q`` ``[S, A]`` (``[T, S, A]``) and the
        evaluated ``policy``.
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon)
    tol, max_iter = check_tolerance(tol), check_positive_integer(max_iter, "max_iter")
    pi = read_policy(mdp, policy, horizon)
    if horizon is not None:
        if pi.dim() == 2:
            pi = pi.expand(horizon, *pi.shape)
        step = sequential_step(lambda v, out: expected_backup(mdp, v, out), lambda q, t: (pi[t] * q).sum(-1))
        q, v = backward_induction(mdp, horizon, step, progress=progress, desc="policy evaluation")
        return ValueResult(q=q, v=v, policy=pi, iterations=horizon)
    if pi.dim() == 3:
        raise ValueError("a time-indexed policy [T, S, A] needs horizon=T")
    require_infinite_horizon_ok(mdp)
    if mdp.num_states <= DIRECT_SOLVE_MAX_STATES:
        v = _solve_bellman_linear_system(mdp, pi)
        return ValueResult(q=expected_backup(mdp, v), v=v, policy=pi, iterations=1)
    q, v, sweeps = fixed_point(mdp, lambda v, out: expected_backup(mdp, v, out), lambda q: (pi * q).sum(-1),
                               tol=tol, max_iter=max_iter, progress=progress, desc="policy evaluation")
    return ValueResult(q=q, v=v, policy=pi, iterations=sweeps)


def _solve_bellman_linear_system(mdp: TabularMDP, pi: torch.Tensor) -> torch.Tensor:
    """Solve (I - γ P_π) V = r_π on non-terminal states (terminal states have V = 0)."""
    S = mdp.num_states
    p_pi = torch.einsum("sa,sap->sp", pi, mdp.transitions)
    r_pi = (pi * mdp.rewards).sum(-1)
    live = ~mdp.terminal
    if mdp.discount == 1.0:
        _require_proper(p_pi, mdp.terminal)
    idx = live.nonzero().squeeze(-1)
    system = torch.eye(len(idx), dtype=DTYPE, device=mdp.device) - mdp.discount * p_pi[idx][:, idx]
    v = torch.zeros(S, dtype=DTYPE, device=mdp.device)
    v = v.index_put((idx,), torch.linalg.solve(system, r_pi[idx]))
    return v


def _require_proper(p_pi: torch.Tensor, terminal: torch.Tensor) -> None:
    """With γ = 1 every state must reach a terminal state under π, else V_π is unbounded."""
    reaches = terminal.clone()
    while True:
        grown = reaches | ((p_pi @ reaches.to(DTYPE)) > 0)
        if torch.equal(grown, reaches):
            break
        reaches = grown
    if not reaches.all():
        stuck = (~reaches).nonzero().squeeze(-1).tolist()
        raise ValueError(
            f"with discount=1 the policy must reach a terminal state from every state, but states "
            f"{stuck[:10]}{'...' if len(stuck) > 10 else ''} never do; pass a horizon or a discount < 1"
        )


def value_iteration(mdp: TabularMDP, horizon: int | None = None, *, tol: float = 1e-10,
                    max_iter: int = 100_000, progress: bool | None = None) -> ValueResult:
    r"""Bellman optimality backups (Lecture 20, "Optimal Policies and Value Functions").

        Q_*(s, a) = r(s, a) + γ Σ_{s'} p(s'|s,a) V_*(s'),   V_*(s) = max_{a ∈ A(s)} Q_*(s, a)

    ``horizon=None`` iterates to the fixed point (stopping when the contraction bound
    γ/(1-γ)‖V_{k+1} - V_k‖_∞ <= tol); ``horizon=T`` runs T backward steps from V_T = 0.

    Returns:
        :class:`ValueResult`: ``q`` ``[S, A]`` / ``[T, S, A]``, ``v`` ``[S]`` / ``[T, S]`` and the
        greedy ``policy`` π_*(a|s) (uniform over tied available actions, as in Figure 3.5's arrows).
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon)
    tol, max_iter = check_tolerance(tol), check_positive_integer(max_iter, "max_iter")
    available = action_mask(mdp)

    def q_from_v(v, out=None):
        return expected_backup(mdp, v, out)

    def v_from_q(q, t=None):
        return hard_maximum(q, available)

    if horizon is not None:
        q, v = backward_induction(mdp, horizon, sequential_step(q_from_v, v_from_q), progress=progress,
                                  desc="value iteration")
        return ValueResult(q=q, v=v, policy=greedy_policy_unchecked(q, available=available), iterations=horizon)
    q, v, sweeps = fixed_point(mdp, q_from_v, v_from_q, tol=tol, max_iter=max_iter, progress=progress,
                               desc="value iteration")
    return ValueResult(q=q, v=v, policy=greedy_policy_unchecked(q, available=available), iterations=sweeps)


def policy_iteration(mdp: TabularMDP, *, initial_policy=None, max_iter: int = 1000) -> ValueResult:
    r"""Howard's policy iteration: exact evaluation, then greedy improvement, until stable.

        V_{π_k} = (I - γ P_{π_k})^{-1} r_{π_k};   π_{k+1}(s) = argmax_{a ∈ A(s)} r(s, a) + γ E[V_{π_k}(s')]

    Infinite horizon only (γ < 1, or γ = 1 with terminal states that the policies reach). Starts
    from the uniform policy over the available actions A(s) unless ``initial_policy`` is given; stops
    when the greedy policy no longer changes. Returns :class:`ValueResult` (``iterations`` = number of
    improvement steps).
    """
    check_mdp(mdp)
    max_iter = check_positive_integer(max_iter, "max_iter")
    require_infinite_horizon_ok(mdp)
    available = action_mask(mdp)
    pi = log_action_prior(mdp, None).exp() if initial_policy is None else read_policy(
        mdp, initial_policy, None)
    for step in range(1, max_iter + 1):
        evaluation = policy_evaluation(mdp, pi)
        improved = greedy_policy_unchecked(evaluation.q, available=available)
        if torch.equal(improved, pi):
            return ValueResult(q=evaluation.q, v=evaluation.v, policy=pi, iterations=step)
        pi = improved
    raise RuntimeError(f"policy iteration did not stabilize in max_iter={max_iter} improvements")
