r"""The MDP with optimality variables as a Pyro program (Lecture 20, "MDP as a Graphical Model").

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

:func:`optimality_hmm_model` is the same evidence p(O_{1:T}) written for speed: the actions summed out
in closed form and the chain s_2..s_T one ``DiscreteHMM`` site (see its docstring). It is what
:func:`pgm_control.inference.enumerate_log_evidence` scores; :func:`optimality_model` stays the
per-step program that the guides, ``infer_discrete`` and :func:`pgm_control.viz.pgm_graph` read.
"""

from __future__ import annotations

import math
from typing import ClassVar

import pyro
import pyro.distributions as dist
import torch
from pyro.ops.indexing import Vindex
from torch.distributions import constraints

from pgm_control._checks import check_horizon, check_positive_integer, check_temperature
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control.mdp import TabularMDP


def log_evidence_shift(mdp: TabularMDP, horizon: int, temperature: float = 1.0) -> torch.Tensor:
    """T c / α with c = max r + α log 2: add it to the model's log p(O_{1:T}) to get the MDP's."""
    check_mdp(mdp)
    horizon, temperature = check_horizon(horizon, required=True), check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("log_evidence_shift needs temperature > 0 (c / α)")
    return horizon * (mdp.rewards.max() / temperature + math.log(2.0))


def optimality_log_odds(mdp: TabularMDP, temperature: float = 1.0) -> torch.Tensor:
    r"""log-odds of p(O = 1 | s, a) = exp((r(s, a) - c)/α), c = max r + α log 2; ``[S, A]``."""
    log_p = (mdp.rewards - mdp.rewards.max()) / temperature - math.log(2.0)
    return log_p - torch.log(-torch.expm1(log_p))


def dense_transitions(mdp: TabularMDP) -> torch.Tensor:
    """p(s' | s, a) as a dense ``[S, A, S']`` tensor (successor lists scattered, repeats summed)."""
    if mdp.is_dense:
        return mdp.transitions
    dense = torch.zeros(mdp.num_states, mdp.num_actions, mdp.num_states, dtype=mdp.probs.dtype,
                        device=mdp.probs.device)
    return dense.scatter_add_(-1, mdp.next_states, mdp.probs)


def action_marginal_factors(mdp: TabularMDP, temperature: float = 1.0,
                            action_prior=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The optimality model with a_t summed out (Lecture 20, "MDP as a Graphical Model"):

        log p(O_t = 1 | s_t)                = log Σ_a p(a|s_t) p(O_t = 1 | s_t, a)
        log p(s_{t+1} | s_t, O_t = 1)       = log Σ_a p(a|s_t) p(O_t = 1 | s_t, a) p(s_{t+1}|s_t, a)
                                              - log p(O_t = 1 | s_t)

    with the shifted p(O = 1 | s, a) of the module docstring, all in log space. Returns
    ``log_p_optimal`` ``[S]`` and ``log_next`` ``[S, S']``; their product over t is the joint of the
    states and the observed O_{1:T}, so the evidence is unchanged. Memory: one dense ``[S, A, S']``.
    """
    log_p_optimal_sa = (mdp.rewards - mdp.rewards.max()) / temperature - math.log(2.0)
    log_weight = log_action_prior(mdp, action_prior).to(mdp.rewards.device) + log_p_optimal_sa  # log p(a, O=1|s)
    log_p_optimal = torch.logsumexp(log_weight, -1)
    log_joint = torch.logsumexp(log_weight[..., None] + dense_transitions(mdp).log(), 1)  # [S, S']
    return log_p_optimal, log_joint - log_p_optimal[:, None]


def transition_distribution(mdp: TabularMDP, state: torch.Tensor, action: torch.Tensor,
                            log_transitions: torch.Tensor | None = None) -> dist.Distribution:
    """p(s_{t+1} | s_t, a_t) for batched (possibly enumerated) ``state`` and ``action``.

    Dense MDPs give a ``Categorical`` over the rows of ``log_transitions`` (``mdp.transitions.log()``,
    computed once by the caller; logits keep impossible successors at -inf, where ``probs`` would be
    clamped to float64's eps); successor-list MDPs a :class:`SuccessorCategorical` that touches only
    the K successors (O(K), not O(S), per trajectory).
    """
    if mdp.is_dense:
        return dist.Categorical(logits=Vindex(log_transitions)[state, action])
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
        values = torch.arange(self.num_states, device=self.next_states.device)
        values = values.reshape(-1, *(1,) * len(self.batch_shape))
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
    num_trajectories = check_positive_integer(num_trajectories, "num_trajectories")
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("optimality_model needs temperature > 0 (p(O|s,a) ∝ exp(r/α))")
    log_prior = log_action_prior(mdp, action_prior).to(mdp.rewards.device)
    log_odds = optimality_log_odds(mdp, temperature)
    optimal = torch.ones((), dtype=log_odds.dtype, device=log_odds.device)

    def act_and_observe(t, state):
        action = pyro.sample(f"a_{t}", dist.Categorical(logits=Vindex(log_prior)[state]))
        pyro.sample(f"O_{t}", dist.Bernoulli(logits=Vindex(log_odds)[state, action]),
                    obs=optimal.expand(torch.broadcast_shapes(state.shape, action.shape)))
        return action

    trajectories(mdp, horizon, num_trajectories, act_and_observe)


def optimality_hmm_model(mdp: TabularMDP, horizon: int, temperature: float = 1.0, action_prior=None) -> None:
    r"""p(O_{1:T}) of :func:`optimality_model` as three sites (arguments checked by the caller):

        s_1 ~ p(s_1)                                   "s_0", enumerated by TraceEnum_ELBO
        O_1 ~ Bernoulli(p(O_1 = 1 | s_1))              "O_0", observed 1
        O_{2:T} ~ DiscreteHMM(s_1, p(s_{t+1} | s_t, O_t = 1), p(O_t = 1 | s_t))   "O_1:T", observed 1

    with the factors of :func:`action_marginal_factors`. Observing every O_t = 1 makes
    p(O_t = 1, s_{t+1} | s_t) = p(O_t = 1 | s_t) p(s_{t+1} | s_t, O_t = 1) the only quantity the
    evidence needs, so this HMM gives the per-step model's log p(O_{1:T}) exactly, while Pyro
    eliminates time in one ``DiscreteHMM.log_prob`` (a tree of T log-matrix products, O(T S³) work in
    O(log T) sequential steps and O(T S²) memory) instead of tracing and contracting 3T sites.
    The states s_2..s_T and the actions are not sites: use :func:`optimality_model` to sample them.
    """
    log_p_optimal, log_next = action_marginal_factors(mdp, temperature, action_prior)
    log_odds = log_p_optimal - torch.log(-torch.expm1(log_p_optimal))
    ones = torch.ones(horizon, dtype=log_odds.dtype, device=log_odds.device)
    state = pyro.sample("s_0", dist.Categorical(mdp.initial), infer={"enumerate": "parallel"})
    pyro.sample("O_0", dist.Bernoulli(logits=log_odds[state]), obs=ones[0].expand(state.shape))
    if horizon > 1:
        start = torch.eye(mdp.num_states, dtype=log_odds.dtype, device=log_odds.device)[state].log()
        observe = dist.Bernoulli(logits=log_odds).expand([horizon - 1, mdp.num_states])
        pyro.sample("O_1:T", dist.DiscreteHMM(start, log_next, observe), obs=ones[1:])


def trajectories(mdp: TabularMDP, horizon: int, num_trajectories: int, act) -> None:
    r"""The skeleton shared by the model and the guides: inside the plate ``"trajectories"`` and a
    ``pyro.markov`` loop, s_1 ~ p(s_1) or s_{t+1} ~ p(· | s_t, a_t), then a_t = act(t, s_t) (which
    samples ``a_t`` and whatever else the program attaches to step t)."""
    log_transitions = mdp.transitions.log() if mdp.is_dense else None
    with pyro.plate("trajectories", num_trajectories, dim=-1):
        state, action = None, None
        for t in pyro.markov(range(horizon)):
            if t == 0:
                state = pyro.sample("s_0", dist.Categorical(mdp.initial))
            else:
                state = pyro.sample(f"s_{t}", transition_distribution(mdp, state, action, log_transitions))
            action = act(t, state)
