r"""Exact message passing in the MDP with optimality variables (Lecture 20, "Optimal policy and planning
via inference"; the CS285 notes, "Backward Message", "Forward Message").

The graphical model, for horizon T (code time t = 0..T-1 is the slides' t = 1..T):

    p(τ, O_{1:T}) = p(s_1) Π_t p(a_t|s_t) p(s_{t+1}|s_t, a_t) p(O_t|s_t, a_t),   p(O_t|s_t, a_t) = exp(r(s_t, a_t)/α)

It is finite-horizon and undiscounted: every function here asks for ``mdp.discount == 1``. Rewards
need not be <= 0: exp(r/α) is then a potential rather than a probability and every "log p(O)" below
is the log normalizer log Z of p(τ | O_{1:T}) ∝ p(τ) exp(Σ_t r_t/α). All quantities are in log space.
"""

from __future__ import annotations

import torch

from pgm_control._checks import check_horizon, check_temperature
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control._progress import progress_bar
from pgm_control.inference._recursion import backward_induction
from pgm_control.inference.results import BackwardMessages, ForwardMessages
from pgm_control.inference.soft import soft_bellman_step, soft_value_iteration
from pgm_control.mdp import TabularMDP


def check_message_inputs(mdp, horizon, temperature, what: str) -> tuple[int, float]:
    """The inputs of the undiscounted finite-horizon optimality model: returns (T, α) with α > 0."""
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError(f"{what} needs temperature > 0 (p(O|s,a) = exp(r/α))")
    if mdp.discount != 1.0:
        raise ValueError(
            f"{what} works on the undiscounted finite-horizon model, but mdp.discount="
            f"{mdp.discount}; use mdp.replace(discount=1.0) (the horizon bounds the return), or "
            "soft_value_iteration for discounted soft values"
        )
    return horizon, temperature


def backward_messages(mdp: TabularMDP, horizon: int, *, action_prior=None, temperature: float = 1.0,
                      progress: bool | None = None) -> BackwardMessages:
    r"""Backward messages β_t(s, a) = p(O_{t:T} | s_t, a_t) and β_t(s) = p(O_{t:T} | s_t).

        log β_t(s, a) = r(s, a)/α + log E_{s' ~ p(s'|s,a)}[β_{t+1}(s')],   β_{T+1} = 1
        log β_t(s)    = log Σ_a p(a|s) β_t(s, a)

    Returns :class:`BackwardMessages` ``(log_beta_sa [T, S, A], log_beta_s [T, S])``; α·log β are
    the optimistic soft Q and V of :func:`soft_value_iteration`.

    Example:
        >>> from pgm_control.envs import random_mdp
        >>> log_beta_sa, log_beta_s = backward_messages(random_mdp(4, 2, seed=0), horizon=3)
        >>> tuple(log_beta_sa.shape), tuple(log_beta_s.shape)
        ((3, 4, 2), (3, 4))
    """
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, "backward_messages")
    soft = soft_value_iteration(mdp, horizon, temperature, backup="optimistic",
                                action_prior=action_prior, progress=progress)
    if temperature == 1.0:
        return BackwardMessages(soft.q, soft.v)
    return BackwardMessages(soft.q / temperature, soft.v / temperature)


def forward_messages(mdp: TabularMDP, horizon: int, *, action_prior=None, temperature: float = 1.0,
                     progress: bool | None = None) -> ForwardMessages:
    r"""Forward messages α_t(s) = p(s_t | O_{1:t-1}) (state filtering under optimality).

        α_1(s) = p(s_1)
        α_{t+1}(s') = Σ_{s,a} p(s'|s,a) p(O_t|s,a) p(a|s) α_t(s) / p(O_t | O_{1:t-1})
        p(O_t | O_{1:t-1}) = Σ_{s,a} p(O_t|s,a) p(a|s) α_t(s)

    Returns :class:`ForwardMessages` ``(log_alpha [T, S], log_normalizers [T])``; the normalizers
    sum to log p(O_{1:T}).
    """
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, "forward_messages")
    log_prior = log_action_prior(mdp, action_prior)
    log_potential = log_prior + mdp.rewards / temperature  # log p(a|s) + log p(O|s,a)
    log_alpha_t = torch.log(mdp.initial)
    log_alpha, log_normalizers = [], []
    work = horizon * mdp.num_states * mdp.num_actions
    with progress_bar(horizon, progress, work, "forward messages") as bar:
        for _ in range(horizon):
            log_joint = log_alpha_t[:, None] + log_potential  # log p(s_t, a_t, O_t | O_{1:t-1})
            log_norm = torch.logsumexp(log_joint.reshape(-1), dim=0)
            log_alpha.append(log_alpha_t)
            log_normalizers.append(log_norm)
            log_alpha_t = mdp.log_push_forward(log_joint) - log_norm
            bar.update()
    return ForwardMessages(torch.stack(log_alpha), torch.stack(log_normalizers))


def log_evidence(mdp: TabularMDP, horizon: int, *, action_prior=None,
                 temperature: float = 1.0) -> torch.Tensor:
    r"""log p(O_{1:T}) = log Σ_s p(s_1 = s) β_1(s), a scalar (differentiable in the rewards).

    Example:
        >>> import torch
        >>> from pgm_control.envs import random_mdp
        >>> mdp = random_mdp(5, 3, seed=1)
        >>> forward = forward_messages(mdp, 4)
        >>> torch.allclose(log_evidence(mdp, 4), forward.log_normalizers.sum(), atol=1e-12)
        True
    """
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, "log_evidence")
    log_beta_1 = _log_beta_s(mdp, horizon, action_prior, temperature, keep="first")
    return torch.logsumexp(torch.log(mdp.initial) + log_beta_1, dim=0)


def _log_beta_s(mdp, horizon, action_prior, temperature, keep: str) -> torch.Tensor:
    """log β_t(s) without storing the [T, S, A] table: all t (``keep="all"``) or t = 1 (``"first"``)."""
    step = soft_bellman_step(mdp, temperature, "optimistic", log_action_prior(mdp, action_prior),
                             action_prior is None)
    _, v = backward_induction(mdp, horizon, step, keep_q=False, desc="backward messages")
    v = v if keep == "all" else v[0]
    return v if temperature == 1.0 else v / temperature


def state_marginals(mdp: TabularMDP, horizon: int, *, action_prior=None,
                    temperature: float = 1.0) -> torch.Tensor:
    r"""p(s_t | O_{1:T}) ∝ β_t(s) α_t(s), as probabilities ``[T, S]`` (each row sums to 1)."""
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, "state_marginals")
    log_beta_s = _log_beta_s(mdp, horizon, action_prior, temperature, keep="all")
    forward = forward_messages(mdp, horizon, action_prior=action_prior, temperature=temperature)
    return torch.softmax(forward.log_alpha + log_beta_s, dim=-1)


def posterior_dynamics(mdp: TabularMDP, horizon: int, *, action_prior=None,
                       temperature: float = 1.0) -> torch.Tensor:
    r"""The "optimistic" transition p(s_{t+1} | s_t, a_t, O_{1:T}) (Lecture 20, "The problem of optimism").

        p(s' | s, a, O_{1:T}) = p(s'|s,a) β_{t+1}(s') / E_{s''~p(s''|s,a)}[β_{t+1}(s'')],  β_{T+1} = 1

    Shaped like the MDP's storage: ``[T, S, A, S']`` for dense transitions, ``[T, S, A, K]`` aligned
    with ``mdp.next_states`` for successor lists. Entry t = T-1 equals the true dynamics.
    """
    horizon, temperature = check_message_inputs(mdp, horizon, temperature, "posterior_dynamics")
    log_beta_s = _log_beta_s(mdp, horizon, action_prior, temperature, keep="all")
    log_beta_next = torch.cat([log_beta_s[1:], torch.zeros_like(log_beta_s[:1])])
    if mdp.is_dense:
        log_joint = torch.log(mdp.transitions) + log_beta_next[:, None, None, :]
    else:
        log_joint = torch.log(mdp.probs) + log_beta_next[:, mdp.next_states]
    return torch.softmax(log_joint, dim=-1)
