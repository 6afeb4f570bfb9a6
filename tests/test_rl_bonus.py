"""The RND exploration bonus of the deep agents: its running moments against NumPy, its novelty signal,
the reward it adds to the Q target (and only there), config validation, checkpoints and the CLI; and
the one-hot Deep Sea environment it is benchmarked on."""

import contextlib
import io
import math

import gymnasium
import numpy as np
import pytest
import torch
from agent_state import assert_same_state
from gymnasium.utils.env_checker import check_env

from pgm_control.cli import main
from pgm_control.envs import DEEP_SEA_ID, TabularEnv, chain_mdp, deep_sea_env
from pgm_control.rl import SAC, SACConfig, SoftQ, SoftQConfig
from pgm_control.rl.bonus import OBSERVATION_CLIP, RandomNetworkDistillation, RunningMoments

TINY = {"hidden": (16,), "batch_size": 16, "learning_starts": 30, "eval_every": 0}






# ----------------------------------------------------------------------------------------------------
# The bonus model


def test_running_moments_equal_those_of_all_batches_at_once():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 3)) for n in (1, 7, 50, 2)]
    moments = RunningMoments((3,))
    for batch in batches:
        moments.update(torch.from_numpy(batch))
    everything = np.concatenate(batches)
    assert moments.count.item() == len(everything)
    np.testing.assert_allclose(moments.mean.numpy(), everything.mean(0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(moments.var.numpy(), everything.var(0), rtol=0, atol=1e-12)


def test_the_bonus_is_the_normalized_distillation_error():
    torch.manual_seed(0)
    rnd = RandomNetworkDistillation(4, hidden=(8,), embedding_dim=3)
    states = torch.randn(32, 4) * 3.0 + 1.0
    rnd.observe(states)
    bonus = rnd.bonus(states)
    # by hand: whiten with the batch's own moments (the first batch), then ‖f̂_θ(x) - f_φ(x)‖² / σ_E
    s = states.double().numpy()
    x = torch.from_numpy(np.clip((s - s.mean(0)) / s.std(0), -OBSERVATION_CLIP, OBSERVATION_CLIP)).float()
    with torch.no_grad():
        error = ((rnd.predictor(x) - rnd.target(x)) ** 2).sum(-1).double().numpy()
    np.testing.assert_allclose(bonus.double().numpy(), error / error.std(), rtol=1e-5)
    assert not any(p.requires_grad for p in rnd.target.parameters())


def test_the_bonus_falls_on_visited_states_and_stays_high_on_novel_ones():
    torch.manual_seed(0)
    rnd = RandomNetworkDistillation(2, hidden=(32,), embedding_dim=8)
    optimizer = torch.optim.Adam(rnd.predictor.parameters(), lr=1e-2)
    visited = torch.randn(64, 2) * 0.5  # a cloud around the origin
    novel = torch.randn(64, 2) * 0.5 + torch.tensor([4.0, -4.0])  # eight visited standard deviations away
    rnd.observe(visited)
    before = rnd.error(visited).mean().item()
    errors = []
    for _ in range(100):
        loss = rnd.loss(visited)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append(loss.item())
    after = rnd.error(visited).mean().item()
    assert after < 0.05 * before  # the predictor has fitted f_φ where the data are
    assert np.all(np.diff(errors[::20]) < 0)  # falling throughout, sampled every 20 steps
    assert rnd.error(novel).mean().item() > 20 * after  # and not where they are not


# ----------------------------------------------------------------------------------------------------
# The agents with a bonus


@pytest.mark.parametrize("config_class", [SoftQConfig, SACConfig])
@pytest.mark.parametrize(("field", "value", "error", "message"), [
    ("exploration_bonus", "ucb", ValueError, r"exploration_bonus must be None \(no bonus\) or one of \('rnd',\)"),
    ("bonus_scale", -1.0, ValueError, r"bonus_scale must be a finite number >= 0 \(β of r \+ β b\(s'\)\), got -1"),
    ("bonus_scale", math.inf, ValueError, r"bonus_scale must be a finite number >= 0"),
    ("bonus_scale", "1", TypeError, r"bonus_scale must be a number >= 0, got str"),
])
def test_config_errors_name_the_field(config_class, field, value, error, message):
    with pytest.raises(error, match=rf"{config_class.__name__}\.{message}"):
        config_class(**{field: value})


def test_the_q_target_gets_the_bonus_and_the_records_do_not():
    env = gymnasium.make(DEEP_SEA_ID, size=4)
    beta = 0.5
    agent = SoftQ(env, SoftQConfig(**TINY, exploration_bonus="rnd", bonus_scale=beta), seed=0)
    agent.train(120, progress=False)
    assert set(agent.last_losses) == {"q", "bonus"}
    # the replay buffer and the history hold the environment's rewards alone: each episode is 4 steps
    rewards = agent.buffer.rewards[:120].double().reshape(-1, 4).sum(-1).numpy()
    np.testing.assert_allclose(agent.history.episode_returns, rewards, rtol=0, atol=1e-6)
    # the update's batch: r + β b(s'), b computed from a copy of the bonus model before the update
    batch = agent.buffer.sample(16)
    bonus_model = RandomNetworkDistillation(env.observation_space.shape[0], hidden=(64, 64))
    bonus_model.load_state_dict(agent.bonus.state_dict())
    bonus_model.observe(batch.next_observations)
    expected = batch.rewards + beta * bonus_model.bonus(batch.next_observations)
    raised, losses = agent.add_exploration_bonus(batch)
    assert torch.allclose(raised.rewards, expected, rtol=1e-6, atol=0)
    assert torch.equal(raised.observations, batch.observations) and set(losses) == {"bonus"}


def test_sac_trains_with_the_bonus_and_without_it_has_none():
    agent = SAC(gymnasium.make("Pendulum-v1"), SACConfig(**TINY, exploration_bonus="rnd"), seed=0)
    agent.train(60, progress=False)
    assert set(agent.last_losses) == {"q", "policy", "temperature", "bonus"}
    assert "bonus" in agent.modules() and "bonus_optimizer" in agent.optimizers()
    plain = SAC(gymnasium.make("Pendulum-v1"), SACConfig(**TINY), seed=0)
    assert plain.bonus is None and "bonus" not in plain.modules() and "bonus_optimizer" not in plain.optimizers()
    # the bonus model is drawn after the agent's networks: with the same seed, the same initial networks
    assert torch.equal(plain.policy.net[0].weight, SAC(gymnasium.make("Pendulum-v1"), SACConfig(
        **TINY, exploration_bonus="rnd"), seed=0).policy.net[0].weight)


def test_checkpoint_with_the_bonus_resumes_bit_for_bit(tmp_path):
    config = SoftQConfig(**TINY, exploration_bonus="rnd")
    straight = SoftQ(gymnasium.make(DEEP_SEA_ID, size=5), config, seed=1)
    straight.train(90, progress=False)
    first = SoftQ(gymnasium.make(DEEP_SEA_ID, size=5), config, seed=1)
    first.train(52, progress=False)  # mid-episode (episodes are 5 steps)
    first.save(tmp_path / "checkpoint.pt")
    resumed = SoftQ.load(tmp_path / "checkpoint.pt")  # the environment rebuilt from its registered id
    assert resumed.config.exploration_bonus == "rnd" and resumed._episode_length == 2
    assert_same_state(first, resumed)
    resumed.train(38, progress=False)
    assert_same_state(straight, resumed)


def test_a_checkpoint_from_before_the_bonus_option_still_loads(tmp_path):
    agent = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(**TINY), seed=0)
    agent.train(40, progress=False)
    agent.save(tmp_path / "new.pt")
    checkpoint = torch.load(tmp_path / "new.pt", weights_only=True)
    for name in ("exploration_bonus", "bonus_scale"):  # the config of an older file
        del checkpoint["config"][name]
    torch.save(checkpoint, tmp_path / "old.pt")
    loaded = SoftQ.load(tmp_path / "old.pt")
    assert loaded.config.exploration_bonus is None and loaded.bonus is None
    assert_same_state(agent, loaded)


def test_the_cli_sets_the_bonus(tmp_path):
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["train", "soft-q", "--env", DEEP_SEA_ID, "--steps", "60", "--out", str(out), "--no-progress",
                       "--eval-episodes", "1", "--set", "exploration_bonus=rnd", "--set", "bonus_scale=0.5",
                       "--set", "hidden=8,8", "--set", "batch_size=8", "--set", "learning_starts=20"])
    assert status == 0
    agent = SoftQ.load(out / "checkpoint.pt")
    assert (agent.config.exploration_bonus, agent.config.bonus_scale) == ("rnd", 0.5) and agent.bonus is not None


# ----------------------------------------------------------------------------------------------------
# Deep Sea with vector observations


def test_deep_sea_env_is_one_hot_and_pays_the_treasure_only_at_the_end_of_all_rights():
    env = gymnasium.make(DEEP_SEA_ID, size=3)
    check_env(env.unwrapped)
    observation, _ = env.reset(seed=0)
    assert observation.dtype == np.float32 and observation.tolist() == [1.0] + [0.0] * 9
    rewards, cells = [], []
    for _ in range(3):
        observation, reward, terminated, truncated, _ = env.step(1)
        rewards.append(reward)
        cells.append(int(observation.argmax()))
    assert cells == [4, 8, 9] and terminated and not truncated  # (1,1), (2,2), then the end state
    assert rewards == pytest.approx([-0.01 / 3, -0.01 / 3, 1.0 - 0.01 / 3], abs=1e-12)
    assert deep_sea_env(3).observation_space == env.observation_space


def test_tabular_env_one_hot_option():
    env = TabularEnv(chain_mdp(4), one_hot=True)
    assert env.observation_space == gymnasium.spaces.Box(0.0, 1.0, (4,), dtype=np.float32)
    assert env.reset(seed=0)[0].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert env.step(1)[0].tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(TypeError, match="one_hot must be a bool, got int"):
        TabularEnv(chain_mdp(4), one_hot=1)
