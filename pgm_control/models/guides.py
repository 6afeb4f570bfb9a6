r"""Policy guides for the optimality model (Lecture 20, "Control via variational inference").

    q(τ) = p(s_1) Π_t q(a_t | s_t) p(s_{t+1} | s_t, a_t)

Every guide samples ``s_t`` from the true dynamics exactly as the model does (so the dynamics terms
of the ELBO cancel and the posterior cannot become "optimistic"); guides differ only in q(a_t | s_t):

* :class:`TabularPolicyGuide`: logits ``[T, S, A]`` (time-indexed) or ``[S, A]`` (stationary);
* :class:`AmortizedPolicyGuide`: a small network from state features to the logits of every time
  step, for MDPs too large for a table.

A guide is called with the model's arguments ``(mdp, horizon, num_trajectories=1, temperature=1.0,
action_prior=None)`` and exposes ``log_policy()`` ``[T, S, A]``. With state-dependent action sets
(``mdp.available_actions``) both guides give unavailable actions probability zero (log q = -inf): their
logits there are masked before the softmax, q(a|s) ∝ exp(θ(s, a)) 1[a ∈ A(s)].
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.ops.indexing import Vindex
from torch import nn

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_finite,
    check_horizon,
    check_positive_integer,
    check_shape,
)
from pgm_control._mdp_inputs import check_mdp
from pgm_control.mdp import TabularMDP
from pgm_control.models.optimality import trajectories


def masked_log_softmax(logits: torch.Tensor, available: torch.Tensor | None) -> torch.Tensor:
    r"""log q(a|s) = θ(s, a) - log Σ_{a' ∈ A(s)} exp θ(s, a') on A(s), -inf elsewhere; logits ``[..., S, A]``."""
    if available is not None:
        logits = logits.masked_fill(~available, -torch.inf)
    return torch.log_softmax(logits, dim=-1)


def policy_guide(mdp: TabularMDP, horizon: int, num_trajectories: int, log_policy: torch.Tensor) -> None:
    r"""Sample s_1 ~ p(s_1), a_t ~ q(a_t | s_t) = softmax(log_policy[t, s_t]), s_{t+1} ~ p(· | s_t, a_t).

    log_policy ``[T, S, A]`` (unnormalized logits are fine). Site names match the model's.
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    num_trajectories = check_positive_integer(num_trajectories, "num_trajectories")
    if not isinstance(log_policy, torch.Tensor):
        raise TypeError(f"log_policy must be a tensor [T, S, A], got {type(log_policy).__name__}")
    check_shape(log_policy, [horizon, mdp.num_states, mdp.num_actions], "log_policy", "log q(a_t|s_t) [T, S, A]")
    _policy_guide(mdp, horizon, num_trajectories, log_policy)


def _policy_guide(mdp: TabularMDP, horizon: int, num_trajectories: int, log_policy: torch.Tensor) -> None:
    """:func:`policy_guide` for inputs the guide classes already checked."""
    def act(t, state):
        return pyro.sample(f"a_{t}", dist.Categorical(logits=Vindex(log_policy[t])[state]))

    trajectories(mdp, horizon, num_trajectories, act)


def check_guide(guide, mdp: TabularMDP, horizon: int) -> None:
    """A guide of this module built for `mdp`'s S and A and for `horizon` (fit_policy checks it once)."""
    if not isinstance(guide, TabularPolicyGuide | AmortizedPolicyGuide):
        raise TypeError(f"guide must be a TabularPolicyGuide or an AmortizedPolicyGuide (or None for a tabular "
                        f"one), got {guide!r:.60}")
    if guide.horizon != horizon:
        raise ValueError(f"this guide was built for horizon={guide.horizon}, called with horizon={horizon}")
    if (guide.num_states, guide.num_actions) != (mdp.num_states, mdp.num_actions):
        raise ValueError(f"this guide was built for S={guide.num_states}, A={guide.num_actions}, but the MDP "
                         f"has S={mdp.num_states}, A={mdp.num_actions}")


class TabularPolicyGuide:
    r"""q(a_t | s_t) = softmax(θ[t, s_t]) with θ ``[T, S, A]``, or softmax(θ[s_t]) with θ ``[S, A]``
    (``stationary=True``); θ is the Pyro parameter ``name``, initialized to 0 (the uniform policy).

    Example:
        >>> import pyro
        >>> from pgm_control.envs import lottery_mdp
        >>> guide = TabularPolicyGuide(lottery_mdp(), horizon=3)
        >>> tuple(guide.log_policy().shape)
        (3, 4, 2)
    """

    def __init__(self, mdp: TabularMDP, horizon: int, stationary: bool = False,
                 name: str = "policy_logits"):
        check_mdp(mdp)
        self.horizon = check_horizon(horizon, required=True)
        self.stationary = bool(stationary)
        self.name = name
        self._available = None if mdp.all_actions_available else mdp.available_actions
        S, A = self.num_states, self.num_actions = mdp.num_states, mdp.num_actions
        if not isinstance(name, str):
            raise TypeError(f"name must be a string (the Pyro parameter's name), got {name!r}")
        self._shape = (S, A) if self.stationary else (self.horizon, S, A)
        self._device = mdp.rewards.device

    def logits(self) -> torch.Tensor:
        """The Pyro parameter θ, ``[S, A]`` or ``[T, S, A]``."""
        return pyro.param(self.name, lambda: torch.zeros(self._shape, dtype=DTYPE, device=self._device))

    def log_policy(self) -> torch.Tensor:
        """log q(a_t | s_t) ``[T, S, A]``."""
        logits = self.logits()
        if self.stationary:
            logits = logits.expand(self.horizon, *self._shape)
        return masked_log_softmax(logits, self._available)

    def __call__(self, mdp: TabularMDP, horizon: int, num_trajectories: int = 1, temperature: float = 1.0,
                 action_prior=None) -> None:
        if horizon != self.horizon:
            raise ValueError(f"this guide was built for horizon={self.horizon}, called with horizon={horizon}")
        _policy_guide(mdp, horizon, num_trajectories, self.log_policy())


class AmortizedPolicyGuide(nn.Module):
    r"""q(a_t | s_t) = softmax(f_φ(x(s))[t]): an MLP from state features x(s) ``[S, F]`` to the logits
    of all T steps at once, ``[S, T, A]``; its weights are registered with ``pyro.module``.

    Features default to ``mdp.features`` (averaged over actions) when present, else the grid
    coordinates (scaled to [-1, 1]) with multi-scale Fourier terms sin/cos(2^k π/2 · x), k = 0..5, when
    the MDP has a grid layout, else a one-hot code of the state. The last layer starts at zero: the
    initial policy is uniform.
    """

    def __init__(self, mdp: TabularMDP, horizon: int, features=None, hidden: int = 128, name: str = "policy_net"):
        super().__init__()
        check_mdp(mdp)
        self.horizon = check_horizon(horizon, required=True)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string (the Pyro module's name), got {name!r}")
        self.name = name
        hidden = check_positive_integer(hidden, "hidden")
        features = default_state_features(mdp) if features is None else as_float_tensor(features, "features")
        check_shape(features, [mdp.num_states, None], "features", "state features [S, F]")
        if features.shape[-1] == 0:
            raise ValueError("features must hold at least one feature per state (F >= 1), got F = 0")
        check_finite(features, "features")
        device = mdp.rewards.device
        self.register_buffer("features", features.to(device))
        self.register_buffer("available", None if mdp.all_actions_available else mdp.available_actions.clone())
        self.num_states, self.num_actions = mdp.num_states, mdp.num_actions
        self.net = nn.Sequential(
            nn.Linear(features.shape[-1], hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, self.horizon * mdp.num_actions),
        ).to(device=device, dtype=DTYPE)
        nn.init.zeros_(self.net[-1].weight)  # start from the uniform policy, as the tabular guide does
        nn.init.zeros_(self.net[-1].bias)

    def log_policy(self) -> torch.Tensor:
        """log q(a_t | s_t) ``[T, S, A]``."""
        logits = self.net(self.features).reshape(-1, self.horizon, self.num_actions).transpose(0, 1)
        return masked_log_softmax(logits, self.available)

    def forward(self, mdp: TabularMDP, horizon: int, num_trajectories: int = 1, temperature: float = 1.0,
                action_prior=None) -> None:
        if horizon != self.horizon:
            raise ValueError(f"this guide was built for horizon={self.horizon}, called with horizon={horizon}")
        pyro.module(self.name, self)
        _policy_guide(mdp, horizon, num_trajectories, self.log_policy())


def default_state_features(mdp: TabularMDP) -> torch.Tensor:
    """State features ``[S, F]``: ``mdp.features`` averaged over actions, grid coordinates with Fourier
    terms, or one-hot codes (see :class:`AmortizedPolicyGuide`)."""
    if mdp.features is not None:
        return mdp.features.mean(1)
    device = mdp.rewards.device
    layout = mdp.layout
    if layout is not None and hasattr(layout, "cells"):
        height, width = layout.shape
        scale = torch.tensor([max(height - 1, 1), max(width - 1, 1)], dtype=DTYPE, device=device)
        coords = 2 * layout.cells.to(device=device, dtype=DTYPE) / scale - 1  # [S, 2] in [-1, 1]
        frequencies = 2.0 ** torch.arange(6, dtype=DTYPE, device=device) * torch.pi / 2  # periods 4 to 1/8
        angles = coords[:, :, None] * frequencies  # [S, 2, 6]
        return torch.cat([coords, torch.sin(angles).flatten(1), torch.cos(angles).flatten(1)], dim=-1)
    return torch.eye(mdp.num_states, dtype=DTYPE, device=device)
