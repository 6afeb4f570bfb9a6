"""The ``pgm-control demo`` command, run once in-process."""

import contextlib
import io

import pytest

from pgm_control.cli import BOOK_FIGURE_3_2, BOOK_FIGURE_3_5, main

FIGURES = [
    "sutton_barto_values.png", "goal_soft_values.png", "goal_state_marginals.png", "pgm.png", "svi_elbo.png",
    "irl_rewards.png",
]


def book_rows(table):
    """The rows of a book table as the demo prints them."""
    return [" ".join(f"{value:6.1f}" for value in row) for row in table.tolist()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(out folder, exit status, printed text) of one demo run."""
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["demo", "--out", str(out)])
    return out, status, printed.getvalue()


def test_demo_writes_figures(demo):
    out, status, printed = demo
    assert status == 0
    for name in FIGURES:
        assert (out / name).stat().st_size > 0
        assert f"wrote {out / name}" in printed


def test_demo_prints_and_checks_the_book_tables(demo):
    _, _, printed = demo
    for row in book_rows(BOOK_FIGURE_3_2) + book_rows(BOOK_FIGURE_3_5):
        assert row in printed
    assert "matches Figure 3.2 (all 25 values to 1 decimal): yes" in printed
    assert "matches Figure 3.5 (all 25 values to 1 decimal): yes" in printed


def test_demo_prints_the_evidence_and_wall_time(demo):
    _, _, printed = demo
    assert "log p(O_1:T) = " in printed
    assert "p(s_T = goal | O_1:T) = " in printed
    assert "demo finished in " in printed


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "demo" in capsys.readouterr().err


def test_demo_table_exact_vs_enumeration_vs_svi(demo):
    """Messages and enumeration agree to the printed digit; SVI's policy is within 0.1 nats of the
    optimal ELBO and below it; the optimal ELBO is below log p(O) (stochastic dynamics)."""
    _, _, printed = demo
    rows = [line for line in printed.splitlines() if line.startswith("| lottery") or line.startswith("| trap")]
    assert len(rows) == 2
    for row in rows:
        messages, enumeration, best, svi, kl = (float(cell) for cell in row.strip("|").split("|")[1:])
        assert messages == enumeration
        assert best < messages
        assert best - 0.1 < svi <= best + 1e-9
        assert 0 <= kl < 0.02


def test_demo_inverse_rl_section_recovers_the_reward(demo):
    """The IRL section prints its KL (bound 0.05) and a cosine similarity close to 1."""
    _, _, printed = demo
    kl = float(printed.split("mean KL(π_expert || π_learned) = ")[1].split()[0])
    cosine = float(printed.split("fix ψ only up to a shift): ")[1].split()[0])
    assert kl <= 0.05 and cosine >= 0.99


def test_demo_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(blocker / "figures")])
    assert exit_info.value.code == 2
    assert f"--out: cannot write to {blocker / 'figures'}" in capsys.readouterr().err
