"""The README's Quick start runs as written, and its maps list every tutorial and assignment."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quick_start() -> str:
    """The one python block between the quick-start markers."""
    match = re.search(r"<!-- quick-start -->\s*```python\n(.*?)```\s*<!-- /quick-start -->", README, re.S)
    assert match, "README.md must hold one ```python block between <!-- quick-start --> markers"
    return match.group(1)


def test_quick_start_is_at_most_15_lines():
    assert len(quick_start().strip().splitlines()) <= 15


@pytest.mark.slow  # about 3 s of CPU: a 10-step soft VI, a Pyro trace and MaxEnt IRL on 200 trajectories
def test_quick_start_runs_and_recovers_the_reward(capsys):
    matplotlib.use("Agg")
    namespace: dict = {}
    exec(compile(quick_start(), "README.md:quick-start", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "tensor(" in printed
    assert tuple(namespace["soft"].policy.shape) == (10, 16, 4)
    # terrain_gridworld's ψ* is evenly spaced from -1 to 0; one-hot features fix ψ only up to a shift.
    # 200 demonstrations of 10 steps: the fitted centred ψ is within 0.05 of the truth at this seed
    # (measured 0.02); 0.15 leaves room for other seeds' sampling noise while a wrong sign still fails.
    true_centred = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)
    fitted = namespace["fit"].psi
    assert torch.allclose(fitted - fitted.mean(), true_centred, atol=0.15)


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "tutorials").glob("*.ipynb")))
def test_readme_lists_every_tutorial(name):
    assert f"tutorials/{name}" in README, f"README.md's tutorial map does not list tutorials/{name}"


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "pgm_control/course/assignments").iterdir()
                                        if path.is_dir() and not path.name.startswith((".", "_"))))
def test_readme_lists_every_assignment(name):
    assert f"`{name}`" in README, f"README.md's homework map does not list {name}"
