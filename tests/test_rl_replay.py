"""The replay buffer: ring overwrite order, seeded sampling, state round trip, errors."""

import pytest
import torch

from pgm_control.rl.replay import ReplayBuffer


def filled(capacity, num_added, seed=0):
    """A buffer of 2-D observations whose transition t holds observation (t, -t), reward t."""
    buffer = ReplayBuffer(capacity, (2,), (1,), seed=seed)
    for t in range(num_added):
        buffer.add([t, -t], [0.5 * t], float(t), [t + 1, -t - 1], terminated=t % 3 == 0)
    return buffer


def test_shapes_and_dtypes():
    buffer = filled(10, 4)
    batch = buffer.sample(7)
    assert batch.observations.shape == (7, 2) and batch.next_observations.shape == (7, 2)
    assert batch.actions.shape == (7, 1) and batch.rewards.shape == (7,) and batch.terminated.shape == (7,)
    assert all(x.dtype == torch.float32 for x in batch)
    discrete = ReplayBuffer(5, (3,), (), action_dtype=torch.int64)
    discrete.add([0, 0, 0], 2, 1.0, [1, 1, 1], False)
    assert discrete.sample(4).actions.tolist() == [2, 2, 2, 2]


def test_wraparound_overwrites_the_oldest():
    buffer = filled(4, 6)  # transitions 0..5 into 4 slots: 4, 5 overwrite 0, 1
    assert len(buffer) == 4 and buffer.position == 2
    assert buffer.rewards.tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.observations[:, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.next_observations[:, 1].tolist() == [-5.0, -6.0, -3.0, -4.0]
    assert buffer.terminated.tolist() == [0.0, 0.0, 0.0, 1.0]  # t = 3 is the only multiple of 3 left


def test_a_batch_is_consistent_and_covers_only_filled_slots():
    buffer = filled(100, 30)
    batch = buffer.sample(2000)
    t = batch.rewards
    assert t.max() <= 29 and t.min() >= 0
    assert torch.equal(batch.observations, torch.stack([t, -t], -1))
    assert torch.equal(batch.actions[:, 0], 0.5 * t)
    assert torch.equal(batch.next_observations, torch.stack([t + 1, -t - 1], -1))
    # every filled slot is drawn: 2000 draws over 30 slots miss one with probability 30·(29/30)^2000 < 1e-28
    assert set(t.long().tolist()) == set(range(30))


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    a, b, c = filled(50, 50, seed=3), filled(50, 50, seed=3), filled(50, 50, seed=4)
    first, second = a.sample(16), b.sample(16)
    assert all(torch.equal(x, y) for x, y in zip(first, second))
    assert not torch.equal(first.rewards, c.sample(16).rewards)


def test_state_dict_round_trip_continues_the_same_batches():
    buffer = filled(8, 11)
    buffer.sample(5)
    copy = ReplayBuffer(8, (2,), (1,), seed=99)
    copy.load_state_dict(buffer.state_dict())
    assert (copy.position, copy.size) == (buffer.position, buffer.size)
    for _ in range(3):
        assert all(torch.equal(x, y) for x, y in zip(buffer.sample(6), copy.sample(6)))
    copy.add([1, 1], [1], 1.0, [1, 1], False)
    buffer.add([1, 1], [1], 1.0, [1, 1], False)
    assert torch.equal(copy.observations, buffer.observations)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(3, (1,)).sample(2)
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        ReplayBuffer(0, (1,))
    with pytest.raises(ValueError, match="capacity 8, this one 4"):
        ReplayBuffer(4, (2,), (1,)).load_state_dict(filled(8, 2).state_dict())
