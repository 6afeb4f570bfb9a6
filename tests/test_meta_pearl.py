"""The PEARL-style latent-model agent (pgm_control.meta.pearl): the KL in closed form, smoke runs of the
three conditionings, posterior sampling across episodes, seeds and bad inputs."""

import pytest
import torch

from pgm_control.meta import PEARL, PEARLConfig, grid_navigation_tasks, point_robot_tasks
from pgm_control.meta.pearl import EpisodeBuffer, gaussian_kl_to_standard

TINY = dict(num_train_tasks=3, hidden=(8,), encoder_hidden=(8,), gradient_steps=2, meta_batch=2, batch_size=4,
            buffer_episodes=4)


def test_kl_matches_torch():
    mean = torch.tensor([0.0, 1.5, -0.3], dtype=torch.float64)
    scale = torch.tensor([1.0, 0.2, 3.0], dtype=torch.float64)
    exact = torch.distributions.kl_divergence(torch.distributions.Normal(mean, scale),
                                              torch.distributions.Normal(0.0, 1.0))
    torch.testing.assert_close(gaussian_kl_to_standard(mean, scale), exact, rtol=0, atol=1e-12)


@pytest.mark.parametrize("conditioning", ["posterior", "none", "oracle"])
def test_smoke_run_and_shapes(conditioning):
    family = point_robot_tasks(episode_length=4)
    agent = PEARL(family, PEARLConfig(conditioning=conditioning, **TINY), seed=0)
    history = agent.train(2, progress=False)
    assert len(history) == 2 and {"q", "policy", "temperature", "kl"} <= set(history[0])
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)
    assert agent.buffer.size == 4  # one prior and one posterior episode per iteration
    assert (agent.encoder is None) == (conditioning != "posterior")
    returns = agent.evaluate(num_tasks=3, num_episodes=2)
    assert returns.shape == (3, 2) and torch.isfinite(returns).all()
    # Rewards are -‖s' - g‖ ≤ 0 and the robot moves at most 0.1·√2 a step from the origin toward a goal at 1.
    assert (returns <= 0).all() and (returns >= -4 * (1 + 0.1 * 2 ** 0.5 * 4)).all()


def test_without_the_encoder_every_episode_is_the_same():
    # With mean actions and no latent (or the oracle goal) nothing changes between episodes of a task.
    for conditioning in ("none", "oracle"):
        agent = PEARL(point_robot_tasks(episode_length=4), PEARLConfig(conditioning=conditioning, **TINY), seed=1)
        returns = agent.evaluate(num_tasks=2, num_episodes=3)
        torch.testing.assert_close(returns[:, 0:1].expand(-1, 3), returns, rtol=0, atol=0)


def test_posterior_sampling_uses_the_prior_then_the_context():
    agent = PEARL(point_robot_tasks(episode_length=4), PEARLConfig(**TINY), seed=2)
    tasks = torch.tensor([0.5, 2.0], dtype=torch.float64)
    mean, scale = agent.latent_belief(tasks, None, None)
    assert mean.tolist() == [0.0, 0.0] and scale.tolist() == [1.0, 1.0]
    _, actions, rewards = agent.run_episode(tasks, agent.latents(tasks))
    mean, scale = agent.latent_belief(tasks, actions[:, None], rewards[:, None])
    # The product of the N(0, 1) prior with one factor per transition: σ < 1 once any data is in.
    assert (scale < 1).all()


def test_episode_buffer_ring_and_sampling():
    buffer = EpisodeBuffer(num_tasks=2, capacity=2, episode_length=3)
    for k in range(3):
        positions = torch.full((2, 4, 2), float(k), dtype=torch.float64)
        buffer.add(positions, torch.full((2, 3, 2), float(k), dtype=torch.float64),
                   torch.full((2, 3), float(k), dtype=torch.float64))
    assert buffer.size == 2 and sorted(buffer.rewards[0, :, 0].tolist()) == [1.0, 2.0]
    generator = torch.Generator().manual_seed(0)
    s, a, r, s_next = buffer.transitions(torch.tensor([1, 0, 1]), 5, generator)
    assert s.shape == (3, 5, 2) and a.shape == (3, 5, 2) and r.shape == (3, 5) and s_next.shape == (3, 5, 2)
    actions, rewards = buffer.contexts(torch.tensor([0, 1]), 2, generator)
    assert actions.shape == (2, 2, 3, 2) and rewards.shape == (2, 2, 3)
    assert sorted(rewards[0, :, 0].tolist()) == [1.0, 2.0]  # two distinct episodes


def test_seeds_reproduce():
    family = point_robot_tasks(episode_length=4)
    runs = []
    for _ in range(2):
        agent = PEARL(family, PEARLConfig(**TINY), seed=3)
        agent.train(1, progress=False)
        runs.append(agent.evaluate(num_tasks=2, num_episodes=2))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_bad_inputs():
    family = point_robot_tasks(episode_length=4)
    with pytest.raises(TypeError, match="task_family"):
        PEARL(grid_navigation_tasks(3, 4))
    with pytest.raises(TypeError, match="config"):
        PEARL(family, {"kl_weight": 0.1})
    with pytest.raises(ValueError, match="conditioning"):
        PEARLConfig(conditioning="prior")
    with pytest.raises(ValueError, match="kl_weight"):
        PEARLConfig(kl_weight=-1.0)
    with pytest.raises(ValueError, match="discount"):
        PEARLConfig(discount=1.0)
    with pytest.raises(ValueError, match="context_episodes"):
        PEARLConfig(context_episodes=5, buffer_episodes=4)
    with pytest.raises(ValueError, match="num_iterations"):
        PEARL(family, PEARLConfig(**TINY)).train(0)
