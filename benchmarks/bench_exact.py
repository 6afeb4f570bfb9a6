r"""Benchmark of pgm_control's exact solvers, checked against references run in the same process.

    python benchmarks/bench_exact.py                  # the full run recorded in benchmarks/README.md
    python benchmarks/bench_exact.py --quick          # a smoke run of a few seconds (used by a test)
    python benchmarks/bench_exact.py --skip-imitation

Cases (A = 4 actions, float64):

1. Random MDPs ``random_mdp(S, 4, branching=10, seed=0)`` for S = 1000 and 10000, as successor lists
   and as dense ``[S, A, S']`` tensors (``mdp.to_dense()``, when they fit in ``--dense-max-gb``), with
   T = 100: ``soft_value_iteration`` (expected and optimistic backups) and ``log_evidence``.
2. Each against a plain dense NumPy implementation written below (loop over t, ``P @ V``, a
   max-shifted logsumexp, no pgm_control and no scipy): the largest |difference| of V (of log p(O)
   for ``log_evidence``) and the speed-up.
3. A 1000 x 1000 gridworld (10^6 states, slip 0.1), T = 100, against a NumPy successor-list reference
   (a dense one would need 32 TB). One timed run each; the target is <= 3 s per solve on one thread.
   Soft VI runs twice: storing q [T, S, A] (``keep="all"``, the default) and storing only v
   (``keep="v"``). ``--memory`` adds the peak RSS of a solve plus its policy for each ``keep`` option
   (one fresh interpreter per option).
4. ``imitation``'s ``mce_partition_fh`` (Ziebart's soft Bellman backup, dense transitions, state-only
   reward r(s)) on a random MDP with S = 5000, K = 10, T = 50, run by ``benchmarks/_imitation_mce.py``
   in its own venv (``benchmarks/.venv-imitation``; see benchmarks/README.md). Its V is
   log Σ_a exp Q, without the 1/|A| of our uniform action prior, so with γ = 1

       V_imitation[t] = V_ours[t] + (T - t) log|A|      for code time t = 0..T-1,

   and the policies are the same. The target speed-up is >= 30x.

Timing: ``time.perf_counter`` (wall) and ``time.process_time`` (CPU time of this process, steadier
than wall time on a shared machine); a warm-up solve with T = 2 first (it builds the cached operators),
then the best of up to 5 runs while the runs so far took < 10 s in all (one run for the 10^6-state
grid). Default torch threads (``--threads N`` sets them; 1 is steadier on a busy machine). Where CUDA
is available, a "GPU (s)" column times the same solves on ``mdp.to("cuda")`` (synchronized).
Exits with status 1 when any comparison disagrees (time targets are reported, never asserted).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _report import Agreement, Table, cpu_name, load_average

from pgm_control import TabularMDP
from pgm_control.envs import GridWorld, random_mdp
from pgm_control.inference import log_evidence, soft_value_iteration

HERE = Path(__file__).resolve().parent
IMITATION_PYTHON = HERE / ".venv-imitation" / "bin" / "python"
IMITATION_HELPER = HERE / "_imitation_mce.py"
# Largest |difference| accepted between two exact routes (float64, values of order 100).
AGREEMENT_TOL = 1e-10


@dataclass(frozen=True)
class Config:
    random_states: tuple[int, ...]
    horizon: int
    dense_max_gb: float
    grid_size: int
    grid_horizon: int
    imitation_states: int
    imitation_horizon: int
    repeats: int  # at most this many timed runs per measurement (best of)


FULL = Config(random_states=(1000, 10000), horizon=100, dense_max_gb=4.0, grid_size=1000,
              grid_horizon=100, imitation_states=5000, imitation_horizon=50, repeats=5)
QUICK = Config(random_states=(50, 200), horizon=10, dense_max_gb=4.0, grid_size=20, grid_horizon=10,
               imitation_states=100, imitation_horizon=10, repeats=2)
NUM_ACTIONS, BRANCHING = 4, 10


# ---------------------------------------------------------------------------- NumPy references
# Written without pgm_control: P is a dense [S*A, S'] array, r an [S, A] array.

def numpy_logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log Σ exp(x) along `axis`, shifted by the maximum (finite inputs)."""
    shift = x.max(axis=axis, keepdims=True)
    return np.log(np.exp(x - shift).sum(axis=axis)) + np.squeeze(shift, axis=axis)


def dense_expectation(P: np.ndarray, num_actions: int):
    """x ↦ Σ_{s'} p(s'|s,a) x(s') as [S, A], for a dense [S*A, S'] array P."""
    return lambda x: (P @ x).reshape(-1, num_actions)


def successor_expectation(next_states: np.ndarray, probs: np.ndarray):
    """x ↦ Σ_k probs[s,a,k] x(next_states[s,a,k]) as [S, A], for successor lists [S, A, K]."""
    return lambda x: (probs * x[next_states]).sum(-1)


def numpy_soft_vi(expect, r: np.ndarray, *, horizon: int, optimistic: bool, keep_all: bool = True):
    r"""Finite-horizon soft value iteration with a uniform action prior, γ = 1, α = 1.

        Q_t = r + E[V_{t+1}]                         (expected)
        Q_t = r + log E[exp V_{t+1}]                 (optimistic; global shift, exact while the spread
                                                      of V stays far below 700)
        V_t = log Σ_a exp(Q_t) - log A,   V_T = 0

    Returns V [T, S], or only V_1 [S] with ``keep_all=False``.
    """
    S, A = r.shape
    v_all = np.empty((horizon, S)) if keep_all else None
    v = np.zeros(S)
    for t in reversed(range(horizon)):
        if optimistic:
            shift = v.max()
            q = r + np.log(expect(np.exp(v - shift))) + shift
        else:
            q = r + expect(v)
        v = numpy_logsumexp(q) - math.log(A)
        if keep_all:
            v_all[t] = v
    return v_all if keep_all else v


def numpy_log_evidence(expect, r: np.ndarray, initial: np.ndarray, *, horizon: int) -> float:
    """log p(O_{1:T}) = log Σ_s p(s_1) β_1(s), by the optimistic recursion keeping only V_{t+1}."""
    v = numpy_soft_vi(expect, r, horizon=horizon, optimistic=True, keep_all=False)
    with np.errstate(divide="ignore"):
        return float(numpy_logsumexp(np.log(initial) + v, axis=0))


# ---------------------------------------------------------------------------- timing and reporting

def timed(solve, horizon: int, *, warm_up_horizon: int | None = 2, max_repeats: int = 5,
          budget_s: float = 10.0, synchronize=None):
    """(best wall seconds, best CPU seconds, result of the last run) of ``solve(horizon=horizon)``.

    A warm-up ``solve(horizon=warm_up_horizon)`` first (it builds cached operators and costs little),
    then up to `max_repeats` runs while the runs so far took < `budget_s` in all (so a run slowed by
    another process gets a second try unless runs are long). Each result is dropped (by reference
    counting) before the next run starts, so a 3 GB table is never held twice.
    """
    if warm_up_horizon is not None:
        solve(horizon=warm_up_horizon)
    best, best_cpu, spent, result = math.inf, math.inf, 0.0, None
    for _ in range(max_repeats):
        result = None
        start, start_cpu = time.perf_counter(), time.process_time()
        result = solve(horizon=horizon)
        if synchronize is not None:
            synchronize()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        if spent >= budget_s:
            break
    return best, best_cpu, result


def free():
    """Return the previous case's tables before the next case (gc.collect takes ~0.2 s with torch)."""
    gc.collect()


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.4f}" if seconds < 0.1 else f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def fmt_speedup(ours: float | None, reference: float | None) -> str:
    if ours is None or reference is None or ours <= 0:
        return "—"
    return f"{reference / ours:.1f}×"


def machine_facts() -> str:
    cpu = cpu_name()
    memory = "unknown"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        memory = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{datetime.date.today().isoformat()}; {cpu}; {os.cpu_count()} cores; RAM {memory}; "
            f"Python {platform.python_version()}; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads); NumPy {np.__version__}; {load_average()}")


def available_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemAvailable")))
        return kb / 2**20
    except (OSError, StopIteration, ValueError):
        return math.inf


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


# ---------------------------------------------------------------------------- cases

GPU = torch.cuda.is_available()  # a "GPU (s)" column appears only then
COLUMNS = ["MDP", "storage", "solver", "pgm_control (s)", "CPU (s)", *(["GPU (s)"] if GPU else []),
           "reference", "reference (s)", "speed-up", "max abs diff"]

SOLVERS = ("soft VI (expected)", "soft VI (optimistic)", "log_evidence")
# The grid also runs soft VI storing only v [T, S] (no [T, S, A] table written).
GRID_SOLVERS = ("soft VI (expected)", "soft VI (expected, keep='v')", "soft VI (optimistic)",
                "soft VI (optimistic, keep='v')", "log_evidence")


def run_ours(mdp: TabularMDP, solver: str, *, horizon: int):
    """The solver's comparable output: V [T, S] (q dropped at once), or log p(O) as a float."""
    if solver == "log_evidence":
        return float(log_evidence(mdp, horizon))
    backup = "expected" if solver.startswith("soft VI (expected") else "optimistic"
    keep = "v" if "keep='v'" in solver else "all"
    return soft_value_iteration(mdp, horizon=horizon, backup=backup, keep=keep, progress=False).v


def gpu_seconds(mdp: TabularMDP, solver: str, horizon: int, repeats: int) -> str:
    """Best wall time of the solve on the CUDA copy of the MDP ("—" without a GPU)."""
    if not GPU:
        return "—"
    seconds, _, _ = timed(partial(run_ours, mdp.to("cuda"), solver), horizon, max_repeats=repeats,
                          synchronize=torch.cuda.synchronize)
    return fmt_seconds(seconds)


def difference(ours, reference) -> float:
    if isinstance(ours, float):
        return abs(ours - reference)
    return float(np.abs(ours.cpu().numpy() - reference).max())


def random_case(S: int, config: Config, table: Table, agreement: Agreement) -> None:
    """One random MDP: successor lists and dense storage against the dense NumPy reference."""
    T = config.horizon
    name = f"random S={S} K={BRANCHING}"
    mdp = random_mdp(S, NUM_ACTIONS, branching=BRANCHING, seed=0)
    r, initial = mdp.rewards.numpy(), mdp.initial.numpy()
    dense_gb = S * NUM_ACTIONS * S * 8 / 2**30
    # P, the numpy reference's temporaries and the solvers' tables must fit beside each other.
    dense, references = None, {}
    if dense_gb <= config.dense_max_gb and 2.5 * dense_gb < available_gb():
        start = time.perf_counter()
        dense = mdp.to_dense()
        build_s = time.perf_counter() - start
        P = dense.transitions.numpy().reshape(S * NUM_ACTIONS, S)  # a view, no copy
        for solver in SOLVERS:
            if solver == "log_evidence":
                reference = partial(numpy_log_evidence, dense_expectation(P, r.shape[1]), r, initial)
            else:
                reference = partial(numpy_soft_vi, dense_expectation(P, r.shape[1]), r,
                                    optimistic="optimistic" in solver)
            references[solver] = timed(reference, T, max_repeats=config.repeats)[::2]

    for storage, model in (("successor lists", mdp), ("dense", dense)):
        if model is None:
            table.row(name, storage, "all", "skipped (memory)", *["—"] * (len(COLUMNS) - 4))
            continue
        if storage == "dense":
            table.row(name, storage, "build (`to_dense()`)", fmt_seconds(build_s), *["—"] * (len(COLUMNS) - 4))
        for solver in SOLVERS:
            seconds, cpu, value = timed(partial(run_ours, model, solver), T, max_repeats=config.repeats)
            ref_seconds, ref_value = references.get(solver, (None, None))
            agree = "—"
            if ref_value is not None:
                agree = agreement.check(f"{name} {storage} {solver} vs NumPy dense",
                                        difference(value, ref_value))
            table.row(name, storage, solver, fmt_seconds(seconds), fmt_seconds(cpu),
                      *([gpu_seconds(model, solver, T, config.repeats)] if GPU else []),
                      "—" if ref_value is None else "NumPy dense", fmt_seconds(ref_seconds),
                      fmt_speedup(seconds, ref_seconds), agree)


def grid_case(config: Config, table: Table, agreement: Agreement, notes: list[str]) -> None:
    """The n x n gridworld against the NumPy successor-list reference; one timed run each."""
    n, T = config.grid_size, config.grid_horizon
    name = f"grid {n}×{n} (S={n * n:,})"
    start = time.perf_counter()
    grid = GridWorld(["." * n] * (n - 1) + ["." * (n - 1) + "G"], step_reward=-1.0, slip=0.1)
    build_s = time.perf_counter() - start
    table.row(name, "successor lists", "build (`GridWorld`)", fmt_seconds(build_s), *["—"] * (len(COLUMNS) - 4))
    next_states, probs = grid.next_states.numpy(), grid.probs.numpy()
    r, initial = grid.rewards.numpy(), grid.initial.numpy()
    for solver in GRID_SOLVERS:
        # The warm-up (T = 2) builds the cached operators; then one run (q [T, 10^6, 4] is 3.2 GB).
        seconds, cpu, value = timed(partial(run_ours, grid, solver), T, max_repeats=1)
        if solver == "log_evidence":
            reference = partial(numpy_log_evidence, successor_expectation(next_states, probs), r, initial)
        else:
            reference = partial(numpy_soft_vi, successor_expectation(next_states, probs), r,
                                optimistic="optimistic" in solver)
        ref_seconds, _, ref_value = timed(reference, T, warm_up_horizon=None, max_repeats=1)
        agree = agreement.check(f"{name} {solver} vs NumPy successor lists", difference(value, ref_value))
        table.row(name, "successor lists", solver, fmt_seconds(seconds), fmt_seconds(cpu),
                  *([gpu_seconds(grid, solver, T, 1)] if GPU else []), "NumPy succ. lists",
                  fmt_seconds(ref_seconds), fmt_speedup(seconds, ref_seconds), agree)
        if n == FULL.grid_size:
            met = "met" if cpu <= 3 else "NOT met"
            notes.append(f"target: {name} {solver} in {seconds:.2f} s wall, {cpu:.2f} s CPU "
                         f"(<= 3 s: {met})")
        del value, ref_value
        free()


MEMORY_SCRIPT = """
import resource, sys
import torch
torch.set_num_threads(1)
from pgm_control.envs import GridWorld
from pgm_control.inference import soft_value_iteration
n, T, keep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
grid = GridWorld(["." * n] * (n - 1) + ["." * (n - 1) + "G"], step_reward=-1.0, slip=0.1)
soft_value_iteration(grid, 2, keep=keep, progress=False)  # the cached operators
built = peak()
result = soft_value_iteration(grid, T, keep=keep, progress=False)
solved = peak()
if keep == "v":
    for t in range(T):  # one [S, A] step at a time, as a sampler reads it
        step = result.log_policy_at(t)
else:
    table = result.log_policy
print(built, solved, peak())
"""


def memory_case(config: Config) -> None:
    """Peak RSS of the grid's soft VI (expected) plus its policy, per ``keep`` option, each in a
    fresh interpreter (ru_maxrss never decreases)."""
    n, T = config.grid_size, config.grid_horizon
    print(f"\n### Peak memory: grid {n}×{n}, soft VI (expected), T = {T}, plus reading the policy\n")
    table = Table(["keep", "after building the MDP (GiB)", "after the solve (GiB)",
                   "after reading the policy (GiB)", "policy read as"], "lrrrl")
    for keep, read in (("all", "`.log_policy`"), ("policy", "`.log_policy`"), ("v", "`log_policy_at(t)`, t = 0..T-1")):
        completed = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n), str(T), keep],
                                   capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            table.row(f"`{keep}`", "failed", completed.stderr[-200:].replace("\n", " "), "—", read)
            continue
        built, solved, final = (float(x) for x in completed.stdout.split()[-3:])
        table.row(f'`"{keep}"`', f"{built:.2f}", f"{solved:.2f}", f"{final:.2f}", read)


def imitation_case(config: Config, agreement: Agreement, notes: list[str]) -> None:
    S, A, T = config.imitation_states, NUM_ACTIONS, config.imitation_horizon
    print(f"\n### `imitation` `mce_partition_fh` vs `soft_value_iteration` "
          f"(random S={S}, A={A}, K={BRANCHING}, T={T}, state-only reward r(s))\n")
    if not IMITATION_PYTHON.exists():
        print("imitation not installed (see benchmarks/README.md)")
        return
    base = random_mdp(S, A, branching=BRANCHING, seed=0)
    reward = torch.randn(S, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mdp = base.replace(rewards=reward)  # r(s, a) = r(s): the only reward mce_partition_fh accepts
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        np.savez(folder / "mdp.npz", next_states=mdp.next_states.numpy(), probs=mdp.probs.numpy(),
                 reward=reward.numpy(), initial=mdp.initial.numpy(), horizon=T)
        completed = subprocess.run(
            [str(IMITATION_PYTHON), str(IMITATION_HELPER), str(folder / "mdp.npz"), str(folder / "out.npz")],
            capture_output=True, text=True, check=False,
        )
        if completed.returncode != 0:
            print(f"imitation helper failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
            agreement.check("imitation mce_partition_fh ran", math.inf)
            return
        info = json.loads((folder / "out.json").read_text())
        with np.load(folder / "out.npz") as out:
            v_imitation, pi_imitation = out["V"], out["pi"]

    table = Table(["solver", "storage", "time (s)", "speed-up vs imitation", "max abs ΔV (offset)",
                   "max abs Δπ"], "lllrrr")
    table.row(f"imitation {info['imitation_version']} `mce_partition_fh`", "dense [S, A, S']",
              fmt_seconds(info["seconds"]), "1.0×", "—", "—")
    offset = (T - np.arange(T))[:, None] * math.log(A)  # V_imitation[t] = V_ours[t] + (T - t) log|A|
    for storage, model in (("successor lists", mdp), ("dense", mdp.to_dense())):
        seconds, _, result = timed(partial(soft_value_iteration, model, progress=False), T,
                                max_repeats=config.repeats)
        dv = float(np.abs(result.v.numpy() + offset - v_imitation).max())
        dpi = float(np.abs(result.policy.numpy() - pi_imitation).max())
        v_ok = agreement.check(f"imitation mce_partition_fh V vs ours ({storage}) + (T - t) log|A|", dv)
        pi_ok = agreement.check(f"imitation mce_partition_fh π vs ours ({storage})", dpi)
        table.row("pgm_control `soft_value_iteration`", storage, fmt_seconds(seconds),
                  fmt_speedup(seconds, info["seconds"]), v_ok, pi_ok)
        if storage == "successor lists":
            speedup = info["seconds"] / seconds
            met = "met" if speedup >= 30 else "NOT met"
            notes.append(f"target: speed-up over imitation's mce_partition_fh {speedup:.0f}× (>= 30×: {met})")
        del result
    print(f"\nimitation's environment: seals `{info['env_class']}` built in "
          f"{info['build_seconds']:.2f} s (dense transition matrix from the same successor lists); "
          f"mce_partition_fh runs: {', '.join(f'{s:.3f}' for s in info['all_seconds'])} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a few seconds")
    parser.add_argument("--skip-imitation", action="store_true", help="leave out the imitation comparison")
    parser.add_argument("--skip-grid", action="store_true", help="leave out the 10^6-state gridworld")
    parser.add_argument("--skip-random", action="store_true", help="leave out the random MDPs")
    parser.add_argument("--memory", action="store_true",
                        help="also measure the grid's peak RSS per keep option (one process each)")
    parser.add_argument("--dense-max-gb", type=float, default=None,
                        help="largest dense [S, A, S'] tensor to build (default 4 GB; 0 skips dense)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) (default: torch's own choice, one per core)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = QUICK if args.quick else FULL
    if args.dense_max_gb is not None:
        config = Config(**{**config.__dict__, "dense_max_gb": args.dense_max_gb})

    print(f"# pgm_control exact solvers{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {machine_facts()}\n")
    agreement = Agreement(AGREEMENT_TOL)
    notes: list[str] = []
    start = time.perf_counter()

    print(f"### Exact solvers vs NumPy references (A={NUM_ACTIONS}, T={config.horizon} for random MDPs, "
          f"T={config.grid_horizon} for the grid, float64)\n")
    table = Table(COLUMNS, "lllrr" + ("r" if GPU else "") + "lrrr")
    for S in () if args.skip_random else config.random_states:
        random_case(S, config, table, agreement)
        free()
    if not args.skip_grid:
        grid_case(config, table, agreement, notes)
    print("\nmax abs diff: max |difference| of V [T, S] over all t and s, or of log p(O) for log_evidence.")

    if args.memory:
        memory_case(config)
    if not args.skip_imitation:
        imitation_case(config, agreement, notes)

    print()
    for note in notes:
        print(note)
    agreement.report()
    print(f"total {time.perf_counter() - start:.0f} s; peak memory (RSS) {peak_rss_gb():.1f} GiB; "
          f"{load_average()} at the end")
    return 1 if agreement.failures else 0


if __name__ == "__main__":
    sys.exit(main())
