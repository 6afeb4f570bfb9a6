r"""Sample-based MaxEnt IRL when the dynamics are only sampled (CS285 notes, "Unknown Dynamics"; guided
cost learning, Finn et al. 2016).

:func:`~pgm_control.inference.maxent_irl` computes the expected feature counts of p(τ | O_{1:T}, ψ) with
messages through p(s'|s, a). Without the transition table, a max-entropy policy π learned on the
current r_ψ is run in the environment and the second term of the gradient is estimated from its
samples τ_j, j = 1..M (the notes' second form, self-normalized importance sampling):

    ∇_ψ L ≈ (1/N) Σ_i ∇_ψ r_ψ(τ_i) - (1/Σ_j w_j) Σ_j w_j ∇_ψ r_ψ(τ_j)
    w_j   = p(τ_j) exp(r_ψ(τ_j)) / π(τ_j) = exp(Σ_t r_ψ(s_t, a_t)) Π_t p(a_t|s_t) / Π_t π(a_t|s_t)

(the dynamics cancel in the ratio; p(a|s) is the action prior, uniform 1/A). ``weighting="none"`` is
the notes' first form, w_j = 1: exact only when π is already the soft-optimal policy of r_ψ. The
weights' effective sample size ESS = (Σ_j w_j)² / Σ_j w_j² (between 1 and M) says how many policy
samples the estimate is worth.

Which likelihood: the weighted form estimates the gradient of the notes' trajectory-level likelihood,
p(τ | O_{1:T}, ψ) ∝ p(τ) exp(r_ψ(τ)), i.e. ``maxent_irl(..., variant="trajectory")``, whatever the
proposal π. Under deterministic dynamics that is also ``variant="causal"`` (the default there). Under
stochastic dynamics the two differ: the unweighted form with a learner at the causal soft optimum
(REINFORCE with entropy, soft Q-learning, :class:`ExactSoftPolicyLearner`) follows the causal gradient
instead (the demonstrated minus the causal policy's feature counts).

Like ``maxent_irl``, the likelihood conditions on each demonstration's start state s_1: the weights are
self-normalized among the samples that start where the demonstrations start, and the start states are
averaged with the demonstrations' frequencies ρ̂(s_1). (Normalizing over all samples at once would
estimate the tilted p(s_1) exp(V_1(s_1)), i.e. let the demonstrator choose where to start.)

With vector (``Box``) observations the same estimator runs on a reward module r_ψ(o, a) and the episodes
of an agent (:class:`AgentPolicyLearner`), log π(τ) = Σ_t log π(a_t|o_t) from the agent's own policy and
p(a) uniform on the action space; start states cannot be matched there, so the weights are normalized
over all samples at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import gymnasium
import numpy as np
import torch

from pgm_control._checks import DTYPE, check_horizon, check_learning_rate, check_positive_integer, check_seed
from pgm_control._mdp_inputs import check_mdp
from pgm_control._progress import progress_bar
from pgm_control.demonstrations import Demonstrations
from pgm_control.mdp import TabularMDP
from pgm_control.models.irl import check_demonstrations, check_variant, soft_solution
from pgm_control.models.rewards import LinearReward, NeuralReward

WEIGHTINGS = ("importance", "none")


# ---------------------------------------------------------------------------------------- samples
@dataclass(frozen=True, eq=False)
class PolicySamples:
    r"""M fixed-length episodes of a policy π, with what the importance weights need.

    Attributes:
        states: s_1..s_{T+1} ``[M, T+1]`` (long).
        actions: a_1..a_T ``[M, T]`` (long).
        mask: ``[M, T]`` bool, step t pays r(s_t, a_t) (False once the episode has entered a terminal
            state, which is absorbing and pays 0; the episode still has T steps there, as in
            :func:`pgm_control.sample_trajectories`).
        log_prob: log π(τ) = Σ_t log π_t(a_t|s_t) ``[M]`` over all T steps (float64).
        log_prior: log p(τ) = Σ_t log p(a_t|s_t) of the uniform action prior ``[M]``, = -T log A.
    """

    states: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor
    log_prob: torch.Tensor
    log_prior: torch.Tensor

    @property
    def num_samples(self) -> int:
        """M."""
        return self.actions.shape[0]


def rollout(env: gymnasium.Env, log_policy: torch.Tensor, num: int, rng: np.random.Generator,
            seed: int | None = None) -> PolicySamples:
    r"""Run ``num`` episodes of T steps of π in a ``gymnasium.Env`` with ``Discrete`` spaces.

    a_t ~ π_t(·|s_t), s_{t+1} from ``env.step``; an episode that terminates stays in its terminal state
    for the remaining steps (actions still drawn from π, reward masked), so every episode has T steps.

    Args:
        env: the environment (only ``reset`` and ``step`` are used: the dynamics stay hidden).
        log_policy: log π_t(a|s) ``[T, S, A]`` (time-indexed: T steps per episode); no gradient is kept.
        num: M.
        rng: the NumPy generator of the action draws.
        seed: passed to the first ``env.reset`` (None: continue the environment's own stream).
    """
    log_policy = log_policy.detach()
    horizon = log_policy.shape[0]
    cdf = np.cumsum(log_policy.exp().numpy(), axis=-1)
    draws = rng.random((num, horizon))
    states = np.zeros((num, horizon + 1), dtype=np.int64)
    actions = np.zeros((num, horizon), dtype=np.int64)
    mask = np.zeros((num, horizon), dtype=bool)
    for i in range(num):
        s, _ = env.reset(seed=seed if i == 0 else None)
        states[i, 0] = s = int(s)
        alive = True
        for t in range(horizon):
            a = min(int(np.searchsorted(cdf[t, s], draws[i, t] * cdf[t, s, -1], side="right")), cdf.shape[-1] - 1)
            actions[i, t], mask[i, t] = a, alive
            if alive:
                s_next, _, terminated, _, _ = env.step(a)
                s, alive = int(s_next), not terminated
            states[i, t + 1] = s
    states, actions = torch.from_numpy(states), torch.from_numpy(actions)
    time = torch.arange(horizon)
    log_prob = log_policy[time, states[:, :-1], actions].sum(-1)
    log_prior = torch.full((num,), -horizon * math.log(log_policy.shape[-1]), dtype=DTYPE)
    return PolicySamples(states, actions, torch.from_numpy(mask), log_prob, log_prior)


def trajectory_rewards(reward_table: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
    r"""r_ψ(τ) = Σ_t mask_t r_ψ(s_t, a_t) for reward ``[S, A]``, states ``[N, T+1]``, actions and mask
    ``[N, T]`` -> ``[N]`` (differentiable in the reward)."""
    return (reward_table[states[:, :-1], actions] * mask).sum(-1)


@dataclass(frozen=True, eq=False)
class ObservationTrajectories:
    r"""N fixed-length episodes with vector observations: demonstrations for :func:`sample_based_irl` on an
    env with ``Box`` observations, and the policy samples it draws there.

    Attributes:
        observations: o_1..o_{T+1} ``[N, T+1, d]`` (float).
        actions: a_1..a_T ``[N, T, k]`` (``Box`` actions, float) or ``[N, T]`` (``Discrete``, long).
        mask: ``[N, T]`` bool, step t pays r(o_t, a_t) (None: all steps, no episode terminates early).
        log_prob: log π(τ) ``[N]`` of the policy that drew them (policy samples only).
        log_prior: log p(τ) = Σ_t log p(a_t) ``[N]`` of the uniform action prior (policy samples only).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor | None = None
    log_prob: torch.Tensor | None = None
    log_prior: torch.Tensor | None = None

    @property
    def horizon(self) -> int:
        """T."""
        return self.actions.shape[1]


def rollout_agent(env: gymnasium.Env, learner, num: int, horizon: int,
                  seed: int | None = None) -> ObservationTrajectories:
    r"""Run ``num`` episodes of T steps of an :class:`AgentPolicyLearner`'s policy, a_t ~ π(·|o_t) by
    ``learner.act``, in a ``gymnasium.Env``; an episode that terminates stays at its last observation for
    the remaining steps (actions still drawn, reward masked). log π(τ) = Σ_t learner.log_prob(o_t, a_t);
    log p(τ) = -T Σ_k log(high_k - low_k) for ``Box`` actions, -T log A for ``Discrete(A)``.
    """
    observations, actions, mask = [], [], np.zeros((num, horizon), dtype=bool)
    for i in range(num):
        observation, _ = env.reset(seed=seed if i == 0 else None)
        episode, episode_actions, alive = [observation], [], True
        for t in range(horizon):
            action = learner.act(observation)
            mask[i, t] = alive
            if alive:
                observation, _, terminated, _, _ = env.step(action)
                alive = not terminated
            episode.append(observation)
            episode_actions.append(action)
        observations.append(np.stack(episode))
        actions.append(np.stack(episode_actions))
    observations = torch.as_tensor(np.stack(observations), dtype=torch.float32)
    discrete = isinstance(env.action_space, gymnasium.spaces.Discrete)
    actions = torch.as_tensor(np.stack(actions), dtype=torch.long if discrete else torch.float32)
    flat_actions = actions.reshape(num * horizon, *actions.shape[2:])
    log_prob = learner.log_prob(observations[:, :-1].reshape(num * horizon, -1), flat_actions)
    log_prob = log_prob.to(DTYPE).reshape(num, horizon).sum(-1)
    space = env.action_space
    step_log_prior = (-math.log(space.n) if discrete
                      else -float(np.log(space.high.astype(np.float64) - space.low.astype(np.float64)).sum()))
    return ObservationTrajectories(observations, actions, torch.from_numpy(mask), log_prob,
                                   torch.full((num,), horizon * step_log_prior, dtype=DTYPE))


def observation_trajectory_rewards(reward, trajectories: ObservationTrajectories) -> torch.Tensor:
    r"""r_ψ(τ) = Σ_t mask_t r_ψ(o_t, a_t) ``[N]`` for a reward module ``(observations, actions) -> [...]``
    (differentiable in ψ)."""
    rewards = reward(trajectories.observations[:, :-1], trajectories.actions).to(DTYPE)
    return rewards.sum(-1) if trajectories.mask is None else (rewards * trajectories.mask).sum(-1)


# ---------------------------------------------------------------------------------------- the estimator
@dataclass(frozen=True, eq=False)
class SampleIRLObjective:
    r"""What :func:`sample_irl_objective` returns: ``value`` (a scalar whose gradient is the estimate of
    ∇_ψ L), the self-normalized ``weights`` ``[M]`` (summing to 1) and their ``ess`` (Σ w)² / Σ w²."""

    value: torch.Tensor
    weights: torch.Tensor
    ess: float


def sample_irl_objective(demo_rewards: torch.Tensor, sample_rewards: torch.Tensor, sample_log_probs: torch.Tensor,
                         *, weighting: str = "importance", sample_log_priors: torch.Tensor | None = None,
                         demo_starts: torch.Tensor | None = None,
                         sample_starts: torch.Tensor | None = None) -> SampleIRLObjective:
    r"""The MaxEnt IRL objective estimated from policy samples; its gradient is the guided cost learning
    estimator (module docstring):

        L̂(ψ) = (1/N) Σ_i r_ψ(τ_i) - Σ_{s_1} ρ̂(s_1) log (1/M_{s_1}) Σ_{j: s_{j,1} = s_1} w_j
        ∇L̂   = (1/N) Σ_i ∇r_ψ(τ_i) - Σ_{s_1} ρ̂(s_1) Σ_{j: s_{j,1} = s_1} w̄_j ∇r_ψ(τ_j),  w̄ = w / Σ w

    (log w_j = r_ψ(τ_j) + log p(τ_j) - log π(τ_j), so ∇ log Σ_j w_j = Σ_j w̄_j ∇r_ψ(τ_j)). L̂ estimates the
    log-likelihood (1/N) Σ_i log p(τ_i | s_{i,1}, O, ψ) up to a ψ-free constant. With
    ``weighting="none"``, w̄_j = 1/M_{s_1} and L̂ is only a surrogate (its gradient is the notes' first
    form).

    Args:
        demo_rewards: r_ψ(τ_i) ``[N]`` (carrying the gradient; :func:`trajectory_rewards`).
        sample_rewards: r_ψ(τ_j) ``[M]`` of the policy samples (carrying the gradient).
        sample_log_probs: log π(τ_j) ``[M]`` (held constant).
        weighting: ``"importance"`` or ``"none"``.
        sample_log_priors: log p(τ_j) = Σ_t log p(a_t|s_t) ``[M]`` (None: 0, fine for a uniform prior
            over fixed-length episodes, where it is one constant that self-normalization cancels).
        demo_starts, sample_starts: start states ``[N]`` and ``[M]`` (None for both: one group, the
            notes' formula); every demonstrated start needs at least one sample starting there.

    Returns:
        :class:`SampleIRLObjective`.

    Example:
        >>> rewards = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
        >>> log_probs = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
        >>> objective = sample_irl_objective(torch.tensor([1.0], dtype=torch.float64), rewards, log_probs)
        >>> # w ∝ (1, e), ESS = (1 + e)² / (1 + e²)
        >>> [round(w, 4) for w in objective.weights.tolist()], round(objective.ess, 4)
        ([0.2689, 0.7311], 1.6481)
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    demo_rewards = _vector(demo_rewards, "demo_rewards")
    sample_rewards = _vector(sample_rewards, "sample_rewards")
    M = sample_rewards.shape[0]
    sample_log_probs = _vector(sample_log_probs, "sample_log_probs", M).detach()
    log_priors = torch.zeros_like(sample_log_probs) if sample_log_priors is None else _vector(
        sample_log_priors, "sample_log_priors", M).detach()
    demo_groups, sample_groups = _start_groups(demo_starts, sample_starts, demo_rewards.shape[0], M)
    G = int(demo_groups.max()) + 1  # samples of group G start where no demonstration does: weight 0
    start_mass = torch.bincount(demo_groups, minlength=G + 1).to(DTYPE) / demo_groups.numel()  # ρ̂(s_1)
    if weighting == "importance":
        log_w = sample_rewards + log_priors - sample_log_probs
    else:
        log_w = torch.zeros_like(sample_rewards)
    log_mean = _group_log_mean_exp(log_w, sample_groups, G + 1)  # log (1/M_g) Σ_{j in g} w_j
    counts = torch.bincount(sample_groups, minlength=G + 1).to(DTYPE)
    weights = (start_mass[sample_groups] * (log_w - log_mean[sample_groups]).exp() / counts[sample_groups]).detach()
    if weighting == "importance":
        value = demo_rewards.mean() - (start_mass[:G] * log_mean[:G]).sum()
    else:
        value = demo_rewards.mean() - (weights * sample_rewards).sum()
    return SampleIRLObjective(value=value, weights=weights, ess=effective_sample_size(weights))


def effective_sample_size(weights: torch.Tensor) -> float:
    r"""ESS = (Σ_j w_j)² / Σ_j w_j² of importance weights ``[M]`` (M for equal weights, 1 for one)."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def _vector(value, name: str, length: int | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() != 1:
        raise TypeError(f"{name} must be a 1-D float tensor [{'N' if length is None else length}], got {value!r:.60}")
    if value.numel() == 0 or (length is not None and value.shape[0] != length):
        raise ValueError(f"{name} must have shape [{'N >= 1' if length is None else length}], got "
                         f"[{value.shape[0]}]")
    if not torch.isfinite(value.detach()).all():
        raise ValueError(f"{name} must be finite, got {value.detach()[~torch.isfinite(value.detach())][:3].tolist()}")
    return value.to(DTYPE)


def _start_groups(demo_starts, sample_starts, N: int, M: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group indices ``[N]``, ``[M]`` numbering the demonstrated start states 0..G-1."""
    if (demo_starts is None) != (sample_starts is None):
        raise ValueError("pass both demo_starts and sample_starts (grouping by start state), or neither")
    if demo_starts is None:
        return torch.zeros(N, dtype=torch.long), torch.zeros(M, dtype=torch.long)
    for name, starts, size in (("demo_starts", demo_starts, N), ("sample_starts", sample_starts, M)):
        if not isinstance(starts, torch.Tensor) or starts.dtype != torch.long or starts.shape != (size,):
            raise TypeError(f"{name} must be a long tensor of start states [{size}], got {starts!r:.60}")
    demonstrated, demo_groups = torch.unique(demo_starts, return_inverse=True)
    match = sample_starts[:, None] == demonstrated  # [M, G]
    missing = ~match.any(0)
    if missing.any():
        raise ValueError(f"no policy sample starts in state {int(demonstrated[missing][0])}, where a demonstration "
                         "starts: draw more samples (num_samples of sample_based_irl), or pass no starts to "
                         "normalize over all samples at once")
    in_group = match.any(1)  # samples from starts that no demonstration has carry no weight
    sample_groups = torch.where(in_group, match.to(torch.long).argmax(1), demonstrated.numel())
    return demo_groups, sample_groups


def _group_log_mean_exp(values: torch.Tensor, groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """log (1/M_g) Σ_{j in g} exp(values_j) ``[num_groups]`` for group indices ``groups`` ``[M]``; an empty
    group gives -inf."""
    top = torch.full((num_groups,), -torch.inf, dtype=DTYPE).scatter_reduce(0, groups, values.detach(), "amax")
    top = torch.where(torch.isfinite(top), top, 0.0)
    sums = torch.zeros(num_groups, dtype=DTYPE).index_add(0, groups, (values - top[groups]).exp())
    counts = torch.bincount(groups, minlength=num_groups).to(DTYPE)
    return top + sums.log() - counts.log()


# ---------------------------------------------------------------------------------------- policy learners
@runtime_checkable
class PolicyLearner(Protocol):
    r"""A max-entropy (temperature 1) policy learner that :func:`sample_based_irl` alternates with.

    ``improve(reward_table, num_steps)`` takes ``num_steps`` steps toward the soft-optimal policy of the
    reward r_ψ ``[S, A]`` (held constant); ``log_policy`` is the current log π_t(a|s) ``[T, S, A]``,
    which :func:`sample_based_irl` runs in the environment for the reward update. Adapters:
    :class:`ExactSoftPolicyLearner` (the referee: solves with the transition table),
    :class:`pgm_control.rl.ReinforceLearner` (REINFORCE with entropy),
    :class:`pgm_control.rl.TabularSoftQLearner` (tabular soft Q-learning) and
    :class:`pgm_control.rl.OneHotSoftQLearner` (the deep :class:`~pgm_control.rl.SoftQ` on one-hot
    observations), the last three from the environment only.
    """

    def improve(self, reward_table: torch.Tensor, num_steps: int) -> None: ...

    @property
    def log_policy(self) -> torch.Tensor: ...


@runtime_checkable
class AgentPolicyLearner(Protocol):
    r"""A max-entropy learner on an env with vector (``Box``) observations, for :func:`sample_based_irl`.

    ``improve(reward, num_steps)`` takes ``num_steps`` steps toward the soft-optimal policy of the reward
    module r_ψ(o, a) (held constant; the learner evaluates it without gradient); ``act(observation)``
    draws a ~ π(·|o) for one observation; ``log_prob(observations [B, d], actions)`` is log π(a|o)
    ``[B]`` of that same policy. Adapter: :class:`pgm_control.rl.AgentLearner` (``SAC`` or ``SoftQ``).
    """

    def improve(self, reward, num_steps: int) -> None: ...

    def act(self, observation): ...

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor: ...


class ExactSoftPolicyLearner:
    r"""The exact soft-optimal policy of r_ψ by messages (Lecture 20, "Backward messages"), as a policy
    learner: ``improve`` solves (``num_steps`` is ignored). It uses the MDP's transition table, so it is
    the referee inner loop (the reward update still sees only samples).

    Args:
        mdp: the model (its rewards are replaced by r_ψ).
        horizon: T.
        variant: ``"causal"`` (expected backup) or ``"trajectory"`` (the optimistic posterior policy).
    """

    def __init__(self, mdp: TabularMDP, horizon: int, variant: str = "causal"):
        self.mdp = check_mdp(mdp)
        self.horizon = check_horizon(horizon, required=True)
        self.variant = check_variant(variant)
        self._log_policy = torch.full((self.horizon, mdp.num_states, mdp.num_actions), -math.log(mdp.num_actions),
                                      dtype=DTYPE)

    def improve(self, reward_table: torch.Tensor, num_steps: int) -> None:
        soft = soft_solution(self.mdp.with_rewards(reward_table.detach()), self.horizon, self.variant)
        self._log_policy = soft.log_policy

    @property
    def log_policy(self) -> torch.Tensor:
        return self._log_policy


# ---------------------------------------------------------------------------------------- the driver
@dataclass(frozen=True, eq=False)
class SampleIRLResult:
    r"""What :func:`sample_based_irl` returns.

    Attributes:
        reward: the reward parameterization (a ``LinearReward`` or the trained ``NeuralReward``).
        psi: ψ ``[F]`` for a linear reward (None for a neural one).
        reward_table: r_ψ ``[S, A]`` (None for ``Box`` observations).
        log_policy: the learner's final log π_t(a|s) ``[T, S, A]`` (None for ``Box`` observations).
        objective: ``[K]`` per iteration, L̂(ψ) of :func:`sample_irl_objective` before the update.
        ess: ``[K]`` per iteration, the effective sample size (Σ w̄)² / Σ w̄² of the weights actually used
            (1..M): w̄_j = ρ̂(s_1) w_j / Σ_{k: same start} w_k, so uneven numbers of samples per start lower
            it too; with exact posterior samples from a single start it is M.
        gradient_norm: ``[K]`` per iteration, ‖∇L̂‖_∞ over the reward parameters.
    """

    reward: object
    psi: torch.Tensor | None
    reward_table: torch.Tensor | None
    log_policy: torch.Tensor | None
    objective: torch.Tensor
    ess: torch.Tensor
    gradient_norm: torch.Tensor

    @property
    def policy(self) -> torch.Tensor:
        """π_t(a|s) ``[T, S, A]``."""
        return self.log_policy.exp()


def sample_based_irl(env, demonstrations, reward, policy_learner, *, num_iterations: int = 200,
                     policy_steps: int = 1, num_samples: int = 256, weighting: str = "importance",
                     lr: float = 0.05, seed: int = 0, progress: bool | None = None) -> SampleIRLResult:
    r"""MaxEnt IRL from samples (guided cost learning): alternate the policy learner and the reward.

    Each iteration k:

        1. policy_learner.improve(r_ψ, policy_steps)                  (a few max-ent RL steps on r_ψ)
        2. τ_1..τ_M ~ π in env                                         (the dynamics stay hidden)
        3. ψ <- ψ + Adam(lr) ∇L̂(ψ)                                     (:func:`sample_irl_objective`)

    The weights are self-normalized per demonstrated start state (module docstring); ESS is recorded
    and shown on the progress bar. Two kinds of environment:

    - ``Discrete`` observations and actions (e.g. :class:`pgm_control.envs.TabularEnv`): a reward table
      r_ψ ``[S, A]`` from a ``LinearReward`` or ``NeuralReward``, demonstrations as
      :class:`~pgm_control.Demonstrations`, a :class:`PolicyLearner` whose ``log_policy`` ``[T, S, A]``
      the driver runs: :class:`ExactSoftPolicyLearner`, :class:`pgm_control.rl.ReinforceLearner`,
      :class:`pgm_control.rl.TabularSoftQLearner` or :class:`pgm_control.rl.OneHotSoftQLearner`.
    - ``Box`` observations (e.g. Pendulum-v1): a reward module r_ψ(o, a) such as
      :class:`~pgm_control.models.ObservationReward`, demonstrations as :class:`ObservationTrajectories`
      (fixed length T), an :class:`AgentPolicyLearner` the driver runs by its ``act`` and whose
      ``log_prob`` gives log π(τ): :class:`pgm_control.rl.AgentLearner` around ``SAC`` (``Box``
      actions) or ``SoftQ`` (``Discrete``). The weights are normalized over all samples at once (start
      states are not grouped).

    Args:
        env: the ``gymnasium.Env`` (its rewards are never read).
        demonstrations: the expert's :class:`~pgm_control.Demonstrations` (T steps; shorter episodes
            count their steps < length), or :class:`ObservationTrajectories` for ``Box`` observations.
        reward: a :class:`~pgm_control.models.LinearReward` (ψ starts at 0) or
            :class:`~pgm_control.models.NeuralReward` with features ``[S, A, F]`` or ``[S, F]``; for ``Box``
            observations a ``torch.nn.Module`` ``(observations, actions) -> [...]``.
        policy_learner: a :class:`PolicyLearner` (``Discrete``) or :class:`AgentPolicyLearner` (``Box``).
        num_iterations: K.
        policy_steps: learner steps per reward step.
        num_samples: M, policy episodes per reward step.
        weighting: ``"importance"`` (guided cost learning) or ``"none"`` (the notes' first form).
        lr: Adam's step size on the reward parameters.
        seed: seeds the first ``env.reset`` and the action draws.
        progress: a tqdm bar with the ESS (None: on for runs of 10^7 sampled steps or more).

    Returns:
        :class:`SampleIRLResult` (``psi``, ``reward_table`` and ``log_policy`` are None for ``Box``
        observations: the reward is the trained module, the policy the learner's).
    """
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    policy_steps = check_positive_integer(policy_steps, "policy_steps")
    num_samples = check_positive_integer(num_samples, "num_samples")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    lr, seed = check_learning_rate(lr), check_seed(seed)
    loop = dict(num_iterations=num_iterations, policy_steps=policy_steps, num_samples=num_samples,
                weighting=weighting, lr=lr, seed=seed, progress=progress)
    if isinstance(env, gymnasium.Env) and isinstance(env.observation_space, gymnasium.spaces.Box):
        return _observation_irl(env, demonstrations, reward, policy_learner, **loop)
    return _tabular_irl(env, demonstrations, reward, policy_learner, **loop)


def _tabular_irl(env, demonstrations, reward, policy_learner, *, num_iterations, policy_steps, num_samples,
                 weighting, lr, seed, progress) -> SampleIRLResult:
    """:func:`sample_based_irl` on ``Discrete`` spaces (reward tables, ``log_policy`` rollouts)."""
    S, A = check_discrete_env(env)
    demonstrations = check_demonstrations(demonstrations)
    horizon = demonstrations.horizon
    reward = _check_sample_irl_reward(reward, S, A)
    _check_demonstrated_indices(demonstrations, S, A)
    if not isinstance(policy_learner, PolicyLearner):
        raise TypeError("policy_learner must have improve(reward_table, num_steps) and a log_policy [T, S, A] "
                        f"(e.g. ExactSoftPolicyLearner or pgm_control.rl.TabularSoftQLearner), got "
                        f"{type(policy_learner).__name__}")
    linear = isinstance(reward, LinearReward)
    psi = torch.zeros(reward.num_parameters, dtype=DTYPE, requires_grad=True) if linear else None
    parameters = [psi] if linear else list(reward.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr)
    rng = np.random.default_rng(seed)
    record = _Record()
    with progress_bar(num_iterations, progress, num_iterations * num_samples * horizon * 20,
                      "sample-based IRL") as bar:
        for k in range(num_iterations):
            table = reward(psi) if linear else reward()
            policy_learner.improve(table.detach(), policy_steps)
            log_policy = _check_learner_policy(policy_learner.log_policy, horizon, S, A)
            samples = rollout(env, log_policy, num_samples, rng, seed=seed if k == 0 else None)
            objective = sample_irl_objective(
                trajectory_rewards(table, demonstrations.states, demonstrations.actions, demonstrations.mask),
                trajectory_rewards(table, samples.states, samples.actions, samples.mask),
                samples.log_prob, weighting=weighting, sample_log_priors=samples.log_prior,
                demo_starts=demonstrations.states[:, 0], sample_starts=samples.states[:, 0])
            record.ascend(optimizer, objective, parameters, bar, num_samples)
    with torch.no_grad():
        table = reward(psi) if linear else reward()
    return record.result(reward, psi.detach().clone() if linear else None, table.detach(),
                         policy_learner.log_policy.detach())


def _observation_irl(env, demonstrations, reward, policy_learner, *, num_iterations, policy_steps, num_samples,
                     weighting, lr, seed, progress) -> SampleIRLResult:
    """:func:`sample_based_irl` on ``Box`` observations (a reward module, an agent's rollouts)."""
    demonstrations = _check_observation_demonstrations(demonstrations, env)
    if not isinstance(reward, torch.nn.Module) or not list(reward.parameters()):
        raise TypeError("with Box observations, reward must be a torch.nn.Module (observations, actions) -> [...] "
                        "with parameters, e.g. pgm_control.models.ObservationReward(observation_dim), got "
                        f"{type(reward).__name__}")
    if not isinstance(policy_learner, AgentPolicyLearner):
        raise TypeError("with Box observations, policy_learner must have improve(reward, num_steps), act(observation) "
                        "and log_prob(observations, actions) (e.g. pgm_control.rl.AgentLearner(SAC(env))), got "
                        f"{type(policy_learner).__name__}")
    horizon = demonstrations.horizon
    parameters = list(reward.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr)
    record = _Record()
    with progress_bar(num_iterations, progress, num_iterations * num_samples * horizon * 20,
                      "sample-based IRL") as bar:
        for k in range(num_iterations):
            policy_learner.improve(reward, policy_steps)
            samples = rollout_agent(env, policy_learner, num_samples, horizon, seed=seed if k == 0 else None)
            objective = sample_irl_objective(
                observation_trajectory_rewards(reward, demonstrations),
                observation_trajectory_rewards(reward, samples),
                samples.log_prob, weighting=weighting, sample_log_priors=samples.log_prior)
            record.ascend(optimizer, objective, parameters, bar, num_samples)
    return record.result(reward, None, None, None)


class _Record:
    """The reward step of both drivers and its per-iteration records."""

    def __init__(self):
        self.objectives: list[float] = []
        self.ess: list[float] = []
        self.gradient_norms: list[float] = []

    def ascend(self, optimizer, objective: SampleIRLObjective, parameters, bar, num_samples: int) -> None:
        """One Adam ascent step on L̂; record L̂, the ESS and ‖∇L̂‖_∞."""
        optimizer.zero_grad()
        (-objective.value).backward()
        self.gradient_norms.append(max(p.grad.abs().max().item() for p in parameters))
        optimizer.step()
        self.objectives.append(objective.value.item())
        self.ess.append(objective.ess)
        bar.set_postfix(ess=f"{objective.ess:.1f}/{num_samples}")  # drawn each iteration
        bar.update()

    def result(self, reward, psi, reward_table, log_policy) -> SampleIRLResult:
        return SampleIRLResult(
            reward=reward, psi=psi, reward_table=reward_table, log_policy=log_policy,
            objective=torch.tensor(self.objectives, dtype=DTYPE),
            ess=torch.tensor(self.ess, dtype=DTYPE),
            gradient_norm=torch.tensor(self.gradient_norms, dtype=DTYPE),
        )


def _check_observation_demonstrations(demonstrations, env) -> ObservationTrajectories:
    if not isinstance(demonstrations, ObservationTrajectories):
        raise TypeError("with Box observations, demonstrations must be ObservationTrajectories(observations "
                        f"[N, T+1, d], actions [N, T, k] or [N, T]), got {type(demonstrations).__name__}")
    d = int(np.prod(env.observation_space.shape))
    observations, actions = demonstrations.observations, demonstrations.actions
    if observations.dim() != 3 or observations.shape[2] != d or actions.dim() < 2 \
            or actions.shape[:2] != (observations.shape[0], observations.shape[1] - 1):
        raise ValueError(f"demonstrations must have observations [N, T+1, d] = [N, T+1, {d}] and actions [N, T, ...], "
                         f"got {list(observations.shape)} and {list(actions.shape)}")
    if not torch.isfinite(observations).all():
        raise ValueError("demonstrations.observations must be finite")
    return demonstrations


def check_discrete_env(env) -> tuple[int, int]:
    """S and A of a gymnasium env with Discrete spaces numbered from 0."""
    if not isinstance(env, gymnasium.Env):
        raise TypeError(f"env must be a gymnasium.Env (e.g. pgm_control.envs.TabularEnv(mdp, horizon=T)), got "
                        f"{type(env).__name__}")
    spaces = (env.observation_space, env.action_space)
    if not all(isinstance(space, gymnasium.spaces.Discrete) and int(space.start) == 0 for space in spaces):
        raise TypeError(f"sample_based_irl needs Discrete observation and action spaces numbered from 0, got "
                        f"{spaces[0]} and {spaces[1]}")
    return int(spaces[0].n), int(spaces[1].n)


def _check_sample_irl_reward(reward, S: int, A: int):
    if not isinstance(reward, LinearReward | NeuralReward):
        raise TypeError(f"reward must be a LinearReward or a NeuralReward, got {type(reward).__name__}")
    if reward.features.shape[0] != S:
        raise ValueError(f"the reward's features cover {reward.features.shape[0]} states but env has {S} observations")
    return reward.expand_actions(A)


def _check_demonstrated_indices(demonstrations: Demonstrations, S: int, A: int) -> None:
    mask = demonstrations.mask
    states = torch.cat([demonstrations.states[:, 0], demonstrations.states[:, 1:][mask]])
    if int(states.max()) >= S or int(demonstrations.actions[mask].max()) >= A:
        raise ValueError(f"the demonstrations visit states up to {int(states.max())} and actions up to "
                         f"{int(demonstrations.actions[mask].max())}, but env has {S} observations and {A} actions")


def _check_learner_policy(log_policy, horizon: int, S: int, A: int) -> torch.Tensor:
    if not isinstance(log_policy, torch.Tensor) or tuple(log_policy.shape) != (horizon, S, A):
        shape = tuple(log_policy.shape) if isinstance(log_policy, torch.Tensor) else type(log_policy).__name__
        raise ValueError(f"policy_learner.log_policy must be log π_t(a|s) [T, S, A] = [{horizon}, {S}, {A}] "
                         f"(T from the demonstrations), got {shape}")
    return log_policy
