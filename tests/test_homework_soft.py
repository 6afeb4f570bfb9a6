"""Assignments 03 (soft optimality and the optimism problem) and 04 (control as variational inference in
Pyro): their checks against independent truth, and end-to-end grading of the real notebooks.

The slow tests grade each master's solution (full marks), its student notebook (0 everywhere) and one
plausible wrong answer (exactly one question lost, with a message naming the wrong number), each in a
separate Jupyter kernel, as tests/test_homework.py does for assignments 01 and 02.
"""

from __future__ import annotations

import math
import re

import nbformat
import pytest
import torch
from homework_helpers import edited, grade_json

from pgm_control.course import checks_soft, checks_vi, grading
from pgm_control.envs import lottery_mdp
from pgm_control.inference import (
    elbo,
    fit_policy,
    soft_value_iteration,
    state_distributions,
    value_iteration,
)
from pgm_control.models import TabularPolicyGuide

pytest.importorskip("otter", reason="the course extra (otter-grader) is not installed")

ASSIGNMENTS = ["03_soft_optimality", "04_control_as_vi_pyro"]


def test_assignments_are_listed():
    names = grading.assignments()
    assert names[2:4] == ASSIGNMENTS


# ---- the truth the checks rely on (fast, library only) ----------------------------------------

def bisected_threshold(horizon: int, backup: str, temperature: float) -> float:
    """The lottery's threshold by bisection on the library's soft policy (a second route to the closed form)."""
    low, high = 1e-12, 1 - 1e-12
    for _ in range(60):
        middle = (low + high) / 2
        policy = soft_value_iteration(lottery_mdp(win_prob=middle), horizon, temperature, backup).policy
        low, high = (low, middle) if policy[0, 0, 1] > 0.5 else (middle, high)
    return (low + high) / 2


@pytest.mark.parametrize(("horizon", "temperature"), [(2, 1.0), (5, 1.0), (4, 0.5), (6, 2.0)])
def test_closed_form_lottery_threshold_matches_bisection(horizon, temperature):
    for backup in ("optimistic", "expected"):
        assert abs(checks_soft.lottery_threshold(horizon, backup, temperature)
                   - bisected_threshold(horizon, backup, temperature)) < 1e-9


def test_lottery_thresholds_show_the_optimism():
    # Lecture 20's lottery at T = 5: the exact posterior gambles on a 2% chance, the ELBO's policy above 2/3.
    closed_form = (math.exp(-4) - math.exp(-12)) / (1 - math.exp(-12))
    assert abs(checks_soft.lottery_threshold(5, "optimistic", 1.0) - closed_form) < 1e-15
    assert checks_soft.lottery_threshold(5, "expected", 1.0) == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 21, 22])
def test_soft_values_approach_the_hard_ones_within_the_stated_bound(seed):
    # Assignment 03, Question 2: 0 <= V_hard_t - V^α_t <= α (T - t + 1) log|A| (lecture's t), tight as α -> 0.
    mdp, horizon, _ = checks_soft.soft_instance(seed)
    hard = value_iteration(mdp, horizon).v
    steps_left = torch.arange(horizon, 0, -1, dtype=torch.float64)[:, None]
    for temperature in (1.0, 0.1, 1e-3):
        gap = hard - soft_value_iteration(mdp, horizon, temperature).v
        bound = temperature * steps_left * math.log(mdp.num_actions)
        assert (gap >= -1e-12).all() and (gap <= bound + 1e-12).all()
    assert (gap / bound).min() > 0.99  # at α = 1e-3 one action dominates every soft maximum


def test_elbo_optimum_is_the_expected_backup_and_perturbations_lose():
    mdp, horizon, temperature = checks_soft.soft_instance(41)
    best = soft_value_iteration(mdp, horizon, temperature, "expected")
    value = elbo(mdp, horizon, best.policy, temperature=temperature)
    assert abs(value - (mdp.initial * best.v[0]).sum() / temperature) < 1e-10
    noise = torch.rand(best.policy.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    perturbed = 0.95 * best.policy + 0.05 * noise / noise.sum(-1, keepdim=True)
    assert elbo(mdp, horizon, perturbed, temperature=temperature) < value - 1e-6


# ---- the checks: accept the library, reject stubs and plausible wrong answers -------------------

def stub(*args):
    raise NotImplementedError


LIBRARY_ANSWERS = [
    (checks_soft.check_soft_value_iteration,
     lambda mdp, T, temperature, backup: tuple(getattr(soft_value_iteration(mdp, T, temperature, backup), key)
                                               for key in ("q", "v"))),
    (checks_soft.check_soft_policy, lambda mdp, T, temperature: soft_value_iteration(mdp, T, temperature).policy),
    (checks_soft.check_gamble_threshold, bisected_threshold),
    (checks_soft.check_elbo_optimal_policy,
     lambda mdp, T, temperature: soft_value_iteration(mdp, T, temperature, "expected").policy),
    (checks_vi.check_state_distributions, state_distributions),
    (checks_vi.check_policy_elbo, lambda mdp, policy: elbo(mdp, policy.shape[0], policy)),
]


@pytest.mark.parametrize(("check", "answer"), LIBRARY_ANSWERS)
def test_checks_accept_the_library_and_reject_stubs(check, answer):
    for seed in (0, 7):
        check(answer, seed=seed)
    with pytest.raises(AssertionError, match="not implemented yet"):
        check(stub, seed=7)
    with pytest.raises(AssertionError, match=r"got None|expected a pair"):
        check(lambda *args: None, seed=7)


def soft_value_iteration_variant(prior_inside: bool = True, log_in_optimistic: bool = True):
    """The solution's soft value iteration, or one of two plausible mistakes."""
    def answer(mdp, T, temperature, backup):
        log_prior = -math.log(mdp.num_actions) if prior_inside else 0.0
        q = torch.empty(T, mdp.num_states, mdp.num_actions, dtype=torch.float64)
        v = torch.empty(T, mdp.num_states, dtype=torch.float64)
        log_p = torch.log(mdp.transitions)
        v_next = torch.zeros(mdp.num_states, dtype=torch.float64)
        for t in reversed(range(T)):
            if backup == "expected":
                q[t] = mdp.rewards + mdp.transitions @ v_next
            elif log_in_optimistic:
                q[t] = mdp.rewards + temperature * torch.logsumexp(log_p + v_next / temperature, -1)
            else:
                q[t] = mdp.rewards + temperature * (mdp.transitions @ torch.exp(v_next / temperature))
            v[t] = temperature * torch.logsumexp(log_prior + q[t] / temperature, -1)
            v_next = v[t]
        return q, v
    return answer


def test_soft_value_iteration_check_names_the_mistake():
    checks_soft.check_soft_value_iteration(soft_value_iteration_variant(), seed=12)
    with pytest.raises(AssertionError, match=r"^V \(backup='expected', temperature=0\.5\) at t = 1, state \d"):
        checks_soft.check_soft_value_iteration(soft_value_iteration_variant(prior_inside=False), seed=12)
    optimistic_wrong = r"^V \(backup='optimistic', temperature=0\.5\) at t = 1, state \d: got inf"
    with pytest.raises(AssertionError, match=optimistic_wrong):
        checks_soft.check_soft_value_iteration(soft_value_iteration_variant(log_in_optimistic=False), seed=12)


def test_soft_policy_check_needs_log_space():
    def overflowing(mdp, T, temperature):
        weights = torch.exp(soft_value_iteration(mdp, T, temperature).q / temperature)
        return weights / weights.sum(-1, keepdim=True)

    with pytest.raises(AssertionError, match=r"^π \(temperature=0\.001\) at .*: got nan"):
        checks_soft.check_soft_policy(overflowing, seed=0)


def test_elbo_check_rejects_the_optimistic_and_the_shifted_policy():
    optimistic = lambda mdp, T, temperature: soft_value_iteration(mdp, T, temperature, "optimistic").policy  # noqa: E731
    with pytest.raises(AssertionError, match=r"ELBO of your policy .*: got [\d.-]+, expected [\d.-]+ ± 1e-08"):
        checks_soft.check_elbo_optimal_policy(optimistic, seed=0)

    def uniform(mdp, T, temperature):
        return torch.full((T, mdp.num_states, mdp.num_actions), 1 / mdp.num_actions, dtype=torch.float64)

    with pytest.raises(AssertionError, match=r"perturbed policy .* higher ELBO|ELBO of your policy"):
        checks_soft.check_elbo_optimal_policy(uniform, seed=0)


def test_guide_check_accepts_the_library_guide_and_names_a_wrong_transition():
    import pyro
    import pyro.distributions as dist

    mdp, horizon = checks_vi.vi_instance(11)
    checks_vi.check_guide(TabularPolicyGuide(mdp, horizon, name=checks_vi.PARAMETER), seed=11)

    def uniform_dynamics(mdp, T, num_trajectories=1, temperature=1.0, action_prior=None):
        logits = pyro.param(checks_vi.PARAMETER, lambda: torch.zeros(T, mdp.num_states, mdp.num_actions))
        with pyro.plate("trajectories", num_trajectories):
            state = pyro.sample("s_0", dist.Categorical(mdp.initial))
            for t in range(T):
                if t > 0:
                    state = pyro.sample(f"s_{t}", dist.Categorical(torch.ones(mdp.num_states) / mdp.num_states))
                pyro.sample(f"a_{t}", dist.Categorical(logits=logits[t, state]))

    with pytest.raises(AssertionError, match=r"^log p\(s_2 \| s_1, a_1\) \(site 's_1'\) at trajectory \d: got"):
        checks_vi.check_guide(uniform_dynamics, seed=11)
    with pytest.raises(AssertionError, match="not implemented yet"):
        checks_vi.check_guide(stub, seed=11)


def test_elbo_check_names_the_missing_action_prior():
    def no_prior(mdp, policy):
        joint = state_distributions(mdp, policy)[..., None] * policy
        return (joint * (mdp.rewards - torch.log(policy))).sum()

    with pytest.raises(AssertionError, match=r"^ELBO: got [\d.-]+, expected [\d.-]+ ± 1e-06$"):
        checks_vi.check_policy_elbo(no_prior, seed=31)


@pytest.mark.slow
def test_svi_check_accepts_the_library_fit_and_rejects_an_unfitted_guide():
    def library_fit(mdp, T, guide, num_steps, seed):
        return fit_policy(mdp, T, guide, num_steps, num_trajectories=128, lr=0.2, final_lr=0.2, seed=seed,
                          progress=False).log_policy

    checks_vi.check_svi_fit(library_fit, seed=41)
    with pytest.raises(AssertionError, match=r"ELBO of the fitted policy: got .* ± 0\.05; the largest part"):
        checks_vi.check_svi_fit(lambda mdp, T, guide, num_steps, seed: guide.log_policy().detach(), seed=41)


# ---- end to end: real notebooks graded in a separate kernel (slow) ------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each assignment built once by Otter Assign: ``student/NAME.ipynb`` and ``autograder/NAME.ipynb``."""
    out = tmp_path_factory.mktemp("homework_soft")
    return {name: grading.otter_assign(name, out / name) for name in ASSIGNMENTS}


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_scores_full_marks_and_student_notebook_zero(name, built, capsys):
    solution = grade_json(built[name] / "autograder" / f"{name}.ipynb", capsys)
    assert solution["total"] == solution["possible"] == 12, solution
    assert all(not question["messages"] for question in solution["questions"])
    student = grade_json(built[name] / "student" / f"{name}.ipynb", capsys)
    assert student["possible"] == 12
    for question in student["questions"]:
        assert question["score"] == 0, question
        assert all("not implemented yet" in message for message in question["messages"]), question


@pytest.mark.slow
def test_written_question_is_manual_and_left_to_the_instructor(built):
    notebook = nbformat.read(built["03_soft_optimality"] / "student" / "03_soft_optimality.ipynb", as_version=4)
    sources = [cell.source for cell in notebook.cells]
    prompt = next(i for i, source in enumerate(sources) if "Question 5 (3 points, graded by hand)" in source)
    assert "Type your answer here" in sources[prompt + 1]
    assert not (built["03_soft_optimality"] / "autograder" / "tests" / "q5.py").exists()


@pytest.mark.slow
def test_optimistic_backup_without_the_log_loses_exactly_q1(built, tmp_path, capsys):
    wrong = edited(
        built["03_soft_optimality"] / "autograder" / "03_soft_optimality.ipynb", tmp_path / "wrong.ipynb",
        "temperature * torch.logsumexp(log_p + v_next / temperature, dim=-1)",
        "temperature * (mdp.transitions @ torch.exp(v_next / temperature))")
    report = grade_json(wrong, capsys)
    scores = {question["name"]: question for question in report["questions"]}
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 0, "q2": 3, "q3": 3, "q4": 3}, report
    assert len(scores["q1"]["messages"]) == 3
    assert all(re.search(r"V \(backup='optimistic', temperature=[\d.]+\) at t = \d, state \d: got [\w.+-]+, "
                         r"expected -?[\d.]+ ± 1e-06", message) for message in scores["q1"]["messages"]), scores["q1"]


@pytest.mark.slow
def test_elbo_without_the_action_prior_loses_exactly_q3(built, tmp_path, capsys):
    wrong = edited(
        built["04_control_as_vi_pyro"] / "autograder" / "04_control_as_vi_pyro.ipynb", tmp_path / "wrong.ipynb",
        "(mdp.rewards + log_prior - torch.log(policy))", "(mdp.rewards - torch.log(policy))")
    report = grade_json(wrong, capsys)
    scores = {question["name"]: question for question in report["questions"]}
    assert {name: question["score"] for name, question in scores.items()} == \
        {"q1": 3, "q2": 3, "q3": 0, "q4": 3}, report
    assert all(re.search(r"ELBO: got -?[\d.]+, expected -?[\d.]+ ± 1e-06", message)
               for message in scores["q3"]["messages"]), scores["q3"]
