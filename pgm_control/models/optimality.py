r"""The MDP with optimality variables as a Pyro program (seed 000, "MDP as a Graphical Model").

    s_1 ~ p(s_1),   a_t ~ p(a_t | s_t),   s_{t+1} ~ p(s_{t+1} | s_t, a_t),   O_t ~ Bernoulli(p(O_t = 1 | s_t, a_t))

with p(O_t = 1 | s_t, a_t) ∝ exp(r(s_t, a_t)/α) and every O_t observed to be 1. Sites are named
``s_t``, ``a_t``, ``O_t`` for code time t = 0..T-1 (the slides' 1..T), inside a plate
``"trajectories"`` of size N (``dim=-1``) and a ``pyro.markov`` loop over time, so that enumeration
costs O(T) and any horizon works.

Shift. exp(r/α) is a probability only when r <= 0. The model observes O_t under
p(O_t = 1 | s, a) = exp((r(s, a) - c)/α) with c = max r + α log 2 (so every probability is at most 1/2,
and the Bernoulli log-odds stay finite); then
    log p(O_{1:T}) = log p_model(O_{1:T}) + T c / α,
which :func:`log_evidence_shift` returns and every reported evidence or ELBO adds back.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from pyro.ops.indexing import Vindex

from pgm_control._checks import check_horizon, check_integer, check_temperature
from pgm_control.inference._recursion import check_mdp, log_action_prior
from pgm_control.mdp import TabularMDP


def log_evidence_shift(mdp: TabularMDP, horizon: int, temperature: float = 1.0) -> torch.Tensor:
    """T c / α with c = max r + α log 2: add it to the model's log p(O_{1:T}) to get the MDP's."""
    return horizon * (mdp.rewards.max() / temperature + math.log(2.0))


def optimality_log_odds(mdp: TabularMDP, temperature: float = 1.0) -> torch.Tensor:
    r"""log-odds of p(O = 1 | s, a) = exp((r(s, a) - c)/α), c = max r + α log 2; ``[S, A]``."""
    log_p = (mdp.rewards - mdp.rewards.max()) / temperature - math.log(2.0)
    return log_p - torch.log(-torch.expm1(log_p))


def transition_probs(mdp: TabularMDP, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """p(· | s, a) as dense rows ``[..., S]`` for batched (possibly enumerated) ``state``, ``action``.

    Dense MDPs index their table; successor-list MDPs scatter only the rows asked for.
    """
    if mdp.is_dense:
        return Vindex(mdp.transitions)[state, action]
    next_states = Vindex(mdp.next_states)[state, action]
    probs = Vindex(mdp.probs)[state, action]
    rows = probs.new_zeros(*probs.shape[:-1], mdp.num_states)
    return rows.scatter_add(-1, next_states, probs)


def optimality_model(mdp: TabularMDP, horizon: int, num_trajectories: int = 1, temperature: float = 1.0,
                     action_prior=None) -> None:
    r"""The trajectory model with observed optimality variables (see the module docstring).

    Args:
        mdp: a :class:`TabularMDP` (dense or successor lists); its discount is not used (the model is
            finite-horizon and undiscounted).
        horizon: T.
        num_trajectories: N, the size of the ``"trajectories"`` plate.
        temperature: α in p(O = 1 | s, a) ∝ exp(r/α).
        action_prior: p(a|s) ``[S, A]`` or ``[A]``; uniform when None.

    Example:
        >>> import pyro
        >>> from pgm_control.envs import lottery_mdp
        >>> trace = pyro.poutine.trace(optimality_model).get_trace(lottery_mdp(), 3, num_trajectories=2)
        >>> [name for name in trace.nodes if name[0] in "saO"][:4]
        ['s_0', 'a_0', 'O_0', 's_1']
        >>> trace.nodes["O_0"]["is_observed"], tuple(trace.nodes["a_2"]["value"].shape)
        (True, (2,))
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    num_trajectories = check_integer(num_trajectories, "num_trajectories")
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("optimality_model needs temperature > 0 (p(O|s,a) ∝ exp(r/α))")
    log_prior = log_action_prior(mdp, action_prior)
    log_odds = optimality_log_odds(mdp, temperature)
    optimal = torch.ones((), dtype=log_odds.dtype)
    with pyro.plate("trajectories", num_trajectories, dim=-1):
        state, action = None, None
        for t in pyro.markov(range(horizon)):
            if t == 0:
                state = pyro.sample("s_0", dist.Categorical(mdp.initial))
            else:
                state = pyro.sample(f"s_{t}", dist.Categorical(transition_probs(mdp, state, action)))
            action = pyro.sample(f"a_{t}", dist.Categorical(logits=Vindex(log_prior)[state]))
            pyro.sample(f"O_{t}", dist.Bernoulli(logits=Vindex(log_odds)[state, action]),
                        obs=optimal.expand(torch.broadcast_shapes(state.shape, action.shape)))
