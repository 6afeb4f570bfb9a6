r"""Exact inference in the Pyro optimality model by Pyro's own enumeration (a second route to the
hand-written messages of :mod:`pgm_control.inference.messages`).

The evidence is scored by ``TraceEnum_ELBO`` on :func:`pgm_control.models.optimality.optimality_hmm_model`
(the actions summed out, s_1 enumerated, the rest of the chain one ``DiscreteHMM`` site);
posterior samples and the MAP path come from ``infer_discrete`` on the per-step
:func:`pgm_control.models.optimality_model`, where every latent is enumerated in parallel and
``pyro.markov`` over time lets Pyro recycle enumeration dimensions (cost linear in T, horizons far
beyond PyTorch's 64 tensor dimensions).

Why two models: scoring the per-step model costs Pyro 3T traced sites, each with its own distribution,
log-probability tensor and einsum (about 9 ms per step at S = 100, A = 4; see benchmarks/README.md);
the ``DiscreteHMM`` form does the same elimination in a handful of batched tensor operations.
"""

from __future__ import annotations

from typing import NamedTuple

import pyro
import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate, infer_discrete

from pgm_control._checks import check_integer
from pgm_control._mdp_inputs import log_action_prior
from pgm_control.inference.messages import check_message_inputs
from pgm_control.mdp import TabularMDP
from pgm_control.models.optimality import log_evidence_shift, optimality_hmm_model, optimality_model


class DiscreteTrajectories(NamedTuple):
    """States ``[N, T]`` (s_1..s_T) and actions ``[N, T]`` (a_1..a_T), batch first."""

    states: torch.Tensor
    actions: torch.Tensor


def _no_guide(*args, **kwargs) -> None:
    """Every latent is enumerated in the model, so the guide is empty."""


def _check(mdp, horizon, temperature, action_prior, what: str):
    """The message-passing checks (undiscounted, α > 0) plus the action prior, once, before Pyro runs."""
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, what)
    log_action_prior(mdp, action_prior)
    return horizon, temperature


def enumerate_log_evidence(mdp: TabularMDP, horizon: int, *, temperature: float = 1.0,
                           action_prior=None) -> torch.Tensor:
    r"""log p(O_{1:T}) computed by Pyro: ``TraceEnum_ELBO`` with every latent enumerated or summed out.

    The model is :func:`~pgm_control.models.optimality.optimality_hmm_model` (a_t summed out, s_1
    enumerated, s_2..s_T eliminated by ``DiscreteHMM``), equal in evidence to the per-step
    :func:`~pgm_control.models.optimality_model`. With an empty guide the ELBO is exactly the log
    marginal likelihood of the observed O_{1:T}; the reward shift of the model (see
    :mod:`pgm_control.models.optimality`) is added back, so the result equals
    :func:`pgm_control.inference.log_evidence` (to rounding) for any horizon. Cost O(T S³) time,
    O(T S²) memory.

    Example:
        >>> from pgm_control.envs import random_mdp
        >>> from pgm_control.inference import log_evidence
        >>> mdp = random_mdp(4, 2, branching=2, seed=0)
        >>> bool(abs(enumerate_log_evidence(mdp, 6) - log_evidence(mdp, 6)) < 1e-10)
        True
    """
    horizon, temperature = _check(mdp, horizon, temperature, action_prior, "enumerate_log_evidence")
    loss = TraceEnum_ELBO(max_plate_nesting=0).loss(optimality_hmm_model, _no_guide, mdp, horizon, temperature,
                                                    action_prior)
    return (torch.tensor(-loss, dtype=torch.float64, device=mdp.rewards.device)
            + log_evidence_shift(mdp, horizon, temperature).detach())


# infer_discrete builds a transition factor of N·S·S·A entries per step for a batch of N trajectories:
# sample in batches that keep it near 2·10^7 entries (160 MB).
_BATCH_ENTRIES = 20_000_000


def _discrete_posterior(mdp, horizon, num, temperature, action_prior, sampling_temperature):
    model = config_enumerate(optimality_model, default="parallel")
    conditioned = infer_discrete(model, first_available_dim=-2, temperature=sampling_temperature)
    batch = max(1, _BATCH_ENTRIES // (mdp.num_states ** 2 * mdp.num_actions))
    states, actions = [], []
    for start in range(0, num, batch):
        size = min(batch, num - start)
        trace = pyro.poutine.trace(conditioned).get_trace(mdp, horizon, size, temperature, action_prior)
        states.append(torch.stack([trace.nodes[f"s_{t}"]["value"].reshape(size) for t in range(horizon)], -1))
        actions.append(torch.stack([trace.nodes[f"a_{t}"]["value"].reshape(size) for t in range(horizon)], -1))
    return DiscreteTrajectories(torch.cat(states), torch.cat(actions))


def posterior_trajectories(mdp: TabularMDP, horizon: int, num: int, *, temperature: float = 1.0,
                           action_prior=None) -> DiscreteTrajectories:
    r"""N exact samples τ ~ p(τ | O_{1:T}) by ``infer_discrete`` (forward filtering, backward sampling).

    Seed with ``pyro.set_rng_seed``. Returns states ``[N, T]`` and actions ``[N, T]``; their empirical
    state frequencies follow :func:`pgm_control.inference.state_marginals`. Memory: ``infer_discrete``
    holds a transition factor of N·S²·A entries per step, so the N samples are drawn in batches of
    about 2·10^7 / (S²A) trajectories.
    """
    horizon, temperature = _check(mdp, horizon, temperature, action_prior, "posterior_trajectories")
    num = check_integer(num, "num")
    if num < 1:
        raise ValueError(f"num must be a positive integer, got {num}")
    return _discrete_posterior(mdp, horizon, num, temperature, action_prior, sampling_temperature=1)


def map_trajectory(mdp: TabularMDP, horizon: int, *, temperature: float = 1.0,
                   action_prior=None) -> DiscreteTrajectories:
    r"""The most likely trajectory argmax_τ p(τ | O_{1:T}) (``infer_discrete`` with temperature 0: Viterbi).

    Returns states ``[1, T]`` and actions ``[1, T]``.
    """
    horizon, temperature = _check(mdp, horizon, temperature, action_prior, "map_trajectory")
    return _discrete_posterior(mdp, horizon, 1, temperature, action_prior, sampling_temperature=0)
