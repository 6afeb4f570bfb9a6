"""Checkpoint files are data: every corrupt file is one ValueError naming the file and the problem,
nothing in a file is executed by the default load, and a crafted generator state cannot reach the
global NumPy generator. (Bit-for-bit resumes are in test_rl_sac.py and test_rl_soft_q.py.)"""

import io
import json
import os

import gymnasium
import numpy as np
import pytest
import torch

from pgm_control.rl import SAC, SACConfig, SoftQ, SoftQConfig

TINY = {"hidden": (8,), "batch_size": 4, "learning_starts": 10, "eval_every": 0}


class Payload:
    """A pickle that, once unpickled, creates the file `marker` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class UnregisteredEnv(gymnasium.Env):
    """A deterministic environment built without gymnasium.make: it has no spec."""

    observation_space = gymnasium.spaces.Box(-10.0, 10.0, (1,))
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1.0, 1.0))
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.x += 0.1 if action else -0.1
        return np.array([self.x], dtype=np.float32), -abs(self.x), abs(self.x) > 5.0, False, {}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A SoftQ checkpoint saved mid-episode: its path and its contents."""
    agent = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(**TINY), seed=0)
    agent.train(35, progress=False)
    assert agent._episode_length == 5  # mid-episode: the first episodes end at steps 12, 21, 30, 39
    path = tmp_path_factory.mktemp("checkpoints") / "soft_q.pt"
    agent.save(path)
    return path, torch.load(path, weights_only=True)


def write(tmp_path, checkpoint, name="bad.pt"):
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def altered(saved, **changes):
    checkpoint = {**saved[1], **changes}
    return {k: v for k, v in checkpoint.items() if v is not DELETE}


DELETE = object()


# ----------------------------------------------------------------------------------------------------
# Files that are not checkpoints


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no file at .*nowhere\.pt"):
        SoftQ.load(tmp_path / "nowhere.pt")


@pytest.mark.parametrize("content, problem", [
    (lambda good: b"", "is empty"),
    (lambda good: good[: len(good) // 2], "truncated or not a torch file"),
    (lambda good: np.random.default_rng(0).bytes(4096), "truncated or not a torch file|not plain data"),
])
def test_unreadable_bytes(tmp_path, saved, content, problem):
    path = tmp_path / "broken.pt"
    path.write_bytes(content(saved[0].read_bytes()))
    with pytest.raises(ValueError, match=rf"broken\.pt .*({problem})"):
        SoftQ.load(path)


def test_a_saved_list_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.pt holds a list, not a checkpoint written by SoftQ\.save"):
        SoftQ.load(write(tmp_path, [torch.zeros(3)]))


def test_another_format_version_and_another_algorithm(tmp_path, saved):
    old = write(tmp_path, altered(saved, format="pgm_control.rl checkpoint 1"))
    with pytest.raises(ValueError, match=r"checkpoint 1' file; .* reads 'pgm_control.rl checkpoint 2' only"):
        SoftQ.load(old)
    with pytest.raises(ValueError, match=r"not a checkpoint written by SoftQ.save \(format None\)"):
        SoftQ.load(write(tmp_path, altered(saved, format=DELETE)))
    with pytest.raises(ValueError, match=r"soft_q\.pt holds a SoftQ checkpoint, not a SAC one; load it with SoftQ"):
        SAC.load(saved[0])


def test_missing_parts_and_wrong_types(tmp_path, saved):
    with pytest.raises(ValueError, match=r"bad\.pt lacks the checkpoint part\(s\) \['modules'\]"):
        SoftQ.load(write(tmp_path, altered(saved, modules=DELETE)))
    with pytest.raises(ValueError, match=r"bad\.pt: seed must be a int, got str"):
        SoftQ.load(write(tmp_path, altered(saved, seed="0")))
    with pytest.raises(ValueError, match=r"invalid counters: seed must be an integer in \[0, 2\*\*63 - 1\], got -1"):
        SoftQ.load(write(tmp_path, altered(saved, seed=-1)))
    with pytest.raises(ValueError, match=r"invalid config: unknown SoftQConfig field\(s\) \['learning_rate'\]"):
        SoftQ.load(write(tmp_path, altered(saved, config={**saved[1]["config"], "learning_rate": 0.1})))
    with pytest.raises(ValueError, match=r"invalid config: SoftQConfig\.lr must be a positive number, got str"):
        SoftQ.load(write(tmp_path, altered(saved, config={**saved[1]["config"], "lr": "0.1"})))


def test_wrong_shapes_name_the_part(tmp_path, saved):
    modules = saved[1]["modules"]
    bad_q = {**modules["q"], "net.0.weight": torch.zeros(3, 3)}
    with pytest.raises(ValueError, match=r"bad\.pt: invalid network 'q': .*size mismatch for net\.0\.weight"):
        SoftQ.load(write(tmp_path, altered(saved, modules={**modules, "q": bad_q})))
    with pytest.raises(ValueError, match=r"modules holds \['q'\], but SoftQ with this config has \['q', 'q_target'\]"):
        SoftQ.load(write(tmp_path, altered(saved, modules={"q": modules["q"]})))
    nan_q = {**modules["q"], "net.0.bias": torch.full_like(modules["q"]["net.0.bias"], torch.nan)}
    with pytest.raises(ValueError, match=r"invalid network 'q': net\.0\.bias holds non-finite values"):
        SoftQ.load(write(tmp_path, altered(saved, modules={**modules, "q": nan_q})))

    optimizer = saved[1]["optimizers"]["optimizer"]
    state = {**optimizer["state"], 0: {**optimizer["state"][0], "exp_avg": torch.zeros(2)}}
    with pytest.raises(ValueError, match=r"invalid optimizer 'optimizer': state 'exp_avg' has shape \[2\]"):
        SoftQ.load(write(tmp_path, altered(saved, optimizers={"optimizer": {**optimizer, "state": state}})))

    replay = {**saved[1]["replay"], "observations": torch.zeros(35, 5)}
    with pytest.raises(ValueError, match=r"invalid replay buffer: observations must be a torch.float32 tensor of "
                                         r"shape \[35, 4\]"):
        SoftQ.load(write(tmp_path, altered(saved, replay=replay)))

    episode = {**saved[1]["episode"], "observation": torch.zeros(7)}
    with pytest.raises(ValueError, match=r"invalid episode: observation must be a tensor of shape \[4\]"):
        SoftQ.load(write(tmp_path, altered(saved, episode=episode)))

    with pytest.raises(ValueError, match=r"invalid generator state"):
        SoftQ.load(write(tmp_path, altered(saved, generator=torch.zeros(3, dtype=torch.uint8))))
    history = {**saved[1]["history"], "episode_returns": [1.0, 2.0, 3.0, 4.0, 5.0]}
    with pytest.raises(ValueError, match=r"invalid history: episode_steps, .* must have equal lengths"):
        SoftQ.load(write(tmp_path, altered(saved, history=history)))


# ----------------------------------------------------------------------------------------------------
# Nothing in a file runs; the global NumPy generator is never touched


def test_a_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"format": "pgm_control.rl checkpoint 2", "payload": Payload(marker)}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"evil\.pt .*not plain data.*It was not unpickled"):
        SoftQ.load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is live: a plain unpickling runs it
    assert marker.exists()


def test_a_malicious_environment_pickle_is_not_executed_by_default(tmp_path, saved):
    import pickle

    marker = tmp_path / "ran"
    payload = pickle.dumps(Payload(marker))
    only_pickle = write(tmp_path, altered(saved, env_spec=None, env_pickle=payload))
    with pytest.raises(ValueError, match=r"only pickled, and unpickling runs code .* allow_pickle=True"):
        SoftQ.load(only_pickle)
    agent = SoftQ.load(write(tmp_path, altered(saved, env_pickle=payload), "both.pt"))  # the spec rebuilds it
    assert agent.step == 35 and not marker.exists()
    pickle.loads(payload)  # the payload is live
    assert marker.exists()


def test_pickled_environments_are_an_explicit_opt_in(tmp_path):
    agent = SoftQ(UnregisteredEnv(), SoftQConfig(**TINY), seed=0)
    agent.train(12, progress=False)
    with pytest.warns(UserWarning, match="stores no environment: load it with env="):
        agent.save(tmp_path / "no_env.pt")
    agent.save(tmp_path / "pickled.pt", pickle_env=True)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        SoftQ.load(tmp_path / "pickled.pt")
    resumed = SoftQ.load(tmp_path / "pickled.pt", allow_pickle=True)
    assert resumed._episode_length == agent._episode_length == 12
    assert np.array_equal(resumed._observation, agent._observation)


@pytest.mark.parametrize("env_rng", [
    json.dumps({"bit_generator": "seed", "state": {}}),  # np.random.seed would reseed the global generator
    json.dumps({"bit_generator": "PCG64", "state": {"state": -1, "inc": "x"}}),
    json.dumps(["PCG64"]),
    "not json",
])
def test_a_crafted_generator_state_is_rejected_and_never_global(tmp_path, saved, env_rng):
    np.random.seed(7)
    global_state = np.random.get_state()[1].copy()
    episode = {**saved[1]["episode"], "observation": None, "actions": None}
    with pytest.raises(ValueError, match=r"bad\.pt: invalid env_rng"):
        SoftQ.load(write(tmp_path, altered(saved, env_rng=env_rng, episode=episode)))
    assert np.array_equal(np.random.get_state()[1], global_state)


@pytest.mark.parametrize("spec, problem", [
    ({"id": "os:system", "kwargs": {"command": "touch ran"}}, "'os:system' is not registered"),
    ({"id": "NoSuchEnv-v0", "kwargs": {}}, "'NoSuchEnv-v0' is not registered"),
    ({"id": "CartPole-v1", "kwargs": {"no_such_argument": 1}}, "gymnasium.make cannot rebuild"),
    ({"id": "CartPole-v1", "kwargs": {}, "additional_wrappers": [{"name": "RecordVideo"}]},
     r"wrapped in \['RecordVideo'\]"),
    ({**json.loads(gymnasium.make("CartPole-v1").spec.to_json()), "entry_point": "os:system"},
     r"differs from the saved one in \['entry_point'\]"),
    ({"kwargs": {}}, "invalid env_spec: it must be a JSON object"),
])
def test_a_crafted_environment_spec_builds_only_registered_environments(tmp_path, saved, spec, problem):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(ValueError, match=rf"bad\.pt: .*{problem}"):
            SoftQ.load(write(tmp_path, altered(saved, env_spec=json.dumps(spec))))
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "ran").exists()


# ----------------------------------------------------------------------------------------------------
# What a valid file restores


def test_the_environment_is_rebuilt_from_its_spec_and_its_episode_replayed(saved):
    agent = SoftQ.load(saved[0])
    assert agent.env.spec.id == "CartPole-v1" and agent.step == 35
    assert agent._episode_length == len(agent._episode_actions) > 0
    assert np.array_equal(agent._observation, saved[1]["episode"]["observation"].numpy())
    assert agent.env._elapsed_steps == agent._episode_length  # the TimeLimit counts the replayed steps


def test_a_given_environment_with_the_saved_spec_continues_the_episode(saved):
    agent = SoftQ.load(saved[0], env=gymnasium.make("CartPole-v1"))
    assert np.array_equal(agent._observation, saved[1]["episode"]["observation"].numpy())
    with pytest.warns(UserWarning, match="spec differs from the saved one"):
        other = SoftQ.load(saved[0], env=gymnasium.make("CartPole-v1", max_episode_steps=50))
    assert other._observation is None


def test_sac_checkpoints_are_checked_the_same_way(tmp_path):
    agent = SAC(gymnasium.make("Pendulum-v1"), SACConfig(**TINY), seed=0)
    agent.train(15, progress=False)
    agent.save(tmp_path / "sac.pt")
    with pytest.raises(ValueError, match=r"sac\.pt holds a SAC checkpoint, not a SoftQ one"):
        SoftQ.load(tmp_path / "sac.pt")
    assert SAC.load(tmp_path / "sac.pt")._episode_length == 15


# ----------------------------------------------------------------------------------------------------
# Reward parameters


def test_reward_files_round_trip_and_reject_corrupt_ones(tmp_path):
    from pgm_control.models import LinearReward, NeuralReward

    features = torch.eye(3, dtype=torch.float64)
    linear, psi = LinearReward(features), torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    linear.save(tmp_path / "linear.pt", psi)
    loaded, loaded_psi = LinearReward.load(tmp_path / "linear.pt")
    assert torch.equal(loaded(loaded_psi), linear(psi))
    neural = NeuralReward(features, hidden=(4,), seed=3)
    neural.save(tmp_path / "neural.pt")
    assert torch.equal(NeuralReward.load(tmp_path / "neural.pt")(), neural())

    with pytest.raises(ValueError, match=r"linear\.pt holds a LinearReward, not a NeuralReward"):
        NeuralReward.load(tmp_path / "linear.pt")
    contents = torch.load(tmp_path / "neural.pt", weights_only=True)
    state = contents["state_dict"]
    for name, bad, message in [
        ("list.pt", [1, 2], r"list\.pt holds a list, not a reward file"),
        ("wide.pt", {**contents, "hidden": [5]}, r"wide\.pt: invalid reward: .*size mismatch"),
        ("zero.pt", {**contents, "hidden": [0]}, r"zero\.pt: invalid reward: hidden width must be a positive"),
        ("nan.pt", {**contents, "state_dict": {**state, "network.0.bias": torch.full((4,), torch.nan,
                                                                                     dtype=torch.float64)}},
         r"nan\.pt: invalid reward: network\.0\.bias must be finite"),
        ("extra.pt", {**contents, "code": b"x"}, r"extra\.pt must hold \['format', 'hidden', 'kind', 'state_dict'\]"),
    ]:
        torch.save(bad, tmp_path / name)
        with pytest.raises(ValueError, match=message):
            NeuralReward.load(tmp_path / name)
    linear_contents = torch.load(tmp_path / "linear.pt", weights_only=True)
    torch.save({**linear_contents, "psi": torch.zeros(2, dtype=torch.float64)}, tmp_path / "short.pt")
    with pytest.raises(ValueError, match=r"short\.pt: invalid reward: psi must have shape"):
        LinearReward.load(tmp_path / "short.pt")
    marker = tmp_path / "ran"
    torch.save({**linear_contents, "psi": Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt is not a readable reward file: .*not plain data"):
        LinearReward.load(tmp_path / "evil.pt")
    assert not marker.exists()
    (tmp_path / "cut.pt").write_bytes((tmp_path / "linear.pt").read_bytes()[:50])
    with pytest.raises(ValueError, match=r"cut\.pt is not a readable reward file: it is truncated"):
        LinearReward.load(tmp_path / "cut.pt")
