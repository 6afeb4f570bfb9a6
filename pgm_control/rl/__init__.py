"""Model-free max-entropy RL algorithms: tabular Q-learning, soft Q-learning, REINFORCE, and deep soft
Q-learning and Soft Actor-Critic.

Inverse RL as a GAN on tabular MDPs (:mod:`pgm_control.rl.adversarial`): :func:`airl`, :func:`gail`
and :func:`gan_gcl`, one adversarial loop with an exact soft inner loop; with deep agents
(:mod:`pgm_control.rl.adversarial_deep`): :class:`AdversarialImitation` (AIRL or GAIL around SAC or SoftQ).

Deep agents (Gymnasium environments with Box observations): :class:`SAC` (Box actions; Lecture 20's
Algorithm 1 as ``variant="v1"``, automatic temperature as ``"v2"``) and :class:`SoftQ` (Discrete actions),
both driven by :class:`~pgm_control.rl.training.OffPolicyAgent`: ``train``, ``evaluate``, ``save``,
``load``; either takes an exploration bonus (``exploration_bonus="rnd"``: :class:`RandomNetworkDistillation`).
Tabular algorithms: :func:`q_learning`, :func:`soft_q_learning` (:mod:`pgm_control.rl.tabular`)
and :func:`reinforce` (:mod:`pgm_control.rl.policy_gradient`).
"""

from pgm_control.rl.adversarial import (
    AdversarialIRLResult,
    AIRLDiscriminator,
    GAILDiscriminator,
    GANGCLDiscriminator,
    adversarial_irl,
    airl,
    discriminator_loss,
    gail,
    gan_gcl,
)
from pgm_control.rl.adversarial_deep import AdversarialImitation, expert_transitions
from pgm_control.rl.behaviour_cloning import NeuralCloningResult, behaviour_cloning
from pgm_control.rl.bonus import RandomNetworkDistillation
from pgm_control.rl.demonstration_replay import (
    DemonstrationReplayBuffer,
    add_imitation_term,
    large_margin_loss,
    pretrain_and_finetune,
    use_demonstrations,
)
from pgm_control.rl.demonstrations_rl import (
    DemonstrationPGResult,
    hybrid_surrogate,
    importance_sampled_surrogate,
    reinforce_with_demonstrations,
)
from pgm_control.rl.irl_learners import (
    AgentLearner,
    OneHotSoftQLearner,
    ReinforceLearner,
    TabularSoftQLearner,
    TimeIndexedRewardEnv,
)
from pgm_control.rl.networks import (
    DiscreteQNetwork,
    QNetwork,
    TanhGaussianPolicy,
    ValueNetwork,
    squashed_gaussian_log_prob,
    tanh_log_abs_det_jacobian,
)
from pgm_control.rl.policy_gradient import PolicyGradientResult, reinforce
from pgm_control.rl.replay import (
    Prioritization,
    PrioritizedSample,
    ReplayBuffer,
    Transitions,
    priority_importance_weights,
    priority_log_probabilities,
)
from pgm_control.rl.sac import SAC, SACConfig
from pgm_control.rl.soft_q import SoftQ, SoftQConfig
from pgm_control.rl.tabular import TabularQResult, q_learning, soft_q_learning
from pgm_control.rl.training import (
    OffPolicyAgent,
    ReturnsLog,
    TrainingHistory,
    plot_learning_curve,
    polyak_update,
    read_returns,
)

__all__ = [
    "SAC",
    "AIRLDiscriminator",
    "AdversarialIRLResult",
    "AdversarialImitation",
    "AgentLearner",
    "DemonstrationPGResult",
    "DemonstrationReplayBuffer",
    "DiscreteQNetwork",
    "GAILDiscriminator",
    "GANGCLDiscriminator",
    "NeuralCloningResult",
    "OffPolicyAgent",
    "OneHotSoftQLearner",
    "PolicyGradientResult",
    "Prioritization",
    "PrioritizedSample",
    "QNetwork",
    "RandomNetworkDistillation",
    "ReinforceLearner",
    "ReplayBuffer",
    "ReturnsLog",
    "SACConfig",
    "SoftQ",
    "SoftQConfig",
    "TabularQResult",
    "TabularSoftQLearner",
    "TanhGaussianPolicy",
    "TimeIndexedRewardEnv",
    "TrainingHistory",
    "Transitions",
    "ValueNetwork",
    "add_imitation_term",
    "adversarial_irl",
    "airl",
    "behaviour_cloning",
    "discriminator_loss",
    "expert_transitions",
    "gail",
    "gan_gcl",
    "hybrid_surrogate",
    "importance_sampled_surrogate",
    "large_margin_loss",
    "plot_learning_curve",
    "polyak_update",
    "pretrain_and_finetune",
    "priority_importance_weights",
    "priority_log_probabilities",
    "q_learning",
    "read_returns",
    "reinforce",
    "reinforce_with_demonstrations",
    "soft_q_learning",
    "squashed_gaussian_log_prob",
    "tanh_log_abs_det_jacobian",
    "use_demonstrations",
]
