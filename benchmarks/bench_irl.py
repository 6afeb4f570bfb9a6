r"""Benchmark of MaxEnt IRL: ``maxent_irl`` time per gradient step and time to a KL bound, beside
``imitation``'s MCE IRL on the same MDPs and demonstrations.

    python benchmarks/bench_irl.py                  # the full run recorded in benchmarks/README.md
    python benchmarks/bench_irl.py --quick          # a smoke run of a few seconds (tests/test_bench_irl.py)
    python benchmarks/bench_irl.py --skip-imitation --profile
    python benchmarks/bench_irl.py --quick --seeds 4 --ray   # a seed sweep as local Ray tasks

Cases: ``terrain_gridworld(size, K, weights=linspace(-2, 1, K), seed=0)`` (open grid, deterministic
N/S/E/W moves, one-hot terrain features f(s) [S, K], r*(s) = ψ*ᵀ f(s), uniform start) for
(size, K) = (10, 4), (32, 6), (100, 8), i.e. S = 100, 1024, 10^4, horizon T = 30. N = 200
demonstrations are sampled from the expert's soft-optimal policy
π* = ``soft_value_iteration(mdp, T).policy`` (expected backup, the ``causal`` model's policy) with
``sample_trajectories`` (seed 0).

Accuracy is the recovery measure, the mean KL over (t, s) from the expert to the learned soft policy,

    KL(ψ) = (1/(T S)) Σ_t Σ_s Σ_a π*_t(a|s) [log π*_t(a|s) - log π_ψ,t(a|s)],

always computed outside the timed region; the bound is KL ≤ 0.05 nats. Rows:

1. ``maxent_irl`` with L-BFGS (its default; ``diagnostics=False`` in every timed run). ``maxent_irl``
   exposes no per-step ψ, so the steps to the bound are found by re-running it with num_steps = 1,
   2, 3, ... (deterministic: run k stops at the k-th iterate of every longer run); the time to the
   bound is the wall time of the whole call ``maxent_irl(..., num_steps=k*)``. Then one run to its
   own convergence (gradient ∞-norm ≤ tol = 1e-6, at most 200 steps), timed with
   ``diagnostics=False`` and again with the library default ``diagnostics=True``.
2. ``maxent_irl`` with Adam (lr 0.05, its default), 200 steps. Each Adam step evaluates the model
   once at the current ψ, so the reward table r_ψ returned by each model call is recorded (a [S, A]
   copy, ~0.1 ms) and gives the KL after each step; then ``maxent_irl(..., num_steps=k*)`` is timed.
3. imitation 1.0.1's ``MCEIRL`` (Adam, its default lr 0.01 and our 0.05), via
   ``benchmarks/_imitation_mce_irl.py`` in ``benchmarks/.venv-imitation``: a linear reward net on
   the same features, zero-initialized, float64; dense transitions; γ = 1; the demonstrations as
   trajectories. Its training steps are timed one by one and r_θ recorded after each; the KL is
   computed here with pgm_control's ``soft_value_iteration`` of r_θ (for a state-only reward with a
   uniform action prior its policy is imitation's: checked against imitation's own final π to 1e-10).
   Then ``train(max_iter=k*)`` in a fresh process is timed. S = 10^4 steps cost tens of seconds in
   imitation's dense NumPy loops: there only a few steps are timed and the time to the bound is
   extrapolated from the steps it needed at S = 1024.

Counting evaluations: ``pgm_control.inference.irl.irl_model_body`` (the model function) is wrapped
for the duration of each fit (``maxent_irl`` builds its Pyro model from that module attribute), so
every evaluation of the objective and its gradient is counted: L-BFGS makes several per step (the
driver's own, the optimizer's first, the line search's), Adam one, plus the guide's set-up calls.
"s/eval" is the fit's wall time over the model calls.

``--seeds N`` adds a table of the L-BFGS fit (to convergence) on demonstrations sampled with seeds
0..N-1, every case: in turn in this process, or as Ray tasks with ``--ray [ADDRESS]`` (a local Ray, or
the cluster at ADDRESS; ``benchmarks/_sweep.py``).

Timing: ``time.perf_counter``; ``torch.set_num_threads(1)`` unless ``--threads N``, and 1 BLAS/OpenMP
thread in imitation's process; one untimed ``maxent_irl(num_steps=1)`` warm-up per MDP; short timed
calls (< 5 s) take the best of up to 3. The 1-minute load average is printed at the start and the
end. Exits with status 1 when an agreement check fails.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _report import Agreement, Table, cpu_name, library_version, load_average
from _sweep import add_ray_argument, sweep

import pgm_control.inference.irl as irl_module
from pgm_control import Demonstrations, TabularMDP, sample_trajectories
from pgm_control.envs import terrain_gridworld
from pgm_control.inference import maxent_irl, soft_value_iteration

HERE = Path(__file__).resolve().parent
IMITATION_PYTHON = HERE / ".venv-imitation" / "bin" / "python"
IMITATION_HELPER = HERE / "_imitation_mce_irl.py"
KL_BOUND = 0.05  # the recovery bound, nats
AGREEMENT_TOL = 1e-10  # imitation's π vs soft_value_iteration's π for the same reward (float64)
TIMED_BUDGET_S = 5.0  # best of up to 3 while the runs so far took less than this
# The module attribute maxent_irl builds its Pyro model from (`partial(<it>, mdp, ...)`), newest first.
MODEL_ATTRIBUTES = ("irl_model_body", "irl_model")


@dataclass(frozen=True)
class Case:
    size: int
    num_terrains: int
    imitation_max_steps: int  # steps of imitation's history run (also capped by imitation_budget_s)
    imitation_timed: bool  # time train(max_iter=k*) in a fresh process
    imitation_lrs: tuple[float, ...]  # Adam step sizes of imitation's runs


@dataclass(frozen=True)
class Config:
    cases: tuple[Case, ...]
    horizon: int
    num_demonstrations: int
    lbfgs_scan: int  # largest num_steps tried when looking for the L-BFGS step count to the bound
    adam_lr: float
    adam_steps: int
    imitation_budget_s: float


FULL = Config(
    cases=(Case(10, 4, 1000, True, (0.01, 0.05)), Case(32, 6, 1000, True, (0.01, 0.05)),
           Case(100, 8, 3, False, (0.05,))),  # S = 10^4: a few steps of ~20 s; one lr is enough
    horizon=30, num_demonstrations=200, lbfgs_scan=30, adam_lr=0.05, adam_steps=200,
    imitation_budget_s=100.0,
)
QUICK = Config(
    cases=(Case(4, 3, 50, True, (0.05,)), Case(6, 3, 50, True, (0.05,))),
    horizon=8, num_demonstrations=200, lbfgs_scan=10, adam_lr=0.05, adam_steps=20,
    imitation_budget_s=10.0,
)


# ---------------------------------------------------------------------------- measurement helpers

class ModelCalls:
    """Counts (and optionally records the reward tables of) the Pyro model's calls inside maxent_irl.

    ``maxent_irl`` builds its model as ``partial(irl_model_body, ...)`` from that module attribute at
    each call, so patching it for the duration of a fit sees every evaluation of the objective."""

    def __init__(self, record: bool = False):
        self.record = record
        self.count = 0
        self.tables: list[torch.Tensor] = []

    def __enter__(self):
        self._name = next((name for name in MODEL_ATTRIBUTES if hasattr(irl_module, name)), None)
        if self._name is None:
            raise RuntimeError(f"pgm_control.inference.irl has none of {MODEL_ATTRIBUTES}: update "
                               "MODEL_ATTRIBUTES in bench_irl.py to the function maxent_irl builds its model from")
        self._original = getattr(irl_module, self._name)
        original = self._original

        def counted(*args, **kwargs):
            self.count += 1
            table = original(*args, **kwargs)
            if self.record:
                self.tables.append(table.detach().clone())
            return table

        setattr(irl_module, self._name, counted)
        return self

    def __exit__(self, *exc):
        setattr(irl_module, self._name, self._original)
        return False


@dataclass
class Fit:
    seconds: float
    steps: int  # len(log_likelihood): the optimizer steps taken (iterates evaluated)
    model_calls: int
    kl: float
    converged: bool
    tables: list


def fit(mdp, demos, expert_log_policy, *, record: bool = False, repeats: int = 1, **kwargs) -> Fit:
    """One timed ``maxent_irl`` call (best of up to `repeats` while under TIMED_BUDGET_S), KL after."""
    best, spent = math.inf, 0.0
    for _ in range(repeats):
        with ModelCalls(record) as calls:
            start = time.perf_counter()
            result = maxent_irl(mdp, demos, progress=False, **kwargs)
            elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent >= TIMED_BUDGET_S:
            break
    return Fit(best, len(result.log_likelihood), calls.count, mean_kl(expert_log_policy, result.log_policy),
               bool(result.converged), calls.tables)


def mean_kl(expert_log_policy: torch.Tensor, log_policy: torch.Tensor) -> float:
    """(1/(T S)) Σ_{t,s} KL(π*_t(·|s) ‖ π_t(·|s))."""
    return (expert_log_policy.exp() * (expert_log_policy - log_policy)).sum(-1).mean().item()


def kl_of_reward(mdp: TabularMDP, horizon: int, expert_log_policy: torch.Tensor, table) -> float:
    """KL to the expert of the soft-optimal (expected-backup) policy of the reward `table` [S, A] or [S]."""
    table = torch.as_tensor(table, dtype=torch.float64)
    if table.dim() == 1:
        table = table[:, None].expand(-1, mdp.num_actions).contiguous()
    learned = soft_value_iteration(mdp.replace(rewards=table), horizon, progress=False)
    return mean_kl(expert_log_policy, learned.log_policy)


def first_below(kls: list[float], bound: float = KL_BOUND) -> int | None:
    return next((k for k, kl in enumerate(kls) if kl <= bound), None)


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.4f}" if seconds < 0.1 else f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def fmt(value, spec: str = "") -> str:
    return "—" if value is None else format(value, spec)


def machine_facts() -> str:
    return (f"{datetime.date.today().isoformat()}; {cpu_name()}; {os.cpu_count()} cores; "
            f"Python {platform.python_version()}; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads); pgm_control at {library_version()}; {load_average()}")


# ---------------------------------------------------------------------------- the cases

@dataclass
class Problem:
    name: str
    mdp: TabularMDP
    demos: Demonstrations
    expert_log_policy: torch.Tensor
    horizon: int


def make_problem(case: Case, config: Config, demo_seed: int = 0) -> Problem:
    K, T = case.num_terrains, config.horizon
    mdp = terrain_gridworld(size=case.size, num_terrains=K, weights=torch.linspace(-2.0, 1.0, K, dtype=torch.float64),
                            seed=0)
    expert = soft_value_iteration(mdp, T, progress=False)
    batch = sample_trajectories(mdp, expert.policy, T, config.num_demonstrations,
                                generator=torch.Generator().manual_seed(demo_seed))
    name = f"S={mdp.num_states} ({case.size}×{case.size}, K={K})"
    return Problem(name, mdp, Demonstrations.from_trajectories(batch), expert.log_policy, T)


def lbfgs_rows(problem: Problem, config: Config, table: Table) -> None:
    mdp, demos, expert = problem.mdp, problem.demos, problem.expert_log_policy
    maxent_irl(mdp, demos, num_steps=1, diagnostics=False, progress=False)  # warm-up
    to_bound = None
    for k in range(1, config.lbfgs_scan + 1):
        run = fit(mdp, demos, expert, num_steps=k, diagnostics=False, repeats=3)
        if run.kl <= KL_BOUND or run.converged:
            to_bound = run if run.kl <= KL_BOUND else None
            break
    full = fit(mdp, demos, expert, num_steps=200, diagnostics=False)
    default = fit(mdp, demos, expert, num_steps=200, diagnostics=True)
    for label, run in (("L-BFGS", full), ("L-BFGS, diagnostics=True", default)):
        table.row(problem.name, "pgm_control `maxent_irl`", label, fmt_seconds(run.seconds / run.steps),
                  f"{run.model_calls / run.steps:.1f}", fmt_seconds(run.seconds / max(run.model_calls, 1)),
                  fmt(to_bound and to_bound.steps), fmt_seconds(to_bound and to_bound.seconds),
                  run.steps, "converged" if run.converged else "step cap", f"{run.kl:.4f}",
                  fmt_seconds(run.seconds))


def adam_row(problem: Problem, config: Config, table: Table) -> None:
    mdp, demos, expert = problem.mdp, problem.demos, problem.expert_log_policy
    full = fit(mdp, demos, expert, record=True, optimizer="adam", lr=config.adam_lr, num_steps=config.adam_steps,
               diagnostics=False)
    # One model call per Adam step at the current ψ_k (k = 0..steps-1), after the guide's set-up calls.
    iterates = full.tables[len(full.tables) - full.steps:]
    kls = [kl_of_reward(mdp, problem.horizon, expert, t) for t in iterates[1:]] + [full.kl]  # after k = 1.. steps
    k_star = first_below(kls)
    to_bound = None
    if k_star is not None:
        to_bound = fit(mdp, demos, expert, optimizer="adam", lr=config.adam_lr, num_steps=k_star + 1,
                       diagnostics=False, repeats=3)
    table.row(problem.name, "pgm_control `maxent_irl`", f"Adam lr {config.adam_lr}",
              fmt_seconds(full.seconds / full.steps), f"{full.model_calls / full.steps:.1f}",
              fmt_seconds(full.seconds / max(full.model_calls, 1)), fmt(to_bound and to_bound.steps),
              fmt_seconds(to_bound and to_bound.seconds), full.steps,
              "converged" if full.converged else "step cap", f"{full.kl:.4f}", fmt_seconds(full.seconds))


def run_helper(folder: Path, problem: Problem, *, mode: str, lr: float, max_steps: int, budget_s: float,
               threads: int) -> tuple[dict, dict]:
    mdp, demos = problem.mdp, problem.demos
    source, target = folder / f"in-{mode}.npz", folder / f"out-{mode}.npz"
    np.savez(source, next_states=mdp.next_states.numpy(), probs=mdp.probs.numpy(),
             features=mdp.features[:, 0, :].numpy(), initial=mdp.initial.numpy(), horizon=problem.horizon,
             demo_states=demos.states.numpy(), demo_actions=demos.actions.numpy(), lr=lr, mode=mode,
             max_steps=max_steps, budget_s=budget_s)
    env = {**os.environ, **{name: str(threads) for name in
                            ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    completed = subprocess.run([str(IMITATION_PYTHON), str(IMITATION_HELPER), str(source), str(target)],
                               capture_output=True, text=True, check=False, env=env)
    if completed.returncode != 0:
        raise RuntimeError(f"imitation helper failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    with np.load(target) as out:
        arrays = {key: out[key] for key in out.files}
    return json.loads(target.with_suffix(".json").read_text()), arrays


def imitation_rows(problem: Problem, case: Case, config: Config, table: Table, agreement: Agreement,
                   notes: list[str], steps_needed: dict, threads: int) -> None:
    mdp, expert = problem.mdp, problem.expert_log_policy
    for lr in case.imitation_lrs:
        with tempfile.TemporaryDirectory() as folder:
            try:
                info, out = run_helper(Path(folder), problem, mode="history", lr=lr,
                                       max_steps=case.imitation_max_steps, budget_s=config.imitation_budget_s,
                                       threads=threads)
            except RuntimeError as error:
                print(error)
                agreement.check(f"imitation MCEIRL ran ({problem.name}, lr {lr})", math.inf)
                continue
            rewards, step_seconds = out["rewards"], out["step_seconds"]
            kls = [kl_of_reward(mdp, problem.horizon, expert, r) for r in rewards[1:]]  # after steps 1..K
            k_star = first_below(kls)
            # imitation's final π is mce_partition_fh of the reward before its last update
            ours = soft_value_iteration(mdp.replace(rewards=torch.as_tensor(rewards[-2])[:, None].expand(
                -1, mdp.num_actions).contiguous()), problem.horizon, progress=False).policy.numpy()
            agreement.check(f"{problem.name} imitation MCEIRL final π vs soft_value_iteration π of its reward "
                            f"(lr {lr})", float(np.abs(out["pi"] - ours).max()), AGREEMENT_TOL)
            final_kl = kls[-1]  # of the learned reward r_θ (the net's after its last update)
            seconds_to_bound = None
            if k_star is not None:
                steps_needed[lr] = k_star + 1
                if case.imitation_timed:
                    timed, _ = run_helper(Path(folder), problem, mode="timed", lr=lr, max_steps=k_star + 1,
                                          budget_s=0.0, threads=threads)
                    seconds_to_bound = timed["seconds"]
            else:
                per_step = float(np.mean(step_seconds))
                for other_lr, steps in steps_needed.items():
                    notes.append(f"imitation MCEIRL at {problem.name}: {len(step_seconds)} steps of "
                                 f"{per_step:.1f} s each (dense NumPy; env built in {info['build_seconds']:.1f} s); "
                                 f"with lr {other_lr} it needed {steps} steps to KL ≤ {KL_BOUND} at the previous "
                                 f"size, i.e. ≈ {steps * per_step / 60:.0f} min here (extrapolated, not run)")
            stop = info["stop"]
            table.row(problem.name, f"imitation {info['imitation_version']} `MCEIRL`", f"Adam lr {lr}",
                      fmt_seconds(float(np.mean(step_seconds))), "1.0",
                      fmt_seconds(float(np.mean(step_seconds))), fmt(None if k_star is None else k_star + 1),
                      fmt_seconds(seconds_to_bound), len(step_seconds),
                      "converged" if stop.startswith("converged") else stop, f"{final_kl:.4f}",
                      fmt_seconds(float(np.sum(step_seconds))))


def seed_fit(case: Case, config: Config, seed: int, threads: int) -> tuple[str, int, Fit]:
    """``maxent_irl`` (L-BFGS, to convergence or 200 steps) on demonstrations sampled with `seed`;
    one configuration of the ``--seeds`` sweep, in this process or as a Ray task (``--ray``)."""
    torch.set_num_threads(threads)
    problem = make_problem(case, config, demo_seed=seed)
    return problem.name, seed, fit(problem.mdp, problem.demos, problem.expert_log_policy, num_steps=200,
                                   diagnostics=False)


def seed_rows(config: Config, seeds: int, threads: int, ray_address: str | None) -> None:
    """Final KL and time of the L-BFGS fit for demonstration seeds 0..seeds-1 of every case."""
    print(f"\n### L-BFGS over demonstration seeds 0..{seeds - 1} "
          f"({'Ray tasks' if ray_address is not None else 'in turn, in this process'})\n")
    table = Table(["MDP", "demonstration seed", "steps", "stop", "final KL", "s run"], "lrrlrr")
    configs = [{"case": case, "config": config, "seed": seed, "threads": threads}
               for case in config.cases for seed in range(seeds)]
    for name, seed, run in sweep(seed_fit, configs, ray_address):
        table.row(name, seed, run.steps, "converged" if run.converged else "step cap", f"{run.kl:.4f}",
                  fmt_seconds(run.seconds))


def profile(problem: Problem, top: int = 25) -> None:
    """cProfile of one maxent_irl L-BFGS fit (library defaults) at the largest S."""
    print(f"\n### cProfile: `maxent_irl` (L-BFGS, diagnostics=True, to convergence) at {problem.name}\n")
    profiler = cProfile.Profile()
    with ModelCalls() as calls:
        profiler.enable()
        result = maxent_irl(problem.mdp, problem.demos, progress=False)
        profiler.disable()
    print(f"{len(result.log_likelihood)} steps, {calls.count} model calls\n")
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print("```text\n" + stream.getvalue().strip() + "\n```")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no imitation: a smoke run of seconds")
    parser.add_argument("--skip-imitation", action="store_true", help="leave out imitation's MCE IRL")
    parser.add_argument("--skip-adam", action="store_true", help="leave out the Adam rows of maxent_irl")
    parser.add_argument("--profile", action="store_true", help="cProfile one maxent_irl fit at the largest S")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads(N) here and BLAS threads in imitation's process (default 1)")
    parser.add_argument("--seeds", type=int, default=0,
                        help="also fit demonstrations sampled with seeds 0..N-1 of every case (default 0: none)")
    add_ray_argument(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = QUICK if args.quick else FULL
    with_imitation = not (args.quick or args.skip_imitation)

    print(f"# pgm_control MaxEnt IRL{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {machine_facts()}\n")
    if with_imitation and not IMITATION_PYTHON.exists():
        print("imitation not installed (see benchmarks/README.md)\n")
        with_imitation = False
    agreement = Agreement(AGREEMENT_TOL)
    notes: list[str] = []
    steps_needed: dict = {}
    start = time.perf_counter()

    print(f"### Time per step and to mean KL ≤ {KL_BOUND} (terrain grids, T={config.horizon}, "
          f"N={config.num_demonstrations} demonstrations, A=4, float64)\n")
    table = Table(["MDP", "implementation", "optimizer", "s/step", "evals/step", "s/eval",
                   f"steps to KL ≤ {KL_BOUND}", f"s to KL ≤ {KL_BOUND}", "steps run",
                   "stop", "final KL", "s run"], "lllrrrrrrlrr")
    problem = None
    for case in config.cases:
        problem = make_problem(case, config)
        lbfgs_rows(problem, config, table)
        if not args.skip_adam:
            adam_row(problem, config, table)
        if with_imitation:
            imitation_rows(problem, case, config, table, agreement, notes, steps_needed, args.threads)
    print(f"\nKL: mean over (t, s) of KL(π*_t(·|s) ‖ π_t(·|s)), outside the timings. s/step, evals/step, "
          f"s/eval, final KL and s run: of the run to the stop shown (pgm_control: tol 1e-6 or 200 steps; "
          f"imitation: its own rule (‖ΔD‖_∞ ≤ 1e-3 or ‖∇‖ ≤ 1e-4), its step cap or {config.imitation_budget_s:.0f} s "
          "of steps). s to KL: one fresh call that stops after the steps to the bound "
          "(`maxent_irl(num_steps=k)`, `MCEIRL.train(max_iter=k)`), set-up included.")
    if args.seeds > 0:
        seed_rows(config, args.seeds, args.threads, args.ray)
    if args.profile and problem is not None:
        profile(problem)
    print()
    for note in notes:
        print(note)
    agreement.report()
    print(f"total {time.perf_counter() - start:.0f} s; {load_average()} at the end")
    return 1 if agreement.failures else 0


if __name__ == "__main__":
    sys.exit(main())
