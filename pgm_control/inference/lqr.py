r"""Continuous control as inference in closed form: the linear-Gaussian system with quadratic reward
(Lecture 20, "How are these messages related to RL?", "The problem of optimism in stochastic dynamics",
"Control via variational inference"), solved exactly by Riccati recursions, and by SVI.

System (:class:`~pgm_control.envs.lqr.LinearGaussianSystem`): x_{t+1} = A x_t + B u_t + w_t,
w_t ~ N(0, Σ_w), x_1 ~ N(μ_0, Σ_0), r(x, u) = -½(xᵀQx + uᵀRu), temperature α, code time t = 0..T-1.

**Action prior.** Actions are continuous, and the soft maximum integrates against Lebesgue measure,
the improper uniform prior (Lecture 20's V = log ∫ exp(Q) da):

    V_t(x)     = α log ∫ exp(Q_t(x, u)/α) du,     π_t(u|x) = exp((Q_t(x, u) - V_t(x))/α).

Every value is a quadratic, V_t(x) = -½ xᵀP_t x + c_t, with V_T = 0 (P_T = 0, c_T = 0), so each
backup is one Gaussian integral. Write μ = A x + B u for the mean next state.

**Expected backup** (variational, fixed dynamics; :func:`soft_lqr`):

    Q_t(x, u) = r(x, u) + E_w[V_{t+1}(μ + w)] = r(x, u) - ½ μᵀ P_{t+1} μ - ½ tr(P_{t+1} Σ_w) + c_{t+1}

**Optimistic backup** (exact posterior, log β; :func:`optimistic_lqr`):

    Q_t(x, u) = r(x, u) + α log E_w[exp(V_{t+1}(μ + w)/α)]
              = r(x, u) - ½ μᵀ P̃_{t+1} μ - (α/2) log det(I + Σ_w P_{t+1}/α) + c_{t+1},
    P̃ = P (I + Σ_w P/α)^{-1} = (P^{-1} + Σ_w/α)^{-1}   (the middle form needs no inverse of P)

**Soft Riccati step** (both backups; M = P_{t+1} or P̃_{t+1}, c' the constant above):

    H_uu = R + BᵀMB,   H_ux = BᵀMA
    K_t  = -H_uu^{-1} H_ux                    u-mean K_t x: the LQR gain when M = P_{t+1}
    Σ_t  = α H_uu^{-1}                         policy covariance
    P_t  = Q + AᵀMA - H_uxᵀ H_uu^{-1} H_ux = Q + K_tᵀRK_t + (A + BK_t)ᵀM(A + BK_t)
    c_t  = c' + (α/2) (m log(2πα) - log det H_uu)

The last term is α log ∫ exp(-½ vᵀH_uu v/α) dv, equivalently α H(π_t) - ½ tr(H_uu Σ_t): the entropy
bonus of the Gaussian policy minus what its exploration costs. With a proper prior p(u) it would
change (by E_π[α log p(u)]), so c_t, V_t, the ELBO and log p(O) are all relative to Lebesgue measure.

**What the temperature and the noise do.** In the expected backup P_t, hence K_t, is the ordinary
(α-free, noise-free) LQR Riccati recursion: α only scales the covariance and the noise only lowers
c_t by ½ tr(P_{t+1}Σ_w). In the optimistic backup the noise changes the gain: P̃ ⪯ P, i.e. the exact
posterior discounts the cost of the future as if the noise were going to cancel part of the state;
its posterior dynamics are x' ~ N(G μ, G Σ_w), G = (I + Σ_w P/α)^{-1} (:func:`optimistic_dynamics`),
a pull towards the origin (the optimism problem in closed form). Consequences (the Riccati map is
monotone): P_t^opt ⪯ P_t, the policy covariance α(R + BᵀP̃B)^{-1} ⪰ α(R + BᵀPB)^{-1}, and in 1-D
|K_t^opt| <= |K_t| (strictly for t < T-1 when a, b, q, Σ_w ≠ 0): the exact posterior acts less and
explores more, a risk-seeking controller (Whittle's exponential-of-quadratic criterion with the
optimistic sign). P̃ is defined for every PSD P and Σ_w and every α > 0, because I + Σ_w P/α has
eigenvalues >= 1 (the risk-averse sign, I - Σ_w P/α, can break down; this one cannot). As Σ_w grows
(or α -> 0 with Σ_w positive definite), P̃ -> 0 and the exact posterior stops controlling at all. With
Σ_w = 0 the two backups coincide.

**Objectives.** For any linear-Gaussian policy u = K_t x + k_t + N(0, Σ_t), :func:`policy_elbo` gives

    ELBO = Σ_t E_q[r(x_t, u_t)/α - log π_t(u_t|x_t)]   (nats; the dynamics terms cancel)

in closed form by propagating means and covariances. It is maximized by :func:`soft_lqr`'s policy with
value E_{x_1}[V_1(x_1)]/α, and bounded by :func:`lqr_log_evidence`,
log p(O_{1:T}) = log E_{x_1}[exp(V_1^opt(x_1)/α)] (equal when Σ_w = 0 and Σ_0 = 0).

References: Levine (2018), "Reinforcement learning and control as probabilistic inference", §2-3;
Todorov (2008), "General duality between optimal control and estimation"; Whittle (1981),
"Risk-sensitive linear/quadratic/Gaussian control".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyro
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam
from tqdm import tqdm

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_finite,
    check_horizon,
    check_integer,
    check_real,
    check_seed,
    check_shape,
    check_temperature,
)
from pgm_control.envs.lqr import LinearGaussianSystem
from pgm_control.models.lqr import GaussianPolicyGuide, check_system, lqr_optimality_model

BACKUPS = ("expected", "optimistic")


@dataclass(frozen=True, eq=False)
class LQRSolution:
    r"""A soft-optimal linear-Gaussian policy and its quadratic values.

    ``gains`` K_t ``[T, m, n]``, ``covariances`` Σ_t ``[T, m, m]``: π_t(u|x) = N(u; K_t x, Σ_t);
    ``value_matrices`` P_t ``[T+1, n, n]`` and ``value_constants`` c_t ``[T+1]`` (entry T is
    V_T = 0): V_t(x) = -½ xᵀP_t x + c_t, in reward units (V/α is log β_t(x) for the optimistic
    backup). Code time t = 0..T-1 is the slides' 1..T. The arrays are float64 torch tensors: call
    ``.numpy()`` for NumPy, whose reductions (``np.mean``, ``np.max``, ...) do not accept tensors.
    """

    gains: torch.Tensor
    covariances: torch.Tensor
    value_matrices: torch.Tensor
    value_constants: torch.Tensor
    temperature: float
    backup: str

    @property
    def horizon(self) -> int:
        return self.gains.shape[0]

    def value(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        r"""V_t(x) = -½ xᵀP_t x + c_t for x ``[..., n]`` -> ``[...]`` (t = 0..T)."""
        return -0.5 * ((x @ self.value_matrices[t]) * x).sum(-1) + self.value_constants[t]

    def action_mean(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        r"""E_π[u | x] = K_t x for x ``[..., n]`` -> ``[..., m]``."""
        return x @ self.gains[t].mT


def expected_quadratic(value_matrix: torch.Tensor, noise_cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""E_w[-½ (μ+w)ᵀP(μ+w)] = -½ μᵀPμ - ½ tr(PΣ_w), w ~ N(0, Σ_w).

    value_matrix P ``[n, n]``, noise_cov ``[n, n]`` -> (P ``[n, n]``, -½ tr(PΣ_w) ``[]``).
    """
    return value_matrix, -0.5 * (value_matrix * noise_cov).sum()


def optimistic_quadratic(value_matrix: torch.Tensor, noise_scale: torch.Tensor,
                         temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""α log E_w[exp(-½ (μ+w)ᵀP(μ+w)/α)] = -½ μᵀP̃μ - (α/2) log det(I + Σ_w P/α), w ~ N(0, Σ_w).

        P̃ = P (I + Σ_w P/α)^{-1} = P - P L (αI + LᵀPL)^{-1} LᵀP        (Σ_w = L Lᵀ, push-through identity)
        det(I + Σ_w P/α) = det(I + LᵀPL/α)                               (Sylvester)

    Both need only the Cholesky factor of αI + LᵀPL, positive definite for α > 0 and P PSD, so the
    backup holds for singular P and Σ_w. value_matrix P ``[n, n]``, noise_scale L ``[n, n]``, α > 0
    -> (P̃ ``[n, n]``, constant ``[]``).
    """
    n = value_matrix.shape[-1]
    pl = value_matrix @ noise_scale
    inner = temperature * torch.eye(n, dtype=value_matrix.dtype) + noise_scale.mT @ pl
    chol = torch.linalg.cholesky(inner)
    effective = value_matrix - pl @ torch.cholesky_solve(pl.mT, chol)
    log_det = 2.0 * torch.log(torch.diagonal(chol)).sum() - n * math.log(temperature)
    return _symmetric(effective), -0.5 * temperature * log_det


def soft_riccati_step(system: LinearGaussianSystem, next_matrix: torch.Tensor, next_constant: torch.Tensor,
                      temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One soft Bellman backup for Q_t(x, u) = r(x, u) - ½ μᵀMμ + c', μ = A x + B u (module docstring).

        K = -H_uu^{-1} H_ux,  Σ = α H_uu^{-1},  P = Q + KᵀRK + (A+BK)ᵀM(A+BK),
        c = c' + (α/2)(m log(2πα) - log det H_uu)      (c = c' at α = 0, the hard LQR limit)

    next_matrix M ``[n, n]``, next_constant c' ``[]`` -> (K ``[m, n]``, Σ ``[m, m]``, P ``[n, n]``, c ``[]``).
    """
    A, B = system.A, system.B
    h_uu = system.R + B.mT @ next_matrix @ B
    h_ux = B.mT @ next_matrix @ A
    chol = torch.linalg.cholesky(h_uu)
    gain = -torch.cholesky_solve(h_ux, chol)
    covariance = temperature * torch.cholesky_inverse(chol)
    closed_loop = A + B @ gain
    value_matrix = _symmetric(system.Q + gain.mT @ system.R @ gain + closed_loop.mT @ next_matrix @ closed_loop)
    constant = next_constant
    if temperature > 0:
        log_det_h = 2.0 * torch.log(torch.diagonal(chol)).sum()
        m = system.num_actions
        constant = constant + 0.5 * temperature * (m * math.log(2 * math.pi * temperature) - log_det_h)
    return gain, covariance, value_matrix, constant


def soft_lqr(system: LinearGaussianSystem, horizon: int, temperature: float = 1.0) -> LQRSolution:
    r"""The maximum-entropy (variational) solution: the soft Riccati recursion with the expected backup.

        P_T = 0, c_T = 0;  for t = T-1..0:
            M = P_{t+1},  c' = c_{t+1} - ½ tr(P_{t+1} Σ_w)
            K_t, Σ_t, P_t, c_t = soft_riccati_step(M, c')

    K_t = -(R + BᵀP_{t+1}B)^{-1} BᵀP_{t+1}A is the classic LQR gain, Σ_t = α (R + BᵀP_{t+1}B)^{-1};
    ``temperature=0`` gives classic LQR (Σ_t = 0). Returns an :class:`LQRSolution` (``backup="expected"``);
    its policy maximizes :func:`policy_elbo`, with maximum E_{x_1}[V_1(x_1)]/α.

    Example:
        >>> from pgm_control.envs import scalar_system
        >>> solution = soft_lqr(scalar_system(a=1.0, b=1.0, q=1.0, r=1.0), horizon=2, temperature=0.5)
        >>> [round(k, 12) + 0.0 for k in solution.gains[:, 0, 0].tolist()]
        [-0.5, 0.0]
        >>> [round(s, 12) for s in solution.covariances[:, 0, 0].tolist()]
        [0.25, 0.5]
    """
    system = check_system(system)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)

    def backup(value_matrix, constant):
        effective, shift = expected_quadratic(value_matrix, system.noise_cov)
        return effective, constant + shift

    return _backward(system, horizon, temperature, backup, "expected")


def optimistic_lqr(system: LinearGaussianSystem, horizon: int, temperature: float = 1.0) -> LQRSolution:
    r"""The exact posterior: backward messages log β_t = V_t/α with the optimistic backup.

        P_T = 0, c_T = 0;  for t = T-1..0:
            M = P̃_{t+1} = P_{t+1}(I + Σ_w P_{t+1}/α)^{-1},  c' = c_{t+1} - (α/2) log det(I + Σ_w P_{t+1}/α)
            K_t, Σ_t, P_t, c_t = soft_riccati_step(M, c')

    π_t(u|x) = p(u_t | x_t, O_{t:T}) = N(K_t x, Σ_t) and log β_t(x) = V_t(x)/α. Equal to
    :func:`soft_lqr` when Σ_w = 0; otherwise P̃ ⪯ P, and the gain is the risk-seeking one of the module
    docstring. Needs α > 0. Returns an :class:`LQRSolution` (``backup="optimistic"``).

    Example:
        >>> from pgm_control.envs import scalar_system
        >>> system = scalar_system(noise_var=1.0)
        >>> exact, variational = optimistic_lqr(system, 3), soft_lqr(system, 3)
        >>> bool(abs(exact.gains[0, 0, 0]) < abs(variational.gains[0, 0, 0]))
        True
    """
    system = check_system(system)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("optimistic_lqr needs temperature > 0 (log E[exp(V/α)]); "
                         "for the hard limit use soft_lqr(..., temperature=0)")

    def backup(value_matrix, constant):
        effective, shift = optimistic_quadratic(value_matrix, system.noise_scale, temperature)
        return effective, constant + shift

    return _backward(system, horizon, temperature, backup, "optimistic")


def _backward(system, horizon, temperature, backup, name) -> LQRSolution:
    """The thin driver: P_T = 0, c_T = 0, then ``backup`` and ``soft_riccati_step`` for t = T-1..0."""
    n = system.num_states
    value_matrix, constant = torch.zeros(n, n, dtype=DTYPE), torch.zeros((), dtype=DTYPE)
    gains, covariances, matrices, constants = [], [], [value_matrix], [constant]
    for _ in range(horizon):
        effective, shifted = backup(value_matrix, constant)
        gain, covariance, value_matrix, constant = soft_riccati_step(system, effective, shifted, temperature)
        gains.append(gain)
        covariances.append(covariance)
        matrices.append(value_matrix)
        constants.append(constant)
    return LQRSolution(
        gains=torch.stack(gains[::-1]),
        covariances=torch.stack(covariances[::-1]),
        value_matrices=torch.stack(matrices[::-1]),
        value_constants=torch.stack(constants[::-1]),
        temperature=temperature,
        backup=name,
    )


def optimistic_dynamics(system: LinearGaussianSystem, value_matrix: torch.Tensor,
                        temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The posterior ("optimistic") transition p(x' | x, u, O_{t:T}) ∝ p(x' | x, u) exp(V_{t+1}(x')/α).

        x' | x, u, O ~ N(G (A x + B u), G Σ_w),   G = (I + Σ_w P/α)^{-1} = I - L (αI + LᵀPL)^{-1} LᵀP

    with P = P_{t+1} of :func:`optimistic_lqr` (``value_matrices[t + 1]``) and Σ_w = L Lᵀ. G pulls the
    predicted next state towards the origin and G Σ_w ⪯ Σ_w: conditioned on optimality, the noise
    helps. value_matrix ``[n, n]`` -> (G ``[n, n]``, covariance ``[n, n]``).
    """
    system = check_system(system)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("optimistic_dynamics needs temperature > 0")
    value_matrix = as_float_tensor(value_matrix, "value_matrix")
    n = system.num_states
    check_shape(value_matrix, [n, n], "value_matrix", "[n, n]")
    check_finite(value_matrix, "value_matrix")
    L = system.noise_scale
    eye = torch.eye(n, dtype=DTYPE)
    chol = torch.linalg.cholesky(temperature * eye + L.mT @ value_matrix @ L)
    shrink = eye - L @ torch.cholesky_solve(L.mT @ value_matrix, chol)
    return shrink, _symmetric(shrink @ system.noise_cov)


def gaussian_log_expected_exp(value_matrix: torch.Tensor, constant: torch.Tensor, mean: torch.Tensor,
                              scale: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""log E_{x ~ N(mean, L Lᵀ)}[exp(V(x)/α)] for V(x) = -½ xᵀPx + c:

        = (c - ½ meanᵀ P̃ mean - (α/2) log det(I + LLᵀP/α)) / α,    P̃ = P(I + LLᵀP/α)^{-1}

    (the optimistic backup's Gaussian integral, :func:`optimistic_quadratic`); a scalar in nats."""
    effective, shift = optimistic_quadratic(value_matrix, scale, temperature)
    return (constant + shift - 0.5 * mean @ effective @ mean) / temperature


def lqr_log_evidence(system: LinearGaussianSystem, horizon: int, temperature: float = 1.0) -> torch.Tensor:
    r"""log p(O_{1:T}) = log E_{x_1 ~ N(μ_0, Σ_0)}[β_1(x_1)], β_1 = exp(V_1/α) of :func:`optimistic_lqr`.

    Relative to Lebesgue measure on the actions (the improper uniform prior); a scalar in nats. It
    bounds every :func:`policy_elbo` from above (Jensen), with equality for the soft-LQR policy when
    the dynamics and the start are deterministic (Σ_w = 0, Σ_0 = 0).
    """
    exact = optimistic_lqr(system, horizon, temperature)
    return gaussian_log_expected_exp(exact.value_matrices[0], exact.value_constants[0], system.initial_mean,
                                     system.initial_scale, exact.temperature)


def state_moments(system: LinearGaussianSystem, gains: torch.Tensor, covariances: torch.Tensor,
                  offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Means ``[T, n]`` and covariances ``[T, n, n]`` of x_t under u_t = K_t x_t + k_t + N(0, Σ_t):

        m_1 = μ_0,  S_1 = Σ_0,
        m_{t+1} = (A + BK_t) m_t + B k_t,   S_{t+1} = (A + BK_t) S_t (A + BK_t)ᵀ + B Σ_t Bᵀ + Σ_w
    """
    A, B = system.A, system.B
    mean, cov = system.initial_mean, system.initial_cov
    means, covs = [], []
    for t in range(gains.shape[0]):
        means.append(mean)
        covs.append(cov)
        closed_loop = A + B @ gains[t]
        mean = closed_loop @ mean + B @ offsets[t]
        cov = closed_loop @ cov @ closed_loop.mT + B @ covariances[t] @ B.mT + system.noise_cov
    return torch.stack(means), torch.stack(covs)


def policy_elbo(system: LinearGaussianSystem, gains, covariances, offsets=None,
                temperature: float = 1.0) -> torch.Tensor:
    r"""The exact ELBO of the linear-Gaussian policy π_t(u|x) = N(u; K_t x + k_t, Σ_t), in nats:

        ELBO = Σ_t E_q[r(x_t, u_t)]/α + H(N(0, Σ_t))
        E_q[r] = -½ (m_tᵀQm_t + tr(QS_t) + ν_tᵀRν_t + tr(R(K_t S_t K_tᵀ + Σ_t))),   ν_t = K_t m_t + k_t
        H(N(0, Σ)) = ½ (m (1 + log 2π) + log det Σ)

    with (m_t, S_t) from :func:`state_moments`. The dynamics terms of Lecture 20's ELBO cancel (q uses
    the true dynamics) and the action prior is the improper uniform one. Differentiable in the policy.

    Args:
        gains: K ``[T, m, n]``; covariances: Σ ``[T, m, m]`` (positive definite); offsets: k ``[T, m]``
            (zeros when None); temperature: α > 0.

    Returns:
        a scalar tensor; maximal (= E_{x_1}[V_1(x_1)]/α) at :func:`soft_lqr`'s policy.
    """
    system = check_system(system)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("policy_elbo needs temperature > 0 (log p(O|x,u) = r/α)")
    n, m = system.num_states, system.num_actions
    gains = as_float_tensor(gains, "gains")
    if gains.dim() != 3 or gains.shape[0] < 1:
        raise ValueError(f"gains must have shape [T, m, n] = [T, {m}, {n}] with T >= 1, got {list(gains.shape)}")
    horizon = gains.shape[0]
    check_shape(gains, [horizon, m, n], "gains", "[T, m, n]")
    covariances = as_float_tensor(covariances, "covariances")
    check_shape(covariances, [horizon, m, m], "covariances", "[T, m, m]")
    offsets = torch.zeros(horizon, m, dtype=DTYPE) if offsets is None else as_float_tensor(offsets, "offsets")
    check_shape(offsets, [horizon, m], "offsets", "[T, m]")
    for name, tensor in [("gains", gains), ("covariances", covariances), ("offsets", offsets)]:
        check_finite(tensor, name)
    asymmetry = (covariances - covariances.mT).abs().max().item()
    if asymmetry > 1e-10 * (1.0 + covariances.abs().max().item()):
        raise ValueError(f"covariances must be symmetric, but |Σ_t - Σ_tᵀ| reaches {asymmetry:.3g}; pass (Σ + Σᵀ)/2")
    chol, info = torch.linalg.cholesky_ex(covariances)
    if (info != 0).any():
        bad = int(info.nonzero()[0, 0])
        raise ValueError(f"covariances must be symmetric positive definite, but covariances[{bad}] is not")
    means, covs = state_moments(system, gains, covariances, offsets)
    action_means = (gains @ means[..., None])[..., 0] + offsets
    action_covs = gains @ covs @ gains.mT + covariances
    expected_reward = -0.5 * (
        ((means @ system.Q) * means).sum(-1) + (system.Q * covs).sum((-2, -1))
        + ((action_means @ system.R) * action_means).sum(-1) + (system.R * action_covs).sum((-2, -1))
    )
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    entropy = 0.5 * (m * (1.0 + math.log(2 * math.pi)) + log_det)
    return (expected_reward / temperature + entropy).sum()


@dataclass(eq=False)
class GaussianPolicyFit:
    """What :func:`fit_gaussian_policy` returns: the fitted ``guide``, its ``gains`` ``[T, m, n]``,
    ``offsets`` ``[T, m]`` and ``covariances`` ``[T, m, m]`` (detached torch tensors: ``.numpy()`` for
    NumPy, whose reductions do not accept tensors), and ``elbo_history`` ``[num_steps]`` (a NumPy float64
    array: one SVI estimate per step, per trajectory, in nats)."""

    guide: GaussianPolicyGuide
    gains: torch.Tensor
    offsets: torch.Tensor
    covariances: torch.Tensor
    elbo_history: np.ndarray = field(default_factory=lambda: np.zeros(0))


def fit_gaussian_policy(
    system: LinearGaussianSystem,
    horizon: int,
    num_steps: int = 2000,
    *,
    num_trajectories: int = 512,
    lr: float = 0.05,
    final_lr: float = 0.001,
    temperature: float = 1.0,
    init_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> GaussianPolicyFit:
    r"""Fit a :class:`~pgm_control.models.lqr.GaussianPolicyGuide` by SVI on the ELBO of
    :func:`~pgm_control.models.lqr.lqr_optimality_model`.

    Estimator: ``Trace_ELBO`` (every site reparameterized: ε_t are standard normal, u_t = K_t x_t +
    k_t + L_t ε), averaged over ``num_trajectories`` trajectories vectorized in the model's plate (model
    and guide scaled by 1/N, so a step's loss estimates the ELBO of one trajectory); optimizer:
    ``ClippedAdam`` whose learning rate decays geometrically from ``lr`` to ``final_lr``. The
    parameter store is cleared and ``pyro.set_rng_seed(seed)`` is called first.

    Returns:
        :class:`GaussianPolicyFit`; compare with :func:`soft_lqr` and, for the ELBO, :func:`policy_elbo`.
    """
    system = check_system(system)
    horizon = check_horizon(horizon, required=True)
    num_steps = check_integer(num_steps, "num_steps")
    num_trajectories = check_integer(num_trajectories, "num_trajectories")
    if num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps}")
    if num_trajectories < 1:
        raise ValueError(f"num_trajectories must be a positive integer, got {num_trajectories}")
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("fit_gaussian_policy needs temperature > 0")
    lr = check_real(lr, "lr", "a positive number")
    final_lr = check_real(final_lr, "final_lr", "a positive number")
    if not (lr > 0 and final_lr > 0):
        raise ValueError(f"lr and final_lr must be > 0, got lr={lr}, final_lr={final_lr}")
    guide = GaussianPolicyGuide(system, horizon, init_scale=init_scale)
    pyro.clear_param_store()
    pyro.set_rng_seed(check_seed(seed))
    scale = 1.0 / num_trajectories
    model = pyro.poutine.scale(lqr_optimality_model, scale=scale)
    scaled_guide = pyro.poutine.scale(guide, scale=scale)
    optimizer = ClippedAdam({"lr": lr, "lrd": (final_lr / lr) ** (1.0 / num_steps)})
    svi = SVI(model, scaled_guide, optimizer, loss=Trace_ELBO())
    history = np.empty(num_steps)
    with tqdm(range(num_steps), disable=not progress, desc="SVI (Gaussian policy)", leave=False) as steps:
        for step in steps:
            history[step] = -svi.step(system, horizon, num_trajectories, temperature)
            steps.set_postfix(elbo=f"{history[step]:.3f}", refresh=False)
    with torch.no_grad():
        gains, offsets, covariances = guide.gains().detach(), guide.offsets().detach(), guide.covariances().detach()
    return GaussianPolicyFit(guide=guide, gains=gains, offsets=offsets, covariances=covariances,
                             elbo_history=history)


def _symmetric(matrix: torch.Tensor) -> torch.Tensor:
    """½ (M + Mᵀ): removes the round-off asymmetry of products like KᵀRK."""
    return 0.5 * (matrix + matrix.mT)
