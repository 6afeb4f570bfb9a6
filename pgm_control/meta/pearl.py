r"""A PEARL-style latent-model agent on the point robot (CS285 notes, "Meta-RL", "Latent Model";
Rakelly et al. 2019, "PEARL").

The adaptation data c (whole episodes of the current task) is summarized by a belief over a latent
task variable, q_φ(z | c), and a soft actor-critic acts on the observation ⊕ z. The notes' objective,

    min_{φ, θ}  E_T[ E_{z ~ q_φ(z | c^T)}[ R(T, z) ] + β D_KL(q_φ(z | c^T) ‖ p(z)) ],

has R the "likelihood" term, here the critic's Bellman error J_Q(θ) of SAC (as in PEARL: the critic's
gradient trains the encoder through the reparameterized z = μ_φ(c) + σ_φ(c) ε), and the KL the
"regularization" term, in closed form for a Gaussian q and p(z) = N(0, 1):

    D_KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1) − log σ.

The encoder is :class:`~pgm_control.meta.TaskEncoder`, a product of one Gaussian factor per transition
(s, a, r, s') with the prior N(0, 1). The actor's and temperature's losses are SAC's
(:mod:`pgm_control.rl.sac`), evaluated at a detached z.

Exploration is posterior sampling across episodes: in a new task the first episode acts with z ~ p(z),
each later one with z ~ q_φ(z | c) of every episode so far. Training collects, in each of the fixed
training tasks, one episode of each kind per iteration.

Departures from PEARL: the latent is one-dimensional (the encoder's u, a goal-angle coordinate) rather
than learned of width 5; the training context is drawn from the task's whole buffer, not from a separate
buffer of recent episodes; the target entropy is SAC's −dim A moved into the action Box, −2 + 2 log h.

``conditioning`` selects what the actor-critic sees beside the observation: ``"posterior"`` (PEARL),
``"none"`` (a non-adaptive SAC on the task mixture), ``"oracle"`` (the goal g(z)/radius, known from the
start). The three share every other line, so a comparison of their returns measures the latent alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pgm_control._checks import (
    check_layer_widths,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_positive_integer,
    check_real,
    check_seed,
)
from pgm_control._progress import progress_bar
from pgm_control.meta.encoder import TaskEncoder
from pgm_control.meta.tasks import PointRobotFamily
from pgm_control.rl.networks import QNetwork, TanhGaussianPolicy
from pgm_control.rl.sac import (
    Temperature,
    frozen,
    policy_loss,
    q_loss,
    q_target,
    soft_state_value,
    temperature_loss,
)
from pgm_control.rl.training import optimizer_step, polyak_update, target_copy

CONDITIONINGS = ("posterior", "none", "oracle")
LATENT_SIZES = {"posterior": 1, "none": 0, "oracle": 2}


@dataclass(frozen=True)
class PEARLConfig:
    r"""Hyperparameters of :class:`PEARL`.

    Attributes:
        conditioning: ``"posterior"`` (PEARL), ``"none"`` (SAC on the task mixture) or ``"oracle"``
            (the goal known); see the module docstring.
        kl_weight: β of the KL term (≥ 0). PEARL's 0.1 pinned q_φ to the prior here (KL ≤ 0.005 nats
            after 1250 steps on the point robot, whose Bellman errors are ~0.05); 1e-3 lets it learn.
        num_train_tasks: the fixed training tasks (goal angles drawn once from p(z)).
        context_episodes: episodes of a task's buffer in each training context c.
        hidden: hidden widths of the actor and the critics; encoder_hidden: of the encoder.
        lr: Adam step size of every network (and of log α).
        discount: γ; tau: Polyak rate of the target critics.
        temperature: the initial α (tuned toward the target entropy −dim A).
        meta_batch: tasks per gradient step; batch_size: transitions per task per step.
        gradient_steps: gradient steps per iteration (after the iteration's data collection).
        buffer_episodes: episodes kept per task (a ring buffer).
    """

    conditioning: str = "posterior"
    kl_weight: float = 1e-3
    num_train_tasks: int = 30
    context_episodes: int = 1
    hidden: tuple[int, ...] = (64, 64)
    encoder_hidden: tuple[int, ...] = (64, 64)
    lr: float = 3e-3
    discount: float = 0.9
    tau: float = 0.01
    temperature: float = 0.1
    meta_batch: int = 4
    batch_size: int = 64
    gradient_steps: int = 25
    buffer_episodes: int = 200

    def __post_init__(self):
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"PEARLConfig.conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        check_nonnegative(self.kl_weight, "PEARLConfig.kl_weight")
        for name in ("num_train_tasks", "context_episodes", "meta_batch", "batch_size", "gradient_steps",
                     "buffer_episodes"):
            check_positive_integer(getattr(self, name), f"PEARLConfig.{name}")
        check_layer_widths(self.hidden, "PEARLConfig.hidden")
        check_layer_widths(self.encoder_hidden, "PEARLConfig.encoder_hidden")
        check_learning_rate(self.lr, "PEARLConfig.lr")
        discount = check_real(self.discount, "PEARLConfig.discount", "a number in [0, 1)")
        if not 0.0 <= discount < 1.0:
            raise ValueError(f"PEARLConfig.discount must lie in [0, 1) (episodes are cut by a time limit and "
                             f"bootstrapped), got {self.discount}")
        tau = check_real(self.tau, "PEARLConfig.tau", "a number in (0, 1]")
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"PEARLConfig.tau must lie in (0, 1], got {self.tau}")
        check_positive(self.temperature, "PEARLConfig.temperature")
        if self.context_episodes > self.buffer_episodes:
            raise ValueError(f"PEARLConfig.context_episodes ({self.context_episodes}) must not exceed "
                             f"buffer_episodes ({self.buffer_episodes})")


def gaussian_kl_to_standard(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    r"""D_KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1) − log σ, elementwise.

    >>> gaussian_kl_to_standard(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
    tensor([0.0000, 0.5000])
    """
    return 0.5 * (mean ** 2 + scale ** 2 - 1.0) - torch.log(scale)


class EpisodeBuffer:
    r"""Whole episodes of N tasks, a ring of ``capacity`` episodes per task: positions ``[N, K, T+1, 2]``,
    actions ``[N, K, T, 2]``, rewards ``[N, K, T]`` (float64). Every task receives its episodes together,
    so one count serves all."""

    def __init__(self, num_tasks: int, capacity: int, episode_length: int):
        self.capacity, self.size, self._next = capacity, 0, 0
        self.positions = torch.zeros(num_tasks, capacity, episode_length + 1, 2, dtype=torch.float64)
        self.actions = torch.zeros(num_tasks, capacity, episode_length, 2, dtype=torch.float64)
        self.rewards = torch.zeros(num_tasks, capacity, episode_length, dtype=torch.float64)

    def add(self, positions: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        """One episode per task: ``[N, T+1, 2]``, ``[N, T, 2]``, ``[N, T]``."""
        slot = self._next
        self.positions[:, slot], self.actions[:, slot], self.rewards[:, slot] = positions, actions, rewards
        self._next = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def contexts(self, tasks: torch.Tensor, num_episodes: int, generator: torch.Generator):
        """c for each of the tasks ``[M]``: ``num_episodes`` distinct random episodes, as (actions
        ``[M, E, T, 2]``, rewards ``[M, E, T]``)."""
        order = torch.rand(tasks.shape[0], self.size, generator=generator).argsort(-1)[:, :num_episodes]
        return self.actions[tasks[:, None], order], self.rewards[tasks[:, None], order]

    def transitions(self, tasks: torch.Tensor, batch_size: int, generator: torch.Generator):
        """``batch_size`` uniform transitions (s, a, r, s') of each task ``[M]``, each ``[M, B, ...]``."""
        shape = (tasks.shape[0], batch_size)
        episodes = torch.randint(self.size, shape, generator=generator)
        steps = torch.randint(self.actions.shape[2], shape, generator=generator)
        task = tasks[:, None]
        return (self.positions[task, episodes, steps], self.actions[task, episodes, steps],
                self.rewards[task, episodes, steps], self.positions[task, episodes, steps + 1])


class PEARL:
    r"""The latent-model agent of the module docstring on a :class:`~pgm_control.meta.PointRobotFamily`.

    Args:
        task_family: ``point_robot_tasks(...)``.
        config: a :class:`PEARLConfig`.
        seed: seeds the networks, the training tasks and every random draw.

    Use ``train(num_iterations)`` (returns the losses of the last gradient step of each iteration)
    and ``evaluate(num_tasks, num_episodes)`` (returns of fresh tasks with posterior sampling).
    Networks: ``encoder`` (φ; None unless ``conditioning="posterior"``), ``policy``, ``q1``, ``q2``,
    ``q1_target``, ``q2_target``; α is ``temperature``.

    Example (a few steps; ``benchmarks/bench_pearl.py`` has a real run):
        >>> from pgm_control.meta import point_robot_tasks
        >>> config = PEARLConfig(num_train_tasks=4, hidden=(16,), encoder_hidden=(16,), gradient_steps=2)
        >>> agent = PEARL(point_robot_tasks(episode_length=5), config, seed=0)
        >>> _ = agent.train(2, progress=False)
        >>> agent.evaluate(num_tasks=3, num_episodes=2).shape
        torch.Size([3, 2])
    """

    def __init__(self, task_family: PointRobotFamily, config: PEARLConfig | None = None, seed: int = 0):
        if not isinstance(task_family, PointRobotFamily):
            raise TypeError(f"task_family must be a PointRobotFamily (point_robot_tasks()), got "
                            f"{type(task_family).__name__}")
        config = PEARLConfig() if config is None else config
        if not isinstance(config, PEARLConfig):
            raise TypeError(f"config must be a PEARLConfig, got {type(config).__name__}")
        self.family, self.config = task_family, config
        self.generator = torch.Generator().manual_seed(check_seed(seed))
        torch.manual_seed(seed)
        self.train_tasks = task_family.sample(config.num_train_tasks, self.generator)
        self.buffer = EpisodeBuffer(config.num_train_tasks, config.buffer_episodes, task_family.episode_length)
        self.latent_size = LATENT_SIZES[config.conditioning]
        inputs = 2 + self.latent_size
        bound = torch.full((2,), task_family.max_step)
        self.encoder = TaskEncoder(config.encoder_hidden) if config.conditioning == "posterior" else None
        self.policy = TanhGaussianPolicy(inputs, -bound, bound, config.hidden)
        self.q1, self.q2 = QNetwork(inputs, 2, config.hidden), QNetwork(inputs, 2, config.hidden)
        self.q1_target, self.q2_target = target_copy(self.q1), target_copy(self.q2)
        self.log_temperature = Temperature(config.temperature)
        # SAC's H̄ = −dim A for actions in [−1, 1]², moved into the Box [−h, h]² by the Jacobian: −2 + 2 log h
        # (with −dim A itself α grew without bound: no density on [−0.1, 0.1]² has entropy above 2 log 0.2).
        self.target_entropy = -2.0 + 2.0 * math.log(task_family.max_step)
        critic = [*self.q1.parameters(), *self.q2.parameters()]
        critic += list(self.encoder.parameters()) if self.encoder is not None else []
        self.q_optimizer = torch.optim.Adam(critic, lr=config.lr)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr)
        self.temperature_optimizer = torch.optim.Adam(self.log_temperature.parameters(), lr=config.lr)

    @property
    def temperature(self) -> float:
        """The current α."""
        return float(self.log_temperature().detach())

    # ------------------------------------------------------------------------------------------ latents
    def latent_belief(self, tasks: torch.Tensor, actions: torch.Tensor | None, rewards: torch.Tensor | None):
        r"""(μ, σ) of q_φ(z | c) ``[M]`` for contexts ``[M, E, T, 2]``, ``[M, E, T]``; the prior (0, 1)
        when the context is None (no episode yet)."""
        if actions is None:
            zeros = torch.zeros(tasks.shape[0], dtype=torch.float64)
            return zeros, torch.ones_like(zeros)
        return self.encoder(self.family, actions, rewards)

    def latents(self, tasks: torch.Tensor, actions=None, rewards=None, generator=None) -> torch.Tensor:
        r"""What the actor-critic sees beside the observation, ``[M, latent_size]`` (float32): z ~ q_φ(z | c)
        (posterior), nothing (none), or g(z)/radius (oracle)."""
        conditioning = self.config.conditioning
        if conditioning == "none":
            return torch.zeros(tasks.shape[0], 0)
        if conditioning == "oracle":
            return (self.family.goals(tasks) / self.family.radius).float()
        mean, scale = self.latent_belief(tasks, actions, rewards)
        noise = torch.randn(mean.shape, dtype=mean.dtype, generator=self.generator if generator is None else generator)
        return (mean + scale * noise)[:, None].float()

    # ------------------------------------------------------------------------------------------ acting
    def run_episode(self, tasks: torch.Tensor, latents: torch.Tensor, deterministic: bool = False,
                    generator: torch.Generator | None = None):
        """One episode in each task ``[M]`` with latents ``[M, latent_size]``: positions ``[M, T+1, 2]``,
        actions ``[M, T, 2]``, rewards ``[M, T]`` (float64)."""
        generator = self.generator if generator is None else generator
        states = self.family.reset(tasks.shape[0])
        positions, actions, rewards = [states], [], []
        with torch.no_grad():
            for _ in range(self.family.episode_length):
                inputs = torch.cat([states.float(), latents], -1)
                if deterministic:
                    action = self.policy.mean_action(inputs)
                else:
                    action, _ = self.policy.sample(inputs, generator)
                states, reward = self.family.step(tasks, states, action.double())
                positions.append(states)
                actions.append(action.double())
                rewards.append(reward)
        return torch.stack(positions, 1), torch.stack(actions, 1), torch.stack(rewards, 1)

    def adapt(self, tasks: torch.Tensor, num_episodes: int, deterministic: bool = True,
              generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Posterior sampling across ``num_episodes`` episodes of each task ``[M]``: episode 1 with
        z ~ p(z), episode k with z ~ q_φ(z | episodes 1..k−1). Returns the returns ``[M, num_episodes]``."""
        actions = rewards = None
        returns = []
        for _ in range(num_episodes):
            with torch.no_grad():
                latents = self.latents(tasks, actions, rewards, generator)
            _, episode_actions, episode_rewards = self.run_episode(tasks, latents, deterministic, generator)
            returns.append(episode_rewards.sum(-1))
            actions = episode_actions[:, None] if actions is None else torch.cat([actions, episode_actions[:, None]], 1)
            rewards = episode_rewards[:, None] if rewards is None else torch.cat([rewards, episode_rewards[:, None]], 1)
        return torch.stack(returns, -1)

    def evaluate(self, num_tasks: int = 50, num_episodes: int = 3, seed: int = 12345) -> torch.Tensor:
        """Returns ``[num_tasks, num_episodes]`` of fresh tasks z ~ p(z) (mean actions, posterior sampling
        across the episodes, see :meth:`adapt`)."""
        generator = torch.Generator().manual_seed(check_seed(seed))
        tasks = self.family.sample(check_positive_integer(num_tasks, "num_tasks"), generator)
        return self.adapt(tasks, check_positive_integer(num_episodes, "num_episodes"), True, generator)

    # ------------------------------------------------------------------------------------------ learning
    def collect(self) -> None:
        """One episode with z ~ p(z) and one with z ~ q_φ(z | that episode) in every training task."""
        tasks = self.train_tasks
        with torch.no_grad():
            first = self.run_episode(tasks, self.latents(tasks))
            self.buffer.add(*first)
            second = self.run_episode(tasks, self.latents(tasks, first[1][:, None], first[2][:, None]))
            self.buffer.add(*second)

    def update(self) -> dict[str, torch.Tensor]:
        r"""One gradient step of J_Q + β KL (critics and encoder), J_π (actor), J(α), then the targets."""
        config = self.config
        tasks = torch.randint(config.num_train_tasks, (config.meta_batch,), generator=self.generator)
        latents, kl = self._training_latents(tasks)
        states, actions, rewards, next_states = self.buffer.transitions(tasks, config.batch_size, self.generator)
        z = latents[:, None, :].expand(-1, config.batch_size, -1)
        s = torch.cat([states.float(), z], -1).flatten(0, 1)
        s_next = torch.cat([next_states.float(), z.detach()], -1).flatten(0, 1)
        a, r = actions.float().flatten(0, 1), rewards.float().flatten()
        temperature = self.log_temperature().detach()
        with torch.no_grad():
            next_action, log_prob_next = self.policy.sample(s_next, self.generator)
            next_value = soft_state_value(self.q1_target(s_next, next_action), self.q2_target(s_next, next_action),
                                          log_prob_next, temperature)
            target = q_target(r, torch.zeros_like(r), next_value, config.discount)
        losses = {"kl": kl.detach()}
        critic_loss = q_loss(self.q1(s, a), self.q2(s, a), target) + config.kl_weight * kl
        losses["q"] = optimizer_step(self.q_optimizer, critic_loss)
        s_policy = s.detach()
        action, log_prob = self.policy.sample(s_policy, self.generator)
        with frozen(self.q1, self.q2):
            loss = policy_loss(self.q1(s_policy, action), self.q2(s_policy, action), log_prob, temperature)
            losses["policy"] = optimizer_step(self.policy_optimizer, loss)
        losses["temperature"] = optimizer_step(self.temperature_optimizer, temperature_loss(
            self.log_temperature.log_temperature, log_prob, self.target_entropy))
        polyak_update(self.q1_target, self.q1, config.tau)
        polyak_update(self.q2_target, self.q2, config.tau)
        return losses

    def _training_latents(self, tasks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized z ``[M, latent_size]`` for training-task indices ``[M]`` and the mean KL(q ‖ p)
        (0 without an encoder)."""
        if self.encoder is None:
            return self.latents(self.train_tasks[tasks]), torch.zeros(())
        actions, rewards = self.buffer.contexts(tasks, self.config.context_episodes, self.generator)
        mean, scale = self.latent_belief(tasks, actions, rewards)
        noise = torch.randn(mean.shape, dtype=mean.dtype, generator=self.generator)
        return (mean + scale * noise)[:, None].float(), gaussian_kl_to_standard(mean, scale).mean().float()

    def train(self, num_iterations: int, progress: bool | None = None) -> list[dict[str, float]]:
        """``num_iterations`` rounds of :meth:`collect` then ``gradient_steps`` × :meth:`update`; returns the
        last losses of each round."""
        num_iterations = check_positive_integer(num_iterations, "num_iterations")
        history = []
        work = num_iterations * self.config.gradient_steps * self.config.meta_batch * self.config.batch_size * 1e3
        with progress_bar(num_iterations, progress, work, f"PEARL ({self.config.conditioning})") as bar:
            for _ in range(num_iterations):
                self.collect()
                for _ in range(self.config.gradient_steps):
                    losses = self.update()
                history.append({name: float(value) for name, value in losses.items()})
                bar.update()
        return history

