"""Environments: GridWorld from ASCII maps (checked transition by transition on small maps), the
book's grids (against Sutton & Barto's printed value tables, solved here with plain numpy), the
lottery MDP and random MDPs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgm_control.envs import (
    ACTION_NAMES,
    GridWorld,
    cliff_walking,
    lottery_mdp,
    random_mdp,
    sutton_barto_gridworld,
    sutton_barto_small_gridworld,
)

N, S, E, W = 0, 1, 2, 3
F64 = torch.float64


def dense(mdp) -> np.ndarray:
    """p(s'|s, a) as numpy, rebuilt with loops from the successor lists the grid is stored as."""
    next_states, probs = mdp.next_states.numpy(), mdp.probs.numpy()
    P = np.zeros((mdp.num_states, mdp.num_actions, mdp.num_states))
    for s in range(mdp.num_states):
        for a in range(mdp.num_actions):
            for k in range(next_states.shape[-1]):
                P[s, a, next_states[s, a, k]] += probs[s, a, k]
    return P


def deterministic_table(mdp) -> list[list[int]]:
    P = dense(mdp)
    assert np.isin(P, [0.0, 1.0]).all(), "expected deterministic transitions"
    return P.argmax(-1).tolist()


def numpy_policy_values(mdp, policy: np.ndarray) -> np.ndarray:
    """V_π solving (I - γ P_π) V = r_π on non-terminal states with numpy (terminal V = 0)."""
    P, r = dense(mdp), mdp.rewards.detach().numpy()
    p_pi, r_pi = np.einsum("sa,sap->sp", policy, P), (policy * r).sum(-1)
    live = ~mdp.terminal.numpy()
    v = np.zeros(mdp.num_states)
    system = np.eye(live.sum()) - mdp.discount * p_pi[np.ix_(live, live)]
    v[live] = np.linalg.solve(system, r_pi[live])
    return v


def numpy_optimal_values(mdp, sweeps: int) -> np.ndarray:
    P, r = dense(mdp), mdp.rewards.detach().numpy()
    v = np.zeros(mdp.num_states)
    for _ in range(sweeps):
        v = (r + mdp.discount * P @ v).max(-1)
    return v


# ---------------------------------------------------------------- GridWorld on a small map
#   S . #        states: 0 = (0,0) S   1 = (0,1)
#   . . G                2 = (1,0)     3 = (1,1)     4 = (1,2) G
SMALL_MAP = ["S.#", "..G"]


def small_world(**kwargs) -> GridWorld:
    return GridWorld(SMALL_MAP, step_reward=-1.0, goal_reward=10.0, bump_reward=-5.0, **kwargs)


def test_states_are_non_wall_cells_in_row_major_order():
    world = GridWorld(["#..", ".#."])
    assert world.num_states == 4 and world.num_actions == 4
    assert world.layout.shape == (2, 3)
    assert world.layout.cells.tolist() == [[0, 1], [0, 2], [1, 0], [1, 2]]
    assert world.layout.kinds.tolist() == [["#", ".", "."], [".", "#", "."]]
    assert world.action_names == list(ACTION_NAMES) == ["N", "S", "E", "W"]


def test_deterministic_moves_by_hand():
    world = small_world()
    #        N  S  E  W
    assert deterministic_table(world) == [
        [0, 2, 1, 0],  # 0: north edge, south to 2, east to 1, west edge
        [1, 3, 1, 0],  # 1: north edge, south to 3, east wall, west to 0
        [0, 2, 3, 2],  # 2: south edge, west edge
        [1, 3, 4, 2],  # 3: east into the goal
        [4, 4, 4, 4],  # 4: goal, absorbing
    ]


def test_rewards_step_bump_and_goal_by_hand():
    np.testing.assert_array_equal(small_world().rewards.numpy(), [
        [-5.0, -1.0, -1.0, -5.0],
        [-5.0, -1.0, -5.0, -1.0],
        [-1.0, -5.0, -1.0, -5.0],
        [-1.0, -5.0, 10.0, -1.0],
        [0.0, 0.0, 0.0, 0.0],  # terminal: pays nothing
    ])


def test_bump_reward_defaults_to_step_reward():
    world = GridWorld(SMALL_MAP, step_reward=-1.0, goal_reward=10.0)
    assert world.rewards[0, N].item() == -1.0 and world.rewards[1, E].item() == -1.0


def test_goal_is_terminal_and_start_is_the_initial_state():
    world = small_world()
    assert world.terminal.tolist() == [False, False, False, False, True]
    np.testing.assert_array_equal(world.initial.numpy(), [1.0, 0.0, 0.0, 0.0, 0.0])


def test_slip_splits_to_the_two_perpendicular_directions():
    world = small_world(slip=0.2)
    P = dense(world)
    # From 3 heading E: goal w.p. 0.8, perpendicular N to 1 and S (edge: stay in 3) w.p. 0.1 each.
    np.testing.assert_allclose(P[3, E], [0.0, 0.1, 0.0, 0.1, 0.8], atol=1e-15)
    assert world.rewards[3, E].item() == pytest.approx(0.8 * 10 + 0.1 * -1 + 0.1 * -5, abs=1e-12)
    # From 0 heading N: edge (stay) 0.8, E to 1 w.p. 0.1, W edge (stay) 0.1.
    np.testing.assert_allclose(P[0, N], [0.9, 0.1, 0.0, 0.0, 0.0], atol=1e-15)
    assert world.rewards[0, N].item() == pytest.approx(0.9 * -5 + 0.1 * -1, abs=1e-12)
    # From 2 heading S (edge): perpendicular E to 3 and W (edge) 0.1 each.
    np.testing.assert_allclose(P[2, S], [0.0, 0.0, 0.9, 0.1, 0.0], atol=1e-15)


def test_full_slip_never_moves_in_the_intended_direction():
    P = dense(small_world(slip=1.0))
    np.testing.assert_allclose(P[3, E], [0.0, 0.5, 0.0, 0.5, 0.0], atol=1e-15)  # N to 1, S edge
    np.testing.assert_allclose(P[1, N], [0.5, 0.5, 0.0, 0.0, 0.0], atol=1e-15)  # E wall, W to 0


@pytest.mark.parametrize("slip", [0.0, 0.1, 0.5, 1.0])
def test_grid_transitions_are_distributions(slip):
    P = dense(GridWorld(["S..#", ".#.G", "..XC"], slip=slip))
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)


def test_walls_bump_and_are_not_states():
    world = GridWorld(["S#G"], bump_reward=-3.0)
    assert world.num_states == 2
    assert deterministic_table(world)[0] == [0, 0, 0, 0]  # edges N, S, W; wall E
    np.testing.assert_array_equal(world.rewards[0].numpy(), [-3.0] * 4)


def test_traps_and_frozen_lake_symbols():
    #  S F H        0 1 2(H)
    #  F ' ' G      3 4 5(G)
    world = GridWorld(["SFH", "F G"], trap_reward=-7.0, goal_reward=2.0, step_reward=0.0)
    assert world.num_states == 6
    assert world.terminal.tolist() == [False, False, True, False, False, True]
    assert deterministic_table(world)[1] == [1, 4, 2, 0]
    assert world.rewards[1, E].item() == -7.0  # entering the hole
    assert world.rewards[4, E].item() == 2.0  # entering the goal
    assert world.rewards[1, W].item() == 0.0
    assert world.layout.kinds.tolist() == [["S", ".", "X"], [".", ".", "G"]]


def test_cliff_returns_to_start_with_the_cliff_reward():
    #  . . .     0 1 2
    #  S C G     3 4(C) 5(G)
    world = GridWorld(["...", "SCG"], step_reward=-1.0, cliff_reward=-50.0, goal_reward=-1.0)
    table = deterministic_table(world)
    assert table[3][E] == 3 and world.rewards[3, E].item() == -50.0
    assert table[1][S] == 3 and world.rewards[1, S].item() == -50.0
    assert table[2][S] == 5 and world.rewards[2, S].item() == -1.0
    assert table[0][S] == 3 and world.rewards[0, S].item() == -1.0  # walking onto the start is fine
    assert world.terminal.tolist() == [False] * 5 + [True]  # the cliff itself is not terminal
    np.testing.assert_array_equal(world.initial.numpy(), [0, 0, 0, 1, 0, 0])


def test_teleport_moves_every_action_and_pays_its_reward():
    world = GridWorld(["...", "..."], slip=0.2, teleports={(0, 0): ((1, 2), 7.0)})
    P = dense(world)
    np.testing.assert_allclose(P[0], np.eye(6)[[5, 5, 5, 5]], atol=1e-15)
    np.testing.assert_allclose(world.rewards[0].numpy(), [7.0] * 4, atol=1e-14)  # 0.8·7 + 0.1·7 + 0.1·7


def test_initial_is_uniform_over_start_cells():
    world = GridWorld(["S.S", "..G"])
    np.testing.assert_array_equal(world.initial.numpy(), [0.5, 0.0, 0.5, 0.0, 0.0, 0.0])


def test_initial_without_start_is_uniform_over_non_terminal_cells():
    world = GridWorld(["..X", ".#G"])  # states 0, 1, 2(X), 3, 4(G)
    np.testing.assert_allclose(world.initial.numpy(), [1 / 3, 1 / 3, 0.0, 1 / 3, 0.0], atol=1e-15)


def test_string_and_list_maps_agree_and_discount_is_kept():
    from_string = GridWorld("\nS.#\n..G\n", discount=0.5)
    from_list = GridWorld(SMALL_MAP, discount=0.5)
    np.testing.assert_array_equal(dense(from_string), dense(from_list))
    assert from_string.discount == 0.5


@pytest.mark.parametrize(
    "ascii_map, kwargs, match",
    [
        (["S..", ".."], {}, "same positive length"),
        ("", {}, "same positive length"),
        (["S.Z"], {}, "unknown characters"),
        (["##", "##"], {}, "no free cell"),
        (["..C", "..G"], {}, "needs a start cell"),
        (SMALL_MAP, {"slip": 1.5}, "slip must be a probability"),
        (SMALL_MAP, {"slip": -0.1}, "slip must be a probability"),
        (SMALL_MAP, {"teleports": {(0, 2): ((0, 0), 1.0)}}, r"cell \(0, 2\) is a wall"),
        (SMALL_MAP, {"teleports": {(0, 0): ((5, 5), 1.0)}}, r"cell \(5, 5\) is a wall or off"),
    ],
    ids=["ragged", "empty", "unknown", "all walls", "cliff without start", "slip > 1", "slip < 0",
         "teleport from wall", "teleport off grid"],
)
def test_malformed_maps_raise_value_error(ascii_map, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GridWorld(ascii_map, **kwargs)


def test_map_that_is_not_text_raises_type_error():
    with pytest.raises(TypeError, match="ascii_map"):
        GridWorld([["S", "."], [".", "G"]])


# ---------------------------------------------------------------- GridLayout
def test_to_grid_scatters_values_and_leaves_walls_nan():
    layout = GridWorld(["#..", ".#."]).layout
    grid = layout.to_grid(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert grid.shape == (2, 3) and grid.dtype == F64
    np.testing.assert_array_equal(grid.numpy(), [[np.nan, 1.0, 2.0], [3.0, np.nan, 4.0]])
    batch = layout.to_grid(torch.arange(8.0).reshape(2, 4))
    assert batch.shape == (2, 2, 3)
    np.testing.assert_array_equal(batch[1].numpy(), [[np.nan, 4.0, 5.0], [6.0, np.nan, 7.0]])


def test_state_at_inverts_cells():
    layout = GridWorld(["#..", ".#."]).layout
    assert [layout.state_at(r, c) for r, c in [(0, 1), (0, 2), (1, 0), (1, 2)]] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="wall"):
        layout.state_at(1, 1)
    with pytest.raises(ValueError, match="off"):
        layout.state_at(2, 0)


# ---------------------------------------------------------------- the book's grids
def test_sutton_barto_gridworld_structure():
    mdp = sutton_barto_gridworld()
    assert (mdp.num_states, mdp.num_actions, mdp.discount) == (25, 4, 0.9)
    assert not mdp.terminal.any()
    P, r = dense(mdp), mdp.rewards.numpy()
    a, a_prime, b, b_prime = 0 * 5 + 1, 4 * 5 + 1, 0 * 5 + 3, 2 * 5 + 3
    np.testing.assert_array_equal(P[a], np.eye(25)[[a_prime] * 4])
    np.testing.assert_array_equal(P[b], np.eye(25)[[b_prime] * 4])
    np.testing.assert_array_equal(r[a], [10.0] * 4)
    np.testing.assert_array_equal(r[b], [5.0] * 4)
    assert r[0].tolist() == [-1.0, 0.0, 0.0, -1.0]  # corner: N and W leave the grid
    assert r[24].tolist() == [0.0, -1.0, -1.0, 0.0]
    assert r[12].tolist() == [0.0] * 4 and deterministic_table(mdp)[12] == [7, 17, 13, 11]
    assert deterministic_table(mdp)[0][N] == 0  # off-grid: stay


def test_sutton_barto_gridworld_matches_figure_3_2():
    # Figure 3.2 (v of the equiprobable random policy), printed to one decimal: tolerance 0.05.
    figure = [[3.3, 8.8, 4.4, 5.3, 1.5], [1.5, 3.0, 2.3, 1.9, 0.5], [0.1, 0.7, 0.7, 0.4, -0.4],
              [-1.0, -0.4, -0.4, -0.6, -1.2], [-1.9, -1.3, -1.2, -1.4, -2.0]]
    v = numpy_policy_values(sutton_barto_gridworld(), np.full((25, 4), 0.25))
    np.testing.assert_allclose(v.reshape(5, 5), figure, atol=0.05 + 1e-9)


def test_sutton_barto_gridworld_matches_figure_3_5():
    # Figure 3.5 (v_*), one decimal; 400 sweeps leave an error ≤ 0.9^400 · 25 ≈ 1e-17.
    figure = [[22.0, 24.4, 22.0, 19.4, 17.5], [19.8, 22.0, 19.8, 17.8, 16.0], [17.8, 19.8, 17.8, 16.0, 14.4],
              [16.0, 17.8, 16.0, 14.4, 13.0], [14.4, 16.0, 14.4, 13.0, 11.7]]
    v = numpy_optimal_values(sutton_barto_gridworld(), sweeps=400)
    np.testing.assert_allclose(v.reshape(5, 5), figure, atol=0.05 + 1e-9)


def test_sutton_barto_small_gridworld_matches_figure_4_1():
    mdp = sutton_barto_small_gridworld()
    assert (mdp.num_states, mdp.discount) == (16, 1.0)
    assert mdp.terminal.nonzero().flatten().tolist() == [0, 15]
    live = ~mdp.terminal.numpy()
    np.testing.assert_array_equal(mdp.rewards.numpy()[live], -1.0)  # -1 per move, into the corners too
    figure = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
    v = numpy_policy_values(mdp, np.full((16, 4), 0.25))
    np.testing.assert_allclose(v.reshape(4, 4), figure, atol=1e-9)  # the k = ∞ values are integers


def test_cliff_walking_structure():
    mdp = cliff_walking()
    assert (mdp.num_states, mdp.num_actions, mdp.discount) == (48, 4, 1.0)
    assert mdp.terminal.nonzero().flatten().tolist() == [47]
    np.testing.assert_array_equal(mdp.initial.numpy(), np.eye(48)[36])
    table, r = deterministic_table(mdp), mdp.rewards.numpy()
    assert table[36] == [24, 36, 36, 36] and r[36].tolist() == [-1.0, -1.0, -100.0, -1.0]
    assert table[25][S] == 36 and r[25, S] == -100.0  # stepping off the path into the cliff
    assert table[35][S] == 47 and r[35, S] == -1.0  # into the goal
    # The safe path along the cliff: up, 11 steps east, down = 13 moves, so v_*(start) = -13.
    assert numpy_optimal_values(mdp, sweeps=60)[36] == pytest.approx(-13.0, abs=1e-12)


def test_cliff_walking_slip():
    P = dense(cliff_walking(slip=0.2))
    # From 24 heading E: 25 w.p. 0.8; N to 12 and S to the start 36 w.p. 0.1 each.
    np.testing.assert_allclose(P[24, E], 0.8 * np.eye(48)[25] + 0.1 * np.eye(48)[12] + 0.1 * np.eye(48)[36],
                               atol=1e-15)


# ---------------------------------------------------------------- lottery and random MDPs
def test_lottery_mdp_by_hand():
    mdp = lottery_mdp(win_prob=0.3, safe_reward=-2.0, jackpot_reward=-0.5, bust_reward=-4.0)
    P = mdp.transitions.numpy()
    np.testing.assert_allclose(P[0], [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7]], atol=1e-15)
    for s in (1, 2, 3):
        np.testing.assert_array_equal(P[s], np.eye(4)[[s, s]])
    np.testing.assert_array_equal(mdp.rewards.numpy(), [[0, 0], [-2, -2], [-0.5, -0.5], [-4, -4]])
    np.testing.assert_array_equal(mdp.initial.numpy(), [1, 0, 0, 0])
    assert mdp.state_names == ["start", "safe", "jackpot", "bust"]
    assert mdp.action_names == ["safe", "gamble"]


def test_lottery_default_rewards_are_log_probabilities_and_docstring_returns_hold():
    mdp = lottery_mdp()
    assert (mdp.rewards <= 0).all()
    P, r = mdp.transitions.numpy(), mdp.rewards.numpy()
    for first, expected in ((0, -4.0), (1, 0.9 * 4 * -3.0)):  # horizon 5: safe -4, gamble -10.8
        d, total = np.eye(4)[0], 0.0
        for t in range(5):
            action = first if t == 0 else 0  # later actions do not matter in absorbing states
            total += d @ r[:, action]
            d = d @ P[:, action]
        assert total == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("win_prob", [0.0, 1.0, -0.1, 1.5])
def test_lottery_rejects_degenerate_win_probability(win_prob):
    with pytest.raises(ValueError, match="win_prob"):
        lottery_mdp(win_prob=win_prob)


@pytest.mark.parametrize("branching", [None, 3])
def test_random_mdp_is_reproducible_per_seed(branching):
    a, b, c = (random_mdp(7, 3, branching=branching, seed=s) for s in (5, 5, 6))
    assert torch.equal(a.transitions, b.transitions) and torch.equal(a.rewards, b.rewards)
    assert not torch.equal(a.transitions, c.transitions) and not torch.equal(a.rewards, c.rewards)


def test_random_mdp_storage_and_shapes():
    full = random_mdp(6, 2, seed=0, discount=0.8)
    assert full.is_dense and full.transitions.shape == (6, 2, 6) and full.discount == 0.8
    lists = random_mdp(6, 2, branching=3, seed=0)
    assert not lists.is_dense and lists.next_states.shape == (6, 2, 3) and lists.probs.shape == (6, 2, 3)
    assert lists.rewards.shape == (6, 2) and lists.rewards.dtype == F64
    assert ((lists.next_states >= 0) & (lists.next_states < 6)).all()


@pytest.mark.parametrize("branching", [None, 1, 4])
def test_random_mdp_distributions_are_valid(branching):
    mdp = random_mdp(9, 3, branching=branching, seed=2)
    assert (mdp.probs >= 0).all()
    np.testing.assert_allclose(mdp.probs.sum(-1).numpy(), 1.0, atol=1e-12)
    np.testing.assert_allclose(mdp.initial.numpy(), np.full(9, 1 / 9), atol=1e-15)
    assert not mdp.terminal.any()


def test_random_mdp_reward_scale_and_statistics():
    base = random_mdp(500, 4, branching=2, seed=3)
    scaled = random_mdp(500, 4, branching=2, seed=3, reward_scale=2.5)
    np.testing.assert_allclose(scaled.rewards.numpy(), 2.5 * base.rewards.numpy(), rtol=1e-15, atol=0.0)
    assert torch.equal(scaled.next_states, base.next_states) and torch.equal(scaled.probs, base.probs)
    # 2000 draws of N(0, 1): SE(mean) = 1/√2000 ≈ 0.022 and SE(std) ≈ 1/√4000 ≈ 0.016; 4σ bounds.
    r = base.rewards.flatten()
    assert abs(r.mean().item()) < 4 * 0.0224
    assert abs(r.std().item() - 1.0) < 4 * 0.0159
    assert (random_mdp(5, 2, seed=0, reward_scale=0.0).rewards == 0).all()


@pytest.mark.parametrize(
    "args, kwargs, match",
    [((0, 2), {}, "num_states"), ((3, 0), {}, "num_actions"), ((2.0, 2), {}, "num_states"),
     ((True, 2), {}, "num_states"), ((3, 2), {"branching": 0}, "branching")],
)
def test_random_mdp_rejects_bad_sizes(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_mdp(*args, **kwargs)


def test_dense_random_mdp_probabilities_are_flat_dirichlet():
    # Flat Dirichlet over S = 4 states: each coordinate is Beta(1, 3), mean 1/4, variance
    # (1/4 · 3/4)/5 = 0.0375. With A = 1000 actions there are 4000 rows:
    # SE = √(0.0375/4000) ≈ 0.0031; 4σ → 0.0122.
    P = random_mdp(4, 1000, seed=7).transitions
    np.testing.assert_allclose(P.reshape(-1, 4).mean(0).numpy(), 0.25, atol=0.0122)
