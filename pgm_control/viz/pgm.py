r"""A Pyro model as a graphical model, drawn (Lecture 20, "MDP as a Graphical Model").

Data first, drawing last: :func:`pgm_graph` runs a Pyro model and reads its graph off the trace,
:func:`pgm_layout` places the nodes in time slices, and :func:`draw_pgm` only draws. For
:func:`~pgm_control.models.optimality.optimality_model` the graph is the lecture's

    s_t → a_t,   s_t → s_{t+1},   a_t → s_{t+1},   s_t → O_t,   a_t → O_t,

with every O_t observed (shaded). For :func:`~pgm_control.models.irl.irl_model` (no time-indexed
sites: one vectorized site per kind) it is ψ → a_t (and ψ → s_{t+1} for ``variant="trajectory"``,
whose posterior dynamics depend on ψ), with a_t and s_{t+1} observed inside the plates
demonstrations × steps. Plates are drawn as boxes labelled with their name and size. Tests check the
graph and the drawing's structure, never pixels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle
from pyro import poutine
from pyro.infer.inspect import get_dependencies

# Site names ``<base>_<t>`` carry code time t; the base names of the optimality model's kinds.
TIMED_NAME = re.compile(r"^(?P<base>.+)_(?P<time>\d+)$")
KIND_OF_BASE = {"s": "state", "a": "action", "O": "optimality"}
# Sites without a time suffix that the library's models name (the IRL models): (kind, label).
NAMED_SITES = {
    "psi": ("parameter", r"$\psi$"),
    "temperature": ("parameter", r"$\alpha$"),
    "actions": ("action", r"$a_t$"),
    "transitions": ("state", r"$s_{t+1}$"),
}
# Rows of the drawing, bottom to top, as in the lecture: states, actions, optimality variables.
# Kinds not listed here get the rows above, in the order they first appear.
KIND_ROWS = {"state": 0, "action": 1, "optimality": 2}
# Within a time slice, a node of the row sits this far right of the slice's x (in slice widths), so
# that s_t → O_t does not pass through a_t and a_t → s_{t+1} does not cross s_{t+1} → O_{t+1}.
ROW_SHIFTS = {0: 0.0, 1: 0.4, 2: 0.2}
SLICE_WIDTH = 1.6
ROW_HEIGHT = 1.1
NODE_RADIUS = 0.3
# Plates: a box this far outside its nodes' circles, each enclosed plate adding PLATE_STEP (room for
# the enclosed plate's label); in layouts without time, groups of nodes in different plates sit
# PLATE_GAP further apart than nodes of one group.
PLATE_MARGIN = 0.15
PLATE_STEP = 0.25
PLATE_GAP = 0.6
# A plate's label (fontsize PLATE_FONTSIZE) is about this wide per character in data units, at the
# default figure size (1.1 inch per unit; a 9 pt glyph is about 0.075 inch); a box widens to fit it.
PLATE_FONTSIZE = 9
PLATE_CHAR_WIDTH = 0.075
# Arrows that would cross a node bend by this arc3 "rad" (apex at rad/2 of their length off the line).
BEND = 0.3
OBSERVED_COLOUR = "0.75"
LATENT_COLOUR = "white"


def site_kind(name: str) -> str:
    """The kind of a site from its name: ``"state"``, ``"action"`` or ``"optimality"`` for
    ``s_t``, ``a_t``, ``O_t``; the kind of the IRL models' sites in ``NAMED_SITES`` (``psi`` →
    ``"parameter"``, ``actions`` → ``"action"``, ``transitions`` → ``"state"``); ``"other"`` for any
    other name."""
    if name in NAMED_SITES:
        return NAMED_SITES[name][0]
    match = TIMED_NAME.match(name)
    return KIND_OF_BASE.get(match["base"], "other") if match else "other"


def site_time(name: str) -> int | None:
    """Code time t of a site named ``<base>_<t>`` (e.g. 2 for ``"s_2"``); None without a suffix."""
    match = TIMED_NAME.match(name)
    return int(match["time"]) if match else None


def site_label(name: str) -> str:
    r"""Math label of a site, in the slides' 1-based time: ``"s_0"`` → ``"$s_{1}$"``;
    ``"obs_2"`` → ``"obs$_{3}$"``; the IRL models' sites in ``NAMED_SITES`` get their symbols
    (``"psi"`` → ``"$\\psi$"``, ``"actions"`` → ``"$a_t$"``); other names stay as they are."""
    if name in NAMED_SITES:
        return NAMED_SITES[name][1]
    match = TIMED_NAME.match(name)
    if match is None:
        return name.replace("$", r"\$")
    base, time = match["base"].replace("$", r"\$"), int(match["time"]) + 1
    return f"${base}_{{{time}}}$" if len(base) == 1 else f"{base}$_{{{time}}}$"


def pgm_graph(model: Callable, *model_args, kind_of: Callable[[str], str] | None = None,
              **model_kwargs) -> nx.DiGraph:
    r"""The directed graphical model of a Pyro model, read off one run of the model itself.

    The model runs once (no enumeration needed) under :func:`pyro.poutine.uncondition` and
    :func:`pyro.infer.inspect.get_dependencies`, which tracks which sample sites' values each site's
    ``log_prob`` depends on; each value carries only its own site's name, so the dependencies are the
    direct ones (the parents), not the ancestors. Unconditioning lets observed sites be parents too
    (``get_dependencies`` alone treats observed values as data and drops edges out of them). A second,
    conditioned run gives each site's ``is_observed``. Deterministic (``Delta``) sites are left out.

    Args:
        model: a Pyro model (a callable with ``pyro.sample`` sites), e.g. ``optimality_model``.
        *model_args: the model's positional arguments.
        **model_kwargs: the model's keyword arguments.
        kind_of: maps a site name to its kind; default :func:`site_kind` (``s_t``/``a_t``/``O_t`` →
            ``"state"``/``"action"``/``"optimality"``, else ``"other"``).

    Returns a ``networkx.DiGraph`` with one node per sample site (named as the site, in model
    order) and an edge u → v for each parent u of v. Node attributes:

    - ``observed`` (bool): the site is observed (``obs=`` given);
    - ``kind`` (str): from ``kind_of``;
    - ``time`` (int or None): code time t from a ``_t`` name suffix (slides' t + 1);
    - ``label`` (str): a matplotlib math label in the slides' time, e.g. ``"$s_{1}$"`` for ``s_0``;
    - ``plates`` (tuple of str): the vectorized plates the site sits in, outermost first.

    ``graph.graph["model"]`` is the model's name; ``graph.graph["plates"]`` maps each vectorized
    plate's name to its size, outermost first.

    Example:
        >>> from pgm_control.envs import lottery_mdp
        >>> from pgm_control.models.optimality import optimality_model
        >>> graph = pgm_graph(optimality_model, lottery_mdp(), 2)
        >>> sorted(graph.predecessors("s_1")), graph.nodes["O_1"]["observed"]
        (['a_0', 's_0'], True)
        >>> graph.nodes["a_1"]["kind"], graph.nodes["a_1"]["time"], graph.nodes["a_1"]["label"]
        ('action', 1, '$a_{2}$')

        The IRL model: ψ is the parent of the demonstrated actions, inside demonstrations × steps.

        >>> import torch
        >>> from pgm_control import Demonstrations
        >>> from pgm_control.envs import terrain_gridworld
        >>> from pgm_control.models import irl_model
        >>> demos = Demonstrations(torch.tensor([[0, 1, 2], [0, 3, 6]]), torch.tensor([[2, 2], [1, 1]]))
        >>> graph = pgm_graph(irl_model, terrain_gridworld(size=3, num_terrains=2), demos, 2)
        >>> list(graph.edges), graph.nodes["actions"]["plates"], graph.graph["plates"]
        ([('psi', 'actions')], ('demonstrations', 'steps'), {'demonstrations': 2, 'steps': 2})
    """
    if not callable(model):
        raise TypeError(f"pgm_graph needs a Pyro model (a callable), got {type(model).__name__}; "
                        f"pass the function and its arguments, e.g. pgm_graph(optimality_model, mdp, 3)")
    if kind_of is None:
        kind_of = site_kind
    elif not callable(kind_of):
        raise TypeError(f"kind_of must map a site name to a kind (a callable), got {type(kind_of).__name__}")

    parents = get_dependencies(poutine.uncondition(model), model_args, model_kwargs)["prior_dependencies"]
    if not parents:
        raise ValueError(f"{getattr(model, '__name__', model)!r} has no sample sites: pgm_graph draws the "
                         f"pyro.sample sites of a model")
    trace = poutine.trace(model).get_trace(*model_args, **model_kwargs)
    missing = [name for name in parents if name not in trace.nodes]
    if missing:
        raise ValueError(f"sites {missing} appeared in one run of the model and not in another: pgm_graph "
                         f"needs a model whose sites do not depend on sampled values")

    plate_sizes = {frame.name: frame.size for name in parents
                   for frame in trace.nodes[name]["cond_indep_stack"] if frame.vectorized}
    graph = nx.DiGraph(model=getattr(model, "__name__", type(model).__name__), plates=plate_sizes)
    for name in parents:
        site = trace.nodes[name]
        graph.add_node(
            name,
            observed=bool(site["is_observed"]),
            kind=kind_of(name),
            time=site_time(name),
            label=site_label(name),
            plates=tuple(frame.name for frame in site["cond_indep_stack"] if frame.vectorized),
        )
    graph.add_edges_from((parent, name) for name, upstream in parents.items()
                         for parent in upstream if parent != name)
    return graph


def pgm_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    r"""Positions (x, y) of the nodes of a :func:`pgm_graph` graph, in time slices.

    A node of time t sits in column x = ``SLICE_WIDTH`` · t (shifted right by its row's
    ``ROW_SHIFTS``), in the row of its kind: states at the bottom, actions above, optimality
    variables on top (``KIND_ROWS``), other kinds in rows above those, in order of appearance. Nodes
    without a time go to the side: to the right of the last slice when a parent has a time (they come
    after the sequence), else to the left of the first (global variables, parameters), one column
    further out for each earlier such node of the same row and side. A graph without any time (e.g.
    the IRL model's vectorized sites) is laid out by its plates instead: :func:`plate_layout`.
    """
    times = [time for _, time in graph.nodes(data="time") if time is not None]
    if not times:
        return plate_layout(graph)
    rows = kind_rows(graph)
    first, last = min(times), max(times)
    side_counts = {}
    positions = {}
    for name, data in graph.nodes(data=True):
        row = rows[data["kind"]]
        column = data["time"]
        if column is None:
            after = any(graph.nodes[parent]["time"] is not None for parent in graph.predecessors(name))
            count = side_counts[row, after] = side_counts.get((row, after), 0) + 1
            column = last + count if after else first - count
        positions[name] = (SLICE_WIDTH * (column + ROW_SHIFTS.get(row, 0.0)), ROW_HEIGHT * row)
    return positions


def kind_rows(graph: nx.DiGraph) -> dict[str, int]:
    """The row of each kind: ``KIND_ROWS``, then the graph's other kinds above, in order of appearance."""
    rows = dict(KIND_ROWS)
    for _, kind in graph.nodes(data="kind"):
        rows.setdefault(kind, len(rows))
    return rows


def plate_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    r"""Positions (x, y) of the nodes of a graph without times, grouped by their plates.

    Nodes that share their plates form a group; a group sits one column (``SLICE_WIDTH``) right of
    every group with an edge into it (groups in a cycle share a column). In a column, groups are stacked
    top to bottom in order of appearance, ``PLATE_GAP`` apart, and a group's nodes by kind, top to
    bottom in reverse ``kind_rows`` order (actions above states, as in the time-sliced layout), each
    column centred on y = 0. For the IRL model: ψ on the left, a_t above s_{t+1} on its right.
    """
    group_of = {name: tuple(plates) for name, plates in graph.nodes(data="plates", default=())}
    groups = nx.DiGraph()
    groups.add_nodes_from(group_of.values())
    groups.add_edges_from((group_of[u], group_of[v]) for u, v in graph.edges if group_of[u] != group_of[v])
    condensed = nx.condensation(groups)
    depth = {}
    for component in nx.topological_sort(condensed):
        depth[component] = max((depth[parent] + 1 for parent in condensed.predecessors(component)), default=0)
    group_index = {group: index for index, group in enumerate(groups)}
    rows = kind_rows(graph)
    columns = {}
    for name in graph:
        columns.setdefault(depth[condensed.graph["mapping"][group_of[name]]], []).append(name)
    positions = {}
    for column, names in columns.items():
        names.sort(key=lambda name: (group_index[group_of[name]], -rows[graph.nodes[name]["kind"]]))
        heights = [0.0]
        for above, below in pairwise(names):
            gap = ROW_HEIGHT + (PLATE_GAP if group_of[above] != group_of[below] else 0.0)
            heights.append(heights[-1] - gap)
        centre = (heights[0] + heights[-1]) / 2
        positions.update({name: (SLICE_WIDTH * column, y - centre) for name, y in zip(names, heights)})
    return positions


def plate_label(graph: nx.DiGraph, plate: str) -> str:
    """A plate's label: its name and size, e.g. ``"steps (4)"``."""
    return f"{plate} ({graph.graph['plates'][plate]})"


def plate_boxes(graph: nx.DiGraph, xy: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(lower left, upper right) of a box for each plate of ``graph.graph["plates"]`` that holds nodes:
    ``PLATE_MARGIN`` outside its nodes' circles, plus ``PLATE_STEP`` per plate nested inside it, and
    widened on both sides where its label would not fit."""
    boxes = {}
    for plate in graph.graph.get("plates", {}):
        inside = [(name, plates) for name, plates in graph.nodes(data="plates", default=()) if plate in plates]
        if not inside:
            continue
        nested = max(len(plates) - 1 - plates.index(plate) for _, plates in inside)
        pad = NODE_RADIUS + PLATE_MARGIN + PLATE_STEP * nested
        points = np.array([xy[name] for name, _ in inside])
        lower, upper = points.min(axis=0) - pad, points.max(axis=0) + pad
        widen = max(0.0, PLATE_CHAR_WIDTH * len(plate_label(graph, plate)) + 0.12 - (upper[0] - lower[0])) / 2
        shift = np.array([widen, 0.0])
        boxes[plate] = (lower - shift, upper + shift)
    return boxes


def _blocked(start: np.ndarray, end: np.ndarray, others: np.ndarray) -> bool:
    """Whether the segment start–end passes within a node radius of any point in ``others``."""
    if len(others) == 0:
        return False
    direction = end - start
    along = np.clip((others - start) @ direction / (direction @ direction), 0.0, 1.0)
    distances = np.linalg.norm(start + along[:, None] * direction - others, axis=1)
    return bool((distances < 1.2 * NODE_RADIUS).any())


def draw_pgm(graph: nx.DiGraph, ax=None, positions=None, title=None):
    r"""Draw a :func:`pgm_graph` graph as the lecture draws a graphical model.

    Args:
        graph: a ``networkx.DiGraph`` whose nodes have ``observed``, ``kind``, ``time`` and
            ``label`` attributes (as :func:`pgm_graph` makes).
        ax: the Axes to draw on (a new figure if None).
        positions: {node: (x, y)}; default :func:`pgm_layout` (time slices as columns).
        title: the Axes title.

    Draws one :class:`~matplotlib.patches.Circle` per node (its gid the node's name; observed nodes
    filled grey ``OBSERVED_COLOUR``, latent ones white), its label inside, one
    :class:`~matplotlib.patches.FancyArrowPatch` per edge (gid ``"u->v"``), clipped at the circles and
    bent (``BEND``) where a straight arrow would cross another node, and one unfilled
    :class:`~matplotlib.patches.Rectangle` per plate of ``graph.graph["plates"]`` around the nodes in
    it (gid ``"plate:<name>"``), labelled ``"<name> (<size>)"`` in its lower right corner (a text with
    the same gid). The limits show every node, arc and plate; the axis is off. Returns the matplotlib
    ``Axes``.
    """
    if not isinstance(graph, nx.DiGraph):
        raise TypeError(f"draw_pgm draws a networkx.DiGraph (from pgm_graph), got {type(graph).__name__}")
    if graph.number_of_nodes() == 0:
        raise ValueError("draw_pgm got a graph without nodes; build it with pgm_graph(model, *args)")
    needed = ("observed", "kind", "time", "label")
    for name, data in graph.nodes(data=True):
        absent = [key for key in needed if key not in data]
        if absent:
            raise ValueError(f"node {name!r} lacks the attributes {absent}: build the graph with pgm_graph")
    positions = pgm_layout(graph) if positions is None else positions
    absent = [name for name in graph if name not in positions]
    if absent:
        raise ValueError(f"positions must place every node; missing {absent}")

    xy = {name: np.asarray(positions[name], dtype=float) for name in graph}
    bends = {}
    extent = [*xy.values()]  # what the limits must show: the nodes and the bent arrows' apexes
    for parent, child in graph.edges:
        start, end = xy[parent], xy[child]
        others = np.array([xy[name] for name in graph if name not in (parent, child)]).reshape(-1, 2)
        bends[parent, child] = bend = BEND if _blocked(start, end, others) else 0.0
        # arc3 puts the control point at the midpoint + bend · (dy, -dx); the curve's apex is halfway.
        (dx, dy) = end - start
        extent.append((start + end) / 2 + bend / 2 * np.array([dy, -dx]))
    boxes = plate_boxes(graph, xy)
    extent += [corner + sign * NODE_RADIUS for box in boxes.values() for corner, sign in zip(box, (1, -1))]
    low, high = np.min(extent, axis=0) - NODE_RADIUS - 0.2, np.max(extent, axis=0) + NODE_RADIUS + 0.2

    if ax is None:
        width, height = high - low
        _, ax = plt.subplots(figsize=(1.1 * width + 0.4, 1.1 * height + 0.4))
    circles = {}
    for name, data in graph.nodes(data=True):
        colour = OBSERVED_COLOUR if data["observed"] else LATENT_COLOUR
        circles[name] = Circle(xy[name], NODE_RADIUS, facecolor=colour, edgecolor="black", linewidth=1.2,
                               zorder=2, gid=name)
        ax.add_patch(circles[name])
        ax.text(*xy[name], data["label"], ha="center", va="center", fontsize=12, zorder=3)
    for (parent, child), bend in bends.items():
        ax.add_patch(FancyArrowPatch(xy[parent], xy[child], patchA=circles[parent], patchB=circles[child],
                                     arrowstyle="-|>", mutation_scale=14, linewidth=1.2, color="black",
                                     connectionstyle=f"arc3,rad={bend}", zorder=1, gid=f"{parent}->{child}"))
    for plate, (lower, upper) in boxes.items():
        ax.add_patch(Rectangle(lower, *(upper - lower), fill=False, edgecolor="black", linewidth=1.0, zorder=0,
                               gid=f"plate:{plate}"))
        ax.text(upper[0] - 0.06, lower[1] + 0.05, plate_label(graph, plate), ha="right", va="bottom",
                fontsize=PLATE_FONTSIZE, zorder=3, gid=f"plate:{plate}")
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax
