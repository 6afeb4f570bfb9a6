"""MaxEnt IRL recovers a known linear reward on a terrain grid world (issue 4 §3)."""

import pytest
import torch

from pgm_control import Demonstrations, sample_trajectories
from pgm_control.envs import terrain_gridworld
from pgm_control.inference import (
    hierarchical_irl,
    maxent_irl,
    policy_evaluation,
    soft_value_iteration,
    value_iteration,
)
from pgm_control.models import NeuralReward

HORIZON = 15
TRUE_PSI = torch.tensor([-2.0, -1.0, 0.0, 1.0], dtype=torch.float64)


def expert_demonstrations(mdp, num, seed=0, variant_backup="expected"):
    expert = soft_value_iteration(mdp, HORIZON, backup=variant_backup)
    batch = sample_trajectories(mdp, expert.policy, HORIZON, num, generator=torch.Generator().manual_seed(seed))
    return expert, Demonstrations.from_trajectories(batch)


def mean_kl(expert_policy, log_policy):
    """Mean over (t, s) of KL(π_expert,t(·|s) ‖ π_learned,t(·|s))."""
    return (expert_policy * (expert_policy.log() - log_policy)).sum(-1).mean().item()


def expected_return(mdp, policy):
    return (mdp.initial * policy_evaluation(mdp, policy, horizon=HORIZON).v[0]).sum().item()


def centred_cosine(a, b):
    """One-hot terrain features sum to 1: ψ is identified up to a constant shift, so compare centred ψ."""
    a, b = a - a.mean(), b - b.mean()
    return (a @ b / (a.norm() * b.norm())).item()


@pytest.fixture(scope="module")
def terrain():
    return terrain_gridworld(size=8, num_terrains=4, weights=TRUE_PSI, seed=0)


@pytest.fixture(scope="module")
def fitted(terrain):
    expert, demos = expert_demonstrations(terrain, num=300)
    return expert, demos, maxent_irl(terrain, demos, progress=False)


def test_recovers_the_expert_policy_and_return(terrain, fitted):
    expert, _, result = fitted
    # 300 demonstrations × 15 steps; the sampling error of the fitted policy is ~1e-3 nats: bound 0.05.
    assert result.converged
    assert mean_kl(expert.policy, result.log_policy) <= 0.05
    optimal = value_iteration(terrain.replace(rewards=result.reward_table), horizon=HORIZON)
    assert expected_return(terrain, optimal.policy) >= 0.95 * expected_return(terrain, expert.policy)
    cosine = centred_cosine(result.psi, TRUE_PSI)
    print(f"centred cosine similarity of ψ: {cosine:.4f}")
    assert cosine >= 0.99


def test_feature_mismatch_is_reported_and_vanishes(fitted):
    _, _, result = fitted
    steps = len(result.log_likelihood)
    assert result.feature_mismatch.shape == (steps, 4) and result.gradient_norm.shape == (steps,)
    assert result.feature_mismatch[0].abs().max() > 0.5  # ψ = 0 starts far from the expert
    # deterministic dynamics: mismatch = gradient of the log-likelihood, driven below tol = 1e-6
    assert result.feature_mismatch[-1].abs().max() <= 1e-5
    assert result.log_likelihood[-1] > result.log_likelihood[0]


def test_adam_reaches_the_same_optimum(terrain, fitted):
    _, demos, lbfgs = fitted
    adam = maxent_irl(terrain, demos, optimizer="adam", lr=0.1, num_steps=400, tol=1e-4, progress=False)
    # the same concave objective: the likelihoods agree to the Adam tolerance
    assert adam.log_likelihood[-1].item() == pytest.approx(lbfgs.log_likelihood[-1].item(), abs=1e-4)


def test_map_with_a_prior_shrinks_toward_zero(terrain, fitted):
    _, demos, mle = fitted
    prior = __import__("pyro").distributions.Normal(torch.zeros(4, dtype=torch.float64), 0.1).to_event(1)
    map_fit = maxent_irl(terrain, demos, prior=prior, progress=False)
    assert map_fit.converged and map_fit.psi.norm() < 0.8 * mle.psi.norm()
    assert map_fit.feature_mismatch[-1].abs().max() > 1e-2  # the prior's pull keeps a mismatch


def test_causal_and_trajectory_variants_differ_under_stochastic_dynamics():
    """With slip, the trajectory-level model credits the optimism of the posterior dynamics to the
    reward, so it learns another ψ from the same (causally soft-optimal) demonstrations."""
    slippery = terrain_gridworld(size=6, num_terrains=4, weights=TRUE_PSI, slip=0.4, seed=1)
    expert, demos = expert_demonstrations(slippery, num=300, seed=1)
    causal = maxent_irl(slippery, demos, variant="causal", progress=False)
    trajectory = maxent_irl(slippery, demos, variant="trajectory", progress=False)
    difference = (causal.psi - causal.psi.mean()) - (trajectory.psi - trajectory.psi.mean())
    assert difference.abs().max() > 0.05
    assert mean_kl(expert.policy, causal.log_policy) < mean_kl(expert.policy, trajectory.log_policy)


def test_identical_variants_under_deterministic_dynamics(terrain, fitted):
    _, demos, causal = fitted
    trajectory = maxent_irl(terrain, demos, variant="trajectory", progress=False)
    torch.testing.assert_close(trajectory.psi, causal.psi, atol=1e-6, rtol=0)


def test_neural_reward_fits(terrain, fitted):
    expert, demos, _ = fitted
    result = maxent_irl(terrain, demos, reward=NeuralReward(terrain.features, hidden=(8,)), num_steps=100,
                        progress=False)
    assert result.psi is None and result.reward_table.shape == (64, 4)
    assert mean_kl(expert.policy, result.log_policy) <= 0.05


def test_maxent_irl_errors(terrain, fitted):
    _, demos, _ = fitted
    with pytest.raises(ValueError, match="optimizer must be one of"):
        maxent_irl(terrain, demos, optimizer="sgd")
    with pytest.raises(ValueError, match="num_steps"):
        maxent_irl(terrain, demos, num_steps=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        maxent_irl(terrain, demos, lr=-1.0)
    with pytest.raises(TypeError, match="tol must be"):
        maxent_irl(terrain, demos, tol="small")
    with pytest.raises(ValueError, match="NeuralReward"):
        maxent_irl(terrain, demos, reward=NeuralReward(terrain.features),
                   prior=__import__("pyro").distributions.Normal(0.0, 1.0))


def test_hierarchical_irl_recovers_the_rationality_ratio():
    """Two demonstrators share ψ* with temperatures 0.5 and 2: only r/α reaches a policy, so the data
    fix the ratio α_2/α_1 = 4 (the priors fix the common scale). 150 episodes each of 12 steps:
    the ratio's sampling spread is about ±10% (seeds 0–4 of this set-up gave 3.70–4.31); bound [3, 5.5]."""
    mdp = terrain_gridworld(size=5, num_terrains=4, weights=TRUE_PSI / 2, seed=0)
    states, actions, who = [], [], []
    for m, alpha in enumerate([0.5, 2.0]):
        expert = soft_value_iteration(mdp, 12, temperature=alpha)
        batch = sample_trajectories(mdp, expert.policy, 12, 150, generator=torch.Generator().manual_seed(m))
        states.append(batch.states)
        actions.append(batch.actions)
        who += [m] * 150
    demos = Demonstrations(torch.cat(states), torch.cat(actions), demonstrators=who)
    result = hierarchical_irl(mdp, demos, progress=False)
    assert result.converged
    ratio = (result.temperatures[1] / result.temperatures[0]).item()
    assert 3.0 <= ratio <= 5.5
    assert result.policies.shape == (2, 12, 25, 4)
    assert centred_cosine(result.psi, TRUE_PSI) >= 0.98


# ------------------------------------------------------------------------------ mutation guards
# Each test below pins a behaviour that a plausible one-line bug would break without failing any other
# test (found by planting the bug).
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_first_feature_mismatch_is_demonstrated_minus_uniform_policy_counts(temperature):
    """At ψ = 0 the soft-optimal policy is uniform, so the first mismatch is, in NumPy: the demonstrated
    counts (1/N) Σ_i Σ_t f(s_it, a_it) minus Σ_t Σ_{s,a} d_t(s) f(s, a)/A, d_1 = the demonstrated starts,
    d_{t+1} = d_t P_uniform. Its sign says where ψ moves (the first step ascends the gradient), and the
    gradient's ∞-norm is max |mismatch| / α (mismatch = α ∇L)."""
    import numpy as np
    mdp = terrain_gridworld(size=3, num_terrains=3, weights=torch.tensor([-1.0, 0.0, 1.0]), seed=2)
    _expert, demos = expert_demonstrations(mdp, num=20, seed=3)
    T, (S, A) = HORIZON, mdp.rewards.shape
    f = mdp.features.numpy()
    states, actions = demos.states.numpy(), demos.actions.numpy()
    demonstrated = np.mean([sum(f[s[t], a[t]] for t in range(T)) for s, a in zip(states, actions)], axis=0)
    d = np.bincount(states[:, 0], minlength=S) / len(states)
    P = mdp.to_dense().transitions.numpy()
    expected = np.zeros(f.shape[-1])
    for _ in range(T):
        expected += np.einsum("s,saf->f", d, f) / A
        d = np.einsum("s,sap->p", d, P) / A
    result = maxent_irl(mdp, demos, temperature=temperature, num_steps=2, progress=False)
    mismatch = result.feature_mismatch[0].numpy()
    np.testing.assert_allclose(mismatch, demonstrated - expected, atol=1e-10)
    assert result.gradient_norm[0].item() == pytest.approx(np.abs(mismatch).max() / temperature, rel=1e-8)
    assert (result.psi.numpy() @ mismatch) > 0  # L-BFGS's first step is along the gradient
