r"""A grid world for inverse RL: every cell has one of K terrains and the reward is linear in them.

    f(s) = one-hot terrain of cell s ``[S, K]``,   r(s) = ψ*ᵀ f(s)

Open (no walls, no terminal states), N/S/E/W moves with optional slip, and a start spread uniformly over
all cells, so that demonstrations cover the grid. One-hot features sum to 1 in every state, so a
constant added to every ψ_k shifts all rewards equally: over a fixed horizon that changes no policy,
and ψ is identifiable only up to that shift (compare centred weights).
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_integer, check_seed, check_shape
from pgm_control.envs.grid import GridWorld
from pgm_control.mdp import TabularMDP


def terrain_gridworld(size: int = 8, num_terrains: int = 4, weights=None, slip: float = 0.0,
                      seed: int = 0) -> TabularMDP:
    """A ``size`` × ``size`` open grid with random terrains, features ``[S, A, K]`` and r(s) = ψ*ᵀ f(s).

    Args:
        size: the side of the grid (S = size²).
        num_terrains: K.
        weights: ψ* ``[K]`` (default: evenly spaced from -1 (terrain 0) to 0 (terrain K-1)).
        slip: probability of moving perpendicular to the intended direction.
        seed: seed of the terrain layout.

    Example:
        >>> mdp = terrain_gridworld(size=4, num_terrains=3)
        >>> mdp.num_states, tuple(mdp.features.shape)
        (16, (16, 4, 3))
    """
    size, num_terrains = check_integer(size, "size"), check_integer(num_terrains, "num_terrains")
    if size < 1 or num_terrains < 1:
        raise ValueError(f"size and num_terrains must be positive, got size={size}, num_terrains={num_terrains}")
    if weights is None:
        weights = torch.linspace(-1.0, 0.0, num_terrains, dtype=DTYPE) if num_terrains > 1 else torch.zeros(1)
    weights = as_float_tensor(weights, "weights")
    check_shape(weights, [num_terrains], "weights", "ψ* [K]")
    generator = torch.Generator().manual_seed(check_seed(seed))
    terrain = torch.randint(num_terrains, (size * size,), generator=generator)
    features = torch.nn.functional.one_hot(terrain, num_terrains).to(DTYPE)
    grid = GridWorld(["." * size] * size, slip=slip)
    return grid.replace(rewards=features @ weights, features=features, initial=None)
