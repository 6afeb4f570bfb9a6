"""All solvers: classic dynamic programming, soft value iteration and exact messages."""

from pgm_control.inference.dynamic_programming import (
    greedy_policy,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)
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

__all__ = [
    "BackwardMessages",
    "ForwardMessages",
    "SoftValueResult",
    "ValueResult",
    "backward_messages",
    "forward_messages",
    "greedy_policy",
    "log_evidence",
    "policy_evaluation",
    "policy_iteration",
    "posterior_dynamics",
    "soft_maximum",
    "soft_value_iteration",
    "state_marginals",
    "value_iteration",
]
