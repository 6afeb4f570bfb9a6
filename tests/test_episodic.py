"""The episodic exploration runner: shapes, seeding, and the regret against the exact optimal value."""

import pytest
import torch

from pgm_control.envs import riverswim
from pgm_control.exploration.episodic import EpisodicAgent, run_episodes
from pgm_control.inference.dynamic_programming import value_iteration


class FixedAction(EpisodicAgent):
    """Always the same action: its expected return is the policy's exact value."""

    def __init__(self, action: int):
        self.action = action

    def act(self, step, states, generator=None):
        return torch.full_like(states, self.action)

    def observe(self, step, states, actions, rewards, next_states):
        pass


class Oracle(EpisodicAgent):
    """Acts with the optimal time-dependent policy of the true MDP."""

    def __init__(self, policy):
        self.actions = policy.argmax(-1)  # [H, S]

    def act(self, step, states, generator=None):
        return self.actions[step, states]

    def observe(self, step, states, actions, rewards, next_states):
        pass


def test_regret_of_the_optimal_policy_is_zero_in_expectation():
    mdp, horizon = riverswim(), 20
    solution = value_iteration(mdp, horizon)
    history = run_episodes(Oracle(solution.policy), mdp, 40, horizon, num_runs=500, seed=3)
    assert history.states.shape == (500, 40, horizon + 1) and history.actions.shape == (500, 40, horizon)
    optimal = solution.v[0, 0].item()
    assert torch.equal(history.optimal_values, torch.full((500, 40), optimal, dtype=torch.float64))
    # The return is at most H = 20, so its sd is below 10 and the mean of 20,000 episodes lies within
    # 4 sd / sqrt(20,000) < 0.3 of V*; measured sd is about 2, so the tolerance is loose but not vacuous
    # (always going left returns 0.1, 3.3 below V* = 3.40).
    assert history.returns.mean().item() == pytest.approx(optimal, abs=0.3)
    assert torch.allclose(history.regret[:, -1], (optimal - history.returns).sum(-1))


def test_always_left_pays_only_the_small_reward():
    history = run_episodes(FixedAction(0), riverswim(), 3, 10, num_runs=4, seed=0, progress=False)
    assert torch.allclose(history.returns, torch.full((4, 3), 0.05, dtype=torch.float64))
    assert (history.regret.diff(dim=-1) > 0).all()


def test_same_seed_same_history():
    a = run_episodes(FixedAction(1), riverswim(), 5, 10, num_runs=3, seed=7)
    b = run_episodes(FixedAction(1), riverswim(), 5, 10, num_runs=3, seed=7)
    assert torch.equal(a.states, b.states)


def test_rejects_bad_arguments():
    with pytest.raises(TypeError, match="agent"):
        run_episodes(object(), riverswim(), 5, 10)
    with pytest.raises(ValueError, match="num_episodes"):
        run_episodes(FixedAction(0), riverswim(), 0, 10)
