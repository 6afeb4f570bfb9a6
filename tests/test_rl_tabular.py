"""Tabular Q-learning and soft Q-learning (pgm_control.rl.tabular) against exact answers.

Tiers: hand-computed single updates through the public drivers (a scripted environment, so every
number is known); the exploration probabilities in closed form and the loop's sampler against them
(statistical); convergence to the exact solvers' Q (``value_iteration`` and discounted
``soft_value_iteration(..., backup="expected")``) on a small slippery grid, with a fixed seed.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch

from pgm_control.envs import GridWorld, TabularEnv, berkeley_gridworld
from pgm_control.inference import soft_maximum, soft_value_iteration, value_iteration
from pgm_control.rl.tabular import (
    DEFAULT_HORIZON,
    TabularQResult,
    _sample_action,
    _soft_maximum_row,
    exploration_policy,
    q_learning,
    q_learning_target,
    soft_q_learning,
    soft_q_learning_target,
)

GAMMA = 0.9


class ScriptedEnv(gymnasium.Env):
    """Discrete(2) states and actions; ``step`` ignores the action and replays ``script``, a list of
    (next_state, reward, terminated, truncated). ``reset`` always starts in state 0."""

    def __init__(self, script):
        self.observation_space = gymnasium.spaces.Discrete(2)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.script = list(script)
        self.actions = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        self.actions.append(int(action))
        next_state, reward, terminated, truncated = self.script[len(self.actions) - 1]
        return next_state, reward, terminated, truncated, {}


def slippery_grid() -> GridWorld:
    """2 x 3 cells, goal in the corner (pays 1 on entry, terminal), no other reward, slip 0.2: five
    live states x four actions. Episodes restart uniformly over the five live cells (no 'S' in the
    map), so every pair is tried often; rewards in [0, 1] keep Q* in [0, 1]."""
    return GridWorld(["...", "..G"], slip=0.2, step_reward=0.0, goal_reward=1.0)


# ------------------------------------------------------------------------------ hand-checked updates
def test_targets_by_hand():
    q_next = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    # hard: 0.5 + 0.9 * max(1, 2) = 2.3
    assert q_learning_target(0.5, q_next, 0.0, GAMMA).item() == pytest.approx(2.3, abs=1e-12)
    # soft, α = 1, p(a) = 1/2: V = log((e^1 + e^2) / 2) = log(5.0536689637) = 1.6201145070
    assert soft_q_learning_target(0.5, q_next, 0.0, GAMMA, 1.0).item() == pytest.approx(
        0.5 + 0.9 * 1.6201145070, abs=1e-9)
    # soft, α = 2: V = 2 log((e^0.5 + e^1) / 2) = 2 log(2.183501612...) = 1.561764...
    assert soft_q_learning_target(0.0, q_next, 0.0, GAMMA, 2.0).item() == pytest.approx(
        0.9 * 2 * math.log((math.exp(0.5) + math.exp(1.0)) / 2), abs=1e-12)
    # terminated: no bootstrap
    assert q_learning_target(0.5, q_next, 1.0, GAMMA).item() == 0.5
    assert soft_q_learning_target(0.5, q_next, 1.0, GAMMA, 1.0).item() == 0.5


@pytest.mark.parametrize("temperature", [0.01, 0.5, 1.0, 3.0])
def test_loop_soft_maximum_is_soft_maximum(temperature):
    # The loop's Python-float soft maximum against the library's, on random rows and on rows of
    # magnitude 1e4 (where exp overflows without the max shift).
    rows = torch.randn(50, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rows = torch.cat([rows, 1e4 * rows[:5]])
    exact = soft_maximum(rows, -math.log(5), temperature)
    loop = torch.tensor([_soft_maximum_row(row.tolist(), temperature, -math.log(5)) for row in rows],
                        dtype=torch.float64)
    torch.testing.assert_close(loop, exact, rtol=1e-12, atol=1e-12)


CHAIN = [(1, 1.0, False, False), (0, 2.0, True, False), (1, 1.0, False, False)]


def test_q_learning_updates_by_hand():
    # Greedy (ε = 0, ties -> action 0), constant lr 0.5, γ = 0.9:
    # 1. Q(0,0) += 0.5 (1 + 0.9 max Q(1,·) - 0)   = 0.5         (Q(1,·) = 0)
    # 2. Q(1,0) += 0.5 (2 - 0)                      = 1.0         (terminated: no bootstrap)
    # 3. Q(0,0) += 0.5 (1 + 0.9 · 1.0 - 0.5)        = 1.2
    env = ScriptedEnv(CHAIN)
    result = q_learning(env, 3, discount=GAMMA, lr=0.5, epsilon=0.0)
    assert env.actions == [0, 0, 0]
    torch.testing.assert_close(result.q, torch.tensor([[1.2, 0.0], [1.0, 0.0]], dtype=torch.float64),
                               rtol=0, atol=1e-12)
    assert result.episode_returns.tolist() == [3.0]  # 1 + 2; the unfinished third episode is left out
    assert result.visits.tolist() == [[2, 0], [1, 0]] and result.num_steps == 3


def test_the_numpy_calls_a_user_makes_on_the_result():
    # Two episodes of returns 3 (1 + 2) then 4 (1 + 3), then an unfinished one.
    script = [(1, 1.0, False, False), (0, 2.0, True, False), (1, 1.0, False, False), (0, 3.0, True, False),
              (1, 5.0, False, False)]
    result = q_learning(ScriptedEnv(script), 5, discount=GAMMA, lr=0.5, epsilon=0.0)
    assert isinstance(result.episode_returns, np.ndarray) and result.episode_returns.dtype == np.float64
    assert np.mean(result.episode_returns[-100:]) == 3.5  # NumPy's reductions reject torch tensors
    assert (np.max(result.episode_returns), np.std(result.episode_returns)) == (4.0, 0.5)
    # The tables stay torch tensors, without gradients; .numpy() gives NumPy arrays.
    assert not result.q.requires_grad and np.argmax(result.q.numpy()[0]) == 0
    assert np.sum(result.visits.numpy()) == 5 and np.asarray(result.policy).shape == (2, 2)


def test_soft_q_learning_updates_by_hand():
    # As above with the soft maximum at α = 1, p(a) = 1/2:
    # 1. target 1 + 0.9 log((e^0 + e^0)/2) = 1            -> Q(0,0) = 0.5
    # 2. terminated, target 2                               -> Q(1,0) = 1.0
    # 3. target 1 + 0.9 log((e^1 + e^0)/2) = 1.5581030563 -> Q(0,0) = 0.5 + 0.5 (1.5581030563 - 0.5)
    env = ScriptedEnv(CHAIN)
    result = soft_q_learning(env, 3, temperature=1.0, discount=GAMMA, lr=0.5, exploration="epsilon",
                             epsilon=0.0)
    target = 1.0 + 0.9 * math.log((math.e + 1.0) / 2.0)
    torch.testing.assert_close(result.q, torch.tensor([[0.5 + 0.5 * (target - 0.5), 0.0], [1.0, 0.0]],
                                                      dtype=torch.float64), rtol=0, atol=1e-12)
    assert target == pytest.approx(1.5581030563, abs=1e-9)


def test_soft_q_learning_warm_start_by_hand():
    # initial_q = [[1, 0], [2, 0]], greedy behaviour (a = 0), α = 1, η = 0.5, one step 0 -> 1 paying 1:
    # target 1 + 0.9 log((e^2 + e^0)/2) = 2.2904027, Q(0,0) = 1 + 0.5 (target - 1); the rest stays.
    initial = torch.tensor([[1.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    result = soft_q_learning(ScriptedEnv(CHAIN[:1]), 1, temperature=1.0, discount=GAMMA, lr=0.5,
                             exploration="epsilon", epsilon=0.0, initial_q=initial)
    target = 1.0 + 0.9 * math.log((math.e**2 + 1.0) / 2.0)
    assert target == pytest.approx(2.2904027, abs=1e-6)
    torch.testing.assert_close(result.q, torch.tensor([[1.0 + 0.5 * (target - 1.0), 0.0], [2.0, 0.0]],
                                                      dtype=torch.float64), rtol=0, atol=1e-12)
    assert initial[0, 0].item() == 1.0  # the caller's table is not written


@pytest.mark.parametrize(("initial_q", "error", "message"), [
    (torch.zeros(2, 3, dtype=torch.float64), ValueError, r"initial_q must have shape \[S, A\] = \[2, 2\]"),
    (torch.zeros(2, 2, dtype=torch.long), TypeError, "initial_q must be a float tensor"),
    (torch.tensor([[0.0, math.nan], [0.0, 0.0]]), ValueError, "initial_q must hold no NaN"),
])
def test_soft_q_learning_initial_q_validation(initial_q, error, message):
    with pytest.raises(error, match=message):
        soft_q_learning(ScriptedEnv(CHAIN), 1, initial_q=initial_q)


def test_first_visit_with_visit_count_lr_copies_the_target():
    # lr=None: η_1 = 1/1^ω = 1, so the first update of a pair sets Q(s, a) to its target.
    result = q_learning(ScriptedEnv(CHAIN[:1]), 1, discount=GAMMA, epsilon=0.0)
    assert result.q[0, 0].item() == 1.0


@pytest.mark.parametrize("learner", [q_learning, soft_q_learning])
def test_truncation_bootstraps_termination_does_not(learner):
    # Step 1 sets Q(0,0) = 5 (lr 1, Q(1,·) = 0 gives a bootstrap of 0 for both learners). Step 2
    # goes 1 -> 0 with reward 1: a time limit bootstraps from state 0, whose max is 5 and whose soft
    # maximum at α = 1 is log((e^5 + 1)/2); the end of the MDP does not.
    soft_v0 = math.log((math.exp(5.0) + 1.0) / 2.0)
    v0 = 5.0 if learner is q_learning else soft_v0
    for terminated, truncated, expected in ((False, True, 1.0 + GAMMA * v0), (True, False, 1.0)):
        env = ScriptedEnv([(1, 5.0, False, False), (0, 1.0, terminated, truncated)])
        result = learner(env, 2, discount=GAMMA, lr=1.0, exploration="epsilon", epsilon=0.0)
        assert result.q[0, 0].item() == 5.0
        assert result.q[1, 0].item() == pytest.approx(expected, abs=1e-12)
        assert result.episode_returns.tolist() == [6.0]


# ------------------------------------------------------------------------------ exploration
def test_exploration_policy_probabilities():
    q = torch.tensor([[1.0, 3.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    # ε-greedy, ε = 0.3, A = 3: ε/A = 0.1 each, plus 1 - ε on the argmax (the first on ties).
    torch.testing.assert_close(exploration_policy(q, "epsilon", epsilon=0.3),
                               torch.tensor([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1]], dtype=torch.float64))
    # Boltzmann, α = 2: exp(q/2) normalized.
    weights = [math.exp(0.5), math.exp(1.5), math.exp(1.0)]
    expected = torch.tensor([[w / sum(weights) for w in weights], [1 / 3] * 3], dtype=torch.float64)
    torch.testing.assert_close(exploration_policy(q, "boltzmann", temperature=2.0), expected)
    with pytest.raises(ValueError, match="exploration must be one of"):
        exploration_policy(q, "ucb")


@pytest.mark.parametrize("exploration", ["epsilon", "boltzmann"])
def test_loop_sampler_follows_exploration_policy(exploration):
    # 40,000 draws: each frequency has SE <= sqrt(0.25 / 40000) = 0.0025; 4σ -> atol 0.01.
    row = np.array([1.0, 3.0, 2.0, 2.5])
    rng = np.random.default_rng(0)
    draws = [_sample_action(row, rng, exploration, 0.3, 2.0, 4) for _ in range(40_000)]
    frequencies = torch.bincount(torch.tensor(draws), minlength=4).to(torch.float64) / len(draws)
    expected = exploration_policy(torch.from_numpy(row), exploration, epsilon=0.3, temperature=2.0)
    torch.testing.assert_close(frequencies, expected, rtol=0, atol=0.01)


# ------------------------------------------------------------------------------ convergence
# Tolerance 0.05 on max |Q - Q*| over all 24 pairs (the issue's). Step count: with η = 1/n^0.8 the
# error shrinks like a power of the visits per pair (about 60,000 / 20 = 3,000 here; the rarest live
# pair gets over 500). Measured on seeds 0-4 with these settings, 60,000 steps give max errors
# 0.012-0.017 (Q-learning) and 0.010-0.027 (soft Q-learning), 30,000 steps 0.015-0.026 and
# 0.019-0.024: the fixed seed passes with a margin of 2x or more and is not a lucky draw.
def test_q_learning_converges_to_value_iteration():
    world = slippery_grid()
    result = q_learning(world, 60_000, discount=GAMMA, epsilon=0.5, seed=0, horizon=20)
    exact = value_iteration(world.replace(discount=GAMMA)).q
    assert (result.q - exact).abs().max().item() <= 0.05
    assert int(result.visits[~world.terminal].min()) > 500  # every live pair was tried often
    torch.testing.assert_close(result.policy, torch.nn.functional.one_hot(exact.argmax(-1), 4).double())


def test_soft_q_learning_converges_to_soft_value_iteration():
    world = slippery_grid()
    result = soft_q_learning(world, 60_000, temperature=0.5, discount=GAMMA, seed=0, horizon=20)
    exact = soft_value_iteration(world.replace(discount=GAMMA), temperature=0.5, backup="expected")
    assert (result.q - exact.q).abs().max().item() <= 0.05
    # V and π follow from Q: the soft maximum is 1-Lipschitz in max |ΔQ|, and π = softmax(Q/α) moves
    # by at most 2π(1 - π) max|ΔQ|/α <= 0.5 · 0.05/0.5 = 0.05: both bounds are implied by the first.
    torch.testing.assert_close(result.v, exact.v, rtol=0, atol=0.05)
    torch.testing.assert_close(result.policy, exact.policy, rtol=0, atol=0.05)


# ------------------------------------------------------------------------------ API
def test_result_policy_and_value():
    q = torch.tensor([[1.0, 3.0, 3.0], [0.0, -1.0, 2.0]], dtype=torch.float64)
    empty = torch.zeros(0, dtype=torch.float64)
    visits = torch.zeros(2, 3, dtype=torch.long)
    hard = TabularQResult(q=q, temperature=0.0, episode_returns=empty, visits=visits, num_steps=0)
    assert hard.policy.tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]  # one-hot, lowest index on ties
    assert hard.v.tolist() == [3.0, 2.0]
    soft = TabularQResult(q=q, temperature=2.0, episode_returns=empty, visits=visits, num_steps=0)
    # V = α log Σ_a (1/A) exp(Q/α); π = exp((Q - V)/α)/A = softmax(Q/α).
    v0 = 2.0 * math.log((math.exp(0.5) + 2 * math.exp(1.5)) / 3)
    assert soft.v[0].item() == pytest.approx(v0, abs=1e-12)
    torch.testing.assert_close(soft.policy, torch.softmax(q / 2.0, -1))


def test_reproducible_with_a_seed():
    world = slippery_grid()
    first = soft_q_learning(world, 3000, seed=3, horizon=20)
    again = soft_q_learning(world, 3000, seed=3, horizon=20)
    other = soft_q_learning(world, 3000, seed=4, horizon=20)
    assert torch.equal(first.q, again.q) and np.array_equal(first.episode_returns, again.episode_returns)
    assert not torch.equal(first.q, other.q)


def test_gymnasium_environment_and_default_horizon():
    env = gymnasium.make("FrozenLake-v1", is_slippery=True)
    result = q_learning(env, 2000, seed=0, exploration="boltzmann", temperature=0.5, progress=False)
    assert result.q.shape == (16, 4) and result.q.dtype == torch.float64
    assert result.visits.sum().item() == 2000 and torch.isfinite(result.q).all()
    # A TabularMDP is simulated by TabularEnv with episodes of DEFAULT_HORIZON steps: with no
    # terminal state every episode is truncated there.
    loop = GridWorld(["..."], step_reward=1.0)
    returns = q_learning(loop, 3 * DEFAULT_HORIZON, epsilon=1.0).episode_returns
    assert returns.tolist() == [float(DEFAULT_HORIZON)] * 3


BOX = gymnasium.spaces.Box(low=-1.0, high=1.0, shape=(2,))


class BoxEnv(ScriptedEnv):
    def __init__(self):
        super().__init__([])
        self.observation_space = BOX


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (dict(env=BoxEnv()), TypeError, "needs Discrete observation and action spaces.*pgm_control.rl.SoftQ "),
        (dict(env="FrozenLake-v1"), TypeError, "env must be a gymnasium.Env or a pgm_control.TabularMDP"),
        (dict(num_steps=0), ValueError, "num_steps must be a positive integer"),
        (dict(num_steps=2.5), TypeError, "num_steps must be a positive integer"),
        (dict(discount=1.5), ValueError, r"discount must lie in \[0, 1\]"),
        (dict(epsilon=-0.1), ValueError, r"epsilon must lie in \[0, 1\]"),
        (dict(temperature=0.0), ValueError, "temperature must be a finite number > 0"),
        (dict(exploration="ucb"), ValueError, "exploration must be one of"),
        (dict(lr=0.0), ValueError, r"lr must lie in \(0, 1\]"),
        (dict(lr="fast"), TypeError, "lr must be None"),
        (dict(env=ScriptedEnv([]), horizon=10), ValueError, "TimeLimit"),
        (dict(horizon=0), ValueError, "horizon must be a positive integer"),
    ],
)
@pytest.mark.parametrize("learner", [q_learning, soft_q_learning])
def test_validation(learner, arguments, error, message):
    call = dict(env=slippery_grid(), num_steps=10) | arguments
    with pytest.raises(error, match=message):
        learner(call.pop("env"), call.pop("num_steps"), **call)


def test_tabular_env_is_what_an_mdp_becomes():
    # The MDP path and an explicit TabularEnv with the same horizon give identical runs.
    world = slippery_grid()
    direct = q_learning(world, 2000, seed=1, horizon=20)
    wrapped = q_learning(TabularEnv(world, horizon=20), 2000, seed=1)
    assert torch.equal(direct.q, wrapped.q)


def test_negative_and_huge_seeds_are_rejected_by_name():
    from pgm_control.rl import reinforce

    world = GridWorld([".G"], step_reward=-1.0, goal_reward=0.0)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\], got -1"):
        q_learning(world, 10, seed=-1)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\]"):
        reinforce(world, 2, 2, seed=2**64)


# ---------------------------------------------------------------- state-dependent action sets
@pytest.mark.parametrize("temperature", [0.0, 0.5])
def test_learners_honour_the_action_mask_of_the_berkeley_grid(temperature):
    """On CS188's book grid (exit only in the goal and trap cells) the learners read A(s) from
    info["action_mask"], never take an unavailable action (TabularEnv would raise) and converge to the
    exact values over A(s). Measured max |V - V*| is 0.010 (hard) and 0.014 (soft) at seed 0 in 60k steps;
    the bound 0.05 is the one of the unmasked convergence tests above."""
    mdp = berkeley_gridworld("book", discount=0.9)
    if temperature == 0.0:
        result = q_learning(mdp, 60_000, discount=0.9, epsilon=0.5, horizon=30, seed=0)
        exact = value_iteration(mdp)
    else:
        result = soft_q_learning(mdp, 60_000, discount=0.9, temperature=temperature, horizon=30, seed=0)
        exact = soft_value_iteration(mdp, temperature=temperature)
    assert torch.equal(result.available_actions, mdp.available_actions)
    assert bool(torch.isinf(result.q[~mdp.available_actions]).all())
    assert (result.v - exact.v).abs().max() < 0.05
    assert float(result.policy[~mdp.available_actions].abs().max()) == 0.0
