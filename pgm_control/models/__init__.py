"""Pyro models and guides of control as inference: the trajectory model with optimality variables and
policy guides that keep the true dynamics; the reward-parameter models of inverse RL."""

from pgm_control.models.behaviour_cloning import (
    behaviour_cloning_model,
    empirical_policy,
    tabular_behaviour_cloning_model,
)
from pgm_control.models.guides import AmortizedPolicyGuide, TabularPolicyGuide, policy_guide
from pgm_control.models.irl import flat_prior, hierarchical_irl_model, irl_model
from pgm_control.models.lqr import GaussianPolicyGuide, lqr_optimality_model
from pgm_control.models.mdp_posterior import tabular_mdp_model
from pgm_control.models.optimality import log_evidence_shift, optimality_model
from pgm_control.models.rewards import LinearReward, NeuralReward

__all__ = [
    "AmortizedPolicyGuide",
    "GaussianPolicyGuide",
    "LinearReward",
    "NeuralReward",
    "TabularPolicyGuide",
    "behaviour_cloning_model",
    "empirical_policy",
    "flat_prior",
    "hierarchical_irl_model",
    "irl_model",
    "log_evidence_shift",
    "lqr_optimality_model",
    "optimality_model",
    "policy_guide",
    "tabular_behaviour_cloning_model",
    "tabular_mdp_model",
]
