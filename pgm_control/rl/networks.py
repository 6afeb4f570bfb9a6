r"""The function approximators of deep max-entropy RL: Q_θ, V_ψ and the tanh-Gaussian policy π_φ.

Shapes are batch first: observations ``[B, dim S]``, Box actions ``[B, dim A]``; Q_θ(s, a) and V_ψ(s)
are ``[B]``; a discrete Q_θ(s, ·) is ``[B, A]``. The networks are float32 multilayer perceptrons with
ReLU hidden layers (the exact tabular code elsewhere in the library is float64).

**The tanh-Gaussian policy** (Haarnoja et al. 2018, Appendix C). With u ~ N(μ_φ(s), σ_φ(s)²) and the
action a = c + h ⊙ tanh(u) in the Box [low, high] (center c = (high + low)/2, half-width
h = (high - low)/2), the change of variables gives, per action dimension j,

    log π_φ(a|s) = Σ_j [ log N(u_j; μ_j, σ_j) - log(1 - tanh²(u_j)) - log h_j ],
    log(1 - tanh²(u)) = 2 (log 2 - u - softplus(-2u)) = 2 (log 2 - |u| - softplus(-2|u|))

The identity follows from 1 - tanh²(u) = 4 e^{-2u} / (1 + e^{-2u})², and the function is even. It needs
no ε: the usual ``log(1 - tanh(u)² + 1e-6)`` floors the term at log(1e-6) ≈ -13.8, so its error grows
without bound in |u| (24.8 nats at u = 20, where the true value is -38.6); in float32 without ε it is
-inf once tanh(u) rounds to ±1 (|u| > 9). The code uses the |u| form: torch's ``softplus`` returns x
itself above x = 20 (its ``threshold``), which makes the first form off by log1p(e^{-2|u|}) ≈ 2e-9 at
u < -10; softplus of a non-positive argument is computed without that cut.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pgm_control._checks import check_finite, check_positive_integer, shape_str

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # σ in [2e-9, 7.4], as in the authors' code
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def mlp(in_features: int, out_features: int, hidden: Sequence[int]) -> nn.Sequential:
    """A ReLU perceptron ``[B, in_features] -> [B, out_features]`` with the given hidden widths."""
    in_features = check_positive_integer(in_features, "the input size (observation_dim + action_dim)")
    out_features = check_positive_integer(out_features, "the output size (action_dim or num_actions)")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of positive layer widths, e.g. (256, 256); got {hidden!r}")
    widths = [in_features, *(check_positive_integer(w, f"hidden[{i}]") for i, w in enumerate(hidden))]
    layers: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out_features))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    r"""Q_θ(s, a) for Box actions: ``observations [B, dim S]``, ``actions [B, dim A]`` -> ``[B]``."""

    def __init__(self, observation_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp(observation_dim + action_dim, 1, hidden)

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([observations, actions], dim=-1)).squeeze(-1)


class ValueNetwork(nn.Module):
    r"""V_ψ(s): ``observations [B, dim S]`` -> ``[B]`` (SAC v1's state-value network)."""

    def __init__(self, observation_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp(observation_dim, 1, hidden)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations).squeeze(-1)


class DiscreteQNetwork(nn.Module):
    r"""Q_θ(s, ·) for A discrete actions: ``observations [B, dim S]`` -> ``[B, A]``."""

    def __init__(self, observation_dim: int, num_actions: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp(observation_dim, num_actions, hidden)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


def tanh_log_abs_det_jacobian(u: torch.Tensor) -> torch.Tensor:
    r"""log |d tanh(u)/du| = log(1 - tanh²(u)) = 2 (log 2 - |u| - softplus(-2|u|)), elementwise, exact.

    >>> tanh_log_abs_det_jacobian(torch.tensor([0.0, 30.0, -30.0], dtype=torch.float64))
    tensor([  0.0000, -58.6137, -58.6137], dtype=torch.float64)
    """
    magnitude = u.abs()
    return 2.0 * (math.log(2.0) - magnitude - F.softplus(-2.0 * magnitude))


def squashed_gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                               scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    r"""log π(a|s) of a = c + h ⊙ tanh(u), u ~ N(mean, exp(log_std)²), given the pre-squash u.

        log π(a|s) = Σ_j [ log N(u_j; μ_j, σ_j) - log(1 - tanh²(u_j)) - log h_j ]

    u, mean, log_std ``[..., dim A]``; scale h ``[dim A]`` (or a float) -> ``[...]``. The center c
    does not enter (a shift has unit Jacobian).

    >>> u = torch.zeros(1, 1, dtype=torch.float64)  # a = c: the density's peak is N(0; 0, 1) / h
    >>> squashed_gaussian_log_prob(u, u, u, scale=2.0).item() == -0.5 * math.log(2 * math.pi) - math.log(2)
    True
    """
    z = (u - mean) * torch.exp(-log_std)
    log_normal = -0.5 * z * z - log_std - LOG_SQRT_2PI
    log_scale = math.log(scale) if isinstance(scale, float) else torch.log(scale)
    return (log_normal - tanh_log_abs_det_jacobian(u) - log_scale).sum(-1)


class TanhGaussianPolicy(nn.Module):
    r"""π_φ(a|s): a = c + h ⊙ tanh(μ_φ(s) + σ_φ(s) ⊙ ε), ε ~ N(0, I), squashed into [low, high].

    ``forward(observations [B, dim S])`` returns ``(mean, log_std)``, each ``[B, dim A]``, with
    log σ clamped to [-20, 2]. :meth:`sample` is the reparameterization trick of the policy loss
    J_π(φ); :meth:`mean_action` is the deterministic action c + h ⊙ tanh(μ) used for evaluation.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> policy = TanhGaussianPolicy(3, torch.tensor([-2.0]), torch.tensor([2.0]), hidden=(8,))
        >>> action, log_prob = policy.sample(torch.zeros(5, 3))
        >>> action.shape, log_prob.shape, bool(action.abs().max() <= 2.0)
        (torch.Size([5, 1]), torch.Size([5]), True)
    """

    def __init__(self, observation_dim: int, action_low: torch.Tensor, action_high: torch.Tensor,
                 hidden: Sequence[int] = (256, 256)):
        super().__init__()
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        if low.dim() != 1 or low.shape != high.shape:
            raise ValueError(f"action_low and action_high must be 1-D of equal length [dim A], got "
                             f"{shape_str(low.shape)} and {shape_str(high.shape)}")
        check_finite(low, "action_low")
        check_finite(high, "action_high")
        if not (low < high).all():
            raise ValueError(f"action_low must lie below action_high in every dimension, got {low.tolist()} and "
                             f"{high.tolist()}")
        self.action_dim = low.numel()
        self.net = mlp(observation_dim, 2 * self.action_dim, hidden)
        self.register_buffer("action_center", (high + low) / 2)
        self.register_buffer("action_scale", (high - low) / 2)

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(observations).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, observations: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized action ``[B, dim A]`` (differentiable in φ) and its log π(a|s) ``[B]``."""
        mean, log_std = self(observations)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        u = mean + torch.exp(log_std) * noise
        action = self.action_center + self.action_scale * torch.tanh(u)
        return action, squashed_gaussian_log_prob(u, mean, log_std, self.action_scale)

    def mean_action(self, observations: torch.Tensor) -> torch.Tensor:
        """The deterministic action c + h ⊙ tanh(μ_φ(s)) ``[B, dim A]`` (evaluation episodes)."""
        mean, _ = self(observations)
        return self.action_center + self.action_scale * torch.tanh(mean)
