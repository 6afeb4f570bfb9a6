"""Grid figures: structure (images, arrows, patches, Axes), never pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from matplotlib.quiver import Quiver, QuiverKey

from pgm_control.envs import GridWorld, random_mdp, sutton_barto_gridworld, terrain_gridworld
from pgm_control.inference import state_marginals, value_iteration
from pgm_control.viz import category_legend, plot_grid_values, plot_state_marginals, policy_arrows
from pgm_control.viz.grid import ARROW_KEY_GID, ARROW_KEY_LABEL, ARROW_REACH, TERMINAL_GID

N, S, E, W = range(4)
# 3 x 4 with one wall; states in row-major order skip the wall at (1, 1):
#   0 1 2 3 / 4 # 5 6 / 7 8 9 10, so S = 11, the start is state 0, the trap 6, the goal 10.
MAP = ["S...", ".#.X", "...G"]


@pytest.fixture
def world():
    return GridWorld(MAP, step_reward=-1.0, goal_reward=0.0, trap_reward=-5.0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def quivers(ax):
    return [c for c in ax.collections if isinstance(c, Quiver)]


def one_hot(num_states, actions):
    policy = torch.zeros(num_states, 4, dtype=torch.float64)
    policy[torch.arange(num_states), torch.as_tensor(actions)] = 1.0
    return policy


def test_policy_arrows_point_north_up_and_east_right(world):
    policy = one_hot(world.num_states, [N] * world.num_states)
    policy[5] = one_hot(1, [E])[0]
    arrows = policy_arrows(world.layout, policy)
    assert arrows.shape == (world.num_states, 4)
    x, y, dx, dy = arrows[0]
    assert (x, y) == (0.0, 0.0) and dx == 0.0 and dy < 0  # N: towards row - 1, drawn upwards
    x, y, dx, dy = arrows[5]
    assert (x, y) == (2.0, 1.0) and dx > 0 and dy == 0.0  # state 5 is (row 1, column 2)


def test_policy_arrows_length_is_proportional_to_probability(world):
    policy = torch.tensor([[0.5, 0.25, 0.25, 0.0]] * world.num_states, dtype=torch.float64)
    arrows = policy_arrows(world.layout, policy)
    lengths = np.hypot(arrows[:, 2], arrows[:, 3]).reshape(world.num_states, 3)
    np.testing.assert_allclose(lengths / lengths[:, :1], [[1.0, 0.5, 0.5]] * world.num_states)


def test_policy_arrows_skip_terminal_states(world):
    uniform = torch.full((world.num_states, 4), 0.25, dtype=torch.float64)
    arrows = policy_arrows(world.layout, uniform, terminal=world.terminal)
    assert len(arrows) == 4 * (world.num_states - 2)


def test_values_heat_map_structure(world):
    values = torch.arange(world.num_states, dtype=torch.float64)
    ax = plot_grid_values(world, values, title="V")
    assert isinstance(ax, plt.Axes)
    assert ax.get_title() == "V"
    assert len(ax.images) == 1
    assert np.isnan(ax.images[0].get_array().filled(np.nan)[1, 1])  # the wall is blank
    hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() and p.get_gid() != TERMINAL_GID]
    assert len(hatched) == 1
    marked = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(marked) == 3  # start, trap, goal
    assert quivers(ax) == []
    texts = [t.get_text() for t in ax.texts]
    assert {f"{v:.1f}" for v in values.tolist()} <= set(texts)
    assert {"S", "X", "G"} <= set(texts)


def test_annotate_false_writes_no_values(world):
    ax = plot_grid_values(world, torch.zeros(world.num_states), annotate=False)
    assert sorted(t.get_text() for t in ax.texts) == ["G", "S", "X", "goal", "trap"]


def test_terminal_cells_are_hatched_labelled_and_outside_the_colour_scale(world):
    # V = 0 in the trap (6) and the goal (10), below 0 elsewhere: neither may take the best cell's colour.
    values = -torch.arange(1.0, world.num_states + 1, dtype=torch.float64)
    values[world.terminal] = 0.0
    ax = plot_grid_values(world, values)
    terminal_cells = {(int(p.get_x() + 0.5), int(p.get_y() + 0.5)): p
                      for p in ax.patches if p.get_gid() == TERMINAL_GID}
    assert set(terminal_cells) == {(3, 1), (3, 2)}  # (x, y) = (column, row) of the trap and the goal
    assert all(patch.get_hatch() == "xx" for patch in terminal_cells.values())
    words = sorted(t.get_text() for t in ax.texts if t.get_gid() == TERMINAL_GID)
    assert words == ["goal", "trap"]
    image = ax.images[0].get_array()
    assert image.mask[1, 3] and image.mask[2, 3]  # not coloured by the heat map
    live = values[~world.terminal]
    assert ax.images[0].get_clim() == (live.min().item(), live.max().item())
    assert [t.get_text() for t in ax.texts].count("0.0") == 2  # their values are still written


def test_terminal_cells_without_a_map_letter_say_terminal():
    world = GridWorld(["S..", "..."]).replace(terminal=[2])
    ax = plot_grid_values(world, torch.zeros(world.num_states))
    assert [t.get_text() for t in ax.texts if t.get_gid() == TERMINAL_GID] == ["terminal"]


def test_arrow_key_shows_the_length_of_probability_one(world):
    uniform = torch.full((world.num_states, 4), 0.25, dtype=torch.float64)
    ax = plot_grid_values(world, torch.zeros(world.num_states), uniform)
    (key,) = [artist for artist in ax.artists if isinstance(artist, QuiverKey)]
    assert key.U == ARROW_REACH and key.Q is quivers(ax)[0]
    assert [t.get_text() for t in ax.texts if t.get_gid() == ARROW_KEY_GID] == [ARROW_KEY_LABEL]
    assert "π(a|s)" in ARROW_KEY_LABEL
    # Without a policy there are no arrows and no key.
    bare = plot_grid_values(world, torch.zeros(world.num_states))
    assert not [artist for artist in bare.artists if isinstance(artist, QuiverKey)]
    assert not [t for t in bare.texts if t.get_gid() == ARROW_KEY_GID]


def test_category_legend_names_each_terrain_in_its_colour():
    weights = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    world = terrain_gridworld(size=4, num_terrains=3, weights=weights)
    ax = plot_grid_values(world, world.rewards[:, 0], annotate=False)
    labels = [f"terrain {k}: r = {w:+.2f}" for k, w in enumerate(weights.tolist())]
    legend = category_legend(ax, weights, labels, title="terrain")
    assert ax.get_legend() is legend
    assert [t.get_text() for t in legend.get_texts()] == labels
    assert legend.get_title().get_text() == "terrain"
    image = ax.images[0]
    expected = [to_rgba(image.cmap(image.norm(w))) for w in weights.tolist()]
    assert [to_rgba(patch.get_facecolor()) for patch in legend.get_patches()] == expected
    with pytest.raises(ValueError, match="labels must name each of the 3 categories"):
        category_legend(ax, weights, labels[:2])
    with pytest.raises(ValueError, match="plot_grid_values"):
        category_legend(plt.subplots()[1], weights, labels)


def test_greedy_policy_shows_every_tied_arrow():
    world = sutton_barto_gridworld()
    optimal = value_iteration(world)
    ax = plot_grid_values(world, optimal.v, optimal.policy)
    (arrows,) = quivers(ax)
    # Figure 3.5: 4 arrows in A and B, 2 in most cells, 1 along the top row and beside B.
    assert len(arrows.U) == int((optimal.policy > 0).sum()) == 45


def test_draws_on_given_axes(world):
    _, (left, right) = plt.subplots(1, 2)
    ax = plot_grid_values(world, torch.zeros(world.num_states), ax=right)
    assert ax is right and len(left.images) == 0 and len(right.images) == 1


def test_bad_inputs_raise(world):
    with pytest.raises(ValueError, match="grid layout"):
        plot_grid_values(random_mdp(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match=r"values must have shape \[11\].*pass v\[t\]"):
        plot_grid_values(world, torch.zeros(5, world.num_states))
    with pytest.raises(ValueError, match=r"policy must have shape \[11, 4\]"):
        plot_grid_values(world, torch.zeros(world.num_states), torch.ones(world.num_states, 3))


def test_state_marginals_small_multiples(world):
    marginals = state_marginals(world, 7)
    axes = plot_state_marginals(world, marginals)
    assert axes.shape == (6,)
    assert all(len(ax.images) == 1 for ax in axes)
    assert [ax.get_title() for ax in axes] == ["t = 1", "t = 2", "t = 3", "t = 5", "t = 6", "t = 7"]
    shown = axes[0].images[0].get_array()
    np.testing.assert_allclose(shown[0, 0], 1.0)  # p(s_1) is the start cell
    assert len({ax.figure for ax in axes}) == 1


def test_state_marginals_on_given_axes_and_times(world):
    marginals = state_marginals(world, 5)
    _, given = plt.subplots(2, 1)
    axes = plot_state_marginals(world, marginals, times=[0, 4], axes=given)
    assert list(axes) == list(given)
    assert [ax.get_title() for ax in axes] == ["t = 1", "t = 5"]


def test_state_marginals_bad_inputs_raise(world):
    marginals = state_marginals(world, 4)
    with pytest.raises(ValueError, match=r"marginals must have shape \[T, 11\]"):
        plot_state_marginals(world, marginals[0])
    with pytest.raises(ValueError, match=r"times must .* in \[0, 4\)"):
        plot_state_marginals(world, marginals, times=[4])
    with pytest.raises(ValueError, match="one Axes per time"):
        plot_state_marginals(world, marginals, times=[0, 1], axes=plt.subplots(1, 3)[1])


def test_plot_grid_values_shared_colour_scale_and_format():
    world = GridWorld(["..", ".."])
    ax = plot_grid_values(world, torch.tensor([0.01, 0.02, 0.03, 0.04]), vmin=0.0, vmax=1.0, fmt=".2f")
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert sorted(text.get_text() for text in ax.texts) == ["0.01", "0.02", "0.03", "0.04"]
