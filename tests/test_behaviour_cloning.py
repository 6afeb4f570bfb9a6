"""Behaviour cloning as maximum likelihood in a Pyro model: tabular closed form, SoftQ and SAC networks."""

import math

import gymnasium
import pyro
import pytest
import torch
from pyro import poutine

from pgm_control import Demonstrations
from pgm_control.inference import tabular_behaviour_cloning
from pgm_control.models import empirical_policy, tabular_behaviour_cloning_model
from pgm_control.rl import SAC, SACConfig, SoftQ, SoftQConfig, behaviour_cloning, squashed_gaussian_log_prob
from pgm_control.rl.behaviour_cloning import squashed_gaussian

# Every visited state (0, 1, 2) has every action demonstrated, so the MLE logits are finite; state 3
# is never visited, state 1 only at the end of episode 0's padding-free part. Episode 2 has length 2:
# its last step is padding and must not count.
STATES = [[0, 1, 0, 2], [2, 0, 1, 1], [1, 2, 0]]
ACTIONS = [[0, 1, 1], [1, 0, 0], [1, 0]]


def demos():
    return Demonstrations.from_sequences(STATES, ACTIONS)


def brute_force_frequencies(num_states, num_actions):
    counts = [[0] * num_actions for _ in range(num_states)]
    for states, actions in zip(STATES, ACTIONS):
        for s, a in zip(states, actions):
            counts[s][a] += 1
    return torch.tensor([[c / sum(row) if sum(row) else 1 / num_actions for c in row] for row in counts],
                        dtype=torch.float64)


def test_empirical_policy_is_the_action_frequencies():
    assert torch.equal(empirical_policy(demos(), 4, 2), brute_force_frequencies(4, 2))


def test_the_closed_form_is_the_models_maximum_likelihood():
    policy = empirical_policy(demos(), 4, 2)
    pyro.clear_param_store()
    pyro.param("logits", policy.log().clone().requires_grad_(True))
    trace = poutine.trace(tabular_behaviour_cloning_model).get_trace(demos(), 4, 2)
    log_likelihood = trace.log_prob_sum()
    # the model's density is Σ_i log π(a_i|s_i) over the 8 demonstrated steps
    expected = sum(math.log(policy[s, a]) for ss, aa in zip(STATES, ACTIONS) for s, a in zip(ss, aa))
    assert log_likelihood.item() == pytest.approx(expected, abs=1e-12)
    # ∂/∂θ[s, a] = n(s, a) - n(s) π(a|s) = 0 at π = π̂: the gradient vanishes exactly
    (gradient,) = torch.autograd.grad(log_likelihood, pyro.param("logits").unconstrained())
    assert gradient.abs().max().item() <= 1e-12


def test_svi_reaches_the_closed_form():
    fit = tabular_behaviour_cloning(demos(), 4, 2, tol=1e-9, progress=False)
    assert fit.converged and fit.log_policy.shape == (4, 2)
    assert torch.allclose(fit.policy, brute_force_frequencies(4, 2), atol=1e-8)
    assert fit.log_likelihood[-1] >= fit.log_likelihood[0]


def test_tabular_inputs_are_named():
    with pytest.raises(ValueError, match=r"state of the demonstrations is 2, outside 0..1 \(num_states\)"):
        empirical_policy(demos(), 2, 2)
    final_state_outside = Demonstrations.from_sequences(states=[[0, 1, 7]], actions=[[1, 0]])
    with pytest.raises(ValueError, match=r"state of the demonstrations is 7, outside 0..3"):
        empirical_policy(final_state_outside, 4, 2)
    with pytest.raises(ValueError, match=r"demonstrated action is 1, outside 0..0 \(num_actions\)"):
        tabular_behaviour_cloning(demos(), 4, 1)
    with pytest.raises(TypeError, match=r"demonstrations must be a pgm_control\.Demonstrations"):
        empirical_policy([[0, 1]], 4, 2)


def test_soft_q_clone_matches_demonstrated_frequencies():
    agent = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(hidden=(16,), temperature=0.5, eval_every=0), seed=0)
    observations = torch.tensor([[1.0, 0, 0, 0]] * 4 + [[-1.0, 0, 0, 0]] * 4)
    actions = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0])
    fit = behaviour_cloning(agent, observations, actions, num_steps=300, lr=0.02, progress=False)
    probs = agent.policy_probs(torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    # the MLE is 3/4 in the first state and 1 (logit → ∞) in the second; 300 Adam steps get within 0.03
    assert probs[0, 1].item() == pytest.approx(0.75, abs=0.03)
    assert probs[1, 0].item() >= 0.95
    assert fit.log_likelihood.shape == (300,) and fit.log_likelihood[-1] > fit.log_likelihood[0]
    for online, target in zip(agent.q.parameters(), agent.q_target.parameters()):
        assert torch.equal(online, target)


def test_squashed_gaussian_density_is_the_sac_policy_density():
    mean, log_std = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.2]])
    center, scale = torch.tensor([0.5, 0.0]), torch.tensor([2.0, 1.0])
    u = torch.tensor([[1.2, -0.4]])
    action = center + scale * torch.tanh(u)
    route_pyro = squashed_gaussian(mean, log_std, center, scale).log_prob(action)
    route_sac = squashed_gaussian_log_prob(u, mean, log_std, scale)
    assert torch.allclose(route_pyro, route_sac, atol=1e-5)


@pytest.mark.slow
def test_sac_clone_recovers_the_demonstrators_gaussian():
    env = gymnasium.make("Pendulum-v1")
    agent = SAC(env, SACConfig(hidden=(16,), eval_every=0), seed=0)
    # a demonstrator at one observation: a = 2 tanh(u), u ~ N(0.5, 0.3²); the MLE of (μ, σ) is the
    # sample mean and standard deviation of u (n = 2000: SE of μ 0.007, of σ 0.005; bound 0.03)
    generator = torch.Generator().manual_seed(0)
    u = 0.5 + 0.3 * torch.randn(2000, 1, generator=generator)
    observations = torch.tensor([[1.0, 0.0, 0.0]]).expand(2000, 3)
    fit = behaviour_cloning(agent, observations, 2.0 * torch.tanh(u), num_steps=600, batch_size=500, lr=0.01,
                            progress=False)
    mean, log_std = agent.policy(torch.tensor([[1.0, 0.0, 0.0]]))
    assert mean.item() == pytest.approx(u.mean().item(), abs=0.03)
    assert log_std.exp().item() == pytest.approx(u.std().item(), abs=0.03)
    assert fit.log_likelihood[-1] > fit.log_likelihood[0]


def test_neural_inputs_are_named():
    pendulum = SAC(gymnasium.make("Pendulum-v1"), SACConfig(hidden=(8,), eval_every=0))
    with pytest.raises(ValueError, match="1 demonstrated actions lie on or outside the action Box"):
        behaviour_cloning(pendulum, torch.zeros(2, 3), torch.tensor([[0.5], [2.0]]), progress=False)
    with pytest.raises(ValueError, match=r"actions must have shape \[n, dim A\]"):
        behaviour_cloning(pendulum, torch.zeros(2, 3), torch.zeros(2), progress=False)
    with pytest.raises(ValueError, match="observations must have shape"):
        behaviour_cloning(pendulum, torch.zeros(2, 4), torch.zeros(2, 1), progress=False)
    greedy = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(hidden=(8,), temperature=0.0, eval_every=0))
    with pytest.raises(ValueError, match=r"needs config\.temperature > 0"):
        behaviour_cloning(greedy, torch.zeros(2, 4), torch.tensor([0, 1]), progress=False)
    soft = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(hidden=(8,), eval_every=0))
    with pytest.raises(ValueError, match=r"actions must lie in 0..1"):
        behaviour_cloning(soft, torch.zeros(2, 4), torch.tensor([0, 2]), progress=False)
    with pytest.raises(TypeError, match="actions must be integers"):
        behaviour_cloning(soft, torch.zeros(2, 4), torch.tensor([0.0, 1.0]), progress=False)
    with pytest.raises(TypeError, match=r"agent must be a pgm_control\.rl\.SoftQ or SAC"):
        behaviour_cloning(object(), torch.zeros(2, 4), torch.tensor([0, 1]), progress=False)
