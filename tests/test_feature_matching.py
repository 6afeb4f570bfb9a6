"""Feature-matching IRL (Abbeel & Ng 2004): the QP solvers against hand-solved and brute-force cases, then the
algorithm's guarantee on a terrain grid: the mixture's feature expectations match the expert's within tol,
so it earns the expert's return under the true reward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pgm_control import Demonstrations, sample_trajectories
from pgm_control.envs import terrain_gridworld
from pgm_control.inference import policy_evaluation, soft_value_iteration
from pgm_control.inference.feature_matching import (
    closest_mixture,
    feature_expectations,
    feature_matching_irl,
    max_margin_reward,
    nnls,
    projection_step,
)

DTYPE = torch.float64
TRUE_PSI = torch.tensor([0.0, 0.5, 1.0], dtype=DTYPE)


def t64(x):
    return torch.tensor(x, dtype=DTYPE)


# --------------------------------------------------------------------------------------------- the QP
@pytest.mark.parametrize(
    ("differences", "expected"),
    [
        # ψ_1 ≥ 1, 2ψ_2 ≥ 1: both active, ψ = (1, 1/2)
        ([[1.0, 0.0], [0.0, 2.0]], [1.0, 0.5]),
        # ψ_1 + ψ_2 ≥ 1, ψ_1 - ψ_2 ≥ 1: both active, ψ = (1, 0)
        ([[1.0, 1.0], [1.0, -1.0]], [1.0, 0.0]),
        # ψ_1 ≥ 1, 2ψ_1 + ψ_2 ≥ 1: the second is inactive at ψ = (1, 0) (2 > 1)
        ([[1.0, 0.0], [2.0, 1.0]], [1.0, 0.0]),
        # ψ_1 + ψ_2 ≥ 2 (scaled: 0.5ψ_1 + 0.5ψ_2 ≥ 1) and ψ_1 ≥ 0.5: ψ = (1, 1), the second inactive
        ([[0.5, 0.5], [2.0, 0.0]], [1.0, 1.0]),
    ],
)
def test_max_margin_qp_two_constraints_in_two_dimensions(differences, expected):
    # min ½‖ψ‖² s.t. ψᵀ d_j ≥ 1, solved by hand (KKT) above; expert at the origin so μ_j = -d_j.
    psi, margin = max_margin_reward(torch.zeros(2, dtype=DTYPE), -t64(differences))
    torch.testing.assert_close(psi, t64(expected), atol=1e-12, rtol=0)
    assert margin == pytest.approx(1.0 / np.linalg.norm(expected), abs=1e-12)


def test_max_margin_qp_infeasible_when_the_expert_is_in_the_hull():
    # μ_E = 0 is the midpoint of μ_1 = (1, 0) and μ_2 = (-1, 0): no ψ separates it, margin 0
    psi, margin = max_margin_reward(torch.zeros(2, dtype=DTYPE), t64([[1.0, 0.0], [-1.0, 0.0]]))
    assert psi is None and margin == 0.0


def brute_force_nnls(E, f):
    """min_{u ≥ 0} ‖Eu - f‖ by enumerating the support: least squares on every subset, keep the
    non-negative solutions, take the best (exact for tiny n)."""
    best, best_value = np.zeros(E.shape[1]), np.linalg.norm(f)
    for k in range(1, E.shape[1] + 1):
        for subset in itertools.combinations(range(E.shape[1]), k):
            u_sub = np.linalg.lstsq(E[:, subset], f, rcond=None)[0]
            if (u_sub >= 0).all():
                u = np.zeros(E.shape[1])
                u[list(subset)] = u_sub
                value = np.linalg.norm(E @ u - f)
                if value < best_value - 1e-13:
                    best, best_value = u, value
    return best, best_value


@pytest.mark.parametrize("seed", range(6))
def test_nnls_matches_enumeration_of_supports(seed):
    rng = np.random.default_rng(seed)
    E, f = rng.normal(size=(5, 4)), rng.normal(size=5)
    u = nnls(t64(E), t64(f))
    _, best_value = brute_force_nnls(E, f)
    assert (u >= 0).all()
    assert np.linalg.norm(E @ u.numpy() - f) == pytest.approx(best_value, abs=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_margin_is_the_distance_to_the_hull(seed):
    # Two routes: the SVM form's margin 1/‖ψ*‖ equals min_{λ ∈ simplex} ‖μ_E - Σ λ_j μ_j‖ (minimax duality),
    # and ψ* is parallel to μ_E - (the closest point); every constraint holds, the tight ones with equality.
    generator = torch.Generator().manual_seed(seed)
    mus = torch.randn(6, 3, generator=generator, dtype=DTYPE)
    expert = torch.tensor([3.0, 0.0, 0.0], dtype=DTYPE)  # outside the hull of 6 standard normal points w.h.p.
    psi, margin = max_margin_reward(expert, mus)
    weights = closest_mixture(expert, mus)
    gap = expert - weights @ mus
    assert weights.min() >= 0 and weights.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert margin == pytest.approx(gap.norm().item(), abs=1e-10)
    torch.testing.assert_close(psi, gap / gap.norm() ** 2, atol=1e-10, rtol=0)
    slack = (expert - mus) @ psi
    assert slack.min().item() == pytest.approx(1.0, abs=1e-10)


def test_closest_mixture_hand_case():
    # the closest point of the triangle (0,0), (2,0), (0,2) to (2,2) is (1,1), the midpoint of its hypotenuse
    weights = closest_mixture(t64([2.0, 2.0]), t64([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
    torch.testing.assert_close(weights, t64([0.0, 0.5, 0.5]), atol=1e-12, rtol=0)


def test_projection_step_is_clipped_to_the_segment():
    expert = t64([3.0, 1.0])
    mixed, c = projection_step(expert, t64([0.0, 0.0]), t64([1.0, 0.0]))  # the line's point (3, 0) lies beyond
    assert c == 1.0 and mixed.tolist() == [1.0, 0.0]
    mixed, c = projection_step(expert, t64([0.0, 0.0]), t64([4.0, 0.0]))
    assert c == 0.75 and mixed.tolist() == [3.0, 0.0]


# ------------------------------------------------------------------------------------- the algorithm
@pytest.fixture(scope="module")
def terrain_problem():
    """5 x 5 terrain grid, deterministic moves, true ψ* = (0, 1/2, 1), T = 8, 100 demonstrations of the
    soft-optimal (stochastic) policy: μ_E lies inside the set of achievable feature expectations (it is the
    visitation of the empirical trajectory distribution, realizable under deterministic dynamics) but at no
    vertex, so a mixture of several optimal policies is needed."""
    mdp = terrain_gridworld(size=5, num_terrains=3, weights=TRUE_PSI, seed=0)
    horizon = 8
    expert = soft_value_iteration(mdp, horizon).policy
    trajectories = sample_trajectories(mdp, expert, horizon, 100, generator=torch.Generator().manual_seed(0))
    return mdp, Demonstrations.from_trajectories(trajectories), horizon


def true_return(mdp, policy, demonstrations, horizon):
    """E[Σ_t r*(s_t, a_t)] of a time-indexed policy from the demonstrations' start distribution."""
    start = demonstrations.start_distribution(mdp.num_states)
    return (start @ policy_evaluation(mdp, policy, horizon).v[0]).item()


@pytest.mark.parametrize("method", ["projection", "max_margin"])
def test_mixture_matches_the_expert_and_earns_its_return(terrain_problem, method):
    mdp, demos, horizon = terrain_problem
    tol = 1e-3
    result = feature_matching_irl(mdp, demos, method=method, tol=tol)
    assert result.converged
    # the algorithm's guarantee: ‖μ_mix - μ_E‖ ≤ t ≤ tol (the closest mixture is at least as close as μ̄)
    gap = (result.mixture_feature_expectations - result.expert_feature_expectations).norm().item()
    assert gap <= tol
    # the Markov policy of the mixture has the mixture's feature expectations (an exact identity)
    ones = torch.ones(horizon, dtype=DTYPE)
    start = demos.start_distribution(mdp.num_states)
    torch.testing.assert_close(feature_expectations(mdp, result.mixture_policy, mdp.features, start, ones),
                               result.mixture_feature_expectations, atol=1e-10, rtol=0)
    # its true return is ψ*ᵀμ_mix >= ψ*ᵀμ_E - ‖ψ*‖ tol (Cauchy-Schwarz): evaluated independently by DP
    expert_return = (TRUE_PSI @ result.expert_feature_expectations).item()
    mixture_return = true_return(mdp, result.mixture_policy, demos, horizon)
    assert mixture_return >= expert_return - TRUE_PSI.norm().item() * tol
    assert mixture_return / expert_return >= 0.999


def test_margins_decrease(terrain_problem):
    mdp, demos, _ = terrain_problem
    for method in ("projection", "max_margin"):
        margins = feature_matching_irl(mdp, demos, method=method).margins
        assert len(margins) >= 3  # the problem needs more than one policy (else the check below is void)
        assert (margins[1:] <= margins[:-1] + 1e-12).all(), method
    # projection: strictly decreasing until it stops (each new optimal policy moves μ̄ towards μ_E)
    margins = feature_matching_irl(mdp, demos, method="projection").margins
    assert (margins[1:] < margins[:-1]).all()


def test_result_shapes(terrain_problem):
    mdp, demos, horizon = terrain_problem
    S, A, F = mdp.num_states, mdp.num_actions, mdp.features.shape[-1]
    result = feature_matching_irl(mdp, demos, method="projection", max_iter=4, tol=1e-9)
    assert not result.converged and result.num_iterations == 5  # π_0 and 4 more: 5 margins
    J = result.policies.shape[0]
    assert J == 5
    assert result.policies.shape == (J, horizon, S, A)
    assert result.feature_expectations.shape == (J, F)
    assert result.psi.shape == (F,) and result.reward_table.shape == (S, A)
    assert result.psi_history.shape == (J - 1, F)
    torch.testing.assert_close(result.psi, result.psi_history[-1])
    assert result.mixture_weights.shape == (J,) and result.mixture_policy.shape == (horizon, S, A)
    torch.testing.assert_close(result.mixture_policy.sum(-1), torch.ones(horizon, S, dtype=DTYPE))
    # π_0 is uniform; every later π_j is optimal for ψ_j (its feature expectations maximize ψ_jᵀμ over the set)
    torch.testing.assert_close(result.policies[0], torch.full((horizon, S, A), 1 / A, dtype=DTYPE))
    values = result.psi_history @ result.feature_expectations.T  # [J-1, J]
    for j in range(1, J):
        assert values[j - 1, j] >= values[j - 1].max() - 1e-10


def test_ragged_demonstrations_weight_steps_by_their_lengths(terrain_problem):
    mdp, demos, horizon = terrain_problem
    lengths = torch.arange(demos.num_demonstrations) % horizon + 1  # 1..T actions
    ragged = Demonstrations(demos.states, demos.actions, lengths=lengths)
    result = feature_matching_irl(mdp, ragged, method="max_margin")
    assert result.converged
    # one-hot features count one per demonstrated step: both sides add up to the mean length
    assert result.expert_feature_expectations.sum().item() == pytest.approx(lengths.double().mean().item())
    assert result.mixture_feature_expectations.sum().item() == pytest.approx(lengths.double().mean().item())


def test_validation(terrain_problem):
    mdp, demos, _ = terrain_problem
    with pytest.raises(ValueError, match="method must be one of"):
        feature_matching_irl(mdp, demos, method="svm")
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        feature_matching_irl(mdp, demos, max_iter=0)
    with pytest.raises(ValueError, match="tol must be positive"):
        feature_matching_irl(mdp, demos, tol=0.0)
    with pytest.raises(ValueError, match="discount"):
        feature_matching_irl(mdp.replace(discount=0.9), demos)
    with pytest.raises(ValueError, match="features must have shape"):
        feature_matching_irl(mdp, demos, features=torch.ones(3, 3, dtype=DTYPE))
    with pytest.raises(TypeError, match="Demonstrations"):
        feature_matching_irl(mdp, demos.states)


# ---- mutation guards (second pass)
def test_mixture_policy_is_uniform_where_no_found_policy_goes():
    # Every demonstration starts in the corner cell 0 of a 3 x 3 grid (deterministic moves), so at step t
    # only cells within t moves of it can be visited (Manhattan distance ≤ t, by hand); elsewhere the
    # mixture's Markov policy is the uniform policy 1/A (a distribution, not a row of zeros), and every
    # row sums to 1.
    mdp = terrain_gridworld(size=3, num_terrains=3, weights=TRUE_PSI, seed=0)
    horizon = 3
    expert = soft_value_iteration(mdp, horizon).policy
    starts = torch.zeros(mdp.num_states, dtype=DTYPE)
    starts[0] = 1.0
    trajectories = sample_trajectories(mdp.replace(initial=starts), expert, horizon, 20,
                                       generator=torch.Generator().manual_seed(0))
    result = feature_matching_irl(mdp, Demonstrations.from_trajectories(trajectories), max_iter=3, tol=1e-9)
    rows, cols = np.divmod(np.arange(9), 3)
    for t in range(horizon):
        unreachable = torch.from_numpy(rows + cols > t)
        assert unreachable.any()
        torch.testing.assert_close(result.mixture_policy[t, unreachable],
                                   torch.full((int(unreachable.sum()), 4), 0.25, dtype=DTYPE), atol=1e-15, rtol=0)
    torch.testing.assert_close(result.mixture_policy.sum(-1), torch.ones(horizon, 9, dtype=DTYPE))
