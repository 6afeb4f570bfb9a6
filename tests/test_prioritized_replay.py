"""Proportional prioritized replay (Schaul et al. 2016) over demonstrations and the agent's ring, as in DQfD:
sampling frequencies, importance weights, priority refreshes, the demonstration bonus, bad arguments."""

import math

import gymnasium
import numpy as np
import pytest
import torch

from pgm_control.rl import (
    SAC,
    DemonstrationReplayBuffer,
    Prioritization,
    SACConfig,
    SoftQ,
    SoftQConfig,
    Transitions,
    pretrain_and_finetune,
    priority_importance_weights,
    priority_log_probabilities,
    use_demonstrations,
)

EPS_A, EPS_D = 0.001, 1.0  # DQfD's ε_a, ε_d (the defaults)


def demos(m, dim=4):
    """M demonstrated transitions whose reward is the row number (-1, -2, ...: negative, unlike the ring's)."""
    rewards = -1.0 - torch.arange(m, dtype=torch.float32)
    zeros = torch.zeros(m, dim)
    return Transitions(zeros, torch.ones(m, dtype=torch.long), rewards, zeros, torch.zeros(m))


def buffer_with(priorities, m=2, prioritization=True, capacity=10):
    """A prioritized buffer of M demonstrations and len(priorities) - M own transitions (reward = slot), its
    priority vector set by hand."""
    buffer = DemonstrationReplayBuffer(capacity, (4,), (), action_dtype=torch.int64, demonstrations=demos(m),
                                       prioritized=prioritization, seed=7)
    for slot in range(len(priorities) - m):
        buffer.add(torch.ones(4), 0, float(slot), torch.ones(4), terminated=False)
    buffer.priorities[:len(priorities)] = torch.tensor(priorities, dtype=torch.float64)
    return buffer


def test_sampling_frequencies_follow_p_to_the_omega():
    priorities = [0.5, 1.0, 2.0, 4.0, 8.0]
    omega, draws = 0.6, 40_000
    buffer = buffer_with(priorities, prioritization=Prioritization(exponent=omega))
    sample = buffer.sample_prioritized(draws)
    expected = np.array(priorities) ** omega / sum(p ** omega for p in priorities)  # P(i), by hand
    counts = np.bincount(sample.index.numpy(), minlength=5)
    chi_square = float(((counts - draws * expected) ** 2 / (draws * expected)).sum())
    # 4 degrees of freedom: P(χ² > 18.47) = 0.001, a fixed seed, and a wrong P (e.g. ω = 1 or 0) gives χ² > 1000
    assert chi_square < 18.47
    # the rows hold the transitions at those indices: demonstrations 0, 1 (rewards -1, -2), then ring slots 0..2
    truth = torch.tensor([-1.0, -2.0, 0.0, 1.0, 2.0])[sample.index]
    torch.testing.assert_close(sample.transitions.rewards, truth, rtol=0, atol=0)
    assert sample.transitions.observations.shape == (draws, 4) and sample.transitions.actions.dtype == torch.int64


def test_priority_log_probabilities_match_the_closed_form_and_stay_finite_for_large_omega():
    p = torch.tensor([1e-3, 0.2, 3.0, 50.0], dtype=torch.float64)
    for omega in (0.0, 0.4, 1.0, 2.5):
        truth = [x ** omega / sum(y ** omega for y in p.tolist()) for x in p.tolist()]
        torch.testing.assert_close(priority_log_probabilities(p, omega).exp(),
                                   torch.tensor(truth, dtype=torch.float64), rtol=1e-12, atol=0)
    assert torch.isfinite(priority_log_probabilities(p, 400.0)).all()  # p^400 overflows float64; the log-space form not


def test_importance_weights_in_closed_form():
    priorities = [0.5, 1.0, 2.0, 4.0]
    omega, beta, n = 0.7, 0.6, 4
    probs = [p ** omega / sum(q ** omega for q in priorities) for p in priorities]
    raw = [(n * p) ** -beta for p in probs]  # (N P(i))^-β, normalized by the largest over all N rows
    index = torch.tensor([3, 2, 2, 1])  # not row 0, the least likely: the maximum is over all N rows, not the batch
    truth = torch.tensor([raw[i] / max(raw) for i in index.tolist()], dtype=torch.float64)
    weights = priority_importance_weights(torch.tensor(probs, dtype=torch.float64).log(), index, beta)
    torch.testing.assert_close(weights, truth, rtol=1e-12, atol=0)
    least_likely = priority_importance_weights(torch.tensor(probs).log(), torch.tensor([0]), beta)
    assert float(weights.max()) < 0.9 and float(least_likely) == 1.0
    # the buffer returns the same weights (float32) for the rows it drew
    buffer = buffer_with(priorities, prioritization=Prioritization(exponent=omega, importance_exponent=beta))
    sample = buffer.sample_prioritized(50)
    truth = torch.tensor([raw[i] / max(raw) for i in sample.index.tolist()], dtype=torch.float32)
    torch.testing.assert_close(sample.weights, truth, rtol=1e-6, atol=0)


def test_demonstration_bonus_goes_to_demonstrated_rows_only_and_new_transitions_enter_at_the_max():
    buffer = buffer_with([1.0] * 5, m=2)
    buffer.update_priorities(torch.tensor([0, 3, 1, 4]), torch.tensor([0.5, -2.0, 0.0, 0.25]))
    expected = [0.5 + EPS_A + EPS_D, 0.0 + EPS_A + EPS_D, 1.0, 2.0 + EPS_A, 0.25 + EPS_A]
    torch.testing.assert_close(buffer.priorities[:5], torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-15)
    buffer.add(torch.ones(4), 1, 0.0, torch.ones(4), terminated=True)  # ring slot 3 = row 5
    assert float(buffer.priorities[5]) == 2.0 + EPS_A == buffer.max_priority


def test_state_dict_keeps_the_ring_and_restored_rows_enter_at_the_max_priority():
    buffer = buffer_with([1.0] * 5, m=2)
    buffer.update_priorities(torch.tensor([2]), torch.tensor([3.0]))
    state = buffer.state_dict()
    assert set(state) == {"capacity", "position", "size", "generator", "observations", "actions", "rewards",
                          "next_observations", "terminated"}
    restored = buffer_with([1.0] * 2, m=2)  # demonstrations only
    restored.max_priority = 5.0
    restored.load_state_dict(state)
    assert len(restored) == 5 and restored.priorities[2:5].tolist() == [5.0] * 3
    assert restored.priorities[:2].tolist() == [1.0, 1.0]


def small_agent(**overrides):
    config = SoftQConfig(hidden=(8,), batch_size=6, learning_starts=0, eval_every=0, **overrides)
    return SoftQ(gymnasium.make("CartPole-v1"), config, seed=0)


def constant_q(agent, values):
    """Q_θ(s, ·) = values for every s (last layer's weights zeroed), in both networks."""
    with torch.no_grad():
        for network in (agent.q, agent.q_target):
            last = [m for m in network.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.weight.zero_()
            last.bias.copy_(torch.tensor(values))


def test_update_weights_the_rows_and_refreshes_the_priorities_to_abs_td_error_plus_epsilon():
    agent = small_agent()
    buffer = use_demonstrations(agent, demos(3), prioritized=True)
    for t in range(4):
        buffer.add(torch.full((4,), 0.1 * t), t % 2, 1.0, torch.zeros(4), terminated=t == 3)
    constant_q(agent, [2.0, 1.0])
    buffer.priorities[:7] = torch.arange(1.0, 8.0, dtype=torch.float64)  # unequal, so the weights are not all 1
    sample = buffer.sample_prioritized(6)
    assert float(sample.weights.min()) < 0.9
    # by hand: V(s') = α log ½ (e^{2/α} + e^{1/α}), y = r + γ (1 - d) V, δ = Q(s, a) - y with Q(·, a) = (2, 1)[a]
    alpha, gamma = agent.config.temperature, agent.config.discount
    value = alpha * math.log(0.5 * (math.exp(2.0 / alpha) + math.exp(1.0 / alpha)))
    batch = sample.transitions
    y = batch.rewards.double() + gamma * (1 - batch.terminated.double()) * value
    delta = torch.tensor([2.0, 1.0], dtype=torch.float64)[batch.actions] - y
    loss = agent.update(batch, weights=sample.weights)["q"]
    torch.testing.assert_close(loss.double(), 0.5 * (sample.weights.double() * delta ** 2).mean(), rtol=1e-5, atol=0)
    buffer.update_priorities(sample.index, agent.last_td_errors)
    bonus = (sample.index < 3).double() * EPS_D
    torch.testing.assert_close(buffer.priorities[sample.index], delta.abs() + EPS_A + bonus, rtol=1e-6, atol=0)
    assert bool((sample.index < 3).any() and (sample.index >= 3).any())  # both kinds of rows drawn (buffer seed 7)


def test_training_loop_passes_the_weights_and_refreshes_the_sampled_rows():
    agent = small_agent()
    use_demonstrations(agent, demos(5), prioritized=Prioritization(importance_exponent=1.0))
    calls, update = [], agent.update

    def spy(batch, weights=None):
        losses = update(batch, weights=weights)
        calls.append((batch.rewards.clone(), weights, agent.last_td_errors))
        return losses

    agent.update = spy
    agent.train(5, progress=False)
    assert len(calls) == 5 and all(w is not None and w.shape == (6,) and float(w.max()) <= 1.0 for _, w, _ in calls)
    # the last update's rows now hold |δ| + ε_a (+ ε_d): every demonstrated row's priority is above ε_d
    rewards, _, td = calls[-1]
    demonstrated = rewards < 0
    assert bool(demonstrated.any())
    priorities = td.double() + EPS_A + EPS_D * demonstrated.double()
    stored = agent.buffer.priorities[:len(agent.buffer)]
    assert all(bool(torch.isclose(stored, p, rtol=0, atol=1e-12).any()) for p in priorities)


def test_sac_weights_its_q_loss_and_reports_the_critics_mean_abs_td_error():
    agent = SAC(gymnasium.make("Pendulum-v1"), SACConfig(variant="v1", hidden=(8,), eval_every=0), seed=0)
    observations = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    batch = Transitions(observations[:5], torch.zeros(5, 1), torch.arange(5.0), observations[5:], torch.zeros(5))
    weights = torch.tensor([1.0, 0.5, 0.25, 1.0, 0.1])
    with torch.no_grad():  # v1: y = r + γ V_ψ̄(s'), deterministic
        y = batch.rewards + agent.config.discount * agent.value_target(batch.next_observations)
        q1, q2 = agent.q1(batch.observations, batch.actions), agent.q2(batch.observations, batch.actions)
    loss = agent.update(batch, weights=weights)["q"]
    torch.testing.assert_close(loss, 0.5 * (weights * ((q1 - y) ** 2 + (q2 - y) ** 2)).mean(), rtol=1e-5, atol=0)
    torch.testing.assert_close(agent.last_td_errors, 0.5 * ((q1 - y).abs() + (q2 - y).abs()), rtol=1e-6, atol=0)
    box_demos = Transitions(torch.zeros(2, 3), torch.zeros(2, 1), torch.ones(2), torch.zeros(2, 3), torch.zeros(2))
    buffer = use_demonstrations(agent, box_demos, prioritized=True)
    assert buffer.sample_prioritized(3).transitions.actions.shape == (3, 1)


@pytest.mark.parametrize("fields, error, message", [
    ({"exponent": -0.1}, ValueError, r"Prioritization.exponent must be a finite number >= 0"),
    ({"exponent": "0.4"}, TypeError, r"Prioritization.exponent must be a number >= 0"),
    ({"importance_exponent": 1.5}, ValueError, r"Prioritization.importance_exponent must be a number in \[0, 1\]"),
    ({"importance_exponent": -0.1}, ValueError, r"Prioritization.importance_exponent must be a number in \[0, 1\]"),
    ({"importance_exponent": float("nan")}, ValueError, r"Prioritization.importance_exponent"),
    ({"epsilon": 0.0}, ValueError, r"Prioritization.epsilon must be a positive, finite number"),
    ({"epsilon": -1.0}, ValueError, r"Prioritization.epsilon must be a positive, finite number"),
    ({"demo_bonus": -1.0}, ValueError, r"Prioritization.demo_bonus must be a finite number >= 0"),
])
def test_bad_prioritization_constants_are_named(fields, error, message):
    with pytest.raises(error, match=message):
        Prioritization(**fields)


def test_bad_prioritized_arguments_are_named():
    with pytest.raises(TypeError, match=r"prioritized must be True, False or a pgm_control\.rl\.Prioritization"):
        use_demonstrations(small_agent(), demos(2), prioritized="yes")
    with pytest.raises(ValueError, match="demo_fraction and prioritized exclude each other"):
        use_demonstrations(small_agent(), demos(2), prioritized=True, demo_fraction=0.5)
    with pytest.raises(ValueError, match="prioritized applies to the demonstrations kept in the replay buffer"):
        pretrain_and_finetune(small_agent(), demos(2), 10, prioritized=True)
    plain = DemonstrationReplayBuffer(10, (4,), (), action_dtype=torch.int64, demonstrations=demos(2))
    with pytest.raises(ValueError, match="build it with prioritized=True"):
        plain.sample_prioritized(4)
    with pytest.raises(ValueError, match=r"td_errors must be a tensor of shape \[2\]"):
        buffer_with([1.0] * 3).update_priorities(torch.tensor([0, 1]), torch.zeros(3))
    with pytest.raises(ValueError, match="td_errors must be finite"):
        buffer_with([1.0] * 3).update_priorities(torch.tensor([0, 1]), torch.tensor([0.0, math.nan]))


def test_update_priorities_rejects_rows_outside_the_buffer():
    buffer = buffer_with([1.0] * 3)
    with pytest.raises(ValueError, match=r"index must lie in 0\.\.2 \(rows of the buffer"):
        buffer.update_priorities(torch.tensor([0, 3]), torch.zeros(2))
    with pytest.raises(TypeError, match="index must be the long tensor"):
        buffer.update_priorities(torch.tensor([0.0, 1.0]), torch.zeros(2))
