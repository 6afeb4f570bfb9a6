"""Adversarial imitation with deep agents: the pieces against direct computations, and smoke runs.

The returns of GAIL and AIRL on Pendulum-v1 against the SAC expert need long runs and are not part
of the test suite."""

from __future__ import annotations

import gymnasium
import pytest
import torch

from pgm_control.rl import SAC, SACConfig, SoftQ, SoftQConfig
from pgm_control.rl.adversarial import discriminator_loss
from pgm_control.rl.adversarial_deep import (
    AdversarialImitation,
    expert_transitions,
    gradient_penalty,
    policy_log_prob,
)
from pgm_control.rl.networks import mlp

SMALL_SAC = SACConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0)
SMALL_SOFT_Q = SoftQConfig(hidden=(16, 16), batch_size=8, learning_starts=20, eval_every=0)


@pytest.fixture(scope="module")
def pendulum():
    return gymnasium.make("Pendulum-v1")


def test_sac_log_prob_of_its_own_samples(pendulum):
    # Inverting the squashing recovers the log-density that sample() computed from the pre-squash u
    # (float32 atanh near the bounds costs a few 1e-4).
    agent = SAC(pendulum, SMALL_SAC, seed=0)
    observations = torch.randn(64, 3)
    actions, log_prob = agent.policy.sample(observations, torch.Generator().manual_seed(0))
    assert torch.allclose(policy_log_prob(agent, observations, actions.detach()), log_prob.detach(), atol=1e-3)


def test_soft_q_log_prob_is_the_boltzmann_policy():
    agent = SoftQ(gymnasium.make("MountainCar-v0"), SMALL_SOFT_Q, seed=0)
    observations, actions = torch.randn(5, 2), torch.tensor([0, 1, 2, 1, 0])
    expected = agent.policy_probs(observations)[torch.arange(5), actions].log()
    assert torch.allclose(policy_log_prob(agent, observations, actions), expected, atol=1e-6)


def test_airl_reward_is_g_plus_shaping_and_logit_subtracts_log_pi(pendulum):
    expert = expert_transitions(SAC(pendulum, SMALL_SAC, seed=1), num_episodes=1)
    trainer = AdversarialImitation(SAC(pendulum, SMALL_SAC), expert)
    batch = expert._replace(terminated=torch.zeros(len(expert.rewards)))
    disc, gamma = trainer.discriminator, trainer.agent.config.discount
    with torch.no_grad():
        by_hand = (disc.g(batch.observations).squeeze(-1) + gamma * disc.h(batch.next_observations).squeeze(-1)
                   - disc.h(batch.observations).squeeze(-1))
        log_pi = policy_log_prob(trainer.agent, batch.observations, batch.actions)
        assert torch.allclose(trainer.reward(batch), by_hand, atol=1e-6)
        assert torch.allclose(trainer.logits(batch), by_hand - log_pi, atol=1e-5)
    assert expert.observations.shape == (200, 3) and expert.actions.shape == (200, 1)


@pytest.mark.parametrize("method", ["airl", "gail"])
def test_smoke_runs_record_the_discriminator_over_training(pendulum, method):
    expert = expert_transitions(SAC(pendulum, SMALL_SAC, seed=1), num_episodes=1)
    trainer = AdversarialImitation(SAC(pendulum, SMALL_SAC), expert, method, batch_size=8, discriminator_every=25,
                                   discriminator_steps=2)
    history = trainer.train(75, progress=False)
    assert history["step"] == [25, 50] and len(history["expert_d"]) == 2
    assert all(0.0 < d < 1.0 for d in history["expert_d"] + history["policy_d"])
    assert trainer.agent.updates > 0


def test_soft_q_gail_smoke_on_a_discrete_task():
    env = gymnasium.make("MountainCar-v0")  # an untrained policy never reaches the flag: 200 fixed steps
    expert = expert_transitions(SoftQ(env, SMALL_SOFT_Q, seed=1), num_episodes=1)
    trainer = AdversarialImitation(SoftQ(env, SMALL_SOFT_Q), expert, "gail", batch_size=8, discriminator_every=25)
    assert trainer.train(50, progress=False)["step"] == [25]


def test_gradient_penalty_of_a_linear_logit_in_closed_form():
    # d(x) = w·x + b has ∇d = w at every x̂, so P = (‖w‖ - 1)² whatever the data and the mixing, and
    # ∂P/∂w = 2 (‖w‖ - 1) w / ‖w‖ (float64: exact up to rounding).
    generator = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(6, 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.3, -1.2, 0.5, 2.0, 0.0, -0.7]], dtype=torch.float64))
    expert, policy = (torch.randn(32, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    mixing = torch.rand(32, 1, generator=generator, dtype=torch.float64)
    penalty = gradient_penalty(linear, expert, policy, mixing)
    w = linear.weight.detach()[0]
    assert torch.allclose(penalty, (w.norm() - 1) ** 2, atol=1e-12, rtol=0)
    penalty.backward()
    assert torch.allclose(linear.weight.grad[0], 2 * (w.norm() - 1) * w / w.norm(), atol=1e-12, rtol=0)


class HalfSquaredNorm(torch.nn.Module):
    def forward(self, x):
        return 0.5 * (x**2).sum(-1)


def test_gradient_penalty_mixes_expert_and_policy_inputs_row_by_row():
    # d(x) = ‖x‖²/2 has ∇d(x̂) = x̂, so P = mean over rows of (‖u x_E + (1 - u) x_π‖ - 1)², by hand.
    expert = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]], dtype=torch.float64)
    policy = torch.tensor([[0.0, 0.0], [0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    mixing = torch.tensor([[0.5], [0.25], [1.0]], dtype=torch.float64)
    # x̂ = (0.5, 0), (0, 0), (2, 2): norms 0.5, 0, √8
    by_hand = ((0.5 - 1) ** 2 + (0 - 1) ** 2 + (8**0.5 - 1) ** 2) / 3
    penalty = gradient_penalty(HalfSquaredNorm(), expert, policy, mixing)
    assert abs(float(penalty.detach()) - by_hand) < 1e-12


def separating_gap(penalty_weight: float) -> float:
    """d(x_E) - d(x_π) of an MLP discriminator after 200 Adam steps on two points 0.1 apart."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = mlp(2, 1, (32, 32))
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    expert = torch.tensor([[0.05, 0.0]]).repeat(16, 1)
    policy, ones = -expert, torch.ones(16)
    for _ in range(200):
        loss = discriminator_loss(network(expert).squeeze(-1), network(policy).squeeze(-1), ones, ones)
        if penalty_weight > 0:
            mixing = torch.rand(16, 1, generator=generator)
            loss = loss + penalty_weight * gradient_penalty(network, expert, policy, mixing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(network(expert[:1]) - network(policy[:1]))


def test_gradient_penalty_bounds_the_logit_gap_between_separable_data():
    # Unpenalized, the cross-entropy drives the logits of separable data apart without bound. With the
    # penalty the slope stays near 1 on the segment between them, so by the mean-value theorem
    # |d(x_E) - d(x_π)| <= ‖x_E - x_π‖ max slope = 0.1 max slope; 0.2 allows the soft penalty a slope of 2.
    assert separating_gap(0.0) > 5.0
    assert 0.0 < separating_gap(1.0) < 0.2


def test_gail_with_a_gradient_penalty_trains_on_a_discrete_task():
    env = gymnasium.make("MountainCar-v0")
    expert = expert_transitions(SoftQ(env, SMALL_SOFT_Q, seed=1), num_episodes=1)
    trainer = AdversarialImitation(SoftQ(env, SMALL_SOFT_Q), expert, "gail", batch_size=8, discriminator_every=25,
                                   discriminator_steps=3, gradient_penalty=10.0)
    history = trainer.train(75, progress=False)
    assert history["step"] == [25, 50] and all(0.0 < d < 1.0 for d in history["expert_d"] + history["policy_d"])


def test_bad_inputs_get_named_errors(pendulum):
    expert = expert_transitions(SAC(pendulum, SMALL_SAC, seed=1), num_episodes=1)
    with pytest.raises(ValueError, match="method"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert, "gcl")
    with pytest.raises(TypeError, match="Transitions"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert.observations)
    with pytest.raises(ValueError, match="fixed-length"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert._replace(terminated=torch.ones(200)))
    with pytest.raises(ValueError, match="gradient_penalty must be a finite number >= 0"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert, "gail", gradient_penalty=-1.0)
    with pytest.raises(ValueError, match="gradient_penalty applies to GAIL"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert, "airl", gradient_penalty=10.0)
    with pytest.raises(ValueError, match="not a reward"):
        AdversarialImitation(SAC(pendulum, SMALL_SAC), expert, "gail").learned_reward(expert.observations,
                                                                                      expert.actions)
