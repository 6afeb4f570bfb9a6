r"""Demonstrations for inverse RL: a small typed container of expert trajectories, validated once.

Batch-first like :class:`pgm_control.Trajectories`: ``states`` ``[N, T+1]`` (s_1..s_{T+1}),
``actions`` ``[N, T]``, ``lengths`` ``[N]`` (the number of actions of each episode; steps t >= length
are padding and never read), and optionally ``demonstrators`` ``[N]`` (who demonstrated each episode,
for the hierarchical model with one rationality per demonstrator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pgm_control._checks import DTYPE, as_index_tensor, check_horizon, check_positive_integer, check_shape, shape_str
from pgm_control._files import check_format, invalid_part, read_npz_file
from pgm_control.mdp import TabularMDP

DEMONSTRATIONS_FORMAT = "pgm_control demonstrations 1"  # a name and a version number


@dataclass(frozen=True, eq=False)
class Demonstrations:
    r"""N demonstrated episodes of at most T steps.

    Args:
        states: s_1..s_{T+1} as a long ``[N, T+1]`` tensor (or nested lists of equal length).
        actions: a_1..a_T as a long ``[N, T]`` tensor.
        lengths: actions per episode ``[N]``, each in 0..T (default: every episode has T). Episode i
            uses ``states[i, :lengths[i] + 1]`` and ``actions[i, :lengths[i]]``; the rest is padding
            (set to 0).
        demonstrators: optional demonstrator index ``[N]`` in 0..M-1.

    Build from sampled trajectories with :meth:`from_trajectories`, from ragged user data with
    :meth:`from_sequences`. :meth:`validate` checks them against an MDP. :meth:`save` and :meth:`load`
    store them as an ``.npz`` file of integer arrays (no pickle).

    Example:
        >>> demos = Demonstrations.from_sequences(states=[[0, 1, 2], [3, 3]], actions=[[1, 1], [0]])
        >>> demos.num_demonstrations, demos.horizon, demos.lengths.tolist()
        (2, 2, [2, 1])
        >>> demos.mask.tolist()
        [[True, True], [True, False]]
        >>> demos[1:].lengths.tolist(), len(demos)
        ([1], 2)
    """

    states: torch.Tensor
    actions: torch.Tensor
    lengths: torch.Tensor | None = None
    demonstrators: torch.Tensor | None = None

    def __post_init__(self):
        states = _index_matrix(self.states, "states", "s_1..s_{T+1} [N, T+1]")
        actions = _index_matrix(self.actions, "actions", "a_1..a_T [N, T]")
        N, T = actions.shape
        if N == 0 or T == 0:
            raise ValueError(f"demonstrations are empty: actions has shape {shape_str(actions.shape)}; "
                             "pass at least one episode with at least one action")
        check_shape(states, [N, T + 1], "states", "s_1..s_{T+1} [N, T+1] (one more than actions)")
        lengths = torch.full((N,), T, dtype=torch.long) if self.lengths is None else as_index_tensor(
            self.lengths, "lengths")
        check_shape(lengths, [N], "lengths", "actions per episode [N]")
        if lengths.min() < 0 or lengths.max() > T:
            raise ValueError(f"lengths must lie in 0..T = 0..{T}, got {lengths.tolist()}")
        mask = self._mask_for(lengths, T)
        state_mask = torch.cat([torch.ones(N, 1, dtype=torch.bool), mask], 1)
        _check_nonnegative(states[state_mask], "states")
        _check_nonnegative(actions[mask], "actions")
        states, actions = states.where(state_mask, 0), actions.where(mask, 0)  # padding: a valid index
        demonstrators = self.demonstrators
        if demonstrators is not None:
            demonstrators = as_index_tensor(demonstrators, "demonstrators")
            check_shape(demonstrators, [N], "demonstrators", "demonstrator index [N]")
            _check_nonnegative(demonstrators, "demonstrators")
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "demonstrators", demonstrators)

    @staticmethod
    def _mask_for(lengths: torch.Tensor, horizon: int) -> torch.Tensor:
        return torch.arange(horizon) < lengths[:, None]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_trajectories(cls, trajectories, demonstrators=None) -> Demonstrations:
        """From :func:`pgm_control.sample_trajectories` output (anything with ``.states``, ``.actions``)."""
        if not (hasattr(trajectories, "states") and hasattr(trajectories, "actions")):
            raise TypeError("trajectories must have .states [N, T+1] and .actions [N, T] (e.g. the output of "
                            f"sample_trajectories), got {type(trajectories).__name__}")
        return cls(trajectories.states, trajectories.actions, demonstrators=demonstrators)

    @classmethod
    def from_sequences(cls, states: Sequence[Sequence[int]], actions: Sequence[Sequence[int]],
                       demonstrators=None) -> Demonstrations:
        """From ragged lists: episode i has ``len(actions[i])`` actions and one more state."""
        if len(states) != len(actions):
            raise ValueError(f"states and actions must list the same episodes, got {len(states)} state "
                             f"sequences and {len(actions)} action sequences")
        if len(actions) == 0:
            raise ValueError("demonstrations are empty: pass at least one episode")
        for i, (s, a) in enumerate(zip(states, actions)):
            if len(s) != len(a) + 1:
                raise ValueError(f"episode {i} has {len(a)} actions, so it needs {len(a) + 1} states, "
                                 f"got {len(s)}")
        lengths = [len(a) for a in actions]
        T = max(lengths)
        padded_states = torch.zeros(len(actions), T + 1, dtype=torch.long)
        padded_actions = torch.zeros(len(actions), T, dtype=torch.long)
        for i, (s, a) in enumerate(zip(states, actions)):
            padded_states[i, :len(s)] = as_index_tensor(list(s), f"states[{i}]")
            padded_actions[i, :len(a)] = as_index_tensor(list(a), f"actions[{i}]")
        return cls(padded_states, padded_actions, lengths=lengths, demonstrators=demonstrators)

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the demonstrations to ``path`` (exactly that name) as an ``.npz`` archive of int64 arrays
        ``states``, ``actions``, ``lengths`` and, when present, ``demonstrators``, plus a ``format`` string."""
        arrays = {"format": np.array(DEMONSTRATIONS_FORMAT), "states": self.states.numpy(),
                  "actions": self.actions.numpy(), "lengths": self.lengths.numpy()}
        if self.demonstrators is not None:
            arrays["demonstrators"] = self.demonstrators.numpy()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            np.savez(file, **arrays)

    @classmethod
    def load(cls, path) -> Demonstrations:
        """The demonstrations :meth:`save` wrote to ``path``, read with ``allow_pickle=False`` and checked
        like any new ones; a file that is not such an archive raises one ``ValueError`` naming it."""
        arrays = read_npz_file(path, "demonstrations file")
        contents = {name: value.item() if name == "format" and value.shape == () else value
                    for name, value in arrays.items()}
        check_format(path, contents, DEMONSTRATIONS_FORMAT, "demonstrations file written by Demonstrations.save")
        names = {"format", "states", "actions", "lengths"}
        if not names <= set(contents) or not set(contents) <= names | {"demonstrators"}:
            raise ValueError(f"{path} must hold the arrays {sorted(names)} (and optionally demonstrators), "
                             f"got {sorted(contents)}")
        with invalid_part(path, "demonstrations"):
            tensors = {name: torch.from_numpy(value) for name, value in contents.items() if name != "format"}
            return cls(**tensors)

    def __getitem__(self, index) -> Demonstrations:
        """The episodes selected by `index` (a slice, indices or a bool mask over N), with their lengths
        and demonstrators."""
        if isinstance(index, int):
            index = [index]
        return Demonstrations(self.states[index], self.actions[index], self.lengths[index],
                              None if self.demonstrators is None else self.demonstrators[index])

    def __len__(self) -> int:
        return self.num_demonstrations

    # ------------------------------------------------------------------ views
    @property
    def num_demonstrations(self) -> int:
        """N."""
        return self.actions.shape[0]

    @property
    def horizon(self) -> int:
        """T, the padded number of steps."""
        return self.actions.shape[1]

    @property
    def num_demonstrators(self) -> int:
        """M = 1 + the largest demonstrator index (1 without demonstrator labels)."""
        return 1 if self.demonstrators is None else int(self.demonstrators.max()) + 1

    def _state_mask(self) -> torch.Tensor:
        """``[N, T+1]`` bool: s_t of episode i is demonstrated (t <= lengths[i])."""
        return torch.cat([torch.ones(self.num_demonstrations, 1, dtype=torch.bool), self.mask], 1)

    @property
    def mask(self) -> torch.Tensor:
        """``[N, T]`` bool: step t of episode i is demonstrated (t < lengths[i])."""
        return self._mask_for(self.lengths, self.horizon)

    def start_distribution(self, num_states: int) -> torch.Tensor:
        """The empirical distribution of the start states s_1, ``[S]``."""
        num_states = check_positive_integer(num_states, "num_states")
        if int(self.states[:, 0].max()) >= num_states:
            raise ValueError(f"a start state is {int(self.states[:, 0].max())}, outside 0..{num_states - 1}")
        counts = torch.bincount(self.states[:, 0], minlength=num_states).to(DTYPE)
        return counts / counts.sum()

    def feature_counts(self, features: torch.Tensor) -> torch.Tensor:
        r"""Average demonstrated feature counts (1/N) Σ_i Σ_{t < L_i} f(s_{i,t}, a_{i,t}); features
        ``[S, A, F]`` -> ``[F]``."""
        if not isinstance(features, torch.Tensor) or features.dim() != 3:
            raise ValueError(f"features must be a tensor f(s, a) [S, A, F], got {features!r:.60}")
        _check_below(self.states, self._state_mask(), features.shape[0], "states", "state of the features")
        _check_below(self.actions, self.mask, features.shape[1], "actions", "action of the features")
        visited = features[self.states[:, :-1], self.actions]  # [N, T, F]
        return (visited * self.mask[..., None]).sum((0, 1)) / self.num_demonstrations

    # ------------------------------------------------------------------ validation
    def validate(self, mdp: TabularMDP, horizon: int | None = None) -> int:
        """Check the demonstrations against `mdp` (and `horizon`); return the horizon T to use.

        Raises ``ValueError`` for a state or action out of range, a transition the dynamics give
        probability 0, or a horizon different from the demonstrations' T.
        """
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be a pgm_control.TabularMDP, got {type(mdp).__name__}")
        horizon = check_horizon(horizon)
        S, A = mdp.num_states, mdp.num_actions
        mask = self.mask
        _check_below(self.states, self._state_mask(), S, "states", "state")
        _check_below(self.actions, mask, A, "actions", "action")
        if horizon is not None and horizon != self.horizon:
            raise ValueError(
                f"horizon={horizon} but the demonstrations have T={self.horizon} steps; pass "
                "horizon=None to use theirs, or give shorter episodes as lengths= (padding to the horizon)"
            )
        log_p = transition_log_probs(mdp, self.states, self.actions)
        impossible = (log_p == -torch.inf) & mask
        if impossible.any():
            i, t = impossible.nonzero()[0].tolist()
            s, a, s_next = self.states[i, t].item(), self.actions[i, t].item(), self.states[i, t + 1].item()
            raise ValueError(
                f"demonstration {i}, step {t}: the transition {s} --{a}--> {s_next} has probability 0 "
                "under the MDP's dynamics; the demonstrations must come from this MDP"
            )
        return self.horizon


def transition_log_probs(mdp: TabularMDP, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log p(s_{t+1} | s_t, a_t) at each demonstrated step: states ``[N, T+1]``, actions ``[N, T]`` ->
    ``[N, T]`` (padding steps included; mask them)."""
    s, s_next = states[:, :-1], states[:, 1:]
    if mdp.is_dense:
        return torch.log(mdp.transitions[s, actions, s_next])
    hits = mdp.next_states[s, actions] == s_next[..., None]
    return torch.log((mdp.probs[s, actions] * hits).sum(-1))


def _index_matrix(value, name: str, meaning: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (ValueError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"{name} must be a rectangular [N, ...] array of integers ({error}); for episodes of "
                "different lengths use Demonstrations.from_sequences(states, actions)"
            ) from None
    tensor = as_index_tensor(value, name)
    if tensor.dim() != 2:
        raise ValueError(f"{name} must have shape {meaning}, got {shape_str(tensor.shape)}")
    return tensor


def _check_nonnegative(values: torch.Tensor, name: str) -> None:
    if values.numel() and values.min() < 0:
        raise ValueError(f"{name} must be non-negative indices, got {values.min().item()}")


def _check_below(values: torch.Tensor, mask: torch.Tensor, size: int, name: str, what: str) -> None:
    bad = (values >= size) & mask
    if bad.any():
        i, t = bad.nonzero()[0].tolist()
        raise ValueError(f"{name}[{i}, {t}] = {values[i, t].item()} is not a {what} of the MDP "
                         f"(valid: 0..{size - 1})")
