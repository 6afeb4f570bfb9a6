r"""Reinforcement learning with demonstrations, for tabular time-indexed softmax policies (CS285 notes,
"Imitation vs. RL": pretrain & finetune, "Learning With Demonstrations", "Hybrid Goal").

Importance-sampled policy gradient over D = D_π ∪ D_demo ("Learning With Demonstrations"):

    ∇J(θ) ≈ (1/N) Σ_{τ∈D} Σ_{t'} γ^{t'} r(s_{t'}, a_{t'}) (π_θ(τ_{1:t'}) / q(τ_{1:t'})) Σ_{t<=t'} ∇ log π_θ(a_t|s_t)

with π_θ(τ_{1:t}) = Π_{t'<=t} π_θ,t'(a_{t'}|s_{t'}) (the dynamics cancel in the ratio) and the fused
sampling distribution of the notes, q = Σ_i n_i q_i / N ("Fusion multiple distributions"), over the
n_π policy samples (q_π = the policy that sampled them) and the n_demo demonstrations, whose q_demo is
either a behaviour-cloning estimate of π_demo (``sampling="bc"``: the empirical policy
n(s, a)/n(s)) or the Dirac form π_demo(τ) = δ(τ ∈ D)/N (``sampling="dirac"``: the fraction of
demonstrations sharing the prefix τ_{1:t}).

Departure from the notes: their formula multiplies the whole reward-to-go Σ_{t'>=t} r_{t'} by the ratio
of the prefix up to t only, which drops the ratios of steps t+1..t' that r_{t'} also depends on (biased
unless q = π_θ); here each reward r_{t'} keeps the ratio of its own prefix τ_{1:t'}, the same causality
argument (a_t cannot change rewards before t) applied to an unbiased estimator — the test compares its
mean with the exact ∇J(θ).

Hybrid objective ("Hybrid Goal"):

    J_λ(θ) = E_{π_θ}[Σ_t γ^t r(s_t, a_t)] + λ Σ_{(s,a)∈D_demo} log π_θ(a|s)

whose first term is estimated by REINFORCE (:func:`pgm_control.rl.policy_gradient.reinforce_surrogate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_discount,
    check_finite,
    check_horizon,
    check_indices,
    check_learning_rate,
    check_nonnegative,
    check_positive_integer,
    check_seed,
    check_shape,
    shape_str,
)
from pgm_control._mdp_inputs import check_mdp
from pgm_control._progress import progress_bar
from pgm_control.demonstrations import Demonstrations
from pgm_control.mdp import TabularMDP
from pgm_control.models.behaviour_cloning import check_tabular_demonstrations, empirical_policy
from pgm_control.rl.policy_gradient import reinforce_surrogate
from pgm_control.sampling import sample_trajectories

METHODS = ("on_policy", "hybrid", "importance")
SAMPLINGS = ("bc", "dirac")


def log_prefix_probs(log_policy: torch.Tensor, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    r"""log π(τ_{1:t}) = Σ_{t'<=t} log π_t'(a_{t'}|s_{t'}) for trajectories states ``[N, T+1]``, actions
    ``[N, T]`` and log π ``[T, S, A]`` or stationary ``[S, A]``; returns ``[N, T]`` (gradient kept).

    >>> log_pi = torch.log(torch.tensor([[0.5, 0.5], [0.25, 0.75]]))
    >>> log_prefix_probs(log_pi, torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1]])).exp()
    tensor([[0.5000, 0.3750]])
    """
    horizon = actions.shape[1]
    if log_policy.dim() == 2:
        log_policy = log_policy.expand(horizon, *log_policy.shape)
    return log_policy[torch.arange(horizon), states[:, :-1], actions].cumsum(1)


def empirical_log_prefix_probs(states: torch.Tensor, actions: torch.Tensor, demo_states: torch.Tensor,
                               demo_actions: torch.Tensor) -> torch.Tensor:
    r"""The Dirac form log π_demo(τ_{1:t}) = log (#{demonstrations with the prefix (s_1, a_1, ..., s_t, a_t)} / M)
    of each trajectory's prefixes ``[N, T]`` (-inf where no demonstration shares it), from M full-length
    demonstrations ``[M, T+1]``, ``[M, T]``.

    >>> demo_s, demo_a = torch.tensor([[0, 0, 0], [0, 0, 0]]), torch.tensor([[0, 0], [0, 1]])
    >>> empirical_log_prefix_probs(torch.tensor([[0, 0, 0]]), torch.tensor([[0, 1]]), demo_s, demo_a).exp()
    tensor([[1.0000, 0.5000]], dtype=torch.float64)
    """
    n, horizon = actions.shape
    num_demos = demo_actions.shape[0]
    every_state = torch.cat([states[:, :-1], demo_states[:, :-1]])
    every_action = torch.cat([actions, demo_actions])
    prefix = torch.zeros(n + num_demos, dtype=torch.long)  # an id per distinct prefix
    out = torch.empty(n, horizon, dtype=DTYPE)
    for t in range(horizon):  # a loop over time steps only; each step is vectorized over trajectories
        key = torch.stack([prefix, every_state[:, t], every_action[:, t]], 1)
        prefix = torch.unique(key, dim=0, return_inverse=True)[1]
        counts = torch.bincount(prefix[n:], minlength=int(prefix.max()) + 1).to(DTYPE)
        out[:, t] = torch.log(counts[prefix[:n]] / num_demos)
    return out


def fused_log_prefix_probs(log_prefixes: list[torch.Tensor], counts: list[int]) -> torch.Tensor:
    r"""The notes' fused sampling distribution q = Σ_i (n_i/N) q_i on prefixes: log q ``[N, T]`` from
    each source's log q_i(τ_{1:t}) ``[N, T]`` and its sample count n_i (the balance heuristic of multiple
    importance sampling: unbiased when n_i samples are drawn from each q_i)."""
    total = sum(counts)
    shares = torch.tensor([math.log(count / total) for count in counts], dtype=DTYPE)
    return torch.logsumexp(torch.stack(log_prefixes) + shares[:, None, None], dim=0)


def importance_sampled_surrogate(log_policy: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                                 rewards: torch.Tensor, log_sampling: torch.Tensor, *,
                                 discount: float = 1.0) -> torch.Tensor:
    r"""A scalar whose value estimates J(θ) and whose gradient is the importance-sampled policy gradient
    of the module docstring:

        surrogate = (1/N) Σ_{τ∈D} Σ_t γ^t r_t π_θ(τ_{1:t}) / q(τ_{1:t})

    Args:
        log_policy: log π_θ ``[T, S, A]`` (or ``[S, A]``), carrying the gradient.
        states, actions, rewards: the N trajectories of D ``[N, T+1]``, ``[N, T]``, ``[N, T]``.
        log_sampling: log q(τ_{1:t}) of each prefix ``[N, T]`` (:func:`fused_log_prefix_probs`).
        discount: γ.
    """
    log_policy, states, actions, rewards = _check_batch(log_policy, states, actions, rewards)
    log_sampling = as_float_tensor(log_sampling, "log_sampling")
    check_shape(log_sampling, actions.shape, "log_sampling", "[N, T] (log q of each prefix)")
    if log_sampling.numel() and bool(log_sampling.isnan().any() | (log_sampling == torch.inf).any()):
        raise ValueError("log_sampling must hold log-probabilities (no NaN or +inf)")
    return _importance_sampled_surrogate(log_policy, states, actions, rewards, log_sampling, check_discount(discount))


def _importance_sampled_surrogate(log_policy, states, actions, rewards, log_sampling, discount: float) -> torch.Tensor:
    """:func:`importance_sampled_surrogate` for validated arguments (the training loop's)."""
    log_ratio = log_prefix_probs(log_policy, states, actions) - log_sampling
    weights = discount ** torch.arange(actions.shape[1], dtype=DTYPE)
    return (weights * rewards * log_ratio.exp()).sum(1).mean()


def demonstration_log_likelihood(log_policy: torch.Tensor, demonstrations: Demonstrations) -> torch.Tensor:
    r"""Σ_{(s_t, a_t)∈D_demo} log π_θ,t(a_t|s_t), the imitation objective of the notes' "Hybrid Goal" (the
    demonstrated steps t < length of each episode; log π ``[T, S, A]`` or ``[S, A]``)."""
    horizon = demonstrations.horizon
    if log_policy.dim() == 2:
        log_policy = log_policy.expand(horizon, *log_policy.shape)
    taken = log_policy[torch.arange(horizon), demonstrations.states[:, :-1], demonstrations.actions]
    return (taken * demonstrations.mask).sum()


def hybrid_surrogate(log_policy: torch.Tensor, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                     demonstrations: Demonstrations, bc_weight: float, *, discount: float = 1.0,
                     baseline: bool = True) -> torch.Tensor:
    r"""A scalar whose gradient estimates ∇J_λ(θ) (module docstring): the REINFORCE surrogate of the
    on-policy batch plus λ Σ_demo log π_θ(a|s) (exact)."""
    log_policy, states, actions, rewards = _check_batch(log_policy, states, actions, rewards)
    num_states, num_actions = log_policy.shape[-2:]
    demonstrations = check_tabular_demonstrations(demonstrations, num_states, num_actions)[0]
    if log_policy.dim() == 3 and demonstrations.horizon != log_policy.shape[0]:
        raise ValueError(f"demonstrations have T={demonstrations.horizon} steps but log_policy has "
                         f"T={log_policy.shape[0]}")
    bc_weight = check_nonnegative(bc_weight, "bc_weight", " (the λ of the hybrid objective)")
    if not isinstance(baseline, bool):
        raise TypeError(f"baseline must be True or False, got {baseline!r}")
    return _hybrid_surrogate(log_policy, states, actions, rewards, demonstrations, bc_weight, check_discount(discount),
                             baseline)


def _hybrid_surrogate(log_policy, states, actions, rewards, demonstrations, bc_weight: float, discount: float,
                      baseline: bool = True) -> torch.Tensor:
    """:func:`hybrid_surrogate` for validated arguments (the training loop's)."""
    surrogate = reinforce_surrogate(log_policy, states, actions, rewards, discount=discount, baseline=baseline)
    return surrogate + bc_weight * demonstration_log_likelihood(log_policy, demonstrations)


@dataclass(frozen=True, eq=False)
class DemonstrationPGResult:
    r"""What :func:`reinforce_with_demonstrations` returns: ``log_policy`` log π_t(a|s) ``[T, S, A]``
    (float64) after the last update, ``mean_returns`` ``[num_iterations]`` (the on-policy batch mean of
    Σ_t γ^t r_t before each update, NumPy) and the ``method``."""

    log_policy: torch.Tensor
    mean_returns: np.ndarray
    method: str

    @property
    def policy(self) -> torch.Tensor:
        """π_t(a|s) ``[T, S, A]``."""
        return self.log_policy.exp()


def reinforce_with_demonstrations(mdp: TabularMDP, demonstrations: Demonstrations, horizon: int,
                                  num_iterations: int, *, method: str = "hybrid", sampling: str = "bc",
                                  bc_weight: float = 0.1, initial_log_policy=None, num_episodes: int = 64,
                                  lr: float = 0.1, seed: int = 0, progress: bool | None = None
                                  ) -> DemonstrationPGResult:
    r"""Fine-tune a tabular time-indexed softmax policy θ ``[T, S, A]`` with rewards and demonstrations
    (CS285 notes, "Imitation vs. RL"; module docstring), one Adam ascent step per batch of
    ``num_episodes`` episodes sampled from π_θ (the MDP serves only as a simulator).

    Methods:
        ``"on_policy"``: REINFORCE from the initial policy (pretrain & finetune as the notes' steps 3-4;
            the demonstrations are not used after pretraining).
        ``"hybrid"``: REINFORCE + ``bc_weight`` λ × Σ_demo log π_θ(a|s) (:func:`hybrid_surrogate`).
        ``"importance"``: the importance-sampled gradient over the batch ∪ the demonstrations
            (:func:`importance_sampled_surrogate`), q fused from π_θ (the batch's sampler) and
            ``sampling``'s q_demo: ``"bc"`` the empirical policy of the demonstrations, ``"dirac"``
            δ(τ ∈ D)/M (exact only for deterministic dynamics: a demonstrated prefix's probability
            under π_θ then has no dynamics factor).

    Args:
        mdp: the simulator (``discount`` γ, ``initial``).
        demonstrations: full-length episodes (every length T) of this MDP.
        horizon: T, the demonstrations' number of steps.
        num_iterations: gradient steps; num_episodes: episodes per step; lr: Adam's step size.
        bc_weight: λ >= 0 of the hybrid objective.
        initial_log_policy: log π ``[S, A]`` or ``[T, S, A]``, finite (e.g. the ``log_policy`` of
            :func:`pgm_control.inference.tabular_behaviour_cloning`: the pretraining); None: uniform.
        seed: seeds the sampler; progress: a tqdm bar (None: on for 2·10^8 sampled steps or more).

    Example:
        >>> from pgm_control.envs import GridWorld
        >>> world = GridWorld(["S.G"], step_reward=-1.0, goal_reward=0.0)
        >>> demos = Demonstrations.from_sequences(states=[[0, 1, 2, 2]], actions=[[2, 2, 2]])
        >>> fit = reinforce_with_demonstrations(world, demos, 3, 20, method="importance", progress=False)
        >>> fit.policy.shape, bool(fit.policy[0, 0, 2] > 0.25)   # moving E (2) at the start gains mass
        (torch.Size([3, 3, 4]), True)
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    demonstrations, S, A = check_tabular_demonstrations(demonstrations, mdp.num_states, mdp.num_actions)
    demonstrations.validate(mdp, horizon)
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    lr, seed = check_learning_rate(lr), check_seed(seed)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    bc_weight = check_nonnegative(bc_weight, "bc_weight", " (the λ of the hybrid objective)")
    if method == "importance" and not bool((demonstrations.lengths == horizon).all()):
        raise ValueError(f"method='importance' needs full-length demonstrations (every length {horizon}): the "
                         "trajectory ratio π_θ(τ)/q(τ) is defined for whole episodes")
    logits = _initial_logits(initial_log_policy, horizon, S, A).requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    demo_rewards = mdp.rewards.detach()[demonstrations.states[:, :-1], demonstrations.actions]
    log_bc_policy = torch.log(empirical_policy(demonstrations, S, A))  # the BC estimate of π_demo [S, A]
    weights = mdp.discount ** torch.arange(horizon, dtype=DTYPE)
    mean_returns = []
    sampled_steps = num_iterations * num_episodes * horizon
    with progress_bar(num_iterations, progress, sampled_steps, f"REINFORCE ({method})") as bar:
        for _ in range(num_iterations):
            log_policy = torch.log_softmax(logits, dim=-1)
            with torch.no_grad():
                batch = sample_trajectories(mdp, log_policy.exp(), horizon, num_episodes, generator)
            if method == "importance":
                surrogate = _importance_step(log_policy, batch, demonstrations, demo_rewards, log_bc_policy,
                                             sampling, mdp.discount)
            else:
                surrogate = _hybrid_surrogate(log_policy, batch.states, batch.actions, batch.rewards, demonstrations,
                                              bc_weight if method == "hybrid" else 0.0, mdp.discount)
            optimizer.zero_grad()
            (-surrogate).backward()
            optimizer.step()
            mean_returns.append(float((weights * batch.rewards).sum(1).mean()))
            bar.update()
    return DemonstrationPGResult(log_policy=torch.log_softmax(logits.detach(), dim=-1),
                                 mean_returns=np.array(mean_returns, dtype=np.float64), method=method)


def _importance_step(log_policy, batch, demonstrations, demo_rewards, log_bc_policy, sampling, discount):
    """The importance-sampled surrogate over the batch ∪ the demonstrations, q fused from π_θ (detached:
    the sampler of the batch) and q_demo."""
    states = torch.cat([batch.states, demonstrations.states])
    actions = torch.cat([batch.actions, demonstrations.actions])
    rewards = torch.cat([batch.rewards, demo_rewards])
    log_sampler = log_prefix_probs(log_policy.detach(), states, actions)
    if sampling == "bc":
        log_demo = log_prefix_probs(log_bc_policy, states, actions)
    else:
        log_demo = empirical_log_prefix_probs(states, actions, demonstrations.states, demonstrations.actions)
    log_q = fused_log_prefix_probs([log_sampler, log_demo], [batch.actions.shape[0], demonstrations.actions.shape[0]])
    return _importance_sampled_surrogate(log_policy, states, actions, rewards, log_q, discount)


def _check_batch(log_policy, states, actions, rewards) -> tuple[torch.Tensor, ...]:
    """The surrogates' shared arguments: log π ``[T, S, A]`` or ``[S, A]`` (gradient kept) and N trajectories,
    states ``[N, T+1]`` in 0..S-1, actions ``[N, T]`` in 0..A-1, finite rewards ``[N, T]``."""
    if not isinstance(log_policy, torch.Tensor) or log_policy.dim() not in (2, 3):
        raise TypeError(f"log_policy must be a tensor log π [T, S, A] or [S, A], got {_described(log_policy)}")
    num_states, num_actions = log_policy.shape[-2:]
    actions = as_index_tensor(actions, "actions")
    check_shape(actions, [None, None], "actions", "[N, T]")
    num, horizon = actions.shape
    states = as_index_tensor(states, "states")
    check_shape(states, [num, horizon + 1], "states", "[N, T+1]")
    rewards = as_float_tensor(rewards, "rewards")
    check_shape(rewards, [num, horizon], "rewards", "[N, T]")
    check_finite(rewards, "rewards")
    if log_policy.dim() == 3:
        check_shape(log_policy, [horizon, num_states, num_actions], "log_policy", "[T, S, A]")
    for tensor, bound, name in ((states, num_states, "states"), (actions, num_actions, "actions")):
        check_indices(tensor, bound, name, " (log_policy's axes)")
    return log_policy, states, actions, rewards


def _described(value) -> str:
    return f"shape {shape_str(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _initial_logits(initial_log_policy, horizon: int, S: int, A: int) -> torch.Tensor:
    if initial_log_policy is None:
        return torch.zeros(horizon, S, A, dtype=DTYPE)
    if hasattr(initial_log_policy, "log_policy") and not isinstance(initial_log_policy, torch.Tensor):
        initial_log_policy = initial_log_policy.log_policy
    tensor = torch.as_tensor(initial_log_policy, dtype=DTYPE).detach().clone()
    if tuple(tensor.shape) == (S, A):
        tensor = tensor.expand(horizon, S, A).clone()
    if tuple(tensor.shape) != (horizon, S, A):
        raise ValueError(f"initial_log_policy must have shape [S, A] = [{S}, {A}] or [T, S, A] = "
                         f"[{horizon}, {S}, {A}], got {shape_str(tensor.shape)}")
    check_finite(tensor, "initial_log_policy")
    return tensor
