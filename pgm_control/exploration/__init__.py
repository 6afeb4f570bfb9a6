r"""Exploration (CS285 notes, "Exploration"): bandits simulated for many runs at once, optimistic,
posterior-sampling and information-directed agents, regret with its classical bounds, and the exact
Bayes-optimal value of bandit policies by recursion over belief states."""

from pgm_control.exploration.agents import (
    KLUCB,
    UCB1,
    BanditAgent,
    BanditHistory,
    EpsilonGreedy,
    InformationDirected,
    ThompsonBeta,
    ThompsonGaussian,
    beta_information_gain,
    kl_ucb_index,
    run_bandit,
)
from pgm_control.exploration.bandits import Bandit, BernoulliBandit, GaussianBandit, bernoulli_kl
from pgm_control.exploration.bayes import BayesBanditResult, bayes_bandit_value, bayes_optimal_bandit
from pgm_control.exploration.contextual import (
    ContextualAgent,
    ContextualBandit,
    ContextualHistory,
    LinearContextualBandit,
    LinearThompson,
    LinUCB,
    LogisticContextualBandit,
    LogisticThompson,
    RidgeRegressionAgent,
    logistic_model,
    run_contextual_bandit,
)
from pgm_control.exploration.episodic import EpisodeHistory, EpisodicAgent, run_episodes
from pgm_control.exploration.model_bonus import ModelBasedBonus, count_bonus
from pgm_control.exploration.planning import ModelBasedAgent, batched_value_iteration
from pgm_control.exploration.posterior import TabularPosterior, dirichlet_information_gain, dirichlet_kl
from pgm_control.exploration.pseudo_counts import DensityModel, DirichletDensity, EmpiricalDensity, pseudo_count
from pgm_control.exploration.psrl import PosteriorSampling
from pgm_control.exploration.q_agents import BootstrappedQ, CountBonusQ, EpsilonGreedyQ, PseudoCountQ, TabularQAgent
from pgm_control.exploration.regret import (
    RegretCurve,
    cumulative_regret,
    lai_robbins_bound,
    plot_regret,
    regret,
    ucb1_bound,
)

__all__ = [
    "KLUCB",
    "UCB1",
    "Bandit",
    "BanditAgent",
    "BanditHistory",
    "BayesBanditResult",
    "BernoulliBandit",
    "BootstrappedQ",
    "ContextualAgent",
    "ContextualBandit",
    "ContextualHistory",
    "CountBonusQ",
    "DensityModel",
    "DirichletDensity",
    "EmpiricalDensity",
    "EpisodeHistory",
    "EpisodicAgent",
    "EpsilonGreedy",
    "EpsilonGreedyQ",
    "GaussianBandit",
    "InformationDirected",
    "LinUCB",
    "LinearContextualBandit",
    "LinearThompson",
    "LogisticContextualBandit",
    "LogisticThompson",
    "ModelBasedAgent",
    "ModelBasedBonus",
    "PosteriorSampling",
    "PseudoCountQ",
    "RegretCurve",
    "RidgeRegressionAgent",
    "TabularPosterior",
    "TabularQAgent",
    "ThompsonBeta",
    "ThompsonGaussian",
    "batched_value_iteration",
    "bayes_bandit_value",
    "bayes_optimal_bandit",
    "bernoulli_kl",
    "beta_information_gain",
    "count_bonus",
    "cumulative_regret",
    "dirichlet_information_gain",
    "dirichlet_kl",
    "kl_ucb_index",
    "lai_robbins_bound",
    "logistic_model",
    "plot_regret",
    "pseudo_count",
    "regret",
    "run_bandit",
    "run_contextual_bandit",
    "run_episodes",
    "ucb1_bound",
]
