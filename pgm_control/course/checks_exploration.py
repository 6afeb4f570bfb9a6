r"""Grading checks for the exploration assignment (07): a two-armed Bernoulli bandit, then PSRL on RiverSwim.

As in :mod:`pgm_control.course.checks`: each check builds a randomized instance from its seed, calls the
student's function, and raises ``AssertionError`` naming the first wrong number; where a wrong answer
matches a known mistake (ln N(a) for ln t, the greedy choice for Thompson's, the greedy policy's value for
the Bayes-optimal one, a flat Dirichlet prior for PSRL's 1/S, planning on the posterior mean instead of a
sample), the message says which. The truth is the library: ``UCB1.index``, the exact Thompson
probabilities, ``bayes_optimal_bandit`` / ``bayes_bandit_value``, and PSRL's ``TabularPosterior`` with
``batched_value_iteration``.
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE
from pgm_control.course.checks import TOLERANCE, call, compare
from pgm_control.course.checks_learning import answer_tensor, compare_or_explain, explained
from pgm_control.envs import riverswim
from pgm_control.exploration import (
    UCB1,
    EpsilonGreedyQ,
    TabularPosterior,
    batched_value_iteration,
    bayes_bandit_value,
    bayes_optimal_bandit,
    run_episodes,
)
from pgm_control.exploration.bayes import _ThompsonProbabilities
from pgm_control.exploration.posterior import _sample_dirichlet

# PSRL's priors in question 5 (the defaults of PosteriorSampling): Dirichlet(1/S) on each p(·|s, a),
# r(s, a) ~ Normal(0, 1), observed rewards ~ Normal(r(s, a), 0.1²).
REWARD_PRIOR_MEAN, REWARD_PRIOR_SD, REWARD_NOISE_SD = 0.0, 1.0, 0.1

# ---- instances -------------------------------------------------------------------------------


def ucb_instance(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts of 5 runs × 2-4 arms: ``successes`` and ``failures`` [R, A] (float64), 0-20 pulls per arm;
    run 0 has an untried arm, so the check covers the +∞ index."""
    generator = torch.Generator().manual_seed(seed)
    num_arms = int(torch.randint(2, 5, (), generator=generator))
    pulls = torch.randint(1, 21, (5, num_arms), generator=generator)
    pulls[0, int(torch.randint(num_arms, (), generator=generator))] = 0
    successes = (torch.rand(5, num_arms, generator=generator, dtype=DTYPE) * (pulls + 1)).floor()
    return successes, (pulls - successes).to(DTYPE)


def belief_instance(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Beta posteriors of two arms, ``alpha`` and ``beta`` [2], integers 1-12 (float64)."""
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(1, 13, (2,), generator=generator).to(DTYPE) for _ in range(2))


def prior_instance(seed: int) -> tuple[list[int], list[int], int]:
    """Integer Beta priors of two arms, 1-4 each, and a horizon of 3-8 pulls."""
    generator = torch.Generator().manual_seed(seed)
    alpha, beta = (torch.randint(1, 5, (2,), generator=generator).tolist() for _ in range(2))
    return alpha, beta, int(torch.randint(3, 9, (), generator=generator))


def psrl_instance(seed: int) -> tuple[tuple[torch.Tensor, ...], int, int, int]:
    """Transitions seen on RiverSwim(6) in 2-4 episodes of 8 uniformly random steps, flattened:
    ``(states, actions, rewards, next_states)`` each ``[N]``; then S = 6, A = 2 and a planning horizon
    of 4-10 steps."""
    generator = torch.Generator().manual_seed(seed)
    episodes = int(torch.randint(2, 5, (), generator=generator))
    horizon = int(torch.randint(4, 11, (), generator=generator))
    mdp = riverswim(6)
    history = run_episodes(EpsilonGreedyQ(1.0), mdp, episodes, 8, num_runs=1, seed=seed, progress=False)
    data = (history.states[0, :, :-1], history.actions[0], history.rewards[0], history.states[0, :, 1:])
    return tuple(x.flatten() for x in data), mdp.num_states, mdp.num_actions, horizon


def mdp_sampler(seed: int):
    """``sample_mdp(concentration [S, A, S], reward_mean [S, A], reward_sd [S, A]) -> (transitions, rewards)``:
    one draw from Dirichlet(concentration) and Normal(reward_mean, reward_sd²) from a generator seeded
    afresh at each call (as ``TabularPosterior.sample`` draws: the Dirichlet rows first, then the normals),
    so the same posterior always gives the same sample."""
    def sample_mdp(concentration, reward_mean, reward_sd):
        generator = torch.Generator().manual_seed(100_000 + seed)
        concentration = torch.as_tensor(concentration, dtype=DTYPE)
        reward_mean, reward_sd = torch.as_tensor(reward_mean, dtype=DTYPE), torch.as_tensor(reward_sd, dtype=DTYPE)
        transitions = _sample_dirichlet(concentration, generator)
        return transitions, reward_mean + reward_sd * torch.randn(reward_mean.shape, generator=generator, dtype=DTYPE)
    return sample_mdp


# ---- the library's answers -------------------------------------------------------------------


def library_ucb1_index(successes: torch.Tensor, failures: torch.Tensor) -> torch.Tensor:
    """UCB1's index [R, A] from the library's agent with these counts."""
    agent = UCB1()
    agent.reset(*successes.shape)
    agent.counts, agent.sums = successes + failures, successes.clone()
    return agent.index()


def thompson_probability(alpha, beta) -> torch.Tensor:
    """P(arm a's posterior sample is the largest) [A] for integer Beta posteriors ``alpha``, ``beta`` [A]:
    the library's exact quadrature (the one ``bayes_bandit_value("thompson", ...)`` uses)."""
    alpha, beta = torch.as_tensor(alpha, dtype=DTYPE), torch.as_tensor(beta, dtype=DTYPE)
    return _ThompsonProbabilities(alpha, beta, 0)(torch.zeros(1, 2 * alpha.numel(), dtype=torch.long))[0]


def library_posterior(data, num_states: int, num_actions: int,
                      prior_concentration: float | None = None) -> TabularPosterior:
    """PSRL's posterior (``TabularPosterior`` with question 5's priors) after the transitions ``data``."""
    posterior = TabularPosterior(prior_concentration, REWARD_PRIOR_MEAN, REWARD_PRIOR_SD, REWARD_NOISE_SD)
    posterior.reset(1, num_states, num_actions)
    for state, action, reward, next_state in zip(*data):
        posterior.update(state[None], action[None], reward[None], next_state[None])
    return posterior


def planned_q(transitions: torch.Tensor, rewards: torch.Tensor, horizon: int) -> torch.Tensor:
    """Q_t(s, a) ``[H, S, A]`` of one MDP by the library's exact finite-horizon planner."""
    return batched_value_iteration(transitions[None], rewards[None], horizon)[0][0]


def library_psrl_q(data, num_states: int, num_actions: int, horizon: int, sample_mdp,
                   prior_concentration: float | None = None) -> torch.Tensor:
    """One PSRL episode's Q-values ``[H, S, A]``: the posterior after ``data``, one ``sample_mdp`` draw,
    exact planning."""
    posterior = library_posterior(data, num_states, num_actions, prior_concentration)
    belief = posterior.reward_posterior()
    transitions, rewards = sample_mdp(posterior.transition_concentration()[0], belief.loc[0], belief.scale[0])
    return planned_q(transitions, rewards, horizon)


# ---- the checks ------------------------------------------------------------------------------


def check_ucb1_index(ucb1_index, seed) -> None:
    """``ucb1_index(successes [R, A], failures [R, A]) -> [R, A]`` = μ̂_a + sqrt(2 ln t / N(a)), +∞ for
    N(a) = 0, with t the run's pulls so far, against ``UCB1.index``."""
    successes, failures = ucb_instance(seed)
    expected = library_ucb1_index(successes, failures)
    got = call(ucb1_index, successes.clone(), failures.clone())
    if got is None:
        compare("UCB index", got, expected)
    answer = answer_tensor("UCB index", got, list(expected.shape))
    untried = torch.isinf(expected)
    with explained("an arm never pulled has index +∞, so that every arm is tried once"):
        compare("UCB index is +inf", (torch.isinf(answer) & (answer > 0)).to(DTYPE), untried.to(DTYPE),
                _run_arm_label)
    t = (successes + failures).sum(-1, keepdim=True)
    pulls = (successes + failures).clamp(min=1)  # the untried arms' entries are masked below
    means = successes / pulls
    mistakes = [(means + torch.sqrt(2 * torch.log(pulls) / pulls), "the log is of t, the pulls of all arms so "
                 "far, not of N(a)"),
                (means + torch.sqrt(torch.log(t) / pulls), "the bonus is sqrt(2 ln t / N(a)): the 2 is missing")]
    finite = ~untried
    compare_or_explain("UCB index", torch.where(finite, answer, 0.0), torch.where(finite, expected, 0.0),
                       _run_arm_label, mistakes=[(torch.where(finite, m, 0.0), why) for m, why in mistakes])


def check_thompson_probability(thompson_probability_fn, seed) -> None:
    """``thompson_probability(alpha [2], beta [2]) -> [2]``, P(θ_a is the larger of two Beta draws),
    against the library's exact quadrature."""
    alpha, beta = belief_instance(seed)
    expected = thompson_probability(alpha, beta)
    means = alpha / (alpha + beta)
    greedy = (means == means.max()).to(DTYPE)
    mistakes = [(greedy / greedy.sum(), "that is the greedy choice: Thompson picks each arm with the posterior "
                 "probability that it is the best"),
                (means / means.sum(), "normalized posterior means are not the probability of being the best")]
    got = call(thompson_probability_fn, alpha.clone(), beta.clone())
    with explained(f"posteriors Beta({alpha[0]:g}, {beta[0]:g}) and Beta({alpha[1]:g}, {beta[1]:g})"):
        compare_or_explain("P(arm is best)", got, expected, _arm_label, mistakes=mistakes)


def check_bayes_optimal_value(bayes_optimal_value, seed) -> None:
    """``bayes_optimal_value(prior_successes [2], prior_failures [2], horizon) -> float`` = V_*(b_0, H),
    against ``bayes_optimal_bandit``."""
    alpha, beta, horizon = prior_instance(seed)
    expected = torch.tensor(bayes_optimal_bandit(alpha, beta, horizon).value, dtype=DTYPE)
    mistakes = [(torch.tensor(bayes_bandit_value("greedy", alpha, beta, horizon), dtype=DTYPE),
                 "that is the greedy policy's value: maximize over arms of the look-ahead value at every belief")]
    got = call(bayes_optimal_value, list(alpha), list(beta), horizon)
    with explained(f"priors Beta({alpha[0]}, {beta[0]}) and Beta({alpha[1]}, {beta[1]}), horizon {horizon}"):
        compare_or_explain("V*", got, expected, mistakes=mistakes)


def check_thompson_value(thompson_value, seed) -> None:
    """``thompson_value(prior_successes [2], prior_failures [2], horizon, choice_probability) -> float``,
    the exact expected total reward of Thompson sampling, against ``bayes_bandit_value("thompson", ...)``;
    ``choice_probability`` is the library's exact Thompson probability (so this question does not depend
    on the student's answer to the previous one)."""
    alpha, beta, horizon = prior_instance(seed)
    expected = torch.tensor(bayes_bandit_value("thompson", alpha, beta, horizon), dtype=DTYPE)
    mistakes = [(torch.tensor(bayes_optimal_bandit(alpha, beta, horizon).value, dtype=DTYPE),
                 "that is the Bayes-optimal value: average over Thompson's choice probabilities, do not maximize")]
    got = call(thompson_value, list(alpha), list(beta), horizon, thompson_probability)
    with explained(f"priors Beta({alpha[0]}, {beta[0]}) and Beta({alpha[1]}, {beta[1]}), horizon {horizon}"):
        compare_or_explain("V_Thompson", got, expected, mistakes=mistakes)


def check_psrl_q_values(psrl_q_values, seed) -> None:
    """``psrl_q_values(states, actions, rewards, next_states, num_states, num_actions, horizon, sample_mdp)
    -> Q [H, S, A]``: the Dirichlet and Normal posterior updates from the transitions, one posterior
    sample through ``sample_mdp``, and finite-horizon planning on it, against the library's
    ``TabularPosterior`` and ``batched_value_iteration``."""
    data, num_states, num_actions, horizon = psrl_instance(seed)
    sample_mdp = mdp_sampler(seed)
    expected = library_psrl_q(data, num_states, num_actions, horizon, sample_mdp)
    posterior = library_posterior(data, num_states, num_actions)
    mistakes = [(library_psrl_q(data, num_states, num_actions, horizon, sample_mdp, prior_concentration=1.0),
                 "the Dirichlet prior is α_0 = 1/S per successor (one pseudo-observation per row), not 1"),
                (planned_q(posterior.mean_transitions()[0], posterior.reward_posterior().loc[0], horizon),
                 "that plans on the posterior mean MDP: PSRL plans on one sample from the posterior "
                 "(call sample_mdp with the posterior's parameters)")]
    got = call(psrl_q_values, *(x.clone() for x in data), num_states, num_actions, horizon, sample_mdp)
    with explained(f"{data[0].numel()} transitions of RiverSwim(6), horizon {horizon}"):
        compare_or_explain("Q", got, expected, _step_state_action_label, mistakes=mistakes)


def _step_state_action_label(index: tuple[int, ...]) -> str:
    return f"t = {index[0]}, s = {index[1]}, a = {index[2]}"


def _run_arm_label(index: tuple[int, ...]) -> str:
    return f"run {index[0]}, arm {index[1]}"


def _arm_label(index: tuple[int, ...]) -> str:
    return f"arm {index[0]}"


__all__ = [
    "TOLERANCE",
    "belief_instance",
    "check_bayes_optimal_value",
    "check_psrl_q_values",
    "check_thompson_probability",
    "check_thompson_value",
    "check_ucb1_index",
    "library_psrl_q",
    "mdp_sampler",
    "prior_instance",
    "psrl_instance",
    "thompson_probability",
    "ucb_instance",
]
