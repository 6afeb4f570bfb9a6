r"""Benchmark of adversarial imitation: GAIL and AIRL (pgm_control) on Pendulum-v1 from a SAC expert and on
CartPole-v1 from a SoftQ expert, beside ``imitation``'s GAIL and AIRL on Pendulum-v1.

    python benchmarks/bench_adversarial_irl.py                 # Pendulum, 3 seeds, 20 000 expert and imitation steps
    python benchmarks/bench_adversarial_irl.py --task cartpole --expert-steps 30000 --steps 30000
    python benchmarks/bench_adversarial_irl.py --quick [--task cartpole]  # smoke runs (tests/test_bench_...)
    python benchmarks/bench_adversarial_irl.py --peer --expert-checkpoint /tmp/expert.pt   # with imitation's

The expert is pgm_control's ``SAC`` (Pendulum-v1, continuous actions) or ``SoftQ`` (CartPole-v1, discrete)
with its config's defaults (``eval_every=0`` for SoftQ) trained for ``--expert-steps``; its ``--demos``
episodes (stochastic actions) are the demonstrations. CartPole-v1 terminates when the pole falls, so it runs
inside :class:`~pgm_control.envs.FixedHorizon` (500-step episodes that continue in an absorbing state with
reward 0): adversarial imitation needs fixed-length episodes, and its returns are CartPole's own. Each
(method, seed) run trains a fresh agent (same config, seed) inside :class:`~pgm_control.rl.AdversarialImitation`
for ``--steps`` environment steps, then evaluates the deterministic policy on 10 episodes (``evaluate``). The
reported score is the return normalized between a uniform random policy (0) and the expert (1), both evaluated
the same way. Wall time is ``time.perf_counter`` around training (evaluations excluded). ``--methods``,
``--first-seed`` and ``--libraries`` split a run over processes (one per method or library, say) on more
cores; ``--expert-checkpoint`` lets those processes share one expert (and so the same demonstrations, which
are drawn from it with a fixed seed).

``--peer`` (Pendulum-v1 only) runs the same demonstrations through ``imitation``'s GAIL and AIRL with the
same environment-step budget, seeds and evaluation, in their own venv (``benchmarks/.venv-imitation``, see
benchmarks/README.md) through ``benchmarks/_imitation_adversarial.py``, one process per run after
pgm_control's run of the same (seed, method), so a drift of the machine's load hits both alike; the
demonstrations travel as an ``.npz``. Without the venv the peer rows are skipped with a message.

Pendulum-v1, measured (seeds 0, 1, 2, 20 000 steps, ours and imitation's run of each (method, seed) side by
side on 2 shared CPU cores, load 1.6-4.6): expert -107.6 after 20 000 steps (607 s), random -1130.5; mean
normalized return ours / imitation GAIL 0.97 / 0.80, AIRL 0.97 / 0.97; our wall time 0.885 (GAIL) and 0.886
(AIRL) of theirs. benchmarks/README.md has the runs.

CartPole-v1, measured (one process per method or seed, load 3-5.5): SoftQ expert 500.0 after 30 000 steps
(~170 s), random 30.1; with 80 000 steps AIRL 500.0 (normalized 1.00) on seeds 0, 1, 2 (241-536 s), GAIL
with ``--gradient-penalty 1`` 500.0 (1.00) on seeds 0, 1, 2 (287-415 s); GAIL without it 351.1 (0.68, seed 0,
522 s), with ``--discriminator-steps 10`` 1.00 and 0.49 (seeds 0, 1; ~480 s), with ``--gradient-penalty 10``
1.00 and 0.08 (seeds 0, 1); with 30 000 steps unpenalized GAIL 0.57, AIRL 0.21.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Table, load_average
from pgm_control.envs import FixedHorizon
from pgm_control.rl import SAC, AdversarialImitation, SACConfig, SoftQ, SoftQConfig, Transitions, expert_transitions
from pgm_control.rl.training import EVAL_SEED_OFFSET

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE / ".venv-imitation" / "bin" / "python"
PEER_HELPER = HERE / "_imitation_adversarial.py"
PEER_TASKS = ("pendulum",)  # the helper's generator is SB3's SAC: continuous actions only


@dataclass(frozen=True)
class Task:
    """An imitation task: its environment, the agent (expert and inner loop) and that agent's configs."""

    env_id: str
    agent: type
    config: object
    quick_config: object
    fixed_horizon: bool  # wrap in FixedHorizon: the task terminates, imitation needs fixed-length episodes

    def make_env(self):
        env = gymnasium.make(self.env_id)
        return FixedHorizon(env) if self.fixed_horizon else env


TASKS = {
    "pendulum": Task("Pendulum-v1", SAC, SACConfig(),
                     SACConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0), False),
    "cartpole": Task("CartPole-v1", SoftQ, SoftQConfig(eval_every=0),
                     SoftQConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0), True),
}


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


def trained_expert(task: Task, config, steps: int, checkpoint: Path | None):
    """The task's agent trained for `steps` (seed 100); read from `checkpoint` when that file exists, else
    trained and, with a `checkpoint` path, saved there (without its replay buffer) for the next run."""
    if checkpoint is not None and checkpoint.exists():
        expert = task.agent.load(checkpoint, task.make_env())
        if expert.step != steps or expert.config != config:
            raise ValueError(f"--expert-checkpoint {checkpoint} holds an expert of {expert.step} steps and another "
                             f"config; delete it or pass --expert-steps {expert.step}")
        return expert
    expert = task.agent(task.make_env(), config, seed=100)
    expert.train(steps, progress=False)
    if checkpoint is not None:
        expert.save(checkpoint, include_replay=False)
    return expert


def save_demonstrations(path: Path, demos: Transitions) -> None:
    """``demos`` as an ``.npz`` (no pickle) for imitation's helper, with ``episode_ends``: True where an
    episode ends, found where the next row does not start at this row's next observation."""
    ends = np.ones(len(demos.rewards), dtype=bool)
    ends[:-1] = (demos.next_observations[:-1] != demos.observations[1:]).any(dim=1).numpy()
    np.savez(path, episode_ends=ends, **{name: tensor.numpy() for name, tensor in demos._asdict().items()})


def run_ours(task: Task, method: str, seed: int, demos: Transitions, config, steps: int, every: int,
             steps_per_round: int, gradient_penalty: float = 0.0) -> tuple[float, float, str]:
    """pgm_control's ``method``: the deterministic return, the training wall time, the final D values
    (``gradient_penalty``: GAIL's λ; AIRL runs without)."""
    trainer = AdversarialImitation(task.agent(task.make_env(), config, seed=seed), demos, method,
                                   batch_size=config.batch_size, discriminator_every=every,
                                   discriminator_steps=steps_per_round, seed=seed,
                                   gradient_penalty=gradient_penalty if method == "gail" else 0.0)
    start = time.perf_counter()
    history = trainer.train(steps, progress=False)
    wall = time.perf_counter() - start
    final_d = f"{history['expert_d'][-1]:.2f} / {history['policy_d'][-1]:.2f}" if history["loss"] else "-"
    return float(trainer.agent.evaluate(10).mean()), wall, final_d


def run_peer(task: Task, method: str, seed: int, demos_path: Path, config: SACConfig, args, every: int,
             steps_per_round: int) -> dict:
    """imitation's ``method`` on the saved demonstrations in its venv (``_imitation_adversarial.py``)."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps({
            **asdict(config), "method": method, "env_id": task.env_id, "seed": seed, "steps": args.steps,
            "demos": str(demos_path), "disc_every": every, "disc_steps": steps_per_round,
            "eval_episodes": 10, "eval_seed": seed + EVAL_SEED_OFFSET, "threads": 1}))
        env = {**os.environ, **{name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        completed = subprocess.run([str(args.peer_python), str(PEER_HELPER), str(source), str(target)],
                                   capture_output=True, text=True, check=False, env=env)
        if completed.returncode != 0:
            raise RuntimeError(f"imitation helper failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        return json.loads(target.read_text())


def normalized(achieved: float, floor: float, expert_return: float) -> str:
    """The return on the scale where the random policy scores 0 and the expert 1."""
    return f"{(achieved - floor) / (expert_return - floor):.2f}"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    parser.add_argument("--task", choices=sorted(TASKS), default="pendulum")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--expert-steps", type=int, default=20_000)
    parser.add_argument("--demos", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=["gail", "airl"])
    parser.add_argument("--discriminator-steps", type=int, default=50, help="per round of every 1000 env steps")
    parser.add_argument("--gradient-penalty", type=float, default=0.0, help="GAIL's discriminator gradient "
                        "penalty λ (AdversarialImitation(gradient_penalty=...)); 0: none")
    parser.add_argument("--expert-checkpoint", type=Path, help="reuse the expert saved there (trained and saved "
                        "there when the file does not exist); its demonstrations are drawn again with a fixed "
                        "seed, so every process that reads it imitates the same ones")
    parser.add_argument("--libraries", nargs="+", choices=("pgm_control", "imitation"), default=["pgm_control"],
                        help="whose trainers run (--peer adds imitation; imitation runs on --task pendulum only)")
    parser.add_argument("--peer", action="store_true",
                        help="also run imitation's GAIL and AIRL (their venv; --task pendulum only)")
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON, help="the imitation venv's python")
    args = parser.parse_args(argv)
    args.libraries = list(dict.fromkeys(args.libraries + (["imitation"] if args.peer else [])))
    if "imitation" in args.libraries and args.task not in PEER_TASKS:
        parser.error(f"imitation's GAIL and AIRL run on --task {' or '.join(PEER_TASKS)} only, not {args.task}")
    return args


def main(argv=None) -> int:
    args = parse_arguments(argv)
    torch.set_num_threads(1)
    task = TASKS[args.task]
    config = task.config
    every, steps_per_round = 1000, args.discriminator_steps
    if args.quick:
        config = task.quick_config
        args.seeds, args.first_seed, args.steps, args.expert_steps, args.demos = 1, 0, 60, 60, 1
        every, steps_per_round = 30, 2
    libraries = args.libraries
    if "imitation" in libraries and not args.peer_python.exists():
        print(f"imitation not installed ({args.peer_python} is missing; see benchmarks/README.md): "
              "its GAIL and AIRL are skipped")
        libraries.remove("imitation")
    reused = args.expert_checkpoint is not None and args.expert_checkpoint.exists()
    start = time.perf_counter()
    expert = trained_expert(task, config, args.expert_steps, args.expert_checkpoint)
    origin = f"read from {args.expert_checkpoint}" if reused else f"trained in {time.perf_counter() - start:.0f} s"
    expert_return, floor = float(expert.evaluate(10).mean()), random_return(task.make_env())
    demos = expert_transitions(expert, args.demos, seed=200)
    print(f"expert: {task.agent.__name__} on {task.env_id}, {args.expert_steps} steps, {origin}, "
          f"return {expert_return:.1f}; random {floor:.1f}; {len(demos.rewards)} demonstrated transitions")
    table = Table(["library", "method", "seed", "return", "normalized", "wall s", "final D expert / policy",
                   "load"], "lllrrrll")
    versions = None
    with tempfile.TemporaryDirectory() as folder:
        demos_path = Path(folder) / "demos.npz"
        if "imitation" in libraries:
            save_demonstrations(demos_path, demos)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for method in args.methods:
                if "pgm_control" in libraries:
                    achieved, wall, final_d = run_ours(task, method, seed, demos, config, args.steps, every,
                                                       steps_per_round, args.gradient_penalty)
                    table.row("pgm_control", method, seed, f"{achieved:.1f}",
                              normalized(achieved, floor, expert_return), f"{wall:.0f}", final_d, load_average())
                if "imitation" in libraries:
                    out = run_peer(task, method, seed, demos_path, config, args, every, steps_per_round)
                    achieved = float(np.mean(out["returns"]))
                    table.row("imitation", method, seed, f"{achieved:.1f}",
                              normalized(achieved, floor, expert_return), f"{out['seconds']:.0f}", "-", load_average())
                    versions = out["versions"]
    if versions is not None:
        print("\nimitation's venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
