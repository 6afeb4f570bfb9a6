"""ObservationReward: r_ψ(o, a) on vector observations, checked by hand for its linear form."""

import pytest
import torch

from pgm_control.models import ObservationReward


def test_linear_reward_by_hand_for_box_discrete_and_state_only_inputs():
    observations = torch.tensor([[[1.0, 2.0], [0.0, -1.0]]])  # [N=1, T=2, d=2]
    for reward, actions, inputs in [
        (ObservationReward(2, hidden=()), torch.zeros(1, 2), observations),
        (ObservationReward(2, 1, hidden=()), torch.tensor([[[0.5], [-2.0]]]),
         torch.cat([observations, torch.tensor([[[0.5], [-2.0]]])], -1)),
        (ObservationReward(2, num_actions=3, hidden=()), torch.tensor([[2, 0]]),
         torch.cat([observations, torch.tensor([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])], -1)),
    ]:
        layer = reward.network[0]
        expected = inputs.double() @ layer.weight[0] + layer.bias[0]  # ψᵀ [o, φ(a)] + b
        value = reward(observations, actions)
        assert value.shape == (1, 2) and value.dtype == torch.float64
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-12)


def test_seeded_and_the_global_rng_untouched():
    state = torch.random.get_rng_state()
    first, second = ObservationReward(3, seed=4), ObservationReward(3, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(first(torch.ones(5, 3), None), second(torch.ones(5, 3), None))


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(observation_dim=0), "observation_dim must be a positive integer"),
    (dict(observation_dim=3, action_dim=-1), "action_dim must be a non-negative integer"),
    (dict(observation_dim=3, action_dim=1, num_actions=2), "not both"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        ObservationReward(**arguments)
