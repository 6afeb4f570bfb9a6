"""All solvers: classic dynamic programming, soft value iteration, exact messages, inference in the
Pyro optimality model (enumeration, SVI), inverse RL, and continuous control as inference (linear-Gaussian)."""

from pgm_control.inference.bayesian_irl import BayesianIRLResult, bayesian_irl
from pgm_control.inference.behaviour_cloning import BehaviourCloningResult, tabular_behaviour_cloning
from pgm_control.inference.dynamic_programming import policy_evaluation, policy_iteration, value_iteration
from pgm_control.inference.enumeration import (
    DiscreteTrajectories,
    enumerate_log_evidence,
    map_trajectory,
    posterior_trajectories,
)
from pgm_control.inference.estimators import CausalScoreELBO
from pgm_control.inference.feature_matching import FeatureMatchingResult, feature_matching_irl
from pgm_control.inference.irl import (
    HierarchicalIRLResult,
    MaxEntIRLResult,
    demonstrated_feature_counts,
    expected_feature_counts,
    hierarchical_irl,
    maxent_irl,
    state_action_visitation,
)
from pgm_control.inference.lqr import (
    GaussianPolicyFit,
    LQRSolution,
    fit_gaussian_policy,
    lqr_log_evidence,
    optimistic_dynamics,
    optimistic_lqr,
    policy_elbo,
    soft_lqr,
)
from pgm_control.inference.messages import (
    backward_messages,
    forward_messages,
    log_evidence,
    posterior_dynamics,
    state_marginals,
)
from pgm_control.inference.policies import greedy_policy
from pgm_control.inference.results import (
    BackwardMessages,
    ForwardMessages,
    SoftValueResult,
    ValueResult,
)
from pgm_control.inference.sample_irl import (
    AgentPolicyLearner,
    ExactSoftPolicyLearner,
    ObservationTrajectories,
    PolicyLearner,
    PolicySamples,
    SampleIRLObjective,
    SampleIRLResult,
    effective_sample_size,
    sample_based_irl,
    sample_irl_objective,
    trajectory_rewards,
)
from pgm_control.inference.soft import soft_maximum, soft_value_iteration
from pgm_control.inference.variational import PolicyFit, elbo, fit_policy, policy_svi, state_distributions

__all__ = [
    "AgentPolicyLearner",
    "BackwardMessages",
    "BayesianIRLResult",
    "BehaviourCloningResult",
    "CausalScoreELBO",
    "DiscreteTrajectories",
    "ExactSoftPolicyLearner",
    "FeatureMatchingResult",
    "ForwardMessages",
    "GaussianPolicyFit",
    "HierarchicalIRLResult",
    "LQRSolution",
    "MaxEntIRLResult",
    "ObservationTrajectories",
    "PolicyFit",
    "PolicyLearner",
    "PolicySamples",
    "SampleIRLObjective",
    "SampleIRLResult",
    "SoftValueResult",
    "ValueResult",
    "backward_messages",
    "bayesian_irl",
    "demonstrated_feature_counts",
    "effective_sample_size",
    "elbo",
    "enumerate_log_evidence",
    "expected_feature_counts",
    "feature_matching_irl",
    "fit_gaussian_policy",
    "fit_policy",
    "forward_messages",
    "greedy_policy",
    "hierarchical_irl",
    "log_evidence",
    "lqr_log_evidence",
    "map_trajectory",
    "maxent_irl",
    "optimistic_dynamics",
    "optimistic_lqr",
    "policy_elbo",
    "policy_evaluation",
    "policy_iteration",
    "policy_svi",
    "posterior_dynamics",
    "posterior_trajectories",
    "sample_based_irl",
    "sample_irl_objective",
    "soft_lqr",
    "soft_maximum",
    "soft_value_iteration",
    "state_action_visitation",
    "state_distributions",
    "state_marginals",
    "tabular_behaviour_cloning",
    "trajectory_rewards",
    "value_iteration",
]
