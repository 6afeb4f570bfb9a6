r"""The reward-parameter model of inverse RL (CS285 notes, "Inverse RL", "MaxEnt IRL") as Pyro programs.

Given demonstrations τ_i = (s_1, a_1, ..., s_{T+1}) and reward parameters ψ,

    ψ ~ p(ψ)
    a_t ~ π_ψ,t(· | s_t)                        observed, for t < L_i (the demonstrated steps)
    s_{t+1} ~ p_ψ(· | s_t, a_t)                 observed (a ``pyro.factor`` of its log-probability)

under a plate over demonstrations and one over steps. The start states s_1 are taken as given (they
are not the demonstrator's choice; Ziebart et al. 2008 and ``imitation`` condition on them too). Two
variants of (π_ψ, p_ψ), with temperature α:

* ``variant="causal"`` (maximum causal entropy, Ziebart 2010): π_ψ is the soft-optimal policy of the
  expected backup Q_t = r_ψ + E[V_{t+1}], V_t = α log Σ_a p(a|s) exp(Q_t/α), and p_ψ(s'|s, a) is the
  true dynamics (a ψ-independent term, kept so that log-likelihoods of the variants compare).
* ``variant="trajectory"``: the CS285 notes' p(τ | O_{1:T}, ψ) ∝ p(τ) exp(r_ψ(τ)/α), given s_1: π_ψ is the
  optimistic (exact posterior) policy and p_ψ(s'|s, a) = p(s'|s, a) exp(V_{t+1}(s')/α) / exp((Q_t - r)/α)
  the posterior dynamics. Equal to the causal model under deterministic dynamics.

The joint log density is then Σ_i log p(τ_i | s_{i,1}, ψ) + log p(ψ), the MaxEnt log-likelihood. With
temperature α, π_ψ and p_ψ are those of reward r_ψ/α at temperature 1, which is how they are computed
(the temperature may then be a random variable: :func:`hierarchical_irl_model`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyro
import pyro.distributions as dist
import torch

from pgm_control._checks import DTYPE, check_temperature
from pgm_control._mdp_inputs import check_mdp, log_action_prior
from pgm_control.demonstrations import Demonstrations, transition_log_probs
from pgm_control.mdp import TabularMDP
from pgm_control.models.rewards import LinearReward, NeuralReward

if TYPE_CHECKING:
    from pgm_control.inference.results import SoftValueResult

VARIANTS = ("causal", "trajectory")


def check_irl_inputs(mdp, demonstrations, horizon, variant: str) -> int:
    """Validate the shared inputs of the IRL models and algorithms; return the horizon T."""
    check_mdp(mdp)
    check_demonstrations(demonstrations)
    check_variant(variant)
    if mdp.discount != 1.0:
        raise ValueError(f"inverse RL here is finite-horizon and undiscounted, but mdp.discount={mdp.discount}; "
                         "use mdp.replace(discount=1.0) (the horizon bounds the return)")
    return demonstrations.validate(mdp, horizon)


def check_demonstrations(demonstrations) -> Demonstrations:
    if not isinstance(demonstrations, Demonstrations):
        raise TypeError("demonstrations must be a pgm_control.Demonstrations (build one with "
                        "Demonstrations.from_trajectories or .from_sequences), got "
                        f"{type(demonstrations).__name__}")
    return demonstrations


def check_variant(variant) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


def check_irl_temperature(temperature) -> float:
    """α > 0: a demonstrator at α = 0 is deterministic and a single suboptimal action has likelihood 0."""
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("inverse RL needs temperature > 0 (a demonstrator at α = 0 is deterministic)")
    return temperature


def check_reward(reward, mdp: TabularMDP):
    """The reward parameterization: ``LinearReward(mdp.features)`` for None; checked against `mdp`."""
    if reward is None:
        if mdp.features is None:
            raise ValueError("no reward parameterization: pass reward=LinearReward(features) or "
                             "NeuralReward(features), or build the MDP with features=[S, A, F]")
        reward = LinearReward(mdp.features)
    if not isinstance(reward, LinearReward | NeuralReward):
        raise TypeError(f"reward must be a LinearReward or a NeuralReward, got {type(reward).__name__}")
    if reward.features.shape[0] != mdp.num_states:
        raise ValueError(f"the reward's features cover {reward.features.shape[0]} states but the MDP has "
                         f"{mdp.num_states}")
    reward = reward.expand_actions(mdp.num_actions)
    if reward.features.shape[1] != mdp.num_actions:
        raise ValueError(f"the reward's features cover {reward.features.shape[1]} actions but the MDP has "
                         f"{mdp.num_actions}")
    return reward


def default_prior(reward: LinearReward) -> dist.Distribution:
    """ψ ~ Normal(0, 1) per feature."""
    zeros = torch.zeros(reward.num_parameters, dtype=DTYPE, device=reward.features.device)
    return dist.Normal(zeros, torch.ones_like(zeros)).to_event(1)


def flat_prior(reward: LinearReward) -> dist.Distribution:
    """An improper flat prior on ψ: MAP under it is maximum likelihood."""
    if not isinstance(reward, LinearReward):
        raise TypeError(f"flat_prior needs a LinearReward (a prior over its ψ [F]), got {type(reward).__name__}")
    return dist.ImproperUniform(dist.constraints.real, (), (reward.num_parameters,))


def read_log_prior(mdp: TabularMDP, action_prior) -> torch.Tensor | None:
    """log p(a|s) ``[S, A]``, validated once at a public entry point; None for the uniform prior (the
    solvers' fast path). The result is what :func:`soft_solution` and the model bodies take."""
    return None if action_prior is None else log_action_prior(mdp, action_prior)


def soft_solution(mdp: TabularMDP, horizon: int, variant: str, temperature: float = 1.0,
                  log_prior: torch.Tensor | None = None) -> SoftValueResult:
    """The soft-optimal solution that defines π_ψ in the IRL model of `variant` (expected backup for
    ``"causal"``, optimistic for ``"trajectory"``), for inputs already validated (``log_prior`` from
    :func:`read_log_prior`)."""
    backup = "expected" if variant == "causal" else "optimistic"
    # Imported here, not at the top: pgm_control.inference imports this module (its IRL algorithms fit
    # this model), so a top-level import would make `import pgm_control.models` circular.
    from pgm_control.inference.soft import solve_soft

    uniform = log_prior is None
    return solve_soft(mdp, horizon, temperature, backup, log_action_prior(mdp, None) if uniform else log_prior,
                      uniform_prior=uniform, progress=False)


def likelihood_terms(mdp: TabularMDP, rewards: torch.Tensor, demonstrations: Demonstrations, horizon: int,
                     variant: str, log_prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The per-step factors of log p(τ_i | s_{i,1}, ψ) at temperature 1 for the reward table ``rewards``.

    Returns ``action_logits`` ``[N, T, A]`` (log π_t(· | s_t)) and ``transition_log_probs`` ``[N, T]``
    (log p_ψ(s_{t+1} | s_t, a_t)); padding steps hold finite junk, to be masked.
    """
    model = mdp.with_rewards(rewards)
    soft = soft_solution(model, horizon, variant, log_prior=log_prior)
    device = mdp.rewards.device
    states, actions = demonstrations.states.to(device), demonstrations.actions.to(device)
    steps, s = torch.arange(horizon, device=device), states[:, :-1]
    # log π_t(·|s_t) = log p(·|s_t) + Q_t(s_t, ·) - V_t(s_t) at the demonstrated (t, s_t) only: [N, T, A]
    action_logits = soft.log_prior[s] + soft.q[steps, s] - soft.v[steps, s][..., None]
    log_dynamics = transition_log_probs(mdp, states, actions)
    if variant == "causal":
        return action_logits, log_dynamics
    # posterior dynamics: + V_{t+1}(s') - (Q_t(s, a) - r(s, a)), with V_{T+1} = 0
    v_next = torch.cat([soft.v[1:], torch.zeros_like(soft.v[:1])])
    s_next = states[:, 1:]
    tilt = v_next[steps, s_next] - (soft.q[steps, s, actions] - model.rewards[s, actions])
    return action_logits, log_dynamics + tilt


def observe_demonstrations(demonstrations: Demonstrations, action_logits: torch.Tensor,
                           transition_log_probs: torch.Tensor, plate_name: str = "demonstrations") -> None:
    """The observed sites: ``actions`` ~ Categorical(π_ψ) and the ``transitions`` factor, masked to the
    demonstrated steps, under plates over demonstrations (dim -2) and steps (dim -1)."""
    mask, actions = demonstrations.mask.to(action_logits.device), demonstrations.actions.to(action_logits.device)
    N, T = mask.shape
    with pyro.plate(plate_name, N, dim=-2), pyro.plate("steps", T, dim=-1):
        pyro.sample("actions", dist.Categorical(logits=action_logits).mask(mask), obs=actions)
        pyro.factor("transitions", torch.where(mask, transition_log_probs, 0.0))


def sample_reward_table(mdp: TabularMDP, reward, prior) -> torch.Tensor:
    """ψ ~ prior (a ``psi`` site) for a linear reward, or the network's parameters as ``pyro.module``
    point estimates for a neural one; returns r_ψ ``[S, A]``."""
    if isinstance(reward, NeuralReward):
        if prior is not None:
            raise ValueError("a prior over a NeuralReward's weights is not supported: pass prior=None "
                             "(point estimates), or use a LinearReward")
        pyro.module("reward", reward)
        return reward()
    prior = default_prior(reward) if prior is None else prior
    if not isinstance(prior, dist.Distribution) or prior.event_shape != (reward.num_parameters,):
        raise ValueError(f"prior must be a Pyro distribution over ψ with event shape [F] = "
                         f"[{reward.num_parameters}] (e.g. dist.Normal(0, 1).expand([F]).to_event(1))")
    return reward(pyro.sample("psi", prior))


def irl_model(mdp: TabularMDP, demonstrations: Demonstrations, horizon: int | None = None, reward=None,
              prior=None, *, variant: str = "causal", temperature: float = 1.0, action_prior=None) -> torch.Tensor:
    r"""The MaxEnt IRL model: ψ ~ prior, demonstrated actions a_t ~ π_ψ,t(· | s_t) observed (see the
    module docstring for both variants).

    Args:
        mdp: the :class:`~pgm_control.TabularMDP` (undiscounted; its rewards are ignored).
        demonstrations: :class:`~pgm_control.Demonstrations`.
        horizon: T (default: the demonstrations' T; a different value is an error).
        reward: :class:`~pgm_control.models.LinearReward` (default: on ``mdp.features``) or
            :class:`~pgm_control.models.NeuralReward` (its weights are ``pyro.module`` point estimates).
        prior: the prior over ψ ``[F]`` (default Normal(0, 1) per feature; :func:`flat_prior` for an
            improper flat one); must be None for a neural reward.
        variant: ``"causal"`` (expected backup, Ziebart 2010) or ``"trajectory"`` (CS285 notes'
            p(τ | O, ψ), optimistic backup).
        temperature: α of π ∝ exp(Q/α) (the demonstrator's rationality is 1/α).

    Sites: ``psi`` (linear reward), observed ``actions`` ``[N, T]`` and the ``transitions`` factor,
    under plates ``demonstrations`` and ``steps``. Returns the reward table r_ψ ``[S, A]``.

    Example:
        >>> import torch, pyro
        >>> from pgm_control import Demonstrations
        >>> from pgm_control.envs import terrain_gridworld
        >>> mdp = terrain_gridworld(size=3, num_terrains=2)
        >>> demos = Demonstrations(torch.tensor([[0, 1, 2]]), torch.tensor([[2, 2]]))
        >>> trace = pyro.poutine.trace(irl_model).get_trace(mdp, demos)
        >>> trace.nodes["actions"]["value"].tolist(), tuple(trace.nodes["psi"]["value"].shape)
        ([[2, 2]], (2,))
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, variant)
    temperature = check_irl_temperature(temperature)
    return irl_model_body(mdp, demonstrations, horizon, check_reward(reward, mdp), prior, variant=variant,
                          temperature=temperature, log_prior=read_log_prior(mdp, action_prior))


def irl_model_body(mdp: TabularMDP, demonstrations: Demonstrations, horizon: int, reward, prior, *,
                   variant: str, temperature: float, log_prior: torch.Tensor | None) -> torch.Tensor:
    """:func:`irl_model` for inputs already validated: the fitting functions validate once, then hand
    this to Pyro, which runs it at every step."""
    rewards = sample_reward_table(mdp, reward, prior)
    logits, log_transitions = likelihood_terms(mdp, rewards / temperature, demonstrations, horizon, variant,
                                               log_prior)
    observe_demonstrations(demonstrations, logits, log_transitions)
    return rewards


def hierarchical_irl_model(mdp: TabularMDP, demonstrations: Demonstrations, horizon: int | None = None,
                           reward=None, prior=None, temperature_prior=None, *, variant: str = "causal",
                           action_prior=None) -> torch.Tensor:
    r"""Several demonstrators, one shared reward, each with their own rationality:

        ψ ~ p(ψ),   α_m ~ p(α) for m = 1..M (plate ``demonstrators``),
        a_t ~ π_{ψ, α_m}(· | s_t) for the episodes of demonstrator m   (π ∝ exp(Q_{r_ψ}/α_m))

    ``demonstrations.demonstrators`` ``[N]`` says who demonstrated each episode. The temperature
    prior defaults to LogNormal(0, 0.5). Only the ratios α_m / α_m' and the direction of ψ are fixed by
    the data (r/α is what a policy sees); the priors fix the common scale. Sites: ``psi``,
    ``temperature`` ``[M]``, ``actions``, ``transitions``. Returns r_ψ ``[S, A]``.
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, variant)
    if demonstrations.demonstrators is None:
        raise ValueError("hierarchical_irl_model needs demonstrations with demonstrators= labels [N]")
    return hierarchical_irl_model_body(mdp, demonstrations, horizon, check_reward(reward, mdp), prior,
                                       check_temperature_prior(temperature_prior), variant=variant,
                                       log_prior=read_log_prior(mdp, action_prior))


def check_temperature_prior(temperature_prior) -> dist.Distribution | None:
    """None (the default LogNormal(0, 0.5)) or a Pyro distribution over a scalar α > 0."""
    if temperature_prior is None:
        return None
    if not isinstance(temperature_prior, dist.Distribution) or temperature_prior.event_shape != ():
        raise TypeError(f"temperature_prior must be a Pyro distribution over a scalar α > 0 (e.g. "
                        f"dist.LogNormal(0., 0.5)), got {temperature_prior!r:.60}")
    if bool(temperature_prior.support.check(torch.tensor(-1.0, dtype=DTYPE))):
        raise ValueError(f"temperature_prior must have positive support (α > 0, e.g. LogNormal or Gamma), got "
                         f"support {temperature_prior.support}")
    return temperature_prior


def hierarchical_irl_model_body(mdp: TabularMDP, demonstrations: Demonstrations, horizon: int, reward, prior,
                                temperature_prior, *, variant: str, log_prior: torch.Tensor | None) -> torch.Tensor:
    """:func:`hierarchical_irl_model` for inputs already validated (see :func:`irl_model_body`)."""
    rewards = sample_reward_table(mdp, reward, prior)
    M = demonstrations.num_demonstrators
    if temperature_prior is None:
        temperature_prior = dist.LogNormal(torch.zeros((), dtype=DTYPE, device=mdp.rewards.device),
                                           torch.tensor(0.5, dtype=DTYPE, device=mdp.rewards.device))
    with pyro.plate("demonstrators", M):
        temperature = pyro.sample("temperature", temperature_prior)
    N, T = demonstrations.mask.shape
    logits = torch.zeros(N, T, mdp.num_actions, dtype=DTYPE, device=mdp.rewards.device)
    log_transitions = torch.zeros(N, T, dtype=DTYPE, device=mdp.rewards.device)
    for m in range(M):  # one soft solve per demonstrator (M is small); the episodes are vectorized
        mine = demonstrations.demonstrators == m
        if not mine.any():
            continue
        subset = demonstrations[mine]
        logits_m, log_transitions_m = likelihood_terms(mdp, rewards / temperature[m], subset, horizon, variant,
                                                       log_prior)
        logits = logits.index_put((mine.nonzero().squeeze(-1),), logits_m)
        log_transitions = log_transitions.index_put((mine.nonzero().squeeze(-1),), log_transitions_m)
    observe_demonstrations(demonstrations, logits, log_transitions)
    return rewards
