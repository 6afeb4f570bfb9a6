"""Demonstrations in the replay buffer, the hybrid objective's imitation term for SoftQ, pretrain & finetune."""

import gymnasium
import pytest
import torch

from pgm_control.rl import SoftQ, SoftQConfig, Transitions
from pgm_control.rl.demonstration_replay import (
    DemonstrationReplayBuffer,
    ImitationTerm,
    LargeMarginTerm,
    add_imitation_term,
    large_margin_loss,
    pretrain_and_finetune,
    use_demonstrations,
)


def demo_transitions(m, reward=1.0):
    return Transitions(torch.zeros(m, 4), torch.ones(m, dtype=torch.long), torch.full((m,), reward),
                       torch.zeros(m, 4), torch.zeros(m))


def filled_buffer(demo_fraction, m=100, own=300):
    buffer = DemonstrationReplayBuffer(1000, (4,), (), action_dtype=torch.int64, demonstrations=demo_transitions(m),
                                       demo_fraction=demo_fraction, seed=3)
    for _ in range(own):
        buffer.add(torch.ones(4), 0, 0.0, torch.ones(4), terminated=False)
    return buffer


def test_fixed_share_of_demonstrations_per_batch():
    batch = filled_buffer(0.25).sample(64)
    assert int(batch.rewards.sum()) == 16 and batch.observations.shape == (64, 4)


def test_uniform_union_draws_demonstrations_in_proportion():
    # M = 100 of 400 transitions: share 1/4; 4000 draws have SE sqrt(0.25 * 0.75 / 4000) = 0.0068, 5 SE = 0.035
    share = float(filled_buffer(None).sample(4000).rewards.mean())
    assert abs(share - 0.25) < 0.035


def test_empty_ring_samples_only_demonstrations():
    buffer = DemonstrationReplayBuffer(10, (4,), (), action_dtype=torch.int64, demonstrations=demo_transitions(3),
                                       demo_fraction=0.1)
    assert len(buffer) == 3 and float(buffer.sample(8).rewards.min()) == 1.0


@pytest.mark.parametrize("demos, fraction, error, message", [
    (demo_transitions(3)._replace(observations=torch.zeros(3, 5)), None, ValueError,
     r"observations must have shape \[3, 4\]"),
    (demo_transitions(3)._replace(actions=torch.ones(3)), None, TypeError, "must hold integers"),
    (demo_transitions(3)._replace(rewards=torch.tensor([1.0, float("nan"), 0.0])), None, ValueError, "finite"),
    (demo_transitions(3), 1.5, ValueError, r"demo_fraction must be None or a number in \[0, 1\]"),
    ((1, 2), None, TypeError, "demonstrations must be a pgm_control.rl.Transitions"),
])
def test_bad_demonstrations_are_named(demos, fraction, error, message):
    with pytest.raises(error, match=message):
        DemonstrationReplayBuffer(10, (4,), (), action_dtype=torch.int64, demonstrations=demos, demo_fraction=fraction)


def small_agent(**overrides):
    config = SoftQConfig(hidden=(8,), batch_size=8, learning_starts=8, eval_every=0, **overrides)
    return SoftQ(gymnasium.make("CartPole-v1"), config, seed=0)


def test_use_demonstrations_keeps_the_agents_transitions():
    agent = small_agent()
    agent.train(20, progress=False)
    own = agent.buffer.rewards[:20].clone()
    buffer = use_demonstrations(agent, demo_transitions(5, reward=7.0), demo_fraction=0.5)
    assert agent.buffer is buffer and len(buffer) == 25
    torch.testing.assert_close(buffer.rewards[:20], own)


def test_imitation_term_adds_lambda_times_negative_log_likelihood_to_the_update_loss():
    observations, actions = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 3)
    plain, hybrid = small_agent(), small_agent()
    add_imitation_term(hybrid, observations, actions, 0.7, batch_size=4, seed=5)
    # the same minibatch drawn independently: log π = log softmax(Q/α) of the untouched network
    index = torch.randint(6, (4,), generator=torch.Generator().manual_seed(5))
    log_pi = torch.log_softmax(hybrid.q(observations[index]) / hybrid.config.temperature, -1)
    expected = -0.7 * log_pi[torch.arange(4), actions[index]].mean()
    batch = demo_transitions(8)
    difference = hybrid.update(batch)["q"] - plain.update(batch)["q"]
    torch.testing.assert_close(difference, expected.detach())
    assert [type(term) for term in hybrid.auxiliary_losses] == [ImitationTerm]
    add_imitation_term(hybrid, observations, actions, 0.0)
    assert hybrid.auxiliary_losses == ()


def test_large_margin_loss_matches_a_hand_computed_table():
    q = torch.tensor([[1.0, 0.5, 0.2], [3.0, 1.0, 2.5], [0.0, 0.9, 0.0]], dtype=torch.float64)
    # max_a [Q(s, a) + 0.8 [a != a_E]] - Q(s, a_E) by hand: max(1.8, 0.5, 1.0) - 0.5, max(3.0, 1.8, 3.3) - 3.0,
    # max(0.8, 1.7, 0.0) - 0.0
    loss = large_margin_loss(q, torch.tensor([1, 0, 2]), 0.8)
    torch.testing.assert_close(loss, torch.tensor([1.3, 0.3, 1.7], dtype=torch.float64), rtol=0, atol=1e-12)


def test_large_margin_loss_is_zero_once_the_demonstrated_action_leads_by_the_margin():
    others = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    lead = 2 * torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64) - 1
    lead[:10] = 0.5  # exactly the margin
    q = torch.cat([others, (others.amax(-1) + lead)[:, None]], -1)  # a_E = 3 leads the best other by `lead`
    loss = large_margin_loss(q, torch.full((50,), 3), 0.5)
    assert float(loss[lead >= 0.5].abs().max()) == 0.0 and int((lead >= 0.5).sum()) > 10
    # otherwise the shortfall: max(Q_other + l, Q_E) - Q_E = l - lead
    torch.testing.assert_close(loss[lead < 0.5], 0.5 - lead[lead < 0.5], rtol=0, atol=1e-12)


def test_large_margin_gradient_raises_the_demonstrated_action_and_lowers_the_leading_other():
    q = torch.tensor([[1.0, 0.5, 0.2], [0.0, 0.1, 2.0]], dtype=torch.float64, requires_grad=True)
    large_margin_loss(q, torch.tensor([1, 2]), 0.8).sum().backward()
    # row 0: J_E = Q(s, 0) + 0.8 - Q(s, 1); row 1: a_E = 2 leads by 1.9 > 0.8, J_E = 0 with no gradient
    expected = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(q.grad, expected, rtol=0, atol=0)


def test_margin_term_adds_lambda_e_times_the_mean_margin_loss_to_the_update_loss():
    demos = demo_transitions(6)._replace(observations=torch.randn(6, 4, generator=torch.Generator().manual_seed(0)))
    plain, dqfd = small_agent(), small_agent()
    use_demonstrations(plain, demos, demo_fraction=0.5)
    use_demonstrations(dqfd, demos, demo_fraction=0.5, margin=0.8, margin_weight=0.3)
    # the term's minibatch of B = 8 demonstrated transitions, drawn independently with the agent's seed 0
    index = torch.randint(6, (8,), generator=torch.Generator().manual_seed(0))
    q = dqfd.q(demos.observations[index])
    others = q[:, 0] + 0.8  # every demonstrated action is 1, so the only other action is 0
    expected = 0.3 * (torch.maximum(others, q[:, 1]) - q[:, 1]).mean()
    batch = demo_transitions(8)
    difference = dqfd.update(batch)["q"] - plain.update(batch)["q"]
    torch.testing.assert_close(difference, expected.detach())
    assert [type(term) for term in dqfd.auxiliary_losses] == [LargeMarginTerm]


def test_margin_and_imitation_terms_are_kept_side_by_side_and_removed_one_at_a_time():
    agent = small_agent()
    use_demonstrations(agent, demo_transitions(4), margin=0.8)
    add_imitation_term(agent, torch.zeros(2, 4), torch.tensor([0, 1]), 0.5)
    assert [type(term) for term in agent.auxiliary_losses] == [LargeMarginTerm, ImitationTerm]
    use_demonstrations(agent, demo_transitions(4))
    assert [type(term) for term in agent.auxiliary_losses] == [ImitationTerm]


def test_margin_rejects_bad_input():
    from pgm_control.rl import SAC, SACConfig
    sac = SAC(gymnasium.make("Pendulum-v1"), SACConfig(hidden=(8,), eval_every=0), seed=0)
    box_demos = Transitions(torch.zeros(2, 3), torch.zeros(2, 1), torch.ones(2), torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(TypeError, match=r"margin needs a Discrete-action agent \(pgm_control.rl.SoftQ\), got SAC"):
        use_demonstrations(sac, box_demos, margin=0.8)
    with pytest.raises(ValueError, match="margin must be a positive, finite number"):
        use_demonstrations(small_agent(), demo_transitions(2), margin=0.0)
    with pytest.raises(TypeError, match="margin must be a positive number"):
        use_demonstrations(small_agent(), demo_transitions(2), margin="0.8")
    with pytest.raises(ValueError, match="margin_weight must be a finite number >= 0"):
        use_demonstrations(small_agent(), demo_transitions(2), margin=0.8, margin_weight=-1.0)
    with pytest.raises(ValueError, match="pass keep_demonstrations=True"):
        pretrain_and_finetune(small_agent(), demo_transitions(2), 10, margin=0.8)


def test_imitation_term_rejects_bad_input():
    agent = small_agent()
    with pytest.raises(ValueError, match="bc_weight must be a finite number >= 0"):
        add_imitation_term(agent, torch.zeros(2, 4), torch.tensor([0, 1]), -1.0)
    with pytest.raises(ValueError, match=r"actions must lie in 0..1"):
        add_imitation_term(agent, torch.zeros(2, 4), torch.tensor([0, 2]), 1.0)
    with pytest.raises(ValueError, match="temperature > 0"):
        add_imitation_term(small_agent(temperature=0.0), torch.zeros(2, 4), torch.tensor([0, 1]), 1.0)


def test_pretrain_and_finetune_rejects_bad_input():
    with pytest.raises(TypeError, match=r"demonstrations must be a pgm_control\.rl\.Transitions"):
        pretrain_and_finetune(small_agent(), (torch.zeros(2, 4), torch.zeros(2)), 10)
    with pytest.raises(TypeError, match="keep_demonstrations must be True or False"):
        pretrain_and_finetune(small_agent(), demo_transitions(2), 10, keep_demonstrations="yes")


def test_pretrain_and_finetune_clones_then_trains_with_the_demonstrations_kept():
    agent = small_agent()
    demos = demo_transitions(16)
    clone, history = pretrain_and_finetune(agent, demos, 30, keep_demonstrations=True, demo_fraction=0.5,
                                           bc_weight=0.1, bc_steps=100, bc_lr=0.05)
    assert clone.log_likelihood[-1] > clone.log_likelihood[0]
    assert isinstance(agent.buffer, DemonstrationReplayBuffer) and len(agent.buffer) == 16 + 30
    assert agent.step == 30 and len(history.episode_returns) >= 1


def test_sac_keeps_box_demonstrations_in_its_buffer():
    from pgm_control.rl import SAC, SACConfig
    agent = SAC(gymnasium.make("Pendulum-v1"), SACConfig(hidden=(8,), eval_every=0), seed=0)
    demos = Transitions(torch.zeros(4, 3), torch.full((4, 1), 0.5), torch.ones(4), torch.zeros(4, 3), torch.zeros(4))
    buffer = use_demonstrations(agent, demos, demo_fraction=1.0)
    batch = buffer.sample(6)
    assert batch.actions.shape == (6, 1) and batch.actions.dtype == torch.float32


def test_sac_imitation_term_adds_lambda_times_negative_log_likelihood_to_the_policy_loss():
    from pgm_control.rl import SAC, SACConfig, squashed_gaussian_log_prob

    def agent():
        return SAC(gymnasium.make("Pendulum-v1"), SACConfig(hidden=(8,), eval_every=0), seed=0)

    observations = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    actions = torch.linspace(-1.5, 1.5, 5)[:, None]  # inside Pendulum's Box [-2, 2]
    plain, hybrid = agent(), agent()
    add_imitation_term(hybrid, observations, actions, 0.5, batch_size=3, seed=1)
    index = torch.randint(5, (3,), generator=torch.Generator().manual_seed(1))
    mean, log_std = hybrid.policy(observations[index])
    u = torch.atanh(actions[index] / 2.0)  # center 0, scale h = 2
    expected = -0.5 * squashed_gaussian_log_prob(u, mean, log_std, 2.0).mean()
    batch = Transitions(torch.randn(8, 3), torch.zeros(8, 1), torch.zeros(8), torch.randn(8, 3), torch.zeros(8))
    difference = hybrid.update(batch)["policy"] - plain.update(batch)["policy"]
    torch.testing.assert_close(difference, expected.detach())
    with pytest.raises(ValueError, match="on or outside the action Box"):
        add_imitation_term(hybrid, observations, actions * 2, 0.5)
