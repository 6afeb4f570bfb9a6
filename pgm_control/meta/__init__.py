r"""Meta-RL as inference (CS285 notes, "Meta-RL", "Latent Model"): task families, the task as a latent
variable in a Pyro program (exact enumeration for finite families, an amortized encoder q_φ(z | c) for
the point robot), and the exact Bayes-adaptive value by dynamic programming over beliefs.

Every family has ``prior``, ``episode_length``, ``sample``, ``reset`` and ``step`` (batched over R runs,
see :class:`TaskFamily`); finite ones also ``tasks`` (ordinary TabularMDPs) and ``num_tasks``."""

from pgm_control.meta.bayes_adaptive import BayesAdaptiveResult, bayes_adaptive_value, oracle_value
from pgm_control.meta.encoder import (
    TaskEncoder,
    encoder_guide,
    fit_task_encoder,
    mean_rewards,
    point_robot_model,
    random_contexts,
    rollout,
)
from pgm_control.meta.latent import task_model, task_posterior, transition_posterior
from pgm_control.meta.tasks import (
    FiniteTaskFamily,
    PointRobotFamily,
    TaskFamily,
    bandit_tasks,
    beta_bandit_tasks,
    grid_navigation_tasks,
    navigation_goals,
    point_robot_tasks,
    slippery_grid_tasks,
)

__all__ = [
    "BayesAdaptiveResult",
    "FiniteTaskFamily",
    "PointRobotFamily",
    "TaskEncoder",
    "TaskFamily",
    "bandit_tasks",
    "bayes_adaptive_value",
    "beta_bandit_tasks",
    "encoder_guide",
    "fit_task_encoder",
    "grid_navigation_tasks",
    "mean_rewards",
    "navigation_goals",
    "oracle_value",
    "point_robot_model",
    "point_robot_tasks",
    "random_contexts",
    "rollout",
    "slippery_grid_tasks",
    "task_model",
    "task_posterior",
    "transition_posterior",
]
