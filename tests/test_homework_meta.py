"""Homework 09 (transfer and meta-RL): its checks, and its notebook graded end to end.

In process, the checks run on the master notebook's own solution code (our code, never a student's) at every
seed the notebook uses, and named mistakes must fail with a message that names them. The slow tests grade real
notebooks in a separate Jupyter kernel: the solution scores full marks, the unmodified student notebook 0, and a
planted bug loses exactly its question's points.
"""

from __future__ import annotations

import pytest
import torch
from homework_helpers import (
    assert_bug_loses_exactly,
    assert_solution_full_and_student_zero,
    fetch_notebooks,
    master_test_calls,
    solution_namespace,
)

from pgm_control.course import checks_meta, grading

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

NAME, POINTS = "09_transfer_and_meta_rl", 12


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)  # as the notebook's setup cell does
    yield
    torch.set_default_dtype(torch.float32)


def calls() -> list[tuple[str, str, int]]:
    return master_test_calls(NAME, "checks_meta")


def test_assignment_is_listed():
    assert NAME in grading.assignments()


def test_master_solutions_pass_every_test_seed():
    namespace = solution_namespace(NAME)
    assert len(calls()) == 3 * (POINTS // 3)  # one visible and two hidden tests per question
    for check, function, seed in calls():
        getattr(checks_meta, check)(namespace[function], seed=seed)


def test_value_instances_cover_a_grid_and_a_bandit():
    # The recursion question is tested on both kinds of belief: a subset of goals and a general posterior.
    kinds = {checks_meta.value_instance(seed)[0].name for check, _, seed in calls() if check == "check_bayes_value"}
    assert kinds == {"grid navigation", "Bernoulli bandits"}


def test_belief_instances_both_observe_and_miss_the_goal():
    # Some contexts reach the goal (a +1 must rule out the other goals), some miss it (the prior then matters).
    hits = {bool((checks_meta.belief_instance(seed)[3] > 0).any())
            for check, _, seed in calls() if check == "check_goal_posterior"}
    assert hits == {True, False}


def test_checks_reject_stubs_and_none():
    def stub(*args):
        raise NotImplementedError

    for check in sorted({check for check, _, _ in calls()}):
        with pytest.raises(AssertionError, match="not implemented yet"):
            getattr(checks_meta, check)(stub, seed=7)
        with pytest.raises(AssertionError, match=r"got None|got NoneType"):
            getattr(checks_meta, check)(lambda *args: None, seed=7)


# Each named mistake: (check, a solution line and its wrong version, the message it must get, the seed).
MISTAKES = [
    ("check_goal_posterior", ("return unnormalized / unnormalized.sum()", "return unnormalized"),
     r"is not normalized", 0),
    ("check_goal_posterior", ("unnormalized = prior * consistent", "unnormalized = 1.0 * consistent"),
     r"the prior p\(z\) is missing", 0),
    ("check_goal_posterior", ("consistent = (on_goal == (rewards[None, :] > 0)).all(1)",
                              "consistent = ~(on_goal & (rewards[None, :] < 0)).any(1)"),
     r"rules out every other goal", 11),
    ("check_bayes_value", ("if (k + 1) % T == 0:", "if False:"), r"no reset", 0),
    ("check_inner_step", ("return theta - lr * gradient", "return theta + lr * gradient"), r"goes uphill", 0),
    ("check_inner_step", ("gradient = -policy * (rewards - policy @ rewards)", "gradient = -policy * rewards"),
     r"normalizer is missing", 0),
    ("check_meta_gradient", ("total = total + (torch.eye(len(theta)) - lr * hessian) @ outer",
                             "total = total + outer"), r"first-order MAML", 0),
]


@pytest.mark.parametrize(("check", "edit", "message", "seed"), MISTAKES)
def test_named_mistakes_fail_with_their_name(check, edit, message, seed):
    namespace = solution_namespace(NAME, replace=edit)
    function = next(function for check_, function, _ in calls() if check_ == check)
    with pytest.raises(AssertionError, match=message):
        getattr(checks_meta, check)(namespace[function], seed=seed)


def test_the_oracle_value_is_named():
    def oracle(family, num_episodes):
        from pgm_control.meta import oracle_value
        return oracle_value(family, num_episodes)

    with pytest.raises(AssertionError, match=r"oracle value"):
        checks_meta.check_bayes_value(oracle, seed=0)


def test_pretraining_gradient_is_named():
    def pretraining(theta, task_rewards, lr):
        policy = torch.softmax(theta, -1)
        return -(policy * (task_rewards - (task_rewards @ policy)[:, None])).mean(0)

    with pytest.raises(AssertionError, match=r"pretraining on all tasks"):
        checks_meta.check_meta_gradient(pretraining, seed=0)


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The student and solution notebooks, fetched through the CLI."""
    return fetch_notebooks([NAME], tmp_path_factory.mktemp("homework_meta"))


@pytest.mark.slow
def test_solution_scores_full_marks_and_student_notebook_zero(fetched, capsys):
    assert_solution_full_and_student_zero(fetched, NAME, POINTS, capsys)


@pytest.mark.slow
def test_a_planted_bug_loses_exactly_its_question(fetched, tmp_path, capsys):
    assert_bug_loses_exactly(fetched, tmp_path, capsys, NAME, POINTS, "q4",
                             "total = total + (torch.eye(len(theta)) - lr * hessian) @ outer", "total = total + outer",
                             "first-order MAML")
