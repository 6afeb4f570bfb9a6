r"""The off-policy training driver shared by SAC and deep soft Q-learning, with its records.

:class:`OffPolicyAgent` is the outer loop of seed 000's Algorithm 1 and nothing else:

    for each environment step:  a_t ~ π(a_t|s_t);  s_{t+1} ~ p(s_{t+1}|s_t, a_t);  D ← D ∪ {(s_t, a_t, r_t, s_{t+1})}
    for each gradient step:     one call of ``update(batch from D)``   (the algorithm's own losses)

plus what a real run needs: seeding, uniform random actions for the first ``learning_starts`` steps,
evaluation episodes, a CSV log of returns (:class:`ReturnsLog`), a learning-curve plot
(:func:`plot_learning_curve`) and checkpoints that resume bit for bit (:meth:`OffPolicyAgent.save`,
:meth:`OffPolicyAgent.load`).

**Episode ends.** ``terminated`` (the task's own end: the pole fell) stops the bootstrap, V(s_T) = 0;
``truncated`` (a time limit) does not: the transition is stored as an ordinary one and the learner
bootstraps from V(s_{t+1}), since the process would have continued.

**Randomness.** Every draw the agent makes comes from generators it owns and saves: ``agent.generator``
(a ``torch.Generator`` seeded with ``seed``: warm-up actions, policy samples), the replay buffer's
generator (seeded with ``seed + 1``: batch indices) and the environment's ``np_random`` (the first
``reset`` is ``env.reset(seed=seed)``). Network weights are drawn under ``torch.manual_seed(seed)`` inside
``torch.random.fork_rng``, so building an agent leaves the global RNG untouched. ``env.action_space``
is seeded too, for users who sample from it; the agent does not.
"""

from __future__ import annotations

import abc
import copy
import csv
import io
import math
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import gymnasium
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pgm_control._checks import check_integer
from pgm_control.rl.replay import ReplayBuffer, Transitions

CHECKPOINT_FORMAT = "pgm_control.rl checkpoint 1"
EVAL_SEED_OFFSET = 10_000  # evaluation episode i of an agent seeded s resets with seed s + 10_000 + i


# ----------------------------------------------------------------------------------------------------
# Records: the history of a run, its CSV log and its plot


@dataclass
class TrainingHistory:
    """Returns of a run, in the order they happened (all lists, one entry per episode or evaluation).

    ``episode_steps[i]`` is the number of environment steps taken when training episode i ended;
    ``eval_returns[j]`` and ``eval_stds[j]`` are the mean and standard deviation of the evaluation
    returns at ``eval_steps[j]``.
    """

    episode_steps: list[int] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    eval_stds: list[float] = field(default_factory=list)


class ReturnsLog:
    """A plain CSV log of returns, one row per finished training episode or evaluation.

    Columns: ``step, episode_return, episode_length, eval_return, eval_std``; a training-episode row
    leaves the two eval columns empty and an evaluation row the two episode columns. Opens ``path`` for
    appending (a resumed run continues the file) and writes the header only into a new or empty file.
    Rows are flushed as they come, so a long run can be watched with ``tail -f``.
    """

    COLUMNS = ("step", "episode_return", "episode_length", "eval_return", "eval_std")

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = open(self.path, "a", newline="")  # closed by close()
        self._writer = csv.writer(self._file)
        if is_new:
            self._writer.writerow(self.COLUMNS)
            self._file.flush()

    def episode(self, step: int, episode_return: float, episode_length: int) -> None:
        self._writer.writerow([step, repr(float(episode_return)), episode_length, "", ""])
        self._file.flush()

    def evaluation(self, step: int, mean_return: float, std_return: float) -> None:
        self._writer.writerow([step, "", "", repr(float(mean_return)), repr(float(std_return))])
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ReturnsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_returns(path) -> TrainingHistory:
    """Read a :class:`ReturnsLog` CSV back into a :class:`TrainingHistory` (floats round-trip exactly)."""
    history = TrainingHistory()
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            if row["episode_return"]:
                history.episode_steps.append(int(row["step"]))
                history.episode_returns.append(float(row["episode_return"]))
                history.episode_lengths.append(int(row["episode_length"]))
            if row["eval_return"]:
                history.eval_steps.append(int(row["step"]))
                history.eval_returns.append(float(row["eval_return"]))
                history.eval_stds.append(float(row["eval_std"]))
    return history


def moving_average(values, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each index (fewer at the start): ``[n] -> [n]``.

    >>> moving_average([1.0, 3.0, 5.0, 7.0], 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_learning_curve(history, ax=None, *, window: int = 10, title: str | None = None):
    """Training-episode returns (dots and their ``window``-episode moving average) and evaluation
    returns (mean ± std) against environment steps. ``history``: a :class:`TrainingHistory` or the
    path of a :class:`ReturnsLog` CSV. Returns the matplotlib ``Axes``; its lines, in order, are the
    episode returns, their moving average and the evaluation means."""
    import matplotlib.pyplot as plt

    if not isinstance(history, TrainingHistory):
        history = read_returns(history)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(history.episode_steps, history.episode_returns, ".", ms=3, alpha=0.4, color="C0",
            label="training episode")
    ax.plot(history.episode_steps, moving_average(history.episode_returns, window), color="C0",
            label=f"moving average ({window} episodes)")
    means, stds = np.asarray(history.eval_returns), np.asarray(history.eval_stds)
    ax.plot(history.eval_steps, means, "o-", color="C3", ms=4, label="evaluation (mean ± std)")
    ax.fill_between(history.eval_steps, means - stds, means + stds, color="C3", alpha=0.15)
    ax.set(xlabel="environment steps", ylabel="return", title=title)
    ax.legend(fontsize=8)
    return ax


# ----------------------------------------------------------------------------------------------------
# Configuration checks shared by SACConfig and SoftQConfig


def check_common_config(config) -> None:
    """Validate the fields every off-policy config has; raise ``ValueError`` naming the field."""
    for name in ("batch_size", "buffer_size", "train_every", "gradient_steps", "eval_episodes"):
        value = check_integer(getattr(config, name), f"{type(config).__name__}.{name}")
        if value < 1:
            raise ValueError(f"{type(config).__name__}.{name} must be >= 1, got {value}")
    for name in ("learning_starts", "eval_every"):
        value = check_integer(getattr(config, name), f"{type(config).__name__}.{name}")
        if value < 0:
            raise ValueError(f"{type(config).__name__}.{name} must be >= 0 (0 turns it off), got {value}")
    if not (config.hidden and all(isinstance(w, int) and w > 0 for w in config.hidden)):
        raise ValueError(f"{type(config).__name__}.hidden must be a tuple of positive layer widths, "
                         f"e.g. (256, 256); got {config.hidden!r}")
    if not 0.0 <= config.discount <= 1.0:
        raise ValueError(f"{type(config).__name__}.discount must be in [0, 1], got {config.discount}")
    if not 0.0 < config.tau <= 1.0:
        raise ValueError(f"{type(config).__name__}.tau must be in (0, 1] (1 copies the network), "
                         f"got {config.tau}")
    if not 0.0 < config.lr < math.inf:
        raise ValueError(f"{type(config).__name__}.lr must be a positive number, got {config.lr}")


def config_from_dict(config_class, values: Mapping):
    """Build ``config_class`` from a mapping (a checkpoint's or the CLI's), naming unknown keys."""
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {config_class.__name__} field(s) {unknown}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return config_class(**values)


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    r"""Target-network averaging ψ̄ ← τψ + (1 - τ)ψ̄, parameter by parameter, in place (no gradient).

    τ = 1 copies the network (a periodic "hard" update).

    >>> source, target = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    >>> _ = source.weight.data.fill_(1.0), target.weight.data.fill_(0.0)
    >>> polyak_update(target, source, tau=0.25)
    >>> target.weight.item()
    0.25
    """
    with torch.no_grad():
        for target_param, param in zip(target.parameters(), source.parameters()):
            target_param.lerp_(param, tau)  # ψ̄ + τ(ψ - ψ̄), one fused op


# ----------------------------------------------------------------------------------------------------
# The driver


def check_env(env, algorithm: str) -> None:
    """Reject objects that are not Gymnasium environments, naming the fix."""
    missing = [name for name in ("reset", "step", "observation_space", "action_space") if not hasattr(env, name)]
    if missing:
        raise TypeError(f"env must be a gymnasium.Env (e.g. gymnasium.make('Pendulum-v1')); "
                        f"{type(env).__name__} lacks {missing}")
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
        raise TypeError(f"{algorithm} needs a 1-D Box observation space, got {space}; wrap the environment "
                        "in gymnasium.wrappers.FlattenObservation (images need a convolutional encoder, "
                        "which this library does not provide)")


class OffPolicyAgent(abc.ABC):
    """Base class of :class:`~pgm_control.rl.SAC` and :class:`~pgm_control.rl.SoftQ`: the thin driver.

    A subclass sets ``config_class`` and ``action_dtype`` and implements ``_check_action_space``,
    ``_build`` (networks and optimizers), ``modules``, ``optimizers``, ``act``, ``_random_action`` and
    ``update`` (one gradient step on a batch, returning its losses).
    """

    config_class: ClassVar[type]
    action_dtype: ClassVar[torch.dtype]

    def __init__(self, env, config=None, *, seed: int = 0):
        algorithm = type(self).__name__
        check_env(env, algorithm)
        self._check_action_space(env.action_space)
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        self.env, self.config, self.seed = env, config, check_integer(seed, "seed")
        self.observation_dim = int(env.observation_space.shape[0])
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build()
        self.buffer = ReplayBuffer(config.buffer_size, env.observation_space.shape, env.action_space.shape,
                                   action_dtype=self.action_dtype, seed=seed + 1)
        env.action_space.seed(seed)
        self.step = 0  # environment steps taken
        self.updates = 0  # gradient steps taken (each call of update)
        self.history = TrainingHistory()
        self.last_losses: dict[str, torch.Tensor] = {}  # of the latest update
        self._observation = None  # s_t of the episode in progress; None between episodes
        self._episode_return, self._episode_length = 0.0, 0
        self._env_seeded = False
        self._eval_env = None

    # --- subclass hooks (abstract: SAC and SoftQ implement them) ------------------------------------
    @abc.abstractmethod
    def _check_action_space(self, space) -> None:
        """Raise a TypeError naming the fix when the algorithm cannot act in `space`."""

    @abc.abstractmethod
    def _build(self) -> None:
        """Create the networks and optimizers from ``self.config``."""

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Every network (and parameter holder) by name, as saved in checkpoints."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimizer by name, as saved in checkpoints."""

    @abc.abstractmethod
    def act(self, observation, deterministic: bool = False, generator: torch.Generator | None = None):
        """The action for one observation, in the environment's format."""

    @abc.abstractmethod
    def _random_action(self):
        """A uniform random action (the warm-up before ``learning_starts``)."""

    @abc.abstractmethod
    def update(self, batch: Transitions) -> dict[str, torch.Tensor]:
        """One gradient step on a batch; returns the losses by name."""

    # --- environment loop ------------------------------------------------------------------------
    def _reset(self) -> None:
        seed = None if self._env_seeded else self.seed
        self._observation, _ = self.env.reset(seed=seed)
        self._env_seeded = True
        self._episode_return, self._episode_length = 0.0, 0

    def _environment_step(self, log: ReturnsLog | None) -> None:
        """One step of the environment, its transition stored in D; bookkeeping at episode ends."""
        if self._observation is None:
            self._reset()
        observation = self._observation
        if self.step < self.config.learning_starts:
            action = self._random_action()
        else:
            action = self.act(observation)
        next_observation, reward, terminated, truncated, _ = self.env.step(action)
        self.buffer.add(observation, action, reward, next_observation, terminated)
        self._episode_return += float(reward)
        self._episode_length += 1
        self.step += 1
        if terminated or truncated:
            self.history.episode_steps.append(self.step)
            self.history.episode_returns.append(self._episode_return)
            self.history.episode_lengths.append(self._episode_length)
            if log is not None:
                log.episode(self.step, self._episode_return, self._episode_length)
            self._observation = None
        else:
            self._observation = next_observation

    def train(self, num_steps: int, *, progress: bool = True, log=None) -> TrainingHistory:
        """Take ``num_steps`` environment steps, with ``gradient_steps`` updates every ``train_every``
        steps once ``learning_starts`` steps are in D, and an evaluation every ``eval_every`` steps.

        Calls continue one another: ``train(a); train(b)`` equals ``train(a + b)`` bit for bit.

        Args:
            progress: a tqdm bar showing the last episode's return.
            log: a path (or a :class:`ReturnsLog`) receiving one CSV row per episode and evaluation.

        Returns:
            ``self.history``, the :class:`TrainingHistory` of every call so far.
        """
        num_steps = check_integer(num_steps, "num_steps")
        if num_steps < 0:
            raise ValueError(f"num_steps must be >= 0, got {num_steps}")
        config = self.config
        own_log = log is not None and not isinstance(log, ReturnsLog)
        log = ReturnsLog(log) if own_log else log
        bar = tqdm(total=num_steps, disable=not progress, desc=type(self).__name__, leave=False)
        try:
            for _ in range(num_steps):
                episodes = len(self.history.episode_returns)
                self._environment_step(log)
                if self.step >= config.learning_starts and self.step % config.train_every == 0:
                    for _ in range(config.gradient_steps):
                        self.updates += 1
                        self.last_losses = self.update(self.buffer.sample(config.batch_size))
                if config.eval_every and self.step % config.eval_every == 0:
                    returns = self.evaluate(config.eval_episodes)
                    self.history.eval_steps.append(self.step)
                    self.history.eval_returns.append(float(returns.mean()))
                    self.history.eval_stds.append(float(returns.std()))
                    if log is not None:
                        log.evaluation(self.step, returns.mean(), returns.std())
                bar.update()
                if progress and len(self.history.episode_returns) > episodes:
                    postfix = {"return": f"{self.history.episode_returns[-1]:.1f}"}
                    postfix.update({k: f"{float(v):.3g}" for k, v in self.last_losses.items()})
                    bar.set_postfix(postfix, refresh=False)
        finally:
            bar.close()
            if own_log:
                log.close()
        return self.history

    # --- evaluation ------------------------------------------------------------------------------
    def evaluation_env(self):
        """The environment evaluation episodes run in: a deep copy of the training environment (its
        wrappers included), or ``gymnasium.make(env.spec)`` when it does not copy; built once, kept."""
        if self._eval_env is None:
            try:
                self._eval_env = copy.deepcopy(self.env)
            except Exception:  # e.g. an open render window; the spec rebuilds recordable wrappers
                spec = getattr(self.env, "spec", None)
                if spec is None:
                    raise TypeError("evaluation needs a copy of the environment, which neither deep-copies nor "
                                    "has a spec; pass env= to evaluate") from None
                self._eval_env = gymnasium.make(spec)
        return self._eval_env

    def evaluate(self, num_episodes: int = 10, *, deterministic: bool = True, env=None, seed: int | None = None,
                 max_episode_steps: int = 100_000) -> np.ndarray:
        """Returns ``[num_episodes]`` (float64) of full episodes run with the current policy.

        Episode i resets with ``seed + i`` (default ``seed = agent.seed + 10_000``), so every evaluation
        starts from the same states and the training randomness is untouched; ``deterministic=False``
        samples actions from a generator seeded with the same ``seed``. ``max_episode_steps`` caps
        episodes of environments without a time limit.
        """
        num_episodes = check_integer(num_episodes, "num_episodes")
        env = self.evaluation_env() if env is None else env
        seed = self.seed + EVAL_SEED_OFFSET if seed is None else seed
        generator = None if deterministic else torch.Generator().manual_seed(seed)
        returns = np.zeros(num_episodes)
        for episode in range(num_episodes):
            observation, _ = env.reset(seed=seed + episode)
            for _ in range(max_episode_steps):
                action = self.act(observation, deterministic=deterministic, generator=generator)
                observation, reward, terminated, truncated, _ = env.step(action)
                returns[episode] += float(reward)
                if terminated or truncated:
                    break
        return returns

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, path, *, include_replay: bool = True, include_env: bool = True) -> None:
        """Write a checkpoint from which :meth:`load` resumes training bit for bit.

        It holds the config, the seed, every network and optimizer state, the replay buffer (unless
        ``include_replay=False``: resuming then starts from an empty D), the agent's and the buffer's
        generator states, the step counter, the history, the episode in progress, the environment's
        ``np_random`` state and, when ``include_env`` and the environment pickles, the environment
        itself (its mid-episode physical state is nowhere else).
        """
        env_pickle = None
        if include_env:
            try:
                env_pickle = pickle.dumps(self.env)
            except Exception as error:  # not every environment pickles (rendering windows, sockets)
                warnings.warn(f"the environment does not pickle ({error}); the checkpoint resumes exactly "
                              "only from an episode boundary", stacklevel=2)
        observation = self._observation
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "algorithm": type(self).__name__,
            "config": asdict(self.config),
            "seed": self.seed,
            "step": self.step,
            "updates": self.updates,
            "modules": {name: module.state_dict() for name, module in self.modules().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
            "generator": self.generator.get_state(),
            "replay": self.buffer.state_dict() if include_replay else None,
            "history": asdict(self.history),
            "episode": {
                "observation": None if observation is None else torch.from_numpy(np.array(observation)),
                "return": self._episode_return, "length": self._episode_length,
                "env_seeded": self._env_seeded,
            },
            "env_rng": _env_rng_state(self.env),
            "env_pickle": env_pickle,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path, env=None):
        """The agent saved at ``path``, ready to continue training.

        Args:
            env: the environment to continue in. ``None`` unpickles the environment stored in the
                checkpoint, mid-episode state included: the continuation is then bit-identical to a run
                that never stopped. (Unpickling can run code: load only checkpoints you trust; the rest
                of the file is read with ``torch.load(weights_only=True)``.) A given environment gets the
                saved ``np_random`` state; the episode in progress at saving, if any, is dropped
                (with a warning) and the next step starts a new one.
        """
        checkpoint = torch.load(path, weights_only=True)
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a pgm_control.rl checkpoint (format {checkpoint.get('format')!r})")
        if checkpoint["algorithm"] != cls.__name__:
            raise ValueError(f"{path} holds a {checkpoint['algorithm']} checkpoint; load it with "
                             f"{checkpoint['algorithm']}.load")
        episode = checkpoint["episode"]
        restore_episode = env is None
        if env is None:
            if checkpoint["env_pickle"] is None:
                raise ValueError(f"{path} holds no environment; pass one, e.g. env=gymnasium.make('Pendulum-v1')")
            env = pickle.loads(checkpoint["env_pickle"])
        elif checkpoint["env_rng"] is not None:
            _set_env_rng_state(env, checkpoint["env_rng"])
        agent = cls(env, config_from_dict(cls.config_class, checkpoint["config"]), seed=checkpoint["seed"])
        for name, module in agent.modules().items():
            module.load_state_dict(checkpoint["modules"][name])
        for name, optimizer in agent.optimizers().items():
            optimizer.load_state_dict(checkpoint["optimizers"][name])
        agent.generator.set_state(checkpoint["generator"])
        if checkpoint["replay"] is not None:
            agent.buffer.load_state_dict(checkpoint["replay"])
        agent.step, agent.updates = checkpoint["step"], checkpoint["updates"]
        agent.history = TrainingHistory(**checkpoint["history"])
        agent._env_seeded = episode["env_seeded"]
        if episode["observation"] is not None:
            if restore_episode:
                agent._observation = episode["observation"].numpy()
                agent._episode_return, agent._episode_length = episode["return"], episode["length"]
            else:
                warnings.warn("the checkpoint was saved mid-episode; the given environment starts a new "
                              "episode (pass env=None to continue the saved one)", stacklevel=2)
        return agent


def _env_rng_state(env) -> dict | None:
    rng = getattr(env.unwrapped, "_np_random", None)
    return None if rng is None else rng.bit_generator.state


def _set_env_rng_state(env, state: dict) -> None:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    env.unwrapped.np_random = np.random.Generator(bit_generator)

