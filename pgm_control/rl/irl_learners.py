r"""Max-entropy policy learners for :func:`pgm_control.inference.sample_based_irl` that see the environment
only through ``reset`` and ``step`` (CS285 notes, "Unknown Dynamics": "learn ... using any MaxEnt RL
algorithm, then run this policy to sample {τ_j}").

:class:`ReinforceLearner`: REINFORCE with the entropy bonus (temperature 1) on a time-indexed softmax
policy θ ``[T, S, A]``, its rewards the current r_ψ(s, a) of the IRL loop (the environment's own rewards
are never read); its fixed point is the causal soft-optimal policy of r_ψ (see
:mod:`pgm_control.rl.policy_gradient`).

:class:`TabularSoftQLearner`: tabular soft Q-learning on the time-indexed MDP over (t, s) with the rewards r_ψ
(:class:`TimeIndexedRewardEnv`), warm-started from its previous Q; the same fixed point.

:class:`OneHotSoftQLearner`: the deep :class:`~pgm_control.rl.SoftQ` agent on one-hot observations, its
replay batches relabelled with r_ψ through the agent's ``reward_relabel`` hook (the mechanism
:class:`~pgm_control.rl.AdversarialImitation` uses for its discriminator's rewards).

:class:`AgentLearner`: ``SAC`` or ``SoftQ`` on vector (``Box``) observations, for a reward module
r_ψ(o, a) (e.g. :class:`~pgm_control.models.ObservationReward`), relabelled the same way.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch

from pgm_control._checks import DTYPE, check_horizon, check_learning_rate, check_positive_integer, check_seed
from pgm_control.inference.policies import soft_log_policy
from pgm_control.inference.sample_irl import check_discrete_env, rollout
from pgm_control.rl.adversarial_deep import policy_log_prob
from pgm_control.rl.policy_gradient import reinforce_surrogate
from pgm_control.rl.replay import Transitions
from pgm_control.rl.sac import SAC
from pgm_control.rl.soft_q import SoftQ
from pgm_control.rl.tabular import soft_q_learning


class ReinforceLearner:
    r"""REINFORCE with entropy as a :class:`~pgm_control.inference.sample_irl.PolicyLearner`.

    ``improve(reward_table, num_steps)`` takes ``num_steps`` Adam ascent steps on

        J(θ) = Σ_t E_{τ~π_θ}[ r_ψ(s_t, a_t) - log π_θ,t(a_t|s_t) ]

    each from ``num_episodes`` fresh episodes of the environment (:func:`reinforce_surrogate` with the
    leave-one-out baseline). θ persists between calls (a warm start on the slowly moving reward).

    Args:
        env: a ``gymnasium.Env`` with ``Discrete`` spaces (e.g. :class:`pgm_control.envs.TabularEnv`).
        horizon: T.
        num_episodes: episodes per gradient step.
        lr: Adam's step size on θ.
        seed: seeds the action draws and the first ``env.reset``.
    """

    def __init__(self, env, horizon: int, *, num_episodes: int = 64, lr: float = 0.1, seed: int = 0):
        S, A = check_discrete_env(env)
        self.env = env
        self.horizon = check_horizon(horizon, required=True)
        self.num_episodes = check_positive_integer(num_episodes, "num_episodes")
        self.logits = torch.zeros(self.horizon, S, A, dtype=DTYPE, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.logits], lr=check_learning_rate(lr))
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)

    @property
    def log_policy(self) -> torch.Tensor:
        """log π_θ,t(a|s) ``[T, S, A]``."""
        return torch.log_softmax(self.logits.detach(), dim=-1)

    def improve(self, reward_table: torch.Tensor, num_steps: int) -> None:
        reward_table = reward_table.detach()
        for _ in range(check_positive_integer(num_steps, "num_steps")):
            log_policy = torch.log_softmax(self.logits, dim=-1)
            seed, self._seed = self._seed, None  # the first reset only
            batch = rollout(self.env, log_policy, self.num_episodes, self._rng, seed=seed)
            rewards = reward_table[batch.states[:, :-1], batch.actions] * batch.mask
            surrogate = reinforce_surrogate(log_policy, batch.states, batch.actions, rewards, entropy_bonus=1.0)
            self.optimizer.zero_grad()
            (-surrogate).backward()
            self.optimizer.step()



class TimeIndexedRewardEnv(gymnasium.Wrapper):
    r"""A ``Discrete`` env seen as the finite-horizon MDP over (t, s), paying a reward table.

    The observation is t·S + s (t = 0..T-1), the reward of a step is ``reward_table[s_t, a_t]`` (the
    environment's own reward is dropped), and the episode terminates after T steps (or when the
    environment terminates): soft Q-learning on it, undiscounted, learns the time-indexed soft Q_t(s, a)
    of Σ_{t<T} r(s_t, a_t). The terminal observation is clipped to t = T-1 (it is never bootstrapped).
    """

    def __init__(self, env: gymnasium.Env, horizon: int):
        self.num_states, _ = check_discrete_env(env)
        super().__init__(env)
        self.horizon = horizon
        self.observation_space = gymnasium.spaces.Discrete(horizon * self.num_states)
        self.reward_table: torch.Tensor | None = None  # set before each run
        self._time, self._state = 0, 0

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        self._time, self._state = 0, int(observation)
        return self._state, info

    def step(self, action):
        observation, _, terminated, truncated, info = self.env.step(action)
        reward = float(self.reward_table[self._state, action])
        self._time, self._state = self._time + 1, int(observation)
        terminated = bool(terminated) or self._time == self.horizon
        return min(self._time, self.horizon - 1) * self.num_states + self._state, reward, terminated, truncated, info


class TabularSoftQLearner:
    r"""Tabular soft Q-learning (CS285 notes, "Soft Optimality") as a
    :class:`~pgm_control.inference.sample_irl.PolicyLearner`, on the time-indexed MDP over (t, s):

        Q_t(s, a) <- Q_t(s, a) + η (r_ψ(s, a) + softmax_{a'} Q_{t+1}(s', a') - Q_t(s, a)),  Q_T = 0
        log π_t(a|s) = log p(a|s) + Q_t(s, a) - V_t(s)                              (temperature 1)

    whose fixed point is the causal soft-optimal policy of r_ψ (that of
    :class:`~pgm_control.inference.ExactSoftPolicyLearner`). ``improve(reward_table, num_steps)`` runs
    ``num_steps`` environment steps of :func:`~pgm_control.rl.soft_q_learning` (Boltzmann exploration)
    warm-started from the previous Q, with a constant step size η (the target moves with r_ψ).

    Args:
        env: a ``gymnasium.Env`` with ``Discrete`` spaces (e.g. :class:`pgm_control.envs.TabularEnv`).
        horizon: T.
        lr: η, in (0, 1].
        seed: seeds the first run; run k uses seed + k.
    """

    def __init__(self, env, horizon: int, *, lr: float = 0.1, seed: int = 0):
        self.env = TimeIndexedRewardEnv(env, check_horizon(horizon, required=True))
        self.horizon = self.env.horizon
        self.lr = check_learning_rate(lr)
        self._seed = check_seed(seed)
        self._num_actions = int(env.action_space.n)
        self.q = torch.zeros(horizon * self.env.num_states, self._num_actions, dtype=DTYPE)
        self._log_prior = torch.full_like(self.q, -math.log(self._num_actions))

    @property
    def log_policy(self) -> torch.Tensor:
        """log π_t(a|s) ``[T, S, A]``."""
        return soft_log_policy(self.q, self._log_prior, 1.0).reshape(self.horizon, -1, self._num_actions)

    def improve(self, reward_table: torch.Tensor, num_steps: int) -> None:
        self.env.reward_table = reward_table.detach()
        result = soft_q_learning(self.env, check_positive_integer(num_steps, "num_steps"), temperature=1.0,
                                 discount=1.0, lr=self.lr, seed=self._seed, initial_q=self.q, progress=False)
        self.q, self._log_prior, self._seed = result.q, result.log_prior, self._seed + 1


class OneHotSoftQLearner:
    r"""Deep soft Q-learning (:class:`~pgm_control.rl.SoftQ`) on one-hot observations e_s as a
    :class:`~pgm_control.inference.sample_irl.PolicyLearner`.

    ``improve(reward_table, num_steps)`` takes ``num_steps`` environment steps of the agent, each replay
    batch relabelled with r_ψ(s, a) = reward_table[argmax e_s, a] (the agent's ``reward_relabel`` hook;
    the environment's rewards are stored but never learned from). ``log_policy`` is the agent's
    Boltzmann policy log π(a|s) = log softmax_a Q_θ(e_s, a)/α at every state (stationary: the same for
    each of the T steps), i.e. the distribution ``agent.act`` samples from, so the importance weights
    use the policy that actually ran. The agent's soft optimum is the discounted one at its own γ and α
    (α = 1 is the temperature of MaxEnt IRL); the driver's weights stay correct for any π.

    Args:
        agent: a :class:`~pgm_control.rl.SoftQ` whose environment's observations are one-hot ``Box``
            vectors ``[S]``, e.g. on ``pgm_control.envs.TabularEnv(mdp, horizon=T, one_hot=True)``
            (pass the same MDP as a ``Discrete`` :class:`~pgm_control.envs.TabularEnv` to the driver).
        horizon: T.
    """

    def __init__(self, agent: SoftQ, horizon: int):
        if not isinstance(agent, SoftQ):
            raise TypeError(f"agent must be a pgm_control.rl.SoftQ, got {type(agent).__name__}")
        space = agent.env.observation_space
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"agent's env must have one-hot Box([S]) observations (TabularEnv(mdp, one_hot=True)), "
                            f"got {space}")
        self.agent, self.horizon = agent, check_horizon(horizon, required=True)
        self.reward_table: torch.Tensor | None = None

    def relabel(self, batch: Transitions) -> torch.Tensor:
        """r_ψ(s, a) ``[B]`` of a replay batch with one-hot observations."""
        return self.reward_table[batch.observations.argmax(-1), batch.actions.long()].to(batch.rewards.dtype)

    @property
    def log_policy(self) -> torch.Tensor:
        """log π(a|s) ``[T, S, A]`` (the same at each t)."""
        S, A = self.agent.observation_dim, self.agent.num_actions
        states = torch.eye(S).repeat_interleave(A, 0)  # e_s for each (s, a), row-major
        log_prob = policy_log_prob(self.agent, states, torch.arange(A).repeat(S))
        return log_prob.to(DTYPE).reshape(S, A).expand(self.horizon, S, A)

    def improve(self, reward_table: torch.Tensor, num_steps: int) -> None:
        self.reward_table = reward_table.detach()
        self.agent.reward_relabel = self.relabel
        self.agent.train(check_positive_integer(num_steps, "num_steps"), progress=False)


class AgentLearner:
    r"""A deep off-policy agent, :class:`~pgm_control.rl.SAC` (``Box`` actions) or
    :class:`~pgm_control.rl.SoftQ` (``Discrete``), on vector observations as an
    :class:`~pgm_control.inference.sample_irl.AgentPolicyLearner` of
    :func:`~pgm_control.inference.sample_based_irl`.

    ``improve(reward, num_steps)`` takes ``num_steps`` environment steps of the agent with every replay
    batch relabelled r = r_ψ(o, a) (the agent's ``reward_relabel`` hook; the environment's rewards are
    stored but never learned from); ``act`` samples the agent's stochastic policy (SAC's squashed
    Gaussian, SoftQ's Boltzmann policy) and ``log_prob`` is log π(a|o) of that same policy
    (:func:`~pgm_control.rl.adversarial_deep.policy_log_prob`). The agent's soft optimum is the discounted
    one at its own γ and temperature.

    Args:
        agent: the agent, on an environment like the driver's (its own copy: the driver's rollouts do not
            disturb the agent's episodes).
        seed: seeds the generator of ``act``'s draws.
    """

    def __init__(self, agent: SAC | SoftQ, *, seed: int = 0):
        if not isinstance(agent, SAC | SoftQ):
            raise TypeError(f"agent must be a pgm_control.rl.SAC or SoftQ, got {type(agent).__name__}")
        self.agent = agent
        self.reward = None
        self.generator = torch.Generator().manual_seed(check_seed(seed))

    def relabel(self, batch: Transitions) -> torch.Tensor:
        """r_ψ(o, a) ``[B]`` of a replay batch (no gradient)."""
        with torch.no_grad():
            return self.reward(batch.observations, batch.actions).to(batch.rewards.dtype)

    def improve(self, reward, num_steps: int) -> None:
        self.reward = reward
        self.agent.reward_relabel = self.relabel
        self.agent.train(check_positive_integer(num_steps, "num_steps"), progress=False)

    def act(self, observation):
        return self.agent.act(observation, generator=self.generator)

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(a|o) ``[B]``."""
        return policy_log_prob(self.agent, observations.float(), actions)
