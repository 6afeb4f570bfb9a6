r"""Tabular behaviour cloning by maximum likelihood (CS285 notes, "Imitation vs. RL"), fitted as Pyro
inference on :func:`pgm_control.models.tabular_behaviour_cloning_model`:

    θ* = argmax_θ Σ_i log π_θ(a_i|s_i),     π_θ(a|s) = softmax_a θ[s, a]

The optimum is the empirical action frequencies π̂(a|s) = n(s, a)/n(s)
(:func:`pgm_control.models.behaviour_cloning.empirical_policy`); the fit reaches it iteratively (an
action never demonstrated in a visited state has θ → -∞, approached as the gradient vanishes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pyro
import torch

from pgm_control._checks import DTYPE, check_seed
from pgm_control.demonstrations import Demonstrations
from pgm_control.inference._point_estimate import check_optimizer, fit_point_estimate
from pgm_control.models.behaviour_cloning import check_tabular_demonstrations, tabular_behaviour_cloning_model


@dataclass(frozen=True, eq=False)
class BehaviourCloningResult:
    r"""What :func:`tabular_behaviour_cloning` returns: ``log_policy`` log π_θ(a|s) ``[S, A]``, per step
    the ``log_likelihood`` ``[K]`` (per demonstrated step, (1/n) Σ_i log π_θ(a_i|s_i)) and
    ``gradient_norm`` ``[K]``, and whether it ``converged``."""

    log_policy: torch.Tensor
    log_likelihood: torch.Tensor
    gradient_norm: torch.Tensor
    converged: bool

    @property
    def policy(self) -> torch.Tensor:
        """π_θ(a|s) ``[S, A]``."""
        return self.log_policy.exp()


def tabular_behaviour_cloning(demonstrations: Demonstrations, num_states: int, num_actions: int, *,
                              optimizer: str = "lbfgs", num_steps: int = 200, lr: float | None = None,
                              tol: float = 1e-6, seed: int = 0, progress: bool | None = None
                              ) -> BehaviourCloningResult:
    r"""Maximum-likelihood behaviour cloning of a tabular policy (module docstring) by SVI on the Pyro
    model (a guide with no latent sites: the negative ELBO is exactly -Σ_i log π_θ(a_i|s_i)).

    Args:
        demonstrations: the demonstrated episodes (steps t < length count).
        num_states, num_actions: S and A.
        optimizer, num_steps, lr, tol: as in :func:`pgm_control.inference.maxent_irl` (stop when the
            gradient of the log-likelihood per step is below ``tol``).
        seed: ``pyro.set_rng_seed`` (the parameter store is cleared first).
        progress: a tqdm bar (None: on for 10^4 states or more).

    Example:
        >>> demos = Demonstrations.from_sequences(states=[[0, 1, 0], [0, 0]], actions=[[1, 0], [0]])
        >>> fit = tabular_behaviour_cloning(demos, num_states=2, num_actions=2)
        >>> [round(p, 4) for p in fit.policy[0].tolist()]   # state 0: a = 1 once, a = 0 once
        [0.5, 0.5]
    """
    demonstrations, S, A = check_tabular_demonstrations(demonstrations, num_states, num_actions)
    num_steps = check_optimizer(optimizer, num_steps, lr, tol)
    seed = check_seed(seed)
    model = partial(tabular_behaviour_cloning_model, demonstrations, S, A)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)

    def guide():  # no latent sites: θ is a pyro.param of the model
        return None

    fit = fit_point_estimate(model, guide, optimizer=optimizer, num_steps=num_steps, lr=lr, tol=tol,
                             scale=int(demonstrations.mask.sum()), progress=progress, work=S * 2e4,
                             desc="behaviour cloning")
    logits = pyro.param("logits").detach()
    return BehaviourCloningResult(
        log_policy=torch.log_softmax(logits, dim=-1),
        log_likelihood=torch.tensor(fit.objective, dtype=DTYPE),
        gradient_norm=torch.tensor(fit.gradient_norm, dtype=DTYPE),
        converged=fit.converged,
    )
