r"""Maximum-entropy inverse RL (CS285 notes, "MaxEnt IRL"): expected feature counts by messages, and the
MAP / maximum-likelihood reward of :func:`pgm_control.models.irl_model`.

The log-likelihood of N demonstrations (given their start states) under reward r_ψ = ψᵀ f and its
gradient, the CS285 notes' algorithm:

    L(ψ)     = (1/N) Σ_i log p(τ_i | s_{i,1}, ψ)
    ∇_ψ L    = (1/α) [ (1/N) Σ_i Σ_t f(s_{i,t}, a_{i,t})  -  Σ_t Σ_{s,a} μ_t(s, a) f(s, a) ]
    μ_t(s, a) = p(s_t = s, a_t = a | s_1 ~ ρ, O_{1:T}) ∝ β_t(s, a) α_t(s)   (ρ: the demonstrated starts)

"demonstrated minus expected feature counts". For ``variant="trajectory"`` the identity is exact; for
``variant="causal"`` μ_t is the visitation of the soft-optimal (expected-backup) policy under the true
dynamics and the identity is exact under deterministic dynamics (with stochastic dynamics the exact
gradient differs by a zero-mean term, the demonstrated transitions' deviation from p(s'|s, a)).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pyro
import torch
from pyro.infer.autoguide import AutoDelta, init_to_value

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_distribution,
    check_horizon,
    check_seed,
    check_shape,
    check_temperature,
)
from pgm_control._mdp_inputs import check_mdp
from pgm_control.demonstrations import Demonstrations
from pgm_control.inference._point_estimate import check_optimizer, fit_point_estimate
from pgm_control.inference.results import SoftValueResult
from pgm_control.mdp import TabularMDP
from pgm_control.models.irl import (
    check_demonstrations,
    check_irl_inputs,
    check_irl_temperature,
    check_reward,
    check_temperature_prior,
    check_variant,
    flat_prior,
    hierarchical_irl_model_body,
    irl_model_body,
    read_log_prior,
    soft_solution,
)
from pgm_control.models.rewards import LinearReward, read_features


def state_action_visitation(mdp: TabularMDP, horizon: int, *, variant: str = "causal", temperature: float = 1.0,
                            action_prior=None, start=None) -> torch.Tensor:
    r"""μ_t(s, a) = p(s_t = s, a_t = a | s_1 ~ ρ), the occupancy of the IRL model's trajectories, ``[T, S, A]``.

        log μ_t(s, a)  = log d_t(s) + log π_t(a|s)
        causal:         d_{t+1}(s') = Σ_{s,a} μ_t(s, a) p(s'|s, a)
        trajectory:     d_{t+1}(s') = Σ_{s,a} μ_t(s, a) p(s'|s, a) exp(V_{t+1}(s')/α) / exp((Q_t(s,a) - r(s,a))/α)

    with d_1 = ρ = ``start`` (default ``mdp.initial``) and π, Q, V the soft solution of `variant`. The
    trajectory variant is Σ_{s_1} ρ(s_1) p(s_t, a_t | s_1, O_{1:T}): for each start state the posterior
    ∝ β_t(s, a) α_t(s) of the CS285 notes (step 2 of MaxEnt IRL) with α_1 a point mass at s_1, averaged over
    the starts. (It is not β_t α_t normalized with α_1 = ρ: that would tilt the starts toward high
    β_1, i.e. let the demonstrator choose them.) Each μ_t sums to 1.
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    check_variant(variant)
    return visitation(mdp, horizon, variant, temperature, read_log_prior(mdp, action_prior), read_start(mdp, start))


def read_start(mdp: TabularMDP, start) -> torch.Tensor:
    """The start distribution ρ ``[S]`` (``mdp.initial`` for None), checked to be a distribution."""
    if start is None:
        return mdp.initial
    start = as_float_tensor(start, "start")
    check_shape(start, [mdp.num_states], "start", "ρ(s_1) [S]")
    check_distribution(start, "start", "ρ(s_1) over S states")
    return start


def visitation(mdp: TabularMDP, horizon: int, variant: str, temperature: float, log_prior: torch.Tensor | None,
               start: torch.Tensor) -> torch.Tensor:
    """:func:`state_action_visitation` for inputs already validated (``log_prior`` from
    :func:`~pgm_control.models.irl.read_log_prior`)."""
    soft = soft_solution(mdp, horizon, variant, temperature, log_prior)
    q, v = soft.q / temperature, soft.v / temperature
    log_d = torch.log(start)
    log_mu = []
    for t in range(horizon):
        log_mu.append(log_d[:, None] + soft.log_policy[t])
        if t + 1 == horizon:
            break
        if variant == "causal":
            log_d = mdp.log_push_forward(log_mu[t])
        else:
            log_d = v[t + 1] + mdp.log_push_forward(log_mu[t] - (q[t] - mdp.rewards / temperature))
    return torch.stack(log_mu).exp()


def reward_features(mdp: TabularMDP, features=None) -> torch.Tensor:
    """f(s, a) ``[S, A, F]`` with the rows of terminal states zeroed: terminal states pay 0 whatever ψ,
    so they carry no reward feature (∂r_ψ/∂ψ = 0 there)."""
    features = read_features(features, mdp)
    return torch.where(mdp.terminal[:, None, None], 0.0, features)


def expected_feature_counts(mdp: TabularMDP, horizon: int, *, features=None, variant: str = "causal",
                            temperature: float = 1.0, action_prior=None, start=None) -> torch.Tensor:
    r"""E[Σ_t f(s_t, a_t)] = Σ_t Σ_{s,a} μ_t(s, a) f(s, a) under the soft-optimal trajectories of
    ``mdp.rewards``, ``[F]`` (see :func:`state_action_visitation` for μ; terminal states count 0).

    Args:
        features: f ``[S, A, F]`` or ``[S, F]`` (default ``mdp.features``).
        variant, temperature, action_prior: as in :func:`pgm_control.models.irl_model`.
        start: the start distribution ρ ``[S]`` (default ``mdp.initial``); MaxEnt IRL passes the
            demonstrations' empirical one.

    Example:
        >>> from pgm_control.envs import terrain_gridworld
        >>> mdp = terrain_gridworld(size=3, num_terrains=2)
        >>> counts = expected_feature_counts(mdp, horizon=4)
        >>> round(float(counts.sum()), 10)  # one-hot features: one count per step
        4.0
    """
    check_mdp(mdp)
    features = reward_features(mdp, features)
    horizon = check_horizon(horizon, required=True)
    temperature = check_temperature(temperature)
    check_variant(variant)
    return feature_counts(mdp, horizon, features, variant, temperature, read_log_prior(mdp, action_prior),
                          read_start(mdp, start))


def feature_counts(mdp: TabularMDP, horizon: int, features: torch.Tensor, variant: str, temperature: float,
                   log_prior: torch.Tensor | None, start: torch.Tensor) -> torch.Tensor:
    """:func:`expected_feature_counts` for inputs already validated (features from :func:`reward_features`)."""
    return torch.einsum("tsa,saf->f", visitation(mdp, horizon, variant, temperature, log_prior, start), features)


def demonstrated_feature_counts(mdp: TabularMDP, demonstrations: Demonstrations, features=None) -> torch.Tensor:
    r"""(1/N) Σ_i Σ_{t < L_i} f(s_{i,t}, a_{i,t}), ``[F]`` (terminal states count 0, as in
    :func:`expected_feature_counts`)."""
    check_mdp(mdp)
    check_demonstrations(demonstrations).validate(mdp)
    return demonstrations.feature_counts(reward_features(mdp, features))


@dataclass(frozen=True, eq=False)
class MaxEntIRLResult:
    r"""What :func:`maxent_irl` returns.

    Every array is a float64 torch tensor: call ``.numpy()`` for NumPy, whose reductions (``np.mean``,
    ``np.max``, ...) do not accept tensors.

    Attributes:
        reward: the fitted parameterization (a ``LinearReward`` or the trained ``NeuralReward``).
        psi: ψ ``[F]`` for a linear reward (None for a neural one).
        reward_table: r_ψ ``[S, A]`` (terminal states 0).
        soft: the soft solution of r_ψ (``q``, ``v``, ``policy`` ``[T, S, A]``) for the fitted variant.
        log_likelihood: ``[K]`` per iteration, (1/N) Σ_i log p(τ_i | s_{i,1}, ψ).
        feature_mismatch: ``[K, F]`` per iteration, demonstrated minus expected feature counts (None
            without features or with ``diagnostics=False``). It is α times the log-likelihood's gradient,
            so it vanishes at the maximum-likelihood ψ, for the trajectory variant and for the causal
            variant under deterministic dynamics. For the causal variant under stochastic dynamics the
            gradient has one more, zero-mean term (the demonstrated transitions' deviation from
            p(s'|s, a)), and at the optimum the mismatch equals minus that term: sampling noise of size
            about √(T/N), not a failure; ``gradient_norm`` is the convergence measure there.
        gradient_norm: ``[K]`` per iteration, ‖∇ (log p(ψ, τ_{1:N}) / N)‖_∞ over the parameters.
        converged: whether ``gradient_norm`` reached ``tol``.
    """

    reward: object
    psi: torch.Tensor | None
    reward_table: torch.Tensor
    soft: SoftValueResult
    log_likelihood: torch.Tensor
    feature_mismatch: torch.Tensor | None
    gradient_norm: torch.Tensor
    converged: bool

    @property
    def policy(self) -> torch.Tensor:
        """π_ψ,t(a|s) ``[T, S, A]``, the soft-optimal policy of the learned reward."""
        return self.soft.policy

    @property
    def log_policy(self) -> torch.Tensor:
        return self.soft.log_policy


def maxent_irl(
    mdp: TabularMDP,
    demonstrations: Demonstrations,
    horizon: int | None = None,
    reward=None,
    *,
    variant: str = "causal",
    temperature: float = 1.0,
    prior=None,
    action_prior=None,
    optimizer: str = "lbfgs",
    num_steps: int = 200,
    lr: float | None = None,
    tol: float = 1e-6,
    diagnostics: bool = True,
    seed: int = 0,
    progress: bool | None = None,
) -> MaxEntIRLResult:
    r"""MaxEnt IRL: the maximum-likelihood (or MAP) reward of :func:`pgm_control.models.irl_model`.

        ψ* = argmax_ψ  Σ_i log p(τ_i | s_{i,1}, ψ) + log p(ψ)

    fitted as Pyro variational inference with an ``AutoDelta`` guide (a point mass at ψ, so the
    negative ELBO is exactly -log p(ψ, τ_{1:N})), its differentiable loss minimized by ``optimizer``:
    ``"lbfgs"`` (quasi-Newton with a strong-Wolfe line search; the log-likelihood of a linear reward
    is concave, and this converges in tens of steps) or ``"adam"``.

    Args:
        mdp, demonstrations, horizon, reward, variant, temperature, action_prior: as in
            :func:`pgm_control.models.irl_model` (default reward: linear in ``mdp.features``).
        prior: over ψ; None is a flat prior (maximum likelihood). Must be None for a neural reward.
        num_steps: the most optimizer steps (one L-BFGS step is one quasi-Newton update).
        lr: step size (default 1 for L-BFGS, 0.05 for Adam).
        tol: stop when the gradient of the objective per demonstration is below ``tol`` (∞-norm).
        diagnostics: record the per-feature mismatch, demonstrated minus expected counts, at every
            step (costs one more soft solve and forward pass per step); shown on the progress bar.
        seed: ``pyro.set_rng_seed`` (the parameter store is cleared first).
        progress: a tqdm bar (None: on for 10^4 states or more).

    Returns:
        :class:`MaxEntIRLResult`.
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, variant)
    temperature = check_irl_temperature(temperature)
    reward = check_reward(reward, mdp)
    num_steps = check_optimizer(optimizer, num_steps, lr, tol)
    seed, log_prior = check_seed(seed), read_log_prior(mdp, action_prior)
    linear = isinstance(reward, LinearReward)
    if linear and prior is None:
        prior = flat_prior(reward)
    model = partial(irl_model_body, mdp, demonstrations, horizon, reward, prior, variant=variant,
                    temperature=temperature, log_prior=log_prior)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    if linear:
        guide = AutoDelta(model, init_loc_fn=init_to_value(
            values={"psi": torch.zeros(reward.num_parameters, dtype=DTYPE, device=mdp.rewards.device)}))
    else:
        def guide():  # no latent sites: the network's weights are pyro.module parameters
            return None

    def table():
        with torch.no_grad():
            return reward(guide.median()["psi"]) if linear else reward()

    N = demonstrations.num_demonstrations
    features = reward.features if linear else mdp.features
    features = None if features is None else reward_features(mdp, features)
    start = demonstrations.start_distribution(mdp.num_states)
    demonstrated = None if features is None else demonstrations.feature_counts(features)
    log_priors, mismatch = [], []

    def diagnose():
        log_priors.append(prior.log_prob(guide.median()["psi"]).item() / N if linear else 0.0)
        if not diagnostics or features is None:
            return None
        expected = feature_counts(mdp.with_rewards(table()), horizon, features, variant, temperature, log_prior,
                                  start)
        mismatch.append(demonstrated - expected)
        return {"mismatch": f"{mismatch[-1].abs().max().item():.2e}"}

    fit = fit_point_estimate(model, guide, optimizer=optimizer, num_steps=num_steps, lr=lr, tol=tol, scale=N,
                             progress=progress, work=mdp.num_states * 2e4, desc="MaxEnt IRL", on_step=diagnose)
    with torch.no_grad():
        learned = mdp.with_rewards(table())
        soft = soft_solution(learned, horizon, variant, temperature, log_prior)
    return MaxEntIRLResult(
        reward=reward,
        psi=guide.median()["psi"].detach().clone() if linear else None,
        reward_table=learned.rewards,
        soft=soft,
        log_likelihood=torch.tensor(fit.objective, dtype=DTYPE, device=mdp.rewards.device)
        - torch.tensor(log_priors, dtype=DTYPE, device=mdp.rewards.device),
        feature_mismatch=torch.stack(mismatch) if mismatch else None,
        gradient_norm=torch.tensor(fit.gradient_norm, dtype=DTYPE, device=mdp.rewards.device),
        converged=fit.converged,
    )



@dataclass(frozen=True, eq=False)
class HierarchicalIRLResult:
    r"""What :func:`hierarchical_irl` returns: the MAP ``psi`` ``[F]`` (None for a neural reward) and
    ``temperatures`` α_m ``[M]``, the shared ``reward_table`` ``[S, A]``, each demonstrator's soft-optimal
    ``policies`` ``[M, T, S, A]``, and per step the ``log_joint`` (log p(ψ, α, τ_{1:N}) / N),
    ``gradient_norm`` and whether it ``converged``. The arrays are float64 torch tensors: call ``.numpy()``
    for NumPy, whose reductions (``np.mean``, ``np.max``, ...) do not accept tensors."""

    psi: torch.Tensor | None
    temperatures: torch.Tensor
    reward_table: torch.Tensor
    policies: torch.Tensor
    log_joint: torch.Tensor
    gradient_norm: torch.Tensor
    converged: bool


def hierarchical_irl(
    mdp: TabularMDP,
    demonstrations: Demonstrations,
    horizon: int | None = None,
    reward=None,
    prior=None,
    temperature_prior=None,
    *,
    variant: str = "causal",
    action_prior=None,
    optimizer: str = "lbfgs",
    num_steps: int = 200,
    lr: float | None = None,
    tol: float = 1e-6,
    seed: int = 0,
    progress: bool | None = None,
) -> HierarchicalIRLResult:
    r"""MAP reward and rationalities of several demonstrators (:func:`pgm_control.models.hierarchical_irl_model`):

        (ψ*, α*) = argmax  log p(ψ) + Σ_m log p(α_m) + Σ_i log p(τ_i | s_{i,1}, ψ, α_{m(i)})

    One shared reward, one temperature α_m per demonstrator (``demonstrations.demonstrators``); a less
    rational demonstrator gets a larger α_m. Priors as in the model (ψ ~ Normal(0, 1) per feature,
    α_m ~ LogNormal(0, 0.5) by default): they fix the common scale of ψ and α, which the data cannot.
    Optimizer arguments as in :func:`maxent_irl`.
    """
    horizon = check_irl_inputs(mdp, demonstrations, horizon, variant)
    if demonstrations.demonstrators is None:
        raise ValueError("hierarchical_irl needs demonstrations with demonstrators= labels [N]")
    reward = check_reward(reward, mdp)
    num_steps = check_optimizer(optimizer, num_steps, lr, tol)
    seed, log_prior = check_seed(seed), read_log_prior(mdp, action_prior)
    model = partial(hierarchical_irl_model_body, mdp, demonstrations, horizon, reward, prior,
                    check_temperature_prior(temperature_prior), variant=variant, log_prior=log_prior)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    linear = isinstance(reward, LinearReward)
    M = demonstrations.num_demonstrators
    init = {"temperature": torch.ones(M, dtype=DTYPE, device=mdp.rewards.device)}
    if linear:
        init["psi"] = torch.zeros(reward.num_parameters, dtype=DTYPE, device=mdp.rewards.device)
    guide = AutoDelta(model, init_loc_fn=init_to_value(values=init))
    fit = fit_point_estimate(model, guide, optimizer=optimizer, num_steps=num_steps, lr=lr, tol=tol,
                             scale=demonstrations.num_demonstrations, progress=progress,
                             work=mdp.num_states * M * 2e4, desc="hierarchical IRL")
    with torch.no_grad():
        point = guide.median()
        table = reward(point["psi"]) if linear else reward()
        learned = mdp.with_rewards(table)
        policies = torch.stack([soft_solution(learned, horizon, variant, alpha.item(), log_prior).policy
                                for alpha in point["temperature"]])
    return HierarchicalIRLResult(
        psi=point["psi"].detach().clone() if linear else None,
        temperatures=point["temperature"].detach().clone(),
        reward_table=learned.rewards,
        policies=policies,
        log_joint=torch.tensor(fit.objective, dtype=DTYPE, device=mdp.rewards.device),
        gradient_norm=torch.tensor(fit.gradient_norm, dtype=DTYPE, device=mdp.rewards.device),
        converged=fit.converged,
    )
