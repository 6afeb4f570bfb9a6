"""FixedHorizon: fixed-length episodes with an absorbing state after termination, checked step by step
against the unwrapped CartPole-v1 driven by the same seed and actions."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from pgm_control.envs import FixedHorizon
from pgm_control.rl import AdversarialImitation, SoftQ, SoftQConfig, expert_transitions

ABSORBING = [0.0, 0.0, 0.0, 0.0, 1.0]


def run(env, actions, seed=0):
    """Observations, rewards, terminated and truncated flags of one episode with the given actions."""
    observations, rewards, flags = [env.reset(seed=seed)[0]], [], []
    for action in actions:
        observation, reward, terminated, truncated, _ = env.step(action)
        observations.append(observation)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards), flags


def test_episode_continues_in_the_absorbing_state_to_the_horizon():
    horizon = 30
    raw_observations, raw_rewards, raw_flags = run(gymnasium.make("CartPole-v1"), [1] * horizon)
    fall = len(raw_rewards)  # pushing right all the time ends CartPole after ~10 steps
    assert raw_flags[-1] == (True, False) and fall < horizon
    observations, rewards, flags = run(FixedHorizon(gymnasium.make("CartPole-v1"), horizon), [1] * 100)
    assert len(rewards) == horizon  # the episode's length is the horizon, not the fall
    assert [f for f in flags] == [(False, False)] * (horizon - 1) + [(False, True)]
    np.testing.assert_array_equal(observations[:fall, :4], raw_observations[:fall])  # the task's states ...
    assert (observations[:fall, 4] == 0).all()  # ... marked as such
    assert (observations[fall:] == ABSORBING).all()  # the terminating step already leads into the absorbing state
    np.testing.assert_array_equal(rewards[:fall], raw_rewards)  # the task's rewards up to termination ...
    assert (rewards[fall:] == 0).all()  # ... and 0 after
    assert rewards.sum() == fall


def test_an_episode_that_never_terminates_is_the_task_to_its_time_limit():
    env = FixedHorizon(gymnasium.make("CartPole-v1", max_episode_steps=20))
    assert env.horizon == 20  # the default horizon is the time limit
    raw = run(gymnasium.make("CartPole-v1", max_episode_steps=20), [0, 1] * 10)
    wrapped = run(env, [0, 1] * 10)  # alternating pushes keep the pole up for 20 steps
    assert raw[2][-1] == (False, True) and wrapped[2][-1] == (False, True)
    np.testing.assert_array_equal(wrapped[0][:, :4], raw[0])
    np.testing.assert_array_equal(wrapped[1], raw[1])


def test_observation_space_has_the_indicator_entry():
    space = FixedHorizon(gymnasium.make("CartPole-v1")).observation_space
    inner = gymnasium.make("CartPole-v1").observation_space
    assert space.shape == (5,) and space.low[-1] == 0 and space.high[-1] == 1
    np.testing.assert_array_equal(space.low[:4], inner.low)
    assert space.contains(np.array(ABSORBING, dtype=space.dtype))


def test_expert_data_of_a_wrapped_task_is_accepted_by_adversarial_imitation():
    env = FixedHorizon(gymnasium.make("CartPole-v1"), 40)
    config = SoftQConfig(hidden=(8,), batch_size=8, learning_starts=20, eval_every=0)
    expert = expert_transitions(SoftQ(env, config), 2)  # an untrained agent: it falls within 40 steps
    assert len(expert.rewards) == 80 and not expert.terminated.any()
    assert (expert.next_observations[:, -1] == 1).any()
    AdversarialImitation(SoftQ(env, config), expert, "airl", batch_size=8)
    raw = gymnasium.make("CartPole-v1", max_episode_steps=40)
    with pytest.raises(ValueError, match="FixedHorizon"):  # the same agent's data without the wrapper is refused
        AdversarialImitation(SoftQ(raw, config), expert_transitions(SoftQ(raw, config), 2), "airl", batch_size=8)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at most the environment's time limit 500"):
        FixedHorizon(gymnasium.make("CartPole-v1"), 501)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        FixedHorizon(gymnasium.make("CartPole-v1"), 0)
    with pytest.raises(TypeError, match="flat Box observation space"):
        FixedHorizon(gymnasium.make("FrozenLake-v1"))
