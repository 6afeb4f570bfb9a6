r"""Run ``imitation``'s MCE IRL (``imitation.algorithms.mce_irl.MCEIRL``); a helper of bench_irl.py.

    benchmarks/.venv-imitation/bin/python benchmarks/_imitation_mce_irl.py IN.npz OUT.npz

It runs in imitation's own venv (imitation pins gymnasium 0.29, which conflicts with pgm_control's),
so it must not import pgm_control. IN.npz holds the MDP as successor lists ``next_states`` and
``probs`` [S, A, K], the state features ``features`` [S, F] (one-hot terrains), ``initial`` [S],
``horizon`` T, the demonstrations ``demo_states`` [N, T+1] and ``demo_actions`` [N, T], ``lr`` (Adam's
step size), ``mode`` and:

* ``mode = "history"``: build ``MCEIRL`` and call its training step ``_train_step`` (the body of
  ``MCEIRL.train``'s loop, without its logging) up to ``max_steps`` times, or until ``budget_s``
  seconds of steps have passed, or until ``train``'s own stopping rule holds (‖D_π - D_demo‖_∞ ≤
  ``linf_eps`` = 1e-3 or ‖∇‖_2 ≤ ``grad_l2_eps`` = 1e-4, its defaults). Each step is timed alone; after
  each (outside the timing) the reward r_θ(s) [S] is recorded. Writes ``step_seconds`` [K],
  ``rewards`` [K+1, S] (r before the first step, then after each), and from the last step imitation's
  policy ``pi`` [T, S, A] (``mce_partition_fh`` of the final reward, as ``train`` returns it).
* ``mode = "timed"``: a fresh ``MCEIRL`` and one timed call ``train(max_iter=max_steps)``, the public
  entry point, which ends with one more ``mce_partition_fh`` for its policy. Writes ``seconds``.

The environment is a seals ``TabularModelPOMDP`` with dense ``transition_matrix`` [S, A, S'], the
features as ``observation_matrix`` (MCE IRL's reward net reads observations, its policy reads
states), ``reward_matrix`` zero (unused), ``horizon`` T and ``initial_state_dist``. The reward net is
``BasicRewardNet(use_state=True, use_action=False, hid_sizes=())``: one linear layer, r_θ(s) = wᵀ f(s)
+ b, in float64, its weights set to 0 so that it starts at the uniform policy, like pgm_control's
ψ = 0. Demonstrations are passed as ``imitation.data.types.Trajectory`` objects whose observations are
the state indices (MCE IRL indexes its occupancy measure with them).

What MCE IRL computes (imitation 1.0.1, ``mce_irl.py``), with γ = 1 and no action prior:
``mce_partition_fh`` gives Q_{T-1}(s, a) = r(s), Q_t = r(s) + Σ_{s'} p(s'|s, a) V_{t+1}(s'),
V_t = log Σ_a exp Q_t, π_t = exp(Q_t - V_t); ``mce_occupancy_measures`` propagates D_0 = initial over
T steps and sums the T + 1 state distributions; the loss is (D_π - D_demo) · r_θ, whose gradient is
expected minus demonstrated state-feature counts over the T + 1 states s_1..s_{T+1}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from _imitation_mce import dense_transitions  # the sibling helper of bench_exact.py (same venv, no pgm_control)


def build(data):
    """(env, build seconds, trajectories) from the input arrays."""
    from imitation.data import types
    from seals.base_envs import TabularModelPOMDP

    start = time.perf_counter()
    next_states, probs, features = data["next_states"], data["probs"], data["features"]
    S = next_states.shape[0]
    env = TabularModelPOMDP(
        transition_matrix=dense_transitions(next_states, probs),
        observation_matrix=features.astype(np.float64),
        reward_matrix=np.zeros(S),
        horizon=int(data["horizon"]),
        initial_state_dist=data["initial"],
    )
    build_seconds = time.perf_counter() - start
    trajectories = [types.Trajectory(obs=states, acts=actions, infos=None, terminal=True)
                    for states, actions in zip(data["demo_states"], data["demo_actions"])]
    return env, build_seconds, trajectories


def new_mce_irl(env, trajectories, lr: float):
    """A fresh MCEIRL with a zero-initialized linear reward net in float64 (logging off)."""
    import torch as th
    from imitation.algorithms.mce_irl import MCEIRL
    from imitation.rewards.reward_nets import BasicRewardNet

    reward_net = BasicRewardNet(env.observation_space, env.action_space, use_state=True, use_action=False,
                                use_next_state=False, use_done=False, hid_sizes=()).double()
    with th.no_grad():
        for parameter in reward_net.parameters():
            parameter.zero_()
    return MCEIRL(trajectories, env, reward_net, rng=np.random.default_rng(0),
                  optimizer_kwargs={"lr": lr}, discount=1.0, log_interval=None)


def reward_of(mce, obs_mat) -> np.ndarray:
    import torch as th
    from imitation.algorithms.mce_irl import squeeze_r

    with th.no_grad():
        return squeeze_r(mce.reward_net(obs_mat, None, None, None)).numpy().copy()


def history(env, trajectories, lr: float, max_steps: int, budget_s: float) -> dict:
    """Step MCE IRL as ``MCEIRL.train`` does, timing each step and recording r_θ after it."""
    import torch as th
    from imitation.algorithms.mce_irl import mce_partition_fh
    from imitation.util import util

    mce = new_mce_irl(env, trajectories, lr)
    obs_mat = th.as_tensor(env.observation_matrix, dtype=mce.reward_net.dtype)
    rewards, step_seconds, stop = [reward_of(mce, obs_mat)], [], "step cap"
    predicted = rewards[0]
    for _ in range(max_steps):
        start = time.perf_counter()
        predicted, visitations = mce._train_step(obs_mat)
        step_seconds.append(time.perf_counter() - start)
        rewards.append(reward_of(mce, obs_mat))
        # train()'s stopping rule, on the step's gradient (at the reward before the update)
        grad_norm = util.tensor_iter_norm([p.grad for p in mce.reward_net.parameters()]).item()
        linf_delta = float(np.max(np.abs(mce.demo_state_om - visitations)))
        if linf_delta <= mce.linf_eps or grad_norm <= mce.grad_l2_eps:
            stop = f"converged (linf {linf_delta:.1e}, grad {grad_norm:.1e})"
            break
        if sum(step_seconds) >= budget_s:
            stop = "time cap"
            break
    _, _, pi = mce_partition_fh(env, reward=predicted)  # what train() leaves as mce.policy.pi
    return {"step_seconds": np.array(step_seconds), "rewards": np.stack(rewards), "pi": pi,
            "stop": stop, "steps": len(step_seconds)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    import imitation
    import torch as th

    th.set_num_threads(1)
    with np.load(source) as data:
        data = {key: data[key] for key in data.files}
    env, build_seconds, trajectories = build(data)
    mode, lr, max_steps = str(data["mode"]), float(data["lr"]), int(data["max_steps"])
    info = {"build_seconds": build_seconds, "imitation_version": imitation.__version__,
            "env_class": f"{type(env).__module__}.{type(env).__name__}", "mode": mode}
    if mode == "history":
        out = history(env, trajectories, lr, max_steps, float(data["budget_s"]))
        np.savez(target, step_seconds=out["step_seconds"], rewards=out["rewards"], pi=out["pi"])
        info.update(stop=out["stop"], steps=out["steps"])
    elif mode == "timed":
        mce = new_mce_irl(env, trajectories, lr)
        start = time.perf_counter()
        mce.train(max_iter=max_steps)
        info["seconds"] = time.perf_counter() - start
        np.savez(target, pi=mce.policy.pi)
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    target.with_suffix(".json").write_text(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
