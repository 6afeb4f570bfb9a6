r"""Exploration (CS285 notes, "Exploration"): bandits simulated for many runs at once, optimistic,
posterior-sampling and information-directed agents, and regret with its classical bounds."""

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
    run_bandit,
)
from pgm_control.exploration.bandits import BernoulliBandit, GaussianBandit, bernoulli_kl
from pgm_control.exploration.regret import RegretCurve, lai_robbins_bound, plot_regret, regret, ucb1_bound

__all__ = [
    "KLUCB",
    "UCB1",
    "BanditAgent",
    "BanditHistory",
    "BernoulliBandit",
    "EpsilonGreedy",
    "GaussianBandit",
    "InformationDirected",
    "RegretCurve",
    "ThompsonBeta",
    "ThompsonGaussian",
    "bernoulli_kl",
    "beta_information_gain",
    "lai_robbins_bound",
    "plot_regret",
    "regret",
    "run_bandit",
    "ucb1_bound",
]
