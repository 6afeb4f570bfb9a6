"""TabularMDP: the conventions layer (reward forms, terminal states), its two storages (dense and
successor lists), the three transition operators, differentiability, and validation at the boundary.

Independent truth: hand-computed tables on a 3-state MDP, and plain Python/numpy implementations of
the operators (``loop_*`` below) that never call the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgm_control import TabularMDP
from pgm_control.envs import random_mdp
from pgm_control.inference import (
    backward_messages,
    forward_messages,
    log_evidence,
    policy_evaluation,
    posterior_dynamics,
    soft_value_iteration,
    state_marginals,
    value_iteration,
)

F64 = torch.float64
EXACT = {"rtol": 0.0, "atol": 1e-12}

# A 3-state, 2-action MDP, written once densely and once as successor lists with a duplicated next
# state and zero-probability padding (K = 3). Both spell the same p(s'|s, a):
#   (0, 0): 0 w.p. 1/2, 1 w.p. 1/2      (0, 1): 2
#   (1, 0): 1                           (1, 1): 0 w.p. 1/4, 2 w.p. 3/4
#   (2, 0): 2                           (2, 1): 0
P_TINY = [
    [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]],
    [[0.0, 1.0, 0.0], [0.25, 0.0, 0.75]],
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
]
NEXT_TINY = [
    [[0, 1, 0], [2, 1, 0]],
    [[1, 1, 1], [2, 0, 2]],
    [[2, 0, 1], [0, 2, 2]],
]
PROBS_TINY = [
    [[0.25, 0.5, 0.25], [1.0, 0.0, 0.0]],
    [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]],
    [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
]
ZERO_REWARDS = [[0.0, 0.0]] * 3


def tiny(storage: str, rewards=ZERO_REWARDS, **kwargs) -> TabularMDP:
    transitions = P_TINY if storage == "dense" else (NEXT_TINY, PROBS_TINY)
    return TabularMDP(transitions, rewards, **kwargs)


STORAGES = ["dense", "successors"]


# ---------------------------------------------------------------- independent loop implementations
def loop_dense(next_states, probs, num_states: int) -> np.ndarray:
    next_states, probs = np.asarray(next_states), np.asarray(probs, dtype=float)
    S, A, K = next_states.shape
    dense = np.zeros((S, A, num_states))
    s, a, _ = np.indices((S, A, K))
    np.add.at(dense, (s, a, next_states), probs)  # unbuffered: repeated next states accumulate
    return dense


def loop_expected_next(P, values) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    S, A, _ = P.shape
    out = np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            out[s, a] = sum(P[s, a, j] * values[j] for j in range(S))
    return out


def _log_sum_exp(terms: list[float]) -> float:
    if not terms:
        return -math.inf
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def loop_log_expected_exp_next(P, values) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    S, A, _ = P.shape
    out = np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            out[s, a] = _log_sum_exp([math.log(P[s, a, j]) + values[j] for j in range(S) if P[s, a, j] > 0])
    return out


def loop_log_push_forward(P, log_weights) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    S, A, _ = P.shape
    out = np.zeros(S)
    for j in range(S):
        out[j] = _log_sum_exp([
            log_weights[s][a] + math.log(P[s, a, j])
            for s in range(S) for a in range(A)
            if P[s, a, j] > 0 and log_weights[s][a] > -math.inf
        ])
    return out


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ---------------------------------------------------------------- storage and conversions
@pytest.mark.parametrize("storage", STORAGES)
def test_both_storages_spell_the_same_transitions(storage):
    mdp = tiny(storage)
    assert (mdp.num_states, mdp.num_actions) == (3, 2)
    assert mdp.is_dense == (storage == "dense")
    np.testing.assert_allclose(as_numpy(mdp.transitions), np.array(P_TINY), **EXACT)


def test_loop_dense_of_the_successor_lists_is_the_dense_table():
    # Guards the test's own fixture: the two spellings above really are the same p(s'|s, a).
    np.testing.assert_allclose(loop_dense(NEXT_TINY, PROBS_TINY, 3), np.array(P_TINY), **EXACT)


def test_transitions_given_as_nested_lists_are_dense_and_a_pair_is_successor_lists():
    assert TabularMDP(P_TINY, ZERO_REWARDS).is_dense
    assert not TabularMDP((NEXT_TINY, PROBS_TINY), ZERO_REWARDS).is_dense
    with pytest.raises(ValueError, match="tuple"):  # only a tuple is read as successor lists
        TabularMDP([NEXT_TINY, PROBS_TINY], ZERO_REWARDS)


def test_dense_to_successors_keeps_only_the_support():
    lists = tiny("dense").to_successors()
    assert not lists.is_dense
    assert lists.next_states.shape == (3, 2, 2)  # K = the largest support, 2
    assert lists.next_states.dtype == torch.long
    for s in range(3):
        for a in range(2):
            support = {int(j) for j, p in zip(lists.next_states[s, a], lists.probs[s, a]) if p > 0}
            assert support == {j for j in range(3) if P_TINY[s][a][j] > 0}
    np.testing.assert_allclose(as_numpy(lists.transitions), np.array(P_TINY), **EXACT)


def test_successor_lists_with_duplicates_and_padding_to_dense():
    dense = tiny("successors").to_dense()
    assert dense.is_dense
    np.testing.assert_allclose(as_numpy(dense.transitions), np.array(P_TINY), **EXACT)


def test_conversions_return_self_when_already_in_that_storage():
    dense, lists = tiny("dense"), tiny("successors")
    assert dense.to_dense() is dense
    assert lists.to_successors() is lists


@pytest.mark.parametrize("branching", [None, 2, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_round_trips_preserve_everything(branching, seed):
    mdp = random_mdp(6, 3, branching=branching, seed=seed, discount=0.7)
    if branching is not None:
        expected = loop_dense(mdp.next_states, mdp.probs, 6)
    else:
        expected = as_numpy(mdp.transitions)
    there = mdp.to_successors() if mdp.is_dense else mdp.to_dense()
    back = there.to_dense() if mdp.is_dense else there.to_successors()
    for other in (there, back):
        np.testing.assert_allclose(as_numpy(other.transitions), expected, **EXACT)
        np.testing.assert_allclose(as_numpy(other.rewards), as_numpy(mdp.rewards), **EXACT)
        np.testing.assert_allclose(as_numpy(other.initial), as_numpy(mdp.initial), **EXACT)
        assert other.discount == 0.7


@st.composite
def successor_lists(draw):
    """Random successor lists with repeated next states and zero-probability padding."""
    S, A, K = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    next_states = draw(st.lists(st.integers(0, S - 1), min_size=S * A * K, max_size=S * A * K))
    weights = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=S * A * K, max_size=S * A * K))
    weights = np.array(weights).reshape(S, A, K)
    weights[..., 0] += 0.25  # every (s, a) keeps some mass
    probs = weights / weights.sum(-1, keepdims=True)
    return np.array(next_states).reshape(S, A, K), probs


@settings(max_examples=40, deadline=None)
@given(successor_lists(), st.integers(0, 2**31 - 1))
def test_storages_agree_on_arbitrary_successor_lists(lists, seed):
    next_states, probs = lists
    S = next_states.shape[0]
    P = loop_dense(next_states, probs, S)
    sparse = TabularMDP((torch.from_numpy(next_states), torch.from_numpy(probs)), np.zeros(next_states.shape[:2]))
    full = sparse.to_dense()
    again = full.to_successors()
    rng = np.random.default_rng(seed)
    values, log_w = rng.normal(size=S) * 5, rng.normal(size=next_states.shape[:2]) * 5
    for mdp in (sparse, full, again):
        np.testing.assert_allclose(as_numpy(mdp.transitions), P, rtol=0, atol=1e-15)
        np.testing.assert_allclose(as_numpy(mdp.expected_next(torch.from_numpy(values))),
                                   loop_expected_next(P, values), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(as_numpy(mdp.log_expected_exp_next(torch.from_numpy(values))),
                                   loop_log_expected_exp_next(P, values), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(as_numpy(mdp.log_push_forward(torch.from_numpy(log_w))),
                                   loop_log_push_forward(P, log_w.tolist()), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the three operators
VALUES = [1.0, -2.0, 3.5]


@pytest.mark.parametrize("storage", STORAGES)
def test_expected_next_hand_table(storage):
    # (0,0): (1 - 2)/2; (0,1): v(2); (1,0): v(1); (1,1): 1/4 + 3/4 · 3.5; (2,0): v(2); (2,1): v(0)
    expected = [[-0.5, 3.5], [-2.0, 2.875], [3.5, 1.0]]
    out = tiny(storage).expected_next(torch.tensor(VALUES, dtype=F64))
    assert out.shape == (3, 2) and out.dtype == F64
    np.testing.assert_allclose(as_numpy(out), expected, **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_log_expected_exp_next_hand_table(storage):
    e = math.exp
    expected = [
        [math.log(0.5 * e(1.0) + 0.5 * e(-2.0)), 3.5],
        [-2.0, math.log(0.25 * e(1.0) + 0.75 * e(3.5))],
        [3.5, 1.0],
    ]
    out = tiny(storage).log_expected_exp_next(torch.tensor(VALUES, dtype=F64))
    assert out.shape == (3, 2)
    np.testing.assert_allclose(as_numpy(out), expected, **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_log_push_forward_hand_table(storage):
    # Unit weights on every (s, a): mass arriving in s' is the column sum Σ_{s,a} p(s'|s,a).
    # s'=0: 1/2 + 1/4 + 1 = 1.75; s'=1: 1/2 + 1 = 1.5; s'=2: 1 + 3/4 + 1 = 2.75.
    out = tiny(storage).log_push_forward(torch.zeros(3, 2, dtype=F64))
    assert out.shape == (3,)
    np.testing.assert_allclose(as_numpy(out), np.log([1.75, 1.5, 2.75]), **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_log_push_forward_unreached_state_is_minus_infinity(storage):
    # Mass only on (0, 1), which goes to state 2: states 0 and 1 receive nothing.
    log_w = torch.full((3, 2), -math.inf, dtype=F64)
    log_w[0, 1] = math.log(0.3)
    out = tiny(storage).log_push_forward(log_w)
    assert out[0] == -math.inf and out[1] == -math.inf
    assert out[2].item() == pytest.approx(math.log(0.3), abs=1e-14)


@pytest.mark.parametrize("branching", [None, 3])
@pytest.mark.parametrize("seed", [0, 3])
def test_operators_agree_with_loops_and_across_storages(branching, seed):
    mdp = random_mdp(5, 3, branching=branching, seed=seed)
    P = loop_dense(mdp.next_states, mdp.probs, 5) if branching else as_numpy(mdp.transitions)
    other = mdp.to_successors() if branching is None else mdp.to_dense()
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(5, generator=generator, dtype=F64) * 3
    log_w = torch.randn(5, 3, generator=generator, dtype=F64) * 3
    for m in (mdp, other):
        np.testing.assert_allclose(as_numpy(m.expected_next(values)), loop_expected_next(P, values.tolist()),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(as_numpy(m.log_expected_exp_next(values)),
                                   loop_log_expected_exp_next(P, values.tolist()), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(as_numpy(m.log_push_forward(log_w)),
                                   loop_log_push_forward(P, log_w.tolist()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("storage", STORAGES)
def test_log_operators_are_exact_for_huge_magnitudes(storage):
    # exp(±1000) overflows float64; the loops shift per row, so they are the exact answer.
    mdp = tiny(storage)
    values = [1000.0, -1000.0, 0.0]
    np.testing.assert_allclose(as_numpy(mdp.log_expected_exp_next(torch.tensor(values, dtype=F64))),
                               loop_log_expected_exp_next(P_TINY, values), rtol=1e-14, atol=1e-12)
    # (1, 0) only reaches state 1: exactly -1000, not -inf.
    assert mdp.log_expected_exp_next(torch.tensor(values, dtype=F64))[1, 0].item() == -1000.0
    log_w = [[-1000.0, 900.0], [-1200.0, -700.0], [0.0, -1e4]]
    out = mdp.log_push_forward(torch.tensor(log_w, dtype=F64))
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(as_numpy(out), loop_log_push_forward(P_TINY, log_w), rtol=1e-14, atol=1e-12)


def numpy_log_expected_exp(P: np.ndarray, values: np.ndarray) -> np.ndarray:
    """log Σ_j P[i, j] exp(values[j]) per row i, shifted by each row's own maximum over its support."""
    masked = np.where(P > 0, values[None, :], -np.inf)
    top = masked.max(-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log((P * np.exp(masked - top)).sum(-1)) + top[:, 0]


@pytest.mark.parametrize("branching", [None, 60])
def test_log_operators_are_exact_on_large_mdps(branching):
    # Large enough (> 65,536 stored probabilities) for the solvers' bulk path; values spread over
    # ±700, so a single global shift would underflow many rows.
    S, A = (130, 4) if branching is None else (300, 4)
    mdp = random_mdp(S, A, branching=branching, seed=4)
    P = loop_dense(mdp.next_states, mdp.probs, S) if branching else as_numpy(mdp.transitions)
    rng = np.random.default_rng(0)
    values, log_w = rng.uniform(-700, 700, size=S), rng.uniform(-700, 700, size=(S, A))
    np.testing.assert_allclose(as_numpy(mdp.log_expected_exp_next(torch.from_numpy(values))),
                               numpy_log_expected_exp(P.reshape(S * A, S), values).reshape(S, A),
                               rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(as_numpy(mdp.log_push_forward(torch.from_numpy(log_w))),
                               numpy_log_expected_exp(P.reshape(S * A, S).T, log_w.reshape(-1)),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("storage", STORAGES)
def test_operators_reject_wrong_input_shapes(storage):
    mdp = tiny(storage)
    with pytest.raises(ValueError, match="values"):
        mdp.expected_next(torch.zeros(4, dtype=F64))
    with pytest.raises(ValueError, match="values"):
        mdp.log_expected_exp_next(torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="log_weights"):
        mdp.log_push_forward(torch.zeros(3, dtype=F64))


# ---------------------------------------------------------------- reward forms
@pytest.mark.parametrize("storage", STORAGES)
def test_state_rewards_are_broadcast_over_actions(storage):
    mdp = tiny(storage, rewards=[1.0, -2.0, 3.0])
    np.testing.assert_array_equal(as_numpy(mdp.rewards), [[1.0, 1.0], [-2.0, -2.0], [3.0, 3.0]])


@pytest.mark.parametrize("storage", STORAGES)
def test_state_action_rewards_are_kept(storage):
    rewards = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    np.testing.assert_array_equal(as_numpy(tiny(storage, rewards=rewards).rewards), rewards)


R_SAS = [[[10.0 * j + a for j in range(3)] for a in range(2)] for _ in range(3)]  # r(s,a,s') = 10 s' + a


@pytest.mark.parametrize("storage", STORAGES)
def test_transition_rewards_are_averaged_over_next_states(storage):
    # (0,0): (0 + 10)/2 = 5; (0,1): 21; (1,0): 10; (1,1): 1/4·1 + 3/4·21 = 16; (2,0): 20; (2,1): 1
    mdp = tiny(storage, rewards=R_SAS)
    np.testing.assert_allclose(as_numpy(mdp.rewards), [[5.0, 21.0], [10.0, 16.0], [20.0, 1.0]], **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_arrival_rewards_are_transition_rewards_that_depend_on_next_state_only(storage):
    arrive = [0.0, 4.0, -8.0]
    rewards = [[[arrive[j] for j in range(3)] for _ in range(2)] for _ in range(3)]
    mdp = tiny(storage, rewards=rewards)
    expected = np.einsum("saj,j->sa", np.array(P_TINY), np.array(arrive))
    np.testing.assert_allclose(as_numpy(mdp.rewards), expected, **EXACT)


# ---------------------------------------------------------------- terminal states
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("terminal", [[2], [False, False, True], torch.tensor([2])])
def test_terminal_states_are_absorbing_and_pay_nothing(storage, terminal):
    mdp = tiny(storage, rewards=R_SAS, terminal=terminal)
    P = np.array(P_TINY)
    P[2] = [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]  # self-loop under every action
    np.testing.assert_allclose(as_numpy(mdp.transitions), P, **EXACT)
    # Rewards of the terminal state are zeroed; rewards for *entering* it (from 0 and 1) are kept.
    np.testing.assert_allclose(as_numpy(mdp.rewards), [[5.0, 21.0], [10.0, 16.0], [0.0, 0.0]], **EXACT)
    assert mdp.terminal.tolist() == [False, False, True]


def test_no_terminal_by_default_and_empty_list_means_none():
    assert not tiny("dense").terminal.any()
    assert not tiny("dense", terminal=[]).terminal.any()


def test_terminal_successor_lists_point_at_themselves():
    mdp = tiny("successors", terminal=[0])
    for a in range(2):
        mass = {}
        for j, p in zip(mdp.next_states[0, a].tolist(), mdp.probs[0, a].tolist()):
            mass[j] = mass.get(j, 0.0) + p
        assert {j: p for j, p in mass.items() if p > 0} == {0: 1.0}


# ---------------------------------------------------------------- other fields, dtype, replace
def test_defaults_names_and_dtypes():
    mdp = TabularMDP(torch.tensor(P_TINY, dtype=torch.float32), torch.zeros(3, 2, dtype=torch.float32))
    assert mdp.transitions.dtype == F64 and mdp.rewards.dtype == F64 and mdp.initial.dtype == F64
    assert mdp.probs.dtype == F64 and mdp.next_states.dtype == torch.long
    np.testing.assert_allclose(as_numpy(mdp.initial), [1 / 3] * 3, **EXACT)
    assert mdp.discount == 1.0
    assert mdp.state_names == ["0", "1", "2"] and mdp.action_names == ["0", "1"]
    assert mdp.features is None and mdp.layout is None
    named = tiny("dense", state_names=["a", "b", "c"], action_names=["left", "right"])
    assert named.state_names == ["a", "b", "c"] and named.action_names == ["left", "right"]
    ints = TabularMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [1, 2])  # integer lists
    assert ints.transitions.dtype == F64 and ints.rewards.dtype == F64


def test_initial_distribution_is_kept():
    mdp = tiny("successors", initial=[0.2, 0.0, 0.8])
    np.testing.assert_array_equal(as_numpy(mdp.initial), [0.2, 0.0, 0.8])


def test_state_features_are_shared_by_all_actions():
    features = torch.arange(6, dtype=F64).reshape(3, 2)  # [S, F]
    mdp = tiny("dense", features=features)
    assert mdp.features.shape == (3, 2, 2) and mdp.features.dtype == F64
    for a in range(2):
        np.testing.assert_array_equal(as_numpy(mdp.features[:, a]), as_numpy(features))
    sa = torch.ones(3, 2, 4, dtype=F64)
    assert tiny("dense", features=sa).features.shape == (3, 2, 4)


def test_replace_changes_only_what_is_asked():
    layout = object()
    mdp = tiny("successors", rewards=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], initial=[0.5, 0.5, 0.0],
               discount=0.9, terminal=[2], state_names=["a", "b", "c"], action_names=["x", "y"],
               features=torch.ones(3, 2, 1), layout=layout)
    changed = mdp.replace(discount=0.5)
    assert changed is not mdp and changed.discount == 0.5 and mdp.discount == 0.9
    assert not changed.is_dense
    np.testing.assert_array_equal(as_numpy(changed.transitions), as_numpy(mdp.transitions))
    np.testing.assert_array_equal(as_numpy(changed.rewards), [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(as_numpy(changed.initial), [0.5, 0.5, 0.0])
    assert changed.terminal.tolist() == [False, False, True]
    assert changed.state_names == ["a", "b", "c"] and changed.action_names == ["x", "y"]
    assert changed.features.shape == (3, 2, 1) and changed.layout is layout


def test_replace_new_rewards_are_zeroed_on_terminal_states():
    mdp = tiny("dense", terminal=[1]).replace(rewards=[[7.0, 8.0], [9.0, 9.0], [1.0, 2.0]])
    np.testing.assert_array_equal(as_numpy(mdp.rewards), [[7.0, 8.0], [0.0, 0.0], [1.0, 2.0]])


def test_replace_new_transitions_are_validated_and_made_absorbing():
    mdp = tiny("dense", terminal=[0]).replace(transitions=(NEXT_TINY, PROBS_TINY))
    assert not mdp.is_dense
    np.testing.assert_allclose(as_numpy(mdp.transitions[0]), [[1.0, 0.0, 0.0]] * 2, **EXACT)
    with pytest.raises(ValueError, match="probs"):
        mdp.replace(transitions=(NEXT_TINY, [[[0.5, 0.0, 0.0]] * 2] * 3))


def test_replace_rejects_unknown_arguments():
    with pytest.raises(TypeError, match="gamma"):
        tiny("dense").replace(gamma=0.9)


# ---------------------------------------------------------------- differentiability
@pytest.mark.parametrize("storage", STORAGES)
def test_gradient_of_state_action_rewards(storage):
    r = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=F64, requires_grad=True)
    mdp = tiny(storage, rewards=r, terminal=[1])
    weights = torch.tensor([[1.0, -2.0], [3.0, 4.0], [0.5, 7.0]], dtype=F64)
    (weights * mdp.rewards).sum().backward()
    np.testing.assert_array_equal(r.grad.numpy(), [[1.0, -2.0], [0.0, 0.0], [0.5, 7.0]])  # terminal row: 0


def test_gradient_of_state_rewards_sums_over_actions():
    r = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32, requires_grad=True)  # float32 leaf
    mdp = tiny("dense", rewards=r)
    assert mdp.rewards.dtype == F64
    (torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=F64) * mdp.rewards).sum().backward()
    np.testing.assert_allclose(r.grad.numpy(), [3.0, 7.0, 11.0])


@pytest.mark.parametrize("storage", STORAGES)
def test_gradient_of_transition_rewards_is_the_transition_probability(storage):
    r = torch.zeros(3, 2, 3, dtype=F64, requires_grad=True)
    mdp = tiny(storage, rewards=r)
    mdp.rewards.sum().backward()
    np.testing.assert_allclose(r.grad.numpy(), np.array(P_TINY), **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_gradient_flows_from_rewards_through_expected_next(storage):
    r = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=F64, requires_grad=True)
    mdp = tiny(storage, rewards=r)
    mdp.expected_next(mdp.rewards[:, 0]).sum().backward()
    # d/dr(s', 0) of Σ_{s,a} Σ_j p(j|s,a) r(j, 0) = column sums of P: 1.75, 1.5, 2.75.
    np.testing.assert_allclose(r.grad.numpy(), [[1.75, 0.0], [1.5, 0.0], [2.75, 0.0]], **EXACT)


@pytest.mark.parametrize("storage", STORAGES)
def test_gradient_of_log_expected_exp_next_is_the_tilted_transition(storage):
    values = torch.tensor(VALUES, dtype=F64, requires_grad=True)
    tiny(storage).log_expected_exp_next(values).sum().backward()
    # d/dv(j) Σ_{s,a} log Σ_k p(k|s,a) e^{v(k)} = Σ_{s,a} p(j|s,a) e^{v(j)} / Σ_k p(k|s,a) e^{v(k)}
    P, v = np.array(P_TINY), np.array(VALUES)
    tilted = P * np.exp(v)
    expected = (tilted / tilted.sum(-1, keepdims=True)).sum((0, 1))
    np.testing.assert_allclose(values.grad.numpy(), expected, **EXACT)


@pytest.mark.parametrize("storage", ["dense", "successors"])
def test_gradient_of_log_push_forward_is_finite_with_unreached_states(storage):
    log_w = torch.full((3, 2), -math.inf, dtype=F64)
    log_w[0, 0] = 0.0
    log_w.requires_grad_(True)
    out = tiny(storage).log_push_forward(log_w)  # reaches states 0 and 1 only
    out[:2].sum().backward()
    # out(j) = log p(j|0,0) + log_w(0,0) for j = 0, 1: derivative 1 each, so 2 on (0, 0), 0 elsewhere.
    np.testing.assert_allclose(log_w.grad.numpy(), [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]], **EXACT)


# ---------------------------------------------------------------- validation: constructor
def _bad_rows(delta: float):
    P = [[row[:] for row in action] for action in P_TINY]
    P[1][1] = [0.25, 0.0, 0.75 + delta]
    return P


def test_probability_tolerance_is_one_in_a_million():
    TabularMDP(_bad_rows(1e-7), ZERO_REWARDS)  # off by 1e-7: accepted
    TabularMDP(_bad_rows(-1e-7), ZERO_REWARDS)
    TabularMDP(P_TINY, ZERO_REWARDS, initial=[0.5, 0.5 + 1e-7, 0.0])
    with pytest.raises(ValueError, match="transitions must sum to 1"):
        TabularMDP(_bad_rows(1e-5), ZERO_REWARDS)
    with pytest.raises(ValueError, match="transitions must sum to 1"):
        TabularMDP(_bad_rows(-1e-5), ZERO_REWARDS)
    with pytest.raises(ValueError, match="initial must sum to 1"):
        TabularMDP(P_TINY, ZERO_REWARDS, initial=[0.5, 0.5 + 1e-5, 0.0])
    TabularMDP((NEXT_TINY, _padded([1.0 - 1e-7, 0.0, 0.0])), ZERO_REWARDS)
    with pytest.raises(ValueError, match="probs must sum to 1"):
        TabularMDP((NEXT_TINY, _padded([1.0 - 1e-5, 0.0, 0.0])), ZERO_REWARDS)


def _negative_dense():
    P = _bad_rows(0.0)
    P[0][0] = [1.5, -0.5, 0.0]  # sums to 1
    return P


def _padded(value):
    probs = [[row[:] for row in action] for action in PROBS_TINY]
    probs[0][1] = value
    return probs


CONSTRUCTOR_CASES = {
    # name: (transitions, rewards, extra kwargs, error, match)
    # (A plain 2-row list would be read as a (next_states, probs) pair; a tensor is unambiguous.)
    "transitions 2-D": (torch.full((2, 2), 0.5), [0.0, 0.0], {}, ValueError, r"transitions must have shape"),
    "transitions 4-D": (torch.ones(3, 2, 3, 1), ZERO_REWARDS, {}, ValueError, r"transitions must have shape"),
    "transitions S' != S": ([[[0.5, 0.25, 0.25, 0.0]] * 2] * 3, ZERO_REWARDS, {}, ValueError,
                            r"transitions must have shape"),
    "transitions empty": (torch.zeros(0, 2, 0), torch.zeros(0, 2), {}, ValueError, r"transitions.*at least one"),
    "transitions negative": (_negative_dense(), ZERO_REWARDS, {}, ValueError, r"transitions must be non-negative"),
    "transitions NaN": ([[[math.nan, 1.0, 0.0]] * 2] * 3, ZERO_REWARDS, {}, ValueError, r"transitions must be finite"),
    "transitions bool": (torch.ones(3, 2, 3, dtype=torch.bool), ZERO_REWARDS, {}, TypeError, r"transitions"),
    "transitions string": ("abc", ZERO_REWARDS, {}, TypeError, r"transitions"),
    "next_states 2-D": ((torch.tensor([[0, 1], [1, 0]]), torch.eye(2)), [0.0, 0.0], {}, ValueError,
                        r"next_states must have shape"),
    "probs shape mismatch": ((NEXT_TINY, [[[1.0, 0.0]] * 2] * 3), ZERO_REWARDS, {}, ValueError,
                             r"probs must have shape"),
    "next_states too large": (([[[0, 3, 0]] * 2] * 3, PROBS_TINY), ZERO_REWARDS, {}, ValueError,
                              r"next_states must hold state indices in \[0, 3\)"),
    "next_states negative": (([[[0, -1, 0]] * 2] * 3, PROBS_TINY), ZERO_REWARDS, {}, ValueError,
                             r"next_states must hold state indices"),
    "next_states fractional": (([[[0.5, 1.0, 0.0]] * 2] * 3, PROBS_TINY), ZERO_REWARDS, {}, TypeError,
                               r"next_states must hold integers"),
    "probs negative": ((NEXT_TINY, _padded([1.5, -0.5, 0.0])), ZERO_REWARDS, {}, ValueError,
                       r"probs must be non-negative"),
    "probs not summing to 1": ((NEXT_TINY, _padded([0.5, 0.0, 0.0])), ZERO_REWARDS, {}, ValueError,
                               r"probs must sum to 1"),
    "rewards [S, A+1]": (P_TINY, [[0.0] * 3] * 3, {}, ValueError, r"rewards must have shape r\(s, a\)"),
    "rewards [S+1]": (P_TINY, [0.0] * 4, {}, ValueError, r"rewards must have shape r\(s\)"),
    "rewards [S, A, S+1]": (P_TINY, [[[0.0] * 4] * 2] * 3, {}, ValueError, r"rewards must have shape r\(s, a, s'\)"),
    "rewards 4-D": (P_TINY, torch.zeros(3, 2, 3, 1), {}, ValueError, r"rewards must be r\(s\)"),
    "rewards 0-D": (P_TINY, 1.0, {}, ValueError, r"rewards must be r\(s\)"),
    "rewards NaN": (P_TINY, [[0.0, math.nan], [0.0, 0.0], [0.0, 0.0]], {}, ValueError, r"rewards must be finite"),
    "rewards +inf": (P_TINY, [0.0, math.inf, 0.0], {}, ValueError, r"rewards must be finite"),
    "rewards -inf in r(s,a,s')": (P_TINY, [[[0.0, 0.0, -math.inf]] * 2] * 3, {}, ValueError,
                                  r"rewards must be finite"),
    "rewards string": (P_TINY, "zero", {}, TypeError, r"rewards"),
    "discount above 1": (P_TINY, ZERO_REWARDS, {"discount": 1.5}, ValueError, r"discount must lie in \[0, 1\]"),
    "discount below 0": (P_TINY, ZERO_REWARDS, {"discount": -0.1}, ValueError, r"discount must lie in \[0, 1\]"),
    "discount NaN": (P_TINY, ZERO_REWARDS, {"discount": math.nan}, ValueError, r"discount must lie in"),
    "discount string": (P_TINY, ZERO_REWARDS, {"discount": "0.9"}, TypeError, r"discount"),
    "initial negative": (P_TINY, ZERO_REWARDS, {"initial": [1.2, -0.2, 0.0]}, ValueError,
                         r"initial must be non-negative"),
    "initial not summing to 1": (P_TINY, ZERO_REWARDS, {"initial": [0.3, 0.3, 0.3]}, ValueError,
                                 r"initial must sum to 1"),
    "initial wrong length": (P_TINY, ZERO_REWARDS, {"initial": [0.5, 0.5]}, ValueError, r"initial must have shape"),
    "initial NaN": (P_TINY, ZERO_REWARDS, {"initial": [math.nan, 0.5, 0.5]}, ValueError, r"initial must be finite"),
    "state_names wrong length": (P_TINY, ZERO_REWARDS, {"state_names": ["a", "b"]}, ValueError,
                                 r"state_names must have length S = 3, got 2"),
    "action_names wrong length": (P_TINY, ZERO_REWARDS, {"action_names": ["x", "y", "z"]}, ValueError,
                                  r"action_names must have length A = 2, got 3"),
    "terminal index too large": (P_TINY, ZERO_REWARDS, {"terminal": [3]}, ValueError,
                                 r"terminal state indices must lie in \[0, 3\)"),
    "terminal index negative": (P_TINY, ZERO_REWARDS, {"terminal": [-1]}, ValueError, r"terminal state indices"),
    "terminal mask wrong length": (P_TINY, ZERO_REWARDS, {"terminal": [True, False]}, ValueError,
                                   r"terminal must have shape"),
    "terminal fractional": (P_TINY, ZERO_REWARDS, {"terminal": [0.5]}, TypeError, r"terminal must hold integers"),
    "features wrong S": (P_TINY, ZERO_REWARDS, {"features": torch.ones(4, 2)}, ValueError,
                         r"features must have shape"),
    "features wrong A": (P_TINY, ZERO_REWARDS, {"features": torch.ones(3, 3, 2)}, ValueError,
                         r"features must have shape f\(s, a\)"),
    "features 1-D": (P_TINY, ZERO_REWARDS, {"features": torch.ones(3)}, ValueError, r"features must have shape"),
    "features NaN": (P_TINY, ZERO_REWARDS, {"features": torch.full((3, 2), math.nan)}, ValueError,
                     r"features must be finite"),
}


@pytest.mark.parametrize("case", list(CONSTRUCTOR_CASES), ids=list(CONSTRUCTOR_CASES))
def test_constructor_rejects(case):
    transitions, rewards, kwargs, error, match = CONSTRUCTOR_CASES[case]
    with pytest.raises(error, match=match):
        TabularMDP(transitions, rewards, **kwargs)


def test_shape_error_message_shows_expected_and_received_shapes():
    with pytest.raises(ValueError, match=r"rewards must have shape r\(s, a\) \[S, A\] = \[3, 2\], got \[3, 4\]"):
        TabularMDP(P_TINY, torch.zeros(3, 4))


def test_discount_boundaries_are_accepted():
    assert tiny("dense", discount=0).discount == 0.0
    assert tiny("dense", discount=1).discount == 1.0


# ---------------------------------------------------------------- validation: solvers' conventions
def no_terminal(discount: float = 1.0) -> TabularMDP:
    return tiny("dense", rewards=[[-1.0, 0.0], [0.0, -1.0], [-2.0, 0.0]], discount=discount)


UNIFORM = torch.full((3, 2), 0.5, dtype=F64)


@pytest.mark.parametrize(
    "solve",
    [value_iteration, soft_value_iteration, lambda mdp: policy_evaluation(mdp, UNIFORM)],
    ids=["value_iteration", "soft_value_iteration", "policy_evaluation"],
)
def test_discount_one_without_horizon_or_terminal_states_raises(solve):
    with pytest.raises(ValueError, match="horizon"):
        solve(no_terminal())


def test_policy_evaluation_discount_one_with_an_unreachable_terminal_state_raises():
    # State 2 is terminal, but always choosing action 0 keeps states 0 and 1 away from it forever.
    mdp = tiny("dense", rewards=[[-1.0, 0.0], [0.0, -1.0], [0.0, 0.0]], terminal=[2])
    stay = torch.tensor([[1.0, 0.0]] * 3, dtype=F64)
    with pytest.raises(ValueError, match="horizon"):
        policy_evaluation(mdp, stay)


MESSAGE_FUNCTIONS = [backward_messages, forward_messages, log_evidence, state_marginals, posterior_dynamics]
MESSAGE_IDS = [f.__name__ for f in MESSAGE_FUNCTIONS]


@pytest.mark.parametrize("message", MESSAGE_FUNCTIONS, ids=MESSAGE_IDS)
def test_message_functions_reject_discounted_mdps(message):
    with pytest.raises(ValueError, match="discount"):
        message(no_terminal(discount=0.9), 3)


@pytest.mark.parametrize("message", MESSAGE_FUNCTIONS, ids=MESSAGE_IDS)
def test_message_functions_require_a_horizon(message):
    with pytest.raises(ValueError, match="horizon is required"):
        message(no_terminal(), None)


HORIZON_SOLVERS = {
    "value_iteration": lambda mdp, h: value_iteration(mdp, horizon=h),
    "soft_value_iteration": lambda mdp, h: soft_value_iteration(mdp, horizon=h),
    "policy_evaluation": lambda mdp, h: policy_evaluation(mdp, UNIFORM, horizon=h),
    "backward_messages": lambda mdp, h: backward_messages(mdp, h),
    "forward_messages": lambda mdp, h: forward_messages(mdp, h),
}


@pytest.mark.parametrize("solver", list(HORIZON_SOLVERS))
@pytest.mark.parametrize("horizon", [0, -1])
def test_non_positive_horizon_raises_value_error(solver, horizon):
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        HORIZON_SOLVERS[solver](no_terminal(), horizon)


@pytest.mark.parametrize("solver", list(HORIZON_SOLVERS))
@pytest.mark.parametrize("horizon", [2.5, 3.0, True, "3"])
def test_non_integer_horizon_raises_type_error(solver, horizon):
    with pytest.raises(TypeError, match="horizon must be a positive integer"):
        HORIZON_SOLVERS[solver](no_terminal(), horizon)


TEMPERATURE_SOLVERS = {
    "soft_value_iteration": lambda mdp, t: soft_value_iteration(mdp, horizon=2, temperature=t),
    "backward_messages": lambda mdp, t: backward_messages(mdp, 2, temperature=t),
    "forward_messages": lambda mdp, t: forward_messages(mdp, 2, temperature=t),
}


@pytest.mark.parametrize("solver", list(TEMPERATURE_SOLVERS))
@pytest.mark.parametrize("temperature", [-1.0, -1e-9, math.inf, math.nan])
def test_bad_temperature_raises_value_error(solver, temperature):
    with pytest.raises(ValueError, match="temperature"):
        TEMPERATURE_SOLVERS[solver](no_terminal(), temperature)


@pytest.mark.parametrize("solver", list(TEMPERATURE_SOLVERS))
def test_non_numeric_temperature_raises_type_error(solver):
    with pytest.raises(TypeError, match="temperature"):
        TEMPERATURE_SOLVERS[solver](no_terminal(), "1")


@pytest.mark.parametrize("solver", ["backward_messages", "forward_messages"])
def test_messages_need_positive_temperature(solver):
    with pytest.raises(ValueError, match="temperature > 0"):
        TEMPERATURE_SOLVERS[solver](no_terminal(), 0.0)


def test_optimistic_backup_needs_positive_temperature():
    with pytest.raises(ValueError, match="temperature"):
        soft_value_iteration(no_terminal(), horizon=2, temperature=0.0, backup="optimistic")


def test_unknown_backup_raises():
    with pytest.raises(ValueError, match=r"backup must be one of.*'foo'"):
        soft_value_iteration(no_terminal(), horizon=2, backup="foo")


ACTION_PRIOR_CASES = {
    "[A+1]": ([1 / 3] * 3, r"action_prior must have shape p\(a\) \[A\]"),
    "[S+1, A]": ([[0.5, 0.5]] * 4, r"action_prior must have shape p\(a\|s\) \[S, A\]"),
    "[S, A, 1]": (torch.full((3, 2, 1), 0.5), r"action_prior must have shape"),
    "negative": ([[1.5, -0.5]] * 3, r"action_prior must be non-negative"),
    "rows not summing to 1": ([[0.5, 0.6]] * 3, r"action_prior must sum to 1"),
    "[A] not summing to 1": ([0.2, 0.2], r"action_prior must sum to 1"),
}


@pytest.mark.parametrize("case", list(ACTION_PRIOR_CASES))
@pytest.mark.parametrize("solver", ["soft_value_iteration", "backward_messages", "forward_messages"])
def test_bad_action_prior_raises(case, solver):
    prior, match = ACTION_PRIOR_CASES[case]
    call = {
        "soft_value_iteration": lambda: soft_value_iteration(no_terminal(), horizon=2, action_prior=prior),
        "backward_messages": lambda: backward_messages(no_terminal(), 2, action_prior=prior),
        "forward_messages": lambda: forward_messages(no_terminal(), 2, action_prior=prior),
    }[solver]
    with pytest.raises(ValueError, match=match):
        call()


POLICY_CASES = {
    "[S, A+1]": (torch.full((3, 3), 1 / 3, dtype=F64), None, ValueError, r"policy must have shape π\(a\|s\)"),
    "[S+1, A]": (torch.full((4, 2), 0.5, dtype=F64), None, ValueError, r"policy must have shape"),
    "rows not summing to 1": (torch.full((3, 2), 0.4, dtype=F64), None, ValueError, r"policy must sum to 1"),
    "negative": (torch.tensor([[1.5, -0.5]] * 3, dtype=F64), None, ValueError, r"policy must be non-negative"),
    "NaN": (torch.tensor([[math.nan, 0.5]] * 3, dtype=F64), None, ValueError, r"policy must be finite"),
    "action out of range": (torch.tensor([0, 2, 1]), None, ValueError, r"policy actions must lie in \[0, 2\)"),
    "negative action": (torch.tensor([0, -1, 1]), None, ValueError, r"policy actions must lie in"),
    "actions wrong length": (torch.tensor([0, 1]), None, ValueError, r"policy must have shape deterministic"),
    "time-indexed, wrong T": (torch.full((4, 3, 2), 0.5, dtype=F64), 3, ValueError, r"needs horizon=4, got horizon=3"),
    "time-indexed, no horizon": (torch.full((4, 3, 2), 0.5, dtype=F64), None, ValueError, r"needs horizon"),
    "time-indexed rows not summing": (torch.full((3, 3, 2), 0.7, dtype=F64), 3, ValueError, r"policy must sum to 1"),
}


@pytest.mark.parametrize("case", list(POLICY_CASES))
def test_policy_evaluation_rejects_bad_policies(case):
    policy, horizon, error, match = POLICY_CASES[case]
    with pytest.raises(error, match=match):
        policy_evaluation(no_terminal(discount=0.9), policy, horizon=horizon)


def test_solvers_reject_non_mdps():
    with pytest.raises(TypeError, match=r"mdp must be a pgm_control\.TabularMDP"):
        value_iteration(P_TINY, horizon=2)
