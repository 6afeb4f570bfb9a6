"""Small MDPs for teaching and testing: the lottery (optimism) and random MDPs."""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, check_seed
from pgm_control.mdp import TabularMDP


def lottery_mdp(win_prob: float = 0.1, safe_reward: float = -1.0, jackpot_reward: float = 0.0,
                bust_reward: float = -3.0) -> TabularMDP:
    r"""The optimism example (Lecture 20, "The problem of optimism in stochastic dynamics").

    States: 0 ``start``, 1 ``safe``, 2 ``jackpot``, 3 ``bust``; actions: 0 ``safe``, 1 ``gamble``. From
    ``start`` (reward 0), ``safe`` leads to the safe state; ``gamble`` reaches the jackpot with
    probability ``win_prob`` and goes bust otherwise. The last three states are absorbing and pay their
    reward at every later step. All rewards are <= 0, so p(O_t|s_t, a_t) = exp(r) is a probability.

    With the defaults and horizon 5, gambling has the lower expected return (0.9 · 4 · (-3) = -10.8
    against -4), so the variational ("expected") policy plays safe, while the exact posterior
    ("optimistic") backup sees log(0.1 e^0 + 0.9 e^{-12}) ≈ -2.3 > -4 and gambles: conditioning on
    optimality makes the lucky transition look likely.
    """
    if not 0.0 < win_prob < 1.0:
        raise ValueError(f"win_prob must lie strictly between 0 and 1, got {win_prob}")
    transitions = torch.zeros(4, 2, 4, dtype=DTYPE)
    transitions[0, 0, 1] = 1.0
    transitions[0, 1, 2] = win_prob
    transitions[0, 1, 3] = 1.0 - win_prob
    for state in (1, 2, 3):
        transitions[state, :, state] = 1.0
    rewards = torch.tensor([0.0, safe_reward, jackpot_reward, bust_reward], dtype=DTYPE)
    return TabularMDP(
        transitions,
        rewards,
        initial=torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=DTYPE),
        state_names=["start", "safe", "jackpot", "bust"],
        action_names=["safe", "gamble"],
    )


def random_mdp(num_states: int, num_actions: int, branching: int | None = None, seed: int = 0, *,
               discount: float = 1.0, reward_scale: float = 1.0) -> TabularMDP:
    r"""A random MDP: rewards r(s, a) ~ N(0, reward_scale²), uniform initial distribution.

    With ``branching=K`` each (s, a) has K successors drawn uniformly (with replacement) and
    probabilities from a flat Dirichlet, stored as successor lists ``[S, A, K]``; with ``branching=None``
    p(·|s, a) is a flat Dirichlet over all S states, stored dense ``[S, A, S]``.

    Example:
        >>> random_mdp(1000, 4, branching=10, seed=0)
        TabularMDP(S=1000, A=4, discount=1.0, terminal=0, successor lists (K=10))
    """
    for name, value in (("num_states", num_states), ("num_actions", num_actions)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if branching is not None and (not isinstance(branching, int) or branching < 1):
        raise ValueError(f"branching must be a positive integer or None, got {branching!r}")
    generator = torch.Generator().manual_seed(check_seed(seed))
    width = num_states if branching is None else branching
    weights = -torch.rand(num_states, num_actions, width, generator=generator, dtype=DTYPE).log()
    probs = weights / weights.sum(-1, keepdim=True)
    rewards = reward_scale * torch.randn(num_states, num_actions, generator=generator, dtype=DTYPE)
    if branching is None:
        return TabularMDP(probs, rewards, discount=discount)
    next_states = torch.randint(num_states, (num_states, num_actions, branching), generator=generator)
    return TabularMDP((next_states, probs), rewards, discount=discount)
