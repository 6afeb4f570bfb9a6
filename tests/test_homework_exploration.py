"""Homework 07 (exploration on a two-armed bandit, then PSRL on RiverSwim): its checks against independent
truth, the master's solutions in process, named mistakes, and the notebooks graded end to end in a separate
kernel (slow): the solution scores full marks, the student notebook 0, and a planted bug loses exactly its
question."""

from __future__ import annotations

import math

import pytest
import torch
from homework_helpers import (
    assert_bug_loses_exactly,
    assert_solution_full_and_student_zero,
    fetch_notebooks,
    master_test_calls,
    solution_namespace,
)
from scipy import integrate, stats

from pgm_control.course import checks_exploration, grading

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

NAME, POINTS = "07_exploration", 15


def _test_calls() -> list[tuple[str, str, int]]:
    return master_test_calls(NAME, "checks_exploration")


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)  # as the notebook's setup cell does
    yield
    torch.set_default_dtype(torch.float32)


def test_assignment_is_listed():
    assert NAME in grading.assignments()


# ---- the truth the checks rely on --------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 21, 22])
def test_thompson_probability_is_the_integral(seed):
    # P(θ_0 > θ_1) = ∫ f_0 F_1 by scipy's adaptive quadrature (error estimate < 1e-10), another route
    alpha, beta = checks_exploration.belief_instance(seed)
    integral = integrate.quad(lambda x: stats.beta(alpha[0], beta[0]).pdf(x) * stats.beta(alpha[1], beta[1]).cdf(x),
                              0, 1, epsabs=1e-13)[0]
    probs = checks_exploration.thompson_probability(alpha, beta)
    assert probs.tolist() == pytest.approx([integral, 1 - integral], abs=1e-10)


def test_psrl_truth_is_the_hand_posterior_and_backward_induction():
    # Independent route: the posterior by counting in Python loops, the sample by the check's own
    # sampler, the plan by a loop over (t, s, a) — none of the library's posterior or planner.
    data, num_states, num_actions, horizon = checks_exploration.psrl_instance(0)
    counts = [[[0.0] * num_states for _ in range(num_actions)] for _ in range(num_states)]
    sums = [[0.0] * num_actions for _ in range(num_states)]
    for s, a, r, s_next in zip(*(x.tolist() for x in data)):
        counts[s][a][s_next] += 1
        sums[s][a] += r
    concentration = torch.tensor(counts, dtype=torch.float64) + 1 / num_states
    visits = torch.tensor(counts, dtype=torch.float64).sum(-1)
    precision = 1.0 + visits / 0.1 ** 2
    mean = torch.tensor(sums, dtype=torch.float64) / 0.1 ** 2 / precision
    transitions, rewards = checks_exploration.mdp_sampler(0)(concentration, mean, precision.rsqrt())
    q = torch.zeros(horizon, num_states, num_actions, dtype=torch.float64)
    for t in reversed(range(horizon)):
        for s in range(num_states):
            for a in range(num_actions):
                after = 0.0 if t == horizon - 1 else sum(transitions[s, a, s2] * q[t + 1, s2].max()
                                                         for s2 in range(num_states))
                q[t, s, a] = rewards[s, a] + after
    expected = checks_exploration.library_psrl_q(data, num_states, num_actions, horizon,
                                                 checks_exploration.mdp_sampler(0))
    assert torch.allclose(q, expected, atol=1e-12, rtol=0)
    assert data[0].numel() >= 16 and visits.sum() == data[0].numel()


def test_ucb_instances_cover_an_untried_arm():
    successes, failures = checks_exploration.ucb_instance(0)
    pulls = successes + failures
    assert (pulls[0] == 0).any() and (successes <= pulls).all() and (successes >= 0).all()


# ---- the master's solutions, in process ----------------------------------------------------------

def test_master_solutions_pass_every_test_seed(float64):
    namespace = solution_namespace(NAME)
    calls = _test_calls()
    assert len(calls) == 3 * (POINTS // 3)  # one visible and two hidden tests per question
    for check, function, seed in calls:
        getattr(checks_exploration, check)(namespace[function], seed=seed)


def test_checks_reject_stubs_and_none(float64):
    def stub(*args):
        raise NotImplementedError

    for check in sorted({check for check, _, _ in _test_calls()}):
        with pytest.raises(AssertionError, match="not implemented yet"):
            getattr(checks_exploration, check)(stub, seed=7)
        with pytest.raises(AssertionError, match="got None"):
            getattr(checks_exploration, check)(lambda *args: None, seed=7)


MISTAKES = [
    ("check_ucb1_index", ("torch.log(t.clamp(min=1))", "torch.log(safe)"), r"the log is of t"),
    ("check_ucb1_index", ("torch.sqrt(2 * torch.log", "torch.sqrt(torch.log"), r"the 2 is missing"),
    ("check_ucb1_index", ("torch.where(pulls > 0, index, math.inf)", "index"), r"never pulled has index \+∞"),
    ("check_thompson_probability", ("return torch.stack([p0, 1 - p0])",
                                    "means = alpha / (alpha + beta)\n    return means / means.sum()"),
     r"normalized posterior means"),
    ("check_bayes_optimal_value", ("return max(_look_ahead", "return min(_look_ahead"), r"^V\*: got [\d.]+, expected"),
    ("check_thompson_value", ("return sum(float(probs[arm])", "return max(float(probs[arm]) / float(probs[arm])"),
     r"that is the Bayes-optimal value"),
    ("check_psrl_q_values", ("1.0 / num_states + counts", "1.0 + counts"), r"prior is α_0 = 1/S"),
    ("check_psrl_q_values", ("sample_mdp(concentration, mean, precision.rsqrt())",
                             "(concentration / concentration.sum(-1, keepdim=True), mean)"), r"posterior mean MDP"),
    ("check_psrl_q_values", ("reward_sums / 0.1 ** 2) / precision", "reward_sums / 0.1 ** 2)"),
     r"^Q at t = \d+, s = \d+, a = \d+: got [\d.]+, expected"),  # no named mistake: the plain message
]


@pytest.mark.parametrize(("check", "edit", "message"), MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_named_mistakes_fail_with_their_name(float64, check, edit, message):
    namespace = solution_namespace(NAME, replace=edit)
    function = next(function for check_, function, _ in _test_calls() if check_ == check)
    with pytest.raises(AssertionError, match=message):
        getattr(checks_exploration, check)(namespace[function], seed=0)


def test_bayes_optimal_two_pulls_by_hand(float64):
    # uniform priors, H = 2: 1/2 now, then keep a winner (2/3) or switch to the fresh arm (1/2): 13/12
    assert solution_namespace(NAME)["bayes_optimal_value"]([1, 1], [1, 1], 2) == pytest.approx(13 / 12, abs=1e-15)
    assert math.isclose(checks_exploration.thompson_probability([2, 1], [1, 1])[0].item(), 2 / 3, abs_tol=1e-14)


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    return fetch_notebooks([NAME], tmp_path_factory.mktemp("homework_exploration"))


@pytest.mark.slow
def test_solution_scores_full_marks_and_student_notebook_zero(fetched, capsys):
    assert_solution_full_and_student_zero(fetched, NAME, POINTS, capsys)


@pytest.mark.slow
def test_ln_n_for_ln_t_loses_exactly_q1(fetched, tmp_path, capsys):
    assert_bug_loses_exactly(fetched, tmp_path, capsys, NAME, POINTS, "q1", "torch.log(t.clamp(min=1))",
                             "torch.log(safe)", "the log is of t")


@pytest.mark.slow
def test_flat_dirichlet_prior_loses_exactly_q5(fetched, tmp_path, capsys):
    assert_bug_loses_exactly(fetched, tmp_path, capsys, NAME, POINTS, "q5", "1.0 / num_states + counts",
                             "1.0 + counts", "α_0 = 1/S")
