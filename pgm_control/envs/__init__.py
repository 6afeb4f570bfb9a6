"""Environments: grid worlds from ASCII maps, the book's examples, small teaching MDPs, Gymnasium."""

from pgm_control.envs.grid import (
    ACTION_NAMES,
    GridLayout,
    GridWorld,
    cliff_walking,
    sutton_barto_gridworld,
    sutton_barto_small_gridworld,
)
from pgm_control.envs.gym import TabularEnv, from_gymnasium
from pgm_control.envs.small import lottery_mdp, random_mdp

__all__ = [
    "ACTION_NAMES",
    "GridLayout",
    "GridWorld",
    "TabularEnv",
    "cliff_walking",
    "from_gymnasium",
    "lottery_mdp",
    "random_mdp",
    "sutton_barto_gridworld",
    "sutton_barto_small_gridworld",
]
