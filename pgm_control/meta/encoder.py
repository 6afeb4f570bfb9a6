r"""The posterior over a continuous task, amortized: q_φ(z | c) fitted by SVI (CS285 notes, "Meta-RL",
"Latent Model").

For the point robot (:class:`~pgm_control.meta.PointRobotFamily`) the task z is the goal angle,
z ~ Uniform(0, π). Positions follow from the actions (each episode starts at the origin), so a context c
is the actions ``[B, E, T, 2]`` and the rewards ``[B, E, T]`` of E episodes of T steps, and the model
(:func:`point_robot_model`) treats each reward as a noisy reading of −‖s' − g(z)‖:

    z ~ Uniform(0, π),   r_n ~ Normal(−‖s'_n − g(z)‖, σ_r).

The encoder maps each transition (s, a, r, s') to a Gaussian factor N(μ_n, σ_n²) over u = logit(z / π)
and multiplies them with a standard normal (PEARL's product of per-transition factors, Rakelly et al.
2019), so that q_φ(z | c) = π · sigmoid(u), u ~ N(μ, σ²) with 1/σ² = 1 + Σ_n 1/σ_n² and
μ = σ² Σ_n μ_n / σ_n². It is fitted by maximizing the ELBO E_q[log p(c, z) − log q_φ(z | c)] over
contexts of tasks drawn from the prior, the amortized form of the notes' objective.
"""

from __future__ import annotations

import itertools
import math

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam
from torch import nn

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_layer_widths,
    check_learning_rate,
    check_positive,
    check_positive_integer,
    check_seed,
    check_shape,
)
from pgm_control._progress import progress_bar
from pgm_control.meta.tasks import PointRobotFamily, check_family

TRANSITION_FEATURES = 7  # (s [2], a [2], r, s' [2])


def rollout(family: PointRobotFamily, actions: torch.Tensor) -> torch.Tensor:
    """Positions ``[..., T+1, 2]`` from the origin under ``actions`` ``[..., T, 2]`` (s' = s + clip(a))."""
    steps = actions.clamp(-family.max_step, family.max_step)
    return torch.cat([torch.zeros_like(steps[..., :1, :]), steps.cumsum(-2)], -2)


def point_robot_model(family: PointRobotFamily, actions: torch.Tensor, rewards: torch.Tensor | None = None,
                      reward_noise: float = 0.1) -> torch.Tensor:
    r"""z ~ Uniform(0, π) for each of B tasks, then r_t ~ Normal(−‖s'_t − g(z)‖, σ_r) for the E episodes
    of T steps of ``actions`` ``[B, E, T, 2]`` (observed ``rewards`` ``[B, E, T]``, sampled when None).
    Returns z ``[B]``."""
    with pyro.plate("tasks", actions.shape[0]):
        task = pyro.sample("task", family.prior)
        pyro.sample("rewards", dist.Normal(mean_rewards(family, task, actions), reward_noise).to_event(2),
                    obs=rewards)
    return task


def mean_rewards(family: PointRobotFamily, tasks: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """−‖s'_t − g(z)‖ ``[B, E, T]`` for angles ``[B]`` and actions ``[B, E, T, 2]``."""
    positions = rollout(family, actions)
    return -torch.linalg.vector_norm(positions[..., 1:, :] - family.goals(tasks)[:, None, None, :], dim=-1)


class TaskEncoder(nn.Module):
    r"""q_φ(z | c) for the point robot: per-transition Gaussian factors over u = logit(z / π), multiplied
    with N(0, 1) (module docstring). Float64."""

    def __init__(self, hidden=(64, 64)):
        super().__init__()
        widths = (TRANSITION_FEATURES, *check_layer_widths(hidden), 2)
        layers = [nn.Linear(a, b, dtype=DTYPE) for a, b in itertools.pairwise(widths)]
        self.net = nn.Sequential(*itertools.chain.from_iterable((layer, nn.ReLU()) for layer in layers[:-1]),
                                 layers[-1])

    def forward(self, family: PointRobotFamily, actions: torch.Tensor, rewards: torch.Tensor):
        """(μ ``[B]``, σ ``[B]``) of q_φ(u | c) for contexts ``actions`` ``[B, E, T, 2]``, ``rewards``
        ``[B, E, T]``: one factor per transition."""
        positions = rollout(family, actions)
        steps = actions.clamp(-family.max_step, family.max_step)
        features = torch.cat([positions[..., :-1, :], steps, rewards[..., None], positions[..., 1:, :]], -1)
        out = self.net(features.flatten(1, 2))  # [B, E·T, 2]
        precision_n = nn.functional.softplus(out[..., 1])
        precision = 1.0 + precision_n.sum(-1)
        mean = (precision_n * out[..., 0]).sum(-1) / precision
        return mean, precision.rsqrt()

    def posterior(self, family: PointRobotFamily, actions, rewards) -> dist.TransformedDistribution:
        """q_φ(z | c) as a distribution over the angle in (0, π), batch ``[B]``."""
        actions, rewards = _read_context(actions, rewards)
        mean, scale = self(family, actions, rewards)
        return dist.TransformedDistribution(dist.Normal(mean, scale), [
            dist.transforms.SigmoidTransform(), dist.transforms.AffineTransform(0.0, math.pi)])


def encoder_guide(encoder: TaskEncoder, family: PointRobotFamily, actions, rewards=None,
                  reward_noise: float = 0.1) -> torch.Tensor:
    """The amortized guide of :func:`point_robot_model`: z ~ q_φ(z | c), batch ``[B]``."""
    pyro.module("task_encoder", encoder)
    with pyro.plate("tasks", actions.shape[0]):
        return pyro.sample("task", encoder.posterior(family, actions, rewards))


def random_contexts(family: PointRobotFamily, num_tasks: int, num_episodes: int, reward_noise: float,
                    generator: torch.Generator | None = None):
    """B tasks z ~ p(z), each with E episodes of uniformly random actions in the Box and their noisy
    rewards: ``(tasks [B], actions [B, E, T, 2], rewards [B, E, T])``."""
    tasks = family.sample(num_tasks, generator)
    shape = (num_tasks, num_episodes, family.episode_length)
    actions = family.max_step * (2 * torch.rand(*shape, 2, dtype=DTYPE, generator=generator) - 1)
    noise = reward_noise * torch.randn(*shape, dtype=DTYPE, generator=generator)
    return tasks, actions, mean_rewards(family, tasks, actions) + noise


def fit_task_encoder(task_family: PointRobotFamily, *, num_episodes: int = 1, num_iterations: int = 500,
                     batch_size: int = 64, reward_noise: float = 0.1, lr: float = 3e-3, hidden=(64, 64),
                     seed: int = 0, progress: bool | None = None) -> tuple[TaskEncoder, list[float]]:
    r"""Fit q_φ(z | c) by SVI (Trace_ELBO) on fresh tasks and random contexts of ``num_episodes`` episodes
    at every iteration (module docstring). Returns the encoder and the loss (negative ELBO per task) of
    each iteration."""
    family = check_family(task_family)
    if not isinstance(family, PointRobotFamily):
        raise TypeError(f"task_family must be a PointRobotFamily (point_robot_tasks()), got {type(family).__name__}")
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    batch_size = check_positive_integer(batch_size, "batch_size")
    reward_noise = _check_noise(reward_noise)
    generator = torch.Generator().manual_seed(check_seed(seed))
    torch.manual_seed(seed)
    encoder = TaskEncoder(hidden)
    pyro.clear_param_store()
    svi = SVI(point_robot_model, lambda *args, **kw: encoder_guide(encoder, *args, **kw),
              Adam({"lr": check_learning_rate(lr)}), Trace_ELBO())
    losses = []
    work = num_iterations * batch_size * num_episodes * family.episode_length * 100
    with progress_bar(num_iterations, progress, work,
                      "task encoder") as bar:
        for _ in range(num_iterations):
            _, actions, rewards = random_contexts(family, batch_size, num_episodes, reward_noise, generator)
            losses.append(svi.step(family, actions, rewards, reward_noise) / batch_size)
            bar.update()
    return encoder, losses


def _read_context(actions, rewards) -> tuple[torch.Tensor, torch.Tensor]:
    actions, rewards = as_float_tensor(actions, "actions"), as_float_tensor(rewards, "rewards")
    check_shape(actions, [None, None, None, 2], "actions", "[B, E, T, 2]")
    check_shape(rewards, list(actions.shape[:3]), "rewards", "[B, E, T] like actions")
    return actions, rewards


def _check_noise(reward_noise) -> float:
    return check_positive(reward_noise, "reward_noise", " (a standard deviation)")
