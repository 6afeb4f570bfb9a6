"""RL²: the GRU's memory spans the episodes of a trial and starts afresh with each trial (checked by
replaying the recorded inputs through the cell by hand), a smoke run beats the random policy on a
two-armed bandit family, seeds, progress bars and bad inputs."""

import numpy as np
import pytest
import torch

from pgm_control.meta import RL2Agent, bandit_tasks, evaluate_rl2, grid_navigation_tasks, rl2_rollout, train_rl2

# Arm 0 pays 0.9 in task 0 and 0.1 in task 1, arm 1 the reverse: one pull tells the tasks apart.
TWO_ARMED = bandit_tasks([[0.9, 0.1], [0.1, 0.9]], episode_length=2)


def replay_hidden(agent, trials, episode_length, reset_each_episode=False):
    """h_t recomputed from the recorded (s_t, a_{t-1}, r_{t-1}, d_{t-1}), written from the definition."""
    num_trials, horizon = trials.actions.shape
    hidden = torch.zeros(num_trials, agent.hidden_size)
    replayed = [hidden]
    for t in range(horizon):
        first = t == 0
        done = torch.full((num_trials,), float(t > 0 and t % episode_length == 0))
        if reset_each_episode and t % episode_length == 0:
            hidden = torch.zeros_like(hidden)
        state = torch.nn.functional.one_hot(trials.states[:, t], agent.num_states).float()
        action = torch.zeros(num_trials, agent.num_actions) if first else \
            torch.nn.functional.one_hot(trials.actions[:, t - 1], agent.num_actions).float()
        reward = torch.zeros(num_trials) if first else trials.rewards[:, t - 1].float()
        hidden = agent.gru(torch.cat([state, action, reward[:, None], done[:, None]], -1), hidden)
        replayed.append(hidden)
    return torch.stack(replayed, 1)


def test_hidden_state_carries_across_episodes_and_restarts_with_each_trial():
    torch.manual_seed(0)
    agent = RL2Agent(2, 2, hidden_size=8)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        first = rl2_rollout(agent, TWO_ARMED, torch.tensor([0, 1, 1]), 3, generator)
        second = rl2_rollout(agent, TWO_ARMED, torch.tensor([0, 1, 1]), 3, generator)
        assert first.hidden.shape == (3, 7, 8) and first.actions.shape == (3, 6)
        for trials in (first, second):  # every trial starts from h_0 = 0, whatever came before
            assert torch.equal(trials.hidden[:, 0], torch.zeros(3, 8))
            assert torch.allclose(trials.hidden, replay_hidden(agent, trials, 2), atol=1e-6)
            # Resetting at each episode would give other hidden states from the second episode on.
            reset = replay_hidden(agent, trials, 2, reset_each_episode=True)
            assert torch.allclose(reset[:, :3], trials.hidden[:, :3], atol=1e-6)
            assert (reset[:, 3] - trials.hidden[:, 3]).abs().max() > 1e-3


@pytest.mark.slow  # 150 training iterations: 1.2 s at load ~5, 7 s at load ~10
def test_smoke_run_beats_the_random_policy_on_a_two_armed_bandit_family():
    fit = train_rl2(TWO_ARMED, num_episodes=3, num_iterations=150, num_trials=64, hidden_size=16, lr=1e-2,
                    seed=0, progress=False)
    evaluation = evaluate_rl2(fit.agent, TWO_ARMED, 3, num_trials=2000, seed=1)
    # Random arms earn 0.5 per pull, 3 over the 6 pulls of a trial. The Bayes-optimal agent earns at
    # least 0.5 + 5 · 0.82 = 4.6 (after one pull the better arm is known with probability 0.9, so each
    # later pull earns at least 0.9 · 0.9 + 0.1 · 0.1 = 0.82). Returns per
    # trial lie in [0, 6], so the standard error over 2000 trials is at most 3 / √2000 ≈ 0.07: a mean
    # above 3.6 is more than 8 standard errors above random.
    assert evaluation.returns.shape == (2000,)
    assert evaluation.mean > 3.6, evaluation.mean
    assert evaluation.stderr < 0.07


def test_equal_seeds_give_equal_runs_and_other_seeds_other_runs():
    runs = [train_rl2(TWO_ARMED, 2, num_iterations=3, num_trials=8, hidden_size=4, seed=seed, progress=False)
            for seed in (3, 3, 4)]
    assert np.array_equal(runs[0].mean_returns, runs[1].mean_returns)
    assert not np.array_equal(runs[0].mean_returns, runs[2].mean_returns)


def test_progress_bar_is_switchable(capsys):
    train_rl2(TWO_ARMED, 2, num_iterations=2, num_trials=4, hidden_size=4, progress=True)
    assert "RL²" in capsys.readouterr().err
    train_rl2(TWO_ARMED, 2, num_iterations=2, num_trials=4, hidden_size=4, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("call, error, match", [
    (lambda: train_rl2("bandit", 2), TypeError, "task_family must be a finite task family"),
    (lambda: train_rl2(TWO_ARMED, 0), ValueError, "num_episodes must be a positive integer"),
    (lambda: train_rl2(TWO_ARMED, 2, lr=-1.0), ValueError, "lr must be a positive"),
    (lambda: train_rl2(TWO_ARMED, 2, entropy_bonus=float("nan")), ValueError, "entropy_bonus must be"),
    (lambda: train_rl2(TWO_ARMED, 2, hidden_size=0), ValueError, "hidden_size must be a positive"),
    (lambda: evaluate_rl2("agent", TWO_ARMED, 2), TypeError, "agent must be an RL2Agent"),
    (lambda: evaluate_rl2(RL2Agent(2, 2), grid_navigation_tasks(3, 2), 2), ValueError, "S=9 states"),
    (lambda: rl2_rollout(RL2Agent(2, 2), TWO_ARMED, torch.tensor([0, 2]), 2), ValueError, r"tasks must be indices"),
    (lambda: RL2Agent(2, 2, available=torch.ones(3, 2)), ValueError, "available must have shape"),
    (lambda: evaluate_rl2(RL2Agent(2, 2), TWO_ARMED, 2, greedy=1), TypeError, "greedy must be True or False"),
])
def test_bad_inputs_raise_named_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
