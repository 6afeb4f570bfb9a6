"""sample_trajectories: shapes and dtypes, exact paths on deterministic MDPs, and sampling frequencies
against distributions propagated here with plain numpy matrix products (fixed seeds, 4σ bounds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgm_control import TabularMDP, Trajectories, sample_trajectories
from pgm_control.envs import GridWorld, random_mdp
from pgm_control.inference import policy_evaluation

F64 = torch.float64


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ring(num_states: int = 5, start: int = 2) -> TabularMDP:
    """Deterministic ring: action 0 stays, 1 moves to s+1, 2 to s-1 (mod S); r(s, a) = 10 s + a."""
    P = np.zeros((num_states, 3, num_states))
    for s in range(num_states):
        P[s, 0, s] = P[s, 1, (s + 1) % num_states] = P[s, 2, (s - 1) % num_states] = 1.0
    rewards = [[10.0 * s + a for a in range(3)] for s in range(num_states)]
    return TabularMDP(torch.from_numpy(P), rewards, initial=np.eye(num_states)[start])


def numpy_state_distributions(mdp: TabularMDP, policy: np.ndarray, horizon: int) -> np.ndarray:
    """d_t(s) for t = 0..T by d_{t+1} = d_t P_π with plain numpy; policy [S, A] or [T, S, A]."""
    P = mdp.transitions.numpy()
    policy = np.broadcast_to(policy, (horizon, *P.shape[:2]))
    d = [mdp.initial.numpy()]
    for t in range(horizon):
        d.append(d[-1] @ np.einsum("sa,sap->sp", policy[t], P))
    return np.stack(d)


def random_policy(num_states: int, num_actions: int, seed: int, horizon: int | None = None) -> np.ndarray:
    shape = (num_states, num_actions) if horizon is None else (horizon, num_states, num_actions)
    weights = np.random.default_rng(seed).random(shape) + 0.05
    return weights / weights.sum(-1, keepdims=True)


# ---------------------------------------------------------------- shapes and bookkeeping
def test_shapes_and_dtypes():
    mdp = random_mdp(5, 3, branching=2, seed=0)
    batch = sample_trajectories(mdp, torch.full((5, 3), 1 / 3, dtype=F64), horizon=6, num=7, generator=seeded(0))
    assert isinstance(batch, Trajectories)
    assert batch.states.shape == (7, 7) and batch.actions.shape == (7, 6) and batch.rewards.shape == (7, 6)
    assert batch.states.dtype == torch.long and batch.actions.dtype == torch.long and batch.rewards.dtype == F64
    assert ((batch.states >= 0) & (batch.states < 5)).all()
    assert ((batch.actions >= 0) & (batch.actions < 3)).all()


@pytest.mark.parametrize("branching", [None, 2])
def test_every_step_is_possible_and_pays_r_of_s_and_a(branching):
    mdp = random_mdp(6, 2, branching=branching, seed=1)
    mdp = mdp.replace(initial=[0.5, 0.5, 0, 0, 0, 0])
    batch = sample_trajectories(mdp, torch.full((6, 2), 0.5, dtype=F64), horizon=8, num=50, generator=seeded(1))
    P, r = mdp.transitions.numpy(), mdp.rewards.numpy()
    assert set(batch.states[:, 0].tolist()) <= {0, 1}
    for n in range(50):
        for t in range(8):
            s, a, s_next = batch.states[n, t].item(), batch.actions[n, t].item(), batch.states[n, t + 1].item()
            assert P[s, a, s_next] > 0
            assert batch.rewards[n, t].item() == r[s, a]


def test_seeded_generator_reproduces_and_other_seeds_differ():
    mdp = random_mdp(8, 3, branching=3, seed=2)
    policy = torch.from_numpy(random_policy(8, 3, seed=0))
    first, again, other = (sample_trajectories(mdp, policy, horizon=10, num=20, generator=seeded(s))
                           for s in (4, 4, 5))
    for x, y in zip(first, again):
        assert torch.equal(x, y)
    assert not torch.equal(first.states, other.states)


# ---------------------------------------------------------------- exact paths
@pytest.mark.parametrize(
    "policy",
    [torch.tensor([1, 1, 1, 1, 0]), torch.eye(3, dtype=F64)[[1, 1, 1, 1, 0]]],
    ids=["action indices", "one-hot probabilities"],
)
def test_deterministic_policy_on_deterministic_mdp_gives_the_exact_path(policy):
    batch = sample_trajectories(ring(), policy, horizon=5, num=3, generator=seeded(0))
    # From 2: east to 3, east to 4, then stay.
    for n in range(3):
        assert batch.states[n].tolist() == [2, 3, 4, 4, 4, 4]
        assert batch.actions[n].tolist() == [1, 1, 0, 0, 0]
        assert batch.rewards[n].tolist() == [21.0, 31.0, 40.0, 40.0, 40.0]


def test_result_objects_with_a_policy_attribute_are_accepted():
    class Result:
        policy = torch.eye(3, dtype=F64)[[2] * 5]  # always west

    batch = sample_trajectories(ring(), Result(), horizon=4, num=2, generator=seeded(0))
    assert batch.states[0].tolist() == [2, 1, 0, 4, 3]


def test_time_indexed_policy_is_followed_step_by_step():
    # t even: east; t odd: stay, so from 2: 3, 3, 4, 4, 0 (wrapping), 0.
    policy = torch.stack([torch.eye(3, dtype=F64)[[1 if t % 2 == 0 else 0] * 5] for t in range(6)])
    batch = sample_trajectories(ring(), policy, horizon=6, num=4, generator=seeded(0))
    for n in range(4):
        assert batch.actions[n].tolist() == [1, 0, 1, 0, 1, 0]
        assert batch.states[n].tolist() == [2, 3, 3, 4, 4, 0, 0]


def test_time_indexed_stochastic_policy_action_frequencies():
    # p(a_t = 1) = t/4 for t = 0..4, any state. 10,000 samples: SE ≤ √(1/4 / 10,000) = 0.005; 4σ → 0.02.
    T, N = 5, 10_000
    probs = torch.tensor([t / 4 for t in range(T)], dtype=F64)
    policy = torch.zeros(T, 5, 3, dtype=F64)
    policy[:, :, 1] = probs[:, None]
    policy[:, :, 0] = 1 - probs[:, None]
    batch = sample_trajectories(ring(), policy, horizon=T, num=N, generator=seeded(3))
    frequencies = (batch.actions == 1).double().mean(0).numpy()
    np.testing.assert_allclose(frequencies, probs.numpy(), atol=0.02)
    assert (batch.actions[:, 0] == 0).all() and (batch.actions[:, -1] == 1).all()  # p = 0 and p = 1


# ---------------------------------------------------------------- statistics against exact propagation
@pytest.mark.parametrize("branching", [None, 3])
def test_state_visitation_matches_propagated_distribution(branching):
    # N = 20,000 trajectories: each d_t(s) has SE = √(d(1-d)/N) ≤ 0.0036; bound 4σ per entry.
    S, A, T, N = 4, 2, 4, 20_000
    mdp = random_mdp(S, A, branching=branching, seed=6).replace(initial=[0.7, 0.2, 0.1, 0.0])
    policy = random_policy(S, A, seed=1)
    exact = numpy_state_distributions(mdp, policy, T)
    batch = sample_trajectories(mdp, torch.from_numpy(policy), horizon=T, num=N, generator=seeded(7))
    for t in range(T + 1):
        frequencies = np.bincount(batch.states[:, t].numpy(), minlength=S) / N
        tolerance = 4 * np.sqrt(exact[t] * (1 - exact[t]) / N) + 1e-12
        assert (np.abs(frequencies - exact[t]) <= tolerance).all(), (t, frequencies, exact[t])


def test_state_visitation_under_a_time_indexed_policy():
    S, A, T, N = 4, 3, 3, 20_000
    mdp = random_mdp(S, A, branching=2, seed=8)
    policy = random_policy(S, A, seed=2, horizon=T)
    exact = numpy_state_distributions(mdp, policy, T)
    batch = sample_trajectories(mdp, torch.from_numpy(policy), horizon=T, num=N, generator=seeded(9))
    for t in range(T + 1):
        frequencies = np.bincount(batch.states[:, t].numpy(), minlength=S) / N
        assert (np.abs(frequencies - exact[t]) <= 4 * np.sqrt(exact[t] * (1 - exact[t]) / N) + 1e-12).all()


def test_mean_return_matches_policy_evaluation():
    S, A, T, N = 5, 3, 5, 20_000
    mdp = random_mdp(S, A, branching=2, seed=10)
    policy = random_policy(S, A, seed=3)
    r = mdp.rewards.numpy()
    d = numpy_state_distributions(mdp, policy, T)
    exact = sum(d[t] @ (policy * r).sum(-1) for t in range(T))  # Σ_t E[r(s_t, a_t)]
    evaluated = policy_evaluation(mdp, torch.from_numpy(policy), horizon=T).v[0] @ mdp.initial
    assert evaluated.item() == pytest.approx(exact, abs=1e-10)
    batch = sample_trajectories(mdp, torch.from_numpy(policy), horizon=T, num=N, generator=seeded(11))
    # A return lies in [T min r, T max r], so its SD is at most T (max r - min r)/2 and the mean of N
    # returns has SE ≤ that / √N; bound 4 SE (about 0.13 here).
    se = T * (r.max() - r.min()) / 2 / np.sqrt(N)
    assert abs(batch.rewards.sum(-1).mean().item() - exact) <= 4 * se


def test_terminal_states_absorb_and_pay_nothing():
    world = GridWorld(["S..", "..G"], step_reward=-1.0, goal_reward=5.0)
    batch = sample_trajectories(world, torch.full((6, 4), 0.25, dtype=F64), horizon=30, num=200,
                                generator=seeded(12))
    goal = 5
    reached = 0
    for n in range(200):
        hits = (batch.states[n] == goal).nonzero().flatten()
        if len(hits):
            reached += 1
            first = hits[0].item()
            assert (batch.states[n, first:] == goal).all()
            assert (batch.rewards[n, first:] == 0).all()
            assert batch.rewards[n, first - 1].item() == 5.0  # the step into the goal pays 5
    assert reached > 100  # the check above ran on many trajectories


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("num, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_num_raises(num, error):
    with pytest.raises(error, match="num must be a positive integer"):
        sample_trajectories(ring(), torch.tensor([0] * 5), horizon=3, num=num)


@pytest.mark.parametrize("horizon, error, match", [
    (None, ValueError, "horizon is required"), (0, ValueError, "horizon must be a positive integer"),
    (-1, ValueError, "horizon must be a positive integer"), (2.5, TypeError, "horizon must be a positive integer"),
])
def test_bad_horizon_raises(horizon, error, match):
    with pytest.raises(error, match=match):
        sample_trajectories(ring(), torch.tensor([0] * 5), horizon=horizon, num=2)


@pytest.mark.parametrize("policy, match", [
    (torch.full((5, 2), 0.5, dtype=F64), "policy must have shape"),
    (torch.full((5, 3), 0.5, dtype=F64), "policy must sum to 1"),
    (torch.full((4, 5, 3), 1 / 3, dtype=F64), "needs horizon=4, got horizon=3"),
    (torch.tensor([0, 1, 2, 3, 0]), r"policy actions must lie in \[0, 3\)"),
])
def test_bad_policy_raises(policy, match):
    with pytest.raises(ValueError, match=match):
        sample_trajectories(ring(), policy, horizon=3, num=2)


def test_not_an_mdp_raises():
    with pytest.raises(TypeError, match="mdp"):
        sample_trajectories("ring", torch.tensor([0] * 5), horizon=3, num=2)
