"""State-dependent action sets (``available_actions``): every solver maximizes, averages and samples over
A(s) only. Independent truth: NumPy value iteration with masked maxima, brute-force enumeration of all
trajectories with a zero action prior outside A(s), and the Berkeley grid world's textbook values.

The masked actions of the tiny MDP pay the largest rewards, so a solver that ignores the mask fails.
"""

import numpy as np
import pyro
import pytest
import torch

from pgm_control import Demonstrations, TabularMDP
from pgm_control.envs import TabularEnv, berkeley_gridworld
from pgm_control.inference import (
    backward_messages,
    enumerate_log_evidence,
    feature_matching_irl,
    forward_messages,
    greedy_policy,
    log_evidence,
    policy_evaluation,
    policy_iteration,
    posterior_dynamics,
    soft_value_iteration,
    state_marginals,
    value_iteration,
)
from pgm_control.models import AmortizedPolicyGuide, TabularPolicyGuide
from pgm_control.sampling import sample_trajectories

import brute_force

S, A = 3, 3
AVAILABLE = np.array([[True, True, False],    # state 0: actions 0, 1
                      [False, True, False],   # state 1: action 1 only
                      [True, True, True]])    # state 2: all


def tiny_arrays(seed=0):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    r = rng.normal(size=(S, A))
    r[~AVAILABLE] = 5.0  # the best actions, if the mask were ignored
    return P, r


def tiny_mdp(discount=1.0, seed=0, dense=True, **kwargs):
    P, r = tiny_arrays(seed)
    mdp = TabularMDP(torch.from_numpy(P), torch.from_numpy(r), discount=discount,
                     available_actions=torch.from_numpy(AVAILABLE), **kwargs)
    return mdp if dense else mdp.to_successors()


MASKED_UNIFORM = AVAILABLE / AVAILABLE.sum(-1, keepdims=True)  # the action prior with zeros


def unmasked(mdp):
    """The same MDP without a mask (to be solved with the action prior with zeros)."""
    return mdp.replace(available_actions=None)


def numpy_value_iteration(P, r, gamma, available, horizon=None, sweeps=2000):
    """V(s) = max_{a ∈ A(s)} r(s, a) + γ Σ_s' P(s'|s,a) V(s'), by plain NumPy (horizon: V_T .. V_0)."""
    v = np.zeros(P.shape[0])
    values = []
    for _ in range(horizon or sweeps):
        q = r + gamma * P @ v
        v = np.where(available, q, -np.inf).max(-1)
        values.append(v)
    return np.array(values[::-1]) if horizon else v


# ---------------------------------------------------------------------------------- construction
def test_mask_is_validated_and_carried():
    mdp = tiny_mdp()
    assert not mdp.all_actions_available
    assert mdp.available_actions.tolist() == AVAILABLE.tolist()
    for copy in (mdp.to_successors(), mdp.to_successors().to_dense(), mdp.replace(discount=0.5)):
        assert copy.available_actions.tolist() == AVAILABLE.tolist()
    free = unmasked(mdp)
    assert free.all_actions_available and free.available_actions.shape == (S, A) and free.available_actions.all()
    assert tiny_mdp().replace(available_actions=np.ones((S, A), dtype=bool)).all_actions_available
    P, r = tiny_arrays()
    with pytest.raises(ValueError, match=r"states \[1\] have none"):
        TabularMDP(torch.from_numpy(P), torch.from_numpy(r), available_actions=[[1 > 0] * 3, [False] * 3, [True] * 3])
    with pytest.raises(TypeError, match="available_actions must be a bool mask"):
        TabularMDP(torch.from_numpy(P), torch.from_numpy(r), available_actions=torch.ones(S, A))
    with pytest.raises(ValueError, match="available_actions"):
        TabularMDP(torch.from_numpy(P), torch.from_numpy(r), available_actions=torch.ones(S, A + 1, dtype=torch.bool))


# ---------------------------------------------------------------------------------- hard solvers
@pytest.mark.parametrize("dense", [True, False])
def test_value_iteration_maximizes_over_available_actions(dense):
    P, r = tiny_arrays()
    mdp = tiny_mdp(discount=0.9, dense=dense)
    result = value_iteration(mdp, tol=1e-12)
    np.testing.assert_allclose(result.v.numpy(), numpy_value_iteration(P, r, 0.9, AVAILABLE), atol=1e-10)
    assert (result.policy[torch.from_numpy(~AVAILABLE)] == 0).all()
    finite = value_iteration(mdp.replace(discount=1.0), horizon=4)
    np.testing.assert_allclose(finite.v.numpy(), numpy_value_iteration(P, r, 1.0, AVAILABLE, horizon=4), atol=1e-12)
    assert (finite.policy[:, torch.from_numpy(~AVAILABLE)] == 0).all()
    # soft value iteration at temperature 0 is the same hard limit
    hard = soft_value_iteration(mdp, temperature=0.0, tol=1e-12)
    torch.testing.assert_close(hard.v, result.v, atol=1e-10, rtol=0)
    torch.testing.assert_close(hard.policy, result.policy, atol=0, rtol=0)


def test_policy_iteration_and_evaluation_respect_the_mask():
    P, r = tiny_arrays()
    mdp = tiny_mdp(discount=0.9)
    result = policy_iteration(mdp)
    np.testing.assert_allclose(result.v.numpy(), numpy_value_iteration(P, r, 0.9, AVAILABLE), atol=1e-10)
    assert (result.policy[torch.from_numpy(~AVAILABLE)] == 0).all()
    masked_uniform = torch.from_numpy(MASKED_UNIFORM)
    v_uniform = np.linalg.solve(np.eye(S) - 0.9 * np.einsum("sa,sap->sp", MASKED_UNIFORM, P),
                                (MASKED_UNIFORM * r).sum(-1))
    np.testing.assert_allclose(policy_evaluation(mdp, masked_uniform).v.numpy(), v_uniform, atol=1e-12)
    with pytest.raises(ValueError, match=r"not available .* in states \[0, 1\]"):
        policy_evaluation(mdp, torch.full((S, A), 1.0 / A, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"states \[1\]"):
        policy_evaluation(mdp, torch.tensor([0, 0, 2]))
    with pytest.raises(ValueError, match=r"states \[0\]"):
        policy_iteration(mdp, initial_policy=torch.tensor([2, 1, 2]))


def test_greedy_policy_with_a_mask():
    q = torch.tensor([[1.0, 2.0, 3.0], [3.0, 1.0, 1.0]], dtype=torch.float64)
    available = torch.tensor([[True, True, False], [False, True, True]])
    expected = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]], dtype=torch.float64)
    assert torch.equal(greedy_policy(q, available=available), expected)


# ---------------------------------------------------------------------------------- soft solvers
@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
@pytest.mark.parametrize("horizon", [None, 5])
def test_soft_values_equal_the_action_prior_with_zeros(backup, temperature, horizon):
    mdp = tiny_mdp(discount=0.9)
    if backup == "optimistic" and horizon is None:  # rewards <= 0: the optimistic fixed point exists
        mdp = mdp.replace(rewards=mdp.rewards - 6.0)
    masked = soft_value_iteration(mdp, horizon, temperature, backup, tol=1e-12)
    zeros = soft_value_iteration(unmasked(mdp), horizon, temperature, backup, tol=1e-12,
                                 action_prior=torch.from_numpy(MASKED_UNIFORM))
    torch.testing.assert_close(masked.v, zeros.v, atol=1e-10, rtol=0)
    torch.testing.assert_close(masked.policy, zeros.policy, atol=1e-10, rtol=0)
    assert (masked.policy[..., torch.from_numpy(~AVAILABLE)] == 0).all()
    torch.testing.assert_close(masked.policy.sum(-1), torch.ones_like(masked.v), atol=1e-12, rtol=0)


def test_soft_value_matches_a_numpy_soft_maximum_over_available_actions():
    """V_t(s) = log Σ_{a ∈ A(s)} exp(Q_t(s, a)) / |A(s)|, Q_t = r + E[V_{t+1}] (expected backup, α = 1)."""
    P, r = tiny_arrays()
    v = np.zeros(S)
    for _ in range(4):
        q = r + P @ v
        v = np.log((np.exp(q) * AVAILABLE).sum(-1) / AVAILABLE.sum(-1))
    got = soft_value_iteration(tiny_mdp(), horizon=4).v[0]
    np.testing.assert_allclose(got.numpy(), v, atol=1e-12)


def test_a_user_prior_is_restricted_to_the_available_actions():
    mdp = tiny_mdp()
    prior = np.array([0.5, 0.3, 0.2])
    conditioned = prior * AVAILABLE / (prior * AVAILABLE).sum(-1, keepdims=True)
    got = soft_value_iteration(mdp, horizon=3, action_prior=torch.from_numpy(prior))
    want = soft_value_iteration(unmasked(mdp), horizon=3, action_prior=torch.from_numpy(conditioned))
    torch.testing.assert_close(got.v, want.v, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match=r"action_prior puts no probability on the available actions .* \[1\]"):
        soft_value_iteration(mdp, horizon=3, action_prior=torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))


# ---------------------------------------------------------------------------------- messages and sampling
@pytest.mark.parametrize("dense", [True, False])
def test_messages_equal_brute_force_with_a_zero_prior(dense):
    P, r = tiny_arrays()
    mdp = tiny_mdp(dense=dense)
    p0, T = mdp.initial.numpy(), 3
    want = brute_force.log_evidence(P, r, p0, MASKED_UNIFORM, T)
    assert log_evidence(mdp, T).item() == pytest.approx(want, abs=1e-10)
    np.testing.assert_allclose(state_marginals(mdp, T).numpy(),
                               brute_force.state_marginals(P, r, p0, MASKED_UNIFORM, T), atol=1e-10)
    forward = forward_messages(mdp, T)
    assert forward.log_normalizers.sum().item() == pytest.approx(log_evidence(mdp, T).item(), abs=1e-10)
    prior = torch.from_numpy(MASKED_UNIFORM)
    for got, want in [(backward_messages(mdp, T), backward_messages(unmasked(mdp), T, action_prior=prior)),
                      (forward, forward_messages(unmasked(mdp), T, action_prior=prior))]:
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=1e-12, rtol=0)
    torch.testing.assert_close(posterior_dynamics(mdp, T), posterior_dynamics(unmasked(mdp), T, action_prior=prior),
                               atol=1e-12, rtol=0)


def test_sampling_never_takes_an_unavailable_action():
    mdp = tiny_mdp()
    policy = soft_value_iteration(mdp, horizon=6).policy
    batch = sample_trajectories(mdp, policy, 6, 2000, generator=torch.Generator().manual_seed(0))
    assert not mdp.available_actions[batch.states[:, :-1], batch.actions].logical_not().any()
    uniform = torch.full((S, A), 1.0 / A, dtype=torch.float64)
    with pytest.raises(ValueError, match="not available"):
        sample_trajectories(mdp, uniform, 6, 10)


# ---------------------------------------------------------------------------------- Pyro
@pytest.mark.parametrize("dense", [True, False])
def test_pyro_enumeration_equals_the_messages_with_the_mask(dense):
    mdp = tiny_mdp(dense=dense)
    for horizon in (1, 4):
        got = enumerate_log_evidence(mdp, horizon, temperature=0.7)
        assert got.item() == pytest.approx(log_evidence(mdp, horizon, temperature=0.7).item(), abs=1e-8)


def test_guides_give_unavailable_actions_zero_probability():
    pyro.clear_param_store()
    mdp = tiny_mdp()
    unavailable = torch.from_numpy(~AVAILABLE)
    for guide in (TabularPolicyGuide(mdp, 3), TabularPolicyGuide(mdp, 3, stationary=True),
                  AmortizedPolicyGuide(mdp, 3, hidden=8)):
        log_policy = guide.log_policy()
        assert (log_policy[:, unavailable] == -torch.inf).all()
        # uniform over A(s) at initialization
        torch.testing.assert_close(log_policy.exp(), torch.from_numpy(MASKED_UNIFORM).expand(3, S, A))
        trace = pyro.poutine.trace(guide).get_trace(mdp, 3, num_trajectories=500)
        for t in range(3):
            s, a = trace.nodes[f"s_{t}"]["value"], trace.nodes[f"a_{t}"]["value"]
            assert not unavailable[s, a].any()


# ---------------------------------------------------------------------------------- Gymnasium
def test_gym_wrapper_exposes_the_mask_and_rejects_unavailable_actions():
    world = berkeley_gridworld("book", noise=0.0)
    env = TabularEnv(world)
    state, info = env.reset(seed=0)
    assert state == world.grid_layout.state_at(2, 0)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].tolist() == [1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match=r"action 4 is not available in state 7"):
        env.step(4)  # "exit" in an ordinary cell
    north, east = 0, 2
    for action in (north, north, east, east, east):
        state, reward, terminated, _, info = env.step(action)
    assert (state, reward, terminated) == (world.grid_layout.state_at(0, 3), 0.0, False)
    assert info["action_mask"].tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match=r"available actions: \[4\]"):
        env.step(north)
    state, reward, terminated, _, _ = env.step(4)
    assert (state, reward, terminated) == (world.terminal_state, 1.0, True)


# ---------------------------------------------------------------------------------- inverse RL
def test_feature_matching_irl_keeps_to_the_available_actions():
    """Its initial uniform policy, the optimal policies and the mixture all live on A(s)."""
    mdp = tiny_mdp(features=torch.eye(S * A, dtype=torch.float64).reshape(S, A, S * A))
    expert = value_iteration(mdp, horizon=4).policy
    demos = Demonstrations.from_trajectories(
        sample_trajectories(mdp, expert, 4, 50, generator=torch.Generator().manual_seed(0)))
    result = feature_matching_irl(mdp, demos, 4, max_iter=3, progress=False)
    unavailable = torch.from_numpy(~AVAILABLE)
    assert torch.equal(result.policies[0, 0], torch.from_numpy(MASKED_UNIFORM))
    assert (result.policies[..., unavailable] == 0).all() and (result.mixture_policy[:, unavailable] == 0).all()
