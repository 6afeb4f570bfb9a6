r"""Run ``imitation``'s ``mce_partition_fh`` on an MDP given as successor lists; a helper of bench_exact.py.

    benchmarks/.venv-imitation/bin/python benchmarks/_imitation_mce.py IN.npz OUT.npz

It runs in imitation's own venv (imitation pins gymnasium 0.29, which conflicts with pgm_control's),
so it must not import pgm_control. IN.npz holds ``next_states`` and ``probs`` [S, A, K] (p(s'|s,a)
= Σ_k probs[s, a, k] [next_states[s, a, k] = s']), ``reward`` r(s) [S], ``initial`` [S] and
``horizon`` T. ``mce_partition_fh`` takes a seals ``TabularModelPOMDP`` (dense ``transition_matrix``
[S, A, S'], ``reward_matrix``, ``horizon``, ``initial_state_dist``, ``observation_matrix``) and
supports state-only rewards r(s) only (it broadcasts ``reward[:, None]`` against Q [S, A]). It
computes, with γ = 1 and no action prior (Ziebart 2010, eqs. 9.1-9.3):

    Q_{T-1}(s, a) = r(s),   Q_t(s, a) = r(s) + Σ_{s'} p(s'|s,a) V_{t+1}(s'),
    V_t(s) = log Σ_a exp Q_t(s, a),   π_t(a|s) = exp(Q_t(s, a) - V_t(s)).

Writes OUT.npz (``V`` [T, S], ``pi`` [T, S, A]) and OUT.json next to it (best and all times of
``mce_partition_fh`` after one warm-up call, the environment's build time, versions).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPEATS = 3


def dense_transitions(next_states: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """[S, A, S'] from successor lists (repeated successors add up)."""
    S, A, K = next_states.shape
    transitions = np.zeros((S, A, S))
    s, a, _ = np.indices((S, A, K), sparse=True)
    np.add.at(transitions, (s, a, next_states), probs)
    return transitions


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    import imitation
    from imitation.algorithms.mce_irl import mce_partition_fh
    from seals.base_envs import TabularModelPOMDP

    with np.load(source) as data:
        next_states, probs = data["next_states"], data["probs"]
        reward, initial, horizon = data["reward"], data["initial"], int(data["horizon"])
    start = time.perf_counter()
    S = next_states.shape[0]
    env = TabularModelPOMDP(
        transition_matrix=dense_transitions(next_states, probs),
        observation_matrix=np.eye(S, dtype=np.float32),  # fully observed: one-hot observations
        reward_matrix=reward,
        horizon=horizon,
        initial_state_dist=initial,
    )
    build_seconds = time.perf_counter() - start

    mce_partition_fh(env)  # warm-up
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        V, _, pi = mce_partition_fh(env)
        seconds.append(time.perf_counter() - start)
    np.savez(target, V=V, pi=pi)
    target.with_suffix(".json").write_text(json.dumps({
        "seconds": min(seconds),
        "all_seconds": seconds,
        "build_seconds": build_seconds,
        "env_class": f"{type(env).__module__}.{type(env).__name__}",
        "imitation_version": imitation.__version__,
        "numpy_version": np.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
