r"""Exploration testbeds (CS285 notes, "Exploration"): RiverSwim, bsuite's Deep Sea and a chain.

Each is a small :class:`~pgm_control.mdp.TabularMDP` with actions 0 ``left`` and 1 ``right``, where a
small reward sits near the start and a large one behind a run of unrewarded (or costly) "right" moves:
dithering strategies (ε-greedy, Boltzmann) need exponentially many episodes to find it, deep
exploration (posterior sampling, optimism) polynomially many.
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, check_positive_integer, check_real
from pgm_control.mdp import TabularMDP

LEFT, RIGHT = 0, 1
ACTIONS = ["left", "right"]


def _check_size(value, name: str, smallest: int) -> int:
    value = check_positive_integer(value, name)
    if value < smallest:
        raise ValueError(f"{name} must be an integer >= {smallest}, got {value}")
    return value


def _point_mass(num_states: int, state: int) -> torch.Tensor:
    initial = torch.zeros(num_states, dtype=DTYPE)
    initial[state] = 1.0
    return initial


def riverswim(num_states: int = 6) -> TabularMDP:
    r"""RiverSwim (Strehl & Littman 2008, "An analysis of model-based interval estimation for Markov
    decision processes"; the 6-state version of Osband, Russo & Van Roy 2013, "(More) efficient
    reinforcement learning via posterior sampling").

    States 0 (left bank) to n − 1 (right end, upstream); action 0 ``left`` swims with the current,
    action 1 ``right`` against it:

    * ``left``: s → max(s − 1, 0) with probability 1; r(0, left) = 0.005 (the small reward).
    * ``right`` in the interior 0 < s < n − 1: s + 1 w.p. 0.35, stay w.p. 0.6, s − 1 w.p. 0.05.
    * ``right`` at the left end: 1 w.p. 0.6, stay w.p. 0.4.
    * ``right`` at the right end: stay w.p. 0.6, n − 2 w.p. 0.4; r(n − 1, right) = 1 (the large reward).

    All other rewards are 0. Initial state: the left end, state 0 (Strehl & Littman start uniformly in
    states 1 and 2; use ``mdp.replace(initial=...)`` for that). Discount 1: solve it with a horizon.

    Example:
        >>> riverswim()
        TabularMDP(S=6, A=2, discount=1.0, terminal=0, dense)
    """
    n = _check_size(num_states, "num_states", 2)
    states = torch.arange(n)
    transitions = torch.zeros(n, 2, n, dtype=DTYPE)
    transitions[states, LEFT, (states - 1).clamp(min=0)] = 1.0
    interior = states[1:-1]
    transitions[interior, RIGHT, interior + 1] = 0.35
    transitions[interior, RIGHT, interior] = 0.6
    transitions[interior, RIGHT, interior - 1] = 0.05
    transitions[0, RIGHT, 1], transitions[0, RIGHT, 0] = 0.6, 0.4
    transitions[n - 1, RIGHT, n - 1], transitions[n - 1, RIGHT, n - 2] = 0.6, 0.4
    rewards = torch.zeros(n, 2, dtype=DTYPE)
    rewards[0, LEFT], rewards[n - 1, RIGHT] = 0.005, 1.0
    return TabularMDP(transitions, rewards, initial=_point_mass(n, 0), action_names=ACTIONS)


def deep_sea(size: int = 10, move_cost: float = 0.01) -> TabularMDP:
    r"""Deep Sea (Osband et al. 2020, "Behaviour Suite for Reinforcement Learning" (bsuite), ``deep_sea``).

    An N × N grid: the agent starts at the top-left cell (row 0, column 0); every step moves it one row
    down and one column ``left`` (action 0, clipped at column 0) or ``right`` (action 1, clipped at
    column N − 1). Each ``right`` costs ``move_cost`` / N; ``right`` in the bottom-right cell
    (row N − 1, column N − 1) pays the treasure, 1. After N steps the episode ends in the absorbing
    ``end`` state (a terminal state, so infinite-horizon solvers apply with discount 1).

    States: cell (row, column) is state row · N + column (all N² cells, reachable or not) and ``end`` is
    state N². Departure from bsuite: no action randomization — action 1 is ``right`` in every cell
    (bsuite draws a random per-cell action mapping; relabelling actions changes no value).

    The optimal return goes right N times: 1 − ``move_cost``; a uniformly random policy reaches the
    treasure cell with probability 2^{−(N−1)} and collects the treasure with probability 2^{−N}.

    Example:
        >>> deep_sea(4)
        TabularMDP(S=17, A=2, discount=1.0, terminal=1, dense)
    """
    n = _check_size(size, "size", 1)
    move_cost = check_real(move_cost, "move_cost", "a finite number >= 0")
    if not 0.0 <= move_cost < float("inf"):
        raise ValueError(f"move_cost must be a finite number >= 0, got {move_cost}")
    end = n * n
    row, column = torch.arange(end).div(n, rounding_mode="floor"), torch.arange(end) % n
    below = torch.where(row + 1 < n, (row + 1) * n, torch.full_like(row, end))
    on_last_row = row == n - 1
    transitions = torch.zeros(end + 1, 2, end + 1, dtype=DTYPE)
    cells = torch.arange(end)
    transitions[cells, LEFT, torch.where(on_last_row, end, below + (column - 1).clamp(min=0))] = 1.0
    transitions[cells, RIGHT, torch.where(on_last_row, end, below + (column + 1).clamp(max=n - 1))] = 1.0
    transitions[end, :, end] = 1.0
    rewards = torch.zeros(end + 1, 2, dtype=DTYPE)
    rewards[cells, RIGHT] = -move_cost / n
    rewards[end - 1, RIGHT] += 1.0
    names = [f"({r},{c})" for r in range(n) for c in range(n)] + ["end"]
    return TabularMDP(transitions, rewards, initial=_point_mass(end + 1, 0), terminal=[end],
                      state_names=names, action_names=ACTIONS)


def chain_mdp(n: int = 10, small_reward: float = 0.001, large_reward: float = 1.0) -> TabularMDP:
    r"""The deterministic chain of Osband et al. 2016 ("Deep exploration via bootstrapped DQN").

    States 0 to n − 1 in a line; ``left`` (action 0) moves to s − 1 and ``right`` (action 1) to s + 1,
    clipped at the ends. Acting in state 0 pays ``small_reward`` and acting in state n − 1 pays
    ``large_reward`` (whatever the action); every other reward is 0. The agent starts in state 1, so the
    small reward is one step away and the large one n − 2 steps away (the paper runs episodes of
    n + 9 steps: pass ``horizon=n + 9`` to the finite-horizon solvers). Discount 1.

    Example:
        >>> chain_mdp(5)
        TabularMDP(S=5, A=2, discount=1.0, terminal=0, dense)
    """
    n = _check_size(n, "n", 3)
    rewards = torch.zeros(n, dtype=DTYPE)
    rewards[0] = check_real(small_reward, "small_reward", "a number")
    rewards[n - 1] = check_real(large_reward, "large_reward", "a number")
    states = torch.arange(n)
    transitions = torch.zeros(n, 2, n, dtype=DTYPE)
    transitions[states, LEFT, (states - 1).clamp(min=0)] = 1.0
    transitions[states, RIGHT, (states + 1).clamp(max=n - 1)] = 1.0
    return TabularMDP(transitions, rewards, initial=_point_mass(n, 1), action_names=ACTIONS)
