"""Deep soft Q-learning: the soft target and Boltzmann policy by hand, target-network updates,
validation, exact checkpoints and a short CartPole run that learns."""

import math

import gymnasium
import numpy as np
import pytest
import torch

from pgm_control.inference import soft_maximum
from pgm_control.rl.soft_q import SoftQ, SoftQConfig, boltzmann_log_policy, soft_q_loss, soft_q_target

TINY = {"hidden": (32, 32), "batch_size": 32, "learning_starts": 100, "eval_every": 0}


def cartpole():
    return gymnasium.make("CartPole-v1")


def test_soft_target_by_hand():
    q_next = torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, -1.0]], dtype=torch.float64)
    reward = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    terminated = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    alpha, gamma = 0.5, 0.9
    # V(s') = α log((e^{1/α} + e^{3/α}) / 2): the uniform prior inside the soft maximum
    v = [alpha * math.log((math.exp(1 / alpha) + math.exp(3 / alpha)) / 2), 0.0]
    expected = torch.tensor([1.0 + gamma * v[0], -1.0 + gamma * v[1], 0.5], dtype=torch.float64)
    assert torch.allclose(soft_q_target(reward, terminated, q_next, alpha, gamma), expected, atol=1e-12, rtol=0)
    # the CS285 notes' log Σ exp differs by the constant α log A: same policy, shifted values
    seed_form = alpha * torch.logsumexp(q_next / alpha, -1)
    assert torch.allclose(soft_maximum(q_next, -math.log(2), alpha), seed_form - alpha * math.log(2), atol=1e-12)
    # α = 0 is DQN's hard maximum
    assert torch.equal(soft_q_target(reward, terminated, q_next, 0.0, gamma),
                       reward + gamma * (1 - terminated) * q_next.max(-1).values)


def test_boltzmann_policy_is_the_soft_optimal_form():
    q = torch.tensor([[1.0, 3.0, -2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    alpha = 0.7
    log_policy = boltzmann_log_policy(q, alpha)
    v = soft_maximum(q, -math.log(3), alpha)
    # π(a|s) = p(a) exp((Q(s, a) - V(s))/α) with p(a) = 1/3
    assert torch.allclose(log_policy, -math.log(3) + (q - v[:, None]) / alpha, atol=1e-12, rtol=0)
    assert torch.allclose(log_policy.exp().sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert soft_q_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])).item() == 1.25


def test_shapes_acting_and_validation():
    agent = SoftQ(cartpole(), SoftQConfig(**TINY), seed=0)
    assert agent.q(torch.zeros(5, 4)).shape == (5, 2)
    probs = agent.policy_probs(torch.zeros(5, 4))
    assert probs.shape == (5, 2) and torch.allclose(probs.sum(-1), torch.ones(5))
    observation = np.zeros(4, dtype=np.float32)
    assert agent.act(observation, deterministic=True) == int(agent.q(torch.zeros(1, 4)).argmax())
    # sampled actions follow π(·|s): 1000 draws, SE <= sqrt(1/4 / 1000) = 0.016, 4σ -> 0.065
    frequency = np.mean([agent.act(observation) for _ in range(1000)])
    assert abs(frequency - agent.policy_probs(torch.zeros(1, 4))[0, 1].item()) < 0.065
    with pytest.raises(TypeError, match=r"use pgm_control\.rl\.SAC"):
        SoftQ(gymnasium.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        SoftQConfig(temperature=-1.0)
    with pytest.raises(ValueError, match="target_update_interval must be a positive integer"):
        SoftQConfig(target_update_interval=0)


def test_periodic_target_copy():
    config = SoftQConfig(**{**TINY, "tau": 1.0, "target_update_interval": 3, "learning_starts": 50})
    agent = SoftQ(cartpole(), config, seed=0)
    agent.train(49, progress=False)  # no update before learning_starts transitions: θ̄ = θ from the start
    assert all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.q_target.parameters()))
    agent.train(2, progress=False)  # updates 1, 2: θ moves, θ̄ does not
    assert not any(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.q_target.parameters()))
    agent.train(1, progress=False)  # update 3: copy
    assert all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.q_target.parameters()))


def test_greedy_evaluation_at_zero_temperature_is_dqn():
    agent = SoftQ(cartpole(), SoftQConfig(**{**TINY, "temperature": 0.0}), seed=0)
    agent.train(150, progress=False)
    probs = agent.policy_probs(torch.zeros(3, 4))
    assert set(probs.flatten().tolist()) <= {0.0, 1.0}
    assert np.array_equal(agent.evaluate(2), agent.evaluate(2, deterministic=False))


def test_checkpoint_resumes_bit_for_bit(tmp_path):
    config = SoftQConfig(**{**TINY, "eval_every": 90, "eval_episodes": 1, "target_update_interval": 7})
    straight = SoftQ(cartpole(), config, seed=1)
    straight.train(300, progress=False)
    first = SoftQ(cartpole(), config, seed=1)
    first.train(170, progress=False)
    first.save(tmp_path / "soft_q.pt")
    resumed = SoftQ.load(tmp_path / "soft_q.pt")
    resumed.train(130, progress=False)
    assert resumed.step == straight.step == 300 and resumed.updates == straight.updates == 201
    for a, b in zip([*straight.q.parameters(), *straight.q_target.parameters()],
                    [*resumed.q.parameters(), *resumed.q_target.parameters()]):
        assert torch.equal(a, b)
    assert straight.history == resumed.history
    assert torch.equal(straight.generator.get_state(), resumed.generator.get_state())


@pytest.mark.slow
def test_short_cartpole_run_beats_the_random_policy():
    # CartPole-v1's uniformly random policy lasts about 22 steps (return 22 ± 10, measured below).
    # Seeded, 5000 steps of soft Q-learning with the default config (20 s on one shared CPU core) gave a
    # greedy 10-episode mean of 254 (seeds 1, 2: 160, 227; evaluations of seed 0 every 2500 steps: 332,
    # 254; it reaches 500 from 15 000 steps on): 75 is 5 random-policy standard deviations above the
    # random mean and under half the lowest measured value.
    agent = SoftQ(cartpole(), SoftQConfig(eval_every=0), seed=0)
    agent.train(5000, progress=False)
    trained = agent.evaluate(10)
    env, rng, random_returns = cartpole(), np.random.default_rng(0), []
    for i in range(10):
        env.reset(seed=10_000 + i)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(2)))
            total, done = total + reward, terminated or truncated
        random_returns.append(total)
    assert trained.mean() > 75 > np.mean(random_returns), (trained.mean(), np.mean(random_returns))


def test_soft_q_config_errors_name_the_field_and_divergence_stops_training():
    with pytest.raises(TypeError, match=r"SoftQConfig\.gradient_steps must be a positive integer, got '1'"):
        SoftQConfig(gradient_steps="1")
    with pytest.raises(TypeError, match=r"SoftQConfig\.max_grad_norm must be None or a positive number, got str"):
        SoftQConfig(max_grad_norm="1")
    with pytest.raises(ValueError, match=r"SoftQConfig\.max_grad_norm must be None or a finite positive number"):
        SoftQConfig(max_grad_norm=math.nan)
    with pytest.raises(TypeError, match=r"SoftQConfig\.temperature must be a number >= 0, got NoneType"):
        SoftQConfig(temperature=None)
    # lr = 1e30: the first step sends θ to ~1e30, so Q(s, ·) overflows when the policy next acts.
    agent = SoftQ(cartpole(), SoftQConfig(**{**TINY, "lr": 1e30, "learning_starts": 20}), seed=0)
    with pytest.raises(FloatingPointError,
                       match=r"Q\(s, ·\) = \[.*\] is not finite at environment step \d+: the network has diverged"):
        agent.train(100, progress=False)
    assert agent.step == 20 and agent.updates == 1


# ------------------------------------------------------------------------------ mutation guards
# Each test below pins a behaviour that a plausible one-line bug would break without failing any other
# test (found by planting the bug).
def test_agent_update_regresses_on_the_target_networks_soft_value_with_its_own_discount():
    """The loss an update returns is ½ mean (Q_θ(s, a) - y)², y = r + γ(1 - d) α log mean_a' exp(Q_θ̄(s', a')/α),
    with the configured γ = 0.8 and α = 0.5 and the *target* network θ̄ (moved away from θ by τ = 0.5)."""
    config = SoftQConfig(**{**TINY, "discount": 0.8, "temperature": 0.5, "tau": 0.5})
    agent = SoftQ(cartpole(), config, seed=0)
    agent.train(130, progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.q_target.parameters()))
    batch = agent.buffer.sample(32)
    batch = batch._replace(terminated=torch.arange(32, dtype=batch.terminated.dtype) % 2)  # both branches
    with torch.no_grad():
        q_next = agent.q_target(batch.next_observations).double()
        v_next = 0.5 * (torch.logsumexp(q_next / 0.5, -1) - math.log(2))
        y = batch.rewards.double() + 0.8 * (1 - batch.terminated.double()) * v_next
        q_taken = agent.q(batch.observations).double()[torch.arange(32), batch.actions]
        expected = 0.5 * ((q_taken - y) ** 2).mean()
    loss = agent.update(batch)["q"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
