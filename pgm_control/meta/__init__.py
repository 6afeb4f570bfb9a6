r"""Meta-RL as inference (CS285 notes, "Meta-RL", "Latent Model"): task families, the task as a latent
variable in a Pyro program, and the exact Bayes-adaptive value by dynamic programming over beliefs."""

from pgm_control.meta.bayes_adaptive import BayesAdaptiveResult, bayes_adaptive_value, oracle_value
from pgm_control.meta.tasks import (
    FiniteTaskFamily,
    TaskFamily,
    bandit_tasks,
    beta_bandit_tasks,
    grid_navigation_tasks,
    navigation_goals,
    slippery_grid_tasks,
)

__all__ = [
    "BayesAdaptiveResult",
    "FiniteTaskFamily",
    "TaskFamily",
    "bandit_tasks",
    "bayes_adaptive_value",
    "beta_bandit_tasks",
    "grid_navigation_tasks",
    "navigation_goals",
    "oracle_value",
    "slippery_grid_tasks",
]
