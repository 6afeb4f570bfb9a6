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
    """log p(a|s) ``[S, A]``; uniform when `action_prior` is None. Accepts ``[A]`` or ``[S, A]``."""
    S, A = mdp.num_states, mdp.num_actions
    if action_prior is None:
        return torch.full((S, A), -math.log(A), dtype=DTYPE, device=mdp.device)
    prior = as_float_tensor(action_prior, "action_prior").to(mdp.device)
    if prior.dim() == 1:
        check_shape(prior, [A], "action_prior", "p(a) [A]")
        prior = prior.expand(S, A)
    check_shape(prior, [S, A], "action_prior", "p(a|s) [S, A]")
    check_distribution(prior, "action_prior", "p(a|s) over A actions")
    return safe_log(prior)


def read_policy(mdp: TabularMDP, policy, horizon: int | None) -> torch.Tensor:
    """Policy probabilities ``[S, A]`` or ``[T, S, A]`` from probabilities, a long ``[S]`` of
    deterministic actions, or any result object with a ``.policy`` attribute."""
    S, A = mdp.num_states, mdp.num_actions
    if hasattr(policy, "policy") and not isinstance(policy, torch.Tensor):
        policy = policy.policy
    tensor = policy if isinstance(policy, torch.Tensor) else torch.as_tensor(policy)
    if not tensor.is_floating_point():
        actions = as_index_tensor(tensor, "policy")
        check_shape(actions, [S], "policy", "deterministic actions [S]")
        if actions.min() < 0 or actions.max() >= A:
            raise ValueError(f"policy actions must lie in [0, {A}), got {actions.tolist()}")
        return torch.nn.functional.one_hot(actions, A).to(mdp.device, DTYPE)
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
    return tensor
