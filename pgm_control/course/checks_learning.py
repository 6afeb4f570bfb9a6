r"""Grading checks for the learning assignments: MaxEnt IRL (05) and max-entropy RL (06).

As in :mod:`pgm_control.course.checks`: each check builds a randomized instance from its seed, calls
the student's function, and raises ``AssertionError`` naming the first wrong number. Where a wrong
answer matches a known mistake (the gradient's sign flipped, α used for log α, the tanh correction
left out, a hard max in a soft target), the message says which.
"""

from __future__ import annotations

import contextlib
import math

import torch

from pgm_control._checks import DTYPE
from pgm_control.course.checks import TOLERANCE, _labeller, call, compare
from pgm_control.envs import random_mdp, terrain_gridworld
from pgm_control.mdp import TabularMDP

# ---- helpers ---------------------------------------------------------------------------------


def compare_or_explain(name: str, got, expected: torch.Tensor, label=None, tol: float = TOLERANCE,
                       mistakes=()) -> None:
    """:func:`~pgm_control.course.checks.compare`, and when ``got`` equals one of ``mistakes`` — pairs
    ``(what that mistake returns, its explanation)`` — the message ends with the explanation."""
    try:
        compare(name, got, expected, label, tol)
    except AssertionError as error:
        answer = _as_tensor(got)
        for wrong, explanation in mistakes:
            if answer is not None and answer.shape == wrong.shape and bool(((answer - wrong).abs() <= tol).all()):
                raise AssertionError(f"{error} ({explanation})") from None
        raise


@contextlib.contextmanager
def explained(note: str):
    """Within the block, a failed check's message ends with ``note`` (why the number must be so)."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"{error} ({note})") from None


def _as_tensor(got) -> torch.Tensor | None:
    """``got`` as a detached float64 tensor, or None when it is not numbers."""
    try:
        return torch.as_tensor(got, dtype=DTYPE).detach()
    except (TypeError, ValueError, RuntimeError):
        return None


def answer_tensor(name: str, got, shape: list[int]) -> torch.Tensor:
    """The student's answer as a float64 tensor of ``shape``, or an ``AssertionError`` saying what it is."""
    answer = _as_tensor(got)
    if answer is None:
        raise AssertionError(f"{name}: got {type(got).__name__}, expected a tensor of shape {shape}")
    if list(answer.shape) != shape:
        raise AssertionError(f"{name}: got shape {list(answer.shape)}, expected {shape}")
    return answer


def _terrain_label(index: tuple[int, ...]) -> str:
    return f"terrain {index[0]}"


def _sample_label(index: tuple[int, ...]) -> str:
    return ", ".join(f"{axis} {i}" for axis, i in zip(("sample", "dimension"), index))


# ---- Assignment 05: MaxEnt IRL ---------------------------------------------------------------

NUM_DEMONSTRATIONS = 60
# Gradient ascent of the check of fit_reward: ψ ← ψ + FIT_LR ∇L from ψ = 0, FIT_STEPS times.
FIT_STEPS, FIT_LR = 100, 0.5
# |L(ψ) - L(ψ_maxent_irl)| allowed for fit_reward. Measured on seeds 0-29 (3-4 wide grids, 2-4
# terrains, T = 4-6, 60 demonstrations): after 100 steps of η = 0.5 the gap was at most 1.1e-4 (median
# 1e-12); ψ itself can still be 0.05 off along a terrain the demonstrations rarely visit, which is
# why the likelihood is compared. ψ = 0 falls short by 0.011-1.8, descent (ψ ← ψ - η∇L) by more.
LIKELIHOOD_TOLERANCE = 1e-3


def irl_instance(seed: int):
    """A terrain grid world (3-4 cells wide, 2-4 terrains, random ψ*), T = 4-6 and 60 demonstrations
    of its soft-optimal policy (expected backup, temperature 1)."""
    from pgm_control import Demonstrations, sample_trajectories
    from pgm_control.inference import soft_value_iteration

    generator = torch.Generator().manual_seed(seed)
    size = int(torch.randint(3, 5, (), generator=generator))
    num_terrains = int(torch.randint(2, 5, (), generator=generator))
    horizon = int(torch.randint(4, 7, (), generator=generator))
    weights = torch.randn(num_terrains, generator=generator, dtype=DTYPE)
    mdp = terrain_gridworld(size=size, num_terrains=num_terrains, weights=weights, seed=seed)
    expert = soft_value_iteration(mdp, horizon, backup="expected", progress=False)
    trajectories = sample_trajectories(mdp, expert.policy, horizon, NUM_DEMONSTRATIONS, generator=generator)
    return mdp, Demonstrations.from_trajectories(trajectories)


def _probe(mdp: TabularMDP, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ψ ``[K]`` and a random start distribution ``[S]`` (seeded apart from the instance)."""
    generator = torch.Generator().manual_seed(10_000 + seed)
    psi = torch.randn(mdp.features.shape[-1], generator=generator, dtype=DTYPE)
    weights = -torch.rand(mdp.num_states, generator=generator, dtype=DTYPE).log()
    return psi, weights / weights.sum()


def _with_reward(mdp: TabularMDP, psi: torch.Tensor) -> TabularMDP:
    """The MDP with reward r_ψ(s, a) = ψᵀ f(s, a)."""
    return mdp.replace(rewards=mdp.features @ psi)


def library_log_likelihood(mdp: TabularMDP, demonstrations, psi: torch.Tensor) -> torch.Tensor:
    r"""L(ψ) = (1/N) Σ_i log p(τ_i | s_{i,1}, ψ), the log density of the library's Pyro ``irl_model``
    with ψ fixed (a flat prior adds 0)."""
    import pyro

    from pgm_control.models import LinearReward, flat_prior, irl_model

    reward = LinearReward(mdp.features)
    conditioned = pyro.poutine.condition(irl_model, data={"psi": psi})
    trace = pyro.poutine.trace(conditioned).get_trace(mdp, demonstrations, None, reward, flat_prior(reward))
    return trace.log_prob_sum().detach() / demonstrations.num_demonstrations


def check_visitation(visitation, seed) -> None:
    """``visitation(mdp, policy [T, S, A], start [S]) -> μ_t(s, a) [T, S, A]`` under the true dynamics,
    against the library's ``state_action_visitation`` (causal variant)."""
    from pgm_control.inference import soft_value_iteration, state_action_visitation

    mdp, demonstrations = irl_instance(seed)
    horizon = demonstrations.horizon
    psi, start = _probe(mdp, seed)
    probe = _with_reward(mdp, psi)
    policy = soft_value_iteration(probe, horizon, backup="expected", progress=False).policy
    expected = state_action_visitation(probe, horizon, variant="causal", start=start)
    compare("μ_t(s, a)", call(visitation, mdp, policy, start), expected, _labeller(mdp, "tsa"))


def check_expected_feature_counts(expected_feature_counts, seed) -> None:
    """``expected_feature_counts(mdp, psi, T, start) -> Σ_t Σ_{s,a} μ_t(s, a) f(s, a) [K]``."""
    from pgm_control.inference import expected_feature_counts as exact

    mdp, demonstrations = irl_instance(seed)
    horizon = demonstrations.horizon
    psi, start = _probe(mdp, seed)
    expected = exact(_with_reward(mdp, psi), horizon, start=start)
    compare("expected feature count", call(expected_feature_counts, mdp, psi, horizon, start), expected,
            _terrain_label)


def check_irl_gradient(irl_gradient, seed) -> None:
    """``irl_gradient(mdp, demos, psi) -> ∇_ψ L [K]``: demonstrated minus expected feature counts, the
    expectation from the demonstrations' start states."""
    from pgm_control.inference import demonstrated_feature_counts, expected_feature_counts

    mdp, demonstrations = irl_instance(seed)
    horizon = demonstrations.horizon
    psi, _ = _probe(mdp, seed)
    probe = _with_reward(mdp, psi)
    demonstrated = demonstrated_feature_counts(mdp, demonstrations)
    start = demonstrations.start_distribution(mdp.num_states)
    gradient = demonstrated - expected_feature_counts(probe, horizon, start=start)
    mistakes = [
        (-gradient, "the sign is flipped: ∇L is demonstrated minus expected counts"),
        (demonstrated - expected_feature_counts(probe, horizon), "the expected counts must start from the "
         "demonstrations' start states, not mdp.initial"),
    ]
    compare_or_explain("∇L", call(irl_gradient, mdp, demonstrations, psi), gradient, _terrain_label,
                       mistakes=mistakes)


def check_fit_reward(fit_reward, seed) -> None:
    """``fit_reward(mdp, demos, num_steps, lr) -> ψ [K]`` by gradient ascent: its log-likelihood must
    reach that of the library's ``maxent_irl`` (to :data:`LIKELIHOOD_TOLERANCE`)."""
    from pgm_control.inference import maxent_irl

    mdp, demonstrations = irl_instance(seed)
    K = mdp.features.shape[-1]
    psi = answer_tensor("ψ", call(fit_reward, mdp, demonstrations, FIT_STEPS, FIT_LR), [K])
    if not bool(psi.isfinite().all()):
        raise AssertionError(f"ψ: got {psi.tolist()}, expected finite weights (did the ascent diverge?)")
    best = maxent_irl(mdp, demonstrations, progress=False, diagnostics=False).psi
    at_zero = library_log_likelihood(mdp, demonstrations, torch.zeros(K, dtype=DTYPE))
    got = library_log_likelihood(mdp, demonstrations, psi)
    note = (f"below L(0) = {float(at_zero):.6g}: ascent is ψ ← ψ + lr ∇L" if got < at_zero else
            "the maximum, which the library's maxent_irl reaches")
    with explained(note):
        compare(f"L(ψ) after {FIT_STEPS} steps of lr = {FIT_LR}", got,
                library_log_likelihood(mdp, demonstrations, best), tol=LIKELIHOOD_TOLERANCE)


def check_log_likelihood(log_likelihood, seed) -> None:
    """``log_likelihood(mdp, demos, psi) -> L(ψ)`` (a number), at ψ and at ψ + c·1, where it must not
    change: one-hot features turn ψ + c·1 into r + c, and a constant added to every reward changes no
    soft-optimal policy."""
    mdp, demonstrations = irl_instance(seed)
    psi, _ = _probe(mdp, seed)
    shift = 1.0 + 4.0 * torch.rand((), generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    expected = library_log_likelihood(mdp, demonstrations, psi)
    compare("L(ψ)", call(log_likelihood, mdp, demonstrations, psi), expected)
    with explained("it must equal L(ψ): a constant added to every reward changes no soft-optimal policy"):
        compare(f"L(ψ + c·1) with c = {float(shift):.3g}", call(log_likelihood, mdp, demonstrations, psi + shift),
                expected)


# ---- Assignment 06: max-entropy RL -----------------------------------------------------------

# Soft Q-learning check: γ, iterations, step size η_k = 1/k^ω.
SOFT_Q_DISCOUNT, SOFT_Q_ITERATIONS, SOFT_Q_EXPONENT = 0.7, 2000, 0.8
# max |Q - Q*_soft| allowed. Measured on seeds 0-99 (2-4 states, 2 actions, α in [0.5, 1], γ = 0.7,
# 2000 synchronous iterations with η_k = 1/k^0.8 from Q = 0): mean 0.026, max 0.091, so 0.15 leaves
# a margin of 1.6 over the worst seed; a hard max in the target misses by at least 0.24 on those seeds,
# a soft maximum without the 1/A prior by at least 0.79.
SOFT_Q_TOLERANCE = 0.15
# The tanh-Gaussian's mass by the trapezoid rule on 200,001 points: measured within 2e-9 of 1 for
# μ in [-0.5, 0.5], σ in [0.4, 1] and half-widths 0.5-2.
MASS_POINTS, MASS_TOLERANCE = 200_001, 1e-6


def _batch(seed: int, size: int):
    generator = torch.Generator().manual_seed(seed)
    return generator, lambda scale=1.0: scale * torch.randn(size, generator=generator, dtype=DTYPE)


def check_soft_q_target(soft_q_target, seed) -> None:
    """``soft_q_target(reward, terminated, q1_next, q2_next, log_prob_next, discount, temperature) -> [B]``
    = r + γ (1 - d) (min_i Q_θ̄i(s', a') - α log π(a'|s')), against ``pgm_control.rl.sac``."""
    from pgm_control.rl.sac import q_target, soft_state_value

    generator, normal = _batch(seed, 8)
    reward, q1_next, q2_next, log_prob_next = normal(), normal(5.0), normal(5.0), normal(2.0)
    terminated = (torch.rand(8, generator=generator) < 0.4).to(DTYPE)
    terminated[:2] = torch.tensor([0.0, 1.0])
    discount = 0.9 + 0.09 * float(torch.rand((), generator=generator))
    temperature = 0.1 + float(torch.rand((), generator=generator))
    args = (reward, terminated, q1_next, q2_next, log_prob_next, discount, temperature)
    expected = q_target(reward, terminated, soft_state_value(q1_next, q2_next, log_prob_next, temperature), discount)
    mistakes = [
        (q_target(reward, terminated, torch.max(q1_next, q2_next) - temperature * log_prob_next, discount),
         "max of the two target Q's: the minimum fights overestimation"),
        (q_target(reward, terminated, torch.min(q1_next, q2_next) + temperature * log_prob_next, discount),
         "the entropy bonus is -α log π(a'|s')"),
        (q_target(reward, torch.zeros(8, dtype=DTYPE), soft_state_value(q1_next, q2_next, log_prob_next,
                                                                         temperature), discount),
         "a terminal s' (d = 1) has no future: multiply by (1 - d)"),
    ]
    compare_or_explain("Q̂", call(soft_q_target, *args), expected, _sample_label, mistakes=mistakes)


def check_tanh_gaussian_log_prob(tanh_gaussian_log_prob, seed) -> None:
    """``tanh_gaussian_log_prob(u [B, D], mean [B, D], log_std [B, D], scale [D]) -> log π(a|s) [B]``
    with a = c + h tanh(u): against ``squashed_gaussian_log_prob`` at |u| up to 30, then its mass
    ∫ π(a) da over the action interval, by the trapezoid rule."""
    from pgm_control.rl.networks import squashed_gaussian_log_prob, tanh_log_abs_det_jacobian

    generator = torch.Generator().manual_seed(seed)
    B, D = 8, 2
    u = 8.0 * torch.randn(B, D, generator=generator, dtype=DTYPE)
    u[0, 0], u[1, 1] = 30.0, -25.0  # tanh(u) rounds to ±1 in float64 beyond |u| ≈ 19
    mean = torch.randn(B, D, generator=generator, dtype=DTYPE)
    log_std = torch.empty(B, D, dtype=DTYPE).uniform_(-1.0, 0.5, generator=generator)
    scale = torch.empty(D, dtype=DTYPE).uniform_(0.5, 2.0, generator=generator)
    expected = squashed_gaussian_log_prob(u, mean, log_std, scale)
    mistakes = [
        (expected + tanh_log_abs_det_jacobian(u).sum(-1), "the change-of-variables term -Σ_j log(1 - tanh²(u_j)) "
         "is missing"),
        (expected + torch.log(scale).sum(), "the rescaling term -Σ_j log h_j is missing"),
    ]
    compare_or_explain("log π(a|s)", call(tanh_gaussian_log_prob, u, mean, log_std, scale), expected,
                       _sample_label, mistakes=mistakes)
    _check_mass(tanh_gaussian_log_prob, generator)


def _check_mass(tanh_gaussian_log_prob, generator: torch.Generator) -> None:
    """∫ π(a) da = 1 over (c - h, c + h) for one random 1-D tanh-Gaussian (trapezoid rule)."""
    mean = float(torch.empty(()).uniform_(-0.5, 0.5, generator=generator))
    log_std = float(torch.empty(()).uniform_(math.log(0.4), 0.0, generator=generator))
    low = float(torch.empty(()).uniform_(-3.0, 0.0, generator=generator))
    half_width = float(torch.empty(()).uniform_(0.5, 2.0, generator=generator))
    actions = torch.linspace(low, low + 2 * half_width, MASS_POINTS, dtype=DTYPE)[1:-1]
    u = torch.atanh((actions - (low + half_width)) / half_width)[:, None]
    log_prob = answer_tensor("log π(a|s) on the grid", call(tanh_gaussian_log_prob, u, torch.full_like(u, mean),
                                                              torch.full_like(u, log_std),
                                                              torch.tensor([half_width], dtype=DTYPE)),
                             [len(actions)])
    mass = torch.trapezoid(log_prob.exp(), actions)
    compare(f"∫ π(a) da over ({low:.3g}, {low + 2 * half_width:.3g})", mass, torch.tensor(1.0, dtype=DTYPE),
            tol=MASS_TOLERANCE)


def check_temperature_loss(temperature_loss, seed) -> None:
    """``temperature_loss(log_temperature, log_prob [B], target_entropy) -> J(α)`` (a 0-dim tensor)
    = E[-α log π(a|s) - α H̄], α = exp(log α): its value, its gradient α (H - H̄) in log α with
    H = -E[log π], and no gradient into log π."""
    from pgm_control.rl.sac import temperature_loss as exact

    generator, normal = _batch(seed, 16)
    log_temperature = (0.8 * torch.randn((), generator=generator, dtype=DTYPE) - 1.0).requires_grad_(True)
    log_prob = (normal(1.5) + 0.5).requires_grad_(True)
    target_entropy = -float(torch.randint(1, 4, (), generator=generator))
    loss = call(temperature_loss, log_temperature, log_prob, target_entropy)
    expected = exact(log_temperature.detach(), log_prob.detach(), target_entropy)
    at = f" at log α = {float(log_temperature.detach()):.3g}"
    mistakes = [(-(log_temperature * (log_prob + target_entropy)).mean().detach(),
                 "log α used as α: the temperature is α = exp(log α)")]
    compare_or_explain("J(α)" + at, loss, expected, mistakes=mistakes)
    if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
        raise AssertionError("J(α) does not depend on log_temperature through autograd: compute it from "
                             "α = exp(log_temperature) with torch operations")
    grad_log_temperature, grad_log_prob = torch.autograd.grad(loss, [log_temperature, log_prob], allow_unused=True)
    temperature = log_temperature.detach().exp()
    entropy = -log_prob.detach().mean()
    compare("∂J/∂ log α" + at, grad_log_temperature, temperature * (entropy - target_entropy))
    if grad_log_prob is not None:
        with explained("detach log π: the temperature loss must not train the policy"):
            compare("∂J/∂ log π(a|s)", grad_log_prob, torch.zeros(16, dtype=DTYPE), _sample_label)


def soft_q_instance(seed: int) -> tuple[TabularMDP, float, torch.Tensor]:
    """A random MDP (2-4 states, 2 actions, γ = 0.7), a temperature α in [0.5, 1], and the sampled next
    states s' ~ p(·|s, a) of every pair at every iteration ``[N, S, A]`` (N = 2000)."""
    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(2, 5, (), generator=generator))
    temperature = 0.5 + 0.5 * float(torch.rand((), generator=generator))
    mdp = random_mdp(S, 2, seed=seed, discount=SOFT_Q_DISCOUNT)
    flat = mdp.transitions.reshape(S * 2, S)
    next_states = torch.multinomial(flat, SOFT_Q_ITERATIONS, replacement=True, generator=generator)
    return mdp, temperature, next_states.T.reshape(SOFT_Q_ITERATIONS, S, 2)


def check_soft_q_learning(soft_q_learning, seed) -> None:
    """``soft_q_learning(mdp, temperature, next_states [N, S, A]) -> Q [S, A]``, N synchronous soft
    Q-learning updates, within :data:`SOFT_Q_TOLERANCE` of ``soft_value_iteration``'s exact soft Q."""
    from pgm_control.inference import soft_value_iteration, value_iteration

    mdp, temperature, next_states = soft_q_instance(seed)
    exact = soft_value_iteration(mdp, temperature=temperature, backup="expected", progress=False).q
    # without the 1/A prior every soft value grows by α log A, so the fixed point by γ α log A / (1 - γ)
    without_prior = exact + mdp.discount * temperature * math.log(mdp.num_actions) / (1.0 - mdp.discount)
    mistakes = [
        (value_iteration(mdp).q, "a hard max in the target: soft Q-learning bootstraps with the soft maximum"),
        (without_prior, "the uniform prior 1/A is missing inside the soft maximum"),
    ]
    got = call(soft_q_learning, mdp, temperature, next_states.clone())
    compare_or_explain(f"Q after {SOFT_Q_ITERATIONS} iterations", got, exact, _labeller(mdp, "sa"),
                       tol=SOFT_Q_TOLERANCE, mistakes=mistakes)
