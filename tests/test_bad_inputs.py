"""Every bad input to the public API gets a ValueError or TypeError that names the argument.

Each case below used to end in an error from inside torch/pyro/numpy, a Python internal error
(ZeroDivisionError, UnboundLocalError, AttributeError, KeyError, IndexError), silent NaN, or silent
acceptance of nonsense. Each is now rejected at the public boundary with a message naming the argument.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from pgm_control import Demonstrations, TabularMDP
from pgm_control.envs import GridWorld, TabularEnv, from_gymnasium, random_mdp, scalar_system, terrain_gridworld
from pgm_control.inference import (
    elbo,
    enumerate_log_evidence,
    expected_feature_counts,
    feature_matching_irl,
    fit_gaussian_policy,
    fit_policy,
    greedy_policy,
    hierarchical_irl,
    maxent_irl,
    optimistic_dynamics,
    policy_evaluation,
    policy_iteration,
    policy_svi,
    soft_maximum,
    soft_value_iteration,
    state_action_visitation,
    state_distributions,
    value_iteration,
)
from pgm_control.models import (
    AmortizedPolicyGuide,
    LinearReward,
    NeuralReward,
    TabularPolicyGuide,
    flat_prior,
    hierarchical_irl_model,
    log_evidence_shift,
    lqr_optimality_model,
    optimality_model,
    policy_guide,
)
from pgm_control.viz import plot_grid_values, policy_arrows

NAN, INF = math.nan, math.inf
MDP = random_mdp(4, 2, seed=0)
DISCOUNTED = random_mdp(4, 2, seed=0, discount=0.9)
TERRAIN = terrain_gridworld(size=3, num_terrains=2)
DEMOS = Demonstrations(torch.tensor([[0, 1, 2]]), torch.tensor([[2, 2]]))
LABELLED = Demonstrations(torch.tensor([[0, 1, 2]]), torch.tensor([[2, 2]]), demonstrators=torch.tensor([0]))
WORLD = GridWorld(["S.G"])
UNIFORM = torch.full((4, 2), 0.5, dtype=torch.float64)
QUIET = dict(num_steps=2, num_trajectories=4, progress=False)


def successor_mdp(S, A, K):
    return TabularMDP(next_states=torch.zeros(S, A, K, dtype=torch.long), probs=torch.ones(S, A, K) / max(K, 1),
                      rewards=torch.zeros(S, A))


class FakeGymEnv:
    """Just enough of a toy-text Gymnasium env for from_gymnasium: ``unwrapped.P``."""

    def __init__(self, P):
        self.unwrapped, self.P = self, P


def trace(model, *args):
    return pyro.poutine.trace(model).get_trace(*args)


CASES = {
    # --- TabularMDP construction
    "mdp S=0 successor lists": (lambda: successor_mdp(0, 2, 1), ValueError, "at least one state"),
    "mdp A=0 successor lists": (lambda: successor_mdp(3, 0, 1), ValueError, "one action"),
    "mdp K=0 successor lists": (lambda: successor_mdp(3, 2, 0), ValueError, "one successor"),
    "mdp terminal nested": (lambda: MDP.replace(terminal=[[0, 1]]), ValueError, "terminal must be"),
    "mdp terminal str": (lambda: MDP.replace(terminal="a"), TypeError, "terminal must be"),
    "mdp state_names str": (lambda: MDP.replace(state_names="abcd"), TypeError, "state_names must be a sequence"),
    "mdp state_names int": (lambda: MDP.replace(state_names=4), TypeError, "state_names must be a sequence"),
    "mdp features F=0": (lambda: MDP.replace(features=torch.ones(4, 0)), ValueError, "features must hold"),
    "mdp backup list": (lambda: MDP.backup([0.0] * 4), TypeError, "values must be a tensor"),
    "mdp log_push_forward list": (lambda: MDP.log_push_forward([[0.0] * 2] * 4), TypeError, "log_weights"),
    "mdp with_rewards nan": (lambda: MDP.with_rewards(torch.full((4, 2), NAN)), ValueError, "rewards must be finite"),
    "mdp with_rewards shape": (lambda: MDP.with_rewards(torch.zeros(4, 3)), ValueError, "rewards must have shape"),
    # --- dynamic programming and soft value iteration: stopping rules
    "value_iteration max_iter=0": (lambda: value_iteration(DISCOUNTED, max_iter=0), ValueError, "max_iter"),
    "value_iteration max_iter=1.5": (lambda: value_iteration(DISCOUNTED, max_iter=1.5), TypeError, "max_iter"),
    "value_iteration tol=-1": (lambda: value_iteration(DISCOUNTED, tol=-1), ValueError, "tol must be"),
    "value_iteration tol=nan": (lambda: value_iteration(DISCOUNTED, tol=NAN), ValueError, "tol must be"),
    "value_iteration tol=inf": (lambda: value_iteration(DISCOUNTED, tol=INF), ValueError, "tol must be"),
    "value_iteration tol=str": (lambda: value_iteration(DISCOUNTED, tol="small"), TypeError, "tol must be"),
    "soft_value_iteration max_iter=0": (lambda: soft_value_iteration(DISCOUNTED, max_iter=0), ValueError, "max_iter"),
    "soft_value_iteration tol=nan": (lambda: soft_value_iteration(DISCOUNTED, tol=NAN), ValueError, "tol must be"),
    "policy_evaluation tol=-1": (lambda: policy_evaluation(DISCOUNTED, UNIFORM, tol=-1), ValueError, "tol must be"),
    "policy_evaluation max_iter=0": (lambda: policy_evaluation(DISCOUNTED, UNIFORM, max_iter=0), ValueError,
                                     "max_iter"),
    "policy_evaluation policy None": (lambda: policy_evaluation(DISCOUNTED, None), TypeError, "policy must be"),
    "policy_iteration max_iter=0": (lambda: policy_iteration(DISCOUNTED, max_iter=0), ValueError, "max_iter"),
    "soft_maximum temperature -1": (lambda: soft_maximum(torch.zeros(4, 2), -0.69, -1.0), ValueError, "temperature"),
    "soft_maximum temperature nan": (lambda: soft_maximum(torch.zeros(4, 2), -0.69, NAN), ValueError, "temperature"),
    "soft_maximum q list": (lambda: soft_maximum([[0.0, 1.0]], -0.69, 1.0), TypeError, "q must be"),
    "soft_maximum log_prior shape": (lambda: soft_maximum(torch.zeros(4, 2), torch.zeros(3, 3), 1.0), ValueError,
                                     "log_prior must have"),
    "greedy_policy q list": (lambda: greedy_policy([[0.0, 1.0]]), TypeError, "q must be"),
    "greedy_policy q nan": (lambda: greedy_policy(torch.full((2, 2), NAN)), ValueError, "q must not hold NaN"),
    "greedy_policy rtol -1": (lambda: greedy_policy(torch.zeros(2, 2), rtol=-1), ValueError, "rtol must be"),
    # --- enumeration checks the model's inputs before Pyro runs
    "enumerate discount": (lambda: enumerate_log_evidence(DISCOUNTED, 2), ValueError, "mdp.discount"),
    # --- variational inference and the optimality model
    "fit_policy lr -1": (lambda: fit_policy(MDP, 3, lr=-1, **QUIET), ValueError, "lr must be a positive"),
    "fit_policy lr nan": (lambda: fit_policy(MDP, 3, lr=NAN, **QUIET), ValueError, "lr must be a positive"),
    "fit_policy lr 0": (lambda: fit_policy(MDP, 3, lr=0, **QUIET), ValueError, "lr must be a positive"),
    "fit_policy final_lr inf": (lambda: fit_policy(MDP, 3, final_lr=INF, **QUIET), ValueError, "final_lr"),
    "fit_policy guide str": (lambda: fit_policy(MDP, 3, guide="tabular", **QUIET), TypeError, "guide must be"),
    "fit_policy guide of another MDP": (lambda: fit_policy(MDP, 3, guide=TabularPolicyGuide(random_mdp(5, 3), 3),
                                                           **QUIET), ValueError, "built for S=5, A=3"),
    "fit_policy seed -1": (lambda: fit_policy(MDP, 3, seed=-1, **QUIET), ValueError, "seed must be"),
    "fit_policy seed str": (lambda: fit_policy(MDP, 3, seed="a", **QUIET), TypeError, "seed must be"),
    "fit_policy temperature 0": (lambda: fit_policy(MDP, 3, temperature=0, **QUIET), ValueError, "temperature > 0"),
    "policy_svi num_steps 0": (lambda: policy_svi(TabularPolicyGuide(MDP, 3), 4, 0), ValueError, "num_steps"),
    "policy_svi num_trajectories 0": (lambda: policy_svi(TabularPolicyGuide(MDP, 3), 0, 2), ValueError,
                                      "num_trajectories"),
    "policy_svi lr -1": (lambda: policy_svi(TabularPolicyGuide(MDP, 3), 4, 2, lr=-1), ValueError, "lr must be"),
    "policy_svi guide str": (lambda: policy_svi("tabular", 4, 2), TypeError, "guide must be"),
    "elbo policy not a distribution": (lambda: elbo(MDP, 3, torch.ones(4, 2)), ValueError, "policy must sum to 1"),
    "state_distributions str": (lambda: state_distributions(MDP, "x"), TypeError, "policy"),
    "optimality_model 0 trajectories": (lambda: trace(optimality_model, MDP, 3, 0), ValueError, "num_trajectories"),
    "optimality_model -1 trajectories": (lambda: trace(optimality_model, MDP, 3, -1), ValueError,
                                         "num_trajectories"),
    "log_evidence_shift horizon 0": (lambda: log_evidence_shift(MDP, 0), ValueError, "horizon"),
    "log_evidence_shift temperature 0": (lambda: log_evidence_shift(MDP, 3, 0), ValueError, "temperature > 0"),
    "log_evidence_shift mdp str": (lambda: log_evidence_shift("x", 3), TypeError, "mdp must be"),
    "TabularPolicyGuide name int": (lambda: TabularPolicyGuide(MDP, 3, name=3), TypeError, "name must be"),
    "AmortizedPolicyGuide hidden 0": (lambda: AmortizedPolicyGuide(MDP, 3, hidden=0), ValueError, "hidden"),
    "AmortizedPolicyGuide hidden -1": (lambda: AmortizedPolicyGuide(MDP, 3, hidden=-1), ValueError, "hidden"),
    "AmortizedPolicyGuide hidden 1.5": (lambda: AmortizedPolicyGuide(MDP, 3, hidden=1.5), TypeError, "hidden"),
    "AmortizedPolicyGuide features nan": (lambda: AmortizedPolicyGuide(MDP, 3, features=torch.full((4, 2), NAN)),
                                          ValueError, "features must be finite"),
    "AmortizedPolicyGuide features F=0": (lambda: AmortizedPolicyGuide(MDP, 3, features=torch.ones(4, 0)),
                                          ValueError, "at least one feature"),
    "policy_guide log_policy short": (lambda: trace(policy_guide, MDP, 3, 2, torch.zeros(2, 4, 2)), ValueError,
                                      "log_policy must have shape"),
    "policy_guide log_policy list": (lambda: trace(policy_guide, MDP, 3, 2, [[0.0]]), TypeError, "log_policy"),
    "policy_guide mdp str": (lambda: trace(policy_guide, "x", 3, 2, torch.zeros(3, 4, 2)), TypeError, "mdp must be"),
    # --- rewards and IRL
    "LinearReward F=0": (lambda: LinearReward(torch.ones(3, 0)), ValueError, "at least one"),
    "LinearReward expand_actions 0": (lambda: LinearReward(torch.eye(3)).expand_actions(0), ValueError,
                                      "num_actions"),
    "LinearReward expand 3 -> 2": (lambda: LinearReward(torch.ones(3, 3, 2)).expand_actions(2), ValueError,
                                   "cannot be broadcast"),
    "NeuralReward hidden (0,)": (lambda: NeuralReward(torch.eye(3), hidden=(0,)), ValueError, r"hidden\[0\]"),
    "NeuralReward hidden (-1,)": (lambda: NeuralReward(torch.eye(3), hidden=(-1,)), ValueError, r"hidden\[0\]"),
    "NeuralReward hidden (1.5,)": (lambda: NeuralReward(torch.eye(3), hidden=(1.5,)), TypeError, r"hidden\[0\]"),
    "NeuralReward hidden int": (lambda: NeuralReward(torch.eye(3), hidden=32), TypeError, "hidden must be"),
    "NeuralReward hidden str": (lambda: NeuralReward(torch.eye(3), hidden="ab"), TypeError, "hidden must be"),
    "NeuralReward seed -1": (lambda: NeuralReward(torch.eye(3), seed=-1), ValueError, "seed must be"),
    "NeuralReward seed 1.5": (lambda: NeuralReward(torch.eye(3), seed=1.5), TypeError, "seed must be"),
    "flat_prior str": (lambda: flat_prior("x"), TypeError, "flat_prior needs a LinearReward"),
    "flat_prior neural": (lambda: flat_prior(NeuralReward(torch.eye(3))), TypeError, "flat_prior needs"),
    "visitation start not normalized": (lambda: state_action_visitation(TERRAIN, 3, start=torch.ones(9)),
                                        ValueError, "start must sum to 1"),
    "visitation start negative": (lambda: state_action_visitation(TERRAIN, 3, start=-torch.ones(9) / 9),
                                  ValueError, "start must be non-negative"),
    "visitation start nan": (lambda: state_action_visitation(TERRAIN, 3, start=torch.full((9,), NAN)), ValueError,
                             "start must be finite"),
    "visitation variant": (lambda: state_action_visitation(TERRAIN, 3, variant="x"), ValueError, "variant"),
    "feature counts start not normalized": (lambda: expected_feature_counts(TERRAIN, 3, start=torch.ones(9)),
                                            ValueError, "start must sum to 1"),
    "maxent tol inf": (lambda: maxent_irl(TERRAIN, DEMOS, tol=INF, progress=False), ValueError, "tol must be"),
    "maxent lr inf": (lambda: maxent_irl(TERRAIN, DEMOS, lr=INF, progress=False), ValueError, "lr must be"),
    "maxent seed str": (lambda: maxent_irl(TERRAIN, DEMOS, seed="a", progress=False), TypeError, "seed must be"),
    "maxent horizon 2.5": (lambda: maxent_irl(TERRAIN, DEMOS, 2.5, progress=False), TypeError, "horizon"),
    "maxent horizon str": (lambda: maxent_irl(TERRAIN, DEMOS, "a", progress=False), TypeError, "horizon"),
    "hierarchical temperature_prior str": (lambda: hierarchical_irl(TERRAIN, LABELLED, temperature_prior="x",
                                                                    progress=False), TypeError, "temperature_prior"),
    "hierarchical temperature_prior real": (
        lambda: hierarchical_irl(TERRAIN, LABELLED, progress=False,
                                 temperature_prior=dist.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)),
        ValueError, "temperature_prior must have positive support"),
    "hierarchical_irl_model temperature_prior str": (lambda: trace(hierarchical_irl_model, TERRAIN, LABELLED, None,
                                                                   None, None, "x"), TypeError, "temperature_prior"),
    "feature matching tol inf": (lambda: feature_matching_irl(TERRAIN, DEMOS, tol=INF), ValueError, "tol must be"),
    # --- demonstrations
    "Demonstrations states None": (lambda: Demonstrations(None, torch.tensor([[1]])), ValueError, "states must be"),
    "from_trajectories str": (lambda: Demonstrations.from_trajectories("x"), TypeError, "trajectories must have"),
    "validate mdp str": (lambda: DEMOS.validate("x"), TypeError, "mdp must be"),
    "validate horizon 2.5": (lambda: DEMOS.validate(TERRAIN, 2.5), TypeError, "horizon"),
    "start_distribution 0 states": (lambda: DEMOS.start_distribution(0), ValueError, "num_states"),
    "feature_counts too few states": (lambda: DEMOS.feature_counts(torch.ones(2, 4, 2)), ValueError, "states"),
    # --- environments
    "GridWorld map int": (lambda: GridWorld(5), TypeError, "ascii_map must be"),
    "GridWorld slip str": (lambda: GridWorld(["S.G"], slip="a"), TypeError, "slip must be"),
    "GridWorld step_reward str": (lambda: GridWorld(["S.G"], step_reward="a"), TypeError, "step_reward"),
    "GridWorld teleports list": (lambda: GridWorld(["S.G"], teleports=[1, 2]), TypeError, "teleports must be a dict"),
    "GridWorld teleports flat target": (lambda: GridWorld(["S.G"], teleports={(0, 0): (0, 1)}), TypeError,
                                        "teleports must map"),
    "GridWorld teleports bad key": (lambda: GridWorld(["S.G"], teleports={0: ((0, 1), 1.0)}), TypeError,
                                    "teleports must map"),
    "GridWorld teleports float cell": (lambda: GridWorld(["S.G"], teleports={(0, 0.5): ((0, 1), 1.0)}), TypeError,
                                       "teleports must map"),
    "GridWorld teleports reward str": (lambda: GridWorld(["S.G"], teleports={(0, 0): ((0, 1), "a")}), TypeError,
                                       "reward must be a number"),
    "layout.to_grid wrong length": (lambda: WORLD.layout.to_grid(torch.zeros(5)), ValueError, "values must have"),
    "random_mdp seed -1": (lambda: random_mdp(3, 2, seed=-1), ValueError, "seed must be"),
    "random_mdp seed str": (lambda: random_mdp(3, 2, seed="a"), TypeError, "seed must be"),
    "terrain seed -1": (lambda: terrain_gridworld(3, 2, seed=-1), ValueError, "seed must be"),
    "TabularEnv horizon 0": (lambda: TabularEnv(MDP, horizon=0), ValueError, "horizon"),
    "TabularEnv horizon -1": (lambda: TabularEnv(MDP, horizon=-1), ValueError, "horizon"),
    "TabularEnv horizon 2.5": (lambda: TabularEnv(MDP, horizon=2.5), TypeError, "horizon"),
    "from_gymnasium str": (lambda: from_gymnasium("FrozenLake-v1"), TypeError, "env must be"),
    "from_gymnasium None": (lambda: from_gymnasium(None), TypeError, "env must be"),
    "from_gymnasium empty P": (lambda: from_gymnasium(FakeGymEnv({})), ValueError, "P must have the states"),
    "from_gymnasium states not 0..S-1": (lambda: from_gymnasium(FakeGymEnv({1: {0: [(1.0, 1, 0.0, False)]}})),
                                         ValueError, "P must have the states"),
    "from_gymnasium ragged actions": (lambda: from_gymnasium(FakeGymEnv({0: {0: [(1.0, 1, 0.0, False)]}, 1: {}})),
                                      ValueError, r"P\[1\] must map the actions"),
    "from_gymnasium short outcome": (lambda: from_gymnasium(FakeGymEnv({0: {0: [(1.0, 0)]}})), ValueError,
                                     "probability, next_state, reward, terminated"),
    "from_gymnasium next state out of range": (lambda: from_gymnasium(FakeGymEnv({0: {0: [(1.0, 5, 0.0, False)]}})),
                                               ValueError, "leads to state 5"),
    # --- LQR
    "optimistic_dynamics nan": (lambda: optimistic_dynamics(scalar_system(), torch.full((1, 1), NAN)), ValueError,
                                "value_matrix must be finite"),
    "fit_gaussian_policy seed str": (lambda: fit_gaussian_policy(scalar_system(), 3, 2, seed="a", progress=False),
                                     TypeError, "seed must be"),
    "lqr_optimality_model 0 trajectories": (lambda: trace(lqr_optimality_model, scalar_system(), 3, 0), ValueError,
                                            "num_trajectories"),
    # --- figures
    "plot_grid_values ax str": (lambda: plot_grid_values(WORLD, torch.zeros(3), ax="x"), TypeError, "ax must be"),
    "policy_arrows layout str": (lambda: policy_arrows("x", torch.ones(3, 4) / 4), TypeError, "layout must be"),
    "policy_arrows terminal shape": (lambda: policy_arrows(WORLD.layout, torch.ones(3, 4) / 4,
                                                           terminal=torch.zeros(5, dtype=torch.bool)),
                                     ValueError, "terminal must be a bool mask"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_error(name):
    call, error, message = CASES[name]
    with pytest.raises(error, match=message):
        call()


def test_tabular_env_horizon_still_truncates():
    """The horizon check keeps the documented behaviour: truncation exactly after `horizon` steps."""
    env = TabularEnv(random_mdp(3, 2, seed=1), horizon=3)
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(3)] == [False, False, True]


def test_with_rewards_equals_replace_and_shares_the_dynamics():
    """mdp.with_rewards(r) is mdp.replace(rewards=r) (terminal rows zeroed) without revalidating P."""
    rewards = torch.arange(36, dtype=torch.float64).reshape(9, 4)
    swapped, replaced = TERRAIN.with_rewards(rewards), TERRAIN.replace(rewards=rewards)
    assert torch.equal(swapped.rewards, replaced.rewards)
    assert swapped._matrix is TERRAIN._matrix
    terminal = GridWorld(["S.G"])
    assert torch.equal(terminal.with_rewards(torch.ones(3, 4)).rewards[2], torch.zeros(4))
