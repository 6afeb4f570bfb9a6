"""Validation of the inputs that every layer passes along with an MDP: the MDP itself, an action prior
and a policy. Core layer: models, inference and rl all read their inputs through here."""

from __future__ import annotations

import math

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_distribution,
    check_shape,
    shape_str,
)
from pgm_control._logspace import safe_log
from pgm_control.mdp import TabularMDP


def check_mdp(mdp) -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a pgm_control.TabularMDP, got {type(mdp).__name__}")
    return mdp


def log_action_prior(mdp: TabularMDP, action_prior) -> torch.Tensor:
    r"""log p(a|s) ``[S, A]``, zero probability (log 0 = -inf) outside the available actions A(s).

    `action_prior` is ``[S, A]`` or ``[A]`` (shared by all states), or None for the uniform prior. With
    state-dependent action sets (``mdp.available_actions``) the prior is conditioned on A(s):

        p(a|s) = p̃(a|s) 1[a ∈ A(s)] / Σ_{a' ∈ A(s)} p̃(a'|s)      (uniform over A(s) when None)

    so that a state-independent p(a) can be passed whatever the mask; a prior with no mass on any
    available action of some state is a ValueError naming the states.
    """
    S, A = mdp.num_states, mdp.num_actions
    if action_prior is None:
        if mdp.all_actions_available:
            return torch.full((S, A), -math.log(A), dtype=DTYPE, device=mdp.device)
        prior = mdp.available_actions.to(DTYPE)
    else:
        prior = as_float_tensor(action_prior, "action_prior").to(mdp.device)
        if prior.dim() == 1:
            check_shape(prior, [A], "action_prior", "p(a) [A]")
            prior = prior.expand(S, A)
        check_shape(prior, [S, A], "action_prior", "p(a|s) [S, A]")
        check_distribution(prior, "action_prior", "p(a|s) over A actions")
        if mdp.all_actions_available:
            return safe_log(prior)
        prior = torch.where(mdp.available_actions, prior, torch.zeros((), dtype=DTYPE, device=mdp.device))
    mass = prior.sum(-1, keepdim=True)
    _require_available_mass(mass.squeeze(-1), "action_prior")
    return safe_log(prior / mass)


def _require_available_mass(mass: torch.Tensor, name: str) -> None:
    empty = (mass <= 0).nonzero().squeeze(-1).tolist()
    if empty:
        raise ValueError(
            f"{name} puts no probability on the available actions (mdp.available_actions) of states "
            f"{empty[:10]}{'...' if len(empty) > 10 else ''}"
        )


def read_policy(mdp: TabularMDP, policy, horizon: int | None) -> torch.Tensor:
    """Policy probabilities ``[S, A]`` or ``[T, S, A]`` from probabilities, a long ``[S]`` of
    deterministic actions, or any result object with a ``.policy`` attribute."""
    S, A = mdp.num_states, mdp.num_actions
    if hasattr(policy, "policy") and not isinstance(policy, torch.Tensor):
        policy = policy.policy
    try:
        tensor = policy if isinstance(policy, torch.Tensor) else torch.as_tensor(policy)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError("policy must be probabilities [S, A] or [T, S, A], deterministic actions [S], or a "
                        f"result with .policy; got {type(policy).__name__}") from None
    if not tensor.is_floating_point():
        actions = as_index_tensor(tensor, "policy")
        check_shape(actions, [S], "policy", "deterministic actions [S]")
        if actions.min() < 0 or actions.max() >= A:
            raise ValueError(f"policy actions must lie in [0, {A}), got {actions.tolist()}")
        policy = torch.nn.functional.one_hot(actions, A).to(mdp.device, DTYPE)
        _require_available(mdp, policy)
        return policy
    tensor = tensor.to(mdp.device, DTYPE)
    if tensor.dim() == 3:
        if horizon is None or tensor.shape[0] != horizon:
            raise ValueError(
                f"a time-indexed policy [T, S, A] = {shape_str(tensor.shape)} needs horizon="
                f"{tensor.shape[0]}, got horizon={horizon}"
            )
        check_shape(tensor, [horizon, S, A], "policy", "π_t(a|s) [T, S, A]")
    else:
        check_shape(tensor, [S, A], "policy", "π(a|s) [S, A]")
    check_distribution(tensor, "policy", "π(a|s) over A actions")
    _require_available(mdp, tensor)
    return tensor


def _require_available(mdp: TabularMDP, policy: torch.Tensor) -> None:
    """A policy ``[..., S, A]`` may put probability only on the available actions A(s)."""
    if mdp.all_actions_available:
        return
    outside = ((policy > 0) & ~mdp.available_actions).any(-1)
    outside = outside.reshape(-1, mdp.num_states).any(0)
    if outside.any():
        states = outside.nonzero().squeeze(-1).tolist()
        raise ValueError(
            f"policy puts probability on actions that are not available (mdp.available_actions) in "
            f"states {states[:10]}{'...' if len(states) > 10 else ''}"
        )
