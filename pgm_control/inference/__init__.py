"""All solvers: classic dynamic programming, soft value iteration, exact messages, and inference in the
Pyro optimality model (enumeration, SVI)."""

from pgm_control.inference.dynamic_programming import (
    greedy_policy,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)
from pgm_control.inference.enumeration import (
    DiscreteTrajectories,
    enumerate_log_evidence,
    map_trajectory,
    posterior_trajectories,
)
from pgm_control.inference.estimators import CausalScoreELBO
from pgm_control.inference.messages import (
    backward_messages,
    forward_messages,
    log_evidence,
    posterior_dynamics,
    state_marginals,
)
from pgm_control.inference.results import (
    BackwardMessages,
    ForwardMessages,
    SoftValueResult,
    ValueResult,
)
from pgm_control.inference.soft import soft_maximum, soft_value_iteration
from pgm_control.inference.variational import PolicyFit, elbo, fit_policy, state_distributions

__all__ = [
    "BackwardMessages",
    "CausalScoreELBO",
    "DiscreteTrajectories",
    "ForwardMessages",
    "PolicyFit",
    "SoftValueResult",
    "ValueResult",
    "backward_messages",
    "elbo",
    "enumerate_log_evidence",
    "fit_policy",
    "forward_messages",
    "greedy_policy",
    "log_evidence",
    "map_trajectory",
    "policy_evaluation",
    "policy_iteration",
    "posterior_dynamics",
    "posterior_trajectories",
    "soft_maximum",
    "soft_value_iteration",
    "state_distributions",
    "state_marginals",
    "value_iteration",
]
