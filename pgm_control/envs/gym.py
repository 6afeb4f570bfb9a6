"""Gymnasium interop: read a toy-text environment's model ``P``, wrap any TabularMDP as an Env, and
register ``pgm_control/DeepSea-v0`` (Deep Sea with one-hot vector observations, for the deep agents)."""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
import torch
from gymnasium.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv, TaxiEnv

from pgm_control._checks import DTYPE, check_horizon, check_integer
from pgm_control.envs.exploration import deep_sea
from pgm_control.envs.grid import GOAL, START, TRAP, GridLayout
from pgm_control.mdp import TabularMDP

# Gymnasium's action order and the (row, column) step of each action, per toy-text grid.
FROZEN_LAKE_ACTIONS = (("left", "down", "right", "up"), [[0, -1], [1, 0], [0, 1], [-1, 0]])
CLIFF_WALKING_ACTIONS = (("up", "right", "down", "left"), [[-1, 0], [0, 1], [1, 0], [0, -1]])
TAXI_ACTIONS = (("south", "north", "east", "west", "pickup", "dropoff"),
                [[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0], [0, 0]])
# Taxi's 5x5 grid, its four stands R, G, Y, B, and the passenger location 4 = in the taxi.
TAXI_SHAPE = (5, 5)
TAXI_STANDS = {"R": (0, 0), "G": (0, 4), "Y": (4, 0), "B": (4, 3)}
IN_TAXI = len(TAXI_STANDS)
PASSENGER = "P"  # the map character of the cell where the passenger waits, in a Taxi slice


def from_gymnasium(env, discount: float = 1.0) -> TabularMDP:
    r"""A :class:`TabularMDP` from a Gymnasium environment that exposes its model as ``env.unwrapped.P``.

    ``P[s][a]`` is a list of ``(probability, next_state, reward, terminated)`` (FrozenLake,
    CliffWalking, Taxi). Conversion: successor lists keep each outcome; r(s, a) = Σ prob · reward (the
    r(s, a, s') form reduced to r(s, a)); every state entered with ``terminated=True`` becomes an
    absorbing, zero-reward terminal state (its own outgoing ``P`` entries are ignored). The initial
    distribution is ``env.unwrapped.initial_state_distrib`` when present, else uniform.

    The toy-text grids get their :class:`~pgm_control.envs.GridLayout` (so that
    :func:`~pgm_control.viz.plot_grid_values` draws them, arrows in Gymnasium's action order) and
    their action names: FrozenLake (any map, e.g. 4x4, 8x8 or ``desc=``) with its holes as traps
    ``X`` and the goal ``G``; CliffWalking's 4x12 grid with the cliff ``C``, start ``S`` and goal
    ``G``. Taxi's 500 states are (taxi row, taxi column, passenger location, destination), not one
    grid: its layout draws the slice of 25 states with the passenger waiting at stand R and the
    destination G (see :func:`taxi_layout`; another slice with
    ``mdp.replace(layout=taxi_layout(passenger, destination))``). Other environments get none.

    Raises ``ValueError`` if a reachable non-terminal state enters a terminal state without
    ``terminated=True`` (the terminal set would be ambiguous). Unreachable states are not checked
    (Taxi has some, with the passenger already at the destination).
    """
    if not hasattr(env, "unwrapped"):
        raise TypeError(f"env must be a gymnasium.Env (e.g. gymnasium.make('FrozenLake-v1')), got "
                        f"{type(env).__name__}")
    model = getattr(env.unwrapped, "P", None)
    if not isinstance(model, dict):
        raise TypeError(
            f"from_gymnasium needs an environment exposing its model as env.unwrapped.P "
            f"(FrozenLake, CliffWalking, Taxi); {type(env.unwrapped).__name__} has none"
        )
    S, A = _check_model_keys(model)
    K = max(len(model[s][a]) for s in range(S) for a in range(A))
    next_states = np.zeros((S, A, K), dtype=np.int64)
    probs = np.zeros((S, A, K))
    rewards = np.zeros((S, A))
    ends = np.zeros((S, A, K), dtype=bool)
    for s in range(S):
        for a in range(A):
            outcomes = model[s][a]
            for k, outcome in enumerate(outcomes):
                p, s_next, r, done = _read_outcome(outcome, s, a, S)
                next_states[s, a, k], probs[s, a, k], ends[s, a, k] = s_next, p, done
                rewards[s, a] += p * r
            next_states[s, a, len(outcomes):] = s
    terminal = np.zeros(S, dtype=bool)
    terminal[next_states[ends & (probs > 0)]] = True
    initial = getattr(env.unwrapped, "initial_state_distrib", None)
    live = _reachable(next_states, probs, terminal, np.ones(S) if initial is None else np.asarray(initial))
    entering = live[:, None, None] & (probs > 0) & terminal[next_states] & ~ends
    if entering.any():
        s, a, k = np.argwhere(entering)[0]
        raise ValueError(
            f"state {next_states[s, a, k]} is entered with terminated=True elsewhere but without it "
            f"from state {s} under action {a}; cannot tell whether it is terminal"
        )
    action_names, layout = toy_text_layout(env.unwrapped, terminal)
    return TabularMDP(
        (torch.from_numpy(next_states), torch.from_numpy(probs)),
        torch.from_numpy(rewards),
        initial=None if initial is None else torch.as_tensor(np.asarray(initial), dtype=DTYPE),
        discount=discount,
        terminal=torch.from_numpy(terminal),
        action_names=action_names,
        layout=layout,
    )


def _check_model_keys(model: dict) -> tuple[int, int]:
    """S and A of ``P``: states 0..S-1, each with actions 0..A-1 (A >= 1), each a list of outcomes."""
    S = len(model)
    if S == 0 or set(model) != set(range(S)):
        raise ValueError(f"env.unwrapped.P must have the states 0..S-1 as keys, got {sorted(model)[:10]}")
    A = len(model[0]) if isinstance(model[0], dict) else 0
    for s in range(S):
        if not isinstance(model[s], dict) or set(model[s]) != set(range(A)) or A == 0:
            raise ValueError(f"env.unwrapped.P[{s}] must map the actions 0..A-1 (A = {A} >= 1, as in P[0]) to "
                             "lists of outcomes")
        if any(not isinstance(model[s][a], list | tuple) or not model[s][a] for a in range(A)):
            raise ValueError(f"env.unwrapped.P[{s}][a] must be a non-empty list of outcomes for every action a")
    return S, A


def _read_outcome(outcome, s: int, a: int, num_states: int) -> tuple:
    """One ``(probability, next_state, reward, terminated)`` of ``P[s][a]``, with next_state in 0..S-1."""
    if not isinstance(outcome, list | tuple) or len(outcome) != 4:
        raise ValueError(f"env.unwrapped.P[{s}][{a}] must hold (probability, next_state, reward, terminated) "
                         f"tuples, got {outcome!r}")
    p, s_next, r, done = outcome
    if not 0 <= int(s_next) < num_states:
        raise ValueError(f"env.unwrapped.P[{s}][{a}] leads to state {s_next}, outside 0..{num_states - 1}")
    return p, s_next, r, done


def toy_text_layout(env, terminal: np.ndarray) -> tuple[tuple[str, ...] | None, GridLayout | None]:
    """(action names, grid layout) of an unwrapped toy-text environment; (None, None) for others.

    States are cells in row-major order in FrozenLake and CliffWalking; ``terminal`` ``[S]`` marks
    the goal of CliffWalking (FrozenLake's map names its own holes and goal).
    """
    if isinstance(env, FrozenLakeEnv):
        kinds = np.vectorize({"S": START, "F": ".", "H": TRAP, "G": GOAL}.get)(env.desc.astype(str))
        return FROZEN_LAKE_ACTIONS[0], _full_grid_layout(kinds, FROZEN_LAKE_ACTIONS[1])
    if isinstance(env, CliffWalkingEnv):
        kinds = np.where(env._cliff, "C", ".")
        kinds.flat[env.start_state_index] = START
        kinds.flat[np.flatnonzero(terminal)] = GOAL
        return CLIFF_WALKING_ACTIONS[0], _full_grid_layout(kinds, CLIFF_WALKING_ACTIONS[1])
    if isinstance(env, TaxiEnv):
        return TAXI_ACTIONS[0], taxi_layout()
    return None, None


def _full_grid_layout(kinds: np.ndarray, moves) -> GridLayout:
    """The layout of a grid whose states are all its cells, in row-major order."""
    H, W = kinds.shape
    cells = torch.cartesian_prod(torch.arange(H), torch.arange(W))
    return GridLayout(shape=(H, W), cells=cells, kinds=kinds, moves=torch.tensor(moves))


def taxi_layout(passenger: int = 0, destination: int = 1) -> GridLayout:
    r"""A :class:`~pgm_control.envs.GridLayout` of Gymnasium's Taxi that draws one slice of its states.

    Taxi's state ((row · 5 + column) · 5 + passenger) · 4 + destination holds the taxi's cell on the
    5x5 grid, the passenger's location (0-3: waiting at stand R, G, Y or B; 4: in the taxi) and the
    destination stand (0-3). The layout places every state at the taxi's cell and draws the 25 states
    of one passenger location and destination (``shown``), with the destination marked ``G`` and a
    waiting passenger ``P``; the walls between cells are not drawn.

    Args:
        passenger: the passenger location 0..4 of the slice (default 0: waiting at R).
        destination: the destination stand 0..3 (default 1: G).

    Example:
        >>> layout = taxi_layout(passenger=4, destination=3)
        >>> int(layout.shown.sum()), layout.note
        (25, 'Taxi: passenger in the taxi, destination B (25 of 500 states)')
    """
    passenger = check_integer(passenger, "passenger", "an integer")
    destination = check_integer(destination, "destination", "an integer")
    stands = list(TAXI_STANDS)
    if not 0 <= passenger <= IN_TAXI:
        raise ValueError(f"passenger must be a location 0..{IN_TAXI} (stands {', '.join(stands)}, then "
                         f"{IN_TAXI} = in the taxi), got {passenger}")
    if not 0 <= destination < len(stands):
        raise ValueError(f"destination must be a stand 0..{len(stands) - 1} ({', '.join(stands)}), got {destination}")
    H, W = TAXI_SHAPE
    states = torch.arange(H * W * (IN_TAXI + 1) * len(stands))
    taxi_cell = states // ((IN_TAXI + 1) * len(stands))
    cells = torch.stack([taxi_cell // W, taxi_cell % W], dim=-1)
    shown = ((states // len(stands)) % (IN_TAXI + 1) == passenger) & (states % len(stands) == destination)
    kinds = np.full(TAXI_SHAPE, ".")
    if passenger < IN_TAXI:
        kinds[TAXI_STANDS[stands[passenger]]] = PASSENGER
    kinds[TAXI_STANDS[stands[destination]]] = GOAL
    where = "in the taxi" if passenger == IN_TAXI else f"waiting at {stands[passenger]}"
    note = f"Taxi: passenger {where}, destination {stands[destination]} ({int(shown.sum())} of {len(states)} states)"
    return GridLayout(shape=TAXI_SHAPE, cells=cells, kinds=kinds, moves=torch.tensor(TAXI_ACTIONS[1]), shown=shown,
                      note=note)


def _reachable(next_states, probs, terminal, initial) -> np.ndarray:
    """Non-terminal states reachable from the support of `initial` without passing a terminal state."""
    reached = (initial > 0) & ~terminal
    frontier = reached
    while frontier.any():
        successors = next_states[frontier][probs[frontier] > 0]
        new = np.zeros_like(reached)
        new[successors] = True
        frontier = new & ~reached & ~terminal
        reached |= frontier
    return reached


class TabularEnv(gymnasium.Env):
    """A ``gymnasium.Env`` that simulates a :class:`TabularMDP`.

    Observations and actions are ``Discrete(S)`` and ``Discrete(A)`` (with ``one_hot=True``, the
    observation is the one-hot float32 vector e_s in ``Box(0, 1, (S,))``, for agents that need vector
    observations, such as the deep agents of :mod:`pgm_control.rl`); the reward of a step is r(s, a);
    an episode terminates on entering a terminal state and is truncated after ``horizon`` steps (if
    given). ``info["action_mask"]`` is the ``np.int8`` mask ``[A]`` of the actions available in the new
    state (1 = available, as in Gymnasium's Taxi; all ones unless ``mdp.available_actions`` says
    otherwise); stepping an unavailable action raises ``ValueError``. Seed it through
    ``reset(seed=...)``.

    Example:
        >>> from pgm_control.envs import cliff_walking
        >>> env = TabularEnv(cliff_walking(), horizon=10)
        >>> observation, info = env.reset(seed=0)
        >>> observation
        36
        >>> env.step(0)[:4]   # north
        (24, -1.0, False, False)
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, mdp: TabularMDP, horizon: int | None = None, one_hot: bool = False):
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
        if not isinstance(one_hot, bool):
            raise TypeError(f"one_hot must be a bool, got {type(one_hot).__name__}")
        self.mdp = mdp
        self.horizon = check_horizon(horizon)
        self._eye = np.eye(mdp.num_states, dtype=np.float32) if one_hot else None
        self.observation_space = (gymnasium.spaces.Box(0.0, 1.0, (mdp.num_states,), dtype=np.float32) if one_hot
                                  else gymnasium.spaces.Discrete(mdp.num_states))
        self.action_space = gymnasium.spaces.Discrete(mdp.num_actions)
        # Renormalized: the constructor accepts sums off by 1e-6, NumPy's sampler only by ~1e-8.
        self._initial = _normalized(mdp.initial.detach().numpy())
        self._next_states = mdp.next_states.numpy()
        # Inverse-CDF sampling of the successor slot: one uniform draw and a search per step.
        self._cumulative = np.cumsum(_normalized(mdp.probs.numpy()), axis=-1)
        self._rewards = mdp.rewards.detach().numpy()
        self._terminal = mdp.terminal.numpy()
        self._action_mask = mdp.available_actions.numpy().astype(np.int8)
        self._state = None
        self._steps = 0

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(len(self._initial), p=self._initial))
        self._steps = 0
        return self._observation(), self._info()

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if isinstance(action, bool) or not (isinstance(action, int | np.integer) and 0 <= action < self.action_space.n):
            raise ValueError(f"action must be an integer in [0, {self.action_space.n}), got {action!r}")
        s, a = self._state, int(action)
        if not self._action_mask[s, a]:
            allowed = np.flatnonzero(self._action_mask[s]).tolist()
            raise ValueError(f"action {a} is not available in state {s}; available actions: {allowed} "
                             "(info['action_mask'])")
        cumulative = self._cumulative[s, a]
        k = min(int(cumulative.searchsorted(self.np_random.random(), side="right")), len(cumulative) - 1)
        self._state = int(self._next_states[s, a, k])
        self._steps += 1
        terminated = bool(self._terminal[self._state])
        truncated = self.horizon is not None and self._steps >= self.horizon
        return self._observation(), float(self._rewards[s, a]), terminated, truncated, self._info()

    def _observation(self):
        return self._state if self._eye is None else self._eye[self._state].copy()

    def _info(self) -> dict:
        return {"action_mask": self._action_mask[self._state].copy()}


def _normalized(probabilities: np.ndarray) -> np.ndarray:
    return probabilities / probabilities.sum(-1, keepdims=True)


DEEP_SEA_ID = "pgm_control/DeepSea-v0"


def deep_sea_env(size: int = 10, move_cost: float = 0.01) -> gymnasium.Env:
    r"""bsuite's Deep Sea as a Gymnasium environment with vector observations: the N × N grid of
    :func:`~pgm_control.envs.deep_sea` simulated by :class:`TabularEnv`, its state shown one-hot
    (``Box(0, 1, (N² + 1,))``: bsuite's N × N image of the agent's cell, flattened, plus one entry for
    the ``end`` state entered after N steps, where the episode terminates). Registered as
    ``gymnasium.make("pgm_control/DeepSea-v0", size=N)`` when :mod:`pgm_control.envs` is imported.

    A sparse-reward test of deep exploration: the treasure (1) waits behind N ``right`` moves, each
    costing ``move_cost``/N, so a dithering policy finds it with probability 2^{-N} per episode.

    Example:
        >>> env = deep_sea_env(3)
        >>> observation, _ = env.reset(seed=0)
        >>> observation.shape, int(observation.argmax())
        ((10,), 0)
        >>> returns = sum(env.step(1)[1] for _ in range(3))  # right, right, right: the treasure
        >>> round(returns, 6)
        0.99
    """
    return TabularEnv(deep_sea(size, move_cost), one_hot=True)


gymnasium.register(DEEP_SEA_ID, entry_point="pgm_control.envs.gym:deep_sea_env")
