"""A thin driver for MAP / maximum-likelihood fits of Pyro models with an ``AutoDelta``-style guide.

With a point-mass guide the negative ELBO is exactly -log p(x, z) at the guide's point, so its
``Trace_ELBO().differentiable_loss`` is a deterministic objective that any torch optimizer can minimize.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pyro
import torch
from pyro.infer import Trace_ELBO

from pgm_control._checks import check_learning_rate, check_positive_integer, check_tolerance
from pgm_control._progress import progress_bar

OPTIMIZERS = ("lbfgs", "adam")
MAX_LINE_SEARCH = 25


class CachedClosure:
    """loss.backward() at the parameters' current values, remembered: L-BFGS re-evaluates the point it
    starts from, and the driver the point the line search accepted; both are then free."""

    def __init__(self, loss: Callable[[], torch.Tensor], params: list[torch.Tensor]):
        self.loss, self.params = loss, params
        self.point = self.value = self.grads = None

    def __call__(self) -> torch.Tensor:
        if self.point is not None and all(torch.equal(p, q) for p, q in zip(self.params, self.point)):
            for p, grad in zip(self.params, self.grads):
                p.grad = grad.clone()
            return self.value
        for p in self.params:
            p.grad = None
        value = self.loss()
        value.backward()
        self.point = [p.detach().clone() for p in self.params]
        self.value, self.grads = value.detach(), [p.grad.clone() for p in self.params]
        return self.value


class PointFit(NamedTuple):
    """``objective`` ``[K]``: log p(x, z) / scale at each step; ``gradient_norm`` ``[K]``: its gradient's
    ∞-norm over all parameters; ``converged``: the gradient norm reached the tolerance."""

    objective: list
    gradient_norm: list
    converged: bool


def check_optimizer(optimizer: str, num_steps, lr, tol) -> int:
    """Validate the optimizer settings shared by the point-estimate fits; return ``num_steps``."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    num_steps = check_positive_integer(num_steps, "num_steps")
    if lr is not None:
        check_learning_rate(lr)
    check_tolerance(tol)
    return num_steps


def fit_point_estimate(model, guide, *, optimizer: str, num_steps: int, lr: float | None, tol: float,
                       scale: float, progress: bool | None, work: float, desc: str,
                       on_step: Callable[[], dict | None] | None = None) -> PointFit:
    """Minimize -log p(x, z)/scale over the parameter store (cleared by the caller) by L-BFGS (strong
    Wolfe line search, one quasi-Newton update per step) or Adam; stop when the gradient's ∞-norm is
    at most ``tol``. ``on_step()`` runs at each step's point and may return progress-bar fields."""
    loss_fn = Trace_ELBO().differentiable_loss
    loss_fn(model, guide)  # creates the parameters
    params = [p.unconstrained() for p in pyro.get_param_store().values()]
    if optimizer == "lbfgs":
        # max_eval bounds the line search's evaluations (torch's default, 1.25 max_iter, would allow one)
        torch_optimizer = torch.optim.LBFGS(params, lr=1.0 if lr is None else lr, max_iter=1,
                                            max_eval=MAX_LINE_SEARCH, tolerance_grad=0.0, tolerance_change=0.0,
                                            line_search_fn="strong_wolfe")
    else:
        torch_optimizer = torch.optim.Adam(params, lr=0.05 if lr is None else lr)
    closure = CachedClosure(lambda: loss_fn(model, guide) / scale, params)

    objective, gradient_norm = [], []
    with progress_bar(num_steps, progress, work, desc) as bar:
        for _ in range(num_steps):
            objective.append(-closure().item())
            gradient_norm.append(max(p.grad.abs().max().item() for p in params))
            fields = on_step() if on_step is not None else None
            bar.set_postfix(fields or {"gradient": f"{gradient_norm[-1]:.1e}"}, refresh=False)
            bar.update()
            if gradient_norm[-1] <= tol:
                return PointFit(objective, gradient_norm, True)
            if optimizer == "adam":
                torch_optimizer.step()
                continue
            before = [p.detach().clone() for p in params]
            torch_optimizer.step(closure)
            if all(torch.equal(b, p) for b, p in zip(before, params)):
                break  # the line search found no decrease: at the optimum to machine precision
    return PointFit(objective, gradient_norm, False)
