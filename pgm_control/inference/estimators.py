r"""A variance-reduced ELBO estimator for policy guides with discrete actions.

Pyro's ``TraceGraph_ELBO`` Rao-Blackwellizes the score-function gradient by tracking the provenance of
every tensor operation, which costs about 0.2-0.4 s per step on the optimality model (measured in
``benchmarks/bench_pyro.py``). The model's structure is known, so this estimator does the same
Rao-Blackwellization directly and adds a far stronger baseline:

    ∇ ELBO = E_q[ Σ_t ∇ log q(a_t | s_t) · (R_t - b_t(s_t)) ],    R_t = Σ_{t' >= t} c_{t'}
    c_t = log p(O_t | s_t, a_t) + log p(a_t | s_t) - log q(a_t | s_t)   (+ dynamics terms, which cancel)

* causality: a_t cannot change the costs before t, so only the cost-to-go R_t multiplies its score;
* the term E[∇(-log q)] is zero (the score has mean zero) and is left out;
* b_t(s) is the leave-one-out mean of R_t over the *other* trajectories of the batch that are in the
  same state s at time t (an estimate of the soft value V_t(s)); it depends on other trajectories
  only, so the estimator stays unbiased.

It is a ``pyro.infer.ELBO``: ``SVI(model, guide, optim, loss=CausalScoreELBO())``.
"""

from __future__ import annotations

import pyro
import torch
from pyro.infer.elbo import ELBO


class CausalScoreELBO(ELBO):
    r"""Score-function ELBO with cost-to-go and a leave-one-out per-state baseline (module docstring).

    Works with any model/guide pair whose sample sites are named ``<kind>_<t>`` (``s_t``, ``a_t``,
    ``O_t``) inside one plate of trajectories; guide sites whose log-probability carries gradients are
    the scored ones, and guide sites ``s_t`` give the states for the baseline.
    """

    def __init__(self):
        super().__init__(num_particles=1, max_plate_nesting=1)

    def _get_trace(self, model, guide, args, kwargs):
        """The guide's trace and the model's trace replayed on it, with log-probabilities computed."""
        guide_trace = pyro.poutine.trace(guide).get_trace(*args, **kwargs)
        replayed = pyro.poutine.replay(model, trace=guide_trace)
        model_trace = pyro.poutine.trace(replayed).get_trace(*args, **kwargs)
        guide_trace.compute_log_prob()
        model_trace.compute_log_prob()
        return model_trace, guide_trace

    def _per_step(self, model, guide, args, kwargs):
        """Per-trajectory costs c_t ``[N, T]``, scored log q(a_t|s_t) ``[N, T]`` and states ``[N, T]``."""
        model_trace, guide_trace = self._get_trace(model, guide, args, kwargs)
        guide_sites = _timed_sample_sites(guide_trace)
        model_sites = _timed_sample_sites(model_trace)
        horizon = 1 + max(t for t, _ in model_sites.values())
        num = next(iter(model_sites.values()))[1]["log_prob"].numel()  # trajectories in the plate
        costs = torch.zeros(num, horizon, dtype=torch.float64)
        for t, site in model_sites.values():
            costs[:, t] += site["log_prob"].reshape(num).detach()
        scores, states = torch.zeros_like(costs), torch.zeros(num, horizon, dtype=torch.long)
        for name, (t, site) in guide_sites.items():
            costs[:, t] -= site["log_prob"].reshape(num).detach()
            if site["log_prob"].requires_grad:
                scores[:, t] = scores[:, t] + site["log_prob"].reshape(num)
            if name.startswith("s_"):
                states[:, t] = site["value"].reshape(num)
        return costs, scores, states

    def loss(self, model, guide, *args, **kwargs) -> float:
        """-ELBO, estimated as the batch mean of -Σ_t c_t."""
        with torch.no_grad():
            costs, _, _ = self._per_step(model, guide, args, kwargs)
        return -costs.sum(1).mean().item()

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        costs, scores, states = self._per_step(model, guide, args, kwargs)
        to_go = costs.flip(1).cumsum(1).flip(1)
        advantage = to_go - leave_one_out_state_mean(to_go, states)
        surrogate = (scores * advantage).sum(1).mean()
        (-surrogate).backward()
        return -costs.sum(1).mean().item()


def leave_one_out_state_mean(values: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    r"""b[n, t] = mean of values[m, t] over trajectories m ≠ n with states[m, t] = states[n, t] (0 if
    there is none); values, states ``[N, T]``."""
    horizon = values.shape[1]
    size = int(states.max()) + 1
    key = states + size * torch.arange(horizon)  # one bin per (t, s)
    sums = torch.zeros(horizon * size, dtype=values.dtype).index_add_(0, key.reshape(-1), values.reshape(-1))
    counts = torch.zeros(horizon * size, dtype=values.dtype).index_add_(
        0, key.reshape(-1), torch.ones(values.numel(), dtype=values.dtype))
    others = counts[key] - 1
    return torch.where(others > 0, (sums[key] - values) / others.clamp(min=1), torch.zeros_like(values))


def _timed_sample_sites(trace) -> dict:
    """{name: (t, site)} for the sample sites named ``<kind>_<t>``."""
    sites = {}
    for name, site in trace.nodes.items():
        if site["type"] != "sample":
            continue
        kind, _, time = name.rpartition("_")
        if kind and time.isdigit():
            sites[name] = (int(time), site)
    return sites
