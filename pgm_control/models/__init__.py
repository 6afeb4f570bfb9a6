"""Pyro models and guides of control as inference: the trajectory model with optimality variables and
policy guides that keep the true dynamics."""

from pgm_control.models.guides import AmortizedPolicyGuide, TabularPolicyGuide, policy_guide
from pgm_control.models.lqr import GaussianPolicyGuide, lqr_optimality_model
from pgm_control.models.optimality import log_evidence_shift, optimality_model

__all__ = [
    "AmortizedPolicyGuide",
    "GaussianPolicyGuide",
    "TabularPolicyGuide",
    "log_evidence_shift",
    "lqr_optimality_model",
    "optimality_model",
    "policy_guide",
]
