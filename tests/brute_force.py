"""Independent truth for tiny MDPs: enumerate every trajectory with itertools and numpy.

Nothing here imports pgm_control. A trajectory is τ = (s_1, a_1, ..., s_T, a_T) and its weight in the
model with optimality variables is

    p(τ, O_{1:T}) = p(s_1) Π_t p(a_t|s_t) exp(r(s_t, a_t)) Π_{t<T} p(s_{t+1}|s_t, a_t).
"""

from __future__ import annotations

import itertools

import numpy as np


def trajectory_weights(P, r, p0, prior, T):
    """All trajectories as arrays states [N, T], actions [N, T] and weights [N] = p(τ, O_{1:T})."""
    S, A = r.shape
    states, actions, weights = [], [], []
    for s_seq in itertools.product(range(S), repeat=T):
        for a_seq in itertools.product(range(A), repeat=T):
            w = p0[s_seq[0]]
            for t in range(T):
                w *= prior[s_seq[t], a_seq[t]] * np.exp(r[s_seq[t], a_seq[t]])
                if t + 1 < T:
                    w *= P[s_seq[t], a_seq[t], s_seq[t + 1]]
            states.append(s_seq)
            actions.append(a_seq)
            weights.append(w)
    return np.array(states), np.array(actions), np.array(weights)


def log_evidence(P, r, p0, prior, T):
    _, _, w = trajectory_weights(P, r, p0, prior, T)
    return np.log(w.sum())


def state_marginals(P, r, p0, prior, T):
    """p(s_t | O_{1:T}) [T, S]."""
    states, _, w = trajectory_weights(P, r, p0, prior, T)
    S = r.shape[0]
    out = np.zeros((T, S))
    for t in range(T):
        np.add.at(out[t], states[:, t], w)
    return out / w.sum()


def posterior_policy(P, r, p0, prior, T):
    """p(a_t | s_t, O_{1:T}) [T, S, A]; NaN where p(s_t | O_{1:T}) = 0."""
    states, actions, w = trajectory_weights(P, r, p0, prior, T)
    S, A = r.shape
    joint = np.zeros((T, S, A))
    for t in range(T):
        np.add.at(joint[t], (states[:, t], actions[:, t]), w)
    with np.errstate(invalid="ignore"):
        return joint / joint.sum(-1, keepdims=True)


def posterior_transition(P, r, p0, prior, T):
    """p(s_{t+1} | s_t, a_t, O_{1:T}) [T-1, S, A, S]; NaN where (s_t, a_t) has no posterior mass."""
    states, actions, w = trajectory_weights(P, r, p0, prior, T)
    S, A = r.shape
    joint = np.zeros((T - 1, S, A, S))
    for t in range(T - 1):
        np.add.at(joint[t], (states[:, t], actions[:, t], states[:, t + 1]), w)
    with np.errstate(invalid="ignore"):
        return joint / joint.sum(-1, keepdims=True)


def elbo(P, r, p0, prior, policy, T):
    """E_q[Σ_t r(s_t, a_t) + log p(a_t|s_t) - log q(a_t|s_t)] for q = p(s_1) Π q(a_t|s_t) p(s_{t+1}|s_t, a_t)
    with a time-indexed policy [T, S, A], by enumeration."""
    S, A = r.shape
    total = 0.0
    for s_seq in itertools.product(range(S), repeat=T):
        for a_seq in itertools.product(range(A), repeat=T):
            q = p0[s_seq[0]]
            gain = 0.0
            for t in range(T):
                s, a = s_seq[t], a_seq[t]
                q *= policy[t, s, a]
                gain += r[s, a] + np.log(prior[s, a]) - np.log(policy[t, s, a]) if policy[t, s, a] > 0 else 0.0
                if t + 1 < T:
                    q *= P[s, a, s_seq[t + 1]]
            if q > 0:  # trajectories of probability 0 contribute nothing (0·log 0 = 0)
                total += q * gain
    return total


def tiny_mdp(seed, S=3, A=2, deterministic=False):
    """A random dense MDP (numpy) for enumeration: P [S, A, S], r [S, A] <= 0, p0 [S], prior [S, A]."""
    rng = np.random.default_rng(seed)
    if deterministic:
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(S, size=(S, A))] = 1.0
    else:
        P = rng.dirichlet(np.ones(S), size=(S, A))
    r = -rng.exponential(1.0, size=(S, A))
    p0 = rng.dirichlet(np.ones(S))
    prior = rng.dirichlet(np.ones(A), size=S)
    return P, r, p0, prior
