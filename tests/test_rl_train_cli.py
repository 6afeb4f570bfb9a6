"""`pgm-control train` smoke runs (tiny step counts) and the records they write: the CSV log, the
learning-curve data, the checkpoints."""

import contextlib
import csv
import io

import numpy as np
import pytest
import torch

from pgm_control.cli import main
from pgm_control.rl.sac import SAC
from pgm_control.rl.soft_q import SoftQ
from pgm_control.rl.training import ReturnsLog, TrainingHistory, moving_average, plot_learning_curve, read_returns

TINY = ["--set", "hidden=16,16", "--set", "batch_size=16", "--set", "learning_starts=50", "--no-progress",
        "--eval-episodes", "2"]


def run(*argv):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(list(argv))
    return status, printed.getvalue()


def test_train_sac_writes_the_files(tmp_path):
    out = tmp_path / "sac"
    status, printed = run("train", "sac", "--env", "Pendulum-v1", "--steps", "220", "--out", str(out),
                          "--variant", "v1", "--set", "eval_every=100", "--set", "eval_episodes=1", *TINY)
    assert status == 0
    assert "SAC v1 on Pendulum-v1, seed 0: 220 steps" in printed
    assert "final evaluation over 2 episodes" in printed
    for name in ("returns.csv", "learning_curve.png", "checkpoint.pt"):
        assert f"wrote {out / name}" in printed and (out / name).stat().st_size > 0
    history = read_returns(out / "returns.csv")
    assert history.episode_steps == [200] and history.episode_lengths == [200]
    assert history.eval_steps == [100, 200, 220]  # two periodic evaluations, then the final one
    agent = SAC.load(out / "checkpoint.pt")
    assert agent.step == 220 and agent.config.variant == "v1" and agent.config.hidden == (16, 16)
    assert agent.history.episode_returns == history.episode_returns


def test_train_soft_q_writes_the_files(tmp_path):
    out = tmp_path / "soft_q"
    status, printed = run("train", "soft-q", "--steps", "150", "--out", str(out), "--seed", "3", *TINY)
    assert status == 0 and "SoftQ on CartPole-v1, seed 3: 150 steps" in printed
    history = read_returns(out / "returns.csv")
    assert sum(history.episode_lengths) <= 150 and len(history.episode_steps) >= 2  # random episodes are short
    assert SoftQ.load(out / "checkpoint.pt").step == 150


def test_train_q_learning_writes_the_files(tmp_path):
    pytest.importorskip("pgm_control.rl.tabular")
    out = tmp_path / "q"
    status, printed = run("train", "q-learning", "--env", "CliffWalking-v1", "--steps", "3000", "--out", str(out),
                          "--no-progress", "--eval-episodes", "1", "--set", "epsilon=0.2")
    assert status == 0 and "Q-learning on CliffWalking-v1" in printed
    saved = torch.load(out / "q_table.pt")
    assert saved["q"].shape == (48, 4)
    history = read_returns(out / "returns.csv")
    assert history.episode_returns == pytest.approx(saved["episode_returns"].tolist())
    assert history.episode_steps[-1] <= 3000 and np.all(np.diff(history.episode_steps) > 0)


def test_returns_log_round_trip_and_append(tmp_path):
    path = tmp_path / "returns.csv"
    with ReturnsLog(path) as log:
        log.episode(200, -1234.5678901234567, 200)
        log.evaluation(200, -0.1 + 0.2, 3.0)
    with ReturnsLog(path) as log:  # a resumed run appends, without a second header
        log.episode(400, 1e-300, 200)
    with open(path) as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(ReturnsLog.COLUMNS) and len(rows) == 4
    history = read_returns(path)
    assert history == TrainingHistory([200, 400], [-1234.5678901234567, 1e-300], [200, 200], [200],
                                      [-0.1 + 0.2], [3.0])  # floats written with repr: exact


def test_learning_curve_plots_the_data():
    history = TrainingHistory([200, 400, 600], [-900.0, -500.0, -100.0], [200] * 3, [400, 600], [-300.0, -150.0],
                              [10.0, 5.0])
    ax = plot_learning_curve(history, window=2, title="t")
    episodes, average, evaluations = ax.lines[:3]
    assert list(episodes.get_xdata()) == [200, 400, 600] and list(episodes.get_ydata()) == [-900, -500, -100]
    assert list(average.get_ydata()) == [-900.0, -700.0, -300.0]
    assert list(evaluations.get_xdata()) == [400, 600] and list(evaluations.get_ydata()) == [-300, -150]
    assert ax.get_title() == "t" and ax.get_xlabel() == "environment steps"
    assert moving_average([], 3).shape == (0,)


@pytest.mark.parametrize("argv, option", [
    (["sac", "--env", "NoSuchEnv-v0"], "--env: cannot make 'NoSuchEnv-v0'"),
    (["sac", "--env", "CartPole-v1"], "--env: sac needs a continuous (Box) action space"),
    (["soft-q", "--env", "Pendulum-v1"], "--env: soft-q needs discrete actions"),
    (["q-learning", "--env", "CartPole-v1"], "--env: q-learning needs discrete actions and discrete observations"),
    (["sac", "--threads", "0"], "argument --threads: must be a positive integer, got 0"),
    (["sac", "--steps", "-5"], "argument --steps: must be a positive integer, got -5"),
    (["sac", "--eval-episodes", "0"], "argument --eval-episodes: must be a positive integer, got 0"),
    (["sac", "--eval-episodes", "-1"], "argument --eval-episodes: must be a positive integer, got -1"),
    (["sac", "--seed", "-1"], "argument --seed: must be an integer in [0, 2**63 - 1]"),
    (["soft-q", "--variant", "v1"], "--variant applies to sac only"),
    (["sac", "--set", "lr"], "--set takes KEY=VALUE, got 'lr'"),
    (["q-learning", "--set", "tau=2"], "--set: q_learning has no option ['tau']"),
    (["sac", "--steps", "1", "--set", "learning_rate=1"], "--set: unknown SACConfig field(s) ['learning_rate']"),
    (["sac", "--steps", "1", "--set", "tau=2"], "--set: SACConfig.tau must be in"),
])
def test_bad_options_exit_2_with_one_line_naming_the_option(argv, option, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *argv, "--out", str(tmp_path / "run"), "--no-progress"])
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and option in error_lines[0], error_lines


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "q-learning", "--out", str(blocker / "run"), "--no-progress"])
    assert exit_info.value.code == 2
    assert f"--out: cannot write to {blocker / 'run'}" in capsys.readouterr().err


def test_a_diverging_run_stops_with_one_line_and_exit_status_1(tmp_path, capsys):
    """lr = 1e30 makes the networks non-finite within a few updates: the agent's guard raises
    FloatingPointError and the CLI reports it in one line (no traceback), exit status 1."""
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "soft-q", "--env", "CartPole-v1", "--steps", "300", "--eval-episodes", "1",
              "--no-progress", "--out", str(tmp_path), "--set", "lr=1e30", "--set", "learning_starts=50",
              "--set", "batch_size=16"])
    assert "training stopped" in str(exit_info.value.code) and "step" in str(exit_info.value.code)
