r"""The ``pgm-control`` command line.

``pgm-control demo [--out DIR]`` runs the demo sections in :data:`DEMO_SECTIONS` in order and
prints what each returns. A section is a function ``(out_dir, args) -> list[str]``: it computes,
saves its figures into ``out_dir`` and returns the lines to print (tables, checks, files written).
Later sections are added by appending to the list.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported (by pgm_control.viz too): no display needed

import matplotlib.pyplot as plt
import numpy as np
import torch

from pgm_control._checks import check_writable_folder
from pgm_control.envs import GridWorld, lottery_mdp, sutton_barto_gridworld
from pgm_control.inference import (
    elbo,
    enumerate_log_evidence,
    fit_policy,
    log_evidence,
    policy_evaluation,
    soft_value_iteration,
    state_distributions,
    state_marginals,
    value_iteration,
)
from pgm_control.viz import category_legend, plot_grid_values, plot_state_marginals

# Sutton & Barto (2018), Figure 3.2: V of the equiprobable random policy, γ = 0.9.
BOOK_FIGURE_3_2 = torch.tensor([
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
], dtype=torch.float64)
# Sutton & Barto (2018), Figure 3.5: the optimal values v_*.
BOOK_FIGURE_3_5 = torch.tensor([
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
], dtype=torch.float64)

# A goal behind a wall, a trap beside the upper route. Each step pays -1, the trap -100, the goal 0,
# so every reward is <= 0 and exp(r) is a probability; slip 0.1 makes the dynamics stochastic.
GOAL_MAP = """
........
.S..#...
....#.X.
....#...
....#..G
........
"""
GOAL_SETTINGS = {"slip": 0.1, "step_reward": -1.0, "goal_reward": 0.0, "trap_reward": -100.0}
GOAL_HORIZON = 25
FIGURE_DPI = 120


def goal_gridworld() -> GridWorld:
    """The demo's 6x8 goal grid world (:data:`GOAL_MAP`, :data:`GOAL_SETTINGS`), γ = 1 as the
    messages require."""
    return GridWorld(GOAL_MAP, **GOAL_SETTINGS)


def format_grid(layout, values) -> list[str]:
    """Per-state ``values`` ``[S]`` as text rows of the grid, 1 decimal, ``#`` on walls."""
    grid = layout.to_grid(torch.as_tensor(values).detach())
    return [
        " ".join("#".rjust(6) if cell.isnan() else f"{cell:6.1f}" for cell in row)
        for row in grid
    ]


def check_book_table(values: torch.Tensor, book: torch.Tensor, name: str) -> str:
    """Compare a ``[5, 5]`` value table, rounded to 1 decimal, with the book's."""
    difference = (values.round(decimals=1) - book).abs()
    if bool((difference < 1e-9).all()):
        return f"matches {name} (all 25 values to 1 decimal): yes"
    row, column = divmod(int(difference.argmax()), book.shape[1])
    return (f"matches {name}: NO, (row {row}, column {column}) is "
            f"{values[row, column]:.2f}, the book says {book[row, column]:.1f}")


def save_figure(figure, path: Path) -> str:
    """Save and close ``figure``; return the summary line naming the file."""
    figure.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(figure)
    return f"wrote {path}"


def book_gridworld_section(out_dir: Path, args) -> list[str]:
    """Sutton & Barto's Example 3.5: V of the random policy and v_*, checked against the book."""
    world = sutton_barto_gridworld()
    uniform = torch.full((world.num_states, world.num_actions), 1.0 / world.num_actions,
                         dtype=torch.float64)
    random_policy = policy_evaluation(world, uniform)
    optimal = value_iteration(world)

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    plot_grid_values(world, random_policy.v, ax=left, title="V of the random policy (Fig. 3.2)")
    plot_grid_values(world, optimal.v, optimal.policy, ax=right,
                     title="v_* and π_* (Fig. 3.5)")
    return [
        "V of the equiprobable random policy, γ = 0.9:",
        *format_grid(world.layout, random_policy.v),
        check_book_table(world.layout.to_grid(random_policy.v), BOOK_FIGURE_3_2, "Figure 3.2"),
        "",
        f"optimal values v_* (value iteration, {optimal.iterations} sweeps):",
        *format_grid(world.layout, optimal.v),
        check_book_table(world.layout.to_grid(optimal.v), BOOK_FIGURE_3_5, "Figure 3.5"),
        save_figure(figure, out_dir / "sutton_barto_values.png"),
    ]


def goal_gridworld_section(out_dir: Path, args) -> list[str]:
    """Exact soft inference on the goal grid world: soft values, soft policy, p(s_t | O_{1:T})."""
    world, horizon = goal_gridworld(), GOAL_HORIZON
    soft = soft_value_iteration(world, horizon=horizon, backup="expected")
    marginals = state_marginals(world, horizon)
    log_p_optimal = float(log_evidence(world, horizon))
    goal, trap = (world.layout.state_at(*np.argwhere(world.layout.kinds == kind)[0])
                  for kind in "GX")

    values_ax = plot_grid_values(world, soft.v[0], soft.policy[0],
                                 title=f"soft V_1 and π_1 (expected backup, T = {horizon})")
    marginal_axes = plot_state_marginals(world, marginals)
    marginal_axes[0].figure.suptitle(f"p(s_t | O_1:T), T = {horizon}")
    return [
        ", ".join(f"{name}={value}" for name, value in GOAL_SETTINGS.items()),
        f"map (S start, G goal, X trap, # wall), horizon T = {horizon}:",
        *GOAL_MAP.strip().splitlines(),
        "",
        "soft values V_1(s) (expected backup, temperature 1):",
        *format_grid(world.layout, soft.v[0]),
        f"log p(O_1:T) = {log_p_optimal:.3f}",
        (f"p(s_T = goal | O_1:T) = {float(marginals[-1, goal]):.3f}, "
         f"p(s_T = trap | O_1:T) = {float(marginals[-1, trap]):.3f}"),
        "(the trap's mass is Lecture 20's optimism: the exact posterior bets on slipping into the",
        " absorbing trap, which stops the -1 per step; with slip 0 it is 0)",
        save_figure(values_ax.figure, out_dir / "goal_soft_values.png"),
        save_figure(marginal_axes[0].figure, out_dir / "goal_state_marginals.png"),
    ]


def graphical_model_section(out_dir: Path, args) -> list[str]:
    """Lecture 20's "MDP as a Graphical Model", read off the Pyro model itself and drawn (O_t shaded)."""
    from pgm_control.envs import lottery_mdp
    from pgm_control.models.optimality import optimality_model
    from pgm_control.viz import draw_pgm, pgm_graph

    horizon = 3
    graph = pgm_graph(optimality_model, lottery_mdp(), horizon)
    ax = draw_pgm(graph, title=f"optimality_model as a graphical model, T = {horizon}")
    observed = [name for name, is_observed in graph.nodes(data="observed") if is_observed]
    return [
        f"{graph.number_of_nodes()} sites of optimality_model(lottery_mdp(), {horizon}), "
        f"{graph.number_of_edges()} edges (parents from pyro.infer.inspect.get_dependencies);",
        "site names use code time t = 0..T-1, the figure the slides' t = 1..T:",
        *(f"  {name} <- {', '.join(graph.predecessors(name)) or '(none)'}" for name in graph),
        f"observed (shaded): {', '.join(observed)}",
        save_figure(ax.figure, out_dir / "pgm.png"),
    ]


# Lecture 20's optimism example and a grid whose soft-optimal policy is far from uniform.
PYRO_PROBLEMS = {
    "lottery, T = 5": (lambda: lottery_mdp(), 5),
    "trap grid, T = 10": (lambda: GridWorld(["......", ".S.X..", "......", "..X.G.", "......"], slip=0.1,
                                            step_reward=-2.5, goal_reward=0.0, trap_reward=-10.0), 10),
}


def pyro_section(out_dir: Path, args) -> list[str]:
    """Exact messages vs Pyro's enumeration vs SVI with a policy guide that keeps the true dynamics."""
    torch.set_num_threads(1)  # SVI works on small tensors: thread barriers cost more than they save
    lines = [
        "| problem | log p(O) messages | log p(O) enumeration | max ELBO (exact) | SVI ELBO of q (exact) "
        "| mean KL(q || π*) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    figure, axes = plt.subplots(1, len(PYRO_PROBLEMS), figsize=(5 * len(PYRO_PROBLEMS), 3.2))
    for ax, (name, (build, horizon)) in zip(axes, PYRO_PROBLEMS.items()):
        mdp = build()
        star = soft_value_iteration(mdp, horizon, backup="expected").policy
        best = elbo(mdp, horizon, star).item()
        fit = fit_policy(mdp, horizon, num_steps=200, num_trajectories=1024, progress=False)
        visits = state_distributions(mdp, fit.policy)
        kl = (visits * (fit.policy * (fit.log_policy - torch.log(star))).sum(-1)).sum().item() / horizon
        lines.append(
            f"| {name} | {log_evidence(mdp, horizon).item():.4f} | "
            f"{enumerate_log_evidence(mdp, horizon).item():.4f} | {best:.4f} | "
            f"{elbo(mdp, horizon, fit.policy).item():.4f} | {kl:.4f} |")
        ax.plot(fit.elbo_history, lw=0.8, label="SVI estimate")
        ax.axhline(best, color="k", ls="--", label="max ELBO (exact)")
        ax.axhline(log_evidence(mdp, horizon).item(), color="C3", ls=":", label="log p(O) (exact)")
        ax.set(title=name, xlabel="SVI step", ylabel="ELBO")
        ax.legend(fontsize=7)
    figure.tight_layout()
    return [
        *lines,
        "max ELBO < log p(O) on both: stochastic dynamics; the gap is the price of keeping them fixed",
        save_figure(figure, out_dir / "svi_elbo.png"),
    ]


# Inverse RL: a terrain grid world whose reward is linear in one-hot terrain features.
IRL_WEIGHTS = (-2.0, -1.0, 0.0, 1.0)
IRL_HORIZON, IRL_DEMONSTRATIONS = 15, 300


def inverse_rl_section(out_dir: Path, args) -> list[str]:
    """MaxEnt IRL from demonstrations of the soft-optimal policy: true vs recovered reward."""
    from pgm_control import Demonstrations, sample_trajectories
    from pgm_control.envs import terrain_gridworld
    from pgm_control.inference import maxent_irl

    torch.set_num_threads(1)
    true_psi = torch.tensor(IRL_WEIGHTS, dtype=torch.float64)
    world = terrain_gridworld(size=8, num_terrains=len(IRL_WEIGHTS), weights=true_psi, seed=0)
    expert = soft_value_iteration(world, IRL_HORIZON)
    batch = sample_trajectories(world, expert.policy, IRL_HORIZON, IRL_DEMONSTRATIONS,
                                generator=torch.Generator().manual_seed(0))
    demos = Demonstrations.from_trajectories(batch)
    start = time.perf_counter()
    fit = maxent_irl(world, demos, progress=False)
    seconds = time.perf_counter() - start
    kl = (expert.policy * (expert.log_policy - fit.log_policy)).sum(-1).mean().item()
    optimal = value_iteration(world.replace(rewards=fit.reward_table), horizon=IRL_HORIZON)

    def expected_return(policy):
        return (world.initial * policy_evaluation(world, policy, horizon=IRL_HORIZON).v[0]).sum().item()

    centred_true, centred_fit = true_psi - true_psi.mean(), fit.psi - fit.psi.mean()
    cosine = (centred_true @ centred_fit / (centred_true.norm() * centred_fit.norm())).item()
    figure, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, (name, psi) in zip(axes, (("true", centred_true), ("recovered", centred_fit))):
        values = world.features[:, 0] @ psi
        policy = (expert if name == "true" else fit).policy[0]
        plot_grid_values(world, values, policy, ax=ax, annotate=False,
                         title=f"{name} reward r(s) (centred) and π_1")
        category_legend(ax, psi, [f"terrain {k}: r = {weight:+.2f}" for k, weight in enumerate(psi.tolist())],
                        title="terrain (one-hot features)")
    return [
        f"8×8 terrain grid world, r(s) = ψ*ᵀ f(s) with one-hot terrains, ψ* = {list(IRL_WEIGHTS)}, "
        f"T = {IRL_HORIZON}",
        f"{IRL_DEMONSTRATIONS} demonstrations of the soft-optimal policy; maxent_irl (causal, L-BFGS): "
        f"{len(fit.log_likelihood)} steps, {seconds:.2f} s, converged={fit.converged}",
        "| terrain | ψ* (centred) | ψ learned (centred) |",
        "|---|---:|---:|",
        *(f"| {k} | {a:+.3f} | {b:+.3f} |" for k, (a, b) in enumerate(zip(centred_true, centred_fit))),
        f"cosine similarity (centred; one-hot features fix ψ only up to a shift): {cosine:.4f}",
        f"mean KL(π_expert || π_learned) = {kl:.4f} nats (bound 0.05)",
        f"feature-count mismatch at the end: {fit.feature_mismatch[-1].abs().max().item():.1e}",
        (f"return of the learned reward's optimal policy under the true reward: "
         f"{expected_return(optimal.policy):.3f} vs the expert's {expected_return(expert.policy):.3f}"),
        save_figure(figure, out_dir / "irl_rewards.png"),
    ]


DEMO_SECTIONS = [
    ("Sutton & Barto gridworld (Figures 3.2 and 3.5)", book_gridworld_section),
    ("Goal grid world by exact soft inference", goal_gridworld_section),
    ("The MDP as a graphical model", graphical_model_section),
    ("Control as inference in Pyro: exact vs enumeration vs SVI", pyro_section),
    ("Inverse RL: MaxEnt IRL recovers a terrain reward", inverse_rl_section),
]


def run_demo(args) -> int:
    """Run every section of :data:`DEMO_SECTIONS`, printing their lines, then the wall time."""
    try:
        out_dir = check_writable_folder(args.out, "--out")
    except ValueError as error:
        args.error(str(error))
    start = time.perf_counter()
    for title, section in DEMO_SECTIONS:
        print(f"== {title} ==")
        for line in section(out_dir, args):
            print(line)
        print()
    print(f"demo finished in {time.perf_counter() - start:.1f} s; figures in {out_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pgm-control``."""
    parser = argparse.ArgumentParser(
        prog="pgm-control",
        description="Reinforcement learning and control as probabilistic inference.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="solve the book's and a goal grid world, draw figures")
    demo.add_argument("--out", default="./pgm_control_output",
                      help="folder for the figures (default: ./pgm_control_output)")
    demo.set_defaults(handler=run_demo, error=demo.error)
    from pgm_control.rl.train import add_train_parser  # `pgm-control train ...` lives with the RL code

    add_train_parser(commands)
    from pgm_control.course.cli import add_homework_parser  # `pgm-control homework ...` lives with the course

    add_homework_parser(commands)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``pgm-control`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
