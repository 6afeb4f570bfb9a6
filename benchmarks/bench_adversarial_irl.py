r"""Benchmark of adversarial imitation: GAIL and AIRL (pgm_control) on Pendulum-v1 from a SAC expert and on
CartPole-v1 from a SoftQ expert.

    python benchmarks/bench_adversarial_irl.py                 # Pendulum, 3 seeds, 20 000 expert and imitation steps
    python benchmarks/bench_adversarial_irl.py --task cartpole --expert-steps 30000 --steps 30000
    python benchmarks/bench_adversarial_irl.py --quick [--task cartpole]  # smoke runs (tests/test_bench_...)

The expert is pgm_control's ``SAC`` (Pendulum-v1, continuous actions) or ``SoftQ`` (CartPole-v1, discrete)
with its config's defaults (``eval_every=0`` for SoftQ) trained for ``--expert-steps``; its ``--demos``
episodes (stochastic actions) are the demonstrations. CartPole-v1 terminates when the pole falls, so it runs
inside :class:`~pgm_control.envs.FixedHorizon` (500-step episodes that continue in an absorbing state with
reward 0): adversarial imitation needs fixed-length episodes, and its returns are CartPole's own. Each
(method, seed) run trains a fresh agent (same config, seed) inside :class:`~pgm_control.rl.AdversarialImitation`
for ``--steps`` environment steps, then evaluates the deterministic policy on 10 episodes (``evaluate``). The
reported score is the return normalized between a uniform random policy (0) and the expert (1), both evaluated
the same way. Wall time is ``time.perf_counter`` around training (evaluations excluded). ``--methods`` and
``--first-seed`` split a run over processes (one per method, say) on more cores.

Pendulum-v1, measured (``--seeds 1``, 2 shared CPU cores at load 5-9): expert -107.6 after 20 000 steps (1073 s),
random -1130.5; GAIL -120.1 (normalized 0.99, 1072 s), AIRL -108.7 (1.00, 495 s), 20 000 steps each.

CartPole-v1, measured (one process per method or seed, load 3-5.5): SoftQ expert 500.0 after 30 000 steps
(~170 s), random 30.1; with 80 000 steps AIRL 500.0 (normalized 1.00) on seeds 0, 1, 2 (241-536 s), GAIL
with ``--gradient-penalty 1`` 500.0 (1.00) on seeds 0, 1, 2 (287-415 s); GAIL without it 351.1 (0.68, seed 0,
522 s), with ``--discriminator-steps 10`` 1.00 and 0.49 (seeds 0, 1; ~480 s), with ``--gradient-penalty 10``
1.00 and 0.08 (seeds 0, 1); with 30 000 steps unpenalized GAIL 0.57, AIRL 0.21.

Not in this script yet: ``imitation``'s GAIL and AIRL in their own venv with the same step budget (as
``bench_sac.py`` runs SB3); seeds 1 and 2 of the full run have not been run.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Table, load_average
from pgm_control.envs import FixedHorizon
from pgm_control.rl import SAC, AdversarialImitation, SACConfig, SoftQ, SoftQConfig, expert_transitions


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


def main(argv=None) -> int:
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
                        "there when the file does not exist)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = TASKS[args.task]
    config = task.config
    every, steps_per_round = 1000, args.discriminator_steps
    if args.quick:
        config = task.quick_config
        args.seeds, args.first_seed, args.steps, args.expert_steps, args.demos = 1, 0, 60, 60, 1
        every, steps_per_round = 30, 2
    start = time.perf_counter()
    expert = trained_expert(task, config, args.expert_steps, args.expert_checkpoint)
    expert_wall = time.perf_counter() - start
    expert_return, floor = float(expert.evaluate(10).mean()), random_return(task.make_env())
    demos = expert_transitions(expert, args.demos, seed=200)
    print(f"expert: {task.agent.__name__} on {task.env_id}, {args.expert_steps} steps, {expert_wall:.0f} s, "
          f"return {expert_return:.1f}; random {floor:.1f}; {len(demos.rewards)} demonstrated transitions")
    table = Table(["method", "seed", "return", "normalized", "wall s", "final D expert / policy", "load"],
                  "llrrrll")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:
            trainer = AdversarialImitation(task.agent(task.make_env(), config, seed=seed), demos, method,
                                           batch_size=config.batch_size, discriminator_every=every,
                                           discriminator_steps=steps_per_round, seed=seed,
                                           gradient_penalty=args.gradient_penalty if method == "gail" else 0.0)
            start = time.perf_counter()
            history = trainer.train(args.steps, progress=False)
            wall = time.perf_counter() - start
            achieved = float(trainer.agent.evaluate(10).mean())
            final_d = f"{history['expert_d'][-1]:.2f} / {history['policy_d'][-1]:.2f}" if history["loss"] else "-"
            table.row(method, seed, f"{achieved:.1f}", f"{(achieved - floor) / (expert_return - floor):.2f}",
                      f"{wall:.0f}", final_d, load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
