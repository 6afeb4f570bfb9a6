r"""Grid worlds from ASCII maps, built with successor lists and no Python loop over cells.

Map characters::

    #        wall (not a state)
    . F ' '  free cell
    S        start (the initial distribution is uniform over S cells; over all free cells if none)
    G        goal: terminal; entering it pays ``goal_reward``
    X H      trap / hole: terminal; entering it pays ``trap_reward``
    C        cliff: entering it pays ``cliff_reward`` and sends the agent back to the start

States are the non-wall cells in row-major order (row 0 at the top). Actions are N, S, E, W. A move
into a wall or off the grid leaves the agent in place and pays ``bump_reward`` (``step_reward`` if
None); any other move pays ``step_reward``. With ``slip > 0`` the agent moves in one of the two
perpendicular directions with probability slip/2 each. Rewards are of the form r(s, a, s') and are
converted to r(s, a) = Σ_{s'} p(s'|s,a) r(s, a, s') on construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_integer, check_real, shape_str
from pgm_control.mdp import TabularMDP

ACTION_NAMES = ("N", "S", "E", "W")
# (row, column) displacement of N, S, E, W.
MOVES = torch.tensor([[-1, 0], [1, 0], [0, 1], [0, -1]])
# The two perpendicular directions of each action, for slipping.
PERPENDICULAR = torch.tensor([[2, 3], [2, 3], [0, 1], [0, 1]])
FREE, WALL, START, GOAL, TRAP, CLIFF = ".", "#", "S", "G", "X", "C"
_ALIASES = {"F": FREE, " ": FREE, "H": TRAP}
_KNOWN = set(FREE + WALL + START + GOAL + TRAP + CLIFF) | set(_ALIASES)


@dataclass(frozen=True, eq=False)
class GridLayout:
    """Where each state sits on the grid, for drawing.

    Fields: ``shape`` (H, W); ``cells`` ``[S, 2]`` (row, column) of each state; ``kinds``, the map
    characters (an ``[H, W]`` array of one-character strings, see the module docstring); ``moves``
    ``[A, 2]``, the (row, column) step each action intends (default N, S, E, W as in
    :class:`GridWorld`; (0, 0) for an action that moves nowhere, e.g. Taxi's pick-up); ``shown``, a
    bool mask ``[S]`` of the states drawn (None: all), for state spaces where several states share a
    cell (Taxi: one slice of passenger location and destination); ``note``, what the drawing shows when
    not every state is drawn (e.g. the slice), written under the grid.
    """

    shape: tuple[int, int]
    cells: torch.Tensor
    kinds: np.ndarray
    moves: torch.Tensor = MOVES
    shown: torch.Tensor | None = None
    note: str = ""

    def shown_states(self) -> torch.Tensor:
        """The indices of the states drawn, in order: all S unless ``shown`` selects some."""
        return torch.arange(len(self.cells)) if self.shown is None else self.shown.nonzero().squeeze(-1)

    def to_grid(self, values: torch.Tensor) -> torch.Tensor:
        """Scatter per-state ``values`` ``[..., S]`` of the shown states onto the grid ``[..., H, W]``
        (NaN on walls and on cells no shown state occupies)."""
        values = as_float_tensor(values, "values")
        if values.dim() == 0 or values.shape[-1] != len(self.cells):
            raise ValueError(f"values must have shape [..., S] = [..., {len(self.cells)}] (one per state), got "
                             f"{shape_str(values.shape)}")
        H, W = self.shape
        states = self.shown_states()
        cells = self.cells[states]
        grid = torch.full((*values.shape[:-1], H * W), torch.nan, dtype=DTYPE)
        grid[..., cells[:, 0] * W + cells[:, 1]] = values[..., states]
        return grid.reshape(*values.shape[:-1], H, W)

    def state_at(self, row: int, column: int) -> int:
        """The state index of cell (row, column)."""
        hits = ((self.cells[:, 0] == row) & (self.cells[:, 1] == column)).nonzero()
        if len(hits) == 0:
            raise ValueError(f"cell ({row}, {column}) is a wall or off the {self.shape} grid")
        return int(hits[0])


class GridWorld(TabularMDP):
    r"""A grid-world :class:`TabularMDP` from an ASCII map (see the module docstring for the symbols).

    Args:
        ascii_map: the map, as a multi-line string or a list of equal-length rows.
        slip: probability of moving perpendicular to the intended direction (split equally).
        step_reward: reward of an ordinary move.
        goal_reward, trap_reward, cliff_reward: reward for entering a goal, trap or cliff cell.
        bump_reward: reward for bumping into a wall or the edge (``step_reward`` if None).
        teleports: ``{(row, col): ((row2, col2), reward)}``: every action in (row, col) moves the
            agent to (row2, col2) and pays ``reward`` (Sutton & Barto's A -> A').
        discount: γ.

    Example:
        >>> world = GridWorld(["S.#", "..G"], step_reward=-1.0, goal_reward=10.0)
        >>> world.num_states, world.num_actions, world.layout.shape
        (5, 4, (2, 3))
        >>> world.layout.state_at(1, 2), bool(world.terminal[4])
        (4, True)
    """

    def __init__(
        self,
        ascii_map,
        *,
        slip: float = 0.0,
        step_reward: float = 0.0,
        goal_reward: float = 1.0,
        trap_reward: float = -1.0,
        cliff_reward: float = -100.0,
        bump_reward: float | None = None,
        teleports: dict | None = None,
        discount: float = 1.0,
    ):
        kinds = _parse_map(ascii_map)
        slip = check_real(slip, "slip", "a probability in [0, 1]")
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be a probability in [0, 1], got {slip}")
        step_reward, goal_reward, trap_reward, cliff_reward = (
            check_real(value, name, "a number") for value, name in (
                (step_reward, "step_reward"), (goal_reward, "goal_reward"), (trap_reward, "trap_reward"),
                (cliff_reward, "cliff_reward")))
        if bump_reward is not None:
            bump_reward = check_real(bump_reward, "bump_reward", "a number or None")
        teleports = _read_teleports(teleports)
        H, W = kinds.shape
        is_state = kinds != WALL
        cells = torch.from_numpy(np.argwhere(is_state)).long()  # row-major
        state_of_cell = torch.full((H, W), -1, dtype=torch.long)
        state_of_cell[cells[:, 0], cells[:, 1]] = torch.arange(len(cells))
        cell_kind = kinds[is_state]
        starts = torch.from_numpy(cell_kind == START)
        layout = GridLayout(shape=(H, W), cells=cells, kinds=kinds)

        # Outcomes of each (state, action): the intended move, then the two perpendicular slips.
        directions = torch.cat([torch.arange(4)[:, None], PERPENDICULAR], dim=1)  # [A, 3]
        weights = torch.tensor([1.0 - slip, slip / 2, slip / 2], dtype=DTYPE)
        if slip == 0.0:
            directions, weights = directions[:, :1], weights[:1]
        target = cells[:, None, None, :] + MOVES[directions]  # [S, A, K, 2]
        inside = (target[..., 0] >= 0) & (target[..., 0] < H) & (target[..., 1] >= 0) & (target[..., 1] < W)
        clipped = torch.stack([target[..., 0].clamp(0, H - 1), target[..., 1].clamp(0, W - 1)], -1)
        next_states = state_of_cell[clipped[..., 0], clipped[..., 1]]
        bumped = ~inside | (next_states < 0)
        here = torch.arange(len(cells))[:, None, None].expand_as(next_states)
        next_states = torch.where(bumped, here, next_states)

        def arrives_in(kind):
            return torch.from_numpy(cell_kind == kind)[next_states]

        outcome_reward = torch.full(next_states.shape, float(step_reward), dtype=DTYPE)
        outcome_reward[bumped] = float(step_reward if bump_reward is None else bump_reward)
        outcome_reward[arrives_in(GOAL)] = float(goal_reward)
        outcome_reward[arrives_in(TRAP)] = float(trap_reward)
        into_cliff = arrives_in(CLIFF)  # also a bump inside the cliff, as in Gymnasium
        outcome_reward[into_cliff] = float(cliff_reward)
        if into_cliff.any():
            if not starts.any():
                raise ValueError("a map with cliff cells 'C' needs a start cell 'S' to send the agent back to")
            next_states = torch.where(into_cliff, int(starts.nonzero()[0]), next_states)

        probs = weights.expand(next_states.shape).clone()
        for (row, column), ((row2, column2), reward) in teleports.items():
            source, destination = layout.state_at(row, column), layout.state_at(row2, column2)
            next_states[source] = destination
            outcome_reward[source] = float(reward)

        terminal = torch.from_numpy((cell_kind == GOAL) | (cell_kind == TRAP))
        eligible = starts if starts.any() else ~terminal & ~torch.from_numpy(cell_kind == CLIFF)
        initial = eligible.to(DTYPE) / eligible.sum()
        super().__init__(
            (next_states, probs),
            (probs * outcome_reward).sum(-1),
            initial=initial,
            discount=discount,
            terminal=terminal,
            action_names=ACTION_NAMES,
            layout=layout,
        )


def _read_teleports(teleports) -> dict:
    """``{(row, col): ((row2, col2), reward)}`` with integer cells and real rewards; {} for None."""
    if teleports is None:
        return {}
    if not isinstance(teleports, dict):
        raise TypeError(f"teleports must be a dict {{(row, col): ((row2, col2), reward)}}, got {teleports!r:.60}")
    checked = {}
    for source, target in teleports.items():
        try:
            (row2, column2), reward = target
            cells = [check_integer(value, "teleports cell") for value in (*source, row2, column2)]
            if len(cells) != 4:
                raise ValueError
        except (TypeError, ValueError):
            raise TypeError(f"teleports must map a cell (row, col) to ((row2, col2), reward), got "
                            f"{source!r}: {target!r}") from None
        checked[tuple(cells[:2])] = (tuple(cells[2:]), check_real(reward, f"teleports[{source!r}] reward", "a number"))
    return checked


def _parse_map(ascii_map) -> np.ndarray:
    if not isinstance(ascii_map, str | list | tuple):
        raise TypeError("ascii_map must be a multi-line string or a list of row strings, got "
                        f"{type(ascii_map).__name__}")
    rows = ascii_map.strip("\n").split("\n") if isinstance(ascii_map, str) else list(ascii_map)
    if not rows or any(not isinstance(r, str) for r in rows):
        raise TypeError("ascii_map must be a multi-line string or a list of row strings")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"ascii_map rows must all have the same positive length, got lengths {sorted(widths)}")
    kinds = np.array([list(r) for r in rows])
    unknown = set(np.unique(kinds)) - _KNOWN
    if unknown:
        raise ValueError(f"ascii_map has unknown characters {sorted(unknown)}; use one of {sorted(_KNOWN)}")
    for alias, kind in _ALIASES.items():
        kinds[kinds == alias] = kind
    if (kinds == WALL).all():
        raise ValueError("ascii_map has no free cell")
    return kinds


def sutton_barto_gridworld() -> GridWorld:
    """Sutton & Barto's Example 3.5 (Figures 3.2 and 3.5): a 5x5 grid, γ = 0.9.

    Every action in A = (0, 1) moves the agent to A' = (4, 1) and pays +10; in B = (0, 3) to
    B' = (2, 3) and pays +5; moves off the grid pay -1 and leave the agent in place; others pay 0.
    """
    return GridWorld(
        ["....."] * 5,
        step_reward=0.0,
        bump_reward=-1.0,
        teleports={(0, 1): ((4, 1), 10.0), (0, 3): ((2, 3), 5.0)},
        discount=0.9,
    )


def sutton_barto_small_gridworld() -> GridWorld:
    """Sutton & Barto's Example 4.1 (Figure 4.1): a 4x4 grid with terminal corners, -1 per move, γ = 1."""
    return GridWorld(["G...", "....", "....", "...G"], step_reward=-1.0, goal_reward=-1.0)


def cliff_walking(slip: float = 0.0) -> GridWorld:
    """Sutton & Barto's Example 6.6 (as Gymnasium's CliffWalking): 4x12, -1 per move, the cliff pays
    -100 and returns the agent to the start, the goal is terminal. States are all 48 cells."""
    return GridWorld(
        ["............", "............", "............", "SCCCCCCCCCCG"],
        slip=slip,
        step_reward=-1.0,
        goal_reward=-1.0,
        cliff_reward=-100.0,
    )
