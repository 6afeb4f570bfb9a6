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


@pytest.mark.parametrize("call, error, message", [
    (lambda b: b.sample(-1), ValueError, r"batch_size must be a positive integer, got -1"),
    (lambda b: b.sample(0), ValueError, r"batch_size must be a positive integer, got 0"),
    (lambda b: b.sample("4"), TypeError, r"batch_size must be a positive integer, got '4'"),
    (lambda b: b.add([1.0, 2.0, 3.0], [0.0], 1.0, [0.0, 0.0], False), ValueError,
     r"observation must be a number array of shape \[2\]"),
    (lambda b: b.add([1.0, 2.0], [0.0], "high", [0.0, 0.0], False), ValueError, r"reward must be a number"),
    (lambda b: b.add([1.0, 2.0], [0.0, 1.0], 1.0, [0.0, 0.0], False), ValueError,
     r"action must be a number array of shape \[1\]"),
])
def test_bad_arguments_of_sample_and_add(call, error, message):
    buffer = filled(4, 3)
    with pytest.raises(error, match=message):
        call(buffer)
    assert len(buffer) == 3


@pytest.mark.parametrize("kwargs, error, message", [
    ({"observation_shape": 2}, TypeError, r"observation_shape must be a tuple of non-negative integers, got 2"),
    ({"observation_shape": (-2,)}, ValueError, r"observation_shape\[0\] must be a non-negative integer, got -2"),
    ({"action_dtype": "float"}, TypeError, r"action_dtype must be torch\.float32 .* or torch\.int64"),
    ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*63 - 1\], got -1"),
    ({"seed": 2**64}, ValueError, r"seed must be an integer in \[0, 2\*\*63 - 1\]"),
    ({"capacity": 2.0}, TypeError, r"capacity must be a positive integer, got 2\.0"),
])
def test_bad_construction_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        ReplayBuffer(**{"capacity": 4, "observation_shape": (2,), **kwargs})


@pytest.mark.parametrize("change, message", [
    ({"size": 5}, r"size 5 and position 3 do not fit a buffer of capacity 4"),
    ({"position": 1}, r"size 3 and position 1 do not fit"),
    ({"rewards": torch.zeros(3, dtype=torch.float64)}, r"rewards must be a torch\.float32 tensor of shape \[3\]"),
    ({"observations": torch.zeros(2, 2)}, r"observations must be a torch\.float32 tensor of shape \[3, 2\]"),
    ({"rewards": torch.tensor([0.0, float("nan"), 1.0])}, r"rewards holds non-finite values"),
    ({"generator": None}, r"generator must be a torch\.Generator state"),
    ({"size": -1}, r"size must be a non-negative integer, got -1"),
])
def test_a_corrupt_state_is_rejected_before_anything_is_written(change, message):
    state = {**filled(4, 3, seed=1).state_dict(), **change}
    buffer = filled(4, 2, seed=2)
    before = buffer.state_dict()
    with pytest.raises(ValueError, match=message):
        buffer.load_state_dict(state)
    after = buffer.state_dict()
    assert after["size"] == before["size"] == 2 and torch.equal(after["observations"], before["observations"])
    assert torch.equal(after["generator"], before["generator"])
