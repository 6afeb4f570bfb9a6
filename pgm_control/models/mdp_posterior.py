r"""The unknown tabular MDP as a Pyro model: the Bayesian view of exploration (CS285 notes, "Posterior
Sampling" in RL problems: "sample θ, act optimally, update the model").

The parameters θ = (p(·|s, a), r(s, a)) get conjugate priors, Dirichlet and Normal, and every observed
transition (s, a, r, s') is a draw from them; posterior sampling and the information-gain bonus of
:mod:`pgm_control.exploration` use the closed-form posterior of this program.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_finite,
    check_indices,
    check_positive,
    check_positive_integer,
    check_real,
    check_shape,
)


def tabular_mdp_model(states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                      next_states: torch.Tensor, num_states: int, num_actions: int, *,
                      prior_concentration: float = 1.0, reward_prior_mean: float = 0.0,
                      reward_prior_sd: float = 1.0, reward_noise_sd: float = 1.0) -> None:
    r"""The unknown MDP and its observed transitions as a Pyro program (one run):

        p(·|s, a) ~ Dirichlet(α_0 1_S),   r(s, a) ~ Normal(m_0, s_0²)          for every (s, a)
        s'_n ~ Categorical(p(·|s_n, a_n)),   r_n ~ Normal(r(s_n, a_n), σ²)     for n = 1..N

    Sites: ``transitions`` ``[S, A, S]`` and ``rewards`` ``[S, A]`` inside plates ``"states"`` (dim −2)
    and ``"actions"`` (dim −1); the observed ``next_state`` and ``reward`` ``[N]`` inside the plate
    ``"data"``. ``states``, ``actions``, ``next_states`` (long) and ``rewards`` (float64) are ``[N]``.
    :class:`pgm_control.exploration.TabularPosterior` holds its exact posterior in closed form, for R runs.
    """
    num_states = check_positive_integer(num_states, "num_states")
    num_actions = check_positive_integer(num_actions, "num_actions")
    states, actions, rewards, next_states = _check_data(states, actions, rewards, next_states, num_states,
                                                        num_actions)
    prior_concentration = check_positive(prior_concentration, "prior_concentration")
    reward_prior_mean = check_real(reward_prior_mean, "reward_prior_mean", "a finite number")
    if not math.isfinite(reward_prior_mean):
        raise ValueError(f"reward_prior_mean must be a finite number, got {reward_prior_mean}")
    reward_prior_sd = check_positive(reward_prior_sd, "reward_prior_sd")
    reward_noise_sd = check_positive(reward_noise_sd, "reward_noise_sd")
    concentration = torch.full((num_states,), prior_concentration, dtype=DTYPE)
    with pyro.plate("states", num_states, dim=-2), pyro.plate("actions", num_actions, dim=-1):
        transitions = pyro.sample("transitions", dist.Dirichlet(concentration))
        mean_rewards = pyro.sample("rewards", dist.Normal(torch.tensor(reward_prior_mean, dtype=DTYPE),
                                                          reward_prior_sd))
    with pyro.plate("data", len(states)):
        pyro.sample("next_state", dist.Categorical(transitions[states, actions]), obs=next_states)
        pyro.sample("reward", dist.Normal(mean_rewards[states, actions], reward_noise_sd), obs=rewards)


def _check_data(states, actions, rewards, next_states, num_states: int, num_actions: int) -> tuple[torch.Tensor, ...]:
    """N observed transitions: states, actions, next_states ``[N]`` in range, finite rewards ``[N]``."""
    states = as_index_tensor(states, "states")
    check_shape(states, [None], "states", "[N] (one per observed transition)")
    num = states.shape[0]
    actions, next_states = as_index_tensor(actions, "actions"), as_index_tensor(next_states, "next_states")
    rewards = as_float_tensor(rewards, "rewards")
    for tensor, name in ((actions, "actions"), (next_states, "next_states"), (rewards, "rewards")):
        check_shape(tensor, [num], name, "[N] (one per observed transition)")
    check_finite(rewards, "rewards")
    for tensor, bound, name in ((states, num_states, "states"), (next_states, num_states, "next_states"),
                                (actions, num_actions, "actions")):
        check_indices(tensor, bound, name)
    return states, actions, rewards, next_states
