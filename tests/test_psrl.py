"""PSRL: the posterior over a tabular MDP (hand-computed and against its Pyro model), the batched exact
planner (against value_iteration), and the regret on RiverSwim (against the uniformly random policy)."""

import pyro
import pyro.distributions as dist
import pytest
import torch

from pgm_control.envs import riverswim
from pgm_control.exploration import (
    PosteriorSampling,
    TabularPosterior,
    batched_value_iteration,
    run_episodes,
)
from pgm_control.exploration.posterior import _sample_dirichlet
from pgm_control.inference.dynamic_programming import policy_evaluation, value_iteration
from pgm_control.mdp import TabularMDP
from pgm_control.models import tabular_mdp_model

# Two runs on S = 3 states, A = 2 actions: run 0 sees (s, a, r, s') = (0, 1, 1.0, 2), (0, 1, 0.0, 2),
# (0, 1, 0.5, 1); run 1 sees (2, 0, 0.5, 0) three times.
DATA = [(torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([1.0, 0.5]), torch.tensor([2, 0])),
        (torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([0.0, 0.5]), torch.tensor([2, 0])),
        (torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([0.5, 0.5]), torch.tensor([1, 0]))]


def fed_posterior(**prior) -> TabularPosterior:
    posterior = TabularPosterior(**prior)
    posterior.reset(2, 3, 2)
    for transition in DATA:
        posterior.update(*transition)
    return posterior


def test_posterior_update_by_hand():
    posterior = fed_posterior(prior_concentration=0.5, reward_prior_mean=0.0, reward_prior_sd=1.0,
                              reward_noise_sd=0.5)
    concentration = torch.full((2, 3, 2, 3), 0.5, dtype=torch.float64)
    concentration[0, 0, 1] = torch.tensor([0.5, 1.5, 2.5])  # α_0 + (0, 1, 2)
    concentration[1, 2, 0] = torch.tensor([3.5, 0.5, 0.5])  # α_0 + (3, 0, 0)
    assert torch.equal(posterior.transition_concentration(), concentration)
    assert posterior.transition_posterior().batch_shape == (2, 3, 2)
    # Normal-Normal: λ = 1/1² + N/0.5² = 1 + 4N, μ = (Σr/0.5²)/λ; N = 3 with Σr = 1.5 (run 0) and Σr = 1.5 (run 1).
    belief = posterior.reward_posterior()
    assert belief.loc[0, 0, 1].item() == pytest.approx(6.0 / 13.0, abs=1e-12)
    assert belief.loc[1, 2, 0].item() == pytest.approx(6.0 / 13.0, abs=1e-12)
    assert belief.scale[0, 0, 1].item() == pytest.approx(13.0 ** -0.5, abs=1e-12)
    assert belief.loc[0, 1, 0].item() == 0.0 and belief.scale[0, 1, 0].item() == 1.0  # unvisited: the prior
    assert posterior.empirical_rewards()[0, 0, 1].item() == pytest.approx(0.5, abs=1e-12)


def test_default_prior_puts_one_pseudo_observation_per_row():
    posterior = TabularPosterior()
    posterior.reset(1, 4, 2)
    assert torch.allclose(posterior.transition_concentration().sum(-1), torch.ones(1, 4, 2, dtype=torch.float64))


def _pyro_log_joint(parameters, states, actions, rewards, next_states, prior):
    conditioned = pyro.poutine.condition(tabular_mdp_model, data=parameters)
    trace = pyro.poutine.trace(conditioned).get_trace(states, actions, rewards, next_states, 3, 2, **prior)
    return trace.log_prob_sum()


def test_closed_form_posterior_is_the_pyro_models_posterior():
    """p(θ | D) ∝ p(θ, D): log-density differences between two parameter values must agree exactly."""
    prior = dict(prior_concentration=0.7, reward_prior_mean=0.2, reward_prior_sd=1.5, reward_noise_sd=0.4)
    posterior = TabularPosterior(**prior)
    posterior.reset(1, 3, 2)
    generator = torch.Generator().manual_seed(0)
    states, actions = torch.randint(3, (12,), generator=generator), torch.randint(2, (12,), generator=generator)
    next_states = torch.randint(3, (12,), generator=generator)
    rewards = torch.randn(12, generator=generator, dtype=torch.float64)
    for n in range(12):
        posterior.update(states[n:n + 1], actions[n:n + 1], rewards[n:n + 1], next_states[n:n + 1])
    differences = []
    for _ in range(3):
        transitions, mean_rewards = (x[0] for x in posterior.sample(generator))
        log_joint = _pyro_log_joint({"transitions": transitions, "rewards": mean_rewards}, states, actions,
                                    rewards, next_states, prior)
        log_posterior = (posterior.transition_posterior().log_prob(transitions[None]).sum()
                         + posterior.reward_posterior().log_prob(mean_rewards[None]).sum())
        differences.append((log_joint - log_posterior).item())  # log p(D), the same for every θ
    assert differences[1] == pytest.approx(differences[0], abs=1e-9)
    assert differences[2] == pytest.approx(differences[0], abs=1e-9)


def test_pyro_model_sites_and_shapes():
    trace = pyro.poutine.trace(tabular_mdp_model).get_trace(*DATA[0][:2], torch.tensor([1.0, 0.5]),
                                                              DATA[0][3], 3, 2)
    assert trace.nodes["transitions"]["value"].shape == (3, 2, 3)
    assert trace.nodes["rewards"]["value"].shape == (3, 2)
    assert trace.nodes["next_state"]["is_observed"] and trace.nodes["reward"]["is_observed"]
    assert isinstance(trace.nodes["transitions"]["fn"], dist.Dirichlet)
    assert trace.nodes["transitions"]["fn"].batch_shape == (3, 2)


def test_dirichlet_sampler_moments_and_tiny_concentrations():
    generator = torch.Generator().manual_seed(1)
    alpha = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    draws = _sample_dirichlet(alpha.expand(40_000, 3), generator)
    # Var(θ_k) ≤ 1/(4(α_0 + 1)) < 0.05, so the mean of 40,000 draws has SE < 0.0012; 5 SE → 0.006.
    assert torch.allclose(draws.mean(0), alpha / alpha.sum(), atol=0.006)
    tiny = _sample_dirichlet(torch.full((1000, 400), 1 / 400, dtype=torch.float64), generator)
    assert torch.isfinite(tiny).all() and torch.allclose(tiny.sum(-1), torch.ones(1000, dtype=torch.float64))


def test_batched_value_iteration_equals_value_iteration_per_mdp():
    generator = torch.Generator().manual_seed(2)
    transitions = _sample_dirichlet(torch.ones(5, 4, 3, 4, dtype=torch.float64), generator)
    rewards = torch.randn(5, 4, 3, generator=generator, dtype=torch.float64)
    q, v = batched_value_iteration(transitions, rewards, 6)
    assert q.shape == (5, 6, 4, 3) and v.shape == (5, 6, 4)
    for run in range(5):
        exact = value_iteration(TabularMDP(transitions[run], rewards[run]), 6)
        assert torch.allclose(q[run], exact.q, atol=1e-12) and torch.allclose(v[run], exact.v, atol=1e-12)


def test_batched_value_iteration_rejects_bad_inputs():
    stay = torch.eye(2, dtype=torch.float64).expand(1, 2, 2, 2)
    with pytest.raises(ValueError, match=r"transitions must have shape \[R, S, A, S\]"):
        batched_value_iteration(stay[0], torch.zeros(1, 2, 2), 3)
    with pytest.raises(ValueError, match="transitions must sum to 1"):
        batched_value_iteration(2 * stay, torch.zeros(1, 2, 2), 3)
    with pytest.raises(ValueError, match="rewards must have shape"):
        batched_value_iteration(stay, torch.zeros(2, 2), 3)
    with pytest.raises(ValueError, match="horizon"):
        batched_value_iteration(stay, torch.zeros(1, 2, 2), 0)


@pytest.mark.slow
def test_psrl_regret_on_riverswim_is_sublinear_and_far_below_random():
    mdp, horizon, episodes = riverswim(6), 20, 200
    history = run_episodes(PosteriorSampling(), mdp, episodes, horizon, num_runs=20, seed=0, progress=False)
    regret = history.regret.mean(0)
    uniform = policy_evaluation(mdp, torch.full((6, 2), 0.5, dtype=torch.float64), horizon).v[0, 0]
    random_regret = episodes * (value_iteration(mdp, horizon).v[0, 0] - uniform).item()  # exact: 670.5
    # Across seeds 0-5 the mean regret of 20 runs after 100 episodes was 39-54 and over episodes 101-200
    # between -7 and 17 (an episode's return has sd about 2, so 100 episodes x 20 runs add sd about 4.5
    # plus the runs still learning). A linear-regret agent adds as much in the second half as in the first.
    assert regret[-1] < 0.15 * random_regret
    assert regret[-1] - regret[episodes // 2 - 1] < 0.5 * regret[episodes // 2 - 1]


def test_psrl_rejects_bad_priors():
    with pytest.raises(ValueError, match="reward_noise_sd"):
        PosteriorSampling(reward_noise_sd=0.0)
    with pytest.raises(ValueError, match="prior_concentration"):
        PosteriorSampling(prior_concentration=-1.0)
    with pytest.raises(TypeError, match="reward_prior_mean"):
        PosteriorSampling(reward_prior_mean="zero")
