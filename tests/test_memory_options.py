"""Soft value iteration's storage options (keep="all" | "policy" | "v"), the per-step accessors, the
fused soft Bellman step at extreme magnitudes, and the device of the exact solvers.

Truth is a NumPy loop written here (per-row shifted log-sum-exp over actions and, for the optimistic
backup, over next states), which is exact for any magnitude of rewards and values."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pgm_control.envs import random_mdp
from pgm_control.inference import log_evidence, soft_value_iteration

F64 = torch.float64


def row_logsumexp(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """log Σ_j weights[..., j] exp(x[..., j]) with a per-row shift (weights >= 0)."""
    x = np.where(weights > 0, x, -np.inf)
    shift = x.max(-1, keepdims=True)
    return np.log((weights * np.exp(x - shift)).sum(-1)) + shift[..., 0]


def numpy_soft_vi(P, r, prior, gamma, alpha, T, backup):
    """Q [T, S, A] and V [T, S] of finite-horizon soft value iteration, V_T = 0."""
    S, A = r.shape
    q_all, v_all, v = np.empty((T, S, A)), np.empty((T, S)), np.zeros(S)
    for t in reversed(range(T)):
        if backup == "expected":
            q = r + gamma * P @ v
        else:
            log_continue = row_logsumexp(np.broadcast_to(v / alpha, P.shape), P)
            if gamma < 1:
                log_continue = np.logaddexp(log_continue + math.log(gamma), math.log1p(-gamma))
            q = r + alpha * log_continue
        v = alpha * row_logsumexp(q / alpha, prior)
        q_all[t], v_all[t] = q, v
    return q_all, v_all


def case(seed, *, spread=1.0, dense=False, gamma=1.0):
    """A random MDP with rewards scaled by `spread`, a non-uniform prior with a zero entry."""
    mdp = random_mdp(6, 3, branching=3, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    rewards = spread * torch.randn(6, 3, generator=generator, dtype=F64)
    mdp = mdp.replace(rewards=rewards, discount=gamma)
    mdp = mdp.to_dense() if dense else mdp
    prior = torch.rand(6, 3, generator=generator, dtype=F64)
    prior[2, 1] = 0.0
    prior = prior / prior.sum(-1, keepdim=True)
    return mdp, prior


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("keep", ["all", "policy", "v"])
@pytest.mark.parametrize("dense", [False, True])
def test_every_keep_option_gives_the_numpy_tables(backup, keep, dense):
    mdp, prior = case(0, dense=dense, gamma=0.9)
    T, alpha = 4, 0.7
    q_ref, v_ref = numpy_soft_vi(mdp.transitions.numpy(), mdp.rewards.numpy(), prior.numpy(), 0.9, alpha, T,
                                 backup)
    result = soft_value_iteration(mdp, T, alpha, backup, action_prior=prior, keep=keep)
    with np.errstate(divide="ignore"):  # log p(a|s) = -inf for the zero-prior action
        log_pi_ref = np.log(prior.numpy()) + (q_ref - v_ref[..., None]) / alpha
    np.testing.assert_allclose(result.v.numpy(), v_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.q.numpy(), q_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.log_policy.numpy(), log_pi_ref, rtol=0, atol=1e-12)
    for t in range(T):
        np.testing.assert_allclose(result.q_at(t).numpy(), q_ref[t], rtol=0, atol=1e-12)
        np.testing.assert_allclose(result.log_policy_at(t).numpy(), log_pi_ref[t], rtol=0, atol=1e-12)
        np.testing.assert_allclose(result.policy_at(t).numpy(), np.exp(log_pi_ref[t]), rtol=0, atol=1e-12)


def test_what_each_keep_option_stores():
    mdp, _ = case(1)
    shapes = {}
    for keep in ("all", "policy", "v"):
        result = soft_value_iteration(mdp, 5, keep=keep)
        shapes[keep] = (result.q_table is None, result.log_policy_table is None)
        assert tuple(result.v.shape) == (5, 6)
    assert shapes == {"all": (False, True), "policy": (True, False), "v": (True, True)}


def test_stationary_result_keeps_the_same_options():
    mdp, _ = case(2, gamma=0.8)
    full = soft_value_iteration(mdp, temperature=0.5)
    for keep in ("policy", "v"):
        lean = soft_value_iteration(mdp, temperature=0.5, keep=keep)
        torch.testing.assert_close(lean.log_policy, full.log_policy, rtol=0, atol=1e-9)
        torch.testing.assert_close(lean.log_policy_at(0), full.log_policy, rtol=0, atol=1e-9)


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("keep", ["all", "v"])
def test_fused_step_is_exact_when_whole_states_underflow(backup, keep):
    """State 0 pays -3000 for every action: its soft maximum underflows any shift shared with the
    other states (exp(-3000) = 0), so the per-state exact recomputation must take over. Action 0 of
    state 1 leads to state 0 for sure, so its optimistic E[exp(V/α)] underflows any shared shift too."""
    mdp, prior = case(3, dense=True)
    rewards, transitions = mdp.rewards.clone(), mdp.transitions.clone()
    rewards[0] = -3000.0 + rewards[0]
    transitions[1, 0] = torch.nn.functional.one_hot(torch.tensor(0), 6).to(F64)
    mdp = mdp.replace(rewards=rewards, transitions=transitions)
    T, alpha = 5, 0.5
    P = mdp.transitions.numpy()
    q_ref, v_ref = numpy_soft_vi(P, rewards.numpy(), prior.numpy(), 1.0, alpha, T, backup)
    result = soft_value_iteration(mdp, T, alpha, backup, action_prior=prior, keep=keep)
    assert np.isfinite(result.v.numpy()).all()
    np.testing.assert_allclose(result.v.numpy(), v_ref, rtol=1e-14, atol=1e-10)
    np.testing.assert_allclose(result.q_at(0).numpy(), q_ref[0], rtol=1e-14, atol=1e-10)


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_fused_step_equals_the_differentiable_route(backup):
    """The in-place fused step (no autograd) and the two-operator route used under autograd agree,
    and gradients flow through q_at of a keep="v" result."""
    mdp, prior = case(4)
    rewards = mdp.rewards.clone().requires_grad_(True)
    tracked = soft_value_iteration(mdp.replace(rewards=rewards), 6, 1.3, backup, action_prior=prior, keep="v")
    fused = soft_value_iteration(mdp, 6, 1.3, backup, action_prior=prior, keep="v")
    torch.testing.assert_close(tracked.v.detach(), fused.v, rtol=0, atol=1e-12)
    (gradient,) = torch.autograd.grad(tracked.q_at(0).sum() + tracked.v[0].sum(), rewards)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_bad_keep_and_time_steps_are_clear_errors():
    mdp, _ = case(5)
    with pytest.raises(ValueError, match="keep must be one of"):
        soft_value_iteration(mdp, 3, keep="q")
    result = soft_value_iteration(mdp, 3, keep="v")
    for t in (3, -1, 1.0, True):
        with pytest.raises(ValueError, match="t must be an integer time step with 0 <= t < T = 3"):
            result.q_at(t)


def test_mdp_device_and_to():
    mdp, _ = case(6)
    assert mdp.device == torch.device("cpu")
    assert mdp.to("cpu") is mdp
    assert soft_value_iteration(mdp, 3).v.device == mdp.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_exact_solvers_run_on_the_mdps_cuda_device(backup):
    mdp, prior = case(7, gamma=1.0)
    gpu = mdp.to("cuda")
    assert gpu.device.type == "cuda" and gpu.rewards.device.type == "cuda"
    for keep in ("all", "v"):
        on_gpu = soft_value_iteration(gpu, 5, backup=backup, action_prior=prior.cuda(), keep=keep)
        on_cpu = soft_value_iteration(mdp, 5, backup=backup, action_prior=prior, keep=keep)
        assert on_gpu.v.device.type == "cuda"
        torch.testing.assert_close(on_gpu.v.cpu(), on_cpu.v, rtol=0, atol=1e-12)
        torch.testing.assert_close(on_gpu.log_policy_at(0).cpu(), on_cpu.log_policy_at(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(log_evidence(gpu, 5).cpu(), log_evidence(mdp, 5), rtol=0, atol=1e-12)


PEAK_RSS_SCRIPT = textwrap.dedent("""
    import sys, torch
    from pgm_control.envs import random_mdp
    from pgm_control.inference import soft_value_iteration

    def status_kib(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

    mdp = random_mdp(100_000, 4, branching=3, seed=0)
    soft_value_iteration(mdp, 2, keep=sys.argv[1])  # builds the cached operators
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current RSS: building the MDP peaked higher
    before = status_kib("VmRSS")
    result = soft_value_iteration(mdp, 100, keep=sys.argv[1])
    policy = result.log_policy_at(0) if sys.argv[1] == "v" else result.log_policy
    print((status_kib("VmHWM") - before) / 2**20)
""")


def peak_rss_growth_gib(keep: str) -> float:
    completed = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, keep], capture_output=True, text=True,
                               check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(completed.stdout.split()[-1])


@pytest.mark.slow
def test_peak_memory_of_each_keep_option():
    """S = 10^5, A = 4, T = 100: a [T, S, A] table is 0.30 GiB and v [T, S] 0.075 GiB. Reading the
    policy costs two tables with keep="all", one with "policy", none with "v" (up to a few
    [S, A] workspaces, 3 MiB each, and allocator slack: 0.05 GiB of margin)."""
    table, values = 100 * 100_000 * 4 * 8 / 2**30, 100 * 100_000 * 8 / 2**30
    growth = {keep: peak_rss_growth_gib(keep) for keep in ("all", "policy", "v")}
    assert growth["all"] == pytest.approx(2 * table + values, abs=0.05)
    assert growth["policy"] == pytest.approx(table + values, abs=0.05)
    assert growth["v"] == pytest.approx(values, abs=0.05)
