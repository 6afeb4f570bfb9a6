"""Environments: grid worlds from ASCII maps, the book's examples, small teaching MDPs, Gymnasium."""

from pgm_control.envs.absorbing import FixedHorizon
from pgm_control.envs.berkeley import BERKELEY_GRIDS, BerkeleyGridWorld, berkeley_gridworld
from pgm_control.envs.exploration import chain_mdp, deep_sea, riverswim
from pgm_control.envs.grid import (
    ACTION_NAMES,
    GridLayout,
    GridWorld,
    cliff_walking,
    sutton_barto_gridworld,
    sutton_barto_small_gridworld,
)
from pgm_control.envs.gym import DEEP_SEA_ID, TabularEnv, deep_sea_env, from_gymnasium, taxi_layout
from pgm_control.envs.lqr import LinearGaussianSystem, double_integrator, scalar_system
from pgm_control.envs.small import lottery_mdp, random_mdp
from pgm_control.envs.terrain import terrain_gridworld

__all__ = [
    "ACTION_NAMES",
    "BERKELEY_GRIDS",
    "DEEP_SEA_ID",
    "BerkeleyGridWorld",
    "FixedHorizon",
    "GridLayout",
    "GridWorld",
    "LinearGaussianSystem",
    "TabularEnv",
    "berkeley_gridworld",
    "chain_mdp",
    "cliff_walking",
    "deep_sea",
    "deep_sea_env",
    "double_integrator",
    "from_gymnasium",
    "lottery_mdp",
    "random_mdp",
    "riverswim",
    "scalar_system",
    "sutton_barto_gridworld",
    "sutton_barto_small_gridworld",
    "taxi_layout",
    "terrain_gridworld",
]
