r"""Linear-Gaussian systems with quadratic reward: the continuous analogue of the tabular MDP.

    x_1 ~ N(μ_0, Σ_0),    x_{t+1} = A x_t + B u_t + w_t,   w_t ~ N(0, Σ_w),
    r(x, u) = -½ (xᵀ Q x + uᵀ R u)

with state x ``[n]``, action u ``[m]``, A ``[n, n]``, B ``[n, m]``, Q ``[n, n]`` (symmetric PSD),
R ``[m, m]`` (symmetric positive definite), Σ_w ``[n, n]`` and Σ_0 ``[n, n]`` (symmetric PSD, singular
allowed: zero noise, noise on some coordinates only, a point-mass start). Since r <= 0,
p(O_t = 1 | x_t, u_t) = exp(r(x_t, u_t)/α) is a probability without any shift. Solvers live in
:mod:`pgm_control.inference.lqr`, the Pyro model in :mod:`pgm_control.models.lqr`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import torch

from pgm_control._checks import as_float_tensor, check_finite, check_real, check_shape

SYMMETRY_RTOL = 1e-10  # relative asymmetry tolerated in Q, R, Σ_w, Σ_0 (round-off of user arithmetic)
PSD_RTOL = 1e-10  # eigenvalues >= -PSD_RTOL * (1 + max |eigenvalue|) count as PSD (round-off)


def psd_factor(matrix: torch.Tensor) -> torch.Tensor:
    r"""A factor L with L Lᵀ = M of a symmetric PSD matrix ``[n, n]``, singular M included.

    Cholesky when M is positive definite; otherwise the symmetric square root U diag(√λ) Uᵀ, where
    eigenvalues that round-off made slightly negative (validation allows -1e-10 relative) count as 0.
    """
    chol, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        return chol
    eigenvalues, vectors = torch.linalg.eigh(matrix)
    return (vectors * eigenvalues.clamp(min=0.0).sqrt()) @ vectors.mT


def _check_symmetric(matrix: torch.Tensor, name: str, definite: bool) -> None:
    scale = 1.0 + matrix.abs().max().item()
    asymmetry = (matrix - matrix.mT).abs().max().item()
    if asymmetry > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name} must be symmetric, but |{name} - {name}ᵀ| reaches {asymmetry:.3g}; "
                         f"pass (M + M.T) / 2")
    smallest = torch.linalg.eigvalsh(matrix).min().item()
    if definite and smallest <= 0.0:
        raise ValueError(f"{name} must be positive definite (every action must cost something), "
                         f"but its smallest eigenvalue is {smallest:.3g}")
    if not definite and smallest < -PSD_RTOL * scale:
        raise ValueError(f"{name} must be positive semi-definite, but its smallest eigenvalue is {smallest:.3g}")


@dataclass(frozen=True, eq=False)
class LinearGaussianSystem:
    r"""x_{t+1} = A x_t + B u_t + w_t, w_t ~ N(0, Σ_w), x_1 ~ N(μ_0, Σ_0), r(x, u) = -½(xᵀQx + uᵀRu).

    Shapes: ``A`` ``[n, n]``, ``B`` ``[n, m]``, ``Q`` ``[n, n]``, ``R`` ``[m, m]``, ``noise_cov``
    (Σ_w) ``[n, n]``, ``initial_mean`` (μ_0) ``[n]``, ``initial_cov`` (Σ_0) ``[n, n]``; converted to
    float64 and validated on construction (Q, Σ_w, Σ_0 symmetric PSD; R symmetric positive definite).
    ``initial_mean`` defaults to 0 and ``initial_cov`` to the identity.

    Example:
        >>> system = LinearGaussianSystem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], noise_cov=[[0.1]])
        >>> system.num_states, system.num_actions
        (1, 1)
        >>> float(system.reward(torch.tensor([2.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)))
        -2.5
    """

    A: torch.Tensor
    B: torch.Tensor
    Q: torch.Tensor
    R: torch.Tensor
    noise_cov: torch.Tensor
    initial_mean: torch.Tensor | None = None
    initial_cov: torch.Tensor | None = None

    def __post_init__(self):
        A = as_float_tensor(self.A, "A")
        if A.dim() != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a square matrix [n, n] with n >= 1, got shape {list(A.shape)}")
        n = A.shape[0]
        B = as_float_tensor(self.B, "B")
        if B.dim() != 2 or B.shape[0] != n or B.shape[1] == 0:
            raise ValueError(f"B must have shape [n, m] = [{n}, m] with m >= 1 (n from A), got {list(B.shape)}")
        m = B.shape[1]
        mean = torch.zeros(n) if self.initial_mean is None else self.initial_mean
        cov = torch.eye(n) if self.initial_cov is None else self.initial_cov
        values = {"A": A, "B": B}
        for name, value, shape, meaning in [
            ("Q", self.Q, [n, n], "[n, n]"),
            ("R", self.R, [m, m], "[m, m]"),
            ("noise_cov", self.noise_cov, [n, n], "[n, n]"),
            ("initial_mean", mean, [n], "[n]"),
            ("initial_cov", cov, [n, n], "[n, n]"),
        ]:
            tensor = as_float_tensor(value, name)
            check_shape(tensor, shape, name, meaning)
            values[name] = tensor
        for name, tensor in values.items():
            check_finite(tensor, name)
        _check_symmetric(values["Q"], "Q", definite=False)
        _check_symmetric(values["R"], "R", definite=True)
        _check_symmetric(values["noise_cov"], "noise_cov", definite=False)
        _check_symmetric(values["initial_cov"], "initial_cov", definite=False)
        for name, tensor in values.items():
            object.__setattr__(self, name, tensor)

    @property
    def num_states(self) -> int:
        """n, the dimension of x."""
        return self.A.shape[0]

    @property
    def num_actions(self) -> int:
        """m, the dimension of u."""
        return self.B.shape[1]

    @cached_property
    def noise_scale(self) -> torch.Tensor:
        """L_w ``[n, n]`` with L_w L_wᵀ = Σ_w (Cholesky, or the PSD square root when Σ_w is singular)."""
        return psd_factor(self.noise_cov)

    @cached_property
    def initial_scale(self) -> torch.Tensor:
        """L_0 ``[n, n]`` with L_0 L_0ᵀ = Σ_0."""
        return psd_factor(self.initial_cov)

    def reward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        r"""r(x, u) = -½ (xᵀQx + uᵀRu) for x ``[..., n]``, u ``[..., m]`` -> ``[...]``."""
        return -0.5 * (((x @ self.Q) * x).sum(-1) + ((u @ self.R) * u).sum(-1))

    def mean_next_state(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        r"""E[x_{t+1} | x_t, u_t] = A x + B u for x ``[..., n]``, u ``[..., m]`` -> ``[..., n]``."""
        return x @ self.A.mT + u @ self.B.mT

    def replace(self, **changes) -> LinearGaussianSystem:
        """A copy with some fields changed (validated again), e.g. ``system.replace(noise_cov=...)``."""
        return replace(self, **changes)


def double_integrator(dt: float = 0.1, noise: float = 0.1, control_cost: float = 0.1,
                      position: float = 1.0) -> LinearGaussianSystem:
    r"""A point mass on a line: state x = (position p, velocity v) ``[2]``, action an acceleration u ``[1]``.

        p' = p + dt v + ½ dt² u + w_p,   v' = v + dt u + w_v,
        Σ_w = noise² [[dt³/3, dt²/2], [dt²/2, dt]]

    (white-noise acceleration of intensity noise² integrated over one step; positive definite for
    noise > 0), Q = I, R = control_cost, x_1 ~ N((position, 0), 0.1² I).
    """
    dt = check_real(dt, "dt", "a positive number")
    noise = check_real(noise, "noise", "a non-negative number")
    control_cost = check_real(control_cost, "control_cost", "a positive number")
    position = check_real(position, "position", "a number")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not control_cost > 0:
        raise ValueError(f"control_cost must be > 0, got {control_cost}")
    return LinearGaussianSystem(
        A=[[1.0, dt], [0.0, 1.0]],
        B=[[0.5 * dt**2], [dt]],
        Q=torch.eye(2),
        R=[[control_cost]],
        noise_cov=noise**2 * torch.tensor([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]),
        initial_mean=[position, 0.0],
        initial_cov=0.01 * torch.eye(2),
    )


def scalar_system(a: float = 1.0, b: float = 1.0, q: float = 1.0, r: float = 1.0, noise_var: float = 0.5,
                  initial_mean: float = 1.0, initial_var: float = 1.0) -> LinearGaussianSystem:
    r"""The 1-D system x' = a x + b u + w, w ~ N(0, noise_var), r = -½(q x² + r u²), x_1 ~ N(initial_mean,
    initial_var): small enough to check every formula by hand and by numerical integration."""
    return LinearGaussianSystem(A=[[a]], B=[[b]], Q=[[q]], R=[[r]], noise_cov=[[noise_var]],
                                initial_mean=[initial_mean], initial_cov=[[initial_var]])
