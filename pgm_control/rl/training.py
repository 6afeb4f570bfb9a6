r"""The off-policy training driver shared by SAC and deep soft Q-learning, with its records.

:class:`OffPolicyAgent` is the outer loop of Lecture 20's Algorithm 1 and nothing else::

    for each environment step:  a_t ~ π(a_t|s_t);  s_{t+1} ~ p(s_{t+1}|s_t, a_t);  D ← D ∪ {(s_t, a_t, r_t, s_{t+1})}
    for each gradient step:     one call of ``update(batch from D)``   (the algorithm's own losses)
                                (the batch's rewards replaced by ``reward_relabel(batch)`` when set)

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
import json
import math
import numbers
import pickle
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import gymnasium
import numpy as np
import torch
from torch import nn
from torch.nn.utils import get_total_norm
from tqdm import tqdm

from pgm_control._checks import check_integer, check_positive_integer, check_real, check_seed, shape_str
from pgm_control._files import check_format, invalid_part, read_torch_file
from pgm_control.rl.bonus import EXPLORATION_BONUSES, make_bonus
from pgm_control.rl.replay import ReplayBuffer, Transitions

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
    window = check_positive_integer(window, "window")
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
    """Validate the fields every off-policy config has; errors name the field (``SACConfig.lr``)."""
    kind = type(config).__name__
    for name in ("batch_size", "buffer_size", "train_every", "gradient_steps", "eval_episodes"):
        check_positive_integer(getattr(config, name), f"{kind}.{name}")
    for name in ("learning_starts", "eval_every"):  # 0 turns them off
        check_positive_integer(getattr(config, name), f"{kind}.{name}", allow_zero=True)
    hidden = config.hidden
    if not (isinstance(hidden, (tuple, list)) and hidden and all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in hidden)):
        raise ValueError(f"{kind}.hidden must be a tuple of positive layer widths, e.g. (256, 256); got {hidden!r}")
    if not 0.0 <= config_number(config, "discount", "a number in [0, 1]") <= 1.0:
        raise ValueError(f"{kind}.discount must be in [0, 1], got {config.discount}")
    if not 0.0 < config_number(config, "tau", "a number in (0, 1]") <= 1.0:
        raise ValueError(f"{kind}.tau must be in (0, 1] (1 copies the network), got {config.tau}")
    if not 0.0 < config_number(config, "lr", "a positive number") < math.inf:
        raise ValueError(f"{kind}.lr must be a finite positive number, got {config.lr}")
    if config.exploration_bonus is not None and config.exploration_bonus not in EXPLORATION_BONUSES:
        raise ValueError(f"{kind}.exploration_bonus must be None (no bonus) or one of {EXPLORATION_BONUSES}, "
                         f"got {config.exploration_bonus!r}")
    if not 0.0 <= config_number(config, "bonus_scale", "a number >= 0") < math.inf:
        raise ValueError(f"{kind}.bonus_scale must be a finite number >= 0 (β of r + β b(s')), "
                         f"got {config.bonus_scale}")


def config_number(config, name: str, expected: str) -> float:
    """The real-valued field ``name`` of ``config``; a TypeError naming ``Config.name`` otherwise."""
    return check_real(getattr(config, name), f"{type(config).__name__}.{name}", expected)


def config_from_dict(config_class, values: Mapping):
    """Build ``config_class`` from a mapping (a checkpoint's or the CLI's), naming unknown keys."""
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {config_class.__name__} field(s) {unknown}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return config_class(**values)


def target_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` for target values: same weights, no gradients."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    """One optimizer step on ``loss``; returns it detached."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    r"""Target-network averaging ψ̄ ← τψ + (1 - τ)ψ̄, parameter by parameter, in place (no gradient).

    τ = 1 copies the network (a periodic "hard" update).

    >>> source, target = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    >>> _ = source.weight.data.fill_(1.0), target.weight.data.fill_(0.0)
    >>> polyak_update(target, source, tau=0.25)
    >>> target.weight.item()
    0.25
    """
    if not 0.0 < tau <= 1.0:  # also rejects NaN
        raise ValueError(f"tau must be in (0, 1] (1 copies the network), got {tau}")
    with torch.no_grad():
        try:
            for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
                target_param.lerp_(param, tau)  # ψ̄ + τ(ψ - ψ̄), one fused op
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"target and source must have parameters of the same shapes ({error})") from None


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
        self.env, self.config, self.seed = env, config, check_seed(seed)
        self.observation_dim = int(env.observation_space.shape[0])
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build()
            self.bonus = make_bonus(config.exploration_bonus, self.observation_dim)  # f_φ drawn after the agent's nets
        self.bonus_optimizer = None if self.bonus is None else torch.optim.Adam(
            self.bonus.predictor.parameters(), lr=config.lr, foreach=True)
        self.buffer = ReplayBuffer(config.buffer_size, env.observation_space.shape, env.action_space.shape,
                                   action_dtype=self.action_dtype, seed=seed + 1)
        env.action_space.seed(seed)
        self.step = 0  # environment steps taken
        self.updates = 0  # gradient steps taken (each call of update)
        self.history = TrainingHistory()
        self.last_losses: dict[str, torch.Tensor] = {}  # of the latest update
        self.last_td_errors: torch.Tensor | None = None  # |δ| [B] of the latest update's rows (the priorities)
        # batch -> rewards [B] replacing each sampled batch's stored rewards (None: learn the env's own)
        self.reward_relabel: Callable[[Transitions], torch.Tensor] | None = None
        self._observation = None  # s_t of the episode in progress; None between episodes
        self._episode_return, self._episode_length = 0.0, 0
        self._env_seeded = False
        # The episode in progress as data, for checkpoints: its actions and how its reset drew s_1.
        self._episode_actions: list = []
        self._episode_reset_seed: int | None = None
        self._episode_reset_rng: dict | None = None
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
    def update(self, batch: Transitions, weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One gradient step on a batch; returns the losses by name. ``weights`` ``[B]`` (prioritized replay's
        importance weights; None: all 1) multiply the rows of the TD loss; the update leaves the rows' |δ|
        ``[B]`` in ``last_td_errors``."""

    def bonus_modules(self) -> dict[str, nn.Module]:
        """The exploration-bonus model by name (``{}`` without one), for the subclasses' :meth:`modules`."""
        return {} if self.bonus is None else {"bonus": self.bonus}

    def bonus_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The bonus predictor's optimizer by name (``{}`` without a bonus), for :meth:`optimizers`."""
        return {} if self.bonus is None else {"bonus_optimizer": self.bonus_optimizer}

    def add_exploration_bonus(self, batch: Transitions) -> tuple[Transitions, dict[str, torch.Tensor]]:
        r"""The batch with the rewards of the Q target raised by the bonus, r⁺ = r + β b(s') (CS285 notes,
        "Count-Based Exploration"), and the bonus model's loss after one gradient step on the batch's s'
        (the visited observations). Without a bonus: the batch unchanged and ``{}``.

        The bonus is computed before the step, so b(s') is the novelty of s' as the batch found it; the
        returns in ``history`` and of :meth:`evaluate` are the environment's alone.
        """
        if self.bonus is None:
            return batch, {}
        next_observations = batch.next_observations
        self.bonus.observe(next_observations)
        rewards = batch.rewards + self.config.bonus_scale * self.bonus.bonus(next_observations)
        loss = self.bonus.loss(next_observations)
        self.bonus_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.bonus_optimizer.step()
        return batch._replace(rewards=rewards), {"bonus": loss.detach()}

    def _training_batch(self) -> Transitions:
        """A batch from D, its rewards relabelled by ``reward_relabel`` when one is set (learning from
        demonstrations: the rewards of a learned r_ψ or discriminator; the stored rewards stay the
        environment's, as do ``history``'s returns)."""
        return self._relabelled(self.buffer.sample(self.config.batch_size))

    def _relabelled(self, batch: Transitions) -> Transitions:
        return batch if self.reward_relabel is None else batch._replace(rewards=self.reward_relabel(batch))

    def _gradient_step(self) -> dict[str, torch.Tensor]:
        """One ``update`` on a batch from D, its losses checked. From a prioritized buffer
        (``buffer.prioritization`` set) the batch's importance weights enter the loss and its rows'
        priorities are refreshed with the update's |δ| (:mod:`pgm_control.rl.replay`)."""
        if self.buffer.prioritization is None:
            losses = self.update(self._training_batch())
            self._check_losses(losses)
            return losses
        sample = self.buffer.sample_prioritized(self.config.batch_size)
        losses = self.update(self._relabelled(sample.transitions), weights=sample.weights)
        self._check_losses(losses)
        self.buffer.update_priorities(sample.index, self.last_td_errors)
        return losses

    def _as_observations(self, value, batch: bool = False) -> torch.Tensor:
        """One observation ``[dim S]`` (or a batch ``[B, dim S]``) as float32, shape-checked."""
        try:
            tensor = torch.as_tensor(value, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"observations must be arrays of numbers, got {type(value).__name__}") from None
        if tensor.dim() != 1 + batch or tensor.shape[-1] != self.observation_dim:
            expected = f"[B, dim S] = [?, {self.observation_dim}]" if batch else f"[dim S] = [{self.observation_dim}]"
            raise ValueError(f"observation{'s' if batch else ''} must have shape {expected}, got "
                             f"{shape_str(tensor.shape)}")
        return tensor

    # --- environment loop ------------------------------------------------------------------------
    def _reset(self) -> None:
        seed = None if self._env_seeded else self.seed
        self._episode_reset_seed = seed
        self._episode_reset_rng = None if seed is not None else _env_rng_state(self.env)
        self._observation, _ = self.env.reset(seed=seed)
        self._check_env_output("observation", self._observation)
        self._env_seeded = True
        self._episode_return, self._episode_length = 0.0, 0
        self._episode_actions = []

    def _environment_step(self, log: ReturnsLog | None) -> None:
        """One step of the environment, its transition stored in D; bookkeeping at episode ends."""
        if self._observation is None:
            self._reset()
        observation = self._observation
        if self.step < self.config.learning_starts:
            action = self._random_action()
        else:
            action = self.act(observation)
            if not np.isfinite(action).all():
                self._diverged(f"the policy's action {action} is not finite")
        next_observation, reward, terminated, truncated, _ = self.env.step(action)
        self._check_env_output("reward", reward)
        self._check_env_output("observation", next_observation)
        self.buffer.add(observation, action, reward, next_observation, terminated)
        self._episode_actions.append(action)
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

    def _check_env_output(self, what: str, value) -> None:
        """Stop at a non-finite reward or observation from the environment, before it reaches D."""
        finite = math.isfinite(value) if what == "reward" else np.isfinite(value).all()
        if not finite:
            raise FloatingPointError(
                f"the environment returned a non-finite {what} ({value}) at environment step {self.step + 1} "
                f"(step {self._episode_length + 1} of the episode); fix the environment or wrap it, e.g. in "
                "gymnasium.wrappers.TransformReward / TransformObservation, before training on it")

    def _check_losses(self, losses: dict[str, torch.Tensor]) -> None:
        """Stop at the first update whose losses are not finite (one device sync per update). Parameters
        that an update made non-finite show in the next update's losses, in the actions the policy takes
        before it (see ``_environment_step``) and in :meth:`_check_parameters` at the end of ``train``."""
        if not torch.isfinite(torch.stack(list(losses.values()))).all():
            name, value = next((k, float(v)) for k, v in losses.items() if not math.isfinite(float(v)))
            self._diverged(f"the {name} loss is {value}")

    def _check_parameters(self) -> None:
        for name, module in self.modules().items():
            largest = get_total_norm(module.parameters(), norm_type=math.inf)
            if not math.isfinite(largest):
                self._diverged(f"the largest |parameter| of {name} is {float(largest)}")

    def _diverged(self, quantity: str):
        raise FloatingPointError(
            f"{quantity} at update {self.updates} (environment step {self.step}): the networks have diverged; "
            f"lower lr (now {self.config.lr}), check the scale of the environment's rewards, or resume from an "
            "earlier checkpoint")

    def train(self, num_steps: int, *, progress: bool = True, log=None) -> TrainingHistory:
        """Take ``num_steps`` environment steps, with ``gradient_steps`` updates every ``train_every``
        steps once ``learning_starts`` steps are in D, and an evaluation every ``eval_every`` steps.

        Calls continue one another: ``train(a); train(b)`` equals ``train(a + b)`` bit for bit.

        Raises ``FloatingPointError`` naming the step and the quantity when the environment returns a
        non-finite reward or observation, or an update a non-finite loss or parameter (diverged networks).

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
                        self.last_losses = self._gradient_step()
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
            self._check_parameters()
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
        num_episodes = check_positive_integer(num_episodes, "num_episodes")
        max_episode_steps = check_positive_integer(max_episode_steps, "max_episode_steps")
        seed = self.seed + EVAL_SEED_OFFSET if seed is None else check_seed(seed)
        if env is not None:
            check_env(env, type(self).__name__)
        env = self.evaluation_env() if env is None else env
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
            if not math.isfinite(returns[episode]):
                raise FloatingPointError(f"evaluation episode {episode} has a non-finite return ({returns[episode]}): "
                                         "the environment returned a non-finite reward")
        return returns

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, path, *, include_replay: bool = True, include_env: bool = True,
             pickle_env: bool = False) -> None:
        """Write a checkpoint from which :meth:`load` resumes training bit for bit.

        The file is data only, read back with ``torch.load(weights_only=True)``: the config, the seed,
        every network and optimizer state, the replay buffer (unless ``include_replay=False``: resuming
        then starts from an empty D), the agent's and the buffer's generator states, the step
        counters, the history, the environment's ``np_random`` state (as JSON) and the episode in
        progress: its last observation, return, and the actions taken since its reset together with
        the generator state at that reset, from which :meth:`load` replays it.

        With ``include_env`` (default) the environment is stored as its Gymnasium spec (id and
        ``gymnasium.make`` keyword arguments, as JSON): :meth:`load` rebuilds it with
        ``gymnasium.make``. An environment without a spec (not made by ``gymnasium.make``) or whose
        spec does not serialize is not stored, with a warning; load that checkpoint with ``env=``.

        Args:
            pickle_env: also store the pickled environment (its exact object, wrappers and mid-episode
                state included) for environments that no spec rebuilds. Loading it takes
                ``load(..., allow_pickle=True)``, which runs code from the file: only for files you
                wrote yourself.
        """
        env_spec = env_pickle = None
        if include_env:
            env_spec = _spec_json(self.env)
            if env_spec is None and not pickle_env:
                warnings.warn("the environment has no Gymnasium spec that serializes (it was not built by "
                              "gymnasium.make, or its kwargs are not JSON); the checkpoint stores no environment: "
                              "load it with env=", stacklevel=2)
        if include_env and pickle_env:
            env_pickle = pickle.dumps(self.env)
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
                "actions": None if observation is None else torch.as_tensor(
                    np.asarray(self._episode_actions), dtype=self.action_dtype),
                "reset_seed": self._episode_reset_seed,
                "reset_rng": _json_or_none(self._episode_reset_rng),
            },
            "env_rng": _json_or_none(_env_rng_state(self.env)),
            "env_spec": env_spec,
            "env_pickle": env_pickle,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path, env=None, *, allow_pickle: bool = False):
        """The agent saved at ``path`` by :meth:`save`, ready to continue training.

        The file is read as data (``torch.load(weights_only=True)``, JSON for the environment's spec and
        generator states); nothing in it is executed unless ``allow_pickle=True``. Every part is
        checked: a file that is not such a checkpoint (empty, truncated, another format or version,
        another algorithm's, missing or ill-shaped parts) raises one ``ValueError`` naming the file and
        the problem; a missing file, ``FileNotFoundError``.

        Args:
            env: the environment to continue in. ``None`` rebuilds the saved one with
                ``gymnasium.make`` from its spec (only ids registered in this process; nothing is
                imported) and replays the episode in progress, so that the continuation is
                bit-identical to a run that never stopped. A given environment gets the saved
                ``np_random`` state; the episode in progress, if any, is replayed in it when its spec
                equals the saved one, and otherwise dropped with a warning (the next step starts a
                new episode).
            allow_pickle: with ``env=None``, unpickle the environment stored by
                ``save(..., pickle_env=True)``. **Unpickling runs arbitrary code from the file**: only
                for checkpoints you trust.
        """
        path = Path(path)
        checkpoint = _read_checkpoint(path, cls.__name__)
        with invalid_part(path, "config"):
            config = config_from_dict(cls.config_class, checkpoint["config"])
        source = "given"
        if env is None:
            env, source = _saved_env(path, checkpoint, allow_pickle)
        agent = cls(env, config, seed=checkpoint["seed"])
        agent._restore_learner(path, checkpoint)
        agent._restore_episode(path, checkpoint, source)
        return agent

    def _restore_learner(self, path: Path, checkpoint: dict) -> None:
        """Networks, optimizers, generator, replay buffer, counters and history from a checkpoint."""
        modules, optimizers = self.modules(), self.optimizers()
        for what, saved, expected in (("modules", checkpoint["modules"], modules),
                                      ("optimizers", checkpoint["optimizers"], optimizers)):
            if set(saved) != set(expected):
                raise ValueError(f"{path}: {what} holds {sorted(saved)}, but {type(self).__name__} with this "
                                 f"config has {sorted(expected)}")
        for name, module in modules.items():
            with invalid_part(path, f"network {name!r}"):
                module.load_state_dict(checkpoint["modules"][name])
                _check_finite_parameters(module)
        for name, optimizer in optimizers.items():
            with invalid_part(path, f"optimizer {name!r}"):
                optimizer.load_state_dict(checkpoint["optimizers"][name])
                _check_optimizer_state(optimizer)
        with invalid_part(path, "generator state"):
            self.generator.set_state(checkpoint["generator"])
        if checkpoint["replay"] is not None:
            with invalid_part(path, "replay buffer"):
                self.buffer.load_state_dict(checkpoint["replay"])
        self.step, self.updates = checkpoint["step"], checkpoint["updates"]
        with invalid_part(path, "history"):
            self.history = _history_from_dict(checkpoint["history"])

    def _restore_episode(self, path: Path, checkpoint: dict, source: str) -> None:
        """The environment's generator and the episode in progress (``source``: where the environment
        came from: "spec" rebuilt, "pickle" unpickled with its state, "given" by the caller)."""
        episode = checkpoint["episode"]
        with invalid_part(path, "episode"):
            _check_episode(episode, self.env, self.action_dtype)
        self._env_seeded = episode["env_seeded"]
        if source == "pickle":
            if episode["observation"] is not None:
                self._continue_episode(episode)
            return
        with invalid_part(path, "env_rng"):
            saved_rng = None if checkpoint["env_rng"] is None else _generator_from_json(checkpoint["env_rng"])
        if episode["observation"] is None:
            if saved_rng is not None:
                self.env.unwrapped.np_random = saved_rng
            return
        same_env = checkpoint["env_spec"] is not None and (
            source == "spec" or _spec_json(self.env) == checkpoint["env_spec"])
        if same_env and self._replay_episode(path, episode, checkpoint["env_rng"]):
            return
        if saved_rng is not None:
            self.env.unwrapped.np_random = saved_rng
        reason = ("the environment did not replay it exactly (it is not deterministic given its seed)" if same_env
                  else "the given environment's spec differs from the saved one")
        warnings.warn(f"the checkpoint was saved mid-episode and {reason}; the next step starts a new episode "
                      "(pass env=None to continue the saved one)", stacklevel=3)

    def _replay_episode(self, path: Path, episode: dict, env_rng: str | None) -> bool:
        """Reset the environment as at the saved episode's start and repeat its actions; True when it
        ends in the saved observation and generator state (the episode then continues)."""
        seed = episode["reset_seed"]
        if seed is None:
            with invalid_part(path, "episode reset_rng"):
                self.env.unwrapped.np_random = _generator_from_json(episode["reset_rng"])
        observation, _ = self.env.reset(seed=seed)
        for action in episode["actions"]:
            observation, *_ = self.env.step(action.item() if action.dim() == 0 else action.numpy())
        if not (np.array_equal(np.asarray(observation), episode["observation"].numpy())
                and _json_or_none(_env_rng_state(self.env)) == env_rng):
            return False
        self._continue_episode(episode)
        return True

    def _continue_episode(self, episode: dict) -> None:
        self._observation = episode["observation"].numpy()
        self._episode_return, self._episode_length = episode["return"], episode["length"]
        self._episode_actions = list(episode["actions"].numpy())
        self._episode_reset_seed = episode["reset_seed"]
        self._episode_reset_rng = None if episode["reset_rng"] is None else json.loads(episode["reset_rng"])


# ----------------------------------------------------------------------------------------------------
# Checkpoint files: data only, each part checked


CHECKPOINT_FORMAT = "pgm_control.rl checkpoint 2"  # a name and a version number
_NONE = type(None)
_CHECKPOINT_TYPES = {
    "config": dict, "seed": int, "step": int, "updates": int, "modules": dict, "optimizers": dict,
    "generator": torch.Tensor, "replay": (dict, _NONE), "history": dict, "episode": dict,
    "env_rng": (str, _NONE), "env_spec": (str, _NONE), "env_pickle": (bytes, _NONE),
}
# The bit generators an environment's np_random may use (a checkpoint names one; nothing else is looked up).
_BIT_GENERATORS = {name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")}
_RNG_ARRAY_DTYPES = ("uint32", "uint64")


def _read_checkpoint(path: Path, algorithm: str) -> dict:
    """The checkpoint at `path` as checked plain data: tensors, numbers, strings, bytes, lists, dicts."""
    checkpoint = read_torch_file(path, "checkpoint")
    check_format(path, checkpoint, CHECKPOINT_FORMAT, f"checkpoint written by {algorithm}.save")
    saved_algorithm = checkpoint.get("algorithm")
    if saved_algorithm != algorithm:
        raise ValueError(f"{path} holds a {saved_algorithm} checkpoint, not a {algorithm} one; load it with "
                         f"{saved_algorithm}.load")
    missing = sorted(set(_CHECKPOINT_TYPES) - set(checkpoint))
    if missing:
        raise ValueError(f"{path} lacks the checkpoint part(s) {missing}; the file is incomplete or altered")
    for key, expected in _CHECKPOINT_TYPES.items():
        if not isinstance(checkpoint[key], expected) or isinstance(checkpoint[key], bool):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise ValueError(f"{path}: {key} must be a {names}, got {type(checkpoint[key]).__name__}")
    with invalid_part(path, "counters"):
        check_seed(checkpoint["seed"])
        for key in ("step", "updates"):
            check_positive_integer(checkpoint[key], key, allow_zero=True)
    return checkpoint


def _saved_env(path: Path, checkpoint: dict, allow_pickle: bool):
    """The environment stored in the checkpoint and how: ("pickle" with allow_pickle) or ("spec")."""
    if allow_pickle and checkpoint["env_pickle"] is not None:
        return pickle.loads(checkpoint["env_pickle"]), "pickle"
    if checkpoint["env_spec"] is not None:
        return _env_from_spec(path, checkpoint["env_spec"]), "spec"
    if checkpoint["env_pickle"] is not None:
        raise ValueError(f"{path} stores its environment only pickled, and unpickling runs code from the file: "
                         "pass env=, or allow_pickle=True if you wrote the file yourself")
    raise ValueError(f"{path} holds no environment; pass one, e.g. env=gymnasium.make('Pendulum-v1')")


def _spec_json(env) -> str | None:
    """The environment's Gymnasium spec as JSON, or None when it has none or it does not serialize."""
    spec = getattr(env, "spec", None)
    try:
        return None if spec is None else spec.to_json()
    except Exception:  # kwargs or wrappers that JSON cannot hold (callables, arrays)
        return None


def _env_from_spec(path: Path, text: str):
    """``gymnasium.make`` of a saved spec: a registered id and JSON kwargs only (entry points named in the
    file are never imported); the rebuilt environment's spec must equal the saved one."""
    with invalid_part(path, "env_spec"):
        spec = json.loads(text)
        if not (isinstance(spec, dict) and isinstance(spec.get("id"), str) and isinstance(spec.get("kwargs"), dict)):
            raise ValueError("it must be a JSON object with an 'id' string and a 'kwargs' object")
    env_id = spec["id"]
    if env_id not in gymnasium.registry:
        raise ValueError(f"{path}: the saved environment {env_id!r} is not registered with Gymnasium in this "
                         "process; import the package that registers it (a checkpoint imports nothing), or pass env=")
    wrappers = spec.get("additional_wrappers") or []
    if wrappers:
        names = [w.get("name") if isinstance(w, dict) else w for w in wrappers]
        raise ValueError(f"{path}: the saved environment was wrapped in {names} after gymnasium.make, which a "
                         "checkpoint does not rebuild; pass env= built the same way")
    options = {key: spec.get(key) for key in ("max_episode_steps", "disable_env_checker")}
    try:
        env = gymnasium.make(env_id, **options, **spec["kwargs"])
    except Exception as error:  # whatever the environment's constructor says about the saved kwargs
        raise ValueError(f"{path}: gymnasium.make cannot rebuild the saved environment {env_id!r} ({error})") from None
    rebuilt = json.loads(_spec_json(env) or "{}")
    different = sorted(k for k in set(spec) | set(rebuilt) if spec.get(k) != rebuilt.get(k))
    if different:
        env.close()
        raise ValueError(f"{path}: gymnasium.make({env_id!r}) builds an environment whose spec differs from the "
                         f"saved one in {different}; pass env=")
    return env


def _env_rng_state(env) -> dict | None:
    rng = getattr(env.unwrapped, "_np_random", None)
    return None if rng is None else rng.bit_generator.state


def _json_or_none(state: dict | None) -> str | None:
    """A bit generator's state as JSON (its integer arrays as {"array": [...], "dtype": ...})."""
    return None if state is None else json.dumps(state, default=_encode_array)


def _encode_array(value):
    if isinstance(value, np.ndarray) and value.dtype.name in _RNG_ARRAY_DTYPES:
        return {"array": value.tolist(), "dtype": value.dtype.name}
    raise TypeError(f"cannot store {type(value).__name__} in a generator state")


def _decode_array(value: dict):
    if set(value) == {"array", "dtype"} and value["dtype"] in _RNG_ARRAY_DTYPES:
        return np.array(value["array"], dtype=value["dtype"])
    return value


def _generator_from_json(text: str) -> np.random.Generator:
    """A fresh ``np.random.Generator`` in the saved state: only the named bit generators, whose state setter
    checks the structure; the global NumPy generator is never touched."""
    state = json.loads(text, object_hook=_decode_array)
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"bit_generator must be one of {sorted(_BIT_GENERATORS)}, got {name!r}")
    bit_generator = _BIT_GENERATORS[name]()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _check_finite_parameters(module: nn.Module) -> None:
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{name} holds non-finite values")


def _check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Each per-parameter state tensor (Adam's moments) must have its parameter's shape."""
    for parameter, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != parameter.shape:
                raise ValueError(f"state {key!r} has shape {shape_str(value.shape)} for a parameter of shape "
                                 f"{shape_str(parameter.shape)}")


def _history_from_dict(values: dict) -> TrainingHistory:
    history = TrainingHistory(**values)
    groups = (("episode_steps", "episode_returns", "episode_lengths"), ("eval_steps", "eval_returns", "eval_stds"))
    for group in groups:
        columns = [getattr(history, name) for name in group]
        if not all(isinstance(c, list) and all(isinstance(v, numbers.Real) for v in c) for c in columns):
            raise ValueError(f"{', '.join(group)} must be lists of numbers")
        if len({len(c) for c in columns}) != 1:
            raise ValueError(f"{', '.join(group)} must have equal lengths, got {[len(c) for c in columns]}")
    return history


def _check_episode(episode: dict, env, action_dtype: torch.dtype) -> None:
    """The saved episode in progress fits the environment's spaces."""
    keys = {"observation", "return", "length", "env_seeded", "actions", "reset_seed", "reset_rng"}
    if set(episode) != keys:
        raise ValueError(f"it must have the keys {sorted(keys)}, got {sorted(episode)}")
    if not isinstance(episode["env_seeded"], bool):
        raise ValueError("env_seeded must be a bool")
    observation = episode["observation"]
    if observation is None:
        return
    length = check_positive_integer(episode["length"], "length")
    check_real(episode["return"], "return", "a number")
    observation_shape, action_shape = env.observation_space.shape, env.action_space.shape
    if not isinstance(observation, torch.Tensor) or tuple(observation.shape) != tuple(observation_shape):
        raise ValueError(f"observation must be a tensor of shape {shape_str(observation_shape)}")
    actions = episode["actions"]
    if (not isinstance(actions, torch.Tensor) or actions.dtype != action_dtype
            or tuple(actions.shape) != (length, *action_shape)):
        raise ValueError(f"actions must be a {action_dtype} tensor of shape {shape_str((length, *action_shape))}")
    if episode["reset_seed"] is None:
        if not isinstance(episode["reset_rng"], str):
            raise ValueError("reset_rng must be a JSON string when reset_seed is None")
    else:
        check_seed(episode["reset_seed"], "reset_seed")
