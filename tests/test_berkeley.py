"""The Berkeley CS188 grid world against its textbook values and an independent NumPy value iteration
written here from CS188's rules (nothing below the builder is imported for the reference)."""

import numpy as np
import pytest
import torch

from pgm_control.envs import BERKELEY_GRIDS, berkeley_gridworld
from pgm_control.inference import policy_iteration, soft_value_iteration, value_iteration

# The well-known converged values of the book grid (noise 0.2, γ = 0.9, living reward 0); NaN = wall.
BOOK_VALUES = np.array([[0.64, 0.74, 0.85, 1.00],
                        [0.57, np.nan, 0.57, -1.00],
                        [0.49, 0.43, 0.48, 0.28]])
# CS188's "value iteration after k iterations" on the book grid, exactly: V_2 and V_3 (0 elsewhere).
BOOK_V2 = {(0, 2): 0.8 * 0.9 * 1.0, (0, 3): 1.0, (1, 3): -1.0}
BOOK_V3 = {(0, 1): 0.8 * 0.9 * 0.72, (0, 2): 0.72 + 0.1 * 0.9 * 0.72, (1, 2): 0.8 * 0.9 * 0.72 - 0.1 * 0.9,
           (0, 3): 1.0, (1, 3): -1.0}


def cs188_value_iteration(grid, noise, living_reward, discount, iterations):
    """CS188's gridworld.py rules, cell by cell: V_k on the grid (NaN on walls)."""
    H, W = len(grid), len(grid[0])
    moves = {"N": (-1, 0), "S": (1, 0), "E": (0, 1), "W": (0, -1)}
    sideways = {"N": "EW", "S": "EW", "E": "NS", "W": "NS"}

    def land(r, c, d):
        r2, c2 = r + moves[d][0], c + moves[d][1]
        return (r2, c2) if 0 <= r2 < H and 0 <= c2 < W and grid[r2][c2] != "#" else (r, c)

    v = np.zeros((H, W))
    for _ in range(iterations):
        new = np.zeros((H, W))
        for r in range(H):
            for c in range(W):
                if grid[r][c] == "#":
                    continue
                if not isinstance(grid[r][c], str):
                    new[r, c] = grid[r][c]  # exit: pays the value, then the terminal state (V = 0)
                    continue
                new[r, c] = max(
                    living_reward + discount * ((1 - noise) * v[land(r, c, d)]
                                                + sum(noise / 2 * v[land(r, c, e)] for e in sideways[d]))
                    for d in moves)
        v = new
    return np.where(np.array([[cell == "#" for cell in row] for row in grid]), np.nan, v)


def test_book_grid_converges_to_the_textbook_values():
    world = berkeley_gridworld("book")
    got = world.to_grid(value_iteration(world, tol=1e-13).v).numpy()
    reference = cs188_value_iteration(BERKELEY_GRIDS["book"], 0.2, 0.0, 0.9, 400)
    np.testing.assert_allclose(got, reference, atol=1e-8)
    np.testing.assert_allclose(got, BOOK_VALUES, atol=0.01)  # the table is rounded to 2 decimals
    np.testing.assert_allclose(world.to_grid(policy_iteration(world).v).numpy(), reference, atol=1e-8)


# ... and as the CS188 slides print them (2 decimals).
BOOK_SLIDES = {2: {(0, 2): 0.72}, 3: {(0, 1): 0.52, (0, 2): 0.78, (1, 2): 0.43}}


@pytest.mark.parametrize("k, table", [(2, BOOK_V2), (3, BOOK_V3)])
def test_finite_horizon_k_is_cs188_value_iteration_after_k_iterations(k, table):
    """Exiting takes one step, so CS188's V_k is the value with k steps to go: horizon=k, time 0."""
    world = berkeley_gridworld("book")
    got = world.to_grid(value_iteration(world, horizon=k).v[0]).numpy()
    expected = np.zeros((3, 4))
    for cell, value in table.items():
        expected[cell] = value
    expected[1, 1] = np.nan
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(got, cs188_value_iteration(BERKELEY_GRIDS["book"], 0.2, 0.0, 0.9, k), atol=1e-12)
    for cell, value in BOOK_SLIDES[k].items():
        assert got[cell] == pytest.approx(value, abs=0.005)


@pytest.mark.parametrize("name", sorted(BERKELEY_GRIDS))
@pytest.mark.parametrize("noise, living_reward, discount", [(0.2, 0.0, 0.9), (0.0, -0.5, 1.0), (0.4, 0.1, 0.5)])
def test_every_grid_matches_the_cs188_rules(name, noise, living_reward, discount):
    world = berkeley_gridworld(name, noise=noise, living_reward=living_reward, discount=discount)
    reference = cs188_value_iteration(BERKELEY_GRIDS[name], noise, living_reward, discount, 25)
    got = world.to_grid(value_iteration(world, horizon=25).v[0]).numpy()
    np.testing.assert_allclose(got, reference, atol=1e-9)


def test_structure_exit_actions_noise_and_walls():
    world = berkeley_gridworld("book")
    assert (world.num_states, world.num_actions) == (12, 5)
    assert world.action_names == ["N", "S", "E", "W", "exit"]
    exits = [world.grid_layout.state_at(0, 3), world.grid_layout.state_at(1, 3)]
    exit_only = torch.tensor([False, False, False, False, True])
    for s in range(world.terminal_state):
        expected = exit_only if s in exits else ~exit_only
        assert torch.equal(world.available_actions[s], expected)
    assert world.available_actions[world.terminal_state].all() and world.terminal[world.terminal_state]
    assert world.rewards[exits, 4].tolist() == [1.0, -1.0]
    assert world.transitions[exits[0], 4, world.terminal_state] == 1.0
    # North from the start (2, 0): 0.8 up to (1, 0), 0.1 east to (2, 1), 0.1 west into the edge (stays).
    start = world.grid_layout.state_at(2, 0)
    row = world.transitions[start, 0]
    assert row[world.grid_layout.state_at(1, 0)] == pytest.approx(0.8)
    assert row[world.grid_layout.state_at(2, 1)] == pytest.approx(0.1)
    assert row[start] == pytest.approx(0.1)
    # East from (1, 0) runs into the wall at (1, 1): 0.8 stays, 0.1 north, 0.1 south.
    left = world.grid_layout.state_at(1, 0)
    assert world.transitions[left, 2, left] == pytest.approx(0.8)
    assert world.initial[start] == 1.0


def test_soft_policy_never_moves_in_an_exit_cell():
    world = berkeley_gridworld("bridge")
    policy = soft_value_iteration(world, horizon=10, temperature=0.5).policy
    assert (policy[:, ~world.available_actions] == 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="grid must be one of"):
        berkeley_gridworld("nope")
    with pytest.raises(ValueError, match="noise must be a probability"):
        berkeley_gridworld(noise=1.5)
    with pytest.raises(TypeError, match="living_reward"):
        berkeley_gridworld(living_reward="a")
    with pytest.raises(ValueError, match="living_reward must be finite"):
        berkeley_gridworld(living_reward=float("nan"))
    with pytest.raises(ValueError, match=r"grid cell \(0, 1\)"):
        berkeley_gridworld([[" ", "x"]])
    with pytest.raises(ValueError, match="same positive length"):
        berkeley_gridworld([[" ", 1], [" "]])
    with pytest.raises(ValueError, match="values must have a last axis"):
        berkeley_gridworld().to_grid(torch.zeros(11))
