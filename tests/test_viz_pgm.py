"""The model drawn as a graphical model: the graph's structure and the drawing's patches, never pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import pyro
import pyro.distributions as dist
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from pgm_control import Demonstrations
from pgm_control.envs import lottery_mdp, random_mdp, terrain_gridworld
from pgm_control.models import hierarchical_irl_model, irl_model
from pgm_control.models.optimality import optimality_model
from pgm_control.viz import draw_pgm, pgm_graph
from pgm_control.viz.pgm import OBSERVED_COLOUR, pgm_layout, site_kind, site_label, site_time


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lecture_edges(horizon):
    """The lecture's edges, written out: s_t→a_t, s_t→O_t, a_t→O_t, s_t→s_{t+1}, a_t→s_{t+1}."""
    edges = set()
    for t in range(horizon):
        edges |= {(f"s_{t}", f"a_{t}"), (f"s_{t}", f"O_{t}"), (f"a_{t}", f"O_{t}")}
        if t + 1 < horizon:
            edges |= {(f"s_{t}", f"s_{t + 1}"), (f"a_{t}", f"s_{t + 1}")}
    return edges


def toy_model(data):
    """A latent z, an observed chain x_t (each x_t a parent of the next), a deterministic w, a latent y."""
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    x = pyro.sample("x_0", dist.Normal(z, 1.0), obs=data[0])
    for t in range(1, len(data)):
        x = pyro.sample(f"x_{t}", dist.Normal(x + z, 1.0), obs=data[t])
    pyro.deterministic("w", 2 * z)
    pyro.sample("y", dist.Normal(x, 1.0))


def patches(ax, kind):
    return [patch for patch in ax.patches if isinstance(patch, kind)]


@pytest.mark.parametrize("horizon", [1, 3, 4])
@pytest.mark.parametrize("successors", [False, True])
def test_optimality_model_has_exactly_the_lecture_edges(horizon, successors):
    mdp = lottery_mdp().to_successors() if successors else lottery_mdp()
    graph = pgm_graph(optimality_model, mdp, horizon)
    assert isinstance(graph, nx.DiGraph)
    assert list(graph) == [f"{kind}_{t}" for t in range(horizon) for kind in "saO"]  # model order
    assert set(graph.edges) == lecture_edges(horizon)
    assert graph.number_of_edges() == 5 * horizon - 2
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.graph["model"] == "optimality_model"
    assert graph.graph["plates"] == {"trajectories": 1}


def test_optimality_model_node_attributes():
    graph = pgm_graph(optimality_model, lottery_mdp(), 3, num_trajectories=4)
    kinds = {"s": "state", "a": "action", "O": "optimality"}
    for name, data in graph.nodes(data=True):
        base, time = name.split("_")
        assert data["observed"] == (base == "O")
        assert data["kind"] == kinds[base]
        assert data["time"] == int(time)
        assert data["label"] == f"${base}_{{{int(time) + 1}}}$"  # the slides' 1-based time
        assert data["plates"] == ("trajectories",)


def test_graph_is_the_same_for_other_arguments_and_under_enumeration():
    mdp = random_mdp(5, 3, seed=0)
    expected = lecture_edges(4)
    assert set(pgm_graph(optimality_model, mdp, 4, num_trajectories=7, temperature=0.5).edges) == expected
    # A model marked for enumeration is still only run once, forward: no enumeration needed.
    enumerated = pyro.infer.config_enumerate(optimality_model)
    assert set(pgm_graph(enumerated, mdp, 4).edges) == expected


def test_generic_model_edges_out_of_observed_sites_and_no_deterministic_nodes():
    graph = pgm_graph(toy_model, torch.zeros(3))
    assert list(graph) == ["z", "x_0", "x_1", "x_2", "y"]  # w (a Delta) is left out
    assert set(graph.edges) == {("z", "x_0"), ("z", "x_1"), ("z", "x_2"),
                                ("x_0", "x_1"), ("x_1", "x_2"), ("x_2", "y")}
    assert {name for name, observed in graph.nodes(data="observed") if observed} == {"x_0", "x_1", "x_2"}
    assert dict(graph.nodes(data="kind")) == dict.fromkeys(graph, "other")
    assert dict(graph.nodes(data="time")) == {"z": None, "x_0": 0, "x_1": 1, "x_2": 2, "y": None}
    assert graph.nodes["x_1"]["label"] == "$x_{2}$"
    assert graph.nodes["z"]["plates"] == ()


def test_kind_of_overrides_the_kinds():
    graph = pgm_graph(toy_model, torch.zeros(2), kind_of=lambda name: "latent" if name == "z" else "data")
    assert dict(graph.nodes(data="kind")) == {"z": "latent", "x_0": "data", "x_1": "data", "y": "data"}


@pytest.mark.parametrize(("name", "kind", "time", "label"), [
    ("s_0", "state", 0, "$s_{1}$"),
    ("a_11", "action", 11, "$a_{12}$"),
    ("O_2", "optimality", 2, "$O_{3}$"),
    ("obs_2", "other", 2, "obs$_{3}$"),
    ("s", "other", None, "s"),
    ("s_t", "other", None, "s_t"),
])
def test_site_name_parsing(name, kind, time, label):
    assert (site_kind(name), site_time(name), site_label(name)) == (kind, time, label)


def test_layout_puts_time_slices_in_columns_and_kinds_in_rows():
    graph = pgm_graph(optimality_model, lottery_mdp(), 3)
    positions = pgm_layout(graph)
    for t in range(3):
        (_, ys), (_, ya), (_, yo) = (positions[f"{kind}_{t}"] for kind in "saO")
        assert ys < ya < yo  # states at the bottom, actions above, optimality on top
        assert positions[f"s_{t}"][1] == positions["s_0"][1]  # one row per kind
    slices = [[positions[f"{kind}_{t}"][0] for kind in "saO"] for t in range(3)]
    assert all(max(slices[t]) < min(slices[t + 1]) for t in range(2))  # time slices as columns
    # No time: to the left of the slices for roots (z), to the right after the sequence (y <- x_1).
    toy = pgm_layout(pgm_graph(toy_model, torch.zeros(2)))
    assert toy["z"][0] < toy["x_0"][0] < toy["x_1"][0] < toy["y"][0]
    assert toy["z"][1] == toy["x_0"][1] == toy["y"][1]  # one kind ("other"), one row


def test_draw_pgm_draws_one_circle_per_node_and_one_arrow_per_edge():
    graph = pgm_graph(optimality_model, lottery_mdp(), 3)
    ax = draw_pgm(graph, title="MDP")
    assert isinstance(ax, plt.Axes)
    circles = {circle.get_gid(): circle for circle in patches(ax, Circle)}
    assert set(circles) == set(graph)
    for name, observed in graph.nodes(data="observed"):
        colour = OBSERVED_COLOUR if observed else "white"
        assert circles[name].get_facecolor() == to_rgba(colour)
    assert to_rgba(OBSERVED_COLOUR) != to_rgba("white")
    arrows = patches(ax, FancyArrowPatch)
    assert sorted(arrow.get_gid() for arrow in arrows) == sorted(f"{u}->{v}" for u, v in graph.edges)
    node_texts = [text.get_text() for text in ax.texts if not (text.get_gid() or "").startswith("plate:")]
    assert sorted(node_texts) == sorted(label for _, label in graph.nodes(data="label"))
    assert ax.get_title() == "MDP"
    # One plate, around every node: N trajectories.
    (plate,) = patches(ax, Rectangle)
    assert plate.get_gid() == "plate:trajectories"
    assert [text.get_text() for text in ax.texts if text.get_gid() == "plate:trajectories"] == ["trajectories (1)"]


def test_draw_pgm_on_given_axes_bends_arrows_around_nodes():
    graph = pgm_graph(toy_model, torch.zeros(2))
    _, ax = plt.subplots()
    # z, x_0, x_1 on one line: z -> x_1 would pass through x_0, so it bends; z -> x_0 stays straight.
    positions = {"z": (0, 0), "x_0": (1, 0), "x_1": (2, 0), "y": (3, 1)}
    assert draw_pgm(graph, ax=ax, positions=positions) is ax
    bends = {arrow.get_gid(): arrow.get_connectionstyle().rad for arrow in patches(ax, FancyArrowPatch)}
    assert bends["z->x_1"] != 0 and bends["z->x_0"] == 0 and bends["x_0->x_1"] == 0
    assert len(patches(ax, Circle)) == 4


def test_bad_inputs_say_how_to_fix_them():
    with pytest.raises(TypeError, match="callable"):
        pgm_graph(lottery_mdp(), 3)
    with pytest.raises(TypeError, match="kind_of"):
        pgm_graph(toy_model, torch.zeros(2), kind_of="state")
    with pytest.raises(ValueError, match="no sample sites"):
        pgm_graph(lambda: None)
    with pytest.raises(ValueError, match="horizon"):  # the model's own validation runs
        pgm_graph(optimality_model, lottery_mdp(), 0)
    with pytest.raises(TypeError, match="DiGraph"):
        draw_pgm([("s_0", "a_0")])
    with pytest.raises(ValueError, match="without nodes"):
        draw_pgm(nx.DiGraph())
    bare = nx.DiGraph([("s_0", "a_0")])
    with pytest.raises(ValueError, match="pgm_graph"):
        draw_pgm(bare)
    graph = pgm_graph(toy_model, torch.zeros(2))
    with pytest.raises(ValueError, match="missing"):
        draw_pgm(graph, positions={"z": (0, 0)})


def irl_demos():
    """Two demonstrations of two steps on the 3x3 terrain grid, by demonstrators 0 and 1."""
    return Demonstrations(torch.tensor([[0, 1, 2], [0, 3, 6]]), torch.tensor([[2, 2], [1, 1]]),
                          demonstrators=torch.tensor([0, 1]))


@pytest.mark.parametrize(("model", "kwargs", "edges"), [
    # ψ sets the soft-optimal policy of the demonstrated actions; the true dynamics do not depend on it.
    (irl_model, {}, {("psi", "actions")}),
    # The trajectory variant's posterior dynamics p_ψ(s'|s, a) depend on ψ too.
    (irl_model, {"variant": "trajectory"}, {("psi", "actions"), ("psi", "transitions")}),
    # One temperature per demonstrator, all shaping the actions.
    (hierarchical_irl_model, {}, {("psi", "actions"), ("temperature", "actions")}),
])
def test_irl_models_have_psi_to_actions_inside_the_plates(model, kwargs, edges):
    graph = pgm_graph(model, terrain_gridworld(size=3, num_terrains=2), irl_demos(), 2, **kwargs)
    assert set(graph.edges) == edges
    assert graph.graph["plates"] == ({"demonstrations": 2, "steps": 2} if model is irl_model
                                     else {"demonstrators": 2, "demonstrations": 2, "steps": 2})
    assert graph.nodes["psi"]["plates"] == () and not graph.nodes["psi"]["observed"]
    for name in ("actions", "transitions"):
        assert graph.nodes[name]["plates"] == ("demonstrations", "steps")
        assert graph.nodes[name]["observed"]
    assert [graph.nodes[name]["label"] for name in ("psi", "actions", "transitions")] == \
        ["$\\psi$", "$a_t$", "$s_{t+1}$"]


def test_irl_model_layout_and_drawing_show_psi_left_of_the_plates():
    graph = pgm_graph(irl_model, terrain_gridworld(size=3, num_terrains=2), irl_demos(), 2,
                      variant="trajectory")
    positions = pgm_layout(graph)
    assert positions["psi"][0] < positions["actions"][0] == positions["transitions"][0]
    assert positions["actions"][1] > positions["transitions"][1]  # actions above states, as in time slices
    ax = draw_pgm(graph)
    assert sorted(arrow.get_gid() for arrow in patches(ax, FancyArrowPatch)) == ["psi->actions", "psi->transitions"]
    plates = {patch.get_gid(): patch for patch in patches(ax, Rectangle)}
    assert set(plates) == {"plate:demonstrations", "plate:steps"}
    labels = {text.get_text() for text in ax.texts if (text.get_gid() or "").startswith("plate:")}
    assert labels == {"demonstrations (2)", "steps (2)"}
    outer, inner = (plates[f"plate:{name}"].get_bbox() for name in ("demonstrations", "steps"))
    circles = {circle.get_gid(): circle.get_center() for circle in patches(ax, Circle)}
    for name in ("actions", "transitions"):  # inside both plates, steps nested in demonstrations
        assert inner.contains(*circles[name])
    assert outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1
    assert not outer.contains(*circles["psi"])
