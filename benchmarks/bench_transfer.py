r"""Forward transfer on exactly solvable grids (CS285 notes, "Transfer Learning", "Forward Transfer").

    python benchmarks/bench_transfer.py            # the full run
    python benchmarks/bench_transfer.py --quick    # a smoke run of seconds (tests/test_bench_transfer.py)

Four tables, every return exact (discounted, γ = 0.9, from the start cell; ``pgm_control.meta.transfer``):

(a) **Fine-tuning and entropy.** Grid navigation 5 × 5 (``grid_navigation_tasks``): soft Q pretrained by
    exact soft value iteration at temperature α for the goal (0, 4), then ``fine_tune_soft_q`` at the same
    α after the goal moves to (4, 0) (constant lr 0.5, episodes of 20 steps, R seeds at once), beside
    the same learner from Q = 0. "ceiling" is the normalized score of the greedy policy of the exact soft
    Q at α in the new task (the learner's fixed point); the adaptation time is the first episode after
    which the greedy policy scores ≥ 0.9 · ceiling (median over seeds; "reached" counts the seeds).
(b) **Domain randomization.** A 5 × 5 slippery grid (``slippery_grid_tasks``, goal (0, 4)) with hazards
    on (0, 1), (0, 2), (0, 3) (reward −2 per step into them, ``with_hazards``): ``randomized_policy``
    trained on slip 0 alone, on slip 0.4 alone, and on slips {0, 0.2, 0.4, 0.6} (uniform), and the
    robustness curve J_slip(π) over test slips, beside the optimum of each test slip.
(c) **Contextual policy.** Soft-optimal experts (α = 0.1) for the 21 goals of 5 × 5 grid navigation;
    a goal-conditioned student on ``displacement_features`` distilled on 14 goals, evaluated on the 7
    held-out goals, beside a state-only student distilled on the same 14 goals.
(d) **Distillation.** The state-only student by L-BFGS (``distill``) against the closed form
    ``distillation_optimum`` (max |Δπ| on visited states), and the returns of the students per task.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Table, library_version, load_average

from pgm_control.inference import soft_value_iteration, value_iteration
from pgm_control.meta import grid_navigation_tasks, navigation_goals, slippery_grid_tasks
from pgm_control.meta.transfer import (
    discounted_visits,
    displacement_features,
    distill,
    distillation_optimum,
    episodes_to_threshold,
    fine_tune_soft_q,
    greedy_policy,
    normalized_score,
    policy_returns,
    randomized_policy,
    state_features,
    student_log_policies,
    task_returns,
    with_hazards,
)

DISCOUNT = 0.9


@dataclass(frozen=True)
class Config:
    temperatures: tuple[float, ...]
    seeds: int
    episodes: int
    dr_steps: int
    test_slips: tuple[float, ...]


FULL = Config((0.01, 0.03, 0.1, 0.3, 1.0), 10, 150, 1000, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8))
QUICK = Config((0.01, 1.0), 2, 3, 5, (0.0, 0.4))


def fine_tuning(config: Config) -> None:
    print("\n## (a) Fine-tuning soft Q-learning after the goal moves from (0, 4) to (4, 0)\n")
    family = grid_navigation_tasks(5, 20)
    old = family.tasks[family.task_names.index("goal (0, 4)")]
    new = family.tasks[family.task_names.index("goal (4, 0)")]
    table = Table(["α", "start", "ceiling", "score before", "median episodes to 0.9·ceiling", "reached",
                   "mean score, last episode", "s"], "lllrrrrr")
    for temperature in config.temperatures:
        pretrained = soft_value_iteration(old.replace(discount=DISCOUNT), temperature=temperature).q
        fixed_point = soft_value_iteration(new.replace(discount=DISCOUNT), temperature=temperature).q
        for start, q in (("pretrained", pretrained), ("Q = 0", torch.zeros_like(pretrained))):
            began = time.perf_counter()
            result = fine_tune_soft_q(new, q.expand(config.seeds, *q.shape), temperature=temperature,
                                      num_episodes=config.episodes, horizon=20, discount=DISCOUNT, seed=0)
            ceiling = float(normalized_score(policy_returns(new.transitions, new.rewards, new.initial,
                                                            greedy_policy(fixed_point), DISCOUNT),
                                             result.optimum, result.baseline))
            episodes = episodes_to_threshold(result.scores, 0.9 * ceiling)
            reached = int(torch.isfinite(episodes).sum())
            table.row(f"{temperature:g}", start, f"{ceiling:.3f}", f"{result.scores[:, 0].mean():.3f}",
                      f"{episodes.median():.0f}", f"{reached}/{config.seeds}", f"{result.scores[:, -1].mean():.3f}",
                      f"{time.perf_counter() - began:.1f}")


def hazard_grids(slips):
    """The 5 × 5 slippery grids of table (b), one task per slip."""
    return with_hazards(slippery_grid_tasks(5, slips=list(slips), goal=4, episode_length=20), [1, 2, 3], -2.0)


def domain_randomization(config: Config) -> None:
    print("\n## (b) Domain randomization over slip: robustness curves J_slip(π)\n")
    test = hazard_grids(config.test_slips)
    optimum = [float(task.initial @ value_iteration(task.replace(discount=DISCOUNT)).v) for task in test.tasks]
    table = Table(["trained on", *(f"slip {s:g}" for s in config.test_slips), "mean"], "l" + "r" * (len(optimum) + 1))
    table.row("optimum of each test slip", *(f"{v:.2f}" for v in optimum), f"{sum(optimum) / len(optimum):.2f}")
    for label, slips in (("slip 0", (0.0,)), ("slip 0.4", (0.4,)), ("slips {0, 0.2, 0.4, 0.6}", (0.0, 0.2, 0.4, 0.6))):
        policy = randomized_policy(hazard_grids(slips), DISCOUNT, num_steps=config.dr_steps)
        curve = task_returns(test, policy, DISCOUNT)
        table.row(label, *(f"{v:.2f}" for v in curve.tolist()), f"{curve.mean():.2f}")


def distillation(config: Config) -> None:
    family = grid_navigation_tasks(5, 20)
    experts = torch.stack([soft_value_iteration(task.replace(discount=DISCOUNT), temperature=0.1).policy
                           for task in family.tasks])
    weights = family.prior[:, None] * discounted_visits(family.transitions, family.initial, experts, DISCOUNT)
    rewards = torch.stack([task.rewards for task in family.tasks])
    optimum = policy_returns(family.transitions, rewards, family.initial, experts, DISCOUNT)
    Z, S, _ = experts.shape
    goals = navigation_goals(5)
    train = torch.arange(Z) % 3 != 2  # 14 training goals, 7 held out
    print("\n## (c) Contextual (goal-conditioned) policy vs a state-only student, distilled on 14 goals\n")
    table = Table(["student", "features", "mean J / J_expert, training goals", "held-out goals"], "llrr")
    for label, features in (("goal-conditioned", displacement_features(5, goals)),
                            ("state-only", state_features(Z, S))):
        theta = distill(experts[train], weights[train], features[train])
        returns = policy_returns(family.transitions, rewards, family.initial,
                                 student_log_policies(features, theta).exp(), DISCOUNT)
        ratio = returns / optimum
        table.row(label, f"{features.shape[-1]}", f"{ratio[train].mean():.3f}", f"{ratio[~train].mean():.3f}")
    print("\n## (d) Distillation of the 21 experts into one state-only policy\n")
    theta = distill(experts, weights, state_features(Z, S))
    student = student_log_policies(state_features(Z, S), theta).exp()[0]
    exact = distillation_optimum(experts, weights)
    visited = weights.sum(0) > 1e-3
    returns = task_returns(family, exact, DISCOUNT)
    table = Table(["quantity", "value"], "lr")
    table.row("max abs(π_L-BFGS − π_closed form) on states with Σ_z w_z(s) > 1e-3",
              f"{(student - exact)[visited].abs().max():.1e}")
    table.row("mean J_z(student) / J_z(expert) over the 21 goals", f"{(returns / optimum).mean():.3f}")
    table.row("min over goals", f"{(returns / optimum).min():.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = QUICK if args.quick else FULL
    print(f"# pgm_control forward transfer{' (--quick)' if args.quick else ''}\n")
    print(f"{library_version()}; {load_average()}; γ = {DISCOUNT}")
    fine_tuning(config)
    domain_randomization(config)
    distillation(config)
    print(f"\n{load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
