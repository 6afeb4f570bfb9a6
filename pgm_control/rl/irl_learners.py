r"""Max-entropy policy learners for :func:`pgm_control.inference.sample_based_irl` that see the environment
only through ``reset`` and ``step`` (CS285 notes, "Unknown Dynamics": "learn ... using any MaxEnt RL
algorithm, then run this policy to sample {τ_j}").

:class:`ReinforceLearner`: REINFORCE with the entropy bonus (temperature 1) on a time-indexed softmax
policy θ ``[T, S, A]``, its rewards the current r_ψ(s, a) of the IRL loop (the environment's own rewards
are never read); its fixed point is the causal soft-optimal policy of r_ψ (see
:mod:`pgm_control.rl.policy_gradient`).
"""

from __future__ import annotations

import numpy as np
import torch

from pgm_control._checks import DTYPE, check_horizon, check_learning_rate, check_positive_integer, check_seed
from pgm_control.inference.sample_irl import check_discrete_env, rollout
from pgm_control.rl.policy_gradient import reinforce_surrogate


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

