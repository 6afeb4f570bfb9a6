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
from pgm_control.meta.pearl import PEARL, PEARLConfig, gaussian_kl_to_standard
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
from pgm_control.meta.transfer import (
    FineTuneResult,
    discounted_visits,
    displacement_features,
    distill,
    distillation_loss,
    distillation_optimum,
    episodes_to_threshold,
    fine_tune_soft_q,
    policy_returns,
    randomized_policy,
    state_features,
    student_log_policies,
    task_returns,
    task_state_features,
    with_hazards,
)

__all__ = [
    "PEARL",
    "BayesAdaptiveResult",
    "FineTuneResult",
    "FiniteTaskFamily",
    "PEARLConfig",
    "PointRobotFamily",
    "TaskEncoder",
    "TaskFamily",
    "bandit_tasks",
    "bayes_adaptive_value",
    "beta_bandit_tasks",
    "discounted_visits",
    "displacement_features",
    "distill",
    "distillation_loss",
    "distillation_optimum",
    "encoder_guide",
    "episodes_to_threshold",
    "fine_tune_soft_q",
    "fit_task_encoder",
    "gaussian_kl_to_standard",
    "grid_navigation_tasks",
    "mean_rewards",
    "navigation_goals",
    "oracle_value",
    "point_robot_model",
    "point_robot_tasks",
    "policy_returns",
    "random_contexts",
    "randomized_policy",
    "rollout",
    "slippery_grid_tasks",
    "state_features",
    "student_log_policies",
    "task_model",
    "task_posterior",
    "task_returns",
    "task_state_features",
    "transition_posterior",
    "with_hazards",
]
