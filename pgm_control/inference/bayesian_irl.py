r"""Bayesian inverse RL: the posterior over reward weights ψ of :func:`pgm_control.models.irl_model`
(CS285 notes, "Inverse RL", "MaxEnt IRL"; Ramachandran & Amir 2007 with the MaxEnt likelihood).

    p(ψ | τ_{1:N}) ∝ p(ψ) Π_i p(τ_i | s_{i,1}, ψ)
    log p(τ_i | s_{i,1}, ψ) = Σ_t log π_ψ,t(a_{i,t} | s_{i,t}) + (dynamics terms)

with π_ψ the soft-optimal policy of r_ψ = ψᵀ f (causal: expected backup; trajectory: the CS285 notes'
p(τ | O, ψ)). Two routes to the posterior:

* ``method="nuts"``: Hamiltonian Monte Carlo with the No-U-Turn sampler (``pyro.infer.NUTS``) on the
  model's exact log density; every leapfrog step differentiates one soft value iteration.
* ``method="svi"``: a Gaussian q(ψ) = N(m, LLᵀ) (``AutoMultivariateNormal``) fitted by maximizing the
  ELBO (``Trace_ELBO``); the model is deterministic given ψ, so the only gradient noise is the
  reparameterized draw of ψ.

The summaries push the posterior through the reward and the policy: r_ψ(s, a) is linear in ψ (mean and
std exactly from the posterior moments of ψ), π_ψ is not (averaged over up to ``num_policy_samples``
posterior draws, streamed one soft solve at a time).

Departures from the literature: Ramachandran & Amir's likelihood is Boltzmann in the optimal Q*; here it
is the MaxEnt one (soft-optimal π_ψ, the same model as :func:`pgm_control.maxent_irl`), and start states
are conditioned on. Their PolicyWalk sampler is replaced by NUTS (gradients through the soft solve) and
a Gaussian SVI alternative. The per-state uncertainty is the mutual information I(a; ψ | s) at the
first step (see :class:`BayesianIRLResult`).

References: Ramachandran & Amir, "Bayesian Inverse Reinforcement Learning", IJCAI 2007; Ziebart et al.,
"Maximum Entropy Inverse Reinforcement Learning", AAAI 2008; Hoffman & Gelman, "The No-U-Turn Sampler",
JMLR 2014; Houlsby et al., "Bayesian Active Learning for Classification and Preference Learning" (the
mutual-information uncertainty), 2011.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pyro
import torch
from pyro.distributions.transforms import biject_to
from pyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from pyro.infer.autoguide import AutoMultivariateNormal, init_to_mean
from pyro.ops.stats import effective_sample_size, split_gelman_rubin
from pyro.optim import ClippedAdam

from pgm_control._checks import DTYPE, check_learning_rate, check_positive_integer, check_real, check_seed
from pgm_control._progress import progress_bar
from pgm_control.demonstrations import Demonstrations
from pgm_control.mdp import TabularMDP
from pgm_control.models.irl import (
    check_irl_inputs,
    check_irl_temperature,
    check_reward,
    irl_model_body,
    read_log_prior,
    soft_solution,
)
from pgm_control.models.rewards import NeuralReward

METHODS = ("nuts", "svi")
# Show progress on auto when the problem has at least this many states (as maxent_irl: S·5·10^4 ≥ 2·10^8).
_AUTO_PROGRESS_STATES = 4000


@dataclass(frozen=True, eq=False)
class BayesianIRLResult:
    r"""What :func:`bayesian_irl` returns (M posterior draws of ψ ``[F]``; T steps; S states, A actions).

    ``losses`` is a NumPy array; the rest are float64 torch tensors: call ``.numpy()`` for NumPy, whose
    reductions (``np.mean``, ``np.max``, ...) do not accept tensors.

    Attributes:
        samples: posterior draws ψ^(m) ``[M, F]`` (NUTS: chains concatenated after warmup; SVI: draws
            from the fitted Gaussian).
        reward_mean: E[r_ψ(s, a)] = E[ψ]ᵀ f(s, a) ``[S, A]`` (terminal states 0).
        reward_std: sd[r_ψ(s, a)] = sqrt(f(s, a)ᵀ Cov[ψ] f(s, a)) ``[S, A]``.
        policy_mean: E[π_ψ,t(a|s)] ``[T, S, A]``, the posterior predictive policy, over the policy draws.
        policy_std: sd[π_ψ,t(a|s)] ``[T, S, A]`` over the policy draws.
        state_uncertainty: ``[S]``, the mutual information between the action at s and ψ at the first
            step, in nats (0 ≤ · ≤ log A):

                U(s) = I(a; ψ | s) = H[π̄_1(·|s)] - E_ψ H[π_ψ,1(·|s)] = E_ψ KL(π_ψ,1(·|s) ‖ π̄_1(·|s))

            with π̄ = ``policy_mean``: the posterior-mean divergence of the sampled policies from their
            mean. It is 0 where all plausible rewards agree on what to do, and it leaves out the
            policy's own randomness (the soft policy's entropy), which no amount of data removes.
        num_policy_samples: the number of posterior draws behind ``policy_*`` and ``state_uncertainty``
            (evenly spaced through ``samples``).
        method: ``"nuts"`` or ``"svi"``.
        diagnostics: NUTS only (else None): ``r_hat`` ``[F]`` (split Gelman-Rubin; ≈ 1 when mixed),
            ``n_eff`` ``[F]`` (effective sample size), ``divergences`` (count after warmup) and
            ``acceptance_rate``.
        losses: SVI only (else None): the negative ELBO per step ``[num_steps]`` (a NumPy float64 array).
    """

    samples: torch.Tensor
    reward_mean: torch.Tensor
    reward_std: torch.Tensor
    policy_mean: torch.Tensor
    policy_std: torch.Tensor
    state_uncertainty: torch.Tensor
    num_policy_samples: int
    method: str
    diagnostics: dict | None = None
    losses: np.ndarray | None = None

    @property
    def psi_mean(self) -> torch.Tensor:
        """E[ψ] ``[F]``."""
        return self.samples.mean(0)

    @property
    def psi_std(self) -> torch.Tensor:
        """sd[ψ] ``[F]``."""
        return self.samples.std(0)

    def interval(self, level: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
        """The central posterior interval of each ψ_k: the (1 - level)/2 and (1 + level)/2 quantiles of
        the draws, as (lower ``[F]``, upper ``[F]``)."""
        level = check_real(level, "level", "a number in (0, 1)")
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level}")
        probs = torch.tensor([(1.0 - level) / 2, (1.0 + level) / 2], dtype=DTYPE, device=self.samples.device)
        lower, upper = torch.quantile(self.samples, probs, dim=0)
        return lower, upper


def bayesian_irl(
    mdp: TabularMDP,
    demonstrations: Demonstrations,
    horizon: int | None = None,
    reward=None,
    prior=None,
    *,
    variant: str = "causal",
    temperature: float = 1.0,
    action_prior=None,
    method: str = "nuts",
    num_samples: int = 500,
    warmup_steps: int = 300,
    num_chains: int = 1,
    num_steps: int = 1000,
    lr: float = 0.05,
    num_policy_samples: int = 200,
    seed: int = 0,
    progress: bool | None = None,
) -> BayesianIRLResult:
    r"""The posterior over linear reward weights ψ given demonstrations, and the uncertainty it implies.

        ψ ~ p(ψ) (default Normal(0, 1) per feature),   a_{i,t} ~ π_ψ,t(· | s_{i,t}) observed
        p(ψ | τ_{1:N}) ∝ p(ψ) Π_i Π_t π_ψ,t(a_{i,t} | s_{i,t})     (× ψ-free dynamics, causal variant)

    Pseudocode::

        nuts: for m = 1..warmup + M:  ψ^(m) = NUTS transition on U(ψ) = -log p(ψ, τ_{1:N})
                                       (each gradient: one differentiable soft value iteration)
        svi:  for k = 1..num_steps:   (m, L) += lr_k ∇ ELBO(m, L),  ELBO = E_q[log p(ψ, τ_{1:N}) - log q(ψ)]
              ψ^(m) ~ N(m, LLᵀ), m = 1..M
        E[r_ψ] = E[ψ]ᵀf;  sd[r_ψ]² = fᵀ Cov[ψ] f
        for j over ≤ num_policy_samples evenly spaced draws:  π_j = soft-optimal policy of r_{ψ_j}
            accumulate Σ π_j, Σ π_j², Σ_s H[π_j,1(·|s)]
        policy_mean, policy_std, state_uncertainty = H[π̄_1] - mean H[π_j,1]

    Args:
        mdp, demonstrations, horizon, variant, temperature, action_prior: as in
            :func:`pgm_control.models.irl_model`.
        reward: a :class:`~pgm_control.models.LinearReward` (default: on ``mdp.features``). A
            ``NeuralReward`` is refused: its weights have no prior here.
        prior: over ψ ``[F]`` (default Normal(0, 1) per feature). Features that sum to a constant (one-hot
            terrains) leave ψ identified only up to a shift, which then only the prior pins: the
            posterior is a narrow ridge, slow for NUTS; drop one feature (a reference) instead. An
            improper ``flat_prior`` is accepted, but its posterior is proper only when the likelihood
            identifies ψ (no such shift).
        method: ``"nuts"`` or ``"svi"``.
        num_samples: M, draws kept per chain (NUTS) or drawn from the fitted Gaussian (SVI).
        warmup_steps: NUTS adaptation steps (step size and diagonal mass matrix), discarded.
        num_chains: NUTS chains, run one after another from dispersed starts (uniform on [-2, 2] per
            coordinate), so that ``r_hat`` compares them.
        num_steps: SVI steps (Adam, learning rate decayed geometrically from ``lr`` to ``lr``/100 so
            that the final iterate's noise is small).
        lr: SVI's initial learning rate.
        num_policy_samples: the most posterior draws whose soft policies are computed.
        seed: ``pyro.set_rng_seed`` (SVI also clears the parameter store).
        progress: progress bars (None: on for ≥ 4000 states).

    Returns:
        :class:`BayesianIRLResult`.

    Example:
        >>> import torch
        >>> from pgm_control import Demonstrations
        >>> from pgm_control.envs import terrain_gridworld
        >>> mdp = terrain_gridworld(size=3, num_terrains=2)
        >>> demos = Demonstrations(torch.tensor([[0, 1, 2], [4, 5, 8]]), torch.tensor([[2, 2], [2, 1]]))
        >>> result = bayesian_irl(mdp, demos, method="svi", num_steps=50, num_samples=20, num_policy_samples=5)
        >>> tuple(result.samples.shape), tuple(result.policy_mean.shape), tuple(result.state_uncertainty.shape)
        ((20, 2), (2, 9, 4), (9,))
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, variant)
    temperature = check_irl_temperature(temperature)
    if isinstance(reward, NeuralReward):
        raise ValueError("bayesian_irl needs a LinearReward: a NeuralReward's weights have no prior here. "
                         "Use maxent_irl for a neural reward, or pass reward=LinearReward(features)")
    reward = check_reward(reward, mdp)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    num_samples, warmup_steps, num_chains, num_steps, num_policy_samples = (
        check_positive_integer(value, name, allow_zero=name == "warmup_steps") for value, name in (
            (num_samples, "num_samples"), (warmup_steps, "warmup_steps"), (num_chains, "num_chains"),
            (num_steps, "num_steps"), (num_policy_samples, "num_policy_samples")))
    lr, seed = check_learning_rate(lr), check_seed(seed)
    log_prior = read_log_prior(mdp, action_prior)
    show = progress if progress is not None else mdp.num_states >= _AUTO_PROGRESS_STATES
    model = partial(irl_model_body, mdp, demonstrations, horizon, reward, prior, variant=variant,
                    temperature=temperature, log_prior=log_prior)
    pyro.set_rng_seed(seed)
    diagnostics = losses = None
    if method == "nuts":
        samples, diagnostics = sample_nuts(model, num_samples, warmup_steps, num_chains, show, mdp.rewards.device)
    else:
        samples, losses = fit_gaussian(model, num_samples, num_steps, lr, show, mdp.rewards.device)
    reward_mean, reward_std = reward_moments(reward.features, samples)
    reward_mean = torch.where(mdp.terminal[:, None], 0.0, reward_mean)
    reward_std = torch.where(mdp.terminal[:, None], 0.0, reward_std)
    chosen = torch.linspace(0, len(samples) - 1, min(len(samples), num_policy_samples),
                            device=samples.device).round().long()
    policy_mean, policy_std, uncertainty = policy_moments(
        mdp, reward, samples[chosen], horizon, variant, temperature, log_prior, show)
    return BayesianIRLResult(
        samples=samples,
        reward_mean=reward_mean,
        reward_std=reward_std,
        policy_mean=policy_mean,
        policy_std=policy_std,
        state_uncertainty=uncertainty,
        num_policy_samples=len(chosen),
        method=method,
        diagnostics=diagnostics,
        losses=losses,
    )


def sample_nuts(model, num_samples: int, warmup_steps: int, num_chains: int, show: bool,
                device: torch.device) -> tuple[torch.Tensor, dict]:
    """NUTS draws of ``psi`` ``[num_chains · num_samples, F]`` and their diagnostics. The chains run one
    after another in this process (Pyro would fork one process per chain; on few shared cores that
    only contends), each with its own warmup from a start uniform on [-2, 2]^F in unconstrained space
    (drawn here rather than from the prior, which may be improper), and are compared by split R-hat."""
    chains, divergences, acceptance = [], 0, []
    for _ in range(num_chains):
        # max_plate_nesting=2: irl_model's plates over demonstrations and steps (dims -2, -1); given, Pyro
        # does not trace the model with prior draws to guess it (an improper prior cannot be drawn from)
        kernel = NUTS(model, jit_compile=False, max_plate_nesting=2,
                      init_strategy=partial(init_to_uniform_unconstrained, device=device))
        mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=warmup_steps, disable_progbar=not show)
        mcmc.run()
        chains.append(mcmc.get_samples()["psi"].detach().to(DTYPE))
        summary = mcmc.diagnostics()
        divergences += sum(len(d) for d in summary.get("divergences", {}).values())
        acceptance.extend(summary.get("acceptance rate", {}).values())
    stacked = torch.stack(chains)  # [C, M, F]
    diagnostics = {
        "r_hat": split_gelman_rubin(stacked, chain_dim=0, sample_dim=1),
        "n_eff": effective_sample_size(stacked, chain_dim=0, sample_dim=1),
        "divergences": divergences,
        "acceptance_rate": sum(acceptance) / len(acceptance) if acceptance else float("nan"),
    }
    return stacked.reshape(-1, stacked.shape[-1]), diagnostics


def fit_gaussian(model, num_samples: int, num_steps: int, lr: float, show: bool,
                 device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """SVI with ``AutoMultivariateNormal`` (started at the prior mean); returns ``num_samples`` draws of
    ``psi`` from the fitted guide and the loss (-ELBO) per step."""
    pyro.clear_param_store()
    guide = AutoMultivariateNormal(model, init_loc_fn=init_to_mean(fallback=partial(init_to_zero, device=device)))
    decay = 0.01 ** (1.0 / num_steps)  # lr → lr/100 over the run: the last iterates barely move
    svi = SVI(model, guide, ClippedAdam({"lr": lr, "lrd": decay}), Trace_ELBO())
    losses = []
    with progress_bar(num_steps, show, 0.0, "Bayesian IRL (SVI)") as bar:
        for _ in range(num_steps):
            losses.append(svi.step())
            bar.update()
    with torch.no_grad():  # one vectorized pass of the guide (a Python loop costs ~15 ms a draw)
        samples = Predictive(guide, num_samples=num_samples, parallel=True)()["psi"].to(DTYPE)
    return samples, np.array(losses, dtype=np.float64)


def init_to_zero(site: dict, device: torch.device) -> torch.Tensor:
    """Start a site at 0 in unconstrained space (for priors without a mean, e.g. ``flat_prior``), on the
    MDP's ``device`` (an improper prior carries none)."""
    fn = site["fn"]
    return biject_to(fn.support)(torch.zeros(fn.shape(), dtype=DTYPE, device=device))


def init_to_uniform_unconstrained(site: dict, device: torch.device) -> torch.Tensor:
    """Start a site uniformly on [-2, 2] per coordinate in unconstrained space (Pyro's ``init_to_uniform``
    without drawing from the prior, which an improper ``flat_prior`` cannot)."""
    fn = site["fn"]
    return biject_to(fn.support)(4.0 * torch.rand(fn.shape(), dtype=DTYPE, device=device) - 2.0)


def reward_moments(features: torch.Tensor, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Posterior mean and std of the linear reward r_ψ(s, a) = ψᵀ f(s, a) from draws ψ ``[M, F]``:

        E[r] = E[ψ]ᵀ f,   Var[r] = fᵀ Cov[ψ] f     (exact for a linear map; no [M, S, A] table)

    features ``[S, A, F]`` -> two ``[S, A]`` tables."""
    mean = samples.mean(0)
    centred = samples - mean
    covariance = centred.T @ centred / max(len(samples) - 1, 1)
    variance = torch.einsum("saf,fg,sag->sa", features, covariance, features)
    return features @ mean, variance.clamp_min(0.0).sqrt()  # clamp: rounding below 0 at zero-variance entries


def policy_moments(mdp: TabularMDP, reward, samples: torch.Tensor, horizon: int, variant: str,
                   temperature: float, log_prior, show: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Stream the soft policies π_ψ of draws ψ ``[J, F]``: their mean and std ``[T, S, A]``, and the
    mutual information U(s) = H[π̄_1(·|s)] - mean_j H[π_j,1(·|s)] ``[S]`` (one soft solve and three
    running sums; no ``[J, T, S, A]`` tensor)."""
    total = torch.zeros(horizon, mdp.num_states, mdp.num_actions, dtype=DTYPE, device=mdp.rewards.device)
    total_squares = torch.zeros_like(total)
    total_entropy = torch.zeros(mdp.num_states, dtype=DTYPE, device=mdp.rewards.device)
    with torch.no_grad(), progress_bar(len(samples), show, 0.0, "Bayesian IRL (policies)") as bar:
        for psi in samples:
            policy = soft_solution(mdp.with_rewards(reward(psi)), horizon, variant, temperature,
                                   log_prior).policy
            total += policy
            total_squares += policy**2
            total_entropy += entropy(policy[0])
            bar.update()
    J = len(samples)
    mean = total / J
    variance = (total_squares / J - mean**2) * (J / (J - 1)) if J > 1 else torch.zeros_like(mean)
    # Both information terms are exact; their difference is ≥ 0 by concavity of H and only rounding
    # (~1e-16) can take it below, hence the clamp.
    uncertainty = (entropy(mean[0]) - total_entropy / J).clamp_min(0.0)
    return mean, variance.clamp_min(0.0).sqrt(), uncertainty


def entropy(policy: torch.Tensor) -> torch.Tensor:
    """H[π(·|s)] = -Σ_a π(a|s) log π(a|s) in nats (0 log 0 = 0): ``[..., A]`` -> ``[...]``."""
    return -torch.special.xlogy(policy, policy).sum(-1)

