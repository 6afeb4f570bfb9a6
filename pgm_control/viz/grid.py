r"""Grid-world figures: value heat maps with policy arrows, and state marginals over time.

Data first, drawing last: :func:`policy_arrows` turns a policy into arrow vectors; the ``plot_*``
functions only draw. Cells sit at (x, y) = (column, row) with row 0 at the top, so N (row - 1)
points up and E (column + 1) points right. Walls are hatched grey; goal, trap, start, cliff and
passenger cells get a coloured border and their map letter in a corner. In value figures, terminal
states sit outside the colour scale (V = 0 there by definition, which would otherwise take the colour
of the best or the worst cell): they are cross-hatched and labelled with what ends there ("goal",
"trap" or "terminal"). A key under a figure with arrows gives the length of π(a|s) = 1. Tests
check structure, never pixels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.patches import Patch, Rectangle

from pgm_control.envs import GridLayout

# An arrow of probability 1 reaches this far from the cell centre (cells are 1 wide).
ARROW_REACH = 0.46
# Actions with π(a|s) below this get no arrow (they would be invisible dots).
MIN_ARROW_PROB = 0.01
MARKED_KINDS = {"G": "limegreen", "X": "red", "S": "deepskyblue", "C": "darkorange", "P": "orchid"}
# Terminal cells: a light cross-hatched square (gid TERMINAL_GID) and a word for what ends there.
TERMINAL_GID = "terminal"
TERMINAL_WORDS = {"G": "goal", "X": "trap"}
TERMINAL_FILL, TERMINAL_HATCH_COLOUR = "0.95", "0.55"
# The arrow key: its label (a text with gid ARROW_KEY_GID) and height under the Axes (axes coordinates).
ARROW_KEY_LABEL = "arrow length ∝ π(a|s); this one: π(a|s) = 1"
ARROW_KEY_GID = "arrow key"
ARROW_KEY_Y = -0.06


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
    if not isinstance(layout, GridLayout):
        raise TypeError(f"layout must be a GridLayout (e.g. world.layout of a GridWorld), got {type(layout).__name__}")
    num_states, moves = len(layout.cells), layout.moves.numpy()
    policy = _as_array(policy, (num_states, len(moves)), "policy",
                       "π(a|s) over the layout's actions; pass policy[t] of a time-indexed policy")
    drawn = (policy >= MIN_ARROW_PROB) & moves.any(axis=1)
    if terminal is not None:
        terminal = np.asarray(terminal, dtype=bool)
        if terminal.shape != (num_states,):
            raise ValueError(f"terminal must be a bool mask [S] = [{num_states}], got shape {list(terminal.shape)}")
        drawn &= ~terminal[:, None]
    if layout.shown is not None:
        drawn &= layout.shown.numpy()[:, None]
    state, action = np.nonzero(drawn)
    centres = layout.cells.numpy()[state][:, ::-1].astype(float)  # (row, column) -> (x, y)
    directions = moves[action][:, ::-1] / np.linalg.norm(moves[action], axis=1, keepdims=True)  # (dx, dy)
    vectors = ARROW_REACH * policy[state, action, None] * directions
    return np.concatenate([centres, vectors], axis=1)


def _draw_cells(ax, layout: GridLayout, grid: np.ndarray, norm: Normalize, cmap: str, terminal=None):
    """Draw the ``[H, W]`` grid as an image, hatch the walls, cover the cells of the states in the bool
    mask ``terminal`` ``[S]`` (if given) and mark special cells."""
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, interpolation="nearest")
    for row, column in np.argwhere(layout.kinds == "#"):
        ax.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor="0.6",
                               edgecolor="0.3", hatch="///", linewidth=0.5))
    if terminal is not None:
        _cover_terminal_cells(ax, layout, terminal)
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


def _cover_terminal_cells(ax, layout: GridLayout, terminal: np.ndarray) -> None:
    """A light cross-hatched square over the cell of each shown terminal state, with a word for what
    ends there: ``TERMINAL_WORDS`` of its map letter, else "terminal" (both with gid ``TERMINAL_GID``)."""
    states = layout.shown_states().numpy()
    for row, column in layout.cells.numpy()[states[terminal[states]]]:
        ax.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor=TERMINAL_FILL,
                               edgecolor=TERMINAL_HATCH_COLOUR, hatch="xx", linewidth=0.0, gid=TERMINAL_GID))
        ax.text(column, row + 0.28, TERMINAL_WORDS.get(layout.kinds[row, column], "terminal"), ha="center",
                va="center", fontsize=7, fontstyle="italic", color="0.2", gid=TERMINAL_GID)


def _write_values(ax, layout: GridLayout, values: np.ndarray, image, corner: bool, fmt: str,
                  terminal: np.ndarray) -> None:
    """Write the value (``fmt``) of each shown state in its cell, in black or white by the cell's
    brightness (black on the light terminal cells); in the top-left corner when ``corner`` (out of
    the arrows' way), else centred."""
    shift, align, size = (-0.44, ("left", "top"), 7) if corner else (0.0, ("center", "center"), 9)
    states = layout.shown_states().numpy()
    for (row, column), value, ends in zip(layout.cells[states].tolist(), values[states], terminal[states]):
        red, green, blue, _ = (1.0, 1.0, 1.0, 1.0) if ends else image.cmap(image.norm(value))
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
    policy is given, with a key under the grid (``ARROW_KEY_LABEL``: the arrow of π(a|s) = 1).
    Terminal states (``mdp.terminal``) are left out of the image and the colour scale, where their
    V = 0 (nothing follows) would take the colour of the best or worst cell: their cells are
    cross-hatched ``Rectangle`` patches with gid ``"terminal"`` and a word ("goal", "trap", or
    "terminal"), their value still written. Returns the matplotlib ``Axes``.
    """
    layout = _grid_layout(mdp, "plot_grid_values")
    values = _as_array(values, (mdp.num_states,), "values",
                       "V(s) per state; pass v[t] of time-indexed values")
    terminal = mdp.terminal.numpy()
    arrows = None if policy is None else policy_arrows(layout, policy, terminal)
    grid = layout.to_grid(torch.from_numpy(np.where(terminal, np.nan, values))).numpy()
    shown = np.zeros_like(terminal)
    shown[layout.shown_states().numpy()] = True
    drawn = values[shown & ~terminal] if (shown & ~terminal).any() else values[shown]
    norm = Normalize(drawn.min() if vmin is None else vmin, drawn.max() if vmax is None else vmax)

    if ax is None:
        _, ax = plt.subplots(figsize=(0.8 * layout.shape[1] + 1.5, 0.8 * layout.shape[0] + 0.4))
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    image = _draw_cells(ax, layout, grid, norm, "viridis", terminal)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if annotate:
        _write_values(ax, layout, values, image, corner=arrows is not None, fmt=fmt, terminal=terminal)
    if arrows is not None:
        quiver = ax.quiver(*arrows.T, angles="xy", scale_units="xy", scale=1, color="white",
                           edgecolor="black", linewidth=0.4, width=0.008, headwidth=3.5, headlength=3.5,
                           headaxislength=3)
        _arrow_key(ax, quiver, layout)
    if title is not None:
        ax.set_title(title)
    return ax


def _arrow_key(ax, quiver, layout: GridLayout) -> None:
    """Under the grid's right end: the arrow of π(a|s) = 1 (a ``QuiverKey``) and, to its left, the
    ``ARROW_KEY_LABEL`` text. The label is a text of its own because ``bbox_inches="tight"`` (and
    notebooks' inline figures) leave a ``QuiverKey`` out of the saved area; the text keeps it in."""
    y = ARROW_KEY_Y - (0.08 if layout.note else 0.0)  # under the note, if there is one
    start = 1.0 - ARROW_REACH / layout.shape[1]  # the arrow ends at the right edge
    ax.quiverkey(quiver, start, y, ARROW_REACH, "", labelpos="W", coordinates="axes")
    ax.text(start - 0.02, y, ARROW_KEY_LABEL, transform=ax.transAxes, ha="right", va="center", fontsize=8,
            gid=ARROW_KEY_GID)


def category_legend(ax, values, labels, title=None):
    r"""A legend of one colour patch per category on an Axes drawn by :func:`plot_grid_values`.

    For a per-state quantity that takes one value per category (e.g. the terrain reward
    r(s) = ψ_k of a :func:`~pgm_control.envs.terrain_gridworld` cell of terrain k), category k gets a
    patch in the colour ``values[k]`` has in the Axes' heat map, labelled ``labels[k]``. The legend
    sits under the grid. Returns the matplotlib ``Legend``.
    """
    if not ax.images:
        raise ValueError("category_legend needs an Axes drawn by plot_grid_values (it has no heat map)")
    values = _as_array(values, (None,), "values", "one value per category")
    labels = [str(label) for label in labels]
    if len(labels) != len(values):
        raise ValueError(f"labels must name each of the {len(values)} categories, got {len(labels)}")
    image = ax.images[0]
    handles = [Patch(facecolor=image.cmap(image.norm(value)), edgecolor="0.3", label=label)
               for value, label in zip(values, labels)]
    return ax.legend(handles=handles, title=title, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                     ncol=min(len(handles), 2), fontsize=8, title_fontsize=8, frameon=False)


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
