"""The course homework: grading checks, the `pgm-control homework` CLI, and end-to-end grading.

The slow tests grade real notebooks in a separate Jupyter kernel (each grading starts one): the
solutions must score full marks, the unmodified student notebooks 0, a plausible wrong answer must lose
exactly its question's points with a message naming the wrong number, and a notebook that raises,
loops forever and deletes files must be graded without harm.
"""

from __future__ import annotations

import re
import zipfile

import nbformat
import pytest
import torch
from homework_helpers import edited, fetch_notebooks, grade_json

from pgm_control.cli import main
from pgm_control.course import checks, grading
from pgm_control.inference import (
    backward_messages,
    forward_messages,
    log_evidence,
    policy_evaluation,
    state_marginals,
    value_iteration,
)

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

ASSIGNMENTS = ["01_bellman_equations", "02_mdp_graphical_model"]


# ---- checks (fast, in process: these call only the library, never a notebook) ----------------

def test_assignments_are_listed_in_course_order():
    assert grading.assignments() == [  # 03-09 have their own test files
        *ASSIGNMENTS, "03_soft_optimality", "04_control_as_vi_pyro", "05_maxent_irl", "06_maxent_rl",
        "07_exploration", "08_learning_from_demonstrations", "09_transfer_and_meta_rl"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brute_force_enumeration_matches_the_exact_messages(seed):
    mdp, horizon = checks.tiny_instance(seed)
    evidence, marginals = checks.brute_force_marginals(mdp, horizon)
    assert torch.allclose(evidence, log_evidence(mdp, horizon), atol=1e-12)
    assert torch.allclose(marginals, state_marginals(mdp, horizon), atol=1e-12)
    assert torch.allclose(marginals.sum(-1), torch.ones(horizon, dtype=torch.float64))


def test_compare_names_the_wrong_grid_state():
    world, _ = checks.book_instance()
    expected = torch.arange(25, dtype=torch.float64)
    got = expected.clone()
    got[world.layout.state_at(2, 3)] += 0.5
    with pytest.raises(AssertionError, match=r"^V at state \(2, 3\): got 13\.5, expected 13 ± 1e-06$"):
        checks.compare("V", got, expected, checks._labeller(world, "s"))


@pytest.mark.parametrize(("got", "message"), [
    (None, "got None"),
    (torch.zeros(3), r"got shape \[3\], expected \[4\]"),
    (torch.full((4,), torch.nan), "got nan"),
    ("text", "got str"),
])
def test_compare_explains_unusable_answers(got, message):
    with pytest.raises(AssertionError, match=message):
        checks.compare("V", got, torch.zeros(4))


# Each check, an answer built from the library's solvers, and the visible seed of its notebook.
LIBRARY_ANSWERS = [
    (checks.check_bellman_system, lambda mdp, pi: (torch.einsum("sa,sap->sp", pi, mdp.transitions),
                                                   (pi * mdp.rewards).sum(-1)), "book"),
    (checks.check_evaluate_policy, lambda mdp, pi: policy_evaluation(mdp, pi).v, "book"),
    (checks.check_q_backup, lambda mdp, v: mdp.backup(v, mdp.discount), "book"),
    (checks.check_value_iteration, lambda mdp: value_iteration(mdp).v, "book"),
    (checks.check_backward_messages, lambda mdp, T: tuple(backward_messages(mdp, T)), 0),
    (checks.check_forward_messages, lambda mdp, T: tuple(forward_messages(mdp, T)), 0),
    (checks.check_state_marginals, state_marginals, 0),
    (checks.check_log_evidence, log_evidence, 0),
]


@pytest.mark.parametrize(("check", "answer", "visible_seed"), LIBRARY_ANSWERS)
def test_checks_accept_the_library_and_reject_stubs(check, answer, visible_seed):
    for seed in (visible_seed, 7):
        check(answer, seed=seed)

    def stub(*args):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="not implemented yet"):
        check(stub, seed=7)
    with pytest.raises(AssertionError, match=r"got None|expected a pair"):
        check(lambda *args: None, seed=7)


def test_check_names_a_transposed_transition_matrix():
    def transposed(mdp, pi):
        p_pi = torch.einsum("sa,sap->sp", pi, mdp.transitions)
        return torch.linalg.solve(torch.eye(mdp.num_states, dtype=torch.float64) - mdp.discount * p_pi.T,
                                  (pi * mdp.rewards).sum(-1))

    with pytest.raises(AssertionError, match=r"^V at state \(\d, \d\): got -?[\d.]+, expected -?[\d.]+ ± 1e-06$"):
        checks.check_evaluate_policy(transposed, seed="book")


# ---- CLI errors (fast) -------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "option"), [
    (["homework", "fetch", "nope"], "NAME"),
    (["homework", "build", "nope", "--out", "x"], "NAME"),
    (["homework", "build", "01_bellman_equations"], "--out"),
    (["homework", "grade", "missing.ipynb"], "NOTEBOOK"),
    (["homework", "grade", "missing.ipynb", "--timeout", "0"], "--timeout"),
    (["homework", "grade", "missing.ipynb", "--timeout", "soon"], "--timeout"),
])
def test_cli_errors_are_one_line_naming_the_option(argv, option, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and option in error, error


def test_grading_refuses_a_file_that_is_not_a_homework_notebook(tmp_path, capsys):
    (tmp_path / "notes.ipynb").write_text("not json")
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), plain)
    for path in (tmp_path / "notes.ipynb", plain):
        assert main(["homework", "grade", str(path)]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "NOTEBOOK" in error, error


def test_list_prints_the_assignments(capsys):
    assert main(["homework", "list"]) == 0
    assert capsys.readouterr().out.split() == grading.assignments()


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The student and solution notebooks of every assignment, fetched through the CLI."""
    return fetch_notebooks(ASSIGNMENTS, tmp_path_factory.mktemp("homework"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_scores_full_marks_and_student_notebook_zero(name, fetched, capsys):
    solution = grade_json(fetched / f"{name}_solution.ipynb", capsys)
    assert solution["total"] == solution["possible"] == 12, solution
    assert all(not question["messages"] for question in solution["questions"])
    student = grade_json(fetched / f"{name}.ipynb", capsys)
    assert student["possible"] == 12
    for question in student["questions"]:
        assert question["score"] == 0, question
        assert all("not implemented yet" in message for message in question["messages"]), question


@pytest.mark.slow
def test_transposed_matrix_loses_exactly_q2_and_misbehaviour_is_contained(fetched, tmp_path, capsys):
    sentinel = tmp_path / "keep_me.txt"
    sentinel.write_text("the grader's files")
    wrong = edited(
        fetched / "01_bellman_equations_solution.ipynb", tmp_path / "wrong.ipynb",
        "torch.eye(mdp.num_states) - mdp.discount * p_pi", "torch.eye(mdp.num_states) - mdp.discount * p_pi.T",
        extra_cells=[
            "raise RuntimeError('a cell that fails')",
            "while True:\n    pass",
            "import os\nfor entry in os.listdir('.'):\n    os.remove(entry)",  # the notebook's own folder
        ])
    report = grade_json(wrong, capsys, "--timeout", "20")  # the checks of q4 need ~5 s on a busy machine
    scores = {question["name"]: question for question in report["questions"]}
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 3, "q2": 0, "q3": 3, "q4": 3}, report
    assert len(scores["q2"]["messages"]) == 3
    assert all(re.search(r"V at state( \(\d, \d\)| \d): got -?[\d.e+-]+, expected -?[\d.e+-]+ ± 1e-06", message)
               for message in scores["q2"]["messages"]), scores["q2"]
    assert any("time limit" in note for note in report["notes"]), report
    assert sentinel.read_text() == "the grader's files" and wrong.exists()


@pytest.mark.slow
def test_action_prior_left_out_loses_exactly_q1(fetched, tmp_path, capsys):
    wrong = edited(
        fetched / "02_mdp_graphical_model_solution.ipynb", tmp_path / "wrong.ipynb",
        "torch.logsumexp(log_prior + log_beta_sa[t], dim=-1)", "torch.logsumexp(log_beta_sa[t], dim=-1)")
    report = grade_json(wrong, capsys)
    scores = {question["name"]: question for question in report["questions"]}
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 0, "q2": 3, "q3": 3, "q4": 3}, report
    assert all(re.search(r"log β_t\(s(, a)?\) at t = \d, state \d", message)
               for message in scores["q1"]["messages"]), scores["q1"]


@pytest.mark.slow
def test_build_writes_the_gradescope_zip(tmp_path, capsys):
    assert main(["homework", "build", "02_mdp_graphical_model", "--out", str(tmp_path)]) == 0
    zips = list((tmp_path / "autograder").glob("*.zip"))
    assert len(zips) == 1 and str(zips[0]) in capsys.readouterr().out
    names = set(zipfile.ZipFile(zips[0]).namelist())
    assert {"run_autograder", "setup.sh", "tests/q1.py", "tests/q4.py"} <= names, names
