r"""Grading checks for assignment 08, learning from demonstrations without a model.

As in :mod:`pgm_control.course.checks`: each check builds a randomized instance from its seed, calls the
student's function, and raises ``AssertionError`` naming the first wrong number, against the library's
:func:`~pgm_control.inference.sample_irl_objective`, :func:`~pgm_control.models.empirical_policy` and
:func:`~pgm_control.inference.state_distributions` and :func:`~pgm_control.rl.demonstrations_rl.hybrid_surrogate`
(differentiated by autograd). Where a wrong answer matches a known mistake (the weights without the action
prior, the unweighted first form, padding counted as demonstrated steps, the expert's states instead of the
clone's, a score function without its -π term, the whole return in place of the reward-to-go), the message
says which.
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE
from pgm_control.course.checks import call, compare
from pgm_control.course.checks_learning import _terrain_label, compare_or_explain
from pgm_control.envs import random_mdp, terrain_gridworld

# Policy samples per instance of questions 1-2, and the offset that puts every r_ψ(τ_j) near 1000, where
# exp(r) overflows float64 (exp(710) = inf): the weights must be normalized in log space.
NUM_SAMPLES, REWARD_OFFSET = 12, 1000.0


def _sample_label(index: tuple[int, ...]) -> str:
    return f"sample {index[0]}"


# ---- Question 1: self-normalized importance weights and their ESS ------------------------------

def weights_instance(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """r_ψ(τ_j), log π(τ_j) and log p(τ_j) of M = 12 samples ``[M]`` each; the rewards near 1000."""
    generator = torch.Generator().manual_seed(seed)
    rewards = REWARD_OFFSET + 3.0 * torch.randn(NUM_SAMPLES, generator=generator, dtype=DTYPE)
    log_probs = -4.0 * torch.rand(NUM_SAMPLES, generator=generator, dtype=DTYPE) - 1.0
    log_priors = -4.0 * torch.rand(NUM_SAMPLES, generator=generator, dtype=DTYPE) - 1.0
    return rewards, log_probs, log_priors


def check_importance_weights(importance_weights, seed) -> None:
    """``importance_weights(sample_rewards, sample_log_probs, sample_log_priors) -> (weights [M], ess)``:
    w̄_j ∝ exp(r_ψ(τ_j)) p(τ_j) / π(τ_j), summing to 1, and ESS = (Σ w)² / Σ w²."""
    from pgm_control.inference import sample_irl_objective

    rewards, log_probs, log_priors = weights_instance(seed)
    exact = sample_irl_objective(torch.zeros(1, dtype=DTYPE), rewards, log_probs, sample_log_priors=log_priors)
    answer = call(importance_weights, rewards.clone(), log_probs.clone(), log_priors.clone())
    if not (isinstance(answer, tuple | list) and len(answer) == 2):
        raise AssertionError(f"importance_weights: got {type(answer).__name__}, expected a pair (weights [M], ess)")
    weights, ess = answer
    got = torch.as_tensor(weights, dtype=DTYPE).detach() if isinstance(weights, torch.Tensor) else None
    if got is not None and got.shape == exact.weights.shape and not bool(got.isfinite().all()):
        raise AssertionError(f"w̄: got {got.tolist()[:3]}..., expected finite weights (r_ψ(τ) ≈ {REWARD_OFFSET:g} "
                             "here and exp overflows: normalize in log space, e.g. torch.softmax(log_w, 0))")
    mistakes = [
        (torch.softmax(rewards - log_probs, 0), "the action prior p(τ_j) is missing from w_j"),
        (torch.softmax(rewards + log_priors + log_probs, 0), "w_j divides by π(τ_j): subtract log π, do not add it"),
    ]
    compare_or_explain("w̄", weights, exact.weights, _sample_label, mistakes=mistakes)
    compare("ESS", ess, torch.tensor(exact.ess, dtype=DTYPE))


# ---- Question 2: the sample-based IRL gradient ------------------------------------------------

def gradient_instance(seed: int):
    """A 3-4 wide terrain grid (2-4 terrains), T = 3-5, 20 demonstrations of the soft-optimal expert,
    M = 12 samples of a random time-indexed policy with their log π(τ) ``[M]``, and a probe ψ ``[K]``."""
    from pgm_control import sample_trajectories
    from pgm_control.inference import soft_value_iteration

    generator = torch.Generator().manual_seed(seed)
    size = int(torch.randint(3, 5, (), generator=generator))
    num_terrains = int(torch.randint(2, 5, (), generator=generator))
    horizon = int(torch.randint(3, 6, (), generator=generator))
    mdp = terrain_gridworld(size=size, num_terrains=num_terrains,
                            weights=torch.randn(num_terrains, generator=generator, dtype=DTYPE), seed=seed)
    expert = soft_value_iteration(mdp, horizon, progress=False)
    demos = sample_trajectories(mdp, expert.policy, horizon, 20, generator=generator)
    log_policy = torch.log_softmax(torch.randn(horizon, mdp.num_states, mdp.num_actions, generator=generator,
                                               dtype=DTYPE), -1)
    samples = sample_trajectories(mdp, log_policy.exp(), horizon, NUM_SAMPLES, generator=generator)
    log_probs = log_policy[torch.arange(horizon), samples.states[:, :-1], samples.actions].sum(-1)
    psi = torch.randn(num_terrains, generator=generator, dtype=DTYPE)
    return mdp, demos, samples, log_probs, psi


def check_sample_irl_gradient(sample_irl_gradient, seed) -> None:
    """``sample_irl_gradient(features, demo_states, demo_actions, sample_states, sample_actions,
    sample_log_probs, psi) -> ∇_ψ L̂ [K]``: demonstrated feature counts minus their self-normalized
    importance-weighted average over the samples (a uniform action prior, fixed-length episodes)."""
    from pgm_control.inference import sample_irl_objective, trajectory_rewards
    from pgm_control.models import LinearReward

    mdp, demos, samples, log_probs, psi = gradient_instance(seed)
    features = LinearReward(mdp.features).features  # [S, A, K]

    def estimate(weighting: str) -> torch.Tensor:
        variable = psi.clone().requires_grad_(True)
        table = features @ variable
        demo_rewards = trajectory_rewards(table, demos.states, demos.actions, torch.ones_like(demos.actions).bool())
        sample_rewards = trajectory_rewards(table, samples.states, samples.actions,
                                            torch.ones_like(samples.actions).bool())
        objective = sample_irl_objective(demo_rewards, sample_rewards, log_probs, weighting=weighting)
        (gradient,) = torch.autograd.grad(objective.value, variable)
        return gradient

    expected = estimate("importance")
    mistakes = [
        (estimate("none"), "the unweighted first form: w_j = exp(r_ψ(τ_j)) / π(τ_j) corrects for samples of a "
                           "policy that is not the soft-optimal one of r_ψ"),
        (-expected, "the sign is flipped: demonstrated minus the weighted sample average"),
    ]
    got = call(sample_irl_gradient, features.clone(), demos.states.clone(), demos.actions.clone(),
               samples.states.clone(), samples.actions.clone(), log_probs.clone(), psi.clone())
    compare_or_explain("∇L̂", got, expected, _terrain_label, mistakes=mistakes)


# ---- Question 3: behaviour cloning's maximum likelihood ---------------------------------------

def cloning_instance(seed: int):
    """Ragged demonstrations (6 episodes of 1-5 steps, padded) over S = 5-7 states, A = 2-4 actions;
    the highest states are never visited."""
    from pgm_control import Demonstrations

    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(5, 8, (), generator=generator))
    A = int(torch.randint(2, 5, (), generator=generator))
    lengths = torch.randint(1, 6, (6,), generator=generator)
    lengths[0] = 5
    visited = S - 2  # states S-2 and S-1 appear only as padding
    states = [torch.randint(visited, (int(n) + 1,), generator=generator).tolist() for n in lengths]
    actions = [torch.randint(A, (int(n),), generator=generator).tolist() for n in lengths]
    return Demonstrations.from_sequences(states=states, actions=actions), S, A


def check_behaviour_cloning(behaviour_cloning_mle, seed) -> None:
    """``behaviour_cloning_mle(demonstrations, num_states, num_actions) -> π̂ [S, A]``: n(s, a) / n(s) over
    the demonstrated steps (t < length), uniform where n(s) = 0, against ``empirical_policy``."""
    from pgm_control.models import empirical_policy
    from pgm_control.models.behaviour_cloning import demonstrated_steps

    demonstrations, S, A = cloning_instance(seed)
    expected = empirical_policy(demonstrations, S, A)
    padded = _frequencies(demonstrations.states[:, :-1].reshape(-1), demonstrations.actions.reshape(-1), S, A)
    unvisited = (torch.bincount(demonstrated_steps(demonstrations)[0], minlength=S) == 0)[:, None]  # n(s) = 0
    mistakes = [
        (padded, "padding counted: only steps t < demonstrations.lengths are demonstrated (demonstrations.mask)"),
        (torch.where(unvisited, 0.0, expected), "an unvisited state has n(s) = 0: the data say nothing there, so "
                                                "π̂ is uniform 1/A"),
    ]
    compare_or_explain("π̂(a|s)", call(behaviour_cloning_mle, demonstrations, S, A), expected,
                       lambda index: f"state {index[0]}, action {index[1]}", mistakes=mistakes)


def _frequencies(states: torch.Tensor, actions: torch.Tensor, S: int, A: int) -> torch.Tensor:
    """n(s, a) / n(s) ``[S, A]`` of the given steps, uniform where n(s) = 0."""
    counts = torch.bincount(states * A + actions, minlength=S * A).reshape(S, A).to(DTYPE)
    visits = counts.sum(-1, keepdim=True)
    return torch.where(visits > 0, counts / visits.clamp(min=1.0), 1.0 / A)


# ---- Question 4: compounding error --------------------------------------------------------------

def compounding_instance(seed: int):
    """A slippery 4-5 wide terrain grid (slip 0.1-0.3, γ = 0.9, start in a corner), its hard-optimal
    expert π* ``[S, A]``, a clone ``[S, A]`` from 2 demonstrations of 8 steps, and a horizon H = 10-20."""
    from pgm_control import Demonstrations, sample_trajectories
    from pgm_control.inference import value_iteration
    from pgm_control.models import empirical_policy

    generator = torch.Generator().manual_seed(seed)
    size = int(torch.randint(4, 6, (), generator=generator))
    slip = 0.1 + 0.2 * float(torch.rand((), generator=generator))
    horizon = int(torch.randint(10, 21, (), generator=generator))
    mdp = terrain_gridworld(size=size, num_terrains=3, weights=torch.tensor([-1.0, 0.0, 1.0], dtype=DTYPE),
                            slip=slip, seed=seed).replace(discount=0.9)
    mdp = mdp.replace(initial=torch.nn.functional.one_hot(torch.tensor(0), mdp.num_states).to(DTYPE))
    expert = value_iteration(mdp).policy
    demos = Demonstrations.from_trajectories(sample_trajectories(mdp, expert, 8, 2, generator=generator))
    return mdp, empirical_policy(demos, mdp.num_states, mdp.num_actions), expert, horizon


def check_expected_mistakes(expected_mistakes, seed) -> None:
    """``expected_mistakes(mdp, policy [S, A], expert_policy [S, A], horizon) -> [H]``: E[c(s_t, a_t)] for
    t = 1..H with c(s, a) = 1 - [π*(a|s) > 0], s_t from rolling out ``policy`` itself from mdp.initial,
    against ``state_distributions``."""
    from pgm_control.inference import state_distributions

    mdp, cloned, expert, horizon = compounding_instance(seed)
    mistake = 1.0 - (cloned * (expert > 0)).sum(-1)  # [S]
    S, A = cloned.shape

    def per_step(rollout_policy: torch.Tensor) -> torch.Tensor:
        return state_distributions(mdp, rollout_policy.expand(horizon, S, A)) @ mistake

    expected = per_step(cloned)
    mistakes = [(per_step(expert), "the states come from the expert's rollout: the clone's own mistakes must move "
                                   "it, which is the compounding")]
    got = call(expected_mistakes, mdp, cloned.clone(), expert.clone(), horizon)
    compare_or_explain("E[c(s_t, a_t)]", got, expected, lambda index: f"t = {index[0] + 1}", mistakes=mistakes)


# ---- Question 5: the gradient of the hybrid objective ---------------------------------------------

def hybrid_instance(seed: int):
    """A random MDP (3-5 states, 2-3 actions, γ in [0.8, 1]), logits θ ``[T, S, A]`` (T = 3-5), N = 8 episodes
    of π_θ and M = 3 demonstrations of another policy (all full length), and λ in [0.1, 1]."""
    from pgm_control import sample_trajectories

    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(3, 6, (), generator=generator))
    A = int(torch.randint(2, 4, (), generator=generator))
    horizon = int(torch.randint(3, 6, (), generator=generator))
    discount = 0.8 + 0.2 * float(torch.rand((), generator=generator))
    mdp = random_mdp(S, A, seed=seed, discount=discount)
    theta = torch.randn(horizon, S, A, generator=generator, dtype=DTYPE)
    log_demo_policy = torch.log_softmax(2.0 * torch.randn(horizon, S, A, generator=generator, dtype=DTYPE), -1)
    batch = sample_trajectories(mdp, torch.softmax(theta, -1), horizon, 8, generator=generator)
    shown = sample_trajectories(mdp, log_demo_policy.exp(), horizon, 3, generator=generator)
    bc_weight = 0.1 + 0.9 * float(torch.rand((), generator=generator))
    return theta, batch, shown, bc_weight, discount


def _score_sum(theta: torch.Tensor, states: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor,
               centred: bool = True) -> torch.Tensor:
    """Σ_{n,t} weights[n, t] ∂ log π_t(a_t|s_t) / ∂θ ``[T, S, A]`` of a softmax policy: the one-hot e_{a_t} minus
    π_t(·|s_t) at (t, s_t), or the one-hot alone when not ``centred`` (a known mistake)."""
    horizon, S, A = theta.shape
    time = torch.arange(horizon).expand_as(actions)
    visited = states[:, :-1]
    scores = torch.nn.functional.one_hot(actions, A).to(DTYPE)
    if centred:
        scores = scores - torch.softmax(theta, -1)[time, visited]
    out = torch.zeros(horizon, S, A, dtype=DTYPE)
    return out.index_put_((time, visited), weights[..., None] * scores, accumulate=True)


def check_hybrid_gradient(hybrid_gradient, seed) -> None:
    r"""``hybrid_gradient(theta, states, actions, rewards, demo_states, demo_actions, bc_weight, discount)``:
    ``[T, S, A]``, ∇_θ of (1/N) Σ_n Σ_t γ^t Ĝ_t log π_t(a_t|s_t) + λ Σ_demo log π_t(a|s) (REINFORCE with the
    reward-to-go Ĝ_t = Σ_{t'>=t} γ^{t'-t} r_{t'}, no baseline) for π_t = softmax(θ_t), against autograd of
    ``hybrid_surrogate``."""
    from pgm_control import Demonstrations
    from pgm_control.rl.demonstrations_rl import hybrid_surrogate
    from pgm_control.rl.policy_gradient import rewards_to_go

    theta, batch, shown, bc_weight, discount = hybrid_instance(seed)
    demonstrations = Demonstrations.from_trajectories(shown)
    expected = torch.func.grad(lambda th: hybrid_surrogate(
        torch.log_softmax(th, -1), batch.states, batch.actions, batch.rewards, demonstrations, bc_weight,
        discount=discount, baseline=False))(theta)
    num_episodes, horizon = batch.actions.shape
    gamma_t = discount ** torch.arange(horizon, dtype=DTYPE)
    rl_weights = gamma_t * rewards_to_go(batch.rewards, discount) / num_episodes
    whole_return = (gamma_t * batch.rewards).sum(1, keepdim=True).expand(-1, horizon) / num_episodes  # Σ_t' γ^t' r_t'
    demo_weights = torch.full(shown.actions.shape, bc_weight, dtype=DTYPE)

    def gradient(weights: torch.Tensor, imitation_sign: float = 1.0, centred: bool = True) -> torch.Tensor:
        return (_score_sum(theta, batch.states, batch.actions, weights, centred)
                + imitation_sign * _score_sum(theta, shown.states, shown.actions, demo_weights, centred))

    mistakes = [
        (gradient(rl_weights, centred=False), "∂ log softmax(θ)_a / ∂θ_b = [a = b] - π(b|s): the -π term is missing"),
        *((gradient(weights), "every step is weighted by the whole return Σ_t' γ^t' r_t': causality says a_t "
                              "earns only the rewards from t on, γ^t Ĝ_t")
          for weights in (whole_return, gamma_t * whole_return)),
        (gradient(rl_weights, imitation_sign=-1.0), "the imitation term is subtracted: J_λ adds λ Σ log π(a|s)"),
    ]
    got = call(hybrid_gradient, theta.clone(), batch.states.clone(), batch.actions.clone(), batch.rewards.clone(),
               shown.states.clone(), shown.actions.clone(), bc_weight, discount)
    compare_or_explain("∇J_λ", got, expected, lambda index: f"t = {index[0] + 1}, state {index[1]}, action {index[2]}",
                       mistakes=mistakes)
