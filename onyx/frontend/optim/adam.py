"""Adam and AdamW (decoupled weight decay), with AMSGrad; torch's update order."""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.optim.optimizer import Optimizer, assign, op, scalar
from onyx.frontend.tensor import Tensor


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
        lr, wd = group["lr"], group["weight_decay"]
        g = op("Neg", grad) if group["maximize"] else grad
        state["step"] = Tensor._wrap(state["step"]._data + 1)
        step = float(state["step"]._data)
        if wd:
            if self._decoupled:
                assign(p, op("Mul", p, scalar(1 - lr * wd, p)))
            else:
                g = op("Add", g, op("Mul", p, scalar(wd, p)))
        m = op("Add", state["exp_avg"], op("Mul", op("Sub", g, state["exp_avg"]),
                                           scalar(1 - beta1, p)))
        v = op("Add", op("Mul", state["exp_avg_sq"], scalar(beta2, p)),
               op("Mul", op("Mul", g, g), scalar(1 - beta2, p)))
        state["exp_avg"], state["exp_avg_sq"] = m, v
        step_size = lr / (1 - beta1 ** step)
        bias2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = op("Max", state["max_exp_avg_sq"], v)
        denom = op("Add", op("Div", op("Sqrt", v), scalar(bias2_sqrt, p)),
                   scalar(group["eps"], p))
        assign(p, op("Sub", p, op("Mul", op("Div", m, denom), scalar(step_size, p))))


class AdamW(Adam):
    """Adam with weight decay applied to the weights, not the gradient (default 1e-2)."""
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
