"""Homework 05 (MaxEnt IRL) and 06 (max-entropy RL): their checks, and their notebooks graded end to end.

In process, the checks run on the master notebooks' own solution code (our code, never a student's) at
every seed the notebooks use, and named mistakes must fail with a message that names them. The slow
tests grade real notebooks in a separate Jupyter kernel, three gradings per assignment: the solution
scores full marks, the unmodified student notebook 0, and a plausible wrong answer loses exactly its
question's points.
"""

from __future__ import annotations

import re

import pytest
import torch
from homework_helpers import edited, fetch_notebooks, grade_json, master_test_calls, solution_namespace

from pgm_control.course import checks_learning, grading

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

ASSIGNMENTS = {"05_maxent_irl": 15, "06_maxent_rl": 12}  # name: points


def _test_calls(name: str) -> list[tuple[str, str, int]]:
    return master_test_calls(name, "checks_learning")


@pytest.fixture(scope="module", params=list(ASSIGNMENTS))
def solutions(request):
    torch.set_default_dtype(torch.float64)  # as the notebooks' setup cell does
    yield request.param, solution_namespace(request.param)
    torch.set_default_dtype(torch.float32)


def test_learning_assignments_are_listed():
    assert set(ASSIGNMENTS) <= set(grading.assignments())


@pytest.mark.slow
def test_master_solutions_pass_every_test_seed(solutions):
    name, namespace = solutions
    calls = _test_calls(name)
    assert len(calls) == 3 * (ASSIGNMENTS[name] // 3)  # one visible and two hidden tests per question
    for check, function, seed in calls:
        getattr(checks_learning, check)(namespace[function], seed=seed)


def test_checks_reject_stubs_and_none(solutions):
    name, _ = solutions

    def stub(*args):
        raise NotImplementedError

    for check in sorted({check for check, _, _ in _test_calls(name)}):
        with pytest.raises(AssertionError, match="not implemented yet"):
            getattr(checks_learning, check)(stub, seed=7)
        with pytest.raises(AssertionError, match="got None"):
            getattr(checks_learning, check)(lambda *args: None, seed=7)


# Each named mistake: (assignment, check, a solution line and its wrong version, the message it must get).
MISTAKES = [
    ("05_maxent_irl", "check_irl_gradient", ("demonstrated - expected_feature_counts(mdp, psi, T, start)",
                                                 "expected_feature_counts(mdp, psi, T, start) - demonstrated"),
     r"^∇L at terrain \d: got -?[\d.]+, expected -?[\d.]+ ± 1e-06 \(the sign is flipped"),
    ("05_maxent_irl", "check_irl_gradient", ("- expected_feature_counts(mdp, psi, T, start)",
                                                 "- expected_feature_counts(mdp, psi, T, mdp.initial)"),
     r"start from the demonstrations' start states"),
    ("05_maxent_irl", "check_visitation", ("d[:, None] * policy[t]", "d[:, None] * policy[0]"),
     r"^μ_t\(s, a\) at t = \d, state \(\d, \d\), action \d: got"),
    ("05_maxent_irl", "check_log_likelihood", ("soft.log_policy[steps", "soft.q[steps"), r"^L\(ψ\): got"),
    ("06_maxent_rl", "check_soft_q_target", ("torch.min(q1_next", "torch.max(q1_next"),
     r"^Q̂ at sample \d: got .* \(max of the two target Q's"),
    ("06_maxent_rl", "check_soft_q_target", ("(1 - terminated) * ", ""), r"multiply by \(1 - d\)"),
    ("06_maxent_rl", "check_tanh_gaussian_log_prob", ("log_normal - log_one_minus_tanh2 -", "log_normal -"),
     r"^log π\(a\|s\) at sample \d: got .* \(the change-of-variables term"),
    ("06_maxent_rl", "check_tanh_gaussian_log_prob",  # the naive form is -inf once tanh(u) rounds to ±1
     ("2 * (math.log(2) - u.abs() - F.softplus(-2 * u.abs()))", "torch.log(1 - torch.tanh(u) ** 2)"),
     r"^log π\(a\|s\) at sample 0: got inf, expected"),
    ("06_maxent_rl", "check_tanh_gaussian_log_prob",  # the ε hack is off by tens of nats at |u| = 30
     ("2 * (math.log(2) - u.abs() - F.softplus(-2 * u.abs()))", "torch.log(1 - torch.tanh(u) ** 2 + 1e-6)"),
     r"^log π\(a\|s\) at sample 0: got"),
    ("06_maxent_rl", "check_tanh_gaussian_log_prob", (" - torch.log(scale)", ""), r"-Σ_j log h_j is missing"),
    ("06_maxent_rl", "check_temperature_loss", ("torch.exp(log_temperature)", "log_temperature"),
     r"^J\(α\) at log α = -?[\d.]+: got .* \(log α used as α"),
    ("06_maxent_rl", "check_temperature_loss", ("log_prob.detach()", "log_prob"), r"\(detach log π"),
    ("06_maxent_rl", "check_temperature_loss", (".mean()", ".mean().item()"), r"through autograd"),
]
SOFT_MAXIMUM = "v = temperature * (torch.logsumexp(q / temperature, dim=-1) - math.log(A))"


@pytest.mark.parametrize(("name", "check", "edit", "message"), MISTAKES)
def test_named_mistakes_fail_with_their_name(name, check, edit, message):
    torch.set_default_dtype(torch.float64)
    try:
        namespace = solution_namespace(name, replace=edit)
        function = next(function for check_, function, _ in _test_calls(name) if check_ == check)
        with pytest.raises(AssertionError, match=message):
            getattr(checks_learning, check)(namespace[function], seed=0)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.slow
@pytest.mark.parametrize(("edit", "message"), [
    ((SOFT_MAXIMUM, "v = q.max(-1).values"), "a hard max in the target"),
    ((" - math.log(A))", ")"), "the uniform prior 1/A is missing"),
])
def test_soft_q_tolerance_rejects_the_wrong_backups_on_every_seed(edit, message):
    # The tolerance 0.15 must pass the right update (test_master_solutions_pass_every_test_seed) and fail
    # these two on each seed the notebook grades.
    torch.set_default_dtype(torch.float64)
    try:
        namespace = solution_namespace("06_maxent_rl", replace=edit)
        for check, function, seed in _test_calls("06_maxent_rl"):
            if check == "check_soft_q_learning":
                with pytest.raises(AssertionError, match=message):
                    checks_learning.check_soft_q_learning(namespace[function], seed=seed)
    finally:
        torch.set_default_dtype(torch.float32)


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The student and solution notebooks of both assignments, fetched through the CLI."""
    return fetch_notebooks(ASSIGNMENTS, tmp_path_factory.mktemp("homework_learning"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ASSIGNMENTS))
def test_solution_scores_full_marks_and_student_notebook_zero(name, fetched, capsys):
    solution = grade_json(fetched / f"{name}_solution.ipynb", capsys)
    assert solution["total"] == solution["possible"] == ASSIGNMENTS[name], solution
    assert all(not question["messages"] for question in solution["questions"])
    student = grade_json(fetched / f"{name}.ipynb", capsys)
    assert student["possible"] == ASSIGNMENTS[name]
    for question in student["questions"]:
        assert question["score"] == 0, question
        assert all("not implemented yet" in message for message in question["messages"]), question


def _scores(report: dict) -> dict:
    return {question["name"]: question for question in report["questions"]}


@pytest.mark.slow
def test_gradient_descent_loses_exactly_q4(fetched, tmp_path, capsys):
    wrong = edited(fetched / "05_maxent_irl_solution.ipynb", tmp_path / "wrong.ipynb",
                    "psi = psi + lr * irl_gradient", "psi = psi - lr * irl_gradient")
    scores = _scores(grade_json(wrong, capsys))
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 3, "q2": 3, "q3": 3, "q4": 0, "q5": 3}, scores
    assert len(scores["q4"]["messages"]) == 3
    assert all(re.search(r"L\(ψ\) after 100 steps of lr = 0\.5: got -[\d.]+, expected -[\d.]+ ± 0\.001 "
                         r"\(below L\(0\) = -[\d.]+: ascent is ψ ← ψ \+ lr ∇L\)", message)
               for message in scores["q4"]["messages"]), scores["q4"]


@pytest.mark.slow
def test_missing_tanh_correction_and_alpha_for_log_alpha_lose_exactly_q2_and_q3(fetched, tmp_path, capsys):
    solution = fetched / "06_maxent_rl_solution.ipynb"
    missing_correction = edited(solution, tmp_path / "step.ipynb", "log_normal - log_one_minus_tanh2 -",
                                 "log_normal -")
    wrong = edited(missing_correction, tmp_path / "wrong.ipynb", "temperature = torch.exp(log_temperature)",
                    "temperature = log_temperature")
    scores = _scores(grade_json(wrong, capsys))
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 3, "q2": 0, "q3": 0, "q4": 3}, scores
    assert all("the change-of-variables term -Σ_j log(1 - tanh²(u_j)) is missing" in message
               for message in scores["q2"]["messages"]) and len(scores["q2"]["messages"]) == 3, scores["q2"]
    assert all("log α used as α" in message for message in scores["q3"]["messages"]) \
        and len(scores["q3"]["messages"]) == 3, scores["q3"]
