"""Small log-space primitives shared by the solvers.

The hot operation of every exact solver is a log-space matrix-vector product
log(M @ exp(x)) over a sparse (successor lists) or dense transition matrix. :func:`log_matvec` does it
with one ordinary product after a global shift, which is exact wherever the shifted result stays in
float64's normal range, and recomputes only the rows that fall outside it with a per-row shift. Every
row therefore gets full relative precision, for any magnitude of x.
"""

from __future__ import annotations

import warnings

import torch

# Below this a float64 sum may have lost relative precision (normal numbers end near 2.2e-308).
SAFE_MIN = 1e-280


def safe_log(x: torch.Tensor) -> torch.Tensor:
    """log(x) with log(0) = -inf and no warning; gradients at zero entries are zero, not NaN."""
    positive = x > 0
    return torch.where(positive, torch.log(torch.where(positive, x, torch.ones_like(x))), -torch.inf)


def logsumexp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """log Σ exp(x) over `dim`; an all -inf slice gives -inf with zero (not NaN) gradients."""
    shift = x.detach().amax(dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    return safe_log((x - shift).exp().sum(dim)) + shift.squeeze(dim)


def scatter_logsumexp(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    r"""out[j] = log Σ_{i : index[i] = j} exp(values[i]) for 1-D `values`, `index`; empty bins get -inf.

    The shift is the per-bin maximum, so no bin underflows. Differentiable with respect to `values`.
    """
    shift = values.new_full((size,), -torch.inf).scatter_reduce(
        0, index, values.detach(), reduce="amax", include_self=True
    )
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = values.new_zeros(size).scatter_add(0, index, torch.exp(values - shift[index]))
    return safe_log(total) + shift


def csr_matrix(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]):
    """A sparse CSR matrix from (row, col, value) triples with zero values dropped; int32 indices
    when they fit (about twice as fast as int64 in matrix-vector products)."""
    keep = values != 0
    rows, cols, values = rows[keep], cols[keep], values[keep]
    if not bool((rows[1:] >= rows[:-1]).all()):  # successor lists come sorted by (s, a) already
        order = torch.argsort(rows, stable=True)
        rows, cols, values = rows[order], cols[order], values[order]
    counts = torch.bincount(rows, minlength=shape[0])
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=values.device)
    crow[1:] = counts.cumsum(0)
    index_dtype = torch.int32 if max(values.numel(), *shape) < 2**31 - 1 else torch.long
    with warnings.catch_warnings():  # "sparse CSR support is in beta": matrix-vector products are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow.to(index_dtype), cols.to(index_dtype), values, shape,
                                       check_invariants=False)


# Below this many stored entries a log-space product is computed row by row with per-row shifts
# outright: for small matrices that is cheaper than a sparse product plus a fallback.
SMALL = 1 << 16


def log_matvec(matrix: torch.Tensor, log_x: torch.Tensor, exact_rows=None) -> torch.Tensor:
    r"""log(M @ exp(log_x)) for a non-negative matrix M ``[m, n]`` (sparse CSR or dense), log_x ``[n]``.

    One product with a global shift; rows whose shifted value is below float64's safe range are
    recomputed exactly with a per-row shift by ``exact_rows(log_x, rows)`` (default: from the CSR
    structure or dense rows); rows with no mass at all stay -inf. Differentiable in log_x.
    """
    exact_rows = exact_rows or (lambda values, rows: exact_log_matvec_rows(matrix, values, rows))
    stored = matrix.values().numel() if matrix.layout == torch.sparse_csr else matrix.numel()
    if stored <= SMALL:
        return exact_rows(log_x, torch.arange(matrix.shape[0], device=log_x.device))
    shift = log_x.detach().max()
    shift = shift if torch.isfinite(shift) else torch.zeros_like(shift)
    total = matrix @ torch.exp(log_x - shift)
    if bool(total.min() >= SAFE_MIN):  # the common case: a plain log, no masks
        return total.log() + shift if total.requires_grad else total.log_().add_(shift)
    low = total < SAFE_MIN
    result = safe_log(total) + shift
    if not bool(torch.isfinite(log_x).all()):  # rows reached only by -inf entries have no mass
        support = _pattern(matrix) @ torch.isfinite(log_x).to(total.dtype)
        low = low & (support > 0)
        if not bool(low.any()):
            return result
    rows = low.nonzero().squeeze(-1)
    return result.index_put((rows,), exact_rows(log_x, rows))


def _pattern(matrix: torch.Tensor) -> torch.Tensor:
    if matrix.layout == torch.sparse_csr:
        return torch.sparse_csr_tensor(matrix.crow_indices(), matrix.col_indices(),
                                       torch.ones_like(matrix.values()), matrix.shape,
                                       check_invariants=False)
    return (matrix > 0).to(matrix.dtype)


def exact_log_matvec_rows(matrix: torch.Tensor, log_x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """log Σ_j M[i, j] exp(log_x[j]) for the given rows i, each with its own shift."""
    if matrix.layout != torch.sparse_csr:
        return logsumexp(safe_log(matrix[rows]) + log_x, dim=-1)
    crow, cols, values = matrix.crow_indices().long(), matrix.col_indices().long(), matrix.values()
    starts, counts = crow[rows], crow[rows + 1] - crow[rows]
    segment = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    offsets = (torch.arange(int(counts.sum()), device=rows.device)
               - torch.repeat_interleave(counts.cumsum(0) - counts, counts))
    entries = starts[segment] + offsets
    return scatter_logsumexp(torch.log(values[entries]) + log_x[cols[entries]], segment, len(rows))
