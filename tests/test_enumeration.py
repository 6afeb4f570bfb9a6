"""Pyro's enumeration against the hand-written messages: log p(O), posterior samples, the MAP path."""

import itertools

import numpy as np
import pyro
import pytest
import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate

from pgm_control import TabularMDP
from pgm_control.envs import GridWorld, lottery_mdp, random_mdp
from pgm_control.inference import (
    backward_messages,
    enumerate_log_evidence,
    log_evidence,
    map_trajectory,
    posterior_trajectories,
    soft_value_iteration,
    state_marginals,
)
from pgm_control.models.optimality import log_evidence_shift, optimality_model

import brute_force


@pytest.mark.parametrize("branching", [None, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_enumeration_equals_messages(branching, seed):
    mdp = random_mdp(5, 3, branching=branching, seed=seed)
    for horizon in (1, 4, 12):
        got = enumerate_log_evidence(mdp, horizon)
        assert got.dtype == torch.float64
        assert got.item() == pytest.approx(log_evidence(mdp, horizon).item(), abs=1e-10)


def test_enumeration_with_temperature_and_action_prior():
    mdp = random_mdp(4, 3, branching=2, seed=3)
    prior = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    got = enumerate_log_evidence(mdp, 7, temperature=0.4, action_prior=prior)
    want = log_evidence(mdp, 7, temperature=0.4, action_prior=prior)
    assert got.item() == pytest.approx(want.item(), abs=1e-10)


def test_enumeration_is_linear_in_time_far_past_the_tensor_dimension_limit():
    """T = 1000 sites per kind: without pyro.markov this would need 2000 enumeration dimensions."""
    mdp = random_mdp(4, 2, branching=2, seed=4)
    assert enumerate_log_evidence(mdp, 1000).item() == pytest.approx(log_evidence(mdp, 1000).item(), abs=1e-10)


def _per_step_log_evidence(mdp, horizon, temperature=1.0, action_prior=None):
    """log p(O_{1:T}) by TraceEnum_ELBO on the per-step model (every s_t, a_t a site)."""
    model = config_enumerate(optimality_model, default="parallel")
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda *args: None, mdp, horizon, 1, temperature,
                                                    action_prior)
    return -loss + log_evidence_shift(mdp, horizon, temperature).item()


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("horizon", [1, 2, 5])
def test_hmm_model_equals_the_per_step_model(dense, horizon):
    """enumerate_log_evidence scores optimality_hmm_model; Pyro's enumeration of every s_t, a_t of the
    per-step model is the independent route."""
    mdp = random_mdp(5, 3, branching=2, seed=8)
    mdp = mdp.to_dense() if dense else mdp
    prior = torch.tensor([[0.6, 0.4, 0.0]] * 5, dtype=torch.float64)  # a zero-prior action
    for temperature, action_prior in [(1.0, None), (0.3, prior)]:
        got = enumerate_log_evidence(mdp, horizon, temperature=temperature, action_prior=action_prior)
        want = _per_step_log_evidence(mdp, horizon, temperature, action_prior)
        assert got.item() == pytest.approx(want, abs=1e-10)


def test_hmm_model_stays_finite_when_exp_r_underflows():
    """Rewards 1000 apart at α = 0.5: exp(Δr/α) underflows, so the factors must be summed in log space."""
    mdp = random_mdp(4, 3, branching=2, seed=9)
    mdp = mdp.replace(rewards=1000 * mdp.rewards)
    got = enumerate_log_evidence(mdp, 20, temperature=0.5)
    assert got.item() == pytest.approx(log_evidence(mdp, 20, temperature=0.5).item(), abs=1e-8)


def test_posterior_samples_follow_the_exact_marginals():
    """20,000 samples: each frequency has SE <= sqrt(0.25 / 20000) = 0.0035; 0.02 is > 5 SE."""
    mdp = random_mdp(5, 3, branching=2, seed=5)
    horizon, num = 6, 20_000
    pyro.set_rng_seed(0)
    samples = posterior_trajectories(mdp, horizon, num)
    assert samples.states.shape == (num, horizon) and samples.actions.shape == (num, horizon)
    frequencies = torch.stack([torch.bincount(samples.states[:, t], minlength=5) for t in range(horizon)]) / num
    torch.testing.assert_close(frequencies.double(), state_marginals(mdp, horizon), atol=0.02, rtol=0)
    # first actions follow the posterior policy p(a_1 | s_1, O_{1:T}) of the exact messages
    policy = soft_value_iteration(mdp, horizon, backup="optimistic").policy[0]
    for s in range(5):
        chosen = samples.actions[samples.states[:, 0] == s, 0]
        if len(chosen) > 2000:
            empirical = torch.bincount(chosen, minlength=3).double() / len(chosen)
            torch.testing.assert_close(empirical, policy[s], atol=0.04, rtol=0)


def test_map_trajectory_is_the_brute_force_argmax():
    P, r, p0, _ = brute_force.tiny_mdp(6)
    uniform = np.full_like(r, 0.5)
    states, actions, weights = brute_force.trajectory_weights(P, r, p0, uniform, 4)
    best = np.argmax(weights)
    mdp = TabularMDP(torch.tensor(P), torch.tensor(r), initial=torch.tensor(p0))
    path = map_trajectory(mdp, 4)
    assert path.states.tolist() == [states[best].tolist()]
    assert path.actions.tolist() == [actions[best].tolist()]


def test_map_trajectory_walks_to_the_goal():
    world = GridWorld(["S..", "#.#", "..G"], step_reward=-1.0, goal_reward=0.0)
    path = map_trajectory(world, 6)
    cells = [tuple(world.layout.cells[s].tolist()) for s in path.states[0]]
    assert cells[:5] == [(0, 0), (0, 1), (1, 1), (2, 1), (2, 2)]


def test_posterior_gambles_in_the_lottery():
    """The exact posterior believes in the jackpot: the MAP trajectory gambles and wins."""
    path = map_trajectory(lottery_mdp(), 5)
    assert path.actions[0, 0] == 1 and path.states[0, 1] == 2


def test_backward_messages_give_the_enumerated_conditional():
    """β_1(s) = p(O_{1:T} | s_1 = s): enumeration with a point-mass start."""
    mdp = random_mdp(4, 2, branching=3, seed=7)
    _, log_beta_s = backward_messages(mdp, 5)
    for s in range(4):
        pinned = mdp.replace(initial=torch.eye(4, dtype=torch.float64)[s])
        assert enumerate_log_evidence(pinned, 5).item() == pytest.approx(log_beta_s[0, s].item(), abs=1e-10)


@pytest.mark.parametrize("call", [
    lambda m: enumerate_log_evidence(m, 0),
    lambda m: posterior_trajectories(m, 3, 0),
    lambda m: map_trajectory(m, 3, temperature=0.0),
])
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call(lottery_mdp())


def test_every_enumerated_site_is_named_by_time():
    """The model's sites are s_t, a_t, O_t for t = 0..T-1 (the names the estimators rely on)."""
    from pgm_control.models import optimality_model
    trace = pyro.poutine.trace(optimality_model).get_trace(lottery_mdp(), 3)
    names = [n for n, site in trace.nodes.items() if site["type"] == "sample" and n != "trajectories"]
    assert names == [f"{k}_{t}" for t, k in itertools.product(range(3), "saO")]
