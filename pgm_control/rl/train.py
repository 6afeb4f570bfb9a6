r"""``pgm-control train``: SAC, deep soft Q-learning or tabular Q-learning on a Gymnasium environment.

    pgm-control train sac        --env Pendulum-v1     --steps 20000 --out runs/sac [--variant v1|v2]
    pgm-control train soft-q     --env CartPole-v1     --steps 30000 --out runs/soft_q
    pgm-control train q-learning --env CliffWalking-v1 --steps 50000 --out runs/q

Common options: ``--seed S``, ``--no-progress``, ``--eval-episodes K`` (default 10), ``--threads N``
(torch CPU threads, default 1: intra-op threads cost more than they save on these small networks) and
``--set KEY=VALUE`` (repeatable) to override a field of :class:`~pgm_control.rl.SACConfig` /
:class:`~pgm_control.rl.SoftQConfig`, or a keyword of ``q_learning`` (values are Python literals:
``--set hidden=64,64 --set lr=3e-4``; ``--set exploration_bonus=rnd --set bonus_scale=3`` adds the RND
exploration bonus, e.g. on ``--env pgm_control/DeepSea-v0``).

Each run writes ``OUT/returns.csv`` (one row per training episode and per evaluation; the last row is
the final evaluation over ``--eval-episodes`` episodes), ``OUT/learning_curve.png``, a checkpoint
(``OUT/checkpoint.pt`` for the deep agents, ``OUT/q_table.pt`` for tabular Q-learning) and prints a
short summary: the final evaluation return and the wall time.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch

from pgm_control._checks import MAX_SEED, check_writable_folder
from pgm_control.rl.sac import SAC, SACConfig
from pgm_control.rl.soft_q import SoftQ, SoftQConfig
from pgm_control.rl.tabular import q_learning
from pgm_control.rl.training import ReturnsLog, TrainingHistory, config_from_dict, plot_learning_curve

DEFAULT_ENVS = {"sac": "Pendulum-v1", "soft-q": "CartPole-v1", "q-learning": "CliffWalking-v1"}
DEFAULT_STEPS = {"sac": 20_000, "soft-q": 30_000, "q-learning": 50_000}
TABULAR_EVAL_MAX_STEPS = 1_000  # a greedy table policy may loop forever in an env without a time limit


def parse_overrides(items) -> dict:
    """``["lr=3e-4", "hidden=64,64", "variant=v1"]`` -> ``{"lr": 0.0003, "hidden": (64, 64), "variant": "v1"}``.

    >>> parse_overrides(["lr=3e-4", "hidden=64,64", "variant=v1"])
    {'lr': 0.0003, 'hidden': (64, 64), 'variant': 'v1'}
    """
    overrides = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key.strip()] = text  # a bare word such as v1
    return overrides


def add_train_parser(commands) -> None:
    """Add the ``train`` subcommand to ``pgm-control``'s subparsers."""
    train = commands.add_parser(
        "train", help="train SAC, deep soft Q-learning or tabular Q-learning on a Gymnasium environment",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    train.add_argument("algorithm", choices=sorted(DEFAULT_ENVS), help="the algorithm")
    train.add_argument("--env", help="a Gymnasium id (default: Pendulum-v1, CartPole-v1, CliffWalking-v1)")
    train.add_argument("--steps", type=positive_int, help="environment steps (default: 20000, 30000, 50000)")
    train.add_argument("--out", default=None, help="output folder (default: pgm_control_output/train_ALGORITHM)")
    train.add_argument("--seed", type=seed_int, default=0, help="seed of the run (default 0)")
    train.add_argument("--variant", choices=["v1", "v2"], default=None,
                       help="SAC only: v1 (value network, fixed α) or v2 (automatic α; default)")
    train.add_argument("--eval-episodes", type=positive_int, default=10, help="episodes of the final evaluation")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                       help="override a config field (repeatable), e.g. --set lr=3e-4 --set hidden=64,64")
    train.add_argument("--threads", type=positive_int, default=1,
                       help="torch CPU threads (default 1: faster for these small networks)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train, error=train.error)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed in [0, 2**63 - 1] (the library's range, ``_checks.check_seed``)."""
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63 - 1], got {value}")
    return value


def check_environment(env_id: str, algorithm: str) -> str | None:
    """Why `env_id` cannot be trained by `algorithm` (unknown id, wrong action or observation space), or None."""
    try:
        env = gymnasium.make(env_id)
    except gymnasium.error.Error as error:
        return f"--env: cannot make {env_id!r} ({error})"
    action, observation = env.action_space, env.observation_space
    env.close()
    discrete = gymnasium.spaces.Discrete
    needs = {"sac": (gymnasium.spaces.Box, None, "a continuous (Box) action space"),
             "soft-q": (discrete, gymnasium.spaces.Box, "discrete actions and a vector (Box) observation"),
             "q-learning": (discrete, discrete, "discrete actions and discrete observations")}[algorithm]
    if not isinstance(action, needs[0]) or (needs[1] is not None and not isinstance(observation, needs[1])):
        return (f"--env: {algorithm} needs {needs[2]}; {env_id} has {type(action).__name__} actions and "
                f"{type(observation).__name__} observations")
    return None


def run_train(args) -> int:
    """The ``train`` handler: train, evaluate, write the files, print the summary."""
    algorithm = args.algorithm
    env_id = args.env or DEFAULT_ENVS[algorithm]
    steps = DEFAULT_STEPS[algorithm] if args.steps is None else args.steps
    out = Path(args.out or f"pgm_control_output/train_{algorithm}")
    if args.variant is not None and algorithm != "sac":
        args.error("--variant applies to sac only")
    try:
        check_writable_folder(out, "--out")
        overrides = parse_overrides(args.set)
    except ValueError as error:
        args.error(str(error))
    problem = check_environment(env_id, algorithm)
    if problem:
        args.error(problem)
    torch.set_num_threads(args.threads)
    if args.variant is not None:
        overrides["variant"] = args.variant
    for name in ("returns.csv",):
        (out / name).unlink(missing_ok=True)  # a fresh log per run
    start = time.perf_counter()
    if algorithm == "q-learning":
        history, final, checkpoint, title = _train_tabular(env_id, steps, args, overrides, out)
    else:
        history, final, checkpoint, title = _train_deep(algorithm, env_id, steps, args, overrides, out)
    wall = time.perf_counter() - start
    with ReturnsLog(out / "returns.csv") as log:
        log.evaluation(steps, final.mean(), final.std())
    history.eval_steps.append(steps)
    history.eval_returns.append(float(final.mean()))
    history.eval_stds.append(float(final.std()))
    ax = plot_learning_curve(history, title=title)
    ax.figure.savefig(out / "learning_curve.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    print(f"{title}: {steps} steps in {wall:.1f} s ({steps / wall:.0f} steps/s), "
          f"{len(history.episode_returns)} episodes")
    print(f"final evaluation over {len(final)} episodes: {final.mean():.1f} ± {final.std():.1f}")
    for path in (out / "returns.csv", out / "learning_curve.png", checkpoint):
        print(f"wrote {path}")
    return 0


def _train_deep(algorithm, env_id, steps, args, overrides, out):
    agent_class, config_class = (SAC, SACConfig) if algorithm == "sac" else (SoftQ, SoftQConfig)
    try:
        config = config_from_dict(config_class, overrides)
    except (TypeError, ValueError) as error:
        args.error(f"--set: {error}")
    agent = agent_class(gymnasium.make(env_id), config, seed=args.seed)
    try:
        agent.train(steps, progress=not args.no_progress, log=out / "returns.csv")
    except FloatingPointError as error:  # a diverged run is not a usage error: exit 1, no traceback
        raise SystemExit(f"pgm-control train {algorithm}: training stopped: {error}") from None
    final = agent.evaluate(args.eval_episodes)
    agent.save(out / "checkpoint.pt")
    variant = f" {config.variant}" if algorithm == "sac" else ""
    return agent.history, final, out / "checkpoint.pt", f"{agent_class.__name__}{variant} on {env_id}, seed {args.seed}"


class EpisodeRecorder(gymnasium.Wrapper):
    """Records (steps so far, return, length) at every episode end, for algorithms that report only
    returns. ``truncated`` counts as an end, as in the training loops."""

    def __init__(self, env):
        super().__init__(env)
        self.history = TrainingHistory()
        self._steps, self._return, self._length = 0, 0.0, 0

    def reset(self, **kwargs):
        self._return, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            self.history.episode_steps.append(self._steps)
            self.history.episode_returns.append(self._return)
            self.history.episode_lengths.append(self._length)
        return observation, reward, terminated, truncated, info


def greedy_returns(env, q: torch.Tensor, num_episodes: int, seed: int,
                   max_steps: int = TABULAR_EVAL_MAX_STEPS) -> np.ndarray:
    """Returns ``[num_episodes]`` of the greedy policy argmax_a Q(s, a) of a table ``[S, A]``; episode i
    resets with ``seed + i`` and stops after ``max_steps`` steps if it has not ended."""
    obs_start, act_start = int(env.observation_space.start), int(env.action_space.start)
    greedy = q.argmax(-1).tolist()
    returns = np.zeros(num_episodes)
    for episode in range(num_episodes):
        observation, _ = env.reset(seed=seed + episode)
        for _ in range(max_steps):
            observation, reward, terminated, truncated, _ = env.step(greedy[int(observation) - obs_start] + act_start)
            returns[episode] += float(reward)
            if terminated or truncated:
                break
    return returns


def _train_tabular(env_id, steps, args, overrides, out):
    allowed = set(inspect.signature(q_learning).parameters) - {"env", "num_steps", "seed", "progress"}
    unknown = set(overrides) - allowed
    if unknown:
        args.error(f"--set: q_learning has no option {sorted(unknown)}; choose from {sorted(allowed)}")
    env = EpisodeRecorder(gymnasium.make(env_id))
    try:
        result = q_learning(env, steps, seed=args.seed, progress=not args.no_progress, **overrides)
    except (TypeError, ValueError) as error:
        args.error(f"q-learning on {env_id}: {error}")
    history = env.history
    with ReturnsLog(out / "returns.csv") as log:
        for step, episode_return, length in zip(history.episode_steps, history.episode_returns,
                                                history.episode_lengths):
            log.episode(step, episode_return, length)
    final = greedy_returns(gymnasium.make(env_id), result.q, args.eval_episodes, seed=args.seed + 10_000)
    checkpoint = out / "q_table.pt"
    torch.save({"q": result.q, "policy": result.policy, "visits": result.visits,
                "episode_returns": torch.from_numpy(result.episode_returns), "env": env_id, "seed": args.seed},
               checkpoint)
    return history, final, checkpoint, f"Q-learning on {env_id}, seed {args.seed}"
