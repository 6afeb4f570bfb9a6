"""Continuous control as inference: soft Riccati (expected backup), exact posterior (optimistic backup),
the exact ELBO of linear-Gaussian policies, the Pyro model and SVI with a Gaussian-policy guide.

Independent truth, written here in numpy without the code under test: the classic discrete Riccati
recursion, hand-derived scalar formulas, and a numerical 1-D soft Bellman recursion (Gauss-Hermite
quadrature over the noise, a fine trapezoid grid over the action, a quadratic fit of each V_t).
"""

import math

import numpy as np
import pyro
import pytest
import torch
from pyro.distributions import constraints

from pgm_control.envs import LinearGaussianSystem, double_integrator, scalar_system
from pgm_control.inference.lqr import (
    LQRSolution,
    fit_gaussian_policy,
    lqr_log_evidence,
    optimistic_dynamics,
    optimistic_lqr,
    policy_elbo,
    soft_lqr,
)
from pgm_control.models.lqr import GaussianPolicyGuide, lqr_optimality_model

T = 5
F64 = torch.float64


def random_system(seed, n=3, m=2, noise=0.3):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) / math.sqrt(n) + np.eye(n) * 0.5
    B = rng.normal(size=(n, m))
    G = rng.normal(size=(n, n))
    H = rng.normal(size=(m, m))
    W = rng.normal(size=(n, n))
    return LinearGaussianSystem(A=A, B=B, Q=G @ G.T / n, R=H @ H.T / m + 0.5 * np.eye(m),
                                noise_cov=noise * W @ W.T / n, initial_mean=rng.normal(size=n),
                                initial_cov=0.5 * np.eye(n))


def numpy_of(system):
    return [t.numpy() for t in (system.A, system.B, system.Q, system.R, system.noise_cov)]


def classic_riccati(A, B, Q, R, horizon):
    """Textbook finite-horizon discrete LQR: P_T = 0, K = -(R + BᵀPB)^{-1} BᵀPA, P = Q + AᵀPA + AᵀPBK."""
    P = np.zeros_like(Q)
    gains, Ps = [], [P]
    for _ in range(horizon):
        K = -np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
        P = Q + A.T @ P @ A + A.T @ P @ B @ K
        gains.append(K)
        Ps.append(P)
    return np.array(gains[::-1]), np.array(Ps[::-1])


# ---------------------------------------------------------------------------------------------- soft Riccati


SYSTEMS = {
    "double_integrator": lambda: double_integrator(noise=1.0),
    "random_3x2": lambda: random_system(0),
    "random_4x1": lambda: random_system(1, n=4, m=1),
}


@pytest.mark.parametrize("name", SYSTEMS)
@pytest.mark.parametrize("temperature", [0.0, 0.3, 1.0, 4.0])
def test_soft_lqr_gain_is_the_classic_lqr_gain(name, temperature):
    system = SYSTEMS[name]()
    A, B, Q, R, _ = numpy_of(system)
    gains, Ps = classic_riccati(A, B, Q, R, T)
    soft = soft_lqr(system, T, temperature)
    np.testing.assert_allclose(soft.gains.numpy(), gains, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(soft.value_matrices.numpy(), Ps, rtol=1e-10, atol=1e-12)
    covariances = np.array([temperature * np.linalg.inv(R + B.T @ Ps[t + 1] @ B) for t in range(T)])
    np.testing.assert_allclose(soft.covariances.numpy(), covariances, rtol=1e-10, atol=1e-12)


def test_documented_shapes():
    system = random_system(0)
    n, m = system.num_states, system.num_actions
    for solution in (soft_lqr(system, T), optimistic_lqr(system, T)):
        assert isinstance(solution, LQRSolution) and solution.horizon == T
        assert solution.gains.shape == (T, m, n) and solution.covariances.shape == (T, m, m)
        assert solution.value_matrices.shape == (T + 1, n, n) and solution.value_constants.shape == (T + 1,)
        assert solution.gains.dtype == F64 and solution.value_constants.dtype == F64
        assert (solution.value_matrices[T] == 0).all() and solution.value_constants[T] == 0
        x = torch.randn(7, n, dtype=F64)
        assert solution.value(x, 1).shape == (7,) and solution.action_mean(x, 2).shape == (7, m)


def test_scalar_case_by_hand():
    a, b, q, r, w, alpha = 1.2, 0.7, 2.0, 0.5, 0.3, 0.8
    system = scalar_system(a=a, b=b, q=q, r=r, noise_var=w, initial_mean=0.4, initial_var=0.6)
    # t = 1 (the last step): V_2 = 0, so H = r, K = 0, Σ = α/r, P_1 = q, c_1 = (α/2)(log 2πα - log r).
    c1 = 0.5 * alpha * (math.log(2 * math.pi * alpha) - math.log(r))
    # t = 0, expected backup: H = r + b²q, K = -abq/H, Σ = α/H, P_0 = q + a²q - (abq)²/H,
    # c_0 = c_1 - ½ q w + (α/2)(log 2πα - log H).
    H = r + b * b * q
    soft = soft_lqr(system, 2, alpha)
    np.testing.assert_allclose(soft.gains[:, 0, 0].numpy(), [-a * b * q / H, 0.0], atol=1e-14)
    np.testing.assert_allclose(soft.covariances[:, 0, 0].numpy(), [alpha / H, alpha / r], rtol=1e-14)
    np.testing.assert_allclose(soft.value_matrices[:, 0, 0].numpy(), [q + a * a * q - (a * b * q) ** 2 / H, q, 0],
                               rtol=1e-14)
    c0 = c1 - 0.5 * q * w + 0.5 * alpha * (math.log(2 * math.pi * alpha) - math.log(H))
    np.testing.assert_allclose(soft.value_constants.numpy(), [c0, c1, 0.0], rtol=1e-13)
    # Optimistic: q̃ = q / (1 + w q/α), constant -(α/2) log(1 + w q/α); then the same step with q̃.
    q_tilde = q / (1 + w * q / alpha)
    H_opt = r + b * b * q_tilde
    exact = optimistic_lqr(system, 2, alpha)
    np.testing.assert_allclose(exact.gains[:, 0, 0].numpy(), [-a * b * q_tilde / H_opt, 0.0], atol=1e-14)
    np.testing.assert_allclose(exact.covariances[:, 0, 0].numpy(), [alpha / H_opt, alpha / r], rtol=1e-14)
    p0_opt = q + a * a * q_tilde - (a * b * q_tilde) ** 2 / H_opt
    np.testing.assert_allclose(exact.value_matrices[0, 0, 0].item(), p0_opt, rtol=1e-14)
    c0_opt = c1 - 0.5 * alpha * math.log(1 + w * q / alpha) + 0.5 * alpha * (math.log(2 * math.pi * alpha)
                                                                             - math.log(H_opt))
    np.testing.assert_allclose(exact.value_constants[0].item(), c0_opt, rtol=1e-13)


def test_temperature_zero_is_hard_lqr_and_noise_only_shifts_the_constant():
    system = double_integrator(noise=0.5)
    hard = soft_lqr(system, T, 0.0)
    assert (hard.covariances == 0).all()
    # c_t = -½ Σ_{s>t} tr(P_{s+1} Σ_w): no entropy term at α = 0
    traces = torch.stack([(hard.value_matrices[t + 1] * system.noise_cov).sum() for t in range(T)])
    expected = -0.5 * torch.flip(torch.cumsum(torch.flip(traces, [0]), 0), [0])
    torch.testing.assert_close(hard.value_constants[:T], expected, rtol=1e-12, atol=1e-14)
    quiet = soft_lqr(system.replace(noise_cov=torch.zeros(2, 2)), T, 0.7)
    noisy = soft_lqr(system, T, 0.7)
    torch.testing.assert_close(quiet.gains, noisy.gains, rtol=0, atol=0)
    torch.testing.assert_close(quiet.covariances, noisy.covariances, rtol=0, atol=0)
    traces = torch.stack([(noisy.value_matrices[t + 1] * system.noise_cov).sum() for t in range(T)])
    shift = -0.5 * torch.flip(torch.cumsum(torch.flip(traces, [0]), 0), [0])
    torch.testing.assert_close(noisy.value_constants[:T] - quiet.value_constants[:T], shift, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- numerical 1-D soft Bellman recursion


GH_Z, GH_W = np.polynomial.hermite_e.hermegauss(120)  # ∫ f(z) N(z; 0, 1) dz ≈ Σ w_i f(z_i) / √(2π)
GH_W = GH_W / math.sqrt(2 * math.pi)
U_GRID = np.linspace(-20.0, 20.0, 10001)  # du = 0.004; the action densities below have sd >= 0.3
X_FIT = np.linspace(-1.0, 1.0, 7)


def logsumexp(values, axis):
    top = values.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(values - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def numerical_soft_recursion(a, b, q, r, w, alpha, horizon, backup):
    """V_t(x) = α log ∫ exp(Q_t(x, u)/α) du by quadrature, each V_t fitted by a quadratic in x.

    Returns per step (p_t, slope_t, c_t) with V_t(x) = -½ p_t x² + slope_t x + c_t, and the gain and
    variance of π_t(u|x) ∝ exp(Q_t(x, u)/α) (slope of E[u|x] in x, and Var[u|x]).
    """
    coeffs = (0.0, 0.0, 0.0)  # V_T = 0
    out = []
    for _ in range(horizon):
        p, slope, c = coeffs
        x = X_FIT[:, None, None]
        u = U_GRID[None, :, None]
        x_next = a * x + b * u + math.sqrt(w) * GH_Z[None, None, :]
        v_next = -0.5 * p * x_next**2 + slope * x_next + c
        if backup == "expected":
            future = (GH_W * v_next).sum(-1)
        else:
            future = alpha * logsumexp(np.log(GH_W) + v_next / alpha, axis=-1)
        q_values = -0.5 * (q * x[..., 0] ** 2 + r * u[..., 0] ** 2) + future  # [X, U]
        du = U_GRID[1] - U_GRID[0]
        v = alpha * (logsumexp(q_values / alpha, axis=1) + math.log(du))
        weights = np.exp((q_values - v[:, None]) / alpha) * du
        mean_u = (weights * U_GRID).sum(1)
        var_u = (weights * (U_GRID - mean_u[:, None]) ** 2).sum(1)
        top, lin, const = np.polyfit(X_FIT, v, 2)
        coeffs = (-2.0 * top, lin, const)
        out.append({"p": -2.0 * top, "slope": lin, "c": const, "gain": np.polyfit(X_FIT, mean_u, 1)[0],
                    "var": var_u})
    return out[::-1]


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_values_match_a_numerical_soft_bellman_recursion(backup, alpha):
    a, b, q, r, w = 1.1, 0.8, 1.5, 0.7, 0.6
    system = scalar_system(a=a, b=b, q=q, r=r, noise_var=w)
    solver = soft_lqr if backup == "expected" else optimistic_lqr
    solution = solver(system, 4, alpha)
    numeric = numerical_soft_recursion(a, b, q, r, w, alpha, 4, backup)
    for t, step in enumerate(numeric):
        # quadrature and fit errors measured ~3e-12 after 4 steps; 1e-10 leaves a margin of 30x
        assert step["slope"] == pytest.approx(0.0, abs=1e-10)
        assert step["p"] == pytest.approx(solution.value_matrices[t, 0, 0].item(), rel=1e-10)
        assert step["c"] == pytest.approx(solution.value_constants[t].item(), rel=1e-10, abs=1e-10)
        assert step["gain"] == pytest.approx(solution.gains[t, 0, 0].item(), rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(step["var"], solution.covariances[t, 0, 0].item(), rtol=1e-10)


# ------------------------------------------------------------------------- the optimism problem


@pytest.mark.parametrize("name", SYSTEMS)
def test_optimistic_equals_soft_without_noise(name):
    system = SYSTEMS[name]()
    quiet = system.replace(noise_cov=torch.zeros_like(system.noise_cov))
    exact, variational = optimistic_lqr(quiet, T, 0.6), soft_lqr(quiet, T, 0.6)
    for field in ("gains", "covariances", "value_matrices", "value_constants"):
        torch.testing.assert_close(getattr(exact, field), getattr(variational, field), rtol=1e-12, atol=1e-12)


def test_optimistic_gain_is_smaller_in_one_dimension():
    """The documented direction: P̃ < P, so |K^opt_t| < |K_t| for t < T-1 (both 0 at t = T-1)."""
    for a, b, w, alpha in [(1.0, 1.0, 0.5, 1.0), (1.3, -0.4, 2.0, 0.3), (-0.8, 2.0, 0.1, 3.0)]:
        system = scalar_system(a=a, b=b, noise_var=w)
        exact, variational = optimistic_lqr(system, T, alpha), soft_lqr(system, T, alpha)
        k_opt, k_var = exact.gains[:, 0, 0].abs(), variational.gains[:, 0, 0].abs()
        assert (k_opt[:-1] < k_var[:-1]).all() and k_opt[-1] == 0 == k_var[-1]
        assert (exact.covariances[:-1] > variational.covariances[:-1]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimistic_values_and_covariances_are_loewner_ordered(seed):
    system = random_system(seed, noise=1.0)
    exact, variational = optimistic_lqr(system, T, 0.7), soft_lqr(system, T, 0.7)
    for t in range(T):
        gap_p = variational.value_matrices[t] - exact.value_matrices[t]  # P_t^opt ⪯ P_t
        gap_cov = exact.covariances[t] - variational.covariances[t]  # Σ_t^opt ⪰ Σ_t
        assert torch.linalg.eigvalsh(gap_p).min() > -1e-10
        assert torch.linalg.eigvalsh(gap_cov).min() > -1e-10
    assert torch.linalg.eigvalsh(variational.value_matrices[0] - exact.value_matrices[0]).max() > 1e-3
    # Jensen: log E[exp(V/α)] >= E[V/α], so the optimistic values dominate at every state
    x = torch.randn(50, system.num_states, dtype=F64, generator=torch.Generator().manual_seed(seed))
    assert (exact.value(x, 0) >= variational.value(x, 0)).all()


def test_optimistic_gain_vanishes_as_the_noise_grows():
    gains = [optimistic_lqr(scalar_system(noise_var=w), T).gains[0, 0, 0].abs().item() for w in (0.0, 1.0, 10, 1e4)]
    assert gains[0] > gains[1] > gains[2] > gains[3] and gains[3] < 1e-3
    assert gains[0] == pytest.approx(abs(soft_lqr(scalar_system(noise_var=1e4), T).gains[0, 0, 0].item()), rel=1e-12)


def test_optimistic_dynamics_is_the_tilted_transition():
    """p(x' | x, u, O) ∝ N(x'; μ, w) exp(V_{t+1}(x')/α), by quadrature on a grid of x'."""
    a, b, w, alpha = 1.1, 0.8, 0.6, 0.5
    system = scalar_system(a=a, b=b, noise_var=w)
    exact = optimistic_lqr(system, T, alpha)
    p_next, c_next = exact.value_matrices[2, 0, 0].item(), exact.value_constants[2].item()
    shrink, cov = optimistic_dynamics(system, exact.value_matrices[2], alpha)
    x_next = np.linspace(-20, 20, 200001)
    for x, u in [(1.0, -0.3), (-2.0, 0.5)]:
        mu = a * x + b * u
        log_density = -0.5 * (x_next - mu) ** 2 / w + (-0.5 * p_next * x_next**2 + c_next) / alpha
        weights = np.exp(log_density - log_density.max())
        weights /= weights.sum()
        mean = (weights * x_next).sum()
        assert mean == pytest.approx(shrink[0, 0].item() * mu, rel=1e-9)
        assert (weights * (x_next - mean) ** 2).sum() == pytest.approx(cov[0, 0].item(), rel=1e-9)
    assert 0 < shrink[0, 0].item() < 1 and cov[0, 0].item() < w  # a pull towards 0, less spread


# ---------------------------------------------------------------------------------------- ELBO


def expected_initial_value(system, solution):
    """E_{x_1}[V_1(x_1)]/α, written out: (c_0 - ½(μᵀP_0μ + tr(P_0Σ_0)))/α."""
    P, c = solution.value_matrices[0], solution.value_constants[0]
    mu, S = system.initial_mean, system.initial_cov
    return ((c - 0.5 * (mu @ P @ mu + (P * S).sum())) / solution.temperature).item()


@pytest.mark.parametrize("name", SYSTEMS)
@pytest.mark.parametrize("temperature", [0.4, 1.0])
def test_soft_lqr_policy_maximizes_the_exact_elbo(name, temperature):
    system = SYSTEMS[name]()
    soft = soft_lqr(system, T, temperature)
    best = policy_elbo(system, soft.gains, soft.covariances, temperature=temperature).item()
    assert best == pytest.approx(expected_initial_value(system, soft), abs=1e-10)
    generator = torch.Generator().manual_seed(0)
    for scale in (1e-3, 0.1, 1.0):
        gains = soft.gains + scale * torch.randn(soft.gains.shape, dtype=F64, generator=generator)
        offsets = scale * torch.randn(T, system.num_actions, dtype=F64, generator=generator)
        factor = torch.eye(system.num_actions, dtype=F64) + scale * torch.randn(soft.covariances.shape, dtype=F64,
                                                                               generator=generator)
        covariances = factor @ soft.covariances @ factor.mT
        assert policy_elbo(system, gains, covariances, offsets, temperature).item() < best
    exact = optimistic_lqr(system, T, temperature)
    assert policy_elbo(system, exact.gains, exact.covariances, temperature=temperature).item() < best
    assert lqr_log_evidence(system, T, temperature).item() > best  # Jensen, strict with noise


def test_elbo_gradient_vanishes_at_the_soft_policy():
    system = random_system(3)
    soft = soft_lqr(system, T, 0.8)
    gains = soft.gains.clone().requires_grad_()
    covariances = soft.covariances.clone().requires_grad_()
    offsets = torch.zeros(T, system.num_actions, dtype=F64, requires_grad=True)
    policy_elbo(system, gains, covariances, offsets, 0.8).backward()
    for tensor in (gains, covariances, offsets):
        assert tensor.grad.abs().max() < 1e-10


def test_elbo_equals_log_evidence_for_deterministic_dynamics_and_start():
    system = random_system(4).replace(noise_cov=torch.zeros(3, 3), initial_cov=torch.zeros(3, 3))
    soft = soft_lqr(system, T, 0.9)
    best = policy_elbo(system, soft.gains, soft.covariances, temperature=0.9)
    assert best.item() == pytest.approx(lqr_log_evidence(system, T, 0.9).item(), abs=1e-10)


def test_log_evidence_by_hand_for_one_step():
    """T = 1: log ∫ N(x; μ, s) ∫ exp(-½(q x² + r u²)/α) du dx, two Gaussian integrals."""
    q, r, mu, s, alpha = 1.7, 0.4, 0.8, 0.5, 0.6
    system = scalar_system(q=q, r=r, initial_mean=mu, initial_var=s)
    by_hand = (0.5 * math.log(2 * math.pi * alpha / r) - 0.5 * math.log(1 + s * q / alpha)
               - 0.5 * mu**2 * q / (alpha * (1 + s * q / alpha)))
    assert lqr_log_evidence(system, 1, alpha).item() == pytest.approx(by_hand, abs=1e-13)


def test_log_evidence_matches_the_numerical_recursion():
    a, b, q, r, w, alpha = 1.1, 0.8, 1.5, 0.7, 0.6, 0.5
    mu, s = 0.3, 0.4
    system = scalar_system(a=a, b=b, q=q, r=r, noise_var=w, initial_mean=mu, initial_var=s)
    step = numerical_soft_recursion(a, b, q, r, w, alpha, 3, "optimistic")[0]
    x = mu + math.sqrt(s) * GH_Z
    log_evidence = logsumexp(np.log(GH_W) + (-0.5 * step["p"] * x**2 + step["slope"] * x + step["c"]) / alpha, 0)
    assert lqr_log_evidence(system, 3, alpha).item() == pytest.approx(float(log_evidence), rel=1e-8)


def test_policy_elbo_matches_monte_carlo_in_numpy():
    """Simulate 200,000 trajectories of a random policy; the MC mean of Σ r/α - log π is within 4 SE."""
    system = random_system(5)
    A, B, Q, R, W = numpy_of(system)
    n, m, alpha = system.num_states, system.num_actions, 0.7
    rng = np.random.default_rng(0)
    gains = rng.normal(size=(T, m, n)) * 0.3
    offsets = rng.normal(size=(T, m))
    factors = rng.normal(size=(T, m, m)) * 0.3 + np.eye(m)
    covs = factors @ factors.transpose(0, 2, 1)
    N = 200_000
    x = rng.multivariate_normal(system.initial_mean.numpy(), system.initial_cov.numpy(), size=N)
    total = np.zeros(N)
    for t in range(T):
        mean_u = x @ gains[t].T + offsets[t]
        u = mean_u + rng.multivariate_normal(np.zeros(m), covs[t], size=N)
        diff = u - mean_u
        log_pi = -0.5 * (np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covs[t]), diff)
                         + np.linalg.slogdet(2 * np.pi * covs[t])[1])
        reward = -0.5 * (np.einsum("ni,ij,nj->n", x, Q, x) + np.einsum("ni,ij,nj->n", u, R, u))
        total += reward / alpha - log_pi
        x = x @ A.T + u @ B.T + rng.multivariate_normal(np.zeros(n), W, size=N)
    standard_error = total.std() / math.sqrt(N)
    exact = policy_elbo(system, gains, covs, offsets, alpha).item()
    assert abs(total.mean() - exact) < 4 * standard_error


# ---------------------------------------------------------------------------------------- Pyro


def set_guide_parameters(guide, gains, covariances, offsets=None):
    pyro.clear_param_store()
    pyro.param(f"{guide.name}_gains", gains.clone())
    pyro.param(f"{guide.name}_offsets", torch.zeros(gains.shape[:2], dtype=F64) if offsets is None else offsets)
    pyro.param(f"{guide.name}_scale_tril", torch.linalg.cholesky(covariances), constraint=constraints.lower_cholesky)


def log_weights(system, horizon, guide, num_trajectories, temperature):
    """log p(τ, O)/q(τ) per trajectory [N]: the terms whose mean is the ELBO."""
    guide_trace = pyro.poutine.trace(guide).get_trace(system, horizon, num_trajectories, temperature)
    replayed = pyro.poutine.replay(lqr_optimality_model, trace=guide_trace)
    model_trace = pyro.poutine.trace(replayed).get_trace(system, horizon, num_trajectories, temperature)
    total = torch.zeros(num_trajectories, dtype=F64)
    for trace, sign in ((model_trace, 1.0), (guide_trace, -1.0)):
        trace.compute_log_prob()
        for site in trace.nodes.values():
            if site["type"] == "sample" and "log_prob" in site:
                total = total + sign * site["log_prob"]
    return total.detach()


def test_model_and_guide_sites():
    system = double_integrator()
    pyro.clear_param_store()
    guide = GaussianPolicyGuide(system, 3)
    guide_trace = pyro.poutine.trace(guide).get_trace(system, 3, 4)
    model_trace = pyro.poutine.trace(pyro.poutine.replay(lqr_optimality_model, trace=guide_trace)).get_trace(
        system, 3, 4)
    assert [s for s in guide_trace.nodes if s[:2] in ("ep", "u_")] == ["eps_0", "u_0", "eps_1", "u_1", "eps_2", "u_2"]
    for t in range(3):
        assert guide_trace.nodes[f"u_{t}"]["fn"].has_rsample and guide_trace.nodes[f"eps_{t}"]["fn"].has_rsample
        assert model_trace.nodes[f"x_{t}"]["value"].shape == (4, 2)
        assert model_trace.nodes[f"O_{t}"]["is_observed"]
    x0 = model_trace.nodes["x_0"]["value"]
    eps1 = model_trace.nodes["eps_1"]["value"]
    u0 = model_trace.nodes["u_0"]["value"]
    expected = x0 @ system.A.T + u0 @ system.B.T + eps1 @ system.noise_scale.T
    torch.testing.assert_close(model_trace.nodes["x_1"]["value"], expected, rtol=0, atol=1e-14)


def test_pyro_log_weights_are_constant_and_exact_without_noise():
    """Deterministic dynamics and start: at the soft policy log p(τ, O)/q(τ) = log p(O) for every τ."""
    system = random_system(6).replace(noise_cov=torch.zeros(3, 3), initial_cov=torch.zeros(3, 3))
    soft = soft_lqr(system, T, 0.8)
    guide = GaussianPolicyGuide(system, T)
    set_guide_parameters(guide, soft.gains, soft.covariances)
    pyro.set_rng_seed(0)
    weights = log_weights(system, T, guide, 100, 0.8)
    torch.testing.assert_close(weights, lqr_log_evidence(system, T, 0.8).expand(100), rtol=0, atol=1e-9)


def test_pyro_elbo_estimate_matches_the_exact_elbo():
    """A random policy and noise: the mean of 20,000 log weights is within 4 standard errors."""
    system = random_system(7)
    generator = torch.Generator().manual_seed(1)
    gains = 0.3 * torch.randn(T, 2, 3, dtype=F64, generator=generator)
    offsets = torch.randn(T, 2, dtype=F64, generator=generator)
    factor = torch.eye(2, dtype=F64) + 0.3 * torch.randn(T, 2, 2, dtype=F64, generator=generator)
    covariances = factor @ factor.mT
    guide = GaussianPolicyGuide(system, T)
    set_guide_parameters(guide, gains, covariances, offsets)
    pyro.set_rng_seed(0)
    weights = log_weights(system, T, guide, 20_000, 0.6)
    standard_error = weights.std() / math.sqrt(len(weights))
    exact = policy_elbo(system, gains, covariances, offsets, 0.6)
    assert abs(weights.mean() - exact) < 4 * standard_error


def svi_system():
    """The double integrator started from N(0, I): both state coordinates vary, so every entry of K_t is
    identified (a start concentrated near one point would confound K_t x with the offset k_t)."""
    return double_integrator(noise=1.0).replace(initial_mean=torch.zeros(2), initial_cov=torch.eye(2))


def test_svi_recovers_the_soft_lqr_gains_and_covariances():
    # Tolerance: 400 Adam steps of 512 trajectories, lr 0.05 decaying geometrically to 0.001. The
    # reparameterized gradients are accurate enough that the iterates reach the optimum within ~150
    # steps; what is left is their fluctuation, of order lr · (gradient SE) / curvature, which the decay
    # shrinks 50x. Seeds 0-5 gave relative errors of at most 1.9% on K_t and 1.7% on Σ_t, so 5% is a
    # margin of 2.5x. About 5-10 s on one core (tests/conftest.py sets one torch thread).
    system = svi_system()
    soft = soft_lqr(system, T)
    fit = fit_gaussian_policy(system, T, 400, num_trajectories=512, lr=0.05, final_lr=0.001, seed=0,
                              progress=False)
    assert fit.gains.shape == (T, 1, 2) and fit.covariances.shape == (T, 1, 1) and fit.elbo_history.shape == (400,)
    assert np.isfinite(np.mean(fit.elbo_history[-100:]))  # a NumPy log: NumPy reductions work
    gain_norms = soft.gains.flatten(1).norm(dim=1)
    gain_errors = (fit.gains - soft.gains).flatten(1).norm(dim=1)
    assert (gain_errors[:-1] / gain_norms[:-1] < 0.05).all()
    assert gain_errors[-1] < 0.05 * gain_norms.max()  # K_{T-1} = 0 exactly: the last action has no future
    cov_errors = (fit.covariances - soft.covariances).flatten(1).norm(dim=1) / soft.covariances.flatten(1).norm(dim=1)
    assert (cov_errors < 0.05).all()
    best = policy_elbo(system, soft.gains, soft.covariances).item()
    fitted = policy_elbo(system, fit.gains, fit.covariances, fit.offsets).item()
    assert best - 0.01 < fitted <= best
    # the last 200 SVI estimates (independent, N = 512 trajectories each) average to the exact optimum
    tail = fit.elbo_history[-200:]
    assert abs(tail.mean() - best) < 4 * tail.std(ddof=1) / math.sqrt(len(tail))


# ---------------------------------------------------------------------------------------- validation


def test_system_validation():
    good = {"A": [[1.0]], "B": [[1.0]], "Q": [[1.0]], "R": [[1.0]], "noise_cov": [[0.1]]}
    system = LinearGaussianSystem(**good)
    assert system.A.dtype == F64 and system.initial_mean.shape == (1,) and system.initial_cov.shape == (1, 1)
    cases = [
        ({"A": [[1.0, 0.0]]}, "A must be a square matrix"),
        ({"B": [[1.0], [2.0]]}, r"B must have shape \[n, m\] = \[1, m\]"),
        ({"Q": [[1.0, 0.0], [0.0, 1.0]]}, r"Q must have shape \[n, n\] = \[1, 1\], got \[2, 2\]"),
        ({"R": [1.0]}, r"R must have shape \[m, m\]"),
        ({"Q": [[-1.0]]}, "Q must be positive semi-definite"),
        ({"R": [[0.0]]}, "R must be positive definite"),
        ({"noise_cov": [[-0.5]]}, "noise_cov must be positive semi-definite"),
        ({"noise_cov": [[float("nan")]]}, "noise_cov must be finite"),
        ({"initial_mean": [0.0, 1.0]}, r"initial_mean must have shape \[n\] = \[1\]"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            LinearGaussianSystem(**{**good, **change})
    asymmetric = {**good, "A": np.eye(2), "B": np.ones((2, 1)), "Q": [[1.0, 0.5], [0.0, 1.0]],
                  "noise_cov": np.eye(2)}
    with pytest.raises(ValueError, match="Q must be symmetric"):
        LinearGaussianSystem(**asymmetric)
    with pytest.raises(ValueError, match="dt must be > 0"):
        double_integrator(dt=0.0)


def test_solver_validation():
    system = scalar_system()
    with pytest.raises(TypeError, match="system must be a LinearGaussianSystem"):
        soft_lqr("system", 3)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        soft_lqr(system, 0)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        soft_lqr(system, 3, -1.0)
    with pytest.raises(ValueError, match="optimistic_lqr needs temperature > 0"):
        optimistic_lqr(system, 3, 0.0)
    with pytest.raises(ValueError, match=r"gains must have shape \[T, m, n\]"):
        policy_elbo(system, torch.zeros(3, 1), torch.ones(3, 1, 1))
    with pytest.raises(ValueError, match=r"covariances must have shape \[T, m, m\] = \[3, 1, 1\]"):
        policy_elbo(system, torch.zeros(3, 1, 1), torch.ones(2, 1, 1))
    with pytest.raises(ValueError, match=r"covariances must be symmetric positive definite.*covariances\[1\]"):
        policy_elbo(system, torch.zeros(3, 1, 1), torch.tensor([1.0, -1.0, 1.0]).reshape(3, 1, 1))
    with pytest.raises(ValueError, match="covariances must be symmetric"):
        two_by_two = LinearGaussianSystem(A=np.eye(2), B=np.eye(2), Q=np.eye(2), R=np.eye(2), noise_cov=np.eye(2))
        policy_elbo(two_by_two, torch.zeros(1, 2, 2), torch.tensor([[[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match="policy_elbo needs temperature > 0"):
        policy_elbo(system, torch.zeros(3, 1, 1), torch.ones(3, 1, 1), temperature=0.0)
    with pytest.raises(ValueError, match=r"value_matrix must have shape \[n, n\]"):
        optimistic_dynamics(system, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        fit_gaussian_policy(system, 3, 0, progress=False)
    with pytest.raises(ValueError, match="lr and final_lr must be > 0"):
        fit_gaussian_policy(system, 3, 10, lr=0.0, progress=False)


def test_guide_validation():
    system = scalar_system()
    pyro.clear_param_store()
    guide = GaussianPolicyGuide(system, 3)
    with pytest.raises(ValueError, match="this guide was built for horizon=3"):
        guide(system, 4)
    with pytest.raises(ValueError, match="built for n=1 states and m=1 actions"):
        guide(double_integrator(), 3)
    guide(system, 3, 2)
    with pytest.raises(ValueError, match=r"call pyro\.clear_param_store"):
        GaussianPolicyGuide(double_integrator(), 3).gains()
    with pytest.raises(ValueError, match="init_scale must be > 0"):
        GaussianPolicyGuide(system, 3, init_scale=0.0)
    with pytest.raises(ValueError, match="lqr_optimality_model needs temperature > 0"):
        lqr_optimality_model(system, 3, temperature=0.0)
    pyro.clear_param_store()


# ---- mutation guards (second pass)
def test_value_and_action_mean_read_step_t():
    # The scalar case by hand (test_scalar_case_by_hand): P = (q + a²q - (abq)²/H, q, 0), K = (-abq/H, 0)
    # and c_1 = (α/2)(log 2πα - log r), c_0 = c_1 - ½qw + (α/2)(log 2πα - log H), c_2 = 0; then
    # V_t(x) = -½ P_t x² + c_t and E[u | x] = K_t x at each t, not at t = 0.
    a, b, q, r, w, alpha = 1.2, 0.7, 2.0, 0.5, 0.3, 0.8
    H = r + b * b * q
    c1 = 0.5 * alpha * (math.log(2 * math.pi * alpha) - math.log(r))
    c = [c1 - 0.5 * q * w + 0.5 * alpha * (math.log(2 * math.pi * alpha) - math.log(H)), c1, 0.0]
    P = [q + a * a * q - (a * b * q) ** 2 / H, q, 0.0]
    K = [-a * b * q / H, 0.0]
    soft = soft_lqr(scalar_system(a=a, b=b, q=q, r=r, noise_var=w), 2, alpha)
    x = torch.tensor([[-1.5], [0.5], [2.0]], dtype=F64)
    for t in range(3):
        np.testing.assert_allclose(soft.value(x, t).numpy(), -0.5 * P[t] * x[:, 0].numpy() ** 2 + c[t], rtol=1e-13)
    for t in range(2):
        np.testing.assert_allclose(soft.action_mean(x, t).numpy(), K[t] * x.numpy(), atol=1e-14)
