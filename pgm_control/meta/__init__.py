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
from pgm_control.meta.maml import (
    PointRobotMAMLResult,
    TabularMAMLResult,
    evaluate_point_robot,
    exact_task_returns,
    init_gaussian_policy,
    tabular_maml_objective,
    train_point_robot_maml,
    train_tabular_maml,
)
from pgm_control.meta.rl2 import (
    RL2Agent,
    RL2Result,
    RL2Trials,
    TrialReturns,
    evaluate_rl2,
    rl2_loss,
    rl2_rollout,
    train_rl2,
)
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
    "PointRobotMAMLResult",
    "RL2Agent",
    "RL2Result",
    "RL2Trials",
    "TabularMAMLResult",
    "TaskEncoder",
    "TaskFamily",
    "TrialReturns",
    "bandit_tasks",
    "bayes_adaptive_value",
    "beta_bandit_tasks",
    "encoder_guide",
    "evaluate_point_robot",
    "evaluate_rl2",
    "exact_task_returns",
    "fit_task_encoder",
    "grid_navigation_tasks",
    "init_gaussian_policy",
    "mean_rewards",
    "navigation_goals",
    "oracle_value",
    "point_robot_model",
    "point_robot_tasks",
    "random_contexts",
    "rl2_loss",
    "rl2_rollout",
    "rollout",
    "slippery_grid_tasks",
    "tabular_maml_objective",
    "task_model",
    "task_posterior",
    "train_point_robot_maml",
    "train_rl2",
    "train_tabular_maml",
    "transition_posterior",
]
