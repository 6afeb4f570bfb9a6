r"""REINFORCE with a baseline and the max-ent entropy bonus, for a tabular time-indexed softmax policy
(Lecture 20, "stochastic objectives" and "Classical ... policy gradient methods"; the CS285 notes, "Soft
Optimality": J(θ) = Σ_t E[r(s_t, a_t) - log π(a_t|s_t)]).

With temperature α (``entropy_bonus``) and π_θ,t(a|s) = softmax_a θ[t, s, a] (``[T, S, A]``):

    J(θ)   = Σ_t γ^t E_{τ~π_θ}[ r(s_t, a_t) - α log π_θ,t(a_t|s_t) ]
    ∇J(θ)  = E_{τ~π_θ}[ Σ_t γ^t ∇ log π_θ,t(a_t|s_t) (Ĝ_t - b_t(s_t)) ]
    Ĝ_t    = Σ_{t' >= t} γ^{t'-t} (r_{t'} - α log π_θ,t'(a_{t'}|s_{t'}))         (soft reward-to-go)

the score-function ("stochastic-objective") gradient ∇ E_{x~p_θ}[f(x)] = E[f(x) ∇ log p_θ(x)] of seed
000, with three exact simplifications: (1) causality: a_t cannot change rewards before t, so only the
reward-to-go multiplies its score; (2) the direct term E[∇(-α log π)] = -α E[score] = 0 is left out;
(3) a baseline b_t(s) that does not depend on the trajectory's own a_t leaves the mean unchanged.
The baseline here is the leave-one-out mean of Ĝ_t over the *other* episodes of the batch in the same
(t, s_t) (:func:`pgm_control.inference.estimators.leave_one_out_state_mean`): an estimate of the soft
value V_t(s), so Ĝ_t - b_t estimates the soft advantage Q_t(s, a) - V_t(s), and it uses no sample of
the episode it is subtracted from, so the estimator stays unbiased.

The maximizer of J over time-indexed policies is the soft-optimal policy
``soft_value_iteration(mdp, horizon=T, temperature=α, backup="expected").policy`` (Lecture 20, "Optimal
policy with respect to ELBO"); with α = 0, a greedy policy of ``value_iteration(mdp, horizon=T)``.
With γ = 1, J/α is the ELBO of :func:`pgm_control.inference.elbo` plus T log A, and this estimator is
α times :class:`pgm_control.inference.CausalScoreELBO`'s, written in plain torch (no Pyro trace).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pgm_control._checks import (
    DTYPE,
    check_horizon,
    check_integer,
    check_learning_rate,
    check_nonnegative,
    check_seed,
)
from pgm_control._mdp_inputs import check_mdp
from pgm_control._progress import progress_bar
from pgm_control.inference.estimators import leave_one_out_state_mean
from pgm_control.mdp import TabularMDP
from pgm_control.sampling import sample_trajectories


@dataclass(frozen=True, eq=False)
class PolicyGradientResult:
    r"""What :func:`reinforce` returns.

    The logs ``mean_returns`` and ``objectives`` are NumPy arrays (``np.mean(fit.mean_returns[-20:])``);
    ``log_policy`` is a torch tensor: call ``.numpy()`` for NumPy (its reductions, ``np.mean``,
    ``np.max``, ..., do not accept tensors).

    Attributes:
        log_policy: log π_t(a|s) ``[T, S, A]`` (code t = 0..T-1; float64).
        mean_returns: batch mean of Σ_t γ^t r_t at each iteration ``[num_iterations]`` (NumPy float64).
        objectives: batch mean of Σ_t γ^t (r_t - α log π_t(a_t|s_t)), the sampled J(θ) before each
            update ``[num_iterations]`` (NumPy float64; equal to ``mean_returns`` when α = 0).
        entropy_bonus: α.
    """

    log_policy: torch.Tensor
    mean_returns: np.ndarray
    objectives: np.ndarray
    entropy_bonus: float

    @property
    def policy(self) -> torch.Tensor:
        """π_t(a|s) ``[T, S, A]``."""
        return self.log_policy.exp()


def rewards_to_go(rewards: torch.Tensor, discount: float = 1.0) -> torch.Tensor:
    r"""G_t = Σ_{t' >= t} γ^{t'-t} r_{t'} for rewards ``[N, T]``; returns ``[N, T]``."""
    to_go = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + discount * running
        to_go[:, t] = running
    return to_go


def reinforce_surrogate(log_policy: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                        rewards: torch.Tensor, *, entropy_bonus: float = 0.0, discount: float = 1.0,
                        baseline: bool = True) -> torch.Tensor:
    r"""A scalar whose gradient is the REINFORCE estimate of ∇J (module docstring), from one batch:

        surrogate = (1/N) Σ_n Σ_t γ^t log π_t(a_t|s_t) · (Ĝ_t - b_t(s_t))      (Ĝ, b held constant)

    Args:
        log_policy: log π_t(a|s) ``[T, S, A]``, carrying the gradient.
        states, actions, rewards: trajectories ``[N, T+1]``, ``[N, T]``, ``[N, T]`` sampled from
            ``log_policy.exp()`` (as :func:`pgm_control.sample_trajectories` returns them).
        entropy_bonus: α of J = Σ_t E[r - α log π].
        discount: γ.
        baseline: subtract the leave-one-out mean of Ĝ_t in the same (t, s_t), else nothing.
    """
    horizon = actions.shape[1]
    time = torch.arange(horizon)
    log_probs = log_policy[time, states[:, :-1], actions]  # log π_t(a_t|s_t) [N, T]
    soft_rewards = rewards - entropy_bonus * log_probs.detach()  # r_t - α log π_t(a_t|s_t)
    to_go = rewards_to_go(soft_rewards, discount)  # Ĝ_t
    base = leave_one_out_state_mean(to_go, states[:, :-1]) if baseline else torch.zeros_like(to_go)
    weights = discount ** time.to(DTYPE)  # γ^t
    return (weights * log_probs * (to_go - base)).sum(1).mean()


def reinforce(mdp: TabularMDP, horizon: int, num_iterations: int, *, num_episodes: int = 512,
              lr: float = 0.1, final_lr: float = 0.01, entropy_bonus: float = 0.0, baseline: bool = True,
              seed: int = 0, progress: bool | None = None) -> PolicyGradientResult:
    r"""REINFORCE on a tabular time-indexed softmax policy θ ``[T, S, A]`` (module docstring).

    Each iteration samples ``num_episodes`` episodes of T steps from π_θ (vectorized over episodes by
    :func:`pgm_control.sample_trajectories`; the MDP serves only as a simulator: the update uses
    sampled states, actions and rewards, never p(s'|s,a) or r(s, a) as tables), forms
    :func:`reinforce_surrogate` and takes one Adam ascent step on θ. θ starts at 0 (the uniform policy)
    and the learning rate decays geometrically from ``lr`` to ``final_lr`` (a constant step keeps the
    iterates diffusing around the optimum, as in :func:`pgm_control.inference.fit_policy`).

    Args:
        mdp: the :class:`~pgm_control.TabularMDP` to sample from (its ``discount`` is γ; episodes
            start from ``mdp.initial``; terminal states are absorbing with reward 0).
        horizon: T, the number of actions per episode (finite horizon: the max-ent optimum is
            time-dependent, hence the ``[T, S, A]`` policy).
        num_iterations: gradient steps.
        num_episodes: N, episodes per gradient step.
        lr, final_lr: Adam's first and last learning rates (> 0).
        entropy_bonus: α >= 0 of J = Σ_t E[r - α log π] (0: plain expected return).
        baseline: subtract the leave-one-out (t, s_t) mean of the reward-to-go.
        seed: seeds the sampler (a ``torch.Generator``); equal seeds give equal results.
        progress: a tqdm bar (None: only for runs of 10^8 sampled steps or more).

    Returns:
        :class:`PolicyGradientResult`: ``log_policy`` / ``policy`` ``[T, S, A]``, ``mean_returns``
        and ``objectives`` ``[num_iterations]``.

    Example:
        >>> from pgm_control.envs import GridWorld
        >>> from pgm_control.inference import soft_value_iteration
        >>> world = GridWorld([".G"], step_reward=-1.0, goal_reward=0.0)
        >>> fit = reinforce(world, horizon=2, num_iterations=100, num_episodes=128, entropy_bonus=1.0)
        >>> exact = soft_value_iteration(world, horizon=2, temperature=1.0).policy
        >>> fit.policy.shape, bool((fit.policy[:, 0] - exact[:, 0]).abs().max() < 0.05)
        (torch.Size([2, 2, 4]), True)
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    num_iterations = _positive_integer(num_iterations, "num_iterations")
    num_episodes = _positive_integer(num_episodes, "num_episodes")
    check_learning_rate(lr, "lr")
    check_learning_rate(final_lr, "final_lr")
    entropy_bonus = check_nonnegative(entropy_bonus, "entropy_bonus", " (the temperature α)")
    if not isinstance(baseline, bool):
        raise TypeError(f"baseline must be True or False, got {baseline!r}")
    generator = torch.Generator().manual_seed(check_seed(seed))

    S, A = mdp.num_states, mdp.num_actions
    discount = mdp.discount
    logits = torch.zeros(horizon, S, A, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, (final_lr / lr) ** (1.0 / num_iterations))
    weights = discount ** torch.arange(horizon, dtype=DTYPE)
    mean_returns, objectives = [], []
    bar_on = progress if progress is not None else num_iterations * num_episodes * horizon >= 1e8
    with progress_bar(num_iterations, bar_on, 0.0, "REINFORCE") as bar:
        for _ in range(num_iterations):
            log_policy = torch.log_softmax(logits, dim=-1)
            with torch.no_grad():
                batch = sample_trajectories(mdp, log_policy.exp(), horizon, num_episodes, generator)
            surrogate = reinforce_surrogate(log_policy, batch.states, batch.actions, batch.rewards,
                                            entropy_bonus=entropy_bonus, discount=discount,
                                            baseline=baseline)
            optimizer.zero_grad()
            (-surrogate).backward()
            optimizer.step()
            decay.step()
            with torch.no_grad():
                taken = log_policy[torch.arange(horizon), batch.states[:, :-1], batch.actions]
                mean_returns.append(float((weights * batch.rewards).sum(1).mean()))
                objectives.append(float((weights * (batch.rewards - entropy_bonus * taken)).sum(1).mean()))
            bar.update()
    return PolicyGradientResult(
        log_policy=torch.log_softmax(logits.detach(), dim=-1),
        mean_returns=np.array(mean_returns, dtype=np.float64),
        objectives=np.array(objectives, dtype=np.float64),
        entropy_bonus=entropy_bonus,
    )


def _positive_integer(value, name: str) -> int:
    value = check_integer(value, name)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value
