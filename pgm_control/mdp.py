r"""The tabular MDP: one conventions layer, two storages.

Conventions (stated once, here and in the README):

* ``transitions`` p(s' | s, a): dense ``[S, A, S']``, or successor lists ``(next_states, probs)``,
  each ``[S, A, K]``, where entry k of (s, a) says "with probability probs[s, a, k] the next state is
  next_states[s, a, k]". Successor lists may repeat a next state and may pad with probability 0.
* ``rewards`` r(s, a) ``[S, A]``, received at the step where action a is taken in state s. Rewards
  given as r(s) ``[S]`` (reward for acting in s, whatever the action) or as r(s, a, s') ``[S, A, S']``
  (reward on the transition) are converted once, on construction:
  r(s, a) = r(s)   or   r(s, a) = Σ_{s'} p(s' | s, a) r(s, a, s').
  A reward for *arriving* in s' is the r(s, a, s') form with r depending only on s'.
* ``initial`` p(s_1) ``[S]``, uniform by default.
* ``discount`` γ in [0, 1], 1 by default. Finite-horizon solvers take a ``horizon`` T; with γ = 1 an
  infinite-horizon solver needs terminal states that every policy reaches, or it raises.
* ``available_actions`` A(s) ``[S, A]`` bool: the actions allowed in each state (all by default). Every
  solver maximizes over A(s) only, V(s) = max_{a ∈ A(s)} Q(s, a), and every soft maximum uses an action
  prior that is zero outside A(s) (uniform over A(s) by default). Transitions and rewards of unavailable
  actions must still be valid but are never used.
* ``terminal`` states are absorbing and pay nothing: their transitions are overwritten with a
  self-loop and their rewards with 0 (rewards for *entering* them are kept, on the source state).
  Under the lecture's convention V = log Σ_a p(a|s) exp Q their soft value is exactly 0.

Everything is float64 and lives on one device (:attr:`TabularMDP.device`, the device of the
transitions; :meth:`TabularMDP.to` moves an MDP); the exact solvers create their tables there. Rewards keep
their autograd history, so solvers are differentiable with respect to them (inverse RL differentiates
through soft value iteration).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_discount,
    check_distribution,
    check_finite,
    check_shape,
    shape_str,
)
from pgm_control._logspace import (
    SMALL,
    csr_matrix,
    exact_log_matvec_rows,
    log_matvec,
    logsumexp,
    scatter_logsumexp,
)


class TabularMDP:
    r"""A finite MDP (S states, A actions) with dense or successor-list transitions.

    Args:
        transitions: p(s' | s, a), either a dense ``[S, A, S']`` tensor (or nested list), or a
            tuple ``(next_states, probs)`` of ``[S, A, K]`` tensors (successor lists).
        next_states, probs: the successor lists as keywords, instead of ``transitions``.
        rewards: r(s, a) ``[S, A]``; also accepted: r(s) ``[S]`` or r(s, a, s') ``[S, A, S']``.
        initial: p(s_1) ``[S]``; uniform over all states by default.
        discount: γ in [0, 1] (default 1).
        terminal: absorbing zero-reward states, as a bool mask ``[S]`` or a sequence of indices.
        available_actions: A(s) as a bool mask ``[S, A]`` (True = allowed); every state needs at least
            one available action. None (default): every action is available in every state.
        state_names, action_names: optional labels (length S and A).
        features: optional reward features f(s, a) ``[S, A, F]``, or state features ``[S, F]``
            (shared by all actions), used by inverse RL.
        layout: optional geometry for drawing (a :class:`pgm_control.envs.GridLayout` for grids);
            carried along by :meth:`replace`.

    Every tensor is stored on the device of the transitions (CPU for nested lists); rewards, initial
    and features given on another device are moved there. :meth:`to` copies the MDP to a device.

    Example:
        >>> import torch
        >>> P = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
        >>> mdp = TabularMDP(P, rewards=torch.tensor([0.0, 1.0]), discount=0.5)
        >>> mdp.rewards
        tensor([[0., 0.],
                [1., 1.]], dtype=torch.float64)
        >>> mdp.to_successors().next_states.shape
        torch.Size([2, 2, 1])
    """

    def __init__(
        self,
        transitions=None,
        rewards=None,
        initial=None,
        discount: float = 1.0,
        *,
        next_states=None,
        probs=None,
        terminal=None,
        state_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        features=None,
        layout=None,
        available_actions=None,
    ):
        if (next_states is None) != (probs is None):
            raise ValueError("successor lists need both next_states and probs")
        if next_states is not None:
            if transitions is not None:
                raise ValueError("pass either transitions or next_states/probs, not both")
            transitions = (next_states, probs)
        if transitions is None or rewards is None:
            raise TypeError("TabularMDP needs transitions (or next_states and probs) and rewards")
        dense, next_states, probs = _read_transitions(transitions)
        if dense is not None:
            num_states, num_actions = dense.shape[0], dense.shape[1]
        else:
            num_states, num_actions = next_states.shape[0], next_states.shape[1]
        self._num_states, self._num_actions = int(num_states), int(num_actions)
        self._dense, self._next_states, self._probs = dense, next_states, probs
        self._device = (dense if dense is not None else probs).device

        rewards = self._read_rewards(rewards)
        terminal_mask = self._read_terminal(terminal)
        if terminal_mask.any():
            self._make_absorbing(terminal_mask)
            rewards = torch.where(terminal_mask[:, None], torch.zeros_like(rewards), rewards)
        self._rewards = rewards
        self._terminal = terminal_mask
        self._initial = self._read_initial(initial)
        self._discount = check_discount(discount)
        self._state_names = _read_names(state_names, self._num_states, "state_names", "S")
        self._action_names = _read_names(action_names, self._num_actions, "action_names", "A")
        self._features = self._read_features(features)
        self._layout = layout
        self._available = self._read_available(available_actions)

    # ------------------------------------------------------------------ construction helpers
    def _read_rewards(self, rewards) -> torch.Tensor:
        rewards = as_float_tensor(rewards, "rewards").to(self._device)
        S, A = self._num_states, self._num_actions
        if rewards.dim() == 1:
            check_shape(rewards, [S], "rewards", "r(s) [S]")
            rewards = rewards[:, None].expand(S, A)
        elif rewards.dim() == 2:
            check_shape(rewards, [S, A], "rewards", "r(s, a) [S, A]")
        elif rewards.dim() == 3:
            check_shape(rewards, [S, A, S], "rewards", "r(s, a, s') [S, A, S']")
            check_finite(rewards, "rewards")
            if self._dense is not None:
                rewards = (self._dense * rewards).sum(-1)
            else:
                rewards = (self._probs * rewards.gather(-1, self._next_states)).sum(-1)
        else:
            raise ValueError(
                f"rewards must be r(s) [S], r(s, a) [S, A] or r(s, a, s') [S, A, S'] with "
                f"S={S}, A={A}; got shape {shape_str(rewards.shape)}"
            )
        check_finite(rewards, "rewards")
        return rewards.contiguous()

    def _read_terminal(self, terminal) -> torch.Tensor:
        S = self._num_states
        if terminal is None:
            return torch.zeros(S, dtype=torch.bool, device=self._device)
        try:
            tensor = terminal if isinstance(terminal, torch.Tensor) else torch.as_tensor(terminal)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"terminal must be a bool mask [S] or a list of state indices, got {terminal!r}") from None
        if tensor.dtype == torch.bool:
            check_shape(tensor, [S], "terminal", "bool mask [S]")
            return tensor.to(self._device, copy=True)
        index = as_index_tensor(tensor, "terminal")
        if index.dim() > 1:
            raise ValueError(f"terminal must be a bool mask [S] or a list of state indices, got shape "
                             f"{shape_str(index.shape)}")
        index = index.reshape(-1).to(self._device)
        if index.numel() and (index.min() < 0 or index.max() >= S):
            raise ValueError(f"terminal state indices must lie in [0, {S}), got {index.tolist()}")
        return torch.zeros(S, dtype=torch.bool, device=self._device).index_fill_(0, index, True)

    def _make_absorbing(self, terminal: torch.Tensor) -> None:
        states = terminal.nonzero().squeeze(-1)
        if self._dense is not None:
            dense = self._dense.clone()
            dense[states] = 0.0
            dense[states, :, states] = 1.0
            self._dense = dense
        else:
            next_states, probs = self._next_states.clone(), self._probs.clone()
            next_states[states] = states[:, None, None]
            probs[states] = 0.0
            probs[states, :, 0] = 1.0
            self._next_states, self._probs = next_states, probs

    def _read_initial(self, initial) -> torch.Tensor:
        S = self._num_states
        if initial is None:
            return torch.full((S,), 1.0 / S, dtype=DTYPE, device=self._device)
        initial = as_float_tensor(initial, "initial").to(self._device)
        check_shape(initial, [S], "initial", "p(s_1) [S]")
        check_distribution(initial, "initial", "p(s_1) over S states")
        return initial

    def _read_features(self, features):
        if features is None:
            return None
        features = as_float_tensor(features, "features").to(self._device)
        S, A = self._num_states, self._num_actions
        if features.dim() == 2:
            check_shape(features, [S, None], "features", "state features [S, F]")
            features = features[:, None, :].expand(S, A, features.shape[-1])
        check_shape(features, [S, A, None], "features", "f(s, a) [S, A, F]")
        if features.shape[-1] == 0:
            raise ValueError("features must hold at least one feature (F >= 1), got F = 0")
        check_finite(features, "features")
        return features

    def _read_available(self, available_actions) -> torch.Tensor | None:
        """The mask A(s) ``[S, A]``, or None when every action is available (the solvers' fast path)."""
        if available_actions is None:
            return None
        S, A = self._num_states, self._num_actions
        try:
            mask = torch.as_tensor(available_actions)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"available_actions must be a bool mask A(s) [S, A]: {error}") from None
        if mask.dtype != torch.bool:
            raise TypeError(f"available_actions must be a bool mask A(s) [S, A], got dtype {mask.dtype}")
        check_shape(mask, [S, A], "available_actions", "bool mask A(s) [S, A]")
        empty = (~mask.any(-1)).nonzero().squeeze(-1).tolist()
        if empty:
            raise ValueError(
                f"available_actions must allow at least one action in every state (terminal ones "
                f"included), but states {empty[:10]}{'...' if len(empty) > 10 else ''} have none"
            )
        return None if bool(mask.all()) else mask.to(self._device, copy=True)

    # ------------------------------------------------------------------ read-only views
    @property
    def num_states(self) -> int:
        """S."""
        return self._num_states

    @property
    def num_actions(self) -> int:
        """A."""
        return self._num_actions

    @property
    def rewards(self) -> torch.Tensor:
        """r(s, a) ``[S, A]``."""
        return self._rewards

    @property
    def initial(self) -> torch.Tensor:
        """p(s_1) ``[S]``."""
        return self._initial

    @property
    def discount(self) -> float:
        """γ."""
        return self._discount

    @property
    def terminal(self) -> torch.Tensor:
        """Bool mask of absorbing zero-reward states ``[S]``."""
        return self._terminal

    @property
    def available_actions(self) -> torch.Tensor:
        """A(s) as a bool mask ``[S, A]`` (all True unless given; read-only)."""
        if self._available is None:
            return torch.ones((), dtype=torch.bool, device=self._device).expand(self._num_states, self._num_actions)
        return self._available

    @property
    def all_actions_available(self) -> bool:
        """True when every action is available in every state (no mask to apply)."""
        return self._available is None

    @property
    def state_names(self) -> list[str]:
        """Labels of the states (their indices unless given)."""
        return self._state_names or [str(i) for i in range(self._num_states)]

    @property
    def action_names(self) -> list[str]:
        """Labels of the actions (their indices unless given)."""
        return self._action_names or [str(i) for i in range(self._num_actions)]

    @property
    def features(self) -> torch.Tensor | None:
        """Reward features f(s, a) ``[S, A, F]``, or None."""
        return self._features

    @property
    def layout(self):
        """Geometry for drawing (e.g. a grid layout), or None."""
        return self._layout

    @property
    def device(self) -> torch.device:
        """The device of every stored tensor; the exact solvers compute there."""
        return self._device

    @property
    def is_dense(self) -> bool:
        """True when transitions are stored as a dense ``[S, A, S']`` tensor."""
        return self._dense is not None

    @cached_property
    def transitions(self) -> torch.Tensor:
        """p(s' | s, a) as a dense ``[S, A, S']`` tensor (materialized from successor lists if needed)."""
        if self._dense is not None:
            return self._dense
        S, A = self._num_states, self._num_actions
        return torch.zeros(S, A, S, dtype=DTYPE, device=self._device).scatter_add_(-1, self._next_states, self._probs)

    @cached_property
    def _successors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._dense is None:
            return self._next_states, self._probs
        branching = max(int((self._dense > 0).sum(-1).max()), 1)
        probs, next_states = torch.topk(self._dense, branching, dim=-1)
        return next_states, probs

    @property
    def next_states(self) -> torch.Tensor:
        """Successor indices ``[S, A, K]`` (long)."""
        return self._successors[0]

    @property
    def probs(self) -> torch.Tensor:
        """Successor probabilities ``[S, A, K]``, aligned with :attr:`next_states`."""
        return self._successors[1]

    @cached_property
    def _matrix(self) -> torch.Tensor:
        """p(s'|s,a) as an ``[S*A, S']`` matrix: a dense view, or sparse CSR for successor lists."""
        S, A = self._num_states, self._num_actions
        if self._dense is not None:
            return self._dense.reshape(S * A, S)
        K = self._next_states.shape[-1]
        rows = torch.arange(S * A, device=self._device).repeat_interleave(K)
        return csr_matrix(rows, self._next_states.reshape(-1), self._probs.reshape(-1), (S * A, S))

    @cached_property
    def _matrix_transposed(self) -> torch.Tensor:
        """The ``[S', S*A]`` transpose of :attr:`_matrix` (CSR for successor lists)."""
        S, A = self._num_states, self._num_actions
        if self._dense is not None:
            return self._dense.reshape(S * A, S).T
        K = self._next_states.shape[-1]
        cols = torch.arange(S * A, device=self._device).repeat_interleave(K)
        return csr_matrix(self._next_states.reshape(-1), cols, self._probs.reshape(-1), (S, S * A))

    # ------------------------------------------------------------------ conversions
    def replace(self, **changes) -> TabularMDP:
        """A plain :class:`TabularMDP` copy with some constructor arguments changed.

        E.g. ``mdp.replace(rewards=r, discount=1.0)``. Terminal states stay terminal (their rewards
        are zeroed again if new rewards are given); the layout and ``available_actions`` are carried
        along.
        """
        unknown = set(changes) - {
            "transitions", "rewards", "initial", "discount", "terminal",
            "state_names", "action_names", "features", "layout", "available_actions",
        }
        if unknown:
            raise TypeError(f"replace() got unknown arguments {sorted(unknown)}")
        transitions = self._dense if self._dense is not None else (self._next_states, self._probs)
        arguments = dict(
            transitions=transitions, rewards=self._rewards, initial=self._initial,
            discount=self._discount, terminal=self._terminal, state_names=self._state_names,
            action_names=self._action_names, features=self._features, layout=self._layout,
            available_actions=self._available,
        )
        arguments.update(changes)
        transitions = arguments.pop("transitions")
        rewards = arguments.pop("rewards")
        return TabularMDP(transitions, rewards, **arguments)

    def with_rewards(self, rewards: torch.Tensor) -> TabularMDP:
        """This MDP with the reward table r(s, a) ``[S, A]`` replaced (zeroed on terminal states), the
        dynamics shared and not validated again: inverse RL swaps rewards at every step. Only the new
        table is checked (shape and finiteness; a diverging fit stops here with a clear error)."""
        if not isinstance(rewards, torch.Tensor):
            raise TypeError(f"rewards must be a tensor [S, A], got {type(rewards).__name__}")
        rewards = rewards.to(DTYPE)
        check_shape(rewards, [self._num_states, self._num_actions], "rewards", "r(s, a) [S, A]")
        check_finite(rewards, "rewards")
        _ = self._matrix, self._matrix_transposed  # build the dynamics' views once; every copy shares them
        copy = object.__new__(TabularMDP)
        copy.__dict__.update(self.__dict__)
        copy._rewards = torch.where(self._terminal[:, None], 0.0, rewards).contiguous()
        return copy

    def to(self, device) -> TabularMDP:
        """The same MDP with every tensor on `device` (e.g. ``"cuda"``); ``self`` if already there.

        Rewards keep their autograd history; cached operators are rebuilt on the new device.
        """
        device = torch.device(device)
        if device == self._device or (device.index is None and device.type == self._device.type):
            return self
        storage = self._dense if self._dense is not None else (self._next_states, self._probs)
        transitions = (storage.to(device) if isinstance(storage, torch.Tensor)
                       else tuple(t.to(device) for t in storage))
        features = None if self._features is None else self._features.to(device)
        return self.replace(transitions=transitions, rewards=self._rewards.to(device),
                            initial=self._initial.to(device), terminal=self._terminal.to(device),
                            features=features,
                            available_actions=None if self._available is None else self._available.to(device))

    def to_dense(self) -> TabularMDP:
        """The same MDP with dense ``[S, A, S']`` transitions."""
        if self.is_dense:
            return self
        return self.replace(transitions=self.transitions)

    def to_successors(self) -> TabularMDP:
        """The same MDP with successor-list transitions (K = the largest number of successors)."""
        if not self.is_dense:
            return self
        return self.replace(transitions=self._successors)

    # ------------------------------------------------------------------ the three operators
    def expected_next(self, values: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        r"""E_{s' ~ p(s'|s,a)}[values(s')] for values ``[S']``; returns ``[S, A]`` (into ``out``)."""
        self._check_state_vector(values, "values")
        if self._dense is None and self._next_states.numel() <= SMALL:  # sparse products cost ~1 ms
            result = (self._probs * values[self._next_states]).sum(-1)
            return result if out is None else out.copy_(result)
        flat = None if out is None else out.view(-1)
        return torch.mv(self._matrix, values, out=flat).view(self._num_states, self._num_actions)

    def backup(self, values: torch.Tensor, scale: float = 1.0, out: torch.Tensor | None = None, *,
               base: torch.Tensor | None = None) -> torch.Tensor:
        r"""r(s, a) + scale · E_{s' ~ p(s'|s,a)}[values(s')] for values ``[S']``; returns ``[S, A]``.

        One fused sparse or dense product (``torch.addmv``); ``out`` (a contiguous ``[S, A]`` tensor)
        receives the result without an extra copy. ``base`` (``[S, A]``) replaces r(s, a).
        """
        self._check_state_vector(values, "values")
        base = self._rewards if base is None else base
        if self._dense is None and self._next_states.numel() <= SMALL:
            result = torch.add(base, self.expected_next(values), alpha=scale)
            return result if out is None else out.copy_(result)
        flat = None if out is None else out.view(-1)
        result = torch.addmv(base.reshape(-1), self._matrix, values, alpha=scale, out=flat)
        return result.view(self._num_states, self._num_actions)

    def log_expected_exp_next(self, values: torch.Tensor) -> torch.Tensor:
        r"""log E_{s' ~ p(s'|s,a)}[exp values(s')] for values ``[S']``; returns ``[S, A]``.

        Exact for any magnitude of ``values`` (see ``pgm_control._logspace.log_matvec``).
        """
        self._check_state_vector(values, "values")
        return log_matvec(self._matrix, values, self._log_expected_exp_rows).view(
            self._num_states, self._num_actions)

    def _log_expected_exp_rows(self, values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """log E[exp values(s')] for flat (s, a) indices `rows`, each with its own shift."""
        if self._dense is not None:
            return logsumexp(torch.log(self._matrix[rows]) + values, dim=-1)
        K = self._next_states.shape[-1]
        successors = self._next_states.reshape(-1, K)[rows]
        return logsumexp(torch.log(self._probs.reshape(-1, K)[rows]) + values[successors], dim=-1)

    def log_push_forward(self, log_weights: torch.Tensor) -> torch.Tensor:
        r"""log Σ_{s,a} w(s, a) p(s' | s, a) for log w ``[S, A]``; returns ``[S']``.

        Propagates (unnormalized) state-action mass one step through the dynamics, in log space; no
        next state's mass underflows, however small (see ``pgm_control._logspace.log_matvec``).
        """
        if not isinstance(log_weights, torch.Tensor):
            raise TypeError(f"log_weights must be a tensor [S, A], got {type(log_weights).__name__}")
        check_shape(log_weights, [self._num_states, self._num_actions], "log_weights", "[S, A]")
        return log_matvec(self._matrix_transposed, log_weights.reshape(-1), self._log_push_forward_rows)

    def _log_push_forward_rows(self, log_weights: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """log Σ_{s,a} w(s, a) p(s'|s,a) for the next states `rows`, each with its own shift."""
        if len(rows) < self._num_states:
            return exact_log_matvec_rows(self._matrix_transposed, log_weights, rows)
        if self._dense is not None:
            return logsumexp(torch.log(self._matrix) + log_weights[:, None], dim=0)
        K = self._next_states.shape[-1]
        incoming = log_weights.view(-1, 1) + torch.log(self._probs.reshape(-1, K))
        return scatter_logsumexp(incoming.reshape(-1), self._next_states.reshape(-1), self._num_states)

    def _check_state_vector(self, values: torch.Tensor, name: str) -> None:
        if not isinstance(values, torch.Tensor):
            raise TypeError(f"{name} must be a tensor [S'] = [{self._num_states}], got {type(values).__name__}")
        if values.shape != (self._num_states,):
            raise ValueError(f"{name} must have shape [S'] = [{self._num_states}], got {shape_str(values.shape)}")

    def __repr__(self) -> str:
        storage = "dense" if self.is_dense else f"successor lists (K={self._next_states.shape[-1]})"
        return (
            f"{type(self).__name__}(S={self._num_states}, A={self._num_actions}, "
            f"discount={self._discount}, terminal={int(self._terminal.sum())}, {storage})"
        )


def _read_transitions(transitions):
    """Return (dense, next_states, probs) with exactly one storage filled in, validated."""
    if isinstance(transitions, tuple):
        if len(transitions) != 2:
            raise ValueError(
                f"successor-list transitions must be a pair (next_states, probs), got a tuple of "
                f"length {len(transitions)}"
            )
        next_states = as_index_tensor(transitions[0], "next_states")
        probs = as_float_tensor(transitions[1], "probs")
        if next_states.dim() != 3:
            raise ValueError(
                f"next_states must have shape [S, A, K], got {shape_str(next_states.shape)}"
            )
        check_shape(probs, list(next_states.shape), "probs", "[S, A, K] (the shape of next_states)")
        if 0 in next_states.shape:
            raise ValueError("successor lists need at least one state, one action and one successor, got "
                             f"next_states of shape [S, A, K] = {shape_str(next_states.shape)}")
        S = next_states.shape[0]
        if next_states.numel() and (next_states.min() < 0 or next_states.max() >= S):
            bad = ((next_states < 0) | (next_states >= S)).nonzero()[0].tolist()
            raise ValueError(
                f"next_states must hold state indices in [0, {S}), got "
                f"{next_states[tuple(bad)].item()} at index {bad}"
            )
        check_distribution(probs, "probs", "p(s' | s, a) over the successors of each (s, a)")
        return None, next_states, probs.detach()
    dense = as_float_tensor(transitions, "transitions")
    if dense.dim() != 3 or dense.shape[0] != dense.shape[2]:
        raise ValueError(
            "transitions must have shape [S, A, S'] with S' = S (or be a tuple (next_states, probs) "
            f"of [S, A, K] tensors), got {shape_str(dense.shape)}"
        )
    if dense.shape[0] == 0 or dense.shape[1] == 0:
        raise ValueError(f"transitions must have at least one state and one action, got {shape_str(dense.shape)}")
    check_distribution(dense, "transitions", "p(s' | s, a) over S'")
    return dense.detach(), None, None


def _read_names(names, size: int, name: str, symbol: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(f"{name} must be a sequence of {symbol} labels, got {names!r}")
    names = [str(n) for n in names]
    if len(names) != size:
        raise ValueError(f"{name} must have length {symbol} = {size}, got {len(names)}")
    return names
