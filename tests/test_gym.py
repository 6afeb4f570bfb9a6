"""Gymnasium interop: ``from_gymnasium`` against the toy-text models read here with plain loops, and
against our own grids; ``TabularEnv`` against the Env API, its MDP and its sampling frequencies.

Gymnasium 1.4 registers FrozenLake-v1, CliffWalking-v1, CliffWalkingSlippery-v1 and Taxi-v4 (Taxi-v3
is deprecated there and ``gymnasium.make("Taxi-v3")`` raises).
"""

from __future__ import annotations

import warnings

import gymnasium
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from matplotlib.quiver import Quiver

from pgm_control import TabularMDP
from pgm_control.envs import (
    GridWorld,
    TabularEnv,
    cliff_walking,
    from_gymnasium,
    random_mdp,
    taxi_layout,
)
from pgm_control.inference import value_iteration
from pgm_control.viz import plot_grid_values

# Our actions are N, S, E, W; entry j of each list is our action for gymnasium's action j.
CLIFF_ACTIONS = [0, 2, 1, 3]  # CliffWalking: UP, RIGHT, DOWN, LEFT
FROZEN_ACTIONS = [3, 1, 2, 0]  # FrozenLake: LEFT, DOWN, RIGHT, UP


def read_model(env):
    """p(s'|s,a), r(s,a) = Σ p·r and the set of states entered with terminated=True, by plain loops
    over gymnasium's ``P[s][a] = [(p, s', r, terminated), ...]``."""
    P_gym = env.unwrapped.P
    S, A = len(P_gym), len(P_gym[0])
    P, r, terminal = np.zeros((S, A, S)), np.zeros((S, A)), set()
    for s in range(S):
        for a in range(A):
            for p, s_next, reward, done in P_gym[s][a]:
                P[s, a, s_next] += p
                r[s, a] += p * reward
                if done and p > 0:
                    terminal.add(int(s_next))
    return P, r, terminal


GYM_CASES = {
    "FrozenLake slippery": ("FrozenLake-v1", {"is_slippery": True}, (16, 4)),
    "FrozenLake": ("FrozenLake-v1", {"is_slippery": False}, (16, 4)),
    "FrozenLake8x8": ("FrozenLake8x8-v1", {}, (64, 4)),
    "CliffWalking": ("CliffWalking-v1", {}, (48, 4)),
    "CliffWalkingSlippery": ("CliffWalkingSlippery-v1", {}, (48, 4)),
}


@pytest.mark.parametrize("case", list(GYM_CASES))
def test_from_gymnasium_matches_the_model(case):
    name, kwargs, (S, A) = GYM_CASES[case]
    env = gymnasium.make(name, **kwargs)
    mdp = from_gymnasium(env, discount=0.95)
    P, r, terminal = read_model(env)
    assert (mdp.num_states, mdp.num_actions, mdp.discount) == (S, A, 0.95)
    assert set(mdp.terminal.nonzero().flatten().tolist()) == terminal
    np.testing.assert_array_equal(mdp.initial.numpy(), env.unwrapped.initial_state_distrib)
    live = ~mdp.terminal.numpy()
    np.testing.assert_allclose(mdp.transitions.numpy()[live], P[live], rtol=0, atol=1e-15)
    np.testing.assert_allclose(mdp.rewards.numpy()[live], r[live], rtol=0, atol=1e-15)
    # Terminal states: absorbing, zero reward (gymnasium's own outgoing entries are ignored).
    for s in np.flatnonzero(~live):
        np.testing.assert_array_equal(mdp.transitions.numpy()[s], np.eye(S)[[s] * A])
        np.testing.assert_array_equal(mdp.rewards.numpy()[s], np.zeros(A))


@pytest.mark.parametrize("slippery", [False, True])
def test_frozen_lake_terminal_states_are_holes_and_goal(slippery):
    env = gymnasium.make("FrozenLake-v1", is_slippery=slippery)
    desc = env.unwrapped.desc.astype(str).flatten()
    expected = [s for s, c in enumerate(desc) if c in "HG"]
    assert expected == [5, 7, 11, 12, 15]
    assert from_gymnasium(env).terminal.nonzero().flatten().tolist() == expected


def test_cliff_walking_terminal_state_is_the_goal_only():
    assert from_gymnasium(gymnasium.make("CliffWalking-v1")).terminal.nonzero().flatten().tolist() == [47]


def reachable_states(P: np.ndarray, initial: np.ndarray, terminal: set[int]) -> np.ndarray:
    """Bool mask of states reachable from the initial support, not expanding terminal states."""
    seen = initial > 0
    frontier = list(np.flatnonzero(seen))
    while frontier:
        s = frontier.pop()
        if s in terminal:
            continue
        for s_next in np.flatnonzero(P[s].sum(0) > 0):
            if not seen[s_next]:
                seen[s_next] = True
                frontier.append(s_next)
    return seen


def test_taxi():
    """Unreachable Taxi states (passenger already at the destination) drive into a state that drop-offs
    enter with terminated=True; only reachable states decide the terminal set."""
    env = gymnasium.make("Taxi-v4")
    mdp = from_gymnasium(env)
    P, r, terminal = read_model(env)
    initial = env.unwrapped.initial_state_distrib
    assert (mdp.num_states, mdp.num_actions) == (500, 6)
    np.testing.assert_array_equal(mdp.initial.numpy(), initial)
    # Taxi has states no episode can visit (passenger already delivered); only reachable ones are
    # pinned down, so any sensible treatment of the others passes.
    reachable = reachable_states(P, initial, terminal)
    assert set(np.flatnonzero(mdp.terminal.numpy() & reachable)) == terminal
    live = reachable & ~mdp.terminal.numpy()
    np.testing.assert_allclose(mdp.transitions.numpy()[live], P[live], atol=1e-15)
    np.testing.assert_allclose(mdp.rewards.numpy()[live], r[live], atol=1e-15)


# ---------------------------------------------------------------- cross-checks with our own grids
def _non_cliff_states():
    # The cliff cells 37..46 are states of both MDPs but can never be occupied; there gymnasium sends
    # every move to the start while our bump (south) stays put, so their rows are left out.
    return [s for s in range(48) if not 37 <= s <= 46]


@pytest.mark.parametrize("name, slip", [("CliffWalking-v1", 0.0), ("CliffWalkingSlippery-v1", 2 / 3)])
def test_gymnasium_cliff_walking_equals_ours_up_to_action_order(name, slip):
    ours, theirs = cliff_walking(slip=slip), from_gymnasium(gymnasium.make(name))
    rows = _non_cliff_states()
    np.testing.assert_allclose(ours.transitions[:, CLIFF_ACTIONS].numpy()[rows], theirs.transitions.numpy()[rows],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(ours.rewards[:, CLIFF_ACTIONS].numpy()[rows], theirs.rewards.numpy()[rows],
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.initial.numpy(), theirs.initial.numpy())
    assert torch.equal(ours.terminal, theirs.terminal)


def test_cliff_walking_optimal_values_agree_with_gymnasium():
    ours = value_iteration(cliff_walking(), horizon=30)
    theirs = value_iteration(from_gymnasium(gymnasium.make("CliffWalking-v1")), horizon=30)
    np.testing.assert_allclose(ours.v.numpy(), theirs.v.numpy(), rtol=0, atol=1e-12)
    assert ours.v[0, 36].item() == -13.0  # the safe path: 13 moves
    rows = _non_cliff_states()
    np.testing.assert_allclose(ours.q[:, :, CLIFF_ACTIONS].numpy()[:, rows], theirs.q.numpy()[:, rows],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("slippery, slip", [(False, 0.0), (True, 2 / 3)])
def test_gymnasium_frozen_lake_equals_our_grid_world(slippery, slip):
    env = gymnasium.make("FrozenLake-v1", is_slippery=slippery)
    rows = ["".join(row) for row in env.unwrapped.desc.astype(str)]
    ours = GridWorld(rows, slip=slip, step_reward=0.0, goal_reward=1.0, trap_reward=0.0)
    theirs = from_gymnasium(env)
    np.testing.assert_allclose(ours.transitions[:, FROZEN_ACTIONS].numpy(), theirs.transitions.numpy(),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(ours.rewards[:, FROZEN_ACTIONS].numpy(), theirs.rewards.numpy(), rtol=0, atol=1e-15)
    assert torch.equal(ours.terminal, theirs.terminal)
    np.testing.assert_array_equal(ours.initial.numpy(), theirs.initial.numpy())


# ---------------------------------------------------------------- layouts: the grids are drawn
def one_action(mdp, action):
    """The policy that always takes `action` ``[S, A]``."""
    policy = torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64)
    policy[:, action] = 1.0
    return policy


def drawn_arrows(ax):
    (quiver,) = [c for c in ax.collections if isinstance(c, Quiver)]
    return np.column_stack([quiver.X, quiver.Y, quiver.U, quiver.V])


@pytest.mark.parametrize(("make", "kwargs", "shape"), [
    ("FrozenLake-v1", {}, (4, 4)),
    ("FrozenLake8x8-v1", {}, (8, 8)),
    ("FrozenLake-v1", {"desc": ["SFFH", "FHFG", "FFFF"]}, (3, 4)),  # a custom map
])
def test_frozen_lake_layout_is_its_map_with_holes_as_traps(make, kwargs, shape):
    env = gymnasium.make(make, **kwargs)
    mdp = from_gymnasium(env)
    desc = env.unwrapped.desc.astype(str)
    layout = mdp.layout
    assert layout.shape == shape == desc.shape
    # States are the cells in row-major order (gymnasium's s = row * ncol + column).
    assert layout.cells.tolist() == [[s // shape[1], s % shape[1]] for s in range(mdp.num_states)]
    expected = np.select([desc == "H", desc == "F"], ["X", "."], desc)
    np.testing.assert_array_equal(layout.kinds, expected)
    # Holes and the goal are exactly the terminal states.
    assert set(np.flatnonzero(np.isin(layout.kinds, ["X", "G"]))) == set(mdp.terminal.nonzero().flatten().tolist())
    assert list(mdp.action_names) == ["left", "down", "right", "up"]
    # Arrows follow gymnasium's action order: RIGHT (2) points right, UP (3) points up.
    solution = value_iteration(mdp.replace(discount=0.9))
    for action, (sign_dx, sign_dy) in [(2, (1, 0)), (3, (0, -1))]:
        ax = plot_grid_values(mdp, solution.v, one_action(mdp, action))
        arrows = drawn_arrows(ax)
        assert len(arrows) == int((~mdp.terminal).sum())  # none in holes or the goal
        assert (np.sign(arrows[:, 2]) == sign_dx).all() and (np.sign(arrows[:, 3]) == sign_dy).all()
        np.testing.assert_array_equal(ax.images[0].get_array(), solution.v.numpy().reshape(shape))
        plt.close("all")


def test_cliff_walking_layout_marks_start_cliff_and_goal():
    mdp = from_gymnasium(gymnasium.make("CliffWalking-v1"))
    kinds = mdp.layout.kinds
    assert mdp.layout.shape == (4, 12)
    assert "".join(kinds[3]) == "SCCCCCCCCCCG" and set(kinds[:3].flat) == {"."}
    assert list(mdp.action_names) == ["up", "right", "down", "left"]
    solution = value_iteration(mdp, horizon=30)
    ax = plot_grid_values(mdp, solution.v[0], one_action(mdp, 1))  # RIGHT
    arrows = drawn_arrows(ax)
    assert len(arrows) == 47 and (arrows[:, 2] > 0).all() and (arrows[:, 3] == 0).all()
    np.testing.assert_array_equal(ax.images[0].get_array(), solution.v[0].numpy().reshape(4, 12))
    assert {"S", "C", "G"} <= {text.get_text() for text in ax.texts}


def test_taxi_layout_places_each_state_at_the_taxi_and_draws_one_slice():
    env = gymnasium.make("Taxi-v4")
    taxi = env.unwrapped
    assert list(taxi.locs) == [(0, 0), (0, 4), (4, 0), (4, 3)]  # the stands R, G, Y, B
    mdp = from_gymnasium(env, discount=0.9)
    assert list(mdp.action_names) == ["south", "north", "east", "west", "pickup", "dropoff"]
    decoded = np.array([list(taxi.decode(s)) for s in range(500)])  # (row, column, passenger, destination)
    default = mdp.layout
    assert default.cells.tolist() == decoded[:, :2].tolist()
    np.testing.assert_array_equal(default.shown.numpy(), (decoded[:, 2] == 0) & (decoded[:, 3] == 1))
    assert (default.kinds == "P").sum() == 1 and default.kinds[0, 0] == "P" and default.kinds[0, 4] == "G"
    solution = value_iteration(mdp)
    for passenger, destination in [(0, 1), (4, 3), (2, 2)]:
        layout = taxi_layout(passenger, destination)
        ax = plot_grid_values(mdp.replace(layout=layout), solution.v, solution.policy)
        states = [taxi.encode(row, column, passenger, destination) for row in range(5) for column in range(5)]
        np.testing.assert_array_equal(ax.images[0].get_array(), solution.v.numpy()[states].reshape(5, 5))
        assert "Taxi: passenger" in ax.get_xlabel() and "(25 of 500 states)" in ax.get_xlabel()
        # Arrows only for the slice's live states, and never for pick-up or drop-off (they move nowhere).
        moving = solution.policy.numpy()[states][:, :4] >= 0.01
        live = ~mdp.terminal.numpy()[states]
        assert len(drawn_arrows(ax)) == int((moving & live[:, None]).sum())
        plt.close("all")
    assert (taxi_layout(4, 3).kinds == "P").sum() == 0  # the passenger rides in the taxi
    with pytest.raises(ValueError, match=r"passenger must be a location 0\.\.4"):
        taxi_layout(passenger=5)
    with pytest.raises(ValueError, match=r"destination must be a stand 0..3 \(R, G, Y, B\)"):
        taxi_layout(destination=4)


def test_other_environments_get_no_layout():
    P = {0: {0: [(1.0, 0, 0.0, False)]}}
    assert from_gymnasium(FakeEnv(P)).layout is None


# ---------------------------------------------------------------- from_gymnasium errors
class FakeEnv:
    """Just enough of an Env for from_gymnasium: ``unwrapped.P``."""

    def __init__(self, P):
        self.P = P
        self.unwrapped = self


def test_from_gymnasium_needs_a_model():
    with pytest.raises(TypeError, match=r"env\.unwrapped\.P"):
        from_gymnasium(TabularEnv(cliff_walking()))


def test_from_gymnasium_rejects_an_ambiguous_terminal_state():
    # State 2 is entered with terminated=True from 0, but without it from 1.
    P = {0: {0: [(1.0, 2, 1.0, True)]}, 1: {0: [(1.0, 2, 0.0, False)]}, 2: {0: [(1.0, 2, 0.0, False)]}}
    with pytest.raises(ValueError, match="state 2 is entered with terminated=True"):
        from_gymnasium(FakeEnv(P))


def test_from_gymnasium_without_initial_distribution_is_uniform_and_pads_outcomes():
    P = {0: {0: [(0.25, 1, 4.0, False), (0.75, 0, 0.0, False)], 1: [(1.0, 1, -1.0, False)]},
         1: {0: [(1.0, 0, 2.0, False)], 1: [(1.0, 1, 0.0, False)]}}
    mdp = from_gymnasium(FakeEnv(P))
    np.testing.assert_array_equal(mdp.initial.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(mdp.transitions.numpy(), [[[0.75, 0.25], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    np.testing.assert_array_equal(mdp.rewards.numpy(), [[1.0, -1.0], [2.0, 0.0]])
    assert not mdp.terminal.any()


# ---------------------------------------------------------------- TabularEnv
#   S . #        0 1
#   . . G        2 3 4(G)
SMALL_MAP = ["S.#", "..G"]


def small_env(horizon=None) -> TabularEnv:
    return TabularEnv(GridWorld(SMALL_MAP, step_reward=-1.0, goal_reward=10.0, bump_reward=-5.0), horizon=horizon)


@pytest.mark.parametrize("make", [lambda: TabularEnv(cliff_walking(slip=0.1), horizon=20),
                                  lambda: TabularEnv(random_mdp(6, 3, branching=2, seed=0))],
                         ids=["cliff walking", "random"])
def test_passes_gymnasium_env_checker(make):
    env = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # only warnings about render modes/spec are allowed
        check_env(env, skip_render_check=True)
    assert env.observation_space == gymnasium.spaces.Discrete(env.mdp.num_states)
    assert env.action_space == gymnasium.spaces.Discrete(env.mdp.num_actions)


def test_reset_and_step_follow_the_mdp():
    env = small_env()
    observation, info = env.reset(seed=0)
    all_actions = [1, 1, 1, 1]  # every action is available: the mask is all ones
    assert observation == 0 and info["action_mask"].tolist() == all_actions
    # E to 1 (-1), E into the wall (-5), S to 3 (-1), E into the goal (+10, terminated).
    expected = [(1, -1.0, False), (1, -5.0, False), (3, -1.0, False), (4, 10.0, True)]
    for action, (state, reward, terminated) in zip([2, 2, 1, 2], expected):
        step = env.step(action)
        assert step[:4] == (state, reward, terminated, False)
        assert step[4]["action_mask"].tolist() == all_actions
        assert isinstance(step[0], int) and isinstance(step[1], float)
    assert env.step(0)[:4] == (4, 0.0, True, False)  # absorbing and paying nothing after that


def test_reset_restarts_the_episode():
    env = small_env(horizon=2)
    env.reset(seed=1)
    env.step(1)
    assert env.reset()[0] == 0
    assert env.step(2)[3] is False  # the step counter restarted: not truncated at step 1


def test_truncation_at_horizon():
    env = small_env(horizon=3)
    env.reset(seed=0)
    flags = [env.step(3)[2:4] for _ in range(3)]  # bump west three times
    assert flags == [(False, False), (False, False), (False, True)]


def test_no_truncation_without_horizon():
    env = small_env()
    env.reset(seed=0)
    assert not any(env.step(0)[3] for _ in range(50))


def test_step_errors():
    env = small_env()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)
    with pytest.raises(TypeError, match="TabularMDP"):
        TabularEnv(env)


def _rollout(env, seed: int, actions) -> list[int]:
    states = [env.reset(seed=seed)[0]]
    states += [env.step(int(a))[0] for a in actions]
    return states


def test_seeded_reproducibility():
    actions = np.random.default_rng(0).integers(0, 3, size=200)
    env = TabularEnv(random_mdp(8, 3, branching=3, seed=4))
    first, again, other = _rollout(env, 11, actions), _rollout(env, 11, actions), _rollout(env, 12, actions)
    assert first == again
    assert first != other


def test_empirical_transition_frequencies_match_the_mdp():
    # 40,000 steps under uniformly random actions: each of the 8 (s, a) pairs is visited n_sa ≈ 5,000
    # times; a frequency has SE = √(p(1-p)/n_sa) ≤ 0.0071. Bound: 4.5 SE per entry (the test checks
    # 32 entries, so even for a fresh seed a false alarm would have probability < 32 · 7e-6).
    mdp = random_mdp(4, 2, branching=3, seed=1)
    P = mdp.transitions.numpy()
    env = TabularEnv(mdp)
    state = env.reset(seed=3)[0]
    counts = np.zeros((4, 2, 4))
    for action in np.random.default_rng(5).integers(0, 2, size=40_000):
        next_state = env.step(int(action))[0]
        counts[state, action, next_state] += 1
        state = next_state
    n_sa = counts.sum(-1, keepdims=True)
    assert n_sa.min() > 1000
    frequencies = counts / n_sa
    tolerance = 4.5 * np.sqrt(P * (1 - P) / n_sa)
    assert (np.abs(frequencies - P) <= tolerance).all()
    assert (frequencies[P == 0] == 0).all()


def test_reset_frequencies_match_the_initial_distribution():
    # 10,000 resets: SE = √(p(1-p)/n) ≤ 0.005; 4σ → 0.02.
    initial = [0.1, 0.0, 0.6, 0.3]
    env = TabularEnv(random_mdp(4, 2, seed=0).replace(initial=initial))
    env.reset(seed=0)
    draws = [env.reset()[0] for _ in range(10_000)]
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 10_000, initial, atol=0.02)


def test_env_accepts_every_mdp_the_constructor_accepts():
    """The constructor accepts sums off by 1e-6; NumPy's sampler rejects more than ~1.5e-8."""
    mdp = TabularMDP(torch.tensor([[[0.5, 0.5 + 1e-7]], [[0.0, 1.0]]]), torch.zeros(2, 1),
                     initial=[1.0 - 1e-7, 0.0])
    env = TabularEnv(mdp)
    env.reset(seed=0)
    env.step(0)
