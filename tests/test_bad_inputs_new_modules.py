"""Bad inputs to the exploration, meta-RL and demonstration modules get a ValueError or TypeError that
names the argument (the catalogue of ``test_bad_inputs.py``, for these modules).

Each case below used to end in an error from inside torch (a broadcast or index error), a Python
AttributeError, or silent NaN; each is now rejected at the public boundary.
"""

import math

import pyro
import pytest
import torch

from pgm_control import Demonstrations
from pgm_control._checks import check_broadcastable, check_nonnegative, check_positive, check_probabilities
from pgm_control.exploration import (
    GaussianBandit,
    LinearThompson,
    LinUCB,
    ThompsonBeta,
    bernoulli_kl,
    beta_information_gain,
    count_bonus,
)
from pgm_control.meta import grid_navigation_tasks, init_gaussian_policy, rl2_loss, train_rl2
from pgm_control.models import tabular_mdp_model
from pgm_control.models.behaviour_cloning import behaviour_cloning_model
from pgm_control.rl import RandomNetworkDistillation, discriminator_loss, hybrid_surrogate, importance_sampled_surrogate

NAN, INF = math.nan, math.inf
RND = RandomNetworkDistillation(3, hidden=(8,), embedding_dim=4)
LOG_PI = torch.full((2, 3, 2), math.log(0.5), dtype=torch.float64)  # log π [T=2, S=3, A=2]
STATES, ACTIONS, REWARDS = torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 2, dtype=torch.long), torch.ones(4, 2)
MDP_DATA = (torch.tensor([0]), torch.tensor([1]), torch.tensor([0.5]), torch.tensor([2]))  # s, a, r, s'
DEMOS = Demonstrations(torch.tensor([[0, 1, 2]]), torch.tensor([[1, 1]]))
def reset_agent(agent, *shape):
    """A bandit agent after reset(R=2, A=3[, d=4]): what act and update expect."""
    agent.reset(2, 3, *shape)
    return agent


BC_POLICY = lambda s: pyro.distributions.Categorical(logits=torch.zeros(s.shape[0], 2))  # noqa: E731

CASES = {
    # --- the shared real-number checks
    "check_positive 0": (lambda: check_positive(0.0, "sd"), ValueError, "sd must be a positive, finite number"),
    "check_positive NaN": (lambda: check_positive(NAN, "sd"), ValueError, "sd must be a positive"),
    "check_positive str": (lambda: check_positive("1", "sd"), TypeError, "sd must be a positive number"),
    "check_nonnegative -1": (lambda: check_nonnegative(-1.0, "c"), ValueError, "c must be a finite number >= 0"),
    "check_nonnegative inf": (lambda: check_nonnegative(INF, "c"), ValueError, "c must be a finite number >= 0"),
    "check_nonnegative bool": (lambda: check_nonnegative(True, "c"), TypeError, "c must be a number >= 0"),
    "check_probabilities NaN": (lambda: check_probabilities(torch.tensor([0.5, NAN]), "p"), ValueError,
                                r"p must hold probabilities in \[0, 1\].*NaN included"),
    "check_broadcastable": (lambda: check_broadcastable(torch.ones(2, 3), torch.ones(2), "a", "b"), ValueError,
                            r"a \[2, 3\] and b \[2\] must broadcast"),
    # --- bandits
    "bernoulli_kl p=2": (lambda: bernoulli_kl(2.0, 0.5), ValueError, r"p must hold probabilities in \[0, 1\]"),
    "bernoulli_kl q NaN": (lambda: bernoulli_kl(0.5, NAN), ValueError, r"q must hold probabilities in \[0, 1\]"),
    "bernoulli_kl shapes": (lambda: bernoulli_kl(torch.rand(3), torch.rand(4)), ValueError, "must broadcast"),
    "bernoulli_kl str": (lambda: bernoulli_kl("a", 0.5), TypeError, "p must be a tensor"),
    "beta_information_gain shapes": (lambda: beta_information_gain(torch.ones(3), torch.ones(4)), ValueError,
                                     "alpha .* and beta .* must broadcast"),
    "GaussianBandit sd 0": (lambda: GaussianBandit([0.0, 1.0], sd=0.0), ValueError,
                            "sd must be a positive, finite number .the reward noise standard deviation."),
    "LinUCB alpha -1": (lambda: LinUCB(alpha=-1.0), ValueError, "alpha must be a finite number >= 0"),
    "count_bonus NaN": (lambda: count_bonus(torch.tensor([NAN])), ValueError, "visit_counts must be finite"),
    "count_bonus negative": (lambda: count_bonus(torch.tensor([-1.0])), ValueError,
                             "visit_counts must be non-negative counts"),
    "count_bonus str": (lambda: count_bonus("many"), TypeError, "visit_counts must be a tensor"),
    # --- meta-RL and demonstrations (messages moved to the shared checks: still name the argument)
    "train_rl2 entropy_bonus NaN": (lambda: train_rl2(grid_navigation_tasks(3, 2), 2, entropy_bonus=NAN), ValueError,
                                    "entropy_bonus must be a finite number >= 0"),
    "rl2_loss trials str": (lambda: rl2_loss("trials"), TypeError, "trials must be the RL2Trials of rl2_rollout"),
    "init_gaussian_policy log_std NaN": (lambda: init_gaussian_policy(log_std=NAN), ValueError,
                                         "log_std must be a finite number"),
    "init_gaussian_policy log_std str": (lambda: init_gaussian_policy(log_std="small"), TypeError,
                                         "log_std must be a finite number"),
    # --- random network distillation and the adversarial discriminator's loss
    "RND bonus wrong dim": (lambda: RND.bonus(torch.zeros(5, 4)), ValueError,
                            r"observations must have shape \[B, dim S\] = \[\?, 3\], got \[5, 4\]"),
    # --- the per-pull methods of the bandit agents (the drivers' protocol, called by hand)
    "ThompsonBeta.update before reset": (lambda: ThompsonBeta().update(torch.tensor([0]), torch.tensor([1.0])),
                                         ValueError, r"no runs yet: call reset\(num_runs, num_arms\) first"),
    "ThompsonBeta.update arm 3 of 3": (
        lambda: reset_agent(ThompsonBeta()).update(torch.tensor([0, 3]), torch.tensor([1.0, 0.0])),
        ValueError, r"actions must lie in 0..2 \(arms\)"),
    "ThompsonBeta.update float arms": (
        lambda: reset_agent(ThompsonBeta()).update(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])),
        TypeError, "actions must be a long tensor"),
    "ThompsonBeta.update 3 rewards for 2 runs": (
        lambda: reset_agent(ThompsonBeta()).update(torch.tensor([0, 1]), torch.ones(3)),
        ValueError, "rewards must have shape"),
    "ThompsonBeta.update NaN reward": (
        lambda: reset_agent(ThompsonBeta()).update(torch.tensor([0, 1]), torch.tensor([NAN, 1.0])),
        ValueError, "rewards must be finite"),
    "LinUCB.act d = 5 for d = 4": (lambda: reset_agent(LinUCB(), 4).act(torch.zeros(2, 3, 5, dtype=torch.float64)),
                                   ValueError, r"contexts must have shape \[R, A, d\] = \[2, \?, 4\]"),
    "LinUCB.act before reset": (lambda: LinUCB().act(torch.zeros(2, 3, 4)), ValueError, "call reset"),
    "LinearThompson.act long contexts": (lambda: reset_agent(LinearThompson(), 4).act(torch.zeros(2, 3, 4).long()),
                                         TypeError, "contexts must be a float tensor"),
    "LinUCB.update NaN feature": (
        lambda: reset_agent(LinUCB(), 4).update(torch.full((2, 4), NAN, dtype=torch.float64), torch.ones(2)),
        ValueError, "features must be finite"),
    "LinUCB.update features [2, 3]": (
        lambda: reset_agent(LinUCB(), 4).update(torch.zeros(2, 3, dtype=torch.float64), torch.ones(2)),
        ValueError, "features must have shape"),
    "RND bonus NaN": (lambda: RND.bonus(torch.tensor([[0.0, NAN, 1.0]])), ValueError,
                      r"observations must be finite, got nan at index \[0, 1\]"),
    "RND observe inf": (lambda: RND.observe(torch.tensor([[0.0, 1.0, INF]])), ValueError,
                        "observations must be finite"),
    "RND observe 1-d": (lambda: RND.observe(torch.zeros(3)), ValueError, "observations must have shape"),
    "discriminator_loss weights": (lambda: discriminator_loss(torch.zeros(3), torch.zeros(4), torch.ones(2),
                                                              torch.ones(4)), ValueError,
                                   r"expert_weights must have the shape of expert_logits \[3\], got \[2\]"),
    # --- the Bayesian MDP model
    "tabular_mdp_model next state 9": (lambda: tabular_mdp_model(*MDP_DATA[:3], torch.tensor([9]), 4, 2), ValueError,
                                       r"next_states must lie in 0..3"),
    "tabular_mdp_model lengths": (lambda: tabular_mdp_model(torch.tensor([0, 1]), *MDP_DATA[1:], 4, 2), ValueError,
                                  r"actions must have shape \[N\]"),
    "tabular_mdp_model NaN reward": (lambda: tabular_mdp_model(*MDP_DATA[:2], torch.tensor([NAN]), MDP_DATA[3], 4, 2),
                                     ValueError, "rewards must be finite"),
    "tabular_mdp_model noise 0": (lambda: tabular_mdp_model(*MDP_DATA, 4, 2, reward_noise_sd=0.0), ValueError,
                                  "reward_noise_sd must be a positive, finite number"),
    # --- the surrogates of RL with demonstrations
    "importance_sampled_surrogate log_sampling [N]": (
        lambda: importance_sampled_surrogate(LOG_PI, STATES, ACTIONS, REWARDS, torch.zeros(4)), ValueError,
        r"log_sampling must have shape \[N, T\]"),
    "importance_sampled_surrogate NaN log_sampling": (
        lambda: importance_sampled_surrogate(LOG_PI, STATES, ACTIONS, REWARDS, torch.full((4, 2), NAN)),
        ValueError, "log_sampling must hold log-probabilities"),
    "importance_sampled_surrogate state 5": (
        lambda: importance_sampled_surrogate(LOG_PI, STATES + 5, ACTIONS, REWARDS, torch.zeros(4, 2)),
        ValueError, r"states must lie in 0..2"),
    "importance_sampled_surrogate discount 2": (
        lambda: importance_sampled_surrogate(LOG_PI, STATES, ACTIONS, REWARDS, torch.zeros(4, 2), discount=2.0),
        ValueError, "discount must lie in"),
    "hybrid_surrogate rewards [N]": (lambda: hybrid_surrogate(LOG_PI, STATES, ACTIONS, torch.ones(4), DEMOS, 0.1),
                                     ValueError, r"rewards must have shape \[N, T\]"),
    "hybrid_surrogate bc_weight -1": (lambda: hybrid_surrogate(LOG_PI, STATES, ACTIONS, REWARDS, DEMOS, -1.0),
                                      ValueError, "bc_weight must be a finite number >= 0"),
    "hybrid_surrogate demo state 9": (
        lambda: hybrid_surrogate(LOG_PI, STATES, ACTIONS, REWARDS,
                                 Demonstrations(torch.tensor([[0, 9, 2]]), torch.tensor([[1, 1]])), 0.1),
        ValueError, "a state of the demonstrations is 9"),
    "behaviour_cloning_model policy not callable": (
        lambda: behaviour_cloning_model("policy", torch.zeros(3, 2), torch.zeros(3)),
        TypeError, "policy_distribution must be a callable"),
    "behaviour_cloning_model actions list": (
        lambda: behaviour_cloning_model(BC_POLICY, torch.zeros(3, 2), [0, 1, 0]),
        TypeError, "actions must be a tensor"),
    "behaviour_cloning_model 3 observations, 2 actions": (
        lambda: behaviour_cloning_model(BC_POLICY, torch.zeros(3, 2), torch.zeros(2)),
        ValueError, "same number n >= 1 of rows .* got 3 and 2"),
    "behaviour_cloning_model subsample 4 of 3": (
        lambda: behaviour_cloning_model(BC_POLICY, torch.zeros(3, 2), torch.zeros(3), subsample_size=4),
        ValueError, r"subsample_size must be at most the number of demonstrated steps \(3\), got 4"),
    "behaviour_cloning_model subsample 0": (
        lambda: behaviour_cloning_model(BC_POLICY, torch.zeros(3, 2), torch.zeros(3), subsample_size=0),
        ValueError, "subsample_size"),
    "hybrid_surrogate log_policy list": (lambda: hybrid_surrogate([[0.0]], STATES, ACTIONS, REWARDS, DEMOS, 0.1),
                                         TypeError, "log_policy must be a tensor"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_error(name):
    call, error, message = CASES[name]
    with pytest.raises(error, match=message):
        call()


def test_bernoulli_kl_against_the_closed_form():
    """KL(Ber(p) ‖ Ber(q)) by hand at two points, and +inf where q = 0 and p > 0 (independent truth)."""
    p, q = 0.3, 0.6
    by_hand = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert bernoulli_kl(p, q).item() == pytest.approx(by_hand, abs=1e-15)
    assert bernoulli_kl(torch.tensor([0.5]), torch.tensor([[0.5], [0.0]])).tolist() == [[0.0], [math.inf]]


def test_importance_sampled_surrogate_on_policy_is_the_mean_discounted_return():
    """With q = π_θ every ratio π_θ(τ_{1:t}) / q(τ_{1:t}) is 1: the surrogate is (1/N) Σ_τ Σ_t γ^t r_t,
    computed here by hand, and its gradient flows into log π."""
    log_pi = LOG_PI.clone().requires_grad_(True)
    rewards = torch.tensor([[1.0, 2.0], [0.0, 4.0], [3.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    log_q = torch.log(torch.tensor([0.5, 0.25], dtype=torch.float64)).expand(4, 2)  # log π(τ_{1:t}), A = 2
    value = importance_sampled_surrogate(log_pi, STATES, ACTIONS, rewards, log_q, discount=0.5)
    by_hand = ((1 + 0.5 * 2) + (0 + 0.5 * 4) + (3 + 0) + (1 + 0.5 * 1)) / 4
    assert value.item() == pytest.approx(by_hand, abs=1e-12)
    value.backward()
    assert log_pi.grad[0, 0, 0].item() != 0.0
