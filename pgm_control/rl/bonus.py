r"""Exploration bonuses for the deep agents (CS285 notes, "Exploration": "Count-Based Exploration" and
"Heuristic Estimation").

The notes' count-based recipe adds a bonus that shrinks as a state is visited,

    r⁺(s, a) = r(s, a) + B(N(s)),          B decreasing in N(s),

and, where counts of continuous states cannot be kept, estimates novelty by an error ("Heuristic
Estimation"): fit f̂_θ to a target function f* on the visited data D and use the error

    E(s) = ‖f̂_θ(s) − f*(s)‖²

as the bonus. With f*(s) = f_φ(s), a network whose random parameters φ are drawn once and never
trained, this is random network distillation (RND; Burda, Edwards, Storkey & Klimov 2019, "Exploration
by random network distillation"): E(s) is small where D is dense (f̂_θ has been fitted there) and large
on novel states.

:class:`RandomNetworkDistillation` holds f_φ, f̂_θ and the two running normalizations of Burda et al.
(their Section 2.4): observations are whitened, x = clip((s − μ_s)/σ_s, −5, 5), before either network
sees them, and the bonus is divided by a running standard deviation so that one ``bonus_scale`` β
suits any environment:

    b(s) = ‖f̂_θ(x) − f_φ(x)‖² / σ_E,       r⁺ = r + β b(s')

Departure from Burda et al.: they divide by the running standard deviation of the discounted
*intrinsic returns* of on-policy rollouts; an off-policy learner replays old transitions, so σ_E
here is the running standard deviation of E itself over the replayed batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgm_control._checks import check_finite, check_shape
from pgm_control.rl.networks import mlp

OBSERVATION_CLIP = 5.0  # Burda et al.'s clip of whitened observations
_VARIANCE_FLOOR = 1e-8  # a constant observation dimension (or E ≡ 0) is not divided by zero


class RunningMoments(nn.Module):
    r"""Running mean and variance of a stream of batches ``[B, *shape]`` (Chan et al.'s parallel
    update), held as buffers so that checkpoints carry them.

    With n samples of mean μ and variance v so far and a batch of m samples (mean μ_B, variance v_B):

        n' = n + m,   μ' = μ + (μ_B − μ) m/n',   v' = (n v + m v_B + (μ_B − μ)² n m/n') / n'

    Example:
        >>> moments = RunningMoments(())
        >>> moments.update(torch.tensor([1.0, 2.0])); moments.update(torch.tensor([3.0, 4.0, 5.0]))
        >>> moments.mean.item(), moments.var.item()   # those of 1, 2, 3, 4, 5
        (3.0, 2.0)
    """

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def update(self, batch: torch.Tensor) -> None:
        batch = batch.detach().to(torch.float64)
        m = batch.shape[0]
        batch_mean, batch_var = batch.mean(0), batch.var(0, unbiased=False)
        total = self.count + m
        delta = batch_mean - self.mean
        self.var.copy_((self.count * self.var + m * batch_var + delta**2 * self.count * m / total) / total)
        self.mean.add_(delta * m / total)
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        return self.var.clamp(min=_VARIANCE_FLOOR).sqrt()


class RandomNetworkDistillation(nn.Module):
    r"""The RND novelty bonus b(s) = ‖f̂_θ(x) − f_φ(x)‖² / σ_E (CS285 notes, "Heuristic Estimation"
    with a random target f_φ; Burda et al. 2019).

    Args:
        observation_dim: dim S.
        hidden: hidden-layer widths of both networks (ReLU).
        embedding_dim: the output size of f_φ and f̂_θ.

    The target f_φ is drawn at construction (from torch's global generator: build it under a seed)
    and never trained; :meth:`loss` is the predictor's regression loss E_s[‖f̂_θ(x) − f_φ(x)‖²] on
    visited observations, to be minimized in θ. :meth:`bonus` ``[B, dim S] -> [B]`` is the
    normalized error; :meth:`observe` updates the running moments of the observations (before the
    bonus and the loss of a batch are computed) and :meth:`bonus` those of E.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> rnd = RandomNetworkDistillation(3, hidden=(16,), embedding_dim=4)
        >>> states = torch.randn(64, 3)
        >>> rnd.observe(states)
        >>> rnd.bonus(states).shape, rnd.loss(states).shape
        (torch.Size([64]), torch.Size([]))
    """

    def __init__(self, observation_dim: int, hidden: Sequence[int] = (64, 64), embedding_dim: int = 32):
        super().__init__()
        self.target = mlp(observation_dim, embedding_dim, hidden).requires_grad_(False)
        self.predictor = mlp(observation_dim, embedding_dim, hidden)
        self.observation_moments = RunningMoments((observation_dim,))
        self.error_moments = RunningMoments(())
        self.observation_dim = observation_dim

    def _check_batch(self, observations: torch.Tensor) -> None:
        """A finite batch of observations ``[B, dim S]`` (one min/max pass: a NaN would poison the running
        moments for good)."""
        check_shape(observations, [None, self.observation_dim], "observations", "[B, dim S]")
        check_finite(observations, "observations")

    def whiten(self, observations: torch.Tensor) -> torch.Tensor:
        """x = clip((s − μ_s)/σ_s, −5, 5), ``[B, dim S]`` (float32)."""
        self._check_batch(observations)
        moments = self.observation_moments
        whitened = (observations - moments.mean) / moments.std
        return whitened.clamp(-OBSERVATION_CLIP, OBSERVATION_CLIP).to(torch.float32)

    def error(self, observations: torch.Tensor) -> torch.Tensor:
        """E(s) = ‖f̂_θ(x) − f_φ(x)‖², ``[B, dim S] -> [B]`` (differentiable in θ)."""
        x = self.whiten(observations)
        return ((self.predictor(x) - self.target(x)) ** 2).sum(-1)

    def observe(self, observations: torch.Tensor) -> None:
        """Add a batch of visited observations ``[B, dim S]`` to the running moments of s."""
        self._check_batch(observations)
        self.observation_moments.update(observations)

    def bonus(self, observations: torch.Tensor) -> torch.Tensor:
        """b(s) = E(s)/σ_E ``[B]`` (no gradient), after adding the batch's E to the running moments."""
        with torch.no_grad():
            error = self.error(observations)
            self.error_moments.update(error)
            return error / self.error_moments.std.to(error.dtype)

    def loss(self, observations: torch.Tensor) -> torch.Tensor:
        """The predictor's loss E_s[‖f̂_θ(x) − f_φ(x)‖²] over a batch (a scalar)."""
        return self.error(observations).mean()


def make_bonus(kind: str | None, observation_dim: int) -> RandomNetworkDistillation | None:
    """The bonus model a (validated) config's ``exploration_bonus`` names; ``None``: no bonus."""
    return None if kind is None else BONUSES[kind](observation_dim)


BONUSES = {"rnd": RandomNetworkDistillation}  # the values of a config's exploration_bonus
EXPLORATION_BONUSES = tuple(BONUSES)
