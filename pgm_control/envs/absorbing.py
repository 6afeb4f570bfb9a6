r"""Fixed-length episodes for tasks that terminate: after termination the episode goes on in an absorbing
state, with reward 0, up to a fixed horizon (Kostrikov et al. 2019, "Discriminator-Actor-Critic", absorbing
states; CS285 notes, "Inverse RL as GAN").

**The bias it removes.** A terminal state ends the return: every algorithm that bootstraps with
y = r + γ (1 - d) V(s') values "after termination" at exactly 0, whatever the reward. With the
environment's reward that is right; with a *learned* reward it is a hidden prior. GAIL's reward
-log(1 - D) > 0 makes every extra step worth something, so surviving is rewarded even where the expert
would have stopped; a reward that is mostly negative (AIRL's f can be) makes ending early pay. Either way
the episode's length, not the demonstrations, decides. With an absorbing state the time after
termination is a state like any other: its observation is seen by the discriminator, which learns its
reward from data (the expert, who never falls, never visits it), and every episode has the same length,
as the adversarial learners of :mod:`pgm_control.rl.adversarial_deep` require.

Observations get one more entry, an indicator: ``[s, 0]`` for the task's states, ``[0, …, 0, 1]`` for
the absorbing state. The step that terminates the task already leads into the absorbing state (its
reward is the task's; the task's final observation is in ``info["terminal_observation"]``), and every
action there stays in it with reward 0; ``terminated`` is never ``True`` and ``truncated`` is ``True``
at step ``horizon`` exactly. A return is therefore the task's return (the absorbing rewards are 0).
"""

from __future__ import annotations

import gymnasium
import numpy as np

from pgm_control._checks import check_positive_integer


class FixedHorizon(gymnasium.Wrapper):
    r"""Episodes of exactly ``horizon`` steps: after ``terminated`` the episode continues in an absorbing
    observation ``[0, …, 0, 1]`` with reward 0 (see the module's docstring for the bias this removes).

    Args:
        env: a Gymnasium environment with a flat Box observation space.
        horizon: the episode length; by default the environment's time limit
            (``env.spec.max_episode_steps``, e.g. 500 for CartPole-v1). It may not exceed that limit.

    Example:
        >>> env = FixedHorizon(gymnasium.make("CartPole-v1"))
        >>> observation, _ = env.reset(seed=0)
        >>> observation.shape, float(observation[-1])
        ((5,), 0.0)
        >>> steps = 0
        >>> while True:
        ...     observation, reward, terminated, truncated, _ = env.step(0)  # always push left: falls soon
        ...     steps += 1
        ...     if terminated or truncated:
        ...         break
        >>> steps, observation.tolist(), reward
        (500, [0.0, 0.0, 0.0, 0.0, 1.0], 0.0)
    """

    def __init__(self, env, horizon: int | None = None):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"FixedHorizon needs a flat Box observation space, got {space}")
        limit = env.spec.max_episode_steps if env.spec is not None else None
        if horizon is None and limit is None:
            raise ValueError("horizon must be given: the environment has no time limit (env.spec.max_episode_steps)")
        self.horizon = check_positive_integer(limit if horizon is None else horizon, "horizon")
        if limit is not None and self.horizon > limit:
            raise ValueError(f"horizon must be at most the environment's time limit {limit}, got {self.horizon}; "
                             "raise the limit with gymnasium.make(..., max_episode_steps=horizon)")
        self.observation_space = gymnasium.spaces.Box(np.append(space.low, 0.0).astype(space.dtype),
                                                      np.append(space.high, 1.0).astype(space.dtype),
                                                      dtype=space.dtype)
        self.absorbing_observation = np.eye(space.shape[0] + 1, dtype=space.dtype)[-1]
        self._t, self._absorbed = 0, False

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        self._t, self._absorbed = 0, False
        return self._task_observation(observation), info

    def step(self, action):
        self._t += 1
        truncated = self._t >= self.horizon
        if self._absorbed:
            return self.absorbing_observation.copy(), 0.0, False, truncated, {}
        observation, reward, terminated, inner_truncated, info = self.env.step(action)
        if terminated:
            self._absorbed = True
            return self.absorbing_observation.copy(), reward, False, truncated, {**info,
                                                                                "terminal_observation": observation}
        return self._task_observation(observation), reward, False, truncated or inner_truncated, info

    def _task_observation(self, observation) -> np.ndarray:
        return np.append(observation, 0.0).astype(self.observation_space.dtype)
