"""The reward-parameter Pyro models against brute-force likelihoods, and the CS285 notes' gradient identity."""

import subprocess
import sys

import numpy as np
import pyro
import pytest
import torch

from pgm_control import Demonstrations, TabularMDP, sample_trajectories
from pgm_control.envs import terrain_gridworld
from pgm_control.inference import (
    demonstrated_feature_counts,
    expected_feature_counts,
    soft_value_iteration,
    state_action_visitation,
)
from pgm_control.models import LinearReward, NeuralReward, flat_prior, hierarchical_irl_model, irl_model

from brute_force import tiny_mdp, trajectory_weights

T = 3
F = 2


def feature_mdp(seed, deterministic=False):
    """A tiny random dense MDP with random features f [S, A, F] and ψ [F]; numpy copies for brute force."""
    P, _, p0, _ = tiny_mdp(seed, deterministic=deterministic)
    rng = np.random.default_rng(seed + 100)
    f = rng.normal(size=(*P.shape[:2], F))
    psi = rng.normal(size=F)
    mdp = TabularMDP(torch.tensor(P), torch.tensor(f @ psi), torch.tensor(p0), features=torch.tensor(f))
    return mdp, P, f, psi, p0


def sampled_demos(mdp, num=6, seed=0):
    uniform = torch.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions, dtype=torch.float64)
    return Demonstrations.from_trajectories(
        sample_trajectories(mdp, uniform, T, num, generator=torch.Generator().manual_seed(seed)))


def model_log_likelihood(mdp, demos, psi, **kwargs):
    """Σ_i log p(τ_i | s_1, ψ) from the model's trace, with ψ fixed and a flat prior."""
    reward = LinearReward(mdp.features)
    conditioned = pyro.poutine.condition(irl_model, data={"psi": psi})
    trace = pyro.poutine.trace(conditioned).get_trace(mdp, demos, None, reward, flat_prior(reward), **kwargs)
    return trace.log_prob_sum()


def brute_trajectory_log_likelihood(P, r, p0, demos):
    """Σ_i log p(τ_i | s_1, O) with p(τ | O) ∝ p(τ) exp(r(τ)), by enumerating all trajectories."""
    S, A = r.shape
    states, actions, w = trajectory_weights(P, r, p0, np.full((S, A), 1.0 / A), T)
    total = 0.0
    for s_row, a_row in zip(demos.states.numpy(), demos.actions.numpy()):
        mine = (states == s_row[:T]).all(1) & (actions == a_row).all(1)
        same_start = states[:, 0] == s_row[0]
        total += np.log(w[mine].sum() / w[same_start].sum()) + np.log(P[s_row[T - 1], a_row[T - 1], s_row[T]])
    return total


def brute_causal_log_likelihood(P, r, demos):
    """Σ_i Σ_t log π_t(a_t|s_t) + log p(s_{t+1}|s_t, a_t), π of the expected soft backup (plain numpy)."""
    S, A = r.shape
    v_next, log_pi = np.zeros(S), [None] * T
    for t in reversed(range(T)):
        q = r + P @ v_next
        v_next = np.log(np.exp(q).mean(1))
        log_pi[t] = np.log(1.0 / A) + q - v_next[:, None]
    total = 0.0
    for s_row, a_row in zip(demos.states.numpy(), demos.actions.numpy()):
        for t in range(T):
            total += log_pi[t][s_row[t], a_row[t]] + np.log(P[s_row[t], a_row[t], s_row[t + 1]])
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trajectory_likelihood_equals_enumeration(seed):
    mdp, P, f, psi, p0 = feature_mdp(seed)
    demos = sampled_demos(mdp, seed=seed)
    got = model_log_likelihood(mdp, demos, torch.tensor(psi), variant="trajectory")
    assert got.item() == pytest.approx(brute_trajectory_log_likelihood(P, f @ psi, p0, demos), abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_causal_likelihood_equals_plain_recursion(seed):
    mdp, P, f, psi, _ = feature_mdp(seed)
    demos = sampled_demos(mdp, seed=seed)
    got = model_log_likelihood(mdp, demos, torch.tensor(psi), variant="causal")
    assert got.item() == pytest.approx(brute_causal_log_likelihood(P, f @ psi, demos), abs=1e-10)


def test_variants_agree_under_deterministic_dynamics():
    mdp, *_ , psi, _ = feature_mdp(3, deterministic=True)
    demos = sampled_demos(mdp, seed=3)
    causal = model_log_likelihood(mdp, demos, torch.tensor(psi), variant="causal")
    trajectory = model_log_likelihood(mdp, demos, torch.tensor(psi), variant="trajectory")
    assert causal.item() == pytest.approx(trajectory.item(), abs=1e-10)


def test_temperature_is_reward_scaling():
    mdp, *_, psi, _ = feature_mdp(4)
    demos = sampled_demos(mdp)
    hot = model_log_likelihood(mdp, demos, torch.tensor(psi), temperature=2.0)
    scaled = model_log_likelihood(mdp, demos, torch.tensor(psi) / 2.0)
    assert hot.item() == pytest.approx(scaled.item(), abs=1e-12)


def gradient_check(mdp, demos, psi, variant, temperature=1.0):
    psi = torch.tensor(psi, requires_grad=True)
    log_likelihood = model_log_likelihood(mdp, demos, psi, variant=variant, temperature=temperature)
    (autograd,) = torch.autograd.grad(log_likelihood / demos.num_demonstrations, psi)
    learned = mdp.replace(rewards=LinearReward(mdp.features)(psi.detach()))
    expected = expected_feature_counts(learned, T, variant=variant, temperature=temperature,
                                       start=demos.start_distribution(mdp.num_states))
    return autograd, (demonstrated_feature_counts(mdp, demos) - expected) / temperature


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_gradient_is_feature_count_mismatch_trajectory_variant(seed, temperature):
    """The CS285 notes: ∇_ψ L = demonstrated − expected feature counts, exactly, for any dynamics."""
    mdp, *_, psi, _ = feature_mdp(seed)
    autograd, mismatch = gradient_check(mdp, sampled_demos(mdp, seed=seed), psi, "trajectory", temperature)
    torch.testing.assert_close(autograd, mismatch, atol=1e-8, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_is_feature_count_mismatch_causal_deterministic(seed):
    mdp, *_, psi, _ = feature_mdp(seed, deterministic=True)
    autograd, mismatch = gradient_check(mdp, sampled_demos(mdp, seed=seed), psi, "causal")
    torch.testing.assert_close(autograd, mismatch, atol=1e-8, rtol=0)


def test_causal_gradient_differs_under_stochastic_dynamics():
    """With stochastic dynamics the causal gradient has an extra zero-mean term (documented)."""
    mdp, *_, psi, _ = feature_mdp(0)
    autograd, mismatch = gradient_check(mdp, sampled_demos(mdp), psi, "causal")
    assert (autograd - mismatch).abs().max() > 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_trajectory_visitation_is_the_posterior_given_the_start(seed):
    mdp, P, f, psi, _ = feature_mdp(seed)
    start = np.array([0.0, 1.0, 0.0])
    S, A = P.shape[:2]
    states, actions, w = trajectory_weights(P, f @ psi, start, np.full((S, A), 1.0 / A), T)
    w = w / w.sum()
    brute = np.zeros((T, S, A))
    for t in range(T):
        np.add.at(brute[t], (states[:, t], actions[:, t]), w)
    mu = state_action_visitation(mdp, T, variant="trajectory", start=torch.tensor(start))
    np.testing.assert_allclose(mu.numpy(), brute, atol=1e-12)


def test_causal_visitation_follows_the_soft_policy():
    mdp, P, *_ = feature_mdp(5)
    mu = state_action_visitation(mdp, T, variant="causal")
    pi = soft_value_iteration(mdp, T).policy.numpy()
    d = mdp.initial.numpy()
    for t in range(T):
        np.testing.assert_allclose(mu[t].numpy(), d[:, None] * pi[t], atol=1e-12)
        d = np.einsum("sa,sat->t", d[:, None] * pi[t], P)


def test_masked_steps_are_the_likelihood_of_the_prefix():
    """A shorter episode's likelihood is that of its prefix: the padding contributes nothing."""
    mdp, P, _, psi, _ = feature_mdp(6)
    full = sampled_demos(mdp, num=1)
    short = Demonstrations(full.states, full.actions, lengths=[1])
    for variant in ("causal", "trajectory"):
        got = model_log_likelihood(mdp, short, torch.tensor(psi), variant=variant)
        # the first factor of the horizon-T model: log π_1(a|s) + log p_ψ(s_2|s, a)
        soft = soft_value_iteration(mdp, T, backup="expected" if variant == "causal" else "optimistic")
        s, a, s2 = full.states[0, 0], full.actions[0, 0], full.states[0, 1]
        tilt = 0.0 if variant == "causal" else (soft.v[1, s2] - soft.q[0, s, a] + mdp.rewards[s, a]).item()
        want = soft.log_policy[0, s, a].item() + np.log(P[s, a, s2]) + tilt
        assert got.item() == pytest.approx(want, abs=1e-12)


def test_hierarchical_model_sites_and_per_demonstrator_temperature():
    mdp = terrain_gridworld(size=3, num_terrains=2)
    demos = Demonstrations([[0, 1, 2], [4, 5, 5], [3, 4, 5]], [[2, 2], [2, 2], [2, 2]], demonstrators=[0, 1, 0])
    temperatures = torch.tensor([0.5, 2.0], dtype=torch.float64)
    psi = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    trace = pyro.poutine.trace(pyro.poutine.condition(hierarchical_irl_model, data={
        "psi": psi, "temperature": temperatures})).get_trace(mdp, demos)
    assert trace.nodes["temperature"]["value"].shape == (2,)
    # each demonstrator's actions follow its own temperature: compare with irl_model on the subsets
    for m, rows in ((0, [0, 2]), (1, [1])):
        subset = Demonstrations(demos.states[rows], demos.actions[rows])
        single = pyro.poutine.trace(pyro.poutine.condition(irl_model, data={"psi": psi})).get_trace(
            mdp, subset, temperature=temperatures[m].item())
        got = trace.nodes["actions"]["fn"].log_prob(demos.actions)[rows].sum()
        want = single.nodes["actions"]["fn"].log_prob(subset.actions).sum()
        assert got.item() == pytest.approx(want.item(), abs=1e-12)


def test_neural_reward_is_a_pyro_module():
    mdp = terrain_gridworld(size=3, num_terrains=2)
    demos = Demonstrations([[0, 1, 2]], [[2, 2]])
    reward = NeuralReward(mdp.features, hidden=(4,))
    pyro.clear_param_store()
    trace = pyro.poutine.trace(irl_model).get_trace(mdp, demos, reward=reward)
    assert "psi" not in trace.nodes and any(name.startswith("reward$$$") for name in pyro.get_param_store())
    assert reward().shape == (9, 4)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"variant": "optimal"}, ValueError, "variant must be one of"),
    ({"temperature": 0.0}, ValueError, "temperature > 0"),
    ({"prior": pyro.distributions.Normal(0.0, 1.0)}, ValueError, "event shape"),
    ({"reward": "linear"}, TypeError, "LinearReward or a NeuralReward"),
    ({"horizon": 5}, ValueError, "horizon=5"),
])
def test_irl_model_errors(kwargs, error, message):
    mdp = terrain_gridworld(size=3, num_terrains=2)
    demos = Demonstrations([[0, 1, 2]], [[2, 2]])
    with pytest.raises(error, match=message):
        irl_model(mdp, demos, **kwargs)


def test_irl_model_needs_features_and_undiscounted_mdp():
    mdp = terrain_gridworld(size=3, num_terrains=2)
    demos = Demonstrations([[0, 1, 2]], [[2, 2]])
    with pytest.raises(ValueError, match="no reward parameterization"):
        irl_model(TabularMDP(mdp.transitions, mdp.rewards), demos)
    with pytest.raises(ValueError, match="discount"):
        irl_model(mdp.replace(discount=0.9), demos)
    with pytest.raises(TypeError, match="Demonstrations"):
        irl_model(mdp, demos.states)
    with pytest.raises(ValueError, match="demonstrators"):
        hierarchical_irl_model(mdp, demos)


@pytest.mark.parametrize("module", ["pgm_control.models", "pgm_control.models.irl"])
def test_the_models_import_first_in_a_fresh_interpreter(module):
    # pgm_control.inference imports the IRL model; the model must not import pgm_control.inference at
    # import time, or importing the models before the inference package is a circular ImportError.
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
