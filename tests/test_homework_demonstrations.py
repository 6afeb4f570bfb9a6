"""Homework 08 (learning from demonstrations): its checks, and its notebook graded end to end.

In process, the checks run on the master notebook's own solution code (our code, never a student's) at every
seed the notebook uses, and named mistakes must fail with a message that names them. The slow tests grade real
notebooks in a separate Jupyter kernel: the solution scores full marks, the unmodified student notebook 0, and a
planted bug loses exactly its question's points.
"""

from __future__ import annotations

import re

import nbformat
import pytest
import torch
from homework_helpers import (
    assert_bug_loses_exactly,
    assert_solution_full_and_student_zero,
    fetch_notebooks,
    solution_namespace,
)

from pgm_control.course import checks_demonstrations, grading

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

NAME, POINTS = "08_learning_from_demonstrations", 15
_TEST_CALL = re.compile(r"checks_demonstrations\.(check_\w+)\((\w+), seed=(\d+)\)")


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)  # as the notebook's setup cell does
    yield
    torch.set_default_dtype(torch.float32)


def master_test_calls() -> list[tuple[str, str, int]]:
    """(check, function, seed) of every visible and hidden test cell of the master."""
    cells = nbformat.read(grading.master_notebook(NAME), as_version=4).cells
    return [(check, function, int(seed)) for cell in cells if cell.cell_type == "code"
            for check, function, seed in _TEST_CALL.findall(cell.source)]


def test_assignment_is_listed():
    assert NAME in grading.assignments()


def test_master_solutions_pass_every_test_seed():
    namespace = solution_namespace(NAME)
    calls = master_test_calls()
    assert len(calls) == 3 * (POINTS // 3)  # one visible and two hidden tests per question
    for check, function, seed in calls:
        getattr(checks_demonstrations, check)(namespace[function], seed=seed)


def test_checks_reject_stubs_and_none():
    def stub(*args):
        raise NotImplementedError

    for check in sorted({check for check, _, _ in master_test_calls()}):
        with pytest.raises(AssertionError, match="not implemented yet"):
            getattr(checks_demonstrations, check)(stub, seed=7)
        with pytest.raises(AssertionError, match=r"got None|got NoneType"):
            getattr(checks_demonstrations, check)(lambda *args: None, seed=7)


# Each named mistake: (check, a solution line and its wrong version, the message it must get).
MISTAKES = [
    ("check_importance_weights", ("log_w = sample_rewards + sample_log_priors - sample_log_probs",
                                  "log_w = sample_rewards - sample_log_probs"),
     r"the action prior p\(τ_j\) is missing"),
    ("check_importance_weights", ("log_w = sample_rewards + sample_log_priors - sample_log_probs",
                                  "log_w = sample_rewards + sample_log_priors + sample_log_probs"),
     r"divides by π\(τ_j\)"),
    ("check_importance_weights", ("weights = torch.softmax(log_w, dim=0)",
                                  "weights = torch.exp(log_w) / torch.exp(log_w).sum()"),
     r"expected finite weights .* normalize in log space"),
    ("check_importance_weights", ("ess = 1.0 / (weights**2).sum()", "ess = 1.0 / weights.sum()"),
     r"^ESS: got 1, expected"),
    ("check_sample_irl_gradient", ("weights = torch.softmax(sample_counts @ psi - sample_log_probs, dim=0)",
                                   "weights = torch.full((len(sample_counts),), 1 / len(sample_counts))"),
     r"^∇L̂ at terrain \d: got .* \(the unweighted first form"),
    ("check_sample_irl_gradient", ("return demo_counts.mean(0) - weights @ sample_counts",
                                   "return weights @ sample_counts - demo_counts.mean(0)"), r"the sign is flipped"),
    ("check_behaviour_cloning", ("mask = demonstrations.mask",
                                 "mask = torch.ones_like(demonstrations.mask)"), r"padding counted"),
    ("check_behaviour_cloning", ("counts / visits.clamp(min=1), 1.0 / num_actions",
                                 "counts / visits.clamp(min=1), 0.0"), r"π̂ is uniform 1/A"),
    ("check_expected_mistakes", ('d, policy, mdp.transitions', 'd, expert_policy, mdp.transitions'),
     r"^E\[c\(s_t, a_t\)\] at t = \d+: got .* \(the states come from the expert's rollout"),
    ("check_hybrid_gradient", ("one_hot(actions, num_actions) - policy[time, states[:, :-1]]",
                               "one_hot(actions, num_actions).to(policy.dtype)"), r"the -π term is missing"),
    ("check_hybrid_gradient", ("rl_weights = discount ** torch.arange(horizon) * to_go / rewards.shape[0]",
                               "rl_weights = discount ** torch.arange(horizon) * to_go[:, :1] / rewards.shape[0]"),
     r"^∇J_λ at t = \d, state \d, action \d: got .* \(every step is weighted by the whole return"),
    ("check_hybrid_gradient", ("rl_weights) + score_sum(demo_states", "rl_weights) - score_sum(demo_states"),
     r"the imitation term is subtracted"),
]


@pytest.mark.parametrize(("check", "edit", "message"), MISTAKES)
def test_named_mistakes_fail_with_their_name(check, edit, message):
    namespace = solution_namespace(NAME, replace=edit)
    function = next(function for check_, function, _ in master_test_calls() if check_ == check)
    with pytest.raises(AssertionError, match=message):
        getattr(checks_demonstrations, check)(namespace[function], seed=0)


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The student and solution notebooks, fetched through the CLI."""
    return fetch_notebooks([NAME], tmp_path_factory.mktemp("homework_demonstrations"))


@pytest.mark.slow
def test_solution_scores_full_marks_and_student_notebook_zero(fetched, capsys):
    assert_solution_full_and_student_zero(fetched, NAME, POINTS, capsys)


PLANTED = [("q3", "mask = demonstrations.mask", "mask = torch.ones_like(demonstrations.mask)", "padding counted"),
           ("q5", "rl_weights) + score_sum(demo_states", "rl_weights) - score_sum(demo_states",
            "the imitation term is subtracted")]


@pytest.mark.slow
@pytest.mark.parametrize(("question", "old", "new", "message"), PLANTED, ids=[planted[0] for planted in PLANTED])
def test_a_planted_bug_loses_exactly_its_question(fetched, tmp_path, capsys, question, old, new, message):
    assert_bug_loses_exactly(fetched, tmp_path, capsys, NAME, POINTS, question, old, new, message)
