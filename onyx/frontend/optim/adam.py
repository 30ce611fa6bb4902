"""Adam and AdamW (decoupled weight decay), with AMSGrad; torch's update order."""

from __future__ import annotations

import numpy as np

from onyx.frontend.optim.optimizer import Optimizer, assign, hyper, op, scalar
from onyx.frontend.tensor import Tensor
from onyx.ir.dtypes import DType


def _check(lr, eps, betas, weight_decay) -> None:
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameters: {betas}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False):
        _check(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, p, grad, state, group) -> None:
        if not state:
            state["step"] = Tensor._wrap(np.zeros((), np.float32))
            state["exp_avg"] = Tensor._wrap(np.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
        beta1, beta2 = group["betas"]
        g = op("Neg", grad) if group["maximize"] else grad
        step = state["step"] = op("Add", state["step"], Tensor._wrap(np.ones((), np.float32)))
        lr = hyper(group, "lr", p, np.float64)
        wd = group["weight_decay"]
        if wd:
            if self._decoupled:
                keep = op("Sub", _f64(1.0), op("Mul", lr, _f64(wd)))
                assign(p, op("Mul", p, _cast(keep, p)))
            else:
                g = op("Add", g, op("Mul", p, scalar(wd, p)))
        m = op("Add", state["exp_avg"], op("Mul", op("Sub", g, state["exp_avg"]),
                                           scalar(1 - beta1, p)))
        v = op("Add", op("Mul", state["exp_avg_sq"], scalar(beta2, p)),
               op("Mul", op("Mul", g, g), scalar(1 - beta2, p)))
        state["exp_avg"], state["exp_avg_sq"] = m, v
        # bias corrections from the step tensor (float64, as torch's Python floats), so a
        # traced step keeps counting instead of baking in the step it was traced at
        step64 = op("Cast", step, to=int(DType.DOUBLE))
        step_size = op("Div", lr, _one_minus_pow(beta1, step64))
        bias2_sqrt = op("Sqrt", _one_minus_pow(beta2, step64))
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = op("Max", state["max_exp_avg_sq"], v)
        denom = op("Add", op("Div", op("Sqrt", v), _cast(bias2_sqrt, p)),
                   scalar(group["eps"], p))
        assign(p, op("Sub", p, op("Mul", op("Div", m, denom), _cast(step_size, p))))


def _f64(value: float) -> Tensor:
    return Tensor._wrap(np.asarray(value, np.float64))


def _one_minus_pow(beta: float, step64: Tensor) -> Tensor:
    return op("Sub", _f64(1.0), op("Pow", _f64(beta), step64))


def _cast(x: Tensor, like: Tensor) -> Tensor:
    return op("Cast", x, to=int(DType.from_numpy(like._data.dtype)))


class AdamW(Adam):
    """Adam with weight decay applied to the weights, not the gradient (default 1e-2)."""
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
