r"""The unknown tabular MDP as a Pyro model: the Bayesian view of exploration (CS285 notes, "Posterior
Sampling" in RL problems: "sample θ, act optimally, update the model").

The parameters θ = (p(·|s, a), r(s, a)) get conjugate priors, Dirichlet and Normal, and every observed
transition (s, a, r, s') is a draw from them; posterior sampling and the information-gain bonus of
:mod:`pgm_control.exploration` use the closed-form posterior of this program.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from pgm_control._checks import DTYPE


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
    concentration = torch.full((num_states,), float(prior_concentration), dtype=DTYPE)
    with pyro.plate("states", num_states, dim=-2), pyro.plate("actions", num_actions, dim=-1):
        transitions = pyro.sample("transitions", dist.Dirichlet(concentration))
        mean_rewards = pyro.sample("rewards", dist.Normal(torch.tensor(float(reward_prior_mean), dtype=DTYPE),
                                                          float(reward_prior_sd)))
    with pyro.plate("data", len(states)):
        pyro.sample("next_state", dist.Categorical(transitions[states, actions]), obs=next_states)
        pyro.sample("reward", dist.Normal(mean_rewards[states, actions], float(reward_noise_sd)), obs=rewards)
