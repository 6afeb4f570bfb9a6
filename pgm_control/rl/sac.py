r"""Soft Actor-Critic (Lecture 20, "Algorithm 1 Soft Actor-Critic"; Haarnoja et al. 2018a, 2018b).

SAC maximizes the max-entropy objective of control as inference (Lecture 20, "Control via variational
inference"; the CS285 notes, "Soft Optimality"),

    J(π) = Σ_t E_{(s_t, a_t) ~ π}[ r(s_t, a_t) + α H(π(·|s_t)) ],

by soft policy iteration with function approximators: soft Q-functions Q_θ1, Q_θ2 (the minimum of the
two fights overestimation), a tanh-Gaussian policy π_φ, and a temperature α. Shapes: observations
``[B, dim S]``, actions ``[B, dim A]``, and every per-sample quantity below ``[B]``.

**Variant "v1"** (Haarnoja et al. 2018a; Lecture 20's Algorithm 1): a state-value network V_ψ, its
Polyak-averaged target V_ψ̄, fixed α. With ã ~ π_φ(·|s) freshly sampled, per gradient step:

    J_V(ψ)  = E_{s~D}[ ½ (V_ψ(s) - (min_i Q_θi(s, ã) - α log π_φ(ã|s)))² ]
    J_Q(θi) = E_{(s,a,r,s')~D}[ ½ (Q_θi(s, a) - (r + γ (1 - d) V_ψ̄(s')))² ]          i = 1, 2
    J_π(φ)  = E_{s~D, ε~N(0,I)}[ α log π_φ(f_φ(ε; s)|s) - min_i Q_θi(s, f_φ(ε; s)) ]
    ψ̄ ← τ ψ + (1 - τ) ψ̄

**Variant "v2"** (Haarnoja et al. 2018b, the default): no ψ; target Q networks θ̄1, θ̄2, and α tuned
so that the policy entropy tracks a target H̄ (default -dim A). With a' ~ π_φ(·|s'):

    J_Q(θi) = E[ ½ (Q_θi(s, a) - (r + γ (1 - d) (min_i Q_θ̄i(s', a') - α log π_φ(a'|s'))))² ]
    J_π(φ)  = as in v1
    J(α)    = E_{a~π_φ}[ -α log π_φ(a|s) - α H̄ ]           (α = exp(log α); the gradient is on log α)
    θ̄i ← τ θi + (1 - τ) θ̄i

d = ``terminated``: a time-limit cut bootstraps (see :mod:`pgm_control.rl.training`). Each loss is a
pure function of tensors below; :class:`SAC` is the thin driver that feeds them batches.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch
from torch import nn

from pgm_control.rl.networks import QNetwork, TanhGaussianPolicy, ValueNetwork
from pgm_control.rl.replay import Transitions
from pgm_control.rl.training import (
    OffPolicyAgent,
    check_common_config,
    config_number,
    optimizer_step,
    polyak_update,
    target_copy,
)

VARIANTS = ("v1", "v2")


@dataclass(frozen=True)
class SACConfig:
    r"""Hyperparameters of :class:`SAC`. The defaults solve Pendulum-v1 in 20 000 steps.

    Attributes:
        variant: ``"v2"`` (target Q networks, automatic α; default) or ``"v1"`` (value network V_ψ
            with target V_ψ̄, fixed α), as in Lecture 20's Algorithm 1.
        hidden: hidden-layer widths of every network (ReLU).
        lr: Adam step size λ_V = λ_Q = λ_π (and of log α in v2).
        batch_size: transitions per gradient step.
        buffer_size: capacity of the replay buffer D.
        discount: γ.
        tau: Polyak rate τ of the target networks.
        temperature: α; fixed in v1, the initial value in v2.
        target_entropy: H̄ of v2's temperature loss; ``None`` means -dim(A). Entropies are those of
            actions in the environment's units (log π includes the Box rescaling).
        learning_starts: uniform random actions before the first update (and while D fills).
        train_every: environment steps between updates; gradient_steps: updates each time.
        eval_every: environment steps between evaluations (0: none); eval_episodes: episodes each.
        exploration_bonus: ``None`` or ``"rnd"``: random network distillation, the target Q̂ uses
            r + β b(s') (:mod:`pgm_control.rl.bonus`).
        bonus_scale: β.
    """

    variant: str = "v2"
    hidden: tuple[int, ...] = (256, 256)
    lr: float = 1e-3
    batch_size: int = 256
    buffer_size: int = 1_000_000
    discount: float = 0.99
    tau: float = 0.005
    temperature: float = 1.0
    target_entropy: float | None = None
    learning_starts: int = 1000
    train_every: int = 1
    gradient_steps: int = 1
    eval_every: int = 2000
    eval_episodes: int = 5
    exploration_bonus: str | None = None
    bonus_scale: float = 1.0

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"SACConfig.variant must be one of {VARIANTS}, got {self.variant!r}")
        check_common_config(self)
        if not 0.0 < config_number(self, "temperature", "a positive number") < math.inf:
            raise ValueError(f"SACConfig.temperature must be a finite positive number, got {self.temperature}")
        if self.target_entropy is not None and not math.isfinite(
                config_number(self, "target_entropy", "None (-dim A) or a finite number")):
            raise ValueError(f"SACConfig.target_entropy must be None (-dim A) or a finite number, "
                             f"got {self.target_entropy}")


# ----------------------------------------------------------------------------------------------------
# The losses, term by term


def soft_state_value(q1: torch.Tensor, q2: torch.Tensor, log_prob: torch.Tensor,
                     temperature: torch.Tensor | float) -> torch.Tensor:
    r"""One-sample soft value V(s) ≈ min_i Q_θi(s, ã) - α log π(ã|s), ã ~ π(·|s); all ``[B]``.

    The target of v1's J_V and, at s', the bootstrap of v2's J_Q.

    >>> soft_state_value(torch.tensor([1.0, 5.0]), torch.tensor([3.0, 2.0]), torch.tensor([-1.0, 0.5]), 0.5)
    tensor([1.5000, 1.7500])
    """
    return torch.min(q1, q2) - temperature * log_prob


def q_target(reward: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor,
             discount: float) -> torch.Tensor:
    r"""Q̂(s, a) = r + γ (1 - d) V(s'), all ``[B]``; V(s') is V_ψ̄(s') (v1) or the soft value of the target
    Q networks (v2: ``soft_state_value(q1_next, q2_next, log_prob_next, α)``)."""
    return reward + discount * (1.0 - terminated) * next_value


def value_loss(v: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""J_V(ψ) = E[½ (V_ψ(s) - (min_i Q_θi(s, ã) - α log π(ã|s)))²]; v and target ``[B]``."""
    return 0.5 * ((v - target) ** 2).mean()


def q_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor,
           weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""J_Q(θ1) + J_Q(θ2) = Σ_i E[½ (Q_θi(s, a) - Q̂(s, a))²]; all ``[B]`` (θ1, θ2 share no weights, so
    one step on the sum is a step on each). With importance weights w ``[B]`` (prioritized replay), each
    row's squared errors are multiplied by w_j."""
    w = 1.0 if weights is None else weights
    return 0.5 * (w * (q1 - target) ** 2).mean() + 0.5 * (w * (q2 - target) ** 2).mean()


def policy_loss(q1: torch.Tensor, q2: torch.Tensor, log_prob: torch.Tensor,
                temperature: torch.Tensor | float) -> torch.Tensor:
    r"""J_π(φ) = E[α log π_φ(ã|s) - min_i Q_θi(s, ã)], ã = f_φ(ε; s) reparameterized; inputs ``[B]``."""
    return (temperature * log_prob - torch.min(q1, q2)).mean()


def temperature_loss(log_temperature: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    r"""J(α) = E[-α log π(a|s) - α H̄] with α = exp(log α) (log_prob ``[B]``, detached).

    d J / d log α = α (H - H̄) with H = E[-log π]: gradient descent raises α while the entropy is below
    its target H̄ and lowers it while above.
    """
    temperature = torch.exp(log_temperature)
    return (-temperature * log_prob.detach() - temperature * target_entropy).mean()


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Within the block, the modules' parameters need no gradient (J_π moves φ, not θ)."""
    parameters = [p for module in modules for p in module.parameters()]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in parameters:
            p.requires_grad_(True)


class Temperature(nn.Module):
    """The temperature α, held as its log (a parameter in v2, fixed in v1)."""

    def __init__(self, temperature: float):
        super().__init__()
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))

    def forward(self) -> torch.Tensor:
        return self.log_temperature.exp()


# ----------------------------------------------------------------------------------------------------
# The driver


class SAC(OffPolicyAgent):
    r"""Soft Actor-Critic on a Gymnasium environment with Box observations and Box actions.

    Args:
        env: e.g. ``gymnasium.make("Pendulum-v1")``; 1-D Box observations, 1-D Box actions with finite
            bounds (actions are squashed into them).
        config: a :class:`SACConfig` (default: ``SACConfig()``).
        seed: seeds the networks, the agent's and the buffer's generators, and the first reset.

    Use ``train(num_steps, progress=..., log=...)``, ``evaluate(num_episodes)``, ``save(path)``,
    ``SAC.load(path, env=None)`` (from :class:`~pgm_control.rl.training.OffPolicyAgent`) and
    ``act(observation)``. The networks are ``agent.policy`` (φ), ``agent.q1``, ``agent.q2`` (θ1, θ2),
    ``agent.q1_target``, ``agent.q2_target`` (θ̄, v2) or ``agent.value``, ``agent.value_target``
    (ψ, ψ̄, v1); α is ``agent.temperature``.

    Example (a few steps; see ``benchmarks/bench_sac.py`` for a real run):
        >>> env = gymnasium.make("Pendulum-v1")
        >>> config = SACConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0)
        >>> agent = SAC(env, config, seed=0)
        >>> history = agent.train(50, progress=False)
        >>> agent.step, len(agent.buffer), round(agent.temperature, 3) < 1.0
        (50, 50, True)
        >>> agent.evaluate(1).shape
        (1,)
    """

    config_class = SACConfig
    action_dtype = torch.float32
    # callables agent -> scalar, each added to the policy loss J_π at every update (set by
    # pgm_control.rl.demonstration_replay.add_imitation_term; not saved in checkpoints)
    auxiliary_losses = ()

    def _check_action_space(self, space) -> None:
        if isinstance(space, gymnasium.spaces.Discrete):
            raise TypeError("SAC needs a Box action space; for Discrete actions use "
                            "pgm_control.rl.SoftQ (deep soft Q-learning)")
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"SAC needs a 1-D Box action space, got {space}")
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise ValueError(f"SAC squashes actions into the Box bounds, which must be finite; got {space}. "
                             "Wrap the environment in gymnasium.wrappers.RescaleAction(env, -1.0, 1.0) after "
                             "choosing finite bounds, or clip it with ClipAction on a bounded Box")

    def _build(self) -> None:
        config, space = self.config, self.env.action_space
        obs_dim, self.action_dim = self.observation_dim, int(space.shape[0])
        self.target_entropy = -float(self.action_dim) if config.target_entropy is None else config.target_entropy
        self.action_low = torch.as_tensor(space.low, dtype=torch.float32)
        self.action_high = torch.as_tensor(space.high, dtype=torch.float32)
        self.policy = TanhGaussianPolicy(obs_dim, self.action_low, self.action_high, config.hidden)
        self.q1 = QNetwork(obs_dim, self.action_dim, config.hidden)
        self.q2 = QNetwork(obs_dim, self.action_dim, config.hidden)
        self.log_temperature = Temperature(config.temperature)
        self.q_optimizer = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=config.lr,
                                            foreach=True)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr, foreach=True)
        if config.variant == "v1":
            self.log_temperature.requires_grad_(False)
            self.value = ValueNetwork(obs_dim, config.hidden)
            self.value_target = target_copy(self.value)
            self.value_optimizer = torch.optim.Adam(self.value.parameters(), lr=config.lr, foreach=True)
        else:
            self.q1_target, self.q2_target = target_copy(self.q1), target_copy(self.q2)
            self.temperature_optimizer = torch.optim.Adam(self.log_temperature.parameters(), lr=config.lr)

    @property
    def temperature(self) -> float:
        """The current α."""
        return float(self.log_temperature().detach())

    def modules(self) -> dict[str, nn.Module]:
        names = ["policy", "q1", "q2", "log_temperature"]
        names += ["value", "value_target"] if self.config.variant == "v1" else ["q1_target", "q2_target"]
        return {**{name: getattr(self, name) for name in names}, **self.bonus_modules()}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        names = ["q_optimizer", "policy_optimizer"]
        names += ["value_optimizer"] if self.config.variant == "v1" else ["temperature_optimizer"]
        return {**{name: getattr(self, name) for name in names}, **self.bonus_optimizers()}

    def act(self, observation, deterministic: bool = False, generator: torch.Generator | None = None) -> np.ndarray:
        """a ~ π_φ(·|s) (or the mean action c + h tanh(μ) when ``deterministic``) for one observation
        ``[dim S]``; returns a float32 array ``[dim A]``."""
        with torch.no_grad():
            observations = self._as_observations(observation)[None]
            if deterministic:
                action = self.policy.mean_action(observations)
            else:
                action, _ = self.policy.sample(observations, self.generator if generator is None else generator)
        return action[0].numpy()

    def _random_action(self) -> np.ndarray:
        """Uniform on the Box, from the agent's generator."""
        uniform = torch.rand(self.action_dim, generator=self.generator)
        return (self.action_low + (self.action_high - self.action_low) * uniform).numpy()

    def compute_q_target(self, batch: Transitions) -> torch.Tensor:
        r"""Q̂ ``[B]``: r + γ(1 - d) V_ψ̄(s') (v1) or r + γ(1 - d)(min_i Q_θ̄i(s', a') - α log π(a'|s')) (v2)."""
        with torch.no_grad():
            if self.config.variant == "v1":
                next_value = self.value_target(batch.next_observations)
            else:
                next_action, log_prob_next = self.policy.sample(batch.next_observations, self.generator)
                next_value = soft_state_value(self.q1_target(batch.next_observations, next_action),
                                              self.q2_target(batch.next_observations, next_action),
                                              log_prob_next, self.log_temperature())
            return q_target(batch.rewards, batch.terminated, next_value, self.config.discount)

    def update(self, batch: Transitions, weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One gradient step of every loss on ``batch``, in Algorithm 1's order; returns the losses.
        With an ``exploration_bonus``, Q̂ uses r + β b(s') and the bonus model takes its own step first.
        ``weights`` ``[B]`` (prioritized replay's importance weights) multiply the rows of J_Q only; the
        critics' mean |δ| = (|Q_θ1(s, a) - Q̂| + |Q_θ2(s, a) - Q̂|)/2 ``[B]`` is left in ``last_td_errors``."""
        config = self.config
        batch, losses = self.add_exploration_bonus(batch)
        s, a = batch.observations, batch.actions
        temperature = self.log_temperature().detach()
        # ã = f_φ(ε; s): one reparameterized sample serves J_V (detached) and J_π.
        action, log_prob = self.policy.sample(s, self.generator)
        if config.variant == "v1":
            with torch.no_grad():
                v_target = soft_state_value(self.q1(s, action), self.q2(s, action), log_prob, temperature)
            losses["value"] = optimizer_step(self.value_optimizer, value_loss(self.value(s), v_target))
        target = self.compute_q_target(batch)
        q1, q2 = self.q1(s, a), self.q2(s, a)
        losses["q"] = optimizer_step(self.q_optimizer, q_loss(q1, q2, target, weights))
        self.last_td_errors = 0.5 * ((q1 - target).abs() + (q2 - target).abs()).detach()
        with frozen(self.q1, self.q2):
            loss = policy_loss(self.q1(s, action), self.q2(s, action), log_prob, temperature)
            for term in self.auxiliary_losses:  # e.g. the hybrid objective's imitation term
                loss = loss + term(self)
            losses["policy"] = optimizer_step(self.policy_optimizer, loss)
        if config.variant == "v1":
            polyak_update(self.value_target, self.value, config.tau)
        else:
            losses["temperature"] = optimizer_step(self.temperature_optimizer,
                                          temperature_loss(self.log_temperature.log_temperature, log_prob,
                                                           self.target_entropy))
            polyak_update(self.q1_target, self.q1, config.tau)
            polyak_update(self.q2_target, self.q2, config.tau)
        return losses
