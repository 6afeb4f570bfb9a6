"""Policy learners for sample-based MaxEnt IRL (pgm_control.rl.irl_learners) against exact answers:
tabular soft Q-learning on the time-indexed MDP against the exact soft policy, the deep SoftQ adapter's
log π against the agent's own sampling, and end-to-end fits against maxent_irl."""

import gymnasium
import numpy as np
import pytest
import torch

from pgm_control import Demonstrations, sample_trajectories
from pgm_control.envs import TabularEnv, terrain_gridworld
from pgm_control.inference import (
    ExactSoftPolicyLearner,
    ObservationTrajectories,
    maxent_irl,
    sample_based_irl,
    soft_value_iteration,
    state_action_visitation,
)
from pgm_control.inference.sample_irl import observation_trajectory_rewards
from pgm_control.models import LinearReward, ObservationReward
from pgm_control.rl import (
    SAC,
    AgentLearner,
    OneHotSoftQLearner,
    SACConfig,
    SoftQ,
    SoftQConfig,
    TabularSoftQLearner,
    TimeIndexedRewardEnv,
    Transitions,
)
from pgm_control.rl.tabular import exploration_policy

HORIZON = 5


@pytest.fixture(scope="module")
def terrain():
    """3 x 3 grid, deterministic moves, true weights (-2, -0.5, 1); 150 soft-optimal demonstrations."""
    mdp = terrain_gridworld(size=3, num_terrains=3, weights=[-2.0, -0.5, 1.0], seed=0)
    expert = soft_value_iteration(mdp, HORIZON)
    batch = sample_trajectories(mdp, expert.policy, HORIZON, 150, generator=torch.Generator().manual_seed(0))
    return mdp, Demonstrations.from_trajectories(batch)


def visitation_kl(mdp, demos, reference, log_policy):
    """Mean over t of Σ_s d_t(s) KL(π_ref,t(·|s) ‖ π_t(·|s)), d_t the reference's state visitation from
    the demonstrated starts (the same measure as tests/test_sample_irl.py)."""
    d = state_action_visitation(mdp.with_rewards(reference.reward_table), HORIZON,
                                start=demos.start_distribution(mdp.num_states)).sum(-1)
    kl = (reference.policy * (reference.log_policy - log_policy)).sum(-1)
    return (d * kl).sum(-1).mean().item()


# ------------------------------------------------------------------------------ tabular soft Q-learning
def test_time_indexed_env_numbers_t_s_pays_the_table_and_ends_at_T(terrain):
    mdp, _ = terrain
    env = TimeIndexedRewardEnv(TabularEnv(mdp), horizon=2)
    env.reward_table = torch.arange(36, dtype=torch.float64).reshape(9, 4)
    s, _ = env.reset(seed=0)
    assert env.observation_space.n == 18 and 0 <= s < 9
    s1, reward, terminated, _, _ = env.step(1)
    assert reward == 4 * s + 1 and not terminated and 9 <= s1 < 18  # t = 1: observation 9 + s_1
    _, reward, terminated, _, _ = env.step(3)
    assert reward == 4 * (s1 - 9) + 3 and terminated


@pytest.mark.slow
def test_tabular_soft_q_learner_reaches_the_exact_soft_policy(terrain):
    # ~1.7 s: 50 000 soft Q-learning steps
    mdp, _ = terrain
    learner = TabularSoftQLearner(TabularEnv(mdp), HORIZON, lr=0.1, seed=0)
    assert learner.log_policy.shape == (HORIZON, 9, 4)
    torch.testing.assert_close(learner.log_policy.exp(), torch.full((HORIZON, 9, 4), 0.25, dtype=torch.float64))
    for _ in range(5):  # warm-started runs continue one another
        learner.improve(mdp.rewards, 10_000)
    # log π is the Boltzmann distribution the loop explores with (its own sampling distribution)
    torch.testing.assert_close(learner.log_policy.exp(),
                               exploration_policy(learner.q, "boltzmann").reshape(HORIZON, 9, 4))
    exact = ExactSoftPolicyLearner(mdp, HORIZON)
    exact.improve(mdp.rewards, 1)
    kl = (exact.log_policy.exp() * (exact.log_policy - learner.log_policy)).sum(-1)
    # The uniform policy is at a mean KL of 0.31. After 50 000 steps at η = 0.1 what is left is mostly the
    # slow convergence of rarely visited (t, s) (3 x 10^4 steps: mean 2e-3 for every seed): measured mean
    # KL 5e-4 to 7e-4 and max 3e-3 to 6e-3 over seeds 0-3; bounds 0.003 (mean) and 0.03 (max).
    assert kl.mean() <= 0.003 and kl.max() <= 0.03


@pytest.mark.slow
def test_end_to_end_with_tabular_soft_q_matches_maxent_irl(terrain):
    # ~4 s: 150 reward steps, each after 1000 soft Q-learning steps in the env (dynamics hidden)
    mdp, demos = terrain
    reference = maxent_irl(mdp, demos, progress=False)
    env = TabularEnv(mdp, horizon=HORIZON)
    fit = sample_based_irl(env, demos, LinearReward(mdp.features), TabularSoftQLearner(env, HORIZON, lr=0.1),
                           num_iterations=150, policy_steps=1000, num_samples=128, lr=0.1, progress=False)
    kl = visitation_kl(mdp, demos, reference, fit.log_policy)
    # The uniform policy is at 0.34. Measured 1.8e-4: Adam's constant step on a 128-sample gradient
    # leaves ψ ~0.05 from the optimum along the well-determined directions (policy KL of order 0.05²) and
    # soft Q-learning adds its own noise of ~1e-4 (test above); bound 0.01, as for the exact learner.
    assert kl <= 0.01


def test_tabular_soft_q_learner_validates(terrain):
    mdp, _ = terrain
    with pytest.raises(ValueError, match="horizon"):
        TabularSoftQLearner(TabularEnv(mdp), 0)
    with pytest.raises(ValueError, match="lr"):
        TabularSoftQLearner(TabularEnv(mdp), HORIZON, lr=0.0)
    with pytest.raises(TypeError, match="Discrete"):
        TabularSoftQLearner(TabularEnv(mdp, one_hot=True), HORIZON)


# ------------------------------------------------------------------------------ deep soft Q (SoftQ)
def small_soft_q(mdp, seed=0):
    config = SoftQConfig(hidden=(32,), batch_size=32, learning_starts=64, temperature=1.0, discount=0.9,
                         eval_every=0, lr=3e-3)
    return SoftQ(TabularEnv(mdp, horizon=HORIZON, one_hot=True), config, seed=seed)


def test_one_hot_soft_q_log_policy_is_what_the_agent_samples(terrain):
    mdp, _ = terrain
    learner = OneHotSoftQLearner(small_soft_q(mdp), HORIZON)
    learner.improve(mdp.rewards, 200)
    log_policy = learner.log_policy
    assert log_policy.shape == (HORIZON, 9, 4) and log_policy.dtype == torch.float64
    torch.testing.assert_close(log_policy[0], log_policy[-1])  # stationary
    generator = torch.Generator().manual_seed(1)
    state = 4
    draws = torch.tensor([learner.agent.act(torch.eye(9)[state].numpy(), generator=generator)
                          for _ in range(4000)])
    frequencies = torch.bincount(draws, minlength=4).to(torch.float64) / 4000
    # 4000 draws: SE ≤ sqrt(0.25/4000) = 0.0079 per action; 4σ → 0.032
    torch.testing.assert_close(frequencies, log_policy[0, state].exp(), rtol=0, atol=0.032)


def test_one_hot_soft_q_learner_relabels_replay_batches_with_the_reward(terrain):
    mdp, _ = terrain
    learner = OneHotSoftQLearner(small_soft_q(mdp), HORIZON)
    table = torch.arange(36, dtype=torch.float64).reshape(9, 4)
    learner.improve(table, 100)
    assert learner.agent.reward_relabel == learner.relabel
    batch = learner.agent.buffer.sample(16)
    states = batch.observations.argmax(-1)
    torch.testing.assert_close(learner.relabel(batch), (4 * states + batch.actions.long()).float())
    stored = learner.agent.buffer.sample(16)  # the buffer keeps the environment's own rewards
    assert isinstance(stored, Transitions) and not torch.equal(stored.rewards, learner.relabel(stored))


@pytest.mark.slow
def test_one_hot_soft_q_learner_moves_the_reward_toward_the_demonstrations(terrain):
    # ~10 s: a smoke run of the deep agent inside sample_based_irl
    mdp, demos = terrain
    env = TabularEnv(mdp, horizon=HORIZON)
    fit = sample_based_irl(env, demos, LinearReward(mdp.features), OneHotSoftQLearner(small_soft_q(mdp), HORIZON),
                           num_iterations=30, policy_steps=100, num_samples=64, lr=0.1, progress=False)
    assert torch.isfinite(fit.ess).all() and (fit.ess >= 1).all()
    # The demonstrations avoid terrain 0 (weight -2) and seek terrain 2 (weight 1): from ψ = 0 the
    # estimated gradient (demonstrated minus sampled feature counts) raises ψ_2 above ψ_0; 30 Adam
    # steps of 0.1 move ψ by up to 3, far beyond the gradient's noise in sign.
    assert fit.psi[2] - fit.psi[0] > 0.5
    assert fit.objective[-5:].mean() > fit.objective[:5].mean()


def test_one_hot_soft_q_learner_validates(terrain):
    mdp, _ = terrain
    with pytest.raises(TypeError, match=r"agent must be a pgm_control\.rl\.SoftQ"):
        OneHotSoftQLearner(object(), HORIZON)
    with pytest.raises(ValueError, match="horizon"):
        OneHotSoftQLearner(small_soft_q(mdp), 0)


# ------------------------------------------------------------------------------ agents on Box observations
PENDULUM_T = 20


def pendulum(seed=0):
    return gymnasium.make("Pendulum-v1", max_episode_steps=PENDULUM_T)


def small_sac(seed=0):
    config = SACConfig(hidden=(32, 32), batch_size=32, learning_starts=50, eval_every=0)
    return SAC(pendulum(), config, seed=seed)


def pendulum_episodes(num, torque):
    """``num`` episodes from the starts of seeds 100.. with the torque ``torque(rng)`` at every step."""
    env, rng, observations, actions = pendulum(), np.random.default_rng(0), [], []
    for i in range(num):
        observation, _ = env.reset(seed=100 + i)
        episode, episode_actions = [observation], []
        for _ in range(PENDULUM_T):
            action = np.array([torque(rng)], dtype=np.float32)
            observation, *_ = env.step(action)
            episode.append(observation)
            episode_actions.append(action)
        observations.append(np.stack(episode))
        actions.append(np.stack(episode_actions))
    return ObservationTrajectories(torch.tensor(np.stack(observations)), torch.tensor(np.stack(actions)))


def spinning_demonstrations(num):
    """The demonstrator spins the pendulum with full torque +2: angular velocity o_3 far above a random
    policy's (mean 2.4 against ~1.2 from the same starts)."""
    return pendulum_episodes(num, lambda rng: 2.0)


def test_agent_learner_log_prob_is_the_density_sac_samples():
    learner = AgentLearner(small_sac(), seed=3)
    learner.improve(ObservationReward(3, seed=1), 100)  # move the policy off its initialization
    observation = np.array([0.6, 0.8, -1.0], dtype=np.float32)
    draws = torch.tensor(np.array([learner.act(observation) for _ in range(4000)]))[:, 0]
    grid = torch.linspace(-2.0, 2.0, 4001)[1:-1]  # the density of a = 2 tanh(u) on the open interval
    density = learner.log_prob(torch.tensor(observation).expand(len(grid), 3), grid[:, None]).exp().double()
    cdf = torch.cumulative_trapezoid(density, grid.double())
    # the density integrates to 1 (the endpoints' tails hold < 1e-3 at this policy's width)
    assert abs(cdf[-1].item() - 1.0) < 0.01
    # 4000 draws: the empirical CDF has SE ≤ sqrt(0.25/4000) = 0.0079; 4σ → 0.032
    for q in (100, 1000, 2000, 3000, 3900):
        assert abs((draws <= grid[q + 1]).double().mean().item() - cdf[q].item()) < 0.032


@pytest.mark.slow
def test_agent_learner_moves_a_pendulum_reward_toward_the_demonstrations():
    # ~3 s: SAC inside sample_based_irl on Pendulum-v1 (20-step episodes), a linear reward ψᵀ o from ψ = 0
    demos = spinning_demonstrations(16)
    reward = ObservationReward(3, hidden=(), seed=0)
    with torch.no_grad():
        for parameter in reward.parameters():
            parameter.zero_()
    fit = sample_based_irl(pendulum(), demos, reward, AgentLearner(small_sac(), seed=0), num_iterations=15,
                           policy_steps=30, num_samples=16, lr=0.05, progress=False)
    assert fit.reward_table is None and fit.log_policy is None and fit.ess.shape == (15,)
    assert ((fit.ess >= 1) & (fit.ess <= 16)).all()
    # The learned reward ranks the demonstrations above uniformly random torques from the same starts
    # (at ψ = 0 both score 0): measured margins of r_ψ(τ) 3.9 to 4.6 over seeds 0-3 of the driver and
    # agent, bound 2; the objective L̂ (mean of the last three minus the first three) rises by 1.2 to 2.8
    # over the same seeds, bound 0.5.
    random = pendulum_episodes(16, lambda rng: rng.uniform(-2.0, 2.0))
    with torch.no_grad():
        margin = (observation_trajectory_rewards(reward, demos).mean()
                  - observation_trajectory_rewards(reward, random).mean()).item()
    assert margin > 2.0
    assert fit.objective[-3:].mean() > fit.objective[:3].mean() + 0.5


def test_agent_learner_and_box_driver_validate():
    with pytest.raises(TypeError, match=r"agent must be a pgm_control\.rl\.SAC or SoftQ"):
        AgentLearner(object())
    demos = spinning_demonstrations(2)
    learner = AgentLearner(small_sac())
    with pytest.raises(TypeError, match=r"reward must be a torch\.nn\.Module"):
        sample_based_irl(pendulum(), demos, "r", learner, num_iterations=1)
    with pytest.raises(TypeError, match="policy_learner must have improve"):
        sample_based_irl(pendulum(), demos, ObservationReward(3), object(), num_iterations=1)
    with pytest.raises(TypeError, match="demonstrations must be ObservationTrajectories"):
        sample_based_irl(pendulum(), (demos.observations, demos.actions), ObservationReward(3), learner)
    with pytest.raises(ValueError, match=r"observations \[N, T\+1, d\] = \[N, T\+1, 3\]"):
        sample_based_irl(pendulum(), ObservationTrajectories(demos.observations[..., :2], demos.actions),
                         ObservationReward(3), learner)


def test_agent_learner_runs_soft_q_in_the_box_driver(terrain):
    # SoftQ through the Box branch on one-hot observations: log π(τ) of the driver's samples is the
    # Boltzmann policy of OneHotSoftQLearner's table at the visited (s, a) (two routes, one policy)
    mdp, demos = terrain
    env = TabularEnv(mdp, horizon=HORIZON, one_hot=True)
    eye = torch.eye(9)
    trajectories = ObservationTrajectories(eye[demos.states], demos.actions)
    learner = AgentLearner(small_soft_q(mdp), seed=0)
    fit = sample_based_irl(env, trajectories, ObservationReward(9, num_actions=4, hidden=()), learner,
                           num_iterations=2, policy_steps=100, num_samples=8, progress=False)
    assert fit.ess.shape == (2,) and torch.isfinite(fit.objective).all()
    table = OneHotSoftQLearner(learner.agent, HORIZON).log_policy[0]
    states, actions = torch.tensor([0, 4, 8]), torch.tensor([1, 3, 0])
    torch.testing.assert_close(learner.log_prob(eye[states], actions).double(), table[states, actions])


def test_reward_relabel_hook_feeds_update_the_relabelled_rewards(terrain):
    mdp, _ = terrain
    agent = small_soft_q(mdp)
    seen = []
    update = agent.update
    agent.update = lambda batch: seen.append(batch.rewards.clone()) or update(batch)
    agent.reward_relabel = lambda batch: torch.full_like(batch.rewards, 7.0)
    agent.train(80, progress=False)  # learning starts at 64: 17 updates
    assert len(seen) == 17 and all(bool((rewards == 7.0).all()) for rewards in seen)
    assert not bool((agent.buffer.sample(32).rewards == 7.0).all())  # D keeps the environment's rewards
