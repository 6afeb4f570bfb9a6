"""Validation at the boundary: every public entry point converts and checks its inputs here, once.

Errors name the argument, the expected shape or range, and what was received, so that a user never
meets a shape error from deep inside torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from pathlib import Path

import torch

DTYPE = torch.float64
PROB_ATOL = 1e-6


def shape_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def as_float_tensor(value, name: str) -> torch.Tensor:
    """Convert array-likes to a float64 tensor; keep autograd history of float tensors."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {value.dtype}")
        return value.to(DTYPE)
    try:
        return torch.as_tensor(value, dtype=DTYPE)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a tensor or a nested sequence of numbers ({error})") from None


def as_index_tensor(value, name: str) -> torch.Tensor:
    """Convert array-likes of integers to an int64 tensor."""
    tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        if tensor.is_floating_point() and torch.equal(tensor, tensor.round()):
            return tensor.long()
        raise TypeError(f"{name} must hold integers, got dtype {tensor.dtype}")
    return tensor.long()


def check_shape(tensor: torch.Tensor, expected: Sequence[int | None], name: str, meaning: str) -> None:
    """Check `tensor.shape` against `expected` (None matches any size); `meaning` names the axes."""
    ok = tensor.dim() == len(expected) and all(
        e is None or int(s) == int(e) for s, e in zip(tensor.shape, expected)
    )
    if not ok:
        shown = "[" + ", ".join("?" if e is None else str(int(e)) for e in expected) + "]"
        raise ValueError(f"{name} must have shape {meaning} = {shown}, got {shape_str(tensor.shape)}")


def check_finite(tensor: torch.Tensor, name: str) -> None:
    # aminmax propagates NaN and shows ±inf at the ends: one cheap pass instead of isfinite + all.
    if tensor.numel() and not all(map(math.isfinite, torch.aminmax(tensor.detach()))):
        bad = (~torch.isfinite(tensor)).nonzero()[0].tolist()
        raise ValueError(f"{name} must be finite, got {tensor[tuple(bad)].item()} at index {bad}")


def check_distribution(tensor: torch.Tensor, name: str, what: str) -> None:
    """Check that the last axis of `tensor` holds probability vectors (tolerance 1e-6)."""
    check_finite(tensor, name)
    if tensor.numel() and torch.aminmax(tensor.detach()).min < 0:
        bad = (tensor < 0).nonzero()[0].tolist()
        raise ValueError(
            f"{name} must be non-negative probabilities ({what}), got {tensor[tuple(bad)].item():.3g} "
            f"at index {bad}"
        )
    totals = tensor.sum(-1)
    off = (totals - 1).abs() > PROB_ATOL
    if off.any():
        bad = off.nonzero()[0].tolist()
        raise ValueError(
            f"{name} must sum to 1 over its last axis ({what}), but sums to "
            f"{totals[tuple(bad)].item():.9g} at index {bad}"
        )


def check_indices(tensor: torch.Tensor, bound: int, name: str, what: str = "") -> None:
    """Every entry of the integer `tensor` an index in 0..bound-1; ``what`` (e.g. " (arm indices)") names them."""
    if tensor.numel() and not 0 <= int(tensor.min()) <= int(tensor.max()) < bound:
        raise ValueError(f"{name} must lie in 0..{bound - 1}{what}, got values in [{int(tensor.min())}, "
                         f"{int(tensor.max())}]")


def check_probabilities(tensor: torch.Tensor, name: str) -> None:
    """Every entry of `tensor` a probability in [0, 1] (NaN rejected too)."""
    if tensor.numel() and not bool(((tensor >= 0) & (tensor <= 1)).all()):  # also rejects NaN
        raise ValueError(f"{name} must hold probabilities in [0, 1], got values in [{tensor.min().item():.6g}, "
                         f"{tensor.max().item():.6g}]" + (" (NaN included)" if bool(tensor.isnan().any()) else ""))


def check_broadcastable(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Elementwise functions of two tensors need shapes that broadcast together."""
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"{name_a} {shape_str(a.shape)} and {name_b} {shape_str(b.shape)} must broadcast "
                         "together (equal sizes or 1 on each axis)") from None


def check_real(value, name: str, expected: str) -> float:
    """Accept Python, NumPy and 0-d tensor reals; reject bools and non-numbers with a TypeError."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")
    return float(value)


def check_discount(discount) -> float:
    discount = check_real(discount, "discount", "a number in [0, 1]")
    if not 0.0 <= discount <= 1.0:  # also rejects NaN
        raise ValueError(f"discount must lie in [0, 1], got {discount}")
    return discount


def check_horizon(horizon, *, required: bool = False) -> int | None:
    if horizon is None:
        if required:
            raise ValueError("horizon is required here: pass a positive integer T")
        return None
    horizon = check_integer(horizon, "horizon")
    if horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon}")
    return horizon


def check_integer(value, name: str, what: str = "a positive integer") -> int:
    """Accept Python, NumPy and 0-d integer tensors; reject bools and floats with a TypeError saying
    that `name` must be `what`."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {_short_repr(value)}")
    return int(value)


def _short_repr(value, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters (a tensor passed by mistake prints no wall of numbers)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


MAX_SEED = 2**63 - 1  # torch.Generator takes seeds below 2**64; the headroom leaves room for seed + offset


def check_seed(seed, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63 - 1] (NumPy rejects negative seeds, torch those >= 2**64)."""
    seed = check_integer(seed, name, "a non-negative integer")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {seed}")
    return seed


def check_positive_integer(value, name: str, allow_zero: bool = False) -> int:
    """An integer >= 1 (>= 0 with ``allow_zero``), with a ValueError naming `name` otherwise."""
    what = f"a {'non-negative' if allow_zero else 'positive'} integer"
    value = check_integer(value, name, what)
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_temperature(temperature) -> float:
    temperature = check_real(temperature, "temperature", "a non-negative number")
    if not 0.0 <= temperature < math.inf:  # also rejects NaN
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    return temperature


def check_tolerance(tol, name: str = "tol") -> float:
    """A stopping tolerance: a finite number >= 0 (NaN would never stop a loop, inf stops it at once)."""
    tol = check_real(tol, name, "a finite number >= 0")
    if not 0.0 <= tol < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be a finite number >= 0, got {tol}")
    return tol


def check_learning_rate(lr, name: str = "lr") -> float:
    """A step size: a finite number > 0."""
    lr = check_real(lr, name, "a positive step size")
    if not 0.0 < lr < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be a positive, finite step size, got {lr}")
    return lr


def check_positive(value, name: str, meaning: str = "") -> float:
    """A finite number > 0; ``meaning`` (e.g. " (the reward noise standard deviation)") ends the messages."""
    value = check_real(value, name, f"a positive number{meaning}")
    if not 0.0 < value < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be a positive, finite number{meaning}, got {value}")
    return value


def check_nonnegative(value, name: str, meaning: str = "") -> float:
    """A finite number >= 0; ``meaning`` (e.g. " (the λ of the hybrid objective)") ends the messages."""
    value = check_real(value, name, f"a number >= 0{meaning}")
    if not 0.0 <= value < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be a finite number >= 0{meaning}, got {value}")
    return value


def check_layer_widths(widths, name: str = "hidden") -> tuple[int, ...]:
    """Hidden-layer widths: a sequence of positive integers, e.g. ``(32, 32)``."""
    if isinstance(widths, str) or not isinstance(widths, Sequence):
        raise TypeError(f"{name} must be a sequence of positive integers (layer widths, e.g. (32, 32)), "
                        f"got {widths!r}")
    return tuple(check_positive_integer(width, f"{name}[{i}]") for i, width in enumerate(widths))


def check_writable_folder(path, name: str = "out") -> Path:
    """Create the folder `path` if needed and check that a file can be written in it (before a long run)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".pgm_control_write_test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ValueError(f"{name}: cannot write to {path} ({error.strerror or error})") from None
    return path
