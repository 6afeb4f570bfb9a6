r"""Grid-world figures: value heat maps with policy arrows, and state marginals over time.

Data first, drawing last: :func:`policy_arrows` turns a policy into arrow vectors; the ``plot_*``
functions only draw. Cells sit at (x, y) = (column, row) with row 0 at the top, so N (row - 1)
points up and E (column + 1) points right. Walls are hatched grey; goal, trap, start and cliff
cells get a coloured border and their map letter in a corner. Tests check structure, never pixels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.patches import Rectangle

from pgm_control.envs import GridLayout

# An arrow of probability 1 reaches this far from the cell centre (cells are 1 wide).
ARROW_REACH = 0.46
# Actions with π(a|s) below this get no arrow (they would be invisible dots).
MIN_ARROW_PROB = 0.01
MARKED_KINDS = {"G": "limegreen", "X": "red", "S": "deepskyblue", "C": "darkorange"}


def _grid_layout(mdp, what: str) -> GridLayout:
    layout = getattr(mdp, "layout", None)
    if not isinstance(layout, GridLayout):
        # A ValueError: the MDP is of the right type, its layout (a value) is missing.
        raise ValueError(
            f"{what} needs an MDP with a grid layout (e.g. a pgm_control.envs.GridWorld, or "
            f"mdp.replace(layout=world.layout)); got layout {layout!r}"
        )
    return layout


def _as_array(values, shape: tuple, name: str, meaning: str) -> np.ndarray:
    """``values`` as a float64 numpy array; a ValueError unless it has ``shape`` (None: any size)."""
    array = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    array = array.to(torch.float64).cpu().numpy()
    if array.ndim != len(shape) or any(n not in (None, m) for n, m in zip(shape, array.shape)):
        expected = ", ".join("T" if n is None else str(n) for n in shape)
        raise ValueError(f"{name} must have shape [{expected}] ({meaning}), "
                         f"got {list(array.shape)}")
    return array


def policy_arrows(layout: GridLayout, policy, terminal=None) -> np.ndarray:
    r"""Arrow vectors for a grid policy π(a|s) ``[S, A]``, the actions those of ``layout.moves``
    (N, S, E, W for a :class:`~pgm_control.envs.GridWorld`; Gymnasium's order for its grids).

    One arrow per (s, a) with π(a|s) >= ``MIN_ARROW_PROB``, from the centre of cell s, of
    length ``ARROW_REACH`` · π(a|s) in the direction of a's move. Tied greedy actions (π uniform over
    the argmax) all get arrows, as in Sutton & Barto's Figure 3.5. States in the bool mask
    ``terminal`` ``[S]``, states the layout does not show, and actions that move nowhere (Taxi's
    pick-up and drop-off) get none.

    Returns an ``[N, 4]`` array of (x, y, dx, dy) in drawing coordinates (x = column, y = row).
    """
    num_states, moves = len(layout.cells), layout.moves.numpy()
    policy = _as_array(policy, (num_states, len(moves)), "policy",
                       "π(a|s) over the layout's actions; pass policy[t] of a time-indexed policy")
    drawn = (policy >= MIN_ARROW_PROB) & moves.any(axis=1)
    if terminal is not None:
        drawn &= ~np.asarray(terminal, dtype=bool)[:, None]
    if layout.shown is not None:
        drawn &= layout.shown.numpy()[:, None]
    state, action = np.nonzero(drawn)
    centres = layout.cells.numpy()[state][:, ::-1].astype(float)  # (row, column) -> (x, y)
    directions = moves[action][:, ::-1] / np.linalg.norm(moves[action], axis=1, keepdims=True)  # (dx, dy)
    vectors = ARROW_REACH * policy[state, action, None] * directions
    return np.concatenate([centres, vectors], axis=1)


def _draw_cells(ax, layout: GridLayout, grid: np.ndarray, norm: Normalize, cmap: str):
    """Draw the ``[H, W]`` grid as an image, hatch the walls and mark special cells."""
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, interpolation="nearest")
    for row, column in np.argwhere(layout.kinds == "#"):
        ax.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor="0.6",
                               edgecolor="0.3", hatch="///", linewidth=0.5))
    for kind, colour in MARKED_KINDS.items():
        for row, column in np.argwhere(layout.kinds == kind):
            ax.add_patch(Rectangle((column - 0.46, row - 0.46), 0.92, 0.92, fill=False,
                                   edgecolor=colour, linewidth=2.5))
            ax.text(column + 0.42, row + 0.42, kind, ha="right", va="bottom", fontsize=7,
                    fontweight="bold", color=colour)
    if layout.note:
        ax.set_xlabel(layout.note, fontsize=8)
    height, width = layout.shape
    ax.set_xticks(np.arange(-0.5, width), minor=True)
    ax.set_yticks(np.arange(-0.5, height), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    return image


def _write_values(ax, layout: GridLayout, values: np.ndarray, image, corner: bool, fmt: str) -> None:
    """Write the value (``fmt``) of each shown state in its cell, in black or white by the cell's
    brightness; in the top-left corner when ``corner`` (out of the arrows' way), else centred."""
    shift, align, size = (-0.44, ("left", "top"), 7) if corner else (0.0, ("center", "center"), 9)
    states = layout.shown_states()
    for (row, column), value in zip(layout.cells[states].tolist(), values[states.numpy()]):
        red, green, blue, _ = image.cmap(image.norm(value))
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        ax.text(column + shift, row + shift, format(value, fmt), ha=align[0], va=align[1],
                fontsize=size, color=ink)


def plot_grid_values(mdp, values, policy=None, ax=None, title=None, annotate=True, *, vmin=None, vmax=None,
                     fmt=".1f"):
    r"""Heat map of per-state values on the grid, with optional policy arrows.

    Args:
        mdp: a :class:`~pgm_control.TabularMDP` with a :class:`~pgm_control.envs.GridLayout`
            (any :class:`~pgm_control.envs.GridWorld`).
        values: V(s) ``[S]`` (e.g. ``value_iteration(mdp).v``, or ``soft.v[0]`` for time 0).
        policy: π(a|s) ``[S, A]`` over the layout's actions (N, S, E, W for a ``GridWorld``), drawn as
            arrows of length ∝ π(a|s) (see :func:`policy_arrows`); none in terminal states.
        ax: the Axes to draw on (a new figure if None).
        title: the Axes title.
        annotate: write each value in its cell, formatted by ``fmt`` (a format spec, default ``".1f"``).
        vmin, vmax: the colour scale's ends (default: the values' range); pass the same ones to
            compare panels side by side.

    Draws one image (walls masked and hatched), a colour bar, and a quiver of arrows if a
    policy is given. Returns the matplotlib ``Axes``.
    """
    layout = _grid_layout(mdp, "plot_grid_values")
    values = _as_array(values, (mdp.num_states,), "values",
                       "V(s) per state; pass v[t] of time-indexed values")
    arrows = None if policy is None else policy_arrows(layout, policy, mdp.terminal.numpy())
    grid = layout.to_grid(torch.from_numpy(values)).numpy()
    drawn = values[layout.shown_states().numpy()]
    norm = Normalize(drawn.min() if vmin is None else vmin, drawn.max() if vmax is None else vmax)

    if ax is None:
        _, ax = plt.subplots(figsize=(0.8 * layout.shape[1] + 1.5, 0.8 * layout.shape[0]))
    image = _draw_cells(ax, layout, grid, norm, "viridis")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if annotate:
        _write_values(ax, layout, values, image, corner=arrows is not None, fmt=fmt)
    if arrows is not None:
        ax.quiver(*arrows.T, angles="xy", scale_units="xy", scale=1, color="white",
                  edgecolor="black", linewidth=0.4, width=0.008, headwidth=3.5, headlength=3.5,
                  headaxislength=3)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_state_marginals(mdp, marginals, times=None, axes=None):
    r"""Small multiples of the state marginals p(s_t | O_{1:T}) on the grid.

    Args:
        mdp: an MDP with a grid layout (see :func:`plot_grid_values`).
        marginals: p(s_t | O_{1:T}) ``[T, S]`` (e.g. ``state_marginals(mdp, T)``).
        times: code times t in 0..T-1 to draw (default: up to 6 evenly spaced, first and last
            included); panel titles use the slides' time t + 1.
        axes: a sequence of ``len(times)`` Axes (default: a new figure, 3 panels a row).

    Draws one image per time on a shared square-root colour scale from 0 to the largest
    probability drawn (so that spread-out mass stays visible), with one colour bar. Returns the
    1-d array of Axes (``axes[0].figure`` is the Figure).
    """
    layout = _grid_layout(mdp, "plot_state_marginals")
    marginals = _as_array(marginals, (None, mdp.num_states), "marginals",
                          "p(s_t | O_{1:T}) per time and state")
    horizon = len(marginals)
    if times is None:
        times = np.unique(np.linspace(0, horizon - 1, min(horizon, 6)).round().astype(int))
    times = [int(t) for t in times]
    if not times or min(times) < 0 or max(times) >= horizon:
        raise ValueError(f"times must be a non-empty list of code times in [0, {horizon}), "
                         f"got {times}")
    if axes is None:
        axes = _panels(len(times), layout.shape)
    axes = np.asarray(axes, dtype=object).reshape(-1)
    if len(axes) != len(times):
        raise ValueError(f"axes must hold one Axes per time: {len(times)}, got {len(axes)}")

    norm = PowerNorm(0.5, 0.0, marginals[times][:, layout.shown_states().numpy()].max())
    grids = layout.to_grid(torch.from_numpy(marginals[times])).numpy()
    for ax, t, grid in zip(axes, times, grids):
        image = _draw_cells(ax, layout, grid, norm, "magma")
        ax.set_title(f"t = {t + 1}", fontsize=9)
    axes[0].figure.colorbar(image, ax=list(axes), shrink=0.8, label="p(s_t | O_1:T)")
    return axes


def _panels(count: int, shape: tuple[int, int]) -> np.ndarray:
    """``count`` Axes for grids of ``shape`` (H, W) in a new figure, 3 a row, spares removed."""
    columns = min(count, 3)
    rows = -(-count // columns)
    height, width = shape
    size = (columns * (0.4 * width + 0.4) + 1.0, rows * (0.4 * height + 0.5))
    _, axes = plt.subplots(rows, columns, squeeze=False, layout="constrained", figsize=size)
    for spare in axes.flat[count:]:
        spare.remove()
    return axes.reshape(-1)[:count]
