"""Demonstrations: construction, padding, feature counts and validation errors."""

import numpy as np
import pytest
import torch

from pgm_control import Demonstrations, TabularMDP, sample_trajectories
from pgm_control.envs import GridWorld

# A 1×3 corridor: states 0, 1, 2; actions N, S, E, W; deterministic.
CORRIDOR = GridWorld(["..."])
EAST, WEST = 2, 3


def test_from_sequences_pads_and_masks():
    demos = Demonstrations.from_sequences(states=[[0, 1, 2], [1, 0]], actions=[[EAST, EAST], [WEST]])
    assert demos.states.tolist() == [[0, 1, 2], [1, 0, 0]]
    assert demos.actions.tolist() == [[EAST, EAST], [WEST, 0]]
    assert demos.lengths.tolist() == [2, 1]
    assert demos.mask.tolist() == [[True, True], [True, False]]
    assert demos.validate(CORRIDOR) == 2


def test_padding_is_zeroed_and_never_read():
    demos = Demonstrations([[0, 1, 99]], [[EAST, 42]], lengths=[1])
    assert demos.states.tolist() == [[0, 1, 0]] and demos.actions.tolist() == [[EAST, 0]]
    demos.validate(CORRIDOR)  # the padding (99, 42) would be out of range


def test_from_trajectories_and_shapes():
    policy = torch.full((3, 4), 0.25, dtype=torch.float64)
    batch = sample_trajectories(CORRIDOR, policy, horizon=4, num=5, generator=torch.Generator().manual_seed(0))
    demos = Demonstrations.from_trajectories(batch, demonstrators=[0, 1, 0, 1, 1])
    assert demos.states.shape == (5, 5) and demos.actions.shape == (5, 4)
    assert demos.num_demonstrations == 5 and demos.horizon == 4 and demos.num_demonstrators == 2
    assert demos.validate(CORRIDOR, horizon=4) == 4


def test_feature_counts_and_start_distribution():
    features = torch.eye(3, dtype=torch.float64)[:, None, :].expand(3, 4, 3)  # indicator of the state
    demos = Demonstrations.from_sequences(states=[[0, 1, 2], [2, 2]], actions=[[EAST, EAST], [EAST]])
    # visits (before each action): episode 1: states 0, 1; episode 2: state 2 -> averaged over N = 2
    assert demos.feature_counts(features).tolist() == [0.5, 0.5, 0.5]
    assert demos.start_distribution(3).tolist() == [0.5, 0.0, 0.5]


@pytest.mark.parametrize("states, actions, kwargs, message", [
    ([[0, 1], [0]], [[EAST], []], {}, "rectangular"),
    (torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 2, dtype=torch.long), {}, "empty"),
    ([[0, 1]], [[EAST, EAST]], {}, "one more than actions"),
    ([[0, 1, 2]], [[EAST, EAST]], {"lengths": [3]}, "lengths must lie in 0..T"),
    ([[0, -1, 2]], [[EAST, EAST]], {}, "non-negative"),
    ([[0.5, 1, 2]], [[EAST, EAST]], {}, "integers"),
])
def test_construction_errors(states, actions, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Demonstrations(states, actions, **kwargs)


def test_from_sequences_errors():
    with pytest.raises(ValueError, match="needs 3 states"):
        Demonstrations.from_sequences(states=[[0, 1]], actions=[[EAST, EAST]])
    with pytest.raises(ValueError, match="empty"):
        Demonstrations.from_sequences(states=[], actions=[])


@pytest.mark.parametrize("states, actions, horizon, message", [
    ([[0, 1, 7]], [[EAST, EAST]], None, r"states\[0, 2\] = 7 is not a state"),
    ([[0, 1, 2]], [[EAST, 4]], None, r"actions\[0, 1\] = 4 is not an? action"),
    ([[0, 1, 2]], [[EAST, EAST]], 3, "horizon=3 but the demonstrations have T=2"),
    ([[0, 2, 2]], [[EAST, EAST]], None, r"step 0: the transition 0 --2--> 2 has probability 0"),
])
def test_validation_against_the_mdp(states, actions, horizon, message):
    with pytest.raises(ValueError, match=message):
        Demonstrations(states, actions).validate(CORRIDOR, horizon)


def test_validation_with_successor_lists_and_dense_agree():
    demos = Demonstrations([[0, 1, 1]], [[EAST, 0]])  # N from state 1 bumps into the edge: stays
    dense = TabularMDP(CORRIDOR.transitions, CORRIDOR.rewards)
    assert demos.validate(CORRIDOR) == demos.validate(dense) == 2


def test_indexing_keeps_lengths_and_demonstrators():
    demos = Demonstrations.from_sequences(states=[[0, 1, 2], [1, 0], [2, 2, 2]],
                                          actions=[[EAST, EAST], [WEST], [EAST, EAST]], demonstrators=[0, 1, 1])
    picked = demos[torch.tensor([False, True, True])]
    assert picked.lengths.tolist() == [1, 2] and picked.demonstrators.tolist() == [1, 1]
    assert demos[0].states.tolist() == [[0, 1, 2]] and len(demos[1:]) == 2


# ----------------------------------------------------------------------------------------------------
# Files


def test_save_and_load_round_trip_exactly(tmp_path):
    demos = Demonstrations.from_sequences(states=[[0, 1, 2], [1, 0]], actions=[[EAST, EAST], [WEST]],
                                          demonstrators=[1, 0])
    demos.save(tmp_path / "demos")  # exactly this name: no ".npz" appended
    loaded = Demonstrations.load(tmp_path / "demos")
    for name in ("states", "actions", "lengths", "demonstrators"):
        assert torch.equal(getattr(loaded, name), getattr(demos, name)), name
    plain = Demonstrations([[0, 1]], [[EAST]])
    plain.save(tmp_path / "plain.npz")
    assert Demonstrations.load(tmp_path / "plain.npz").demonstrators is None


def _write_npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    return path


def test_corrupt_demonstration_files_raise_one_value_error_naming_the_file(tmp_path):
    good = tmp_path / "good.npz"
    Demonstrations([[0, 1, 2]], [[EAST, EAST]]).save(good)
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:100])
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(500))
    np.save(tmp_path / "single.npy", np.zeros(3))
    with open(tmp_path / "pickled.npz", "wb") as file:
        np.save(file, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    fmt = "pgm_control demonstrations 1"
    cases = {
        "empty.npz": "is empty",
        "cut.npz": r"cut\.npz is not a readable demonstrations file",
        "random.npz": r"random\.npz is not a readable demonstrations file",
        "single.npy": "a single .npy array",
        "pickled.npz": r"pickled\.npz is not a readable demonstrations file .*allow_pickle",
        _write_npz(tmp_path / "foreign.npz", states=np.zeros((1, 2))).name: r"foreign\.npz is not a demonstrations",
        _write_npz(tmp_path / "old.npz", format=np.array("pgm_control demonstrations 0")).name: "reads 'pgm_control",
        _write_npz(tmp_path / "missing.npz", format=np.array(fmt), states=np.zeros((1, 2), dtype=np.int64)).name:
            r"must hold the arrays",
        _write_npz(tmp_path / "shapes.npz", format=np.array(fmt), states=np.zeros((1, 5), dtype=np.int64),
                   actions=np.zeros((1, 2), dtype=np.int64), lengths=np.array([2])).name:
            r"shapes\.npz: invalid demonstrations: states must have shape",
        _write_npz(tmp_path / "floats.npz", format=np.array(fmt), states=np.full((1, 3), 0.5),
                   actions=np.zeros((1, 2), dtype=np.int64), lengths=np.array([2])).name:
            r"floats\.npz: invalid demonstrations: states must hold integers",
        _write_npz(tmp_path / "negative.npz", format=np.array(fmt), states=np.zeros((1, 3), dtype=np.int64),
                   actions=np.full((1, 2), -1), lengths=np.array([2])).name: r"actions must be non-negative",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message):
            Demonstrations.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match=r"no file at .*nowhere\.npz"):
        Demonstrations.load(tmp_path / "nowhere.npz")
