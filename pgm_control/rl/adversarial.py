r"""Inverse RL as a GAN on tabular MDPs: GAN-GCL, AIRL and GAIL (CS285 notes, "Inverse RL as GAN").

A discriminator D tells expert data from the current policy's data; the policy is trained on a reward
read off D. The notes' optimal discriminator of a GAN is

    D*(x) = p*(x) / (p_θ(x) + p*(x)),   i.e.  logit D*(x) = log p*(x) - log p_θ(x)

and with the max-ent policy π_θ(τ) ∝ p(τ) exp(r_ψ(τ)) plugged in, the dynamics p(τ) cancel:

    D_ψ(τ) = (1/Z) exp(r_ψ(τ)) / (Π_t π(a_t|s_t) + (1/Z) exp(r_ψ(τ)))          GAN-GCL (trajectories)
    D_ψ(s, a, s') = exp(f_ψ(s, a, s')) / (exp(f_ψ(s, a, s')) + π(a|s))            AIRL (per step)
    f_ψ(s, a, s') = g_ψ(s, a) + γ h_ψ(s') - h_ψ(s)                                (g_ψ(s) state-only)
    D_ψ(s, a) = σ(d_ψ(s, a))                                                     GAIL (no reward inside)

Each is computed in log space, as a logit: r_ψ(τ) - log Z - Σ_t log π(a_t|s_t), f_ψ - log π(a|s),
d_ψ(s, a). ψ maximizes the GAN objective E_{p*}[log D] + E_{π}[log(1 - D)], i.e. minimizes the binary
cross-entropy with log D = -softplus(-logit) and log(1 - D) = -softplus(logit) (:func:`discriminator_loss`).

The policy step maximizes E_π[log D - log(1 - D)] = E_π[logit]: for GAN-GCL and AIRL this is the
max-ent objective E_π[Σ_t r_ψ(s_t, a_t) - log π(a_t|s_t)] (reward f_ψ for AIRL), whose optimum is the
soft-optimal policy (CS285 notes, "Soft Optimality") at temperature 1; GAIL trains it on
r(s, a) = -log(1 - D_ψ(s, a)) = softplus(d_ψ(s, a)) (Ho & Ermon 2016) with the same entropy bonus.

At the equilibrium π = π_E the optimal discriminator is D = 1/2 everywhere, so AIRL's f equals
log π_E(a|s), the expert's soft advantage (Q_E(s, a) - V_E(s) - log A in this library's convention,
where V carries the uniform action prior; see :mod:`pgm_control.inference.soft`). With deterministic
dynamics and a state-only g_ψ(s), g then recovers the true reward up to a constant and h_ψ the soft
value (Fu et al. 2018, "Learning Robust Rewards with Adversarial Inverse Reinforcement Learning"),
which is why AIRL's g transfers to new dynamics and GAIL's d_ψ (≈ 0 at equilibrium) does not.

By default the inner loop is exact: the soft-optimal policy of the current reward by soft value iteration
(the discounted, stationary fixed point at ``discount``), so the tabular runs are the referee for the
sample-based ones (``inner_steps`` swaps in tabular soft Q-learning from sampled transitions).
Episodes have a fixed length T: an episode that reaches an absorbing (terminal) state stays there until T.
Variable-length episodes bias AIRL and GAIL: the discriminator then also sees *when* episodes end, and a
reward of fixed sign rewards surviving (positive) or ending early (negative) whatever the demonstrations
(Kostrikov et al. 2019, "Discriminator-Actor-Critic"), so demonstrations shorter than T are refused unless
``allow_variable_length=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.functional import softplus

from pgm_control._checks import (
    DTYPE,
    check_discount,
    check_learning_rate,
    check_positive_integer,
    check_seed,
    shape_str,
)
from pgm_control._mdp_inputs import check_mdp, log_action_prior, read_policy
from pgm_control._progress import progress_bar
from pgm_control.demonstrations import Demonstrations
from pgm_control.inference.policies import soft_log_policy
from pgm_control.inference.soft import solve_soft
from pgm_control.mdp import TabularMDP
from pgm_control.rl.tabular import soft_q_learning
from pgm_control.sampling import sample_trajectories

METHODS = ("airl", "gail", "gan_gcl")


# ---------------------------------------------------------------------------------------- the math
def discriminator_loss(expert_logits: torch.Tensor, policy_logits: torch.Tensor, expert_weights: torch.Tensor,
                       policy_weights: torch.Tensor) -> torch.Tensor:
    r"""The GAN's binary cross-entropy, -E_{p*}[log D] - E_{π}[log(1 - D)], from logits:

        log D = -softplus(-logit),   log(1 - D) = -softplus(logit)

    Each expectation is a weighted mean with the weights of its data (any shape matching the logits;
    zero weights mask padding)."""
    for side, logits, weights in (("expert", expert_logits, expert_weights), ("policy", policy_logits, policy_weights)):
        if logits.shape != weights.shape:
            raise ValueError(f"{side}_weights must have the shape of {side}_logits {shape_str(logits.shape)}, "
                             f"got {shape_str(weights.shape)}")
    expert = (expert_weights * softplus(-expert_logits)).sum() / expert_weights.sum()
    policy = (policy_weights * softplus(policy_logits)).sum() / policy_weights.sum()
    return expert + policy


def airl_f(g: torch.Tensor, h: torch.Tensor, h_next: torch.Tensor, discount: float) -> torch.Tensor:
    r"""AIRL's f_ψ(s, a, s') = g_ψ(s, a) + γ h_ψ(s') - h_ψ(s) (all arguments broadcast alike)."""
    return g + discount * h_next - h


def optimal_logits(log_expert_density: torch.Tensor, log_policy_density: torch.Tensor) -> torch.Tensor:
    r"""The notes' optimal discriminator D*(x) = p*(x) / (p_θ(x) + p*(x)) as a logit, log p*(x) - log p_θ(x)."""
    return log_expert_density - log_policy_density


def occupancy(mdp: TabularMDP, policy: torch.Tensor, horizon: int) -> torch.Tensor:
    r"""ρ(s, a) = (1/T) Σ_{t=1}^{T} p(s_t = s, a_t = a) under a stationary π ``[S, A]`` from s_1 ~
    ``mdp.initial``: the distribution of the steps of fixed-length episodes, ``[S, A]`` (sums to 1)."""
    state = mdp.initial
    total = torch.zeros_like(policy)
    for _ in range(horizon):
        step = state[:, None] * policy
        total = total + step
        state = mdp.log_push_forward(torch.log(step)).exp()
    return total / horizon


# ---------------------------------------------------------------------------------------- data
class StepBatch(NamedTuple):
    """Weighted episodes: ``states`` ``[N, T+1]``, ``actions`` ``[N, T]``, ``weights`` ``[N, T]`` (a
    step's weight; 0 on padding). The exact occupancy of a policy is the batch of all (s, a, s')
    triples as one-step episodes weighted by ρ(s, a) p(s'|s, a)."""

    states: torch.Tensor
    actions: torch.Tensor
    weights: torch.Tensor


def demonstration_batch(demonstrations: Demonstrations) -> StepBatch:
    """Every demonstrated step with weight 1 (padding 0)."""
    return StepBatch(demonstrations.states, demonstrations.actions, demonstrations.mask.to(DTYPE))


def occupancy_batch(mdp: TabularMDP, policy: torch.Tensor, horizon: int) -> StepBatch:
    """The exact (s, a, s') distribution of fixed-length episodes under π, as one-step episodes."""
    weights = occupancy(mdp, policy, horizon)[:, :, None] * mdp.transitions  # [S, A, S']
    s, a, s_next = (weights > 0).nonzero(as_tuple=True)
    return StepBatch(torch.stack([s, s_next], 1), a[:, None], weights[s, a, s_next][:, None])


# ---------------------------------------------------------------------------------------- discriminators
class AIRLDiscriminator(nn.Module):
    r"""Tables g_ψ (``[S]`` state-only, or ``[S, A]``) and h_ψ ``[S]`` (zeros at the start).

    logit = f_ψ(s, a, s') - log π(a|s); the learned reward is g_ψ, the policy's reward
    E_{s'}[f_ψ(s, a, s')] = g_ψ(s, a) + γ E_{s'}[h_ψ(s')] - h_ψ(s)."""

    per_step = True

    def __init__(self, num_states: int, num_actions: int, discount: float, state_only: bool = True):
        super().__init__()
        self.discount, self.num_actions = discount, num_actions
        self.g = nn.Parameter(torch.zeros(num_states if state_only else (num_states, num_actions), dtype=DTYPE))
        self.h = nn.Parameter(torch.zeros(num_states, dtype=DTYPE))

    def reward(self) -> torch.Tensor:
        """g_ψ(s, a) ``[S, A]`` (a state-only g broadcast over actions)."""
        return self.g[:, None].expand(-1, self.num_actions) if self.g.dim() == 1 else self.g

    def f(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """f_ψ at each step of episodes ``[N, T+1]``, ``[N, T]`` -> ``[N, T]``."""
        s, s_next = states[:, :-1], states[:, 1:]
        return airl_f(self.reward()[s, actions], self.h[s], self.h[s_next], self.discount)

    def logits(self, states, actions, log_policy: torch.Tensor) -> torch.Tensor:
        return self.f(states, actions) - log_policy[states[:, :-1], actions]

    def policy_reward(self, mdp: TabularMDP) -> torch.Tensor:
        return self.reward() + self.discount * mdp.expected_next(self.h) - self.h[:, None]


class GAILDiscriminator(nn.Module):
    r"""A table of logits d_ψ(s, a) ``[S, A]``; D = σ(d_ψ) does not involve π, and its policy reward
    softplus(d_ψ) = -log(1 - D) is a training signal, not a reward of the task."""

    per_step = True

    def __init__(self, num_states: int, num_actions: int):
        super().__init__()
        self.d = nn.Parameter(torch.zeros(num_states, num_actions, dtype=DTYPE))

    def reward(self) -> torch.Tensor:
        """-log(1 - D_ψ(s, a)) ``[S, A]``."""
        return softplus(self.d)

    def logits(self, states, actions, log_policy: torch.Tensor) -> torch.Tensor:
        return self.d[states[:, :-1], actions]

    def policy_reward(self, mdp: TabularMDP) -> torch.Tensor:
        return self.reward()


class GANGCLDiscriminator(nn.Module):
    r"""A reward table r_ψ(s, a) ``[S, A]`` and log Z; one logit per episode,
    r_ψ(τ) - log Z - Σ_t log π(a_t|s_t) (the dynamics cancel)."""

    per_step = False

    def __init__(self, num_states: int, num_actions: int):
        super().__init__()
        self.r = nn.Parameter(torch.zeros(num_states, num_actions, dtype=DTYPE))
        self.log_z = nn.Parameter(torch.zeros((), dtype=DTYPE))

    def reward(self) -> torch.Tensor:
        return self.r

    def logits(self, states, actions, log_policy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = states[:, :-1]
        return ((self.r[s, actions] - log_policy[s, actions]) * mask).sum(-1) - self.log_z

    def policy_reward(self, mdp: TabularMDP) -> torch.Tensor:
        return self.r


# ---------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class AdversarialIRLResult:
    r"""What :func:`airl`, :func:`gail` and :func:`gan_gcl` return.

    Attributes:
        method: ``"airl"``, ``"gail"`` or ``"gan_gcl"``.
        reward: the learned reward ``[S, A]``: AIRL's g_ψ, GAN-GCL's r_ψ; for GAIL softplus(d_ψ), the
            policy's training signal (not a reward that transfers).
        log_policy: log π(a|s) ``[S, A]``, the soft-optimal policy of the last policy reward.
        discriminator: the trained discriminator module (AIRL's ``.g``, ``.h``; GAIL's ``.d``;
            GAN-GCL's ``.r``, ``.log_z``).
        history: per iteration, ``"loss"`` (the cross-entropy after the discriminator steps),
            ``"expert_d"`` and ``"policy_d"`` (mean D on expert and policy data: both tend to 1/2).
    """

    method: str
    reward: torch.Tensor
    log_policy: torch.Tensor
    discriminator: nn.Module
    history: dict = field(default_factory=dict)

    @property
    def policy(self) -> torch.Tensor:
        """π(a|s) ``[S, A]``."""
        return self.log_policy.exp()


# ---------------------------------------------------------------------------------------- drivers
def airl(mdp: TabularMDP, expert, *, state_only: bool = True, **options) -> AdversarialIRLResult:
    r"""Adversarial inverse RL (Fu et al. 2018): D = exp(f_ψ) / (exp(f_ψ) + π(a|s)) with
    f_ψ(s, a, s') = g_ψ(s) + γ h_ψ(s') - h_ψ(s) (``state_only=True``, the disentangled reward) or
    g_ψ(s, a). The learned reward is g_ψ. Arguments and options as in :func:`adversarial_irl`.

    Example:
        >>> import torch
        >>> from pgm_control import TabularMDP
        >>> moves = torch.eye(2, dtype=torch.float64).expand(2, 2, 2)   # action a moves to state a
        >>> mdp = TabularMDP(moves, [[0.0, 0.0], [1.0, 1.0]], initial=[1.0, 0.0])
        >>> expert = torch.tensor([[0.27, 0.73], [0.27, 0.73]], dtype=torch.float64)
        >>> result = airl(mdp, expert, horizon=5, discount=0.5, num_iterations=30, progress=False)
        >>> bool(result.reward[1, 0] > result.reward[0, 0])        # state 1 is the rewarding one
        True
    """
    return adversarial_irl(mdp, expert, "airl", state_only=state_only, **options)


def gail(mdp: TabularMDP, expert, **options) -> AdversarialIRLResult:
    r"""Generative adversarial imitation learning (Ho & Ermon 2016): D(s, a) = σ(d_ψ(s, a)), the policy
    trained on softplus(d_ψ) = -log(1 - D). Its discriminator tends to D = 1/2 at equilibrium and is no
    reward. Arguments as in :func:`adversarial_irl`."""
    return adversarial_irl(mdp, expert, "gail", **options)


def gan_gcl(mdp: TabularMDP, expert, **options) -> AdversarialIRLResult:
    r"""Guided cost learning as a GAN (Finn et al. 2016; CS285 notes, "Inverse RL as GAN"): the trajectory
    discriminator D_ψ(τ) = (1/Z) exp(r_ψ(τ)) / (Π_t π(a_t|s_t) + (1/Z) exp(r_ψ(τ))). It needs episodes,
    so ``policy_samples`` (episodes per iteration) is required and ``expert`` must be
    :class:`~pgm_control.Demonstrations`. Arguments as in :func:`adversarial_irl`."""
    return adversarial_irl(mdp, expert, "gan_gcl", **options)


def adversarial_irl(mdp: TabularMDP, expert, method: str, *, horizon: int | None = None, discount: float = 0.9,
                    num_iterations: int = 150, discriminator_steps: int = 10, lr: float = 0.1,
                    policy_samples: int | None = None, inner_steps: int | None = None, state_only: bool = True,
                    allow_variable_length: bool = False, seed: int = 0,
                    progress: bool | None = None) -> AdversarialIRLResult:
    r"""The shared adversarial loop of :func:`airl`, :func:`gail` and :func:`gan_gcl`:

        for k = 1..num_iterations:
            π_k = soft-optimal policy of the policy reward of D_ψ (temperature 1): exact soft value
                  iteration, or inner_steps of tabular soft Q-learning from sampled transitions
            policy data ~ π_k (exact occupancy, or policy_samples sampled episodes of length T)
            discriminator_steps Adam steps on ψ: minimize -E_expert[log D_ψ] - E_{π_k}[log(1 - D_ψ)]

    Args:
        mdp: the :class:`TabularMDP` (its dynamics drive the exact inner loop and the policy's episodes;
            its rewards are not read).
        expert: :class:`~pgm_control.Demonstrations` (episodes of length T), or an expert policy
            π_E(a|s) ``[S, A]`` whose exact occupancy over episodes of length ``horizon`` stands for
            infinitely many demonstrations (the referee setting).
        method: ``"airl"``, ``"gail"`` or ``"gan_gcl"``.
        horizon: T, the episode length (default: the demonstrations' T; required with a policy).
        discount: γ < 1 of the inner loop's soft values and of AIRL's shaping γ h(s').
        num_iterations, discriminator_steps: outer iterations, and discriminator steps per iteration.
        lr: Adam's initial step size for ψ, decayed linearly to 0 over the iterations: with a constant
            step the game circles its equilibrium (9-state grid, γ = 0.9, lr 0.05: max |f - log π_E| was
            0.015 after 200 iterations and 0.09 after 500); with the decay it settles (γ = 0.5: 3e-9).
        policy_samples: episodes sampled from π_k per iteration, or None for its exact occupancy.
        inner_steps: None for the exact inner loop, or the environment steps of
            :func:`~pgm_control.rl.soft_q_learning` (from Q = 0, episodes of length T) on the current
            policy reward, which is tabular: AIRL's E_{s'}[f_ψ(s, a, s')], read with the dynamics.
        state_only: AIRL only: g_ψ(s) (disentangled) or g_ψ(s, a).
        allow_variable_length: accept demonstrations shorter than T (biased; see the module docstring).
        seed: seeds the sampled episodes and the soft Q-learning runs.
        progress: a tqdm bar over the iterations (None: only for long runs).

    Returns:
        :class:`AdversarialIRLResult`.
    """
    check_mdp(mdp)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    discount = check_discount(discount)
    if discount >= 1.0:
        raise ValueError(f"discount must be < 1 (the inner loop's soft values are discounted), got {discount}")
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    discriminator_steps = check_positive_integer(discriminator_steps, "discriminator_steps")
    lr = check_learning_rate(lr)
    if policy_samples is not None:
        policy_samples = check_positive_integer(policy_samples, "policy_samples")
    if inner_steps is not None:
        inner_steps = check_positive_integer(inner_steps, "inner_steps")
    generator = torch.Generator().manual_seed(check_seed(seed))
    horizon, expert_batch = _expert_batch(mdp, expert, horizon, allow_variable_length)
    if method == "gan_gcl" and (policy_samples is None or not isinstance(expert, Demonstrations)):
        raise ValueError("gan_gcl compares whole episodes: pass Demonstrations as expert and policy_samples=N "
                         "(episodes sampled per iteration)")
    discriminator = _make_discriminator(method, mdp, discount, state_only)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0 - k / num_iterations)
    inner = mdp.replace(discount=discount)
    log_prior = log_action_prior(mdp, None)
    history = {"loss": [], "expert_d": [], "policy_d": []}
    with progress_bar(num_iterations, progress, num_iterations * discriminator_steps * mdp.num_states ** 2,
                      f"{method}") as bar:
        for k in range(num_iterations):
            reward = discriminator.policy_reward(mdp).detach()
            log_policy = (_soft_optimal(inner, reward, log_prior) if inner_steps is None
                          else _soft_q_learned(inner, reward, inner_steps, horizon, seed + k))
            policy_batch = _policy_batch(mdp, log_policy, horizon, policy_samples, generator)
            for _ in range(discriminator_steps):
                optimizer.zero_grad()
                loss, expert_d, policy_d = _discriminator_step(discriminator, expert_batch, policy_batch, log_policy)
                loss.backward()
                optimizer.step()
            for name, value in zip(history, (loss, expert_d, policy_d)):
                history[name].append(float(value.detach()))
            schedule.step()
            bar.update()
    log_policy = _soft_optimal(inner, discriminator.policy_reward(mdp).detach(), log_prior)
    return AdversarialIRLResult(method=method, reward=discriminator.reward().detach(), log_policy=log_policy,
                                discriminator=discriminator, history=history)


def _expert_batch(mdp: TabularMDP, expert, horizon, allow_variable_length: bool) -> tuple[int, StepBatch]:
    if isinstance(expert, Demonstrations):
        horizon = expert.validate(mdp, horizon)
        if not allow_variable_length and bool((expert.lengths < horizon).any()):
            short = (expert.lengths < horizon).nonzero().squeeze(-1).tolist()
            raise ValueError(
                f"demonstrations {short[:10]} are shorter than T = {horizon}: adversarial IRL assumes fixed-length "
                "episodes (variable lengths bias the discriminator); continue each episode in its absorbing "
                "state up to T, or pass allow_variable_length=True")
        return horizon, demonstration_batch(expert)
    if horizon is None:
        raise ValueError("horizon is required when expert is a policy: pass the episode length T")
    horizon = check_positive_integer(horizon, "horizon")
    policy = read_policy(mdp, expert, None)
    return horizon, occupancy_batch(mdp, policy, horizon)


def _make_discriminator(method: str, mdp: TabularMDP, discount: float, state_only: bool) -> nn.Module:
    S, A = mdp.num_states, mdp.num_actions
    if method == "airl":
        return AIRLDiscriminator(S, A, discount, state_only)
    if method == "gail":
        return GAILDiscriminator(S, A)
    return GANGCLDiscriminator(S, A)


def _soft_optimal(inner: TabularMDP, reward: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """log π(a|s) ``[S, A]`` of the discounted soft-optimal policy of `reward` (temperature 1)."""
    solution = solve_soft(inner.with_rewards(reward), None, 1.0, "expected", log_prior, uniform_prior=True)
    return solution.log_policy


def _soft_q_learned(inner: TabularMDP, reward: torch.Tensor, num_steps: int, horizon: int, seed: int) -> torch.Tensor:
    """log π(a|s) ``[S, A]`` of tabular soft Q-learning (temperature 1) on episodes of length T."""
    learned = soft_q_learning(inner.with_rewards(reward), num_steps, temperature=1.0, discount=inner.discount,
                              horizon=horizon, seed=seed, progress=False)
    return soft_log_policy(learned.q, learned.log_prior, 1.0)


def _policy_batch(mdp: TabularMDP, log_policy: torch.Tensor, horizon: int, policy_samples: int | None,
                  generator: torch.Generator) -> StepBatch:
    policy = log_policy.exp()
    if policy_samples is None:
        return occupancy_batch(mdp, policy, horizon)
    episodes = sample_trajectories(mdp, policy / policy.sum(-1, keepdim=True), horizon, policy_samples, generator)
    return StepBatch(episodes.states, episodes.actions, torch.ones(episodes.actions.shape, dtype=DTYPE))


def _discriminator_step(discriminator: nn.Module, expert: StepBatch, policy: StepBatch, log_policy: torch.Tensor):
    """The loss on both batches, and the mean D on each (weighted like the loss)."""
    if discriminator.per_step:
        expert_logits = discriminator.logits(expert.states, expert.actions, log_policy)
        policy_logits = discriminator.logits(policy.states, policy.actions, log_policy)
        expert_weights, policy_weights = expert.weights, policy.weights
    else:  # one logit per episode, each episode weighted 1
        expert_logits = discriminator.logits(expert.states, expert.actions, log_policy, expert.weights)
        policy_logits = discriminator.logits(policy.states, policy.actions, log_policy, policy.weights)
        expert_weights, policy_weights = torch.ones_like(expert_logits), torch.ones_like(policy_logits)
    loss = discriminator_loss(expert_logits, policy_logits, expert_weights, policy_weights)
    with torch.no_grad():
        expert_d = (expert_weights * torch.sigmoid(expert_logits)).sum() / expert_weights.sum()
        policy_d = (policy_weights * torch.sigmoid(policy_logits)).sum() / policy_weights.sum()
    return loss, expert_d, policy_d

