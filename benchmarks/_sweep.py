r"""Seed and hyperparameter sweeps of the benchmarks, run through Ray (the ``sweep`` extra:
``pip install pgm_control[sweep]``): each configuration is one Ray task, on a local Ray started for
the sweep (``address=None``) or on an existing cluster (``address="ray://host:10001"`` or ``"auto"``).

    results = run_sweep(train_one_seed, [{"seed": s} for s in range(5)])   # = [fn(**c) for c in configs]

Without ``--ray`` the benchmarks call :func:`sweep` with ``ray_address=None`` and run the same
configurations in turn in their own process, so their recorded figures do not depend on Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

LOCAL = ""  # ``--ray`` without an address: a local Ray


def run_sweep(fn: Callable, configs: Sequence[dict], address: str | None = None,
              num_cpus: int | None = None) -> list:
    """``[fn(**config) for config in configs]``, each call a Ray task of one CPU, results in order.

    Args:
        fn: a picklable function; each result must be picklable too.
        configs: keyword arguments of each call.
        address: an existing Ray cluster (``ray.init(address=...)``); None starts a local Ray with
            ``num_cpus`` CPUs (all by default) for this sweep and shuts it down after.
        num_cpus: CPUs of the local Ray; only with ``address=None``.
    """
    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus sizes a local Ray; a cluster given by address has its own CPUs")
    try:
        import ray
    except ImportError as error:
        raise ImportError("run_sweep needs Ray: pip install 'pgm_control[sweep]'") from error
    started = not ray.is_initialized()
    if started:
        # the workers import the benchmark's helpers (_report, ...) and pgm_control as the driver does
        path = os.pathsep.join(p for p in sys.path if p)
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        task = ray.remote(num_cpus=1)(fn)
        return ray.get([task.remote(**config) for config in configs])
    finally:
        if started:
            ray.shutdown()


def sweep(fn: Callable, configs: Sequence[dict], ray_address: str | None = None) -> list:
    """``[fn(**config) for config in configs]``: in this process, in turn, when ``ray_address`` is None;
    else through :func:`run_sweep` (``LOCAL``, the empty string, for a local Ray)."""
    if ray_address is None:
        return [fn(**config) for config in configs]
    return run_sweep(fn, configs, address=ray_address or None)


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]``: run the sweep's configurations as Ray tasks (local Ray, or the cluster at ADDRESS)."""
    parser.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                        help="run the seeds as Ray tasks: a local Ray, or the cluster at ADDRESS "
                             "(needs pip install 'pgm_control[sweep]'; default: in turn, in this process)")
