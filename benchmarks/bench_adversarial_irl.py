r"""Benchmark of adversarial imitation on Pendulum-v1: GAIL and AIRL (pgm_control) from a SAC expert.

    python benchmarks/bench_adversarial_irl.py                 # 3 seeds, 20 000 expert and imitation steps
    python benchmarks/bench_adversarial_irl.py --quick         # a smoke run (tests/test_bench_adversarial_irl.py)
    python benchmarks/bench_adversarial_irl.py --peer --expert-cache /tmp/expert.npz   # with imitation's

The expert is pgm_control's ``SAC`` with ``SACConfig()`` defaults trained for ``--expert-steps``; its
``--demos`` episodes (stochastic actions) are the demonstrations. Each (method, seed) run trains a fresh
SAC (same config, seed) inside :class:`~pgm_control.rl.AdversarialImitation` for ``--steps`` environment
steps, then evaluates the deterministic policy on 10 episodes (``SAC.evaluate``). The reported score is
the return normalized between a uniform random policy (0) and the expert (1), both evaluated the same
way. Wall time is ``time.perf_counter`` around training (evaluations excluded).

Measured (``--seeds 1``, 2 shared CPU cores at load 5-9): expert -107.6 after 20 000 steps (1073 s),
random -1130.5; GAIL -120.1 (normalized 0.99, 1072 s), AIRL -108.7 (1.00, 495 s), 20 000 steps each.
Seed 0 again beside imitation, each library's two runs in parallel (load 3.5-5): ours GAIL -120.1
(0.99, 611 s), AIRL -108.7 (1.00, 620 s); imitation GAIL -582.7 (0.54, 798 s), AIRL -132.5 (0.98,
809 s). benchmarks/README.md has the table and what was not run (seeds 1 and 2).

``--peer`` runs the same demonstrations through ``imitation``'s GAIL and AIRL with the same
environment-step budget, seeds and evaluation, in their own venv (``benchmarks/.venv-imitation``, see
benchmarks/README.md) through ``benchmarks/_imitation_adversarial.py``, one process per run after
pgm_control's run of the same (seed, method), so a drift of the machine's load hits both alike; the
demonstrations travel as an ``.npz``. Without the venv the peer rows are skipped with a message.
``--expert-cache PATH`` keeps the expert's demonstrations, its return and the random floor in an
``.npz`` and reuses them when the file exists (the expert is the slowest part).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import gymnasium
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Table, load_average
from pgm_control.rl import SAC, AdversarialImitation, SACConfig, Transitions, expert_transitions
from pgm_control.rl.training import EVAL_SEED_OFFSET

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE / ".venv-imitation" / "bin" / "python"
PEER_HELPER = HERE / "_imitation_adversarial.py"
ENV_ID = "Pendulum-v1"


def random_return(env, episodes: int = 10, seed: int = 10_000) -> float:
    """The mean return of uniform random actions over `episodes` episodes."""
    env.action_space.seed(seed)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    return total / episodes


def expert_demonstrations(args, config: SACConfig) -> tuple[Transitions, float, float, str]:
    """The expert's demonstrations, its return, the random floor and a line saying where they came from:
    read from ``args.expert_cache`` when it exists, else trained here (and written there when given)."""
    cache = args.expert_cache
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            demos = Transitions(*(torch.as_tensor(data[name]) for name in Transitions._fields))
            return demos, float(data["expert_return"]), float(data["random_return"]), f"read from {cache}"
    start = time.perf_counter()
    expert = SAC(gymnasium.make(ENV_ID), config, seed=100)
    expert.train(args.expert_steps, progress=False)
    wall = time.perf_counter() - start
    expert_return, floor = float(expert.evaluate(10).mean()), random_return(gymnasium.make(ENV_ID))
    demos = expert_transitions(expert, args.demos, seed=200)
    if cache is not None:
        save_demonstrations(cache, demos, expert_return=expert_return, random_return=floor)
    return demos, expert_return, floor, f"SAC {args.expert_steps} steps, {wall:.0f} s"


def save_demonstrations(path: Path, demos: Transitions, **extra: float) -> None:
    """``demos`` (and ``extra`` scalars) as an ``.npz`` (no pickle), with ``episode_ends``: True where
    an episode ends, found where the next row does not start at this row's next observation."""
    ends = np.ones(len(demos.rewards), dtype=bool)
    ends[:-1] = (demos.next_observations[:-1] != demos.observations[1:]).any(dim=1).numpy()
    np.savez(path, episode_ends=ends, **{name: tensor.numpy() for name, tensor in demos._asdict().items()},
             **extra)


def run_peer(method: str, seed: int, demos_path: Path, config: SACConfig, args, every: int,
             steps_per_round: int) -> dict:
    """imitation's ``method`` on the saved demonstrations in its venv (``_imitation_adversarial.py``)."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps({
            **asdict(config), "method": method, "env_id": ENV_ID, "seed": seed, "steps": args.steps,
            "demos": str(demos_path), "disc_every": every, "disc_steps": steps_per_round,
            "eval_episodes": 10, "eval_seed": seed + EVAL_SEED_OFFSET, "threads": 1}))
        env = {**os.environ, **{name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        completed = subprocess.run([str(args.peer_python), str(PEER_HELPER), str(source), str(target)],
                                   capture_output=True, text=True, check=False, env=env)
        if completed.returncode != 0:
            raise RuntimeError(f"imitation helper failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        return json.loads(target.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--expert-steps", type=int, default=20_000)
    parser.add_argument("--demos", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=["gail", "airl"])
    parser.add_argument("--libraries", nargs="+", choices=("pgm_control", "imitation"), default=["pgm_control"],
                        help="whose trainers run (--peer adds imitation)")
    parser.add_argument("--peer", action="store_true", help="also run imitation's GAIL and AIRL (their venv)")
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON, help="the imitation venv's python")
    parser.add_argument("--expert-cache", type=Path, default=None, help="an .npz of the expert's demonstrations")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = SACConfig()
    every, steps_per_round = 1000, 50
    if args.quick:
        config = SACConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0)
        args.seeds, args.steps, args.expert_steps, args.demos = 1, 60, 60, 1
        every, steps_per_round = 30, 2
    libraries = list(dict.fromkeys(args.libraries + (["imitation"] if args.peer else [])))
    if "imitation" in libraries and not args.peer_python.exists():
        print(f"imitation not installed ({args.peer_python} is missing; see benchmarks/README.md): "
              "its GAIL and AIRL are skipped")
        libraries.remove("imitation")
    demos, expert_return, floor, origin = expert_demonstrations(args, config)
    print(f"expert: {origin}, return {expert_return:.1f}; random {floor:.1f}; "
          f"{len(demos.rewards)} demonstrated transitions")
    table = Table(["library", "method", "seed", "return", "normalized", "wall s", "final D expert / policy",
                   "load"], "lllrrrll")
    def normalized(achieved: float) -> str:  # 0 for the random policy, 1 for the expert
        return f"{(achieved - floor) / (expert_return - floor):.2f}"

    with tempfile.TemporaryDirectory() as folder:
        demos_path = Path(folder) / "demos.npz"
        save_demonstrations(demos_path, demos)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for method in args.methods:
                if "pgm_control" in libraries:
                    achieved, wall, final_d = run_ours(method, seed, demos, config, args.steps, every,
                                                       steps_per_round)
                    table.row("pgm_control", method, seed, f"{achieved:.1f}", normalized(achieved), f"{wall:.0f}",
                              final_d, load_average())
                if "imitation" in libraries:
                    out = run_peer(method, seed, demos_path, config, args, every, steps_per_round)
                    achieved = float(np.mean(out["returns"]))
                    table.row("imitation", method, seed, f"{achieved:.1f}", normalized(achieved),
                              f"{out['seconds']:.0f}", "-", load_average())
                    versions = out["versions"]
    if "imitation" in libraries:
        print("\nimitation's venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return 0


def run_ours(method: str, seed: int, demos: Transitions, config: SACConfig, steps: int, every: int,
             steps_per_round: int) -> tuple[float, float, str]:
    """pgm_control's ``method``: the deterministic return, the training wall time, the final D values."""
    trainer = AdversarialImitation(SAC(gymnasium.make(ENV_ID), config, seed=seed), demos, method,
                                   batch_size=config.batch_size, discriminator_every=every,
                                   discriminator_steps=steps_per_round, seed=seed)
    start = time.perf_counter()
    history = trainer.train(steps, progress=False)
    wall = time.perf_counter() - start
    final_d = f"{history['expert_d'][-1]:.2f} / {history['policy_d'][-1]:.2f}" if history["loss"] else "-"
    return float(trainer.agent.evaluate(10).mean()), wall, final_d


if __name__ == "__main__":
    sys.exit(main())
