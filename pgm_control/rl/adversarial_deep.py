r"""AIRL and GAIL with deep off-policy agents: :class:`~pgm_control.rl.SAC` for Box actions,
:class:`~pgm_control.rl.SoftQ` for Discrete actions (CS285 notes, "Inverse RL as GAN").

The discriminators are those of :mod:`pgm_control.rl.adversarial` with networks in place of tables,
computed as logits and trained with the same :func:`~pgm_control.rl.adversarial.discriminator_loss`:

    AIRL:  logit = f_ψ(s, a, s') - log π(a|s),   f_ψ = g_ψ(s) + γ (1 - terminated) h_ψ(s') - h_ψ(s)
    GAIL:  logit = d_ψ(s, a)

The agent learns from its replay buffer with every sampled batch's rewards relabelled by the current
discriminator: r = f_ψ(s, a, s') for AIRL (the agent's own entropy bonus -α log π supplies the rest of
log D - log(1 - D) = f_ψ - log π, exactly so at α = 1) and r = softplus(d_ψ(s, a)) = -log(1 - D) for
GAIL. An optional gradient penalty (``gradient_penalty`` λ > 0, GAIL only) adds λ E_x̂[(‖∇_x̂ d_ψ(x̂)‖₂ - 1)²] to
the discriminator's loss (see :func:`gradient_penalty`), which keeps it from separating the two data sets
perfectly. The discriminator's policy data are replay samples too (off-policy, as in Kostrikov et al. 2019,
"Discriminator-Actor-Critic"), so the policy data mix recent policies; the tabular module is the exact
referee of the same loop.

Episodes must have a fixed length (e.g. Pendulum-v1's 200 steps): expert transitions that end an episode
by ``terminated`` are refused (see :mod:`pgm_control.rl.adversarial` for the bias of variable lengths). A task
that terminates (CartPole-v1) is wrapped in :class:`~pgm_control.envs.FixedHorizon`, which continues each
episode in an absorbing state with reward 0 up to its time limit.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pgm_control._checks import (
    check_layer_widths,
    check_learning_rate,
    check_nonnegative,
    check_positive_integer,
    check_seed,
)
from pgm_control._progress import progress_bar
from pgm_control.rl.adversarial import discriminator_loss
from pgm_control.rl.networks import mlp, squashed_gaussian_log_prob
from pgm_control.rl.replay import Transitions
from pgm_control.rl.sac import SAC
from pgm_control.rl.soft_q import SoftQ, boltzmann_log_policy
from pgm_control.rl.training import OffPolicyAgent

DEEP_METHODS = ("airl", "gail")


def policy_log_prob(agent: OffPolicyAgent, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    r"""log π(a|s) ``[B]`` of the agent's current policy at given actions.

    SAC: a = c + h tanh(u) is inverted, u = atanh((a - c)/h) (clamped inside (-1, 1) by float32 ulps so
    that the boundary actions stay finite); SoftQ: log softmax(Q(s, ·)/α) at a."""
    with torch.no_grad():
        if isinstance(agent, SoftQ):
            q = agent.q(observations)
            return boltzmann_log_policy(q, agent.config.temperature).gather(-1, actions.long()[:, None]).squeeze(-1)
        policy = agent.policy
        mean, log_std = policy(observations)
        squashed = ((actions - policy.action_center) / policy.action_scale).clamp(-1 + 1e-6, 1 - 1e-6)
        return squashed_gaussian_log_prob(torch.atanh(squashed), mean, log_std, policy.action_scale)


def gradient_penalty(network: nn.Module, expert_inputs: torch.Tensor, policy_inputs: torch.Tensor,
                     mixing: torch.Tensor) -> torch.Tensor:
    r"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017) on GAIL's discriminator logit d(x), x = (s, a),
    as Kostrikov et al. 2019 ("Discriminator-Actor-Critic") use it:

        P = E_x̂ [(‖∇_x̂ d(x̂)‖₂ - 1)²],   x̂ = u x_E + (1 - u) x_π,   u ~ U(0, 1) per row

    where x_E, x_π ``[B, D]`` are expert and policy inputs (one-hot actions for Discrete) and ``mixing`` is u
    ``[B, 1]``. ``network`` maps ``[B, D]`` to logits ``[B]`` or ``[B, 1]``. The gradient keeps its graph
    (``create_graph``), so P is differentiable in the network's parameters. Returns a scalar.

    An unpenalized discriminator that separates expert from policy data grows its logits without bound
    (D → 1 on expert, 0 on policy data); bounding its slope between the two keeps the logits, and with them
    GAIL's reward -log(1 - D), graded along the way from the policy's data to the expert's."""
    mixed = (mixing * expert_inputs + (1.0 - mixing) * policy_inputs).requires_grad_(True)
    (grad,) = torch.autograd.grad(network(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(dim=-1) - 1.0) ** 2).mean()


class DeepAIRLDiscriminator(nn.Module):
    r"""g_ψ(s) (``state_only``) or g_ψ(s, a), and h_ψ(s), as MLPs; f_ψ = g + γ (1 - terminated) h(s') - h(s)."""

    def __init__(self, observation_dim: int, action_dim: int, discount: float, hidden, state_only: bool = True):
        super().__init__()
        self.discount, self.state_only = discount, state_only
        self.g = mlp(observation_dim + (0 if state_only else action_dim), 1, hidden)
        self.h = mlp(observation_dim, 1, hidden)

    def reward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """g_ψ ``[B]``: the learned reward."""
        inputs = observations if self.state_only else torch.cat([observations, actions], -1)
        return self.g(inputs).squeeze(-1)

    def f(self, batch: Transitions, actions: torch.Tensor) -> torch.Tensor:
        h, h_next = self.h(batch.observations).squeeze(-1), self.h(batch.next_observations).squeeze(-1)
        return self.reward(batch.observations, actions) + self.discount * (1.0 - batch.terminated) * h_next - h


class DeepGAILDiscriminator(nn.Module):
    r"""d_ψ(s, a) as an MLP; D = σ(d_ψ)."""

    def __init__(self, observation_dim: int, action_dim: int, hidden):
        super().__init__()
        self.d = mlp(observation_dim + action_dim, 1, hidden)

    def logits(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.d(torch.cat([observations, actions], -1)).squeeze(-1)


class AdversarialImitation:
    r"""AIRL (``method="airl"``) or GAIL (``"gail"``) around a deep off-policy agent.

    Args:
        agent: a :class:`~pgm_control.rl.SAC` or :class:`~pgm_control.rl.SoftQ` on the task's environment
            (its environment rewards are stored but never learned from: every batch is relabelled).
        expert: expert :class:`~pgm_control.rl.Transitions` (e.g. from :func:`expert_transitions`).
        method: ``"airl"`` or ``"gail"``.
        state_only: AIRL: g_ψ(s) (disentangled) or g_ψ(s, a).
        hidden: hidden widths of the discriminator's networks.
        lr: Adam's step size for ψ.
        batch_size: expert and policy transitions per discriminator step.
        discriminator_every, discriminator_steps: environment steps between discriminator rounds, and
            steps per round.
        seed: seeds the discriminator's initialization, its expert batches and the mixing weights u.
        gradient_penalty: λ ≥ 0 (GAIL only): the discriminator minimizes the cross-entropy plus λ P of
            :func:`gradient_penalty`; 0 (the default) leaves the plain GAN loss of the CS285 notes. P
            measures slopes in the observations' own units, so the best λ depends on them:
            Discriminator-Actor-Critic uses 10 on MuJoCo. On CartPole-v1 the demonstrations' cart position
            and pole angle have standard deviations of 0.012 and 0.0085, so a slope near 1 leaves the logit
            almost flat where the expert and the policy differ: λ = 10 fell back to 0.08 of the expert's
            normalized return on one seed of 3, λ = 1 reached 1.00 on each (benchmarks/README.md, "CartPole-v1").

    The agent's ``reward_relabel`` hook is set to :meth:`reward`, so every batch it learns from is relabelled.

    Example (a smoke run; the first round waits for a batch in the agent's buffer):
        >>> from pgm_control.rl import SAC, SACConfig
        >>> env = gymnasium.make("Pendulum-v1")
        >>> config = SACConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0)
        >>> expert = expert_transitions(SAC(env, config, seed=1), num_episodes=1)
        >>> trainer = AdversarialImitation(SAC(env, config), expert, batch_size=8, discriminator_every=25)
        >>> history = trainer.train(50, progress=False)
        >>> len(history["loss"]), trainer.agent.step
        (1, 50)
    """

    def __init__(self, agent: OffPolicyAgent, expert: Transitions, method: str = "airl", *,
                 state_only: bool = True, hidden=(64, 64), lr: float = 3e-4, batch_size: int = 256,
                 discriminator_every: int = 1000, discriminator_steps: int = 50, seed: int = 0,
                 gradient_penalty: float = 0.0):
        if not isinstance(agent, SAC | SoftQ):
            raise TypeError(f"agent must be a pgm_control.rl.SAC or SoftQ, got {type(agent).__name__}")
        if method not in DEEP_METHODS:
            raise ValueError(f"method must be one of {DEEP_METHODS}, got {method!r}")
        self.agent, self.method = agent, method
        self.expert = _check_expert(agent, expert)
        self.batch_size = check_positive_integer(batch_size, "batch_size")
        self.discriminator_every = check_positive_integer(discriminator_every, "discriminator_every")
        self.discriminator_steps = check_positive_integer(discriminator_steps, "discriminator_steps")
        self.gradient_penalty = check_nonnegative(gradient_penalty, "gradient_penalty", " (its weight λ)")
        if self.gradient_penalty > 0 and method != "gail":
            raise ValueError(f"gradient_penalty applies to GAIL's discriminator d_ψ(s, a); use method='gail' or "
                             f"gradient_penalty=0 with method={method!r}")
        hidden = check_layer_widths(hidden)
        self.num_actions = agent.num_actions if isinstance(agent, SoftQ) else None
        action_dim = self.num_actions or agent.action_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_seed(seed))
            self.discriminator = (
                DeepAIRLDiscriminator(agent.observation_dim, action_dim, agent.config.discount, hidden, state_only)
                if method == "airl" else DeepGAILDiscriminator(agent.observation_dim, action_dim, hidden))
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=check_learning_rate(lr))
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.history: dict[str, list[float]] = {"step": [], "loss": [], "expert_d": [], "policy_d": []}
        agent.reward_relabel = self.reward

    def _action_inputs(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as network inputs: one-hot for Discrete, as they are for Box."""
        return F.one_hot(actions.long(), self.num_actions).float() if self.num_actions else actions

    def logits(self, batch: Transitions) -> torch.Tensor:
        """logit D_ψ ``[B]``: f_ψ - log π(a|s) (AIRL) or d_ψ(s, a) (GAIL)."""
        actions = self._action_inputs(batch.actions)
        if self.method == "gail":
            return self.discriminator.logits(batch.observations, actions)
        return self.discriminator.f(batch, actions) - policy_log_prob(self.agent, batch.observations, batch.actions)

    def reward(self, batch: Transitions) -> torch.Tensor:
        """The policy's reward ``[B]``: f_ψ(s, a, s') (AIRL) or softplus(d_ψ(s, a)) (GAIL); no gradient."""
        with torch.no_grad():
            actions = self._action_inputs(batch.actions)
            if self.method == "gail":
                return F.softplus(self.discriminator.logits(batch.observations, actions))
            return self.discriminator.f(batch, actions)

    def learned_reward(self, observations, actions) -> torch.Tensor:
        """AIRL's g_ψ ``[B]`` (the reward to transfer); GAIL has none and raises."""
        if self.method != "airl":
            raise ValueError("GAIL's discriminator is not a reward; use method='airl' for a transferable reward")
        with torch.no_grad():
            return self.discriminator.reward(torch.as_tensor(observations, dtype=torch.float32),
                                             self._action_inputs(torch.as_tensor(actions)))

    def _expert_batch(self) -> Transitions:
        index = torch.randint(len(self.expert.rewards), (self.batch_size,), generator=self.generator)
        return Transitions(*(field[index] for field in self.expert))

    def _penalty(self, expert_batch: Transitions, policy_batch: Transitions) -> torch.Tensor:
        """:func:`gradient_penalty` of d_ψ between an expert and a policy batch."""
        expert_inputs, policy_inputs = (torch.cat([batch.observations, self._action_inputs(batch.actions)], -1)
                                        for batch in (expert_batch, policy_batch))
        mixing = torch.rand(self.batch_size, 1, generator=self.generator)
        return gradient_penalty(self.discriminator.d, expert_inputs, policy_inputs, mixing)

    def _discriminator_round(self) -> None:
        ones = torch.ones(self.batch_size)
        for _ in range(self.discriminator_steps):
            expert_batch, policy_batch = self._expert_batch(), self.agent.buffer.sample(self.batch_size)
            expert_logits, policy_logits = self.logits(expert_batch), self.logits(policy_batch)
            loss = discriminator_loss(expert_logits, policy_logits, ones, ones)
            if self.gradient_penalty > 0:
                loss = loss + self.gradient_penalty * self._penalty(expert_batch, policy_batch)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.history["step"].append(self.agent.step)
        self.history["loss"].append(float(loss.detach()))
        self.history["expert_d"].append(float(torch.sigmoid(expert_logits.detach()).mean()))
        self.history["policy_d"].append(float(torch.sigmoid(policy_logits.detach()).mean()))

    def train(self, num_steps: int, *, progress: bool = True) -> dict[str, list[float]]:
        """``num_steps`` environment steps of the agent, with a discriminator round before every
        ``discriminator_every`` of them (once the agent's buffer holds a batch). Returns ``self.history``
        (per round: environment step, loss, mean D on expert and on policy data)."""
        num_steps = check_positive_integer(num_steps, "num_steps")
        rounds = math.ceil(num_steps / self.discriminator_every)
        with progress_bar(rounds, progress, 0.0, f"{self.method} ({type(self.agent).__name__})") as bar:
            for k in range(rounds):
                if len(self.agent.buffer) >= self.batch_size:
                    self._discriminator_round()
                self.agent.train(min(self.discriminator_every, num_steps - k * self.discriminator_every),
                                 progress=False)
                bar.update()
        return self.history


def expert_transitions(agent: OffPolicyAgent, num_episodes: int, *, deterministic: bool = False,
                       seed: int = 0) -> Transitions:
    """Transitions of ``num_episodes`` episodes of a (trained) agent in its own environment, as
    :class:`~pgm_control.rl.Transitions` (rewards are the environment's, kept for reference)."""
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    env, generator = agent.evaluation_env(), torch.Generator().manual_seed(check_seed(seed))
    rows = []
    for episode in range(num_episodes):
        observation, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = agent.act(observation, deterministic=deterministic, generator=generator)
            next_observation, reward, terminated, truncated, _ = env.step(action)
            rows.append((observation, action, reward, next_observation, float(terminated)))
            observation, done = next_observation, terminated or truncated
    columns = list(zip(*rows))
    action_dtype = torch.long if isinstance(env.action_space, gymnasium.spaces.Discrete) else torch.float32
    return Transitions(torch.as_tensor(np.array(columns[0]), dtype=torch.float32),
                       torch.as_tensor(np.array(columns[1]), dtype=action_dtype),
                       torch.as_tensor(np.array(columns[2]), dtype=torch.float32),
                       torch.as_tensor(np.array(columns[3]), dtype=torch.float32),
                       torch.as_tensor(np.array(columns[4]), dtype=torch.float32))


def _check_expert(agent: OffPolicyAgent, expert) -> Transitions:
    if not isinstance(expert, Transitions):
        raise TypeError(f"expert must be pgm_control.rl.Transitions (e.g. from expert_transitions), got "
                        f"{type(expert).__name__}")
    if expert.observations.dim() != 2 or expert.observations.shape[1] != agent.observation_dim:
        raise ValueError(f"expert.observations must have shape [B, dim S] = [?, {agent.observation_dim}], got "
                         f"{list(expert.observations.shape)}")
    if bool(expert.terminated.any()):
        raise ValueError("expert transitions end episodes by termination: adversarial imitation here assumes "
                         "fixed-length episodes (variable lengths bias the discriminator); use a task without "
                         "termination or wrap it, e.g. pgm_control.envs.FixedHorizon(gymnasium.make('CartPole-v1'))")
    return expert
