r"""Grading helpers for the homework: compare a student's function with the library's exact solvers.

Every check builds a randomized instance from a seed (the notebooks' visible tests use one seed, the
autograder's hidden tests others), calls the student's function, and raises ``AssertionError`` with a
message that names the first wrong number, e.g.::

    V at state (2, 3): got 21.9, expected 22.4 ± 1e-06

A function that is still a stub (raises ``NotImplementedError`` or returns None) fails with a message
saying so. The checks return None, so a passing test cell prints nothing.
"""

from __future__ import annotations

import itertools

import torch

from pgm_control._checks import DTYPE
from pgm_control.envs import random_mdp, sutton_barto_gridworld
from pgm_control.mdp import TabularMDP

TOLERANCE = 1e-6


def compare(name: str, got, expected: torch.Tensor, label=None, tol: float = TOLERANCE) -> None:
    """Raise ``AssertionError`` naming the entry of ``got`` farthest from ``expected`` (beyond ``tol``).

    ``label(index)`` turns an index tuple into words ("state (2, 3)"); by default the index itself.
    """
    shape = list(expected.shape)
    if got is None:
        raise AssertionError(f"{name}: got None (does the function return its result?), "
                             f"expected a tensor of shape {shape}")
    try:
        got = torch.as_tensor(got, dtype=DTYPE).detach()
    except (TypeError, ValueError, RuntimeError) as error:
        raise AssertionError(f"{name}: got {type(got).__name__}, expected a tensor of shape {shape} "
                             f"({error})") from None
    if list(got.shape) != shape:
        raise AssertionError(f"{name}: got shape {list(got.shape)}, expected {shape}")
    error = (got - expected).abs().nan_to_num(nan=torch.inf)
    if not bool((error > tol).any()):
        return
    index = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
    where = (label or _index_label)(index)
    raise AssertionError(f"{name}{' at ' + where if where else ''}: got {float(got[index]):.6g}, "
                         f"expected {float(expected[index]):.6g} ± {tol:g}")


def _index_label(index: tuple[int, ...]) -> str:
    return "" if not index else f"index {index[0] if len(index) == 1 else index}"


def _labeller(mdp: TabularMDP, names: str):
    """Index -> words: ``names`` spells the axes ("s", "sa", "ts", "tsa"); grid states as (row, column)."""
    layout = mdp.layout

    def state(s: int) -> str:
        if layout is None:
            return f"state {s}"
        row, column = (int(x) for x in layout.cells[s])
        return f"state ({row}, {column})"

    def label(index: tuple[int, ...]) -> str:
        parts = []
        for axis, i in zip(names, index):
            parts.append({"t": f"t = {i + 1}", "s": state(i), "a": f"action {i}",
                          "p": f"next state {i}"}[axis])
        return ", ".join(parts)

    return label


def call(function, *args):
    """Call the student's ``function``; a stub's ``NotImplementedError`` becomes a clear failure."""
    try:
        return function(*args)
    except NotImplementedError:
        raise AssertionError(f"{getattr(function, '__name__', 'the function')} is not implemented yet "
                             "(it raises NotImplementedError)") from None


# ---- instances -------------------------------------------------------------------------------

def random_instance(seed: int, discount: float = 0.9) -> tuple[TabularMDP, torch.Tensor]:
    """A small random MDP (3-6 states, 2-3 actions, dense transitions) and a random policy ``[S, A]``."""
    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(3, 7, (), generator=generator))
    A = int(torch.randint(2, 4, (), generator=generator))
    mdp = random_mdp(S, A, seed=seed, discount=discount)
    weights = -torch.rand(S, A, generator=generator, dtype=DTYPE).log()
    return mdp, weights / weights.sum(-1, keepdim=True)


def book_instance() -> tuple[TabularMDP, torch.Tensor]:
    """Sutton & Barto's grid world (Example 3.5) and the equiprobable random policy of Figure 3.2."""
    world = sutton_barto_gridworld()
    return world, torch.full((world.num_states, world.num_actions), 1.0 / world.num_actions, dtype=DTYPE)


def instance(seed: int | str, discount: float = 0.9) -> tuple[TabularMDP, torch.Tensor]:
    """``"book"``: the book's grid world; an integer: :func:`random_instance`."""
    return book_instance() if seed == "book" else random_instance(seed, discount)


# ---- brute force -----------------------------------------------------------------------------

def enumerate_trajectories(mdp: TabularMDP, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Every trajectory (s_1, a_1, ..., s_T, a_T) and its log p(τ, O_{1:T}) under a uniform action prior.

        log p(τ, O_{1:T}) = log p(s_1) + Σ_t [log p(a_t|s_t) + r(s_t, a_t)] + Σ_{t<T} log p(s_{t+1}|s_t, a_t)

    Returns ``(states [N, T], log_joint [N])`` with N = (S A)^T: for tiny MDPs only.
    """
    S, A = mdp.num_states, mdp.num_actions
    pairs = torch.tensor(list(itertools.product(range(S), range(A), repeat=horizon))).reshape(-1, horizon, 2)
    states, actions = pairs[..., 0], pairs[..., 1]
    log_joint = torch.log(mdp.initial)[states[:, 0]] - horizon * torch.log(torch.tensor(float(A), dtype=DTYPE))
    log_joint = log_joint + mdp.rewards[states, actions].sum(-1)
    log_p = torch.log(mdp.transitions)
    log_joint = log_joint + log_p[states[:, :-1], actions[:, :-1], states[:, 1:]].sum(-1)
    return states, log_joint


def brute_force_marginals(mdp: TabularMDP, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log p(O_{1:T}), p(s_t | O_{1:T}) [T, S])`` by summing over every trajectory."""
    states, log_joint = enumerate_trajectories(mdp, horizon)
    log_evidence = torch.logsumexp(log_joint, 0)
    weights = torch.exp(log_joint - log_evidence)
    marginals = torch.zeros(horizon, mdp.num_states, dtype=DTYPE)
    for t in range(horizon):
        marginals[t].index_add_(0, states[:, t], weights)
    return log_evidence, marginals


def tiny_instance(seed: int) -> tuple[TabularMDP, int]:
    """A random MDP small enough to enumerate (2-3 states, 2 actions, horizon 2-4), γ = 1."""
    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(2, 4, (), generator=generator))
    horizon = int(torch.randint(2, 5, (), generator=generator))
    return random_mdp(S, 2, seed=seed), horizon


def _pair(result, what: str):
    """Unpack a two-tensor result, or fail naming what was expected."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(f"expected a pair {what}, got {type(result).__name__}")
    return result


# ---- Assignment 01: Bellman equations --------------------------------------------------------

def check_bellman_system(bellman_system, seed) -> None:
    """``bellman_system(mdp, policy) -> (P_π [S, S], r_π [S])`` of the Bellman equation V = r_π + γ P_π V."""
    mdp, policy = instance(seed)
    p_pi, r_pi = _pair(call(bellman_system, mdp, policy), "(P_π, r_π)")
    compare("r_π", r_pi, (policy * mdp.rewards).sum(-1), _labeller(mdp, "s"))
    compare("P_π", p_pi, torch.einsum("sa,sap->sp", policy, mdp.transitions), _labeller(mdp, "sp"))


def check_evaluate_policy(evaluate_policy, seed) -> None:
    """``evaluate_policy(mdp, policy) -> V_π [S]``, against the library's exact linear solve."""
    from pgm_control.inference import policy_evaluation

    mdp, policy = instance(seed)
    compare("V", call(evaluate_policy, mdp, policy), policy_evaluation(mdp, policy).v, _labeller(mdp, "s"))


def check_q_backup(q_backup, seed) -> None:
    """``q_backup(mdp, v) -> Q [S, A]`` with Q(s, a) = r(s, a) + γ Σ_{s'} p(s'|s,a) V(s'), at a random V."""
    mdp, _ = instance(seed)
    generator = torch.Generator().manual_seed(0 if seed == "book" else int(seed) + 1)
    v = 10 * torch.randn(mdp.num_states, generator=generator, dtype=DTYPE)
    expected = mdp.rewards + mdp.discount * torch.einsum("sap,p->sa", mdp.transitions, v)
    compare("Q", call(q_backup, mdp, v), expected, _labeller(mdp, "sa"))


def check_value_iteration(value_iteration, seed) -> None:
    """``value_iteration(mdp) -> V_* [S]``, against the library's value iteration (to 1e-6)."""
    from pgm_control.inference import value_iteration as exact_value_iteration

    mdp, _ = instance(seed)
    compare("V_*", call(value_iteration, mdp), exact_value_iteration(mdp).v, _labeller(mdp, "s"))


# ---- Assignment 02: the MDP as a graphical model ---------------------------------------------

def check_backward_messages(backward_messages, seed) -> None:
    """``backward_messages(mdp, T) -> (log β_t(s, a) [T, S, A], log β_t(s) [T, S])``, uniform p(a|s)."""
    from pgm_control.inference import backward_messages as exact

    mdp, horizon = tiny_instance(seed)
    log_beta_sa, log_beta_s = _pair(call(backward_messages, mdp, horizon), "(log β_t(s, a), log β_t(s))")
    truth = exact(mdp, horizon)
    compare("log β_t(s, a)", log_beta_sa, truth.log_beta_sa, _labeller(mdp, "tsa"))
    compare("log β_t(s)", log_beta_s, truth.log_beta_s, _labeller(mdp, "ts"))


def check_forward_messages(forward_messages, seed) -> None:
    """``forward_messages(mdp, T) -> (log α_t(s) [T, S], log p(O_t | O_{1:t-1}) [T])``."""
    from pgm_control.inference import forward_messages as exact

    mdp, horizon = tiny_instance(seed)
    log_alpha, log_normalizers = _pair(call(forward_messages, mdp, horizon),
                                       "(log α_t(s), log p(O_t | O_{1:t-1}))")
    truth = exact(mdp, horizon)
    compare("log α_t(s)", log_alpha, truth.log_alpha, _labeller(mdp, "ts"))
    compare("log p(O_t | O_{1:t-1})", log_normalizers, truth.log_normalizers, _labeller(mdp, "t"))


def check_state_marginals(state_marginals, seed) -> None:
    """``state_marginals(mdp, T) -> p(s_t | O_{1:T}) [T, S]``, against enumeration of every trajectory."""
    mdp, horizon = tiny_instance(seed)
    _, marginals = brute_force_marginals(mdp, horizon)
    compare("p(s_t | O_1:T)", call(state_marginals, mdp, horizon), marginals, _labeller(mdp, "ts"))


def check_log_evidence(log_evidence, seed) -> None:
    """``log_evidence(mdp, T) -> log p(O_{1:T})`` (a number), against enumeration of every trajectory."""
    mdp, horizon = tiny_instance(seed)
    truth, _ = brute_force_marginals(mdp, horizon)
    compare("log p(O_1:T)", call(log_evidence, mdp, horizon), truth)
