"""Pseudo-counts: the notes' formula against true counts (a frequency model recovers them exactly), the
Dirichlet-smoothed model's closed form N̂ = N + α, and bad inputs."""

from collections import Counter

import pytest
import torch

from pgm_control.exploration import DirichletDensity, EmpiricalDensity, pseudo_count


def stream(num_runs=3, length=40, num_symbols=7, seed=0):
    """Symbols drawn from all but the last of ``num_symbols``, so that one symbol is never seen."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(num_symbols - 1, (num_runs, length), generator=generator)


def trained(model, symbols, num_symbols=7):
    model.reset(symbols.shape[0], num_symbols)
    for column in symbols.T:
        model.update(column)
    return model


def true_counts(symbols, num_symbols=7):
    """N(x) per run, counted in Python."""
    return torch.tensor([[Counter(row.tolist())[x] for x in range(num_symbols)] for row in symbols],
                        dtype=torch.float64)


def all_symbols(model, num_runs=3, num_symbols=7):
    """prob and recoding_prob of every symbol in every run, [R, X] each."""
    columns = [torch.full((num_runs,), x) for x in range(num_symbols)]
    return (torch.stack([model.prob(c) for c in columns], -1),
            torch.stack([model.recoding_prob(c) for c in columns], -1))


def test_empirical_frequency_density_recovers_the_true_counts():
    symbols = stream()
    before, after = all_symbols(trained(EmpiricalDensity(), symbols))
    counts = pseudo_count(before, after)
    # The algebra cancels exactly (N̂ = N); float64 rounding of the four divisions leaves < 1e-13 here.
    torch.testing.assert_close(counts, true_counts(symbols), rtol=1e-13, atol=1e-13)
    assert torch.equal(counts.round(), true_counts(symbols))
    assert (true_counts(symbols) == 0).any()  # unseen symbols are covered: N̂ = 0


def test_dirichlet_density_pseudo_count_is_count_plus_prior():
    symbols, prior = stream(seed=1), 0.5
    model = trained(DirichletDensity(prior), symbols)
    before, after = all_symbols(model)
    counts = pseudo_count(before, after)
    torch.testing.assert_close(counts, true_counts(symbols) + prior, rtol=1e-12, atol=0)
    # n̂ = N̂ / p_θ(x) = n + α X, the same for every symbol
    torch.testing.assert_close(counts / before, torch.full((3, 7), 40 + prior * 7, dtype=torch.float64),
                               rtol=1e-12, atol=0)


def test_density_pseudo_counts_method_matches_the_formula_and_the_single_symbol_case():
    symbols = stream(seed=2)
    model = trained(EmpiricalDensity(), symbols)
    query = symbols[:, 0]
    torch.testing.assert_close(model.pseudo_counts(query), pseudo_count(model.prob(query), model.recoding_prob(query)))
    only_one = trained(EmpiricalDensity(), torch.full((2, 5), 3))  # p = p' = 1: the formula reads 0/0
    assert only_one.pseudo_counts(torch.tensor([3, 3])).tolist() == [5.0, 5.0]


def test_pseudo_count_by_hand():
    # p = N/n = 2/8, p' = 3/9: n̂ = (1 − 1/3) / (1/3 − 1/4) · 1/4 = 8, N̂ = 8 · 1/4 = 2
    assert pseudo_count(2 / 8, 3 / 9).item() == pytest.approx(2.0, rel=1e-14)
    assert pseudo_count(torch.tensor([0.0]), torch.tensor([0.5])).tolist() == [0.0]


@pytest.mark.parametrize(("before", "after", "error", "match"), [
    (0.5, 0.5, ValueError, "prob_after must exceed prob_before"),
    (0.5, 0.4, ValueError, "learning-positive"),
    ([0.1, 0.2], [0.3], ValueError, "same shape"),
    (-0.1, 0.5, ValueError, "prob_before must hold probabilities"),
    (0.1, 1.5, ValueError, "prob_after must hold probabilities"),
    (float("nan"), 0.5, ValueError, "prob_before must be finite"),
    ("a", 0.5, TypeError, "prob_before"),
])
def test_pseudo_count_rejects_bad_inputs(before, after, error, match):
    with pytest.raises(error, match=match):
        pseudo_count(before, after)


@pytest.mark.parametrize("prior", [0.0, -1.0, float("inf"), float("nan")])
def test_dirichlet_prior_must_be_positive(prior):
    with pytest.raises(ValueError, match="prior must be a positive"):
        DirichletDensity(prior)


def test_dirichlet_prior_type():
    with pytest.raises(TypeError, match="prior must be"):
        DirichletDensity("0.5")
