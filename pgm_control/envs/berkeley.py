r"""The Berkeley CS188 grid world (the AIMA book's 4x3 world and its relatives), with an "exit" action.

A grid is a list of rows whose cells are ``'#'`` (wall), ``'S'`` (start), ``' '`` or ``'.'`` (free), or a
number (an exit cell paying that value). The MDP follows CS188's ``gridworld.py``:

* states: the non-wall cells in row-major order (row 0 at the top), then one absorbing ``terminal``
  state (the last index);
* actions N, S, E, W and ``exit`` (index 4), with state-dependent availability
  (``available_actions``): in an exit cell only ``exit`` is available, elsewhere only the four moves
  (every action is a no-op in the terminal state);
* a move goes in the intended direction with probability 1 - noise and in each of the two perpendicular
  directions with probability noise/2 (0.8/0.1/0.1 with noise = 0.2); a move into a wall or off the grid
  leaves the agent in place;
* rewards: every move pays ``living_reward`` (bumps included); ``exit`` pays the cell's number and moves
  to the terminal state, so the value of an exit cell is its number and exiting takes one step:

      V(exit cell) = value,   V(s) = max_{a ∈ {N,S,E,W}} living_reward + γ Σ_{s'} p(s'|s,a) V(s').

With the defaults (noise 0.2, living reward 0, γ = 0.9) value iteration on ``"book"`` gives the
textbook values: 0.49 at the start (bottom left), 0.64 0.74 0.85 along the top row. A finite horizon
T = k gives CS188's V_k ("value iteration after k iterations").
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from pgm_control._checks import DTYPE, check_discount, check_real
from pgm_control.envs.grid import ACTION_NAMES as MOVE_NAMES
from pgm_control.envs.grid import GridLayout, GridWorld
from pgm_control.mdp import TabularMDP

ACTION_NAMES = (*MOVE_NAMES, "exit")
EXIT = 4

# The layouts of CS188's gridworld.py (getBookGrid, getBridgeGrid, ...).
BERKELEY_GRIDS = {
    "book": [[" ", " ", " ", 1],
             [" ", "#", " ", -1],
             ["S", " ", " ", " "]],
    "bridge": [["#", -100, -100, -100, -100, -100, "#"],
               [1, "S", " ", " ", " ", " ", 10],
               ["#", -100, -100, -100, -100, -100, "#"]],
    "cliff": [[" ", " ", " ", " ", " "],
              ["S", " ", " ", " ", 10],
              [-100, -100, -100, -100, -100]],
    "cliff2": [[" ", " ", " ", " ", " "],
               [8, "S", " ", " ", 10],
               [-100, -100, -100, -100, -100]],
    "discount": [[" ", " ", " ", " ", " "],
                 [" ", "#", " ", " ", " "],
                 [" ", "#", 1, "#", 10],
                 ["S", " ", " ", " ", " "],
                 [-10, -10, -10, -10, -10]],
    "maze": [[" ", " ", " ", 1],
             ["#", "#", " ", "#"],
             [" ", "#", " ", " "],
             [" ", "#", "#", " "],
             ["S", " ", " ", " "]],
}


class BerkeleyGridWorld(TabularMDP):
    r"""The CS188 grid world as a :class:`TabularMDP` with an ``exit`` action (see the module docstring).

    Build it with :func:`berkeley_gridworld`. Besides the MDP it carries ``grid_layout``, the
    :class:`GridLayout` of the cell states (all states but the last), and ``terminal_state``, the index
    of the absorbing terminal state; :meth:`to_grid` draws per-state values on the grid.
    """

    def __init__(self, rows: list, *, noise: float, living_reward: float, discount: float):
        kinds, exit_values = _parse_grid(rows)
        moves = GridWorld(["".join(row) for row in np.where(kinds == "S", "S", np.where(kinds == "#", "#", "."))],
                          slip=noise, step_reward=living_reward)
        is_exit = torch.from_numpy(~np.isnan(exit_values[kinds != "#"]))
        cells = moves.num_states
        num_states, K = cells + 1, moves.next_states.shape[-1]
        here = torch.arange(cells)

        next_states = torch.full((num_states, len(ACTION_NAMES), K), cells, dtype=torch.long)
        probs = torch.zeros(num_states, len(ACTION_NAMES), K, dtype=DTYPE)
        probs[:, :, 0] = 1.0
        next_states[:cells, :EXIT], probs[:cells, :EXIT] = moves.next_states, moves.probs
        next_states[:cells, EXIT, 0] = torch.where(is_exit, cells, here)  # exit: to the terminal state

        rewards = torch.zeros(num_states, len(ACTION_NAMES), dtype=DTYPE)
        rewards[:cells, :EXIT] = moves.rewards
        rewards[:cells, EXIT] = torch.from_numpy(np.nan_to_num(exit_values[kinds != "#"]))

        available = torch.ones(num_states, len(ACTION_NAMES), dtype=torch.bool)
        available[:cells, :EXIT] = ~is_exit[:, None]
        available[:cells, EXIT] = is_exit

        self.grid_layout = GridLayout(moves.layout.shape, moves.layout.cells, _display_kinds(kinds, exit_values))
        self.terminal_state = cells
        super().__init__(
            (next_states, probs),
            rewards,
            initial=torch.cat([moves.initial, torch.zeros(1, dtype=DTYPE)]),
            discount=discount,
            terminal=[cells],
            available_actions=available,
            state_names=[f"({r}, {c})" for r, c in moves.layout.cells.tolist()] + ["terminal"],
            action_names=ACTION_NAMES,
        )

    def to_grid(self, values) -> torch.Tensor:
        """Per-state ``values`` ``[..., S]`` on the grid ``[..., H, W]`` (the terminal state dropped, NaN on walls)."""
        values = torch.as_tensor(values, dtype=DTYPE)
        if values.shape[-1:] != (self.num_states,):
            raise ValueError(f"values must have a last axis of size S = {self.num_states}, got shape "
                             f"{list(values.shape)}")
        return self.grid_layout.to_grid(values[..., : self.terminal_state])


def berkeley_gridworld(grid="book", *, noise: float = 0.2, living_reward: float = 0.0,
                       discount: float = 0.9) -> BerkeleyGridWorld:
    r"""The Berkeley CS188 grid world (module docstring), by name or from a CS188-style grid.

    Args:
        grid: one of ``"book"``, ``"bridge"``, ``"cliff"``, ``"cliff2"``, ``"discount"``, ``"maze"``
            (CS188's ``getBookGrid`` etc.), or a list of equal-length rows of ``'#'``, ``'S'``, ``' '``
            and numbers (exit values).
        noise: probability of slipping, split equally between the two perpendicular directions.
        living_reward: reward of every move (CS188's ``-r``/``--livingReward``).
        discount: γ (CS188's default 0.9).

    Example:
        >>> from pgm_control.inference import value_iteration
        >>> world = berkeley_gridworld("book")
        >>> world.num_states, world.action_names[-1], world.available_actions[3].tolist()
        (12, 'exit', [False, False, False, False, True])
        >>> round(float(world.to_grid(value_iteration(world).v)[2, 0]), 2)   # the start
        0.49
    """
    if isinstance(grid, str):
        if grid not in BERKELEY_GRIDS:
            raise ValueError(f"grid must be one of {sorted(BERKELEY_GRIDS)} or a list of rows, got {grid!r}")
        grid = BERKELEY_GRIDS[grid]
    noise = check_real(noise, "noise", "a probability in [0, 1]")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be a probability in [0, 1], got {noise}")
    living_reward = check_real(living_reward, "living_reward", "a finite number")
    if not np.isfinite(living_reward):  # NaN or infinite
        raise ValueError(f"living_reward must be finite, got {living_reward}")
    return BerkeleyGridWorld(grid, noise=noise, living_reward=living_reward, discount=check_discount(discount))


def _parse_grid(rows) -> tuple[np.ndarray, np.ndarray]:
    """(kinds ``[H, W]`` of '#', 'S', '.', 'E' (exit), exit values ``[H, W]``, NaN off the exits)."""
    if not isinstance(rows, list | tuple) or not rows or not all(isinstance(r, list | tuple | str) for r in rows):
        raise TypeError("grid must be a grid name or a non-empty list of rows (lists of '#', 'S', ' ' and numbers)")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"grid rows must all have the same positive length, got lengths {sorted(widths)}")
    kinds = np.full((len(rows), widths.pop()), ".", dtype="<U1")
    values = np.full(kinds.shape, np.nan)
    cells = ((r, c, cell) for r, row in enumerate(rows) for c, cell in enumerate(row))
    for r, c, cell in cells:
        if isinstance(cell, numbers.Real) and not isinstance(cell, bool) and np.isfinite(cell):
            kinds[r, c], values[r, c] = "E", float(cell)
        elif cell in ("#", "S"):
            kinds[r, c] = cell
        elif cell not in (" ", "."):
            raise ValueError(f"grid cell ({r}, {c}) must be '#', 'S', ' ' or a finite number, got {cell!r}")
    if (kinds == "#").all():
        raise ValueError("grid has no free cell")
    return kinds, values


def _display_kinds(kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map characters for drawing: positive exits as goals 'G', the others as traps 'X'."""
    shown = kinds.copy()
    shown[(kinds == "E") & (values > 0)] = "G"
    shown[(kinds == "E") & ~(values > 0)] = "X"
    return shown
