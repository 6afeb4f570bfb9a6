r"""Feature-matching inverse RL (CS285 notes, "Feature Matching IRL"; Abbeel & Ng 2004).

With a linear reward r_ψ(s, a) = ψᵀ f(s, a), a policy's return is ψᵀ μ(π), where

    μ(π) = E_π[Σ_t f(s_t, a_t)] = Σ_t w_t Σ_{s,a} d_t^π(s) π_t(a|s) f(s, a)        ``[F]``

are its feature expectations over the finite horizon (d_t^π: state distribution under π from the
demonstrations' start distribution ρ; w_t: the fraction of demonstrations with more than t steps, 1 for
equal lengths). A policy whose μ matches the expert's μ_E = (1/N) Σ_i Σ_t f(s_{i,t}, a_{i,t}) earns the
expert's return under *every* ψ:  |ψᵀ μ(π) - ψᵀ μ_E| ≤ ‖ψ‖ ‖μ(π) - μ_E‖.

The CS285 notes pick ψ by the maximum margin m over all policies Π,

    max_{ψ, m} m   s.t.  ψᵀ μ_E ≥ max_{π ∈ Π} ψᵀ μ(π) + m,        ‖ψ‖ ≤ 1
    ⇔  min_ψ ½‖ψ‖²  s.t.  ψᵀ (μ_E - μ(π)) ≥ 1  for all π            (the SVM form; m = 1/‖ψ‖)

Abbeel & Ng solve it by constraint generation: the policies π_j found so far stand in for Π, and each new
π_j is the optimal policy of the current ψ (the most violated constraint). ``method="max_margin"`` solves
the SVM form exactly over π_0..π_{j-1} (:func:`max_margin_reward`); ``method="projection"`` replaces the
QP by an orthogonal projection. Both stop when the margin t ≤ ``tol`` and return the mixture of the
found policies whose feature expectations are closest to μ_E (:func:`closest_mixture`).

Departures from Abbeel & Ng: finite horizon T, undiscounted, from the demonstrations' empirical start
distribution (steps weighted by the fraction of demonstrations that reach them); π_0 is the uniform
policy, not a random one; the projection coefficient is clipped to [0, 1] so that μ̄ stays a mixture
of found policies (t still never increases); the max-margin QP is solved exactly as a least-distance
program by NNLS (no QP package); the mixture is also returned as one Markov policy with the same
visitation. The CS285 notes' structured margin D(π, π*) is not used (the plain margin of Abbeel & Ng).

References: Abbeel & Ng, "Apprenticeship Learning via Inverse Reinforcement Learning", ICML 2004;
Lawson & Hanson, "Solving Least Squares Problems", 1974 (ch. 23: NNLS and least-distance programming).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pgm_control._checks import DTYPE, check_positive_integer, check_tolerance
from pgm_control._mdp_inputs import log_action_prior
from pgm_control._progress import progress_bar
from pgm_control.demonstrations import Demonstrations
from pgm_control.inference.dynamic_programming import value_iteration
from pgm_control.inference.irl import demonstrated_feature_counts, reward_features
from pgm_control.inference.variational import state_distributions
from pgm_control.mdp import TabularMDP
from pgm_control.models.irl import check_irl_inputs

METHODS = ("projection", "max_margin")


# ---------------------------------------------------------------------------------------------- the QP
def nnls(matrix: torch.Tensor, target: torch.Tensor, max_iter: int | None = None) -> torch.Tensor:
    r"""Non-negative least squares, min_{u ≥ 0} ‖E u - f‖, by Lawson & Hanson's active-set method (1974,
    ch. 23), exact up to rounding and finite: E ``[m, n]``, f ``[m]`` -> u ``[n]``.

    Pseudocode: P = ∅ (the free, positive variables), u = 0; while some gradient w = Eᵀ(f - E u) is
    positive outside P, move its largest entry into P, solve least squares on P, and step back along
    the segment to the first variable that would turn negative (dropping it) until all of P is positive.

    Example:
        >>> E = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
        >>> nnls(E, torch.tensor([2.0, -1.0], dtype=torch.float64)).tolist()
        [2.0, 0.0]
    """
    m, n = matrix.shape
    max_iter = 3 * n if max_iter is None else max_iter
    tol = 10 * max(m, n) * torch.finfo(DTYPE).eps * max(matrix.abs().sum(0).max().item(), 1.0)
    u = torch.zeros(n, dtype=DTYPE, device=matrix.device)
    free = torch.zeros(n, dtype=torch.bool, device=matrix.device)
    gradient = matrix.T @ (target - matrix @ u)
    for _ in range(max_iter):
        candidates = torch.where(free, -torch.inf, gradient)
        if free.all() or candidates.max() <= tol:
            return u
        free[candidates.argmax()] = True
        while True:  # the inner loop: keep the free variables positive
            z = torch.zeros(n, dtype=DTYPE, device=matrix.device)
            z[free] = torch.linalg.lstsq(matrix[:, free], target[:, None]).solution[:, 0]
            if (z[free] > tol).all():
                break
            blocking = free & (z <= tol)
            step = (u[blocking] / (u[blocking] - z[blocking])).min()
            u = u + step * (z - u)
            free &= u > tol
            u = torch.where(free, u, 0.0)
        u = z
        gradient = matrix.T @ (target - matrix @ u)
    raise RuntimeError(f"nnls did not finish in max_iter={max_iter} active-set changes; the problem may be "
                       "badly scaled (rescale the features)")


def max_margin_reward(expert_features: torch.Tensor,
                      policy_features: torch.Tensor) -> tuple[torch.Tensor | None, float]:
    r"""The SVM form of the CS285 notes' max-margin problem over the policies found so far, solved exactly:

        ψ* = argmin_ψ ½‖ψ‖²   s.t.  ψᵀ (μ_E - μ_j) ≥ 1,  j = 1..J,        margin m = 1/‖ψ*‖

    a least-distance program (min ‖ψ‖ s.t. D ψ ≥ 1, D = rows (μ_E - μ_j)ᵀ), solved through Lawson &
    Hanson's duality: u = NNLS([Dᵀ; 1ᵀ], e_{F+1}), residual r = [Dᵀ; 1ᵀ] u - e_{F+1}, ψ* = -r_{1..F} / r_{F+1}.
    m equals the distance from μ_E to the convex hull of the μ_j (Abbeel & Ng's t). When μ_E lies in
    that hull the constraints are infeasible: returns (None, 0.0).

    Args:
        expert_features: μ_E ``[F]``.
        policy_features: μ_j ``[J, F]``.

    Returns:
        ψ* ``[F]`` (or None) and the margin m.

    Example (constraints ψ_1 ≥ 1 and 2ψ_2 ≥ 1):
        >>> psi, margin = max_margin_reward(torch.zeros(2, dtype=torch.float64),
        ...                                 -torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64))
        >>> psi.round(decimals=12).tolist(), round(margin ** -2, 12)
        ([1.0, 0.5], 1.25)
    """
    differences = expert_features[None, :] - policy_features  # D [J, F]
    J, F = differences.shape
    stacked = torch.cat([differences.T, torch.ones(1, J, dtype=DTYPE, device=differences.device)])  # [F + 1, J]
    target = torch.zeros(F + 1, dtype=DTYPE, device=differences.device)
    target[F] = 1.0
    u = nnls(stacked, target)
    residual = stacked @ u - target
    if residual.norm() <= 1e-12 * (1.0 + differences.abs().max().item()):
        return None, 0.0
    psi = -residual[:F] / residual[F]
    return psi, 1.0 / psi.norm().item()


def closest_mixture(expert_features: torch.Tensor, policy_features: torch.Tensor) -> torch.Tensor:
    r"""Mixture weights λ over the found policies whose feature expectations are closest to μ_E
    (Abbeel & Ng 2004, §3, the final QP):

        λ* = argmin_{λ ≥ 0, Σ_j λ_j = 1} ‖μ_E - Σ_j λ_j μ_j‖

    solved exactly as u = NNLS([Dᵀ; 1ᵀ], e_{F+1}) with D = rows (μ_E - μ_j)ᵀ and λ* = u / Σ u: for u = s λ
    the NNLS objective is s² ‖Dᵀλ‖² + (s - 1)², minimal at s = 1/(1 + ‖Dᵀλ‖²) with value
    ‖Dᵀλ‖² / (1 + ‖Dᵀλ‖²), increasing in ‖Dᵀλ‖. Returns λ* ``[J]``.

    Example:
        >>> mu = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
        >>> closest_mixture(torch.tensor([0.5, 1.0], dtype=torch.float64), mu).round(decimals=12).tolist()
        [0.75, 0.25]
    """
    differences = expert_features[None, :] - policy_features
    J, F = differences.shape
    stacked = torch.cat([differences.T, torch.ones(1, J, dtype=DTYPE, device=differences.device)])
    target = torch.zeros(F + 1, dtype=DTYPE, device=differences.device)
    target[F] = 1.0
    u = nnls(stacked, target)
    return u / u.sum()


def projection_step(expert_features: torch.Tensor, mixed: torch.Tensor,
                    new: torch.Tensor) -> tuple[torch.Tensor, float]:
    r"""Abbeel & Ng's projection update: the point of the segment [μ̄, μ_new] closest to μ_E,

        μ̄ ← μ̄ + c (μ_new - μ̄),   c = clip( (μ_new - μ̄)ᵀ(μ_E - μ̄) / ‖μ_new - μ̄‖², 0, 1 )

    Returns the new μ̄ ``[F]`` and c (clipped so that μ̄ stays a mixture of the found policies)."""
    step = new - mixed
    length = step.dot(step)
    if length == 0:
        return mixed, 0.0
    c = min(max((step.dot(expert_features - mixed) / length).item(), 0.0), 1.0)
    return mixed + c * step, c


# ---------------------------------------------------------------------------------- feature expectations
def policy_visitation(mdp: TabularMDP, policy: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    r"""μ_t(s, a) = d_t(s) π_t(a|s) under the true dynamics from d_1 = ``start`` ``[S]``; policy
    ``[T, S, A]`` -> ``[T, S, A]``."""
    states = state_distributions(mdp.replace(initial=start), policy)  # [T, S]
    return states[..., None] * policy


def feature_expectations(mdp: TabularMDP, policy: torch.Tensor, features: torch.Tensor, start: torch.Tensor,
                         step_weights: torch.Tensor) -> torch.Tensor:
    r"""μ(π) = Σ_t w_t Σ_{s,a} d_t(s) π_t(a|s) f(s, a): policy ``[T, S, A]``, features ``[S, A, F]``,
    start ``[S]``, step weights w ``[T]`` -> ``[F]``."""
    return torch.einsum("t,tsa,saf->f", step_weights, policy_visitation(mdp, policy, start), features)


# ------------------------------------------------------------------------------------------- the driver
@dataclass(frozen=True, eq=False)
class FeatureMatchingResult:
    r"""What :func:`feature_matching_irl` returns (J policies found, K iterations).

    Every array is a float64 torch tensor: call ``.numpy()`` for NumPy, whose reductions (``np.mean``,
    ``np.max``, ...) do not accept tensors.

    Attributes:
        psi: the reward weights ψ ``[F]`` of the last policy found (π_{J-1} is optimal for ψᵀf), the
            last direction in which the found policies fell short of the expert (projection: μ_E - μ̄;
            max-margin: the SVM solution, margin 1/‖ψ‖). Without any policy found (μ_E matched by
            π_0), the initial ψ.
        reward_table: r_ψ = ψᵀ f ``[S, A]``.
        psi_history: ψ_1..ψ_{J-1} ``[J-1, F]``, the rewards whose optimal policies were added.
        policies: the found policies π_0..π_{J-1} ``[J, T, S, A]`` (π_0: uniform; π_j: optimal for
            the j-th ψ, uniform over tied actions).
        feature_expectations: their μ_j ``[J, F]``.
        expert_feature_expectations: μ_E ``[F]``.
        margins: t per iteration ``[K]`` (projection: ‖μ_E - μ̄‖; max-margin: the margin m =
            distance from μ_E to the hull of the μ_j), non-increasing.
        mixture_weights: λ ``[J]`` on the simplex, the mixture closest to μ_E.
        mixture_policy: a Markov policy ``[T, S, A]`` with the mixture's state-action visitation
            (hence its feature expectations): π_t(a|s) ∝ Σ_j λ_j d_t^{π_j}(s) π_{j,t}(a|s), uniform
            where no mixture component visits s.
        method: ``"projection"`` or ``"max_margin"``.
        converged: whether t ≤ tol.
    """

    psi: torch.Tensor
    reward_table: torch.Tensor
    psi_history: torch.Tensor
    policies: torch.Tensor
    feature_expectations: torch.Tensor
    expert_feature_expectations: torch.Tensor
    margins: torch.Tensor
    mixture_weights: torch.Tensor
    mixture_policy: torch.Tensor
    method: str
    converged: bool

    @property
    def mixture_feature_expectations(self) -> torch.Tensor:
        """Σ_j λ_j μ_j ``[F]``."""
        return self.mixture_weights @ self.feature_expectations

    @property
    def num_iterations(self) -> int:
        """K, the number of margins computed."""
        return len(self.margins)


def feature_matching_irl(
    mdp: TabularMDP,
    demonstrations: Demonstrations,
    horizon: int | None = None,
    features=None,
    *,
    method: str = "projection",
    max_iter: int = 50,
    tol: float = 1e-3,
    progress: bool | None = None,
) -> FeatureMatchingResult:
    r"""Feature-matching IRL (CS285 notes, "Feature Matching IRL"; Abbeel & Ng 2004, §3).

    Find ψ with ψᵀ μ_E ≥ max_π ψᵀ μ(π) + m and a mixture of optimal policies whose feature
    expectations match the expert's, ‖Σ_j λ_j μ_j - μ_E‖ ≤ tol (hence, for any reward ψᵀf with
    ‖ψ‖ ≤ 1, a return within tol of the expert's):

        π_0 = uniform; μ̄ = μ_0; ψ = μ_E - μ̄ (projection) or the SVM solution over {μ_0} (max-margin)
        repeat:
            t = ‖μ_E - μ̄‖ (projection) or the margin 1/‖ψ‖ (max-margin); stop if t ≤ tol
            π_j = argmax_π ψᵀ μ(π)      (value iteration on r = ψᵀ f, horizon T)
            μ_j = μ(π_j)
            projection:  μ̄ ← the point of [μ̄, μ_j] closest to μ_E;  ψ = μ_E - μ̄
            max-margin:  ψ = argmin ½‖ψ‖² s.t. ψᵀ(μ_E - μ_i) ≥ 1 for i ≤ j
        λ = argmin_{λ ∈ simplex} ‖μ_E - Σ_j λ_j μ_j‖

    Args:
        mdp: the :class:`~pgm_control.TabularMDP` (undiscounted; its rewards are ignored).
        demonstrations: :class:`~pgm_control.Demonstrations`; μ_E are their average feature counts,
            and every μ(π) starts from their empirical start distribution.
        horizon: T (default: the demonstrations' T).
        features: f ``[S, A, F]`` or ``[S, F]`` (default ``mdp.features``); terminal states count 0.
        method: ``"projection"`` (no QP) or ``"max_margin"`` (an exact QP per iteration).
        max_iter: the most policies to compute after π_0.
        tol: stop when the margin t ≤ tol (in feature-count units).
        progress: a tqdm bar (None: on for ≥ 10^4 states).

    Returns:
        :class:`FeatureMatchingResult`.

    Example:
        >>> import torch
        >>> from pgm_control import Demonstrations
        >>> from pgm_control.envs import terrain_gridworld
        >>> mdp = terrain_gridworld(size=3, num_terrains=2)
        >>> demos = Demonstrations(torch.tensor([[0, 1, 2], [4, 5, 8]]), torch.tensor([[2, 2], [2, 1]]))
        >>> result = feature_matching_irl(mdp, demos)
        >>> gap = result.mixture_feature_expectations - result.expert_feature_expectations
        >>> result.converged, bool(gap.norm() <= 1e-3)
        (True, True)
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, "causal")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    max_iter = check_positive_integer(max_iter, "max_iter")
    if check_tolerance(tol) == 0.0:
        raise ValueError("tol must be positive: the margin t reaches 0 only in the limit")
    features = reward_features(mdp, features)
    expert = demonstrated_feature_counts(mdp, demonstrations, features)
    start = demonstrations.start_distribution(mdp.num_states)
    step_weights = demonstrations.mask.to(DTYPE).mean(0)  # w_t = P(L > t)
    S, A = mdp.num_states, mdp.num_actions

    def optimal_policy(psi):
        return value_iteration(mdp.replace(rewards=features @ psi), horizon).policy

    policies = [log_action_prior(mdp, None).exp().expand(horizon, S, A)]  # uniform over A(s)
    mus = [feature_expectations(mdp, policies[0], features, start, step_weights)]
    mixed = mus[0]
    psi = expert - mixed
    margins, queried = [], []
    converged = False
    with progress_bar(max_iter, progress, S * 5e4, f"feature matching ({method})") as bar:
        for j in range(max_iter + 1):
            if method == "projection":
                t = (expert - mixed).norm().item()
            else:
                solution, t = max_margin_reward(expert, torch.stack(mus))
                psi = psi if solution is None else solution  # None: μ_E is in the hull (t = 0)
            margins.append(t)
            bar.set_postfix(t=f"{t:.3g}", refresh=False)
            if t <= tol:
                converged = True
                break
            if j == max_iter:
                break
            queried.append(psi)
            policies.append(optimal_policy(psi))
            mus.append(feature_expectations(mdp, policies[-1], features, start, step_weights))
            if method == "projection":
                mixed, _ = projection_step(expert, mixed, mus[-1])
                psi = expert - mixed
            bar.update()
    policies_tensor, mus_tensor = torch.stack(policies), torch.stack(mus)
    weights = closest_mixture(expert, mus_tensor)
    psi = queried[-1] if queried else psi
    return FeatureMatchingResult(
        psi=psi,
        reward_table=features @ psi,
        psi_history=torch.stack(queried) if queried else torch.zeros(0, features.shape[-1], dtype=DTYPE,
                                                                             device=features.device),
        policies=policies_tensor,
        feature_expectations=mus_tensor,
        expert_feature_expectations=expert,
        margins=torch.tensor(margins, dtype=DTYPE, device=features.device),
        mixture_weights=weights,
        mixture_policy=mixture_policy(mdp, policies_tensor, weights, start),
        method=method,
        converged=converged,
    )


def mixture_policy(mdp: TabularMDP, policies: torch.Tensor, weights: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    r"""The Markov policy with the visitation of the mixture Σ_j λ_j (pick π_j once per episode):

        π_t(a|s) = Σ_j λ_j d_t^{π_j}(s) π_{j,t}(a|s) / Σ_j λ_j d_t^{π_j}(s)     (uniform over A(s) where
                                                                                the denominator is 0)

    Its state-action visitation, and so its feature expectations, equal the mixture's (induction on t:
    the next-state distribution depends on the policy only through the visitation). policies
    ``[J, T, S, A]``, weights ``[J]``, start ``[S]`` -> ``[T, S, A]``."""
    occupancy = torch.zeros_like(policies[0])
    for weight, policy in zip(weights, policies):
        if weight > 0:
            occupancy += weight * policy_visitation(mdp, policy, start)
    totals = occupancy.sum(-1, keepdim=True)
    uniform = log_action_prior(mdp, None).exp()
    return torch.where(totals > 0, occupancy / totals.clamp_min(torch.finfo(DTYPE).tiny), uniform)
