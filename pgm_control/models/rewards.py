r"""Reward parameterizations r_ψ(s, a) for inverse RL (CS285 notes, "Inverse RL").

- :class:`LinearReward`: r_ψ(s, a) = ψᵀ f(s, a) (CS285 notes, "Feature Matching IRL"), parameters ψ ``[F]``.
- :class:`NeuralReward`: r_ψ(s, a) = MLP_ψ(f(s, a)), a small network on the same features.
- :class:`ObservationReward`: r_ψ(o, a) = MLP_ψ([o, a]) on vector observations (no table), for
  sample-based IRL in continuous spaces.

The first two produce a reward table ``[S, A]`` from features ``[S, A, F]`` (state features ``[S, F]`` are shared
by all actions), in float64 and differentiably in ψ.

Files: ``LinearReward.save(path, psi)`` / ``LinearReward.load(path)`` and ``NeuralReward.save(path)`` /
``NeuralReward.load(path)`` write the features and parameters with ``torch.save`` and read them back with
``torch.load(weights_only=True)`` (plain tensors, nothing unpickled), checked like new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_finite,
    check_layer_widths,
    check_positive_integer,
    check_seed,
    check_shape,
    shape_str,
)
from pgm_control._files import check_format, invalid_part, read_torch_file
from pgm_control.mdp import TabularMDP

REWARD_FORMAT = "pgm_control reward 1"  # a name and a version number


def read_features(features, mdp: TabularMDP | None = None) -> torch.Tensor:
    """Features f(s, a) ``[S, A, F]`` from ``[S, A, F]`` or state features ``[S, F]``; None takes
    ``mdp.features``."""
    if features is None:
        if mdp is None or mdp.features is None:
            raise ValueError("no reward features: build the MDP with features=[S, A, F] (or [S, F]), "
                             "or pass features= / reward=LinearReward(features)")
        return mdp.features
    features = as_float_tensor(features, "features")
    if features.dim() == 2:
        features = features[:, None, :].expand(features.shape[0], 1 if mdp is None else mdp.num_actions,
                                               features.shape[1])
    if features.dim() != 3:
        raise ValueError(f"features must have shape f(s, a) [S, A, F] or [S, F], got {shape_str(features.shape)}")
    if mdp is not None:
        check_shape(features, [mdp.num_states, mdp.num_actions, None], "features", "f(s, a) [S, A, F]")
    if 0 in features.shape:
        raise ValueError(f"features must have at least one state, action and feature, got shape "
                         f"{shape_str(features.shape)}")
    check_finite(features, "features")
    return features


class LinearReward:
    r"""r_ψ(s, a) = ψᵀ f(s, a) = Σ_i ψ_i f_i(s, a).

    Args:
        features: f(s, a) ``[S, A, F]`` or state features ``[S, F]``.

    Example:
        >>> import torch
        >>> reward = LinearReward(torch.eye(3))  # one indicator feature per state
        >>> reward(torch.tensor([1.0, 0.0, -1.0])).shape
        torch.Size([3, 1])
    """

    def __init__(self, features):
        self.features = read_features(features)

    @property
    def num_parameters(self) -> int:
        """F, the length of ψ."""
        return self.features.shape[-1]

    def __call__(self, psi: torch.Tensor) -> torch.Tensor:
        """The reward table ``[S, A]`` (``[..., S, A]`` for a batch of ψ ``[..., F]``)."""
        psi = as_float_tensor(psi, "psi")
        if psi.shape[-1:] != (self.num_parameters,):
            raise ValueError(f"psi must have shape [F] = [{self.num_parameters}] (one weight per feature), "
                             f"got {shape_str(psi.shape)}")
        return torch.einsum("saf,...f->...sa", self.features, psi)

    def save(self, path, psi) -> None:
        """Write the features f(s, a) ``[S, A, F]`` and the weights ψ ``[F]`` to ``path`` (plain tensors)."""
        psi = as_float_tensor(psi, "psi").detach()
        check_shape(psi, [self.num_parameters], "psi", "one weight per feature [F]")
        check_finite(psi, "psi")
        _write(path, {"format": REWARD_FORMAT, "kind": "LinearReward", "features": self.features, "psi": psi})

    @classmethod
    def load(cls, path) -> tuple[LinearReward, torch.Tensor]:
        """The reward and the weights ψ ``[F]`` that :meth:`save` wrote to ``path``; a file that is not
        such a reward raises one ``ValueError`` naming it."""
        contents = _read_reward(path, "LinearReward", {"features", "psi"})
        with invalid_part(path, "reward"):
            reward = cls(contents["features"])
            psi = as_float_tensor(contents["psi"], "psi")
            check_shape(psi, [reward.num_parameters], "psi", "one weight per feature [F]")
            check_finite(psi, "psi")
        return reward, psi

    def expand_actions(self, num_actions: int) -> LinearReward:
        """The same reward with state features broadcast to ``num_actions`` actions."""
        num_actions = _check_expansion(self.features, num_actions)
        if self.features.shape[1] == num_actions:
            return self
        return LinearReward(self.features.expand(self.features.shape[0], num_actions, self.num_parameters))


def _tanh_network(num_inputs: int, hidden: Sequence[int], seed) -> torch.nn.Sequential:
    """A float64 tanh perceptron ``[..., num_inputs] -> [..., 1]`` drawn under ``seed`` (the global RNG is
    left as it was)."""
    widths = [num_inputs, *hidden, 1]
    seed = check_seed(seed)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(widths)):
        layers.append(torch.nn.Linear(n_in, n_out, dtype=DTYPE))
        if i < len(widths) - 2:
            layers.append(torch.nn.Tanh())
    torch.random.set_rng_state(generator_state)
    return torch.nn.Sequential(*layers)


class NeuralReward(torch.nn.Module):
    r"""r_ψ(s, a) = MLP_ψ(f(s, a)): a small tanh network on the features, in float64.

    Args:
        features: f(s, a) ``[S, A, F]`` or state features ``[S, F]``.
        hidden: widths of the hidden layers.
        seed: seed of the weight initialization.

    ``forward()`` takes no input and returns the reward table ``[S, A]`` (``[S, 1]`` for state features).
    The parameters are point estimates (``pyro.module``) in :func:`pgm_control.models.irl_model`.
    """

    def __init__(self, features, hidden: Sequence[int] = (32, 32), seed: int = 0):
        super().__init__()
        self.register_buffer("features", read_features(features).contiguous())
        self.hidden = check_layer_widths(hidden)
        self.network = _tanh_network(self.features.shape[-1], self.hidden, seed).to(self.features.device)

    def forward(self) -> torch.Tensor:
        return self.network(self.features).squeeze(-1)

    def expand_actions(self, num_actions: int) -> NeuralReward:
        """Broadcast state features to ``num_actions`` actions (in place; returns self)."""
        num_actions = _check_expansion(self.features, num_actions)
        S, A, F = self.features.shape
        if A != num_actions:
            self.features = self.features.expand(S, num_actions, F).contiguous()
        return self

    def save(self, path) -> None:
        """Write the hidden widths and the ``state_dict`` (features and weights) to ``path`` (plain tensors)."""
        _write(path, {"format": REWARD_FORMAT, "kind": "NeuralReward", "hidden": list(self.hidden),
                      "state_dict": self.state_dict()})

    @classmethod
    def load(cls, path) -> NeuralReward:
        """The network :meth:`save` wrote to ``path``; a file that is not such a reward raises one
        ``ValueError`` naming it."""
        contents = _read_reward(path, "NeuralReward", {"hidden", "state_dict"})
        with invalid_part(path, "reward"):
            hidden, state = contents["hidden"], contents["state_dict"]
            if not isinstance(hidden, list) or not isinstance(state, dict) or "features" not in state:
                raise ValueError("hidden must be a list of widths and state_dict a dict holding the features")
            reward = cls(state["features"], [check_positive_integer(w, "hidden width") for w in hidden])
            reward.load_state_dict(state)
            for name, tensor in reward.state_dict().items():
                check_finite(tensor, name)
        return reward


def _write(path, contents: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(contents, path)


def _read_reward(path, kind: str, keys: set[str]) -> dict:
    """A reward file's contents: the right format and kind, exactly the expected keys."""
    contents = read_torch_file(path, "reward file")
    check_format(path, contents, REWARD_FORMAT, f"reward file written by {kind}.save")
    if contents.get("kind") != kind:
        saved = contents.get("kind")
        raise ValueError(f"{path} holds a {saved}, not a {kind}; load it with {saved}.load")
    expected = keys | {"format", "kind"}
    if set(contents) != expected:
        raise ValueError(f"{path} must hold {sorted(expected)}, got {sorted(contents)}")
    return contents


def _check_expansion(features: torch.Tensor, num_actions) -> int:
    """``num_actions`` >= 1, reachable from features ``[S, A, F]`` (A = 1 for state features, else equal)."""
    num_actions = check_positive_integer(num_actions, "num_actions")
    if features.shape[1] not in (1, num_actions):
        raise ValueError(f"the reward's features cover {features.shape[1]} actions; they cannot be "
                         f"broadcast to num_actions = {num_actions}")
    return num_actions


class ObservationReward(torch.nn.Module):
    r"""r_ψ(o, a) = MLP_ψ([o, φ(a)]) on vector observations o ``[d]`` (no table): a tanh network in float64,
    φ(a) the action itself (``Box`` actions ``[k]``), its one-hot vector (``Discrete(A)``: pass
    ``num_actions=A``) or nothing (state-only reward, the default). ``hidden=()`` is linear in [o, φ(a)].

    ``forward(observations [..., d], actions [...] or [..., k])`` returns r_ψ ``[...]``.

    Args:
        observation_dim: d.
        action_dim: k of ``Box`` actions (0: the reward ignores the action).
        num_actions: A of ``Discrete`` actions (one-hot inputs; exclusive with ``action_dim``).
        hidden: widths of the hidden layers.
        seed: seed of the weight initialization.
    """

    def __init__(self, observation_dim: int, action_dim: int = 0, *, num_actions: int = 0,
                 hidden: Sequence[int] = (32, 32), seed: int = 0):
        super().__init__()
        self.observation_dim = check_positive_integer(observation_dim, "observation_dim")
        for name, value in (("action_dim", action_dim), ("num_actions", num_actions)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if action_dim and num_actions:
            raise ValueError("pass action_dim (Box actions) or num_actions (Discrete actions), not both")
        self.action_dim, self.num_actions = action_dim, num_actions
        self.hidden = check_layer_widths(hidden)
        self.network = _tanh_network(observation_dim + action_dim + num_actions, self.hidden, seed)

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        inputs = [observations.to(DTYPE)]
        if self.num_actions:
            inputs.append(torch.nn.functional.one_hot(actions.long(), self.num_actions).to(DTYPE))
        elif self.action_dim:
            inputs.append(actions.to(DTYPE).reshape(*observations.shape[:-1], self.action_dim))
        return self.network(torch.cat(inputs, -1)).squeeze(-1)
