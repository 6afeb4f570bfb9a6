r"""The linear-Gaussian system with optimality variables as a Pyro program, and a Gaussian-policy guide
(Lecture 20, "Control via variational inference", for continuous states and actions).

Model, for code time t = 0..T-1 (the slides' 1..T), in a plate ``"trajectories"`` of size N (``dim=-1``):

    ε_t ~ N(0, I_n)                                                  site ``eps_t``  [N, n]
    x_0 = μ_0 + L_0 ε_0,   x_{t+1} = A x_t + B u_t + L_w ε_{t+1}     site ``x_t`` (deterministic)
    u_t ~ p(u) ∝ 1 (the improper uniform prior on R^m)               site ``u_t``    [N, m]
    log p(O_t = 1 | x_t, u_t) = r(x_t, u_t)/α                        site ``O_t`` (a factor)

with L_0 L_0ᵀ = Σ_0 and L_w L_wᵀ = Σ_w. Three choices, and why:

* *Noise sites instead of state sites.* The randomness of x_t is the standard normal ε_t, and x_t is a
  deterministic function of (ε_{0:t}, u_{0:t-1}). This is the same distribution of trajectories as
  x_{t+1} ~ N(A x_t + B u_t, Σ_w), but it stays valid when Σ_w or Σ_0 is singular (zero noise, noise on
  velocities only, a point-mass start), where N(·, Σ_w) has no density. x_T, which no O_t sees, is
  not sampled.
* *An improper action prior.* The soft Bellman backup of continuous actions,
  V(x) = α log ∫ exp(Q(x, u)/α) du, integrates against Lebesgue measure: the "uniform prior" of the
  tabular case has no normalized continuous analogue. ``u_t`` is an ``ImproperUniform`` site with
  log-density 0: the model can score actions but not sample them, so it is only ever run replaying
  a guide (as SVI does). The ELBO is then E_q[Σ_t r/α - log q(u_t|x_t)] with q's differential entropy.
* *A factor for O_t.* r <= 0, so exp(r/α) is a genuine probability and needs no shift (contrast
  :mod:`pgm_control.models.optimality`); the factor is its logarithm, finite even where r = 0 (a
  Bernoulli's log-odds would be infinite there).

The guide :class:`GaussianPolicyGuide` samples the same ``eps_t`` from the same N(0, I) and pushes
them through the same dynamics, so the log-densities of the ``eps_t`` cancel exactly in the ELBO: the
dynamics are held fixed, and the variational solution is the expected ("not optimistic") backup.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions import constraints

from pgm_control._checks import DTYPE, check_horizon, check_positive_integer, check_real, check_temperature
from pgm_control.envs.lqr import LinearGaussianSystem


def check_system(system) -> LinearGaussianSystem:
    if not isinstance(system, LinearGaussianSystem):
        raise TypeError(f"system must be a LinearGaussianSystem, got {type(system).__name__}")
    return system


def initial_state(system: LinearGaussianSystem, eps: torch.Tensor) -> torch.Tensor:
    r"""x_0 = μ_0 + L_0 ε for ε ``[..., n]`` -> ``[..., n]``."""
    return system.initial_mean + eps @ system.initial_scale.mT


def next_state(system: LinearGaussianSystem, x: torch.Tensor, u: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    r"""x' = A x + B u + L_w ε for x ``[..., n]``, u ``[..., m]``, ε ``[..., n]`` -> ``[..., n]``."""
    return system.mean_next_state(x, u) + eps @ system.noise_scale.mT


def _state(system, t, x, u, num_states):
    """Sample ``eps_t`` and return x_t (shared by the model and the guide: identical dynamics)."""
    eps = pyro.sample(f"eps_{t}", dist.Normal(torch.zeros(num_states, dtype=DTYPE), 1.0).to_event(1))
    return initial_state(system, eps) if t == 0 else next_state(system, x, u, eps)


def lqr_optimality_model(system: LinearGaussianSystem, horizon: int, num_trajectories: int = 1,
                         temperature: float = 1.0) -> None:
    r"""The trajectory model with optimality factors (see the module docstring).

    Sites per step t: ``eps_t`` ``[N, n]``, ``x_t`` ``[N, n]`` (deterministic), ``u_t`` ``[N, m]``
    (improper uniform), ``O_t`` (factor r(x_t, u_t)/α, ``[N]``). Run it replaying a guide.

    Example:
        >>> import pyro
        >>> from pgm_control.envs import scalar_system
        >>> pyro.clear_param_store()
        >>> system = scalar_system()
        >>> guide = GaussianPolicyGuide(system, horizon=2)
        >>> guide_trace = pyro.poutine.trace(guide).get_trace(system, 2, 3)
        >>> replayed = pyro.poutine.replay(lqr_optimality_model, trace=guide_trace)
        >>> trace = pyro.poutine.trace(replayed).get_trace(system, 2, 3)
        >>> [name for name in trace.nodes if name[0] in "exuO"]
        ['eps_0', 'x_0', 'u_0', 'O_0', 'eps_1', 'x_1', 'u_1', 'O_1']
        >>> tuple(trace.nodes["u_1"]["value"].shape), tuple(trace.nodes["O_1"]["fn"].batch_shape)
        ((3, 1), (3,))
    """
    system = check_system(system)
    horizon = check_horizon(horizon, required=True)
    num_trajectories = check_positive_integer(num_trajectories, "num_trajectories")
    temperature = check_temperature(temperature)
    if temperature == 0.0:
        raise ValueError("lqr_optimality_model needs temperature > 0 (p(O|x,u) = exp(r/α))")
    n, m = system.num_states, system.num_actions
    flat_prior = dist.ImproperUniform(constraints.real_vector, batch_shape=(), event_shape=(m,))
    with pyro.plate("trajectories", num_trajectories, dim=-1):
        x, u = None, None
        for t in range(horizon):
            x = _state(system, t, x, u, n)
            pyro.deterministic(f"x_{t}", x, event_dim=1)
            u = pyro.sample(f"u_{t}", flat_prior)
            pyro.factor(f"O_{t}", system.reward(x, u) / temperature)


class GaussianPolicyGuide:
    r"""q(τ) = p(x_1) Π_t N(u_t; K_t x_t + k_t, Σ_t) p(x_{t+1} | x_t, u_t): a time-indexed linear-Gaussian
    policy under the true dynamics, all sites reparameterized.

    Pyro parameters (prefixed by ``name``): ``{name}_gains`` K ``[T, m, n]`` (init 0),
    ``{name}_offsets`` k ``[T, m]`` (init 0) and ``{name}_scale_tril`` ``[T, m, m]``, the Cholesky factors
    of Σ_t = L_t L_tᵀ (init ``init_scale`` · I, constrained lower-triangular with a positive diagonal).
    The guide is called with the model's arguments ``(system, horizon, num_trajectories=1,
    temperature=1.0)``.

    Example:
        >>> from pgm_control.envs import double_integrator
        >>> guide = GaussianPolicyGuide(double_integrator(), horizon=4)
        >>> tuple(guide.gains().shape), tuple(guide.covariances().shape)
        ((4, 1, 2), (4, 1, 1))
    """

    def __init__(self, system: LinearGaussianSystem, horizon: int, init_scale: float = 1.0,
                 name: str = "gaussian_policy"):
        system = check_system(system)
        self.horizon = check_horizon(horizon, required=True)
        init_scale = check_real(init_scale, "init_scale", "a positive number")
        if not init_scale > 0:
            raise ValueError(f"init_scale must be > 0, got {init_scale}")
        self.init_scale = init_scale
        self.name = name
        self.num_states, self.num_actions = system.num_states, system.num_actions

    def gains(self) -> torch.Tensor:
        """K_t ``[T, m, n]``."""
        T, m, n = self.horizon, self.num_actions, self.num_states
        return self._param("gains", lambda: torch.zeros(T, m, n, dtype=DTYPE))

    def offsets(self) -> torch.Tensor:
        """k_t ``[T, m]``."""
        return self._param("offsets", lambda: torch.zeros(self.horizon, self.num_actions, dtype=DTYPE))

    def scale_tril(self) -> torch.Tensor:
        """L_t ``[T, m, m]``, lower triangular with positive diagonal, Σ_t = L_t L_tᵀ."""
        eye = torch.eye(self.num_actions, dtype=DTYPE)
        return self._param("scale_tril", lambda: (self.init_scale * eye).expand(self.horizon, -1, -1).clone(),
                           constraint=constraints.lower_cholesky)

    def _param(self, suffix, init, constraint=constraints.real):
        """``pyro.param`` with a check that a stored value (from an earlier guide) has this guide's shape."""
        value = pyro.param(f"{self.name}_{suffix}", init, constraint=constraint)
        expected = init().shape
        if value.shape != expected:
            raise ValueError(
                f"the parameter store holds {self.name}_{suffix} of shape {list(value.shape)}, but this guide "
                f"needs {list(expected)}; call pyro.clear_param_store() or give the guide another name="
            )
        return value

    def covariances(self) -> torch.Tensor:
        """Σ_t = L_t L_tᵀ ``[T, m, m]``."""
        scale = self.scale_tril()
        return scale @ scale.mT

    def __call__(self, system: LinearGaussianSystem, horizon: int, num_trajectories: int = 1,
                 temperature: float = 1.0) -> None:
        if horizon != self.horizon:
            raise ValueError(f"this guide was built for horizon={self.horizon}, called with horizon={horizon}")
        if (system.num_states, system.num_actions) != (self.num_states, self.num_actions):
            raise ValueError(f"this guide was built for n={self.num_states} states and m={self.num_actions} "
                             f"actions, called with a system of n={system.num_states}, m={system.num_actions}")
        gains, offsets, scale_tril = self.gains(), self.offsets(), self.scale_tril()
        with pyro.plate("trajectories", num_trajectories, dim=-1):
            x, u = None, None
            for t in range(horizon):
                x = _state(system, t, x, u, self.num_states)
                loc = x @ gains[t].mT + offsets[t]
                u = pyro.sample(f"u_{t}", dist.MultivariateNormal(loc, scale_tril=scale_tril[t]))
