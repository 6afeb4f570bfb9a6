r"""Control via variational inference (Lecture 20; the CS285 notes, Proof 2): the ELBO of a policy, exactly,
and its maximization by Pyro's SVI.

With q(τ) = p(s_1) Π_t q(a_t|s_t) p(s_{t+1}|s_t, a_t) (the dynamics held fixed),

    log p(O_{1:T}) >= ELBO(q) = Σ_t E_{(s_t, a_t) ~ q}[ r(s_t, a_t)/α + log p(a_t|s_t) - log q(a_t|s_t) ],

maximized by the policy of ``soft_value_iteration(..., backup="expected")`` with value Σ_s p(s_1) V_1(s)/α.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyro
import torch
from pyro.infer import SVI, TraceGraph_ELBO
from pyro.optim import ClippedAdam
from tqdm import tqdm

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_horizon,
    check_learning_rate,
    check_positive_integer,
    check_seed,
    check_temperature,
)
from pgm_control._logspace import safe_log
from pgm_control._mdp_inputs import check_mdp, log_action_prior, read_policy
from pgm_control.inference.estimators import CausalScoreELBO
from pgm_control.mdp import TabularMDP
from pgm_control.models.guides import TabularPolicyGuide, check_guide
from pgm_control.models.optimality import log_evidence_shift, optimality_model


def state_distributions(mdp: TabularMDP, policy: torch.Tensor) -> torch.Tensor:
    r"""q(s_t) under the true dynamics: q(s_1) = p(s_1), q(s_{t+1}) = Σ_{s,a} q(s_t) π_t(a|s) p(s'|s,a).

    policy ``[T, S, A]`` (or a result with a time-indexed ``.policy``) -> ``[T, S]``.
    """
    check_mdp(mdp)
    policy = getattr(policy, "policy", policy)
    policy = policy if isinstance(policy, torch.Tensor) else as_float_tensor(policy, "policy")
    if policy.dim() != 3:
        raise ValueError(f"policy must be time-indexed [T, S, A], got shape {list(policy.shape)}")
    policy = read_policy(mdp, policy, policy.shape[0])
    horizon = policy.shape[0]
    marginal = mdp.initial
    marginals = []
    for t in range(horizon):
        marginals.append(marginal)
        marginal = torch.exp(mdp.log_push_forward(torch.log(marginal[:, None] * policy[t])))
    return torch.stack(marginals)


def elbo(mdp: TabularMDP, horizon: int, policy, *, temperature: float = 1.0, action_prior=None) -> torch.Tensor:
    r"""The exact ELBO of a policy (CS285 notes, Proof 2), a scalar in units of log p(O_{1:T}):

        ELBO = Σ_t Σ_{s,a} q(s_t = s) π_t(a|s) [ r(s, a)/α + log p(a|s) - log π_t(a|s) ]

    policy: ``[S, A]``, ``[T, S, A]`` or a result with ``.policy``. Equals ``log_evidence`` under
    deterministic dynamics and a point-mass start when π is the soft-optimal policy, and is below it
    otherwise. Only state-action pairs that q reaches count (0·log 0 = 0); q putting mass on an action
    of prior probability 0 gives -inf (KL(q || p) is infinite).
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("elbo needs temperature > 0")
    pi = read_policy(mdp, policy, horizon)
    if pi.dim() == 2:
        pi = pi.expand(horizon, *pi.shape)
    log_prior = log_action_prior(mdp, action_prior)
    joint = state_distributions(mdp, pi)[..., None] * pi  # q(s_t, a_t) [T, S, A]
    # Only pairs that q visits count (0·log 0 = 0); a visited action of prior probability 0 gives -inf.
    visited = joint > 0
    gain = torch.where(visited, mdp.rewards / temperature + log_prior - safe_log(pi), 0.0)
    return (joint * gain).sum()


@dataclass(eq=False)
class PolicyFit:
    """What :func:`fit_policy` returns: the fitted ``guide``, its ``log_policy`` / ``policy``
    ``[T, S, A]`` (torch tensors: ``.numpy()`` for NumPy, whose reductions do not accept tensors), and
    ``elbo_history`` ``[num_steps]`` (a NumPy float64 array: one SVI estimate of the ELBO per step, per
    trajectory, in units of log p(O_{1:T}))."""

    guide: object
    log_policy: torch.Tensor
    elbo_history: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def policy(self) -> torch.Tensor:
        return self.log_policy.exp()


ESTIMATORS = ("causal", "tracegraph")


def fit_policy(
    mdp: TabularMDP,
    horizon: int,
    guide=None,
    num_steps: int = 500,
    *,
    num_trajectories: int = 1024,
    lr: float = 0.1,
    final_lr: float = 0.005,
    estimator: str = "causal",
    temperature: float = 1.0,
    action_prior=None,
    seed: int = 0,
    progress: bool = True,
) -> PolicyFit:
    r"""Fit a policy guide by Pyro's SVI on the ELBO of the optimality model.

    Estimators (both Rao-Blackwellize each a_t's score to the costs from t on, and average over
    ``num_trajectories`` trajectories vectorized in the model's plate):

    * ``"causal"`` (default): :class:`~pgm_control.inference.estimators.CausalScoreELBO`, with a
      leave-one-out per-(t, s_t) baseline;
    * ``"tracegraph"``: Pyro's ``TraceGraph_ELBO`` with a decaying-average baseline per action site
      (slower per step and noisier; kept for comparison, see ``benchmarks/bench_pyro.py``).

    The optimizer is ``ClippedAdam`` with a learning rate decaying geometrically from ``lr`` to
    ``final_lr`` (a constant step size keeps the iterates diffusing around the optimum).

    Args:
        guide: a :class:`~pgm_control.models.TabularPolicyGuide` (default, time-indexed) or an
            :class:`~pgm_control.models.AmortizedPolicyGuide`.
        seed: ``pyro.set_rng_seed(seed)`` before fitting; the parameter store is cleared first. An
            :class:`~pgm_control.models.AmortizedPolicyGuide` draws its hidden weights when it is built:
            seed before building it too for a reproducible run.
        progress: a tqdm bar with the running ELBO estimate.

    Returns:
        :class:`PolicyFit` (``policy``, ``log_policy`` ``[T, S, A]``, ``elbo_history``, ``guide``).
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("fit_policy needs temperature > 0 (p(O|s,a) ∝ exp(r/α))")
    log_action_prior(mdp, action_prior)
    seed = check_seed(seed)
    guide = TabularPolicyGuide(mdp, horizon) if guide is None else guide
    check_guide(guide, mdp, horizon)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    svi = policy_svi(guide, num_trajectories, num_steps, lr=lr, final_lr=final_lr, estimator=estimator)
    shift = float(log_evidence_shift(mdp, horizon, temperature))
    history = []
    with tqdm(range(num_steps), disable=not progress, desc="SVI", leave=False) as steps:
        for _ in steps:
            history.append(shift - svi.step(mdp, horizon, num_trajectories, temperature, action_prior))
            steps.set_postfix(elbo=f"{history[-1]:.3f}", refresh=False)
    with torch.no_grad():
        log_policy = guide.log_policy().detach().to(DTYPE)
    return PolicyFit(guide=guide, log_policy=log_policy, elbo_history=np.array(history, dtype=np.float64))


def policy_svi(guide, num_trajectories: int, num_steps: int, *, lr: float = 0.1, final_lr: float = 0.005,
               estimator: str = "causal") -> SVI:
    """The ``pyro.infer.SVI`` object that :func:`fit_policy` steps (exposed for monitoring loops).

    Step it with ``svi.step(mdp, horizon, num_trajectories, temperature, action_prior)``; the learning
    rate decays geometrically from ``lr`` to ``final_lr`` over ``num_steps`` steps.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if not callable(guide):
        raise TypeError(f"guide must be a Pyro guide (a callable, e.g. a TabularPolicyGuide), got {guide!r:.60}")
    num_trajectories = check_positive_integer(num_trajectories, "num_trajectories")
    num_steps = check_positive_integer(num_steps, "num_steps")
    lr, final_lr = check_learning_rate(lr), check_learning_rate(final_lr, "final_lr")
    if estimator == "causal":
        model, fitted_guide, loss = optimality_model, guide, CausalScoreELBO()
    else:  # the plate sums over trajectories: scale to a per-trajectory ELBO
        scale = 1.0 / num_trajectories
        model = pyro.poutine.scale(optimality_model, scale=scale)
        fitted_guide = pyro.poutine.scale(pyro.poutine.infer_config(guide, _decaying_baseline), scale=scale)
        loss = TraceGraph_ELBO()
    optimizer = ClippedAdam({"lr": lr, "lrd": (final_lr / lr) ** (1.0 / num_steps), "betas": (0.9, 0.99)})
    return SVI(model, fitted_guide, optimizer, loss=loss)


def _decaying_baseline(site) -> dict:
    """A decaying-average baseline on every action site (for ``TraceGraph_ELBO``)."""
    if site["name"].startswith("a_"):
        return {"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}}
    return {}
