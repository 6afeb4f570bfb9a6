"""The log-space products behind every solver, on matrices large enough to take the sparse path."""

import numpy as np
import pytest
import torch

from pgm_control._logspace import SMALL, csr_matrix, log_matvec, scatter_logsumexp


def numpy_log_matvec(M, log_x):
    """Independent truth: per-row max shift in numpy, -inf for rows without mass."""
    with np.errstate(divide="ignore"):
        terms = np.log(M) + log_x[None, :]
    shift = np.max(terms, axis=1, keepdims=True)
    shift[~np.isfinite(shift)] = 0.0
    with np.errstate(divide="ignore"):
        return np.log(np.exp(terms - shift).sum(1)) + shift[:, 0]


def sparse_case(seed, rows=400, cols=300, per_row=3):
    rng = np.random.default_rng(seed)
    M = np.zeros((rows, cols))
    for i in range(rows):
        M[i, rng.choice(cols, per_row, replace=False)] = rng.dirichlet(np.ones(per_row))
    return M


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_log_matvec_is_exact_for_any_magnitude(layout, scale):
    """Values spread over ±1e4 force the per-row fallback of most rows; 1.0 takes the fast product."""
    M = sparse_case(0)
    assert M.size > SMALL
    log_x = np.random.default_rng(1).normal(size=300) * scale
    matrix = torch.tensor(M)
    if layout == "csr":
        i, j = np.nonzero(M)
        matrix = csr_matrix(torch.tensor(i), torch.tensor(j), torch.tensor(M[i, j]), M.shape)
    got = log_matvec(matrix, torch.tensor(log_x))
    np.testing.assert_allclose(got.numpy(), numpy_log_matvec(M, log_x), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_log_matvec_rows_without_mass_are_minus_infinity_with_finite_gradients(layout):
    M = sparse_case(2)
    log_x = torch.tensor(np.random.default_rng(3).normal(size=300) * 800.0)
    log_x[:150] = -torch.inf  # many rows reach only -inf entries
    log_x.requires_grad_(True)
    matrix = torch.tensor(M)
    if layout == "csr":
        i, j = np.nonzero(M)
        matrix = csr_matrix(torch.tensor(i), torch.tensor(j), torch.tensor(M[i, j]), M.shape)
    got = log_matvec(matrix, log_x)
    expected = numpy_log_matvec(M, log_x.detach().numpy())
    np.testing.assert_array_equal(np.isfinite(got.detach().numpy()), np.isfinite(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got.detach().numpy()[finite], expected[finite], rtol=1e-13)
    got[torch.tensor(finite)].sum().backward()
    assert torch.isfinite(log_x.grad).all()
    # d/d log_x_j Σ_i log Σ_k M_ik x_k = Σ_i M_ij x_j / (M x)_i: compare on the finite rows in numpy
    with np.errstate(divide="ignore"):
        terms = (np.log(M) + log_x.detach().numpy()[None, :])[finite]
    weights = np.exp(terms - terms.max(1, keepdims=True))
    responsibilities = weights / weights.sum(1, keepdims=True)
    np.testing.assert_allclose(log_x.grad.numpy(), responsibilities.sum(0), atol=1e-10)


def test_scatter_logsumexp_keeps_far_apart_bins_exact():
    values = torch.tensor([-1e5, -1e5 + 1.0, 3.0, 1e5], dtype=torch.float64)
    index = torch.tensor([0, 0, 1, 2])
    got = scatter_logsumexp(values, index, 4)
    expected = [-1e5 + np.logaddexp(0.0, 1.0), 3.0, 1e5, -np.inf]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-15)
