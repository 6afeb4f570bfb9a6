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
from typing import ClassVar

import pyro
import pyro.distributions as dist
import torch
from pyro.ops.indexing import Vindex
from torch.distributions import constraints

from pgm_control._checks import check_horizon, check_integer, check_temperature
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control.mdp import TabularMDP


def log_evidence_shift(mdp: TabularMDP, horizon: int, temperature: float = 1.0) -> torch.Tensor:
    """T c / α with c = max r + α log 2: add it to the model's log p(O_{1:T}) to get the MDP's."""
    return horizon * (mdp.rewards.max() / temperature + math.log(2.0))


def optimality_log_odds(mdp: TabularMDP, temperature: float = 1.0) -> torch.Tensor:
    r"""log-odds of p(O = 1 | s, a) = exp((r(s, a) - c)/α), c = max r + α log 2; ``[S, A]``."""
    log_p = (mdp.rewards - mdp.rewards.max()) / temperature - math.log(2.0)
    return log_p - torch.log(-torch.expm1(log_p))


def transition_distribution(mdp: TabularMDP, state: torch.Tensor, action: torch.Tensor) -> dist.Distribution:
    """p(s_{t+1} | s_t, a_t) for batched (possibly enumerated) ``state`` and ``action``.

    Dense MDPs give a ``Categorical`` over their table rows; successor-list MDPs a
    :class:`SuccessorCategorical` that touches only the K successors (O(K), not O(S), per trajectory).
    """
    if mdp.is_dense:
        return dist.Categorical(Vindex(mdp.transitions)[state, action])
    return SuccessorCategorical(Vindex(mdp.next_states)[state, action], Vindex(mdp.probs)[state, action],
                                mdp.num_states)


class SuccessorCategorical(dist.TorchDistribution):
    r"""A categorical distribution over {0, ..., S-1} given as successor lists: value ``next_states[k]``
    with probability ``probs[k]``, summed over repeated values. ``next_states``, ``probs`` ``[..., K]``.

        log p(s') = log Σ_k probs[k] · 1[next_states[k] = s']
    """

    arg_constraints: ClassVar[dict] = {}
    has_enumerate_support = True

    def __init__(self, next_states: torch.Tensor, probs: torch.Tensor, num_states: int, validate_args=None):
        self.next_states, self.probs = torch.broadcast_tensors(next_states, probs)
        self.num_states = int(num_states)
        super().__init__(self.probs.shape[:-1], torch.Size(), validate_args=False)

    @constraints.dependent_property
    def support(self):
        return constraints.integer_interval(0, self.num_states - 1)

    def expand(self, batch_shape, _instance=None):
        shape = torch.Size(batch_shape) + self.probs.shape[-1:]
        return SuccessorCategorical(self.next_states.expand(shape), self.probs.expand(shape), self.num_states)

    def sample(self, sample_shape=()):
        k = dist.Categorical(self.probs).sample(torch.Size(sample_shape))
        choices = self.next_states.expand(torch.Size(sample_shape) + self.next_states.shape)
        return choices.gather(-1, k[..., None]).squeeze(-1)

    def log_prob(self, value):
        matches = self.next_states == value[..., None]
        return torch.log((self.probs * matches).sum(-1))

    def enumerate_support(self, expand=True):
        values = torch.arange(self.num_states).reshape(-1, *(1,) * len(self.batch_shape))
        return values.expand(-1, *self.batch_shape) if expand else values


def optimality_model(mdp: TabularMDP, horizon: int, num_trajectories: int = 1, temperature: float = 1.0,
                     action_prior=None) -> None:
    r"""The trajectory model with observed optimality variables (see the module docstring).

    Args:
        mdp: a :class:`TabularMDP` (dense or successor lists); its discount is not used (the model is
            finite-horizon and undiscounted).
        horizon: T.
        num_trajectories: N, the size of the ``"trajectories"`` plate.
        temperature: α in p(O = 1 | s, a) ∝ exp(r/α).
        action_prior: p(a|s) ``[S, A]`` or ``[A]``; uniform when None; zero outside the available
            actions ``mdp.available_actions`` and renormalized over them, so a_t never takes one.

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

    def act_and_observe(t, state):
        action = pyro.sample(f"a_{t}", dist.Categorical(logits=Vindex(log_prior)[state]))
        pyro.sample(f"O_{t}", dist.Bernoulli(logits=Vindex(log_odds)[state, action]),
                    obs=optimal.expand(torch.broadcast_shapes(state.shape, action.shape)))
        return action

    trajectories(mdp, horizon, num_trajectories, act_and_observe)


def trajectories(mdp: TabularMDP, horizon: int, num_trajectories: int, act) -> None:
    r"""The skeleton shared by the model and the guides: inside the plate ``"trajectories"`` and a
    ``pyro.markov`` loop, s_1 ~ p(s_1) or s_{t+1} ~ p(· | s_t, a_t), then a_t = act(t, s_t) (which
    samples ``a_t`` and whatever else the program attaches to step t)."""
    with pyro.plate("trajectories", num_trajectories, dim=-1):
        state, action = None, None
        for t in pyro.markov(range(horizon)):
            if t == 0:
                state = pyro.sample("s_0", dist.Categorical(mdp.initial))
            else:
                state = pyro.sample(f"s_{t}", transition_distribution(mdp, state, action))
            action = act(t, state)
