"""Adagrad, RMSprop and Adadelta (torch's update formulas and defaults)."""

from __future__ import annotations

import numpy as np

from onyx.frontend.optim.optimizer import Optimizer, assign, hyper, op, scalar
from onyx.frontend.tensor import Tensor
from onyx.ir.dtypes import DType


def _zeros(p, fill: float = 0.0) -> Tensor:
    return Tensor._wrap(np.full_like(p._data, fill))


def _next_step(step: Tensor) -> Tensor:
    return op("Add", step, Tensor._wrap(np.ones((), step._data.dtype)))


def _decay(g, p, wd):
    return op("Add", g, op("Mul", p, scalar(wd, p))) if wd else g


def _ema(avg, x, decay, p):
    """decay * avg + (1 - decay) * x"""
    return op("Add", op("Mul", avg, scalar(decay, p)), op("Mul", x, scalar(1 - decay, p)))


class Adagrad(Optimizer):
    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False):
        if lr < 0.0 or lr_decay < 0.0 or weight_decay < 0.0 or eps < 0.0:
            raise ValueError("Adagrad: lr, lr_decay, weight_decay and eps must be >= 0")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))
        for group in self.param_groups:  # torch creates the state eagerly
            for p in group["params"]:
                self.state[p] = {"step": Tensor._wrap(np.zeros((), np.float32)),
                                 "sum": _zeros(p, group["initial_accumulator_value"])}

    def _update(self, p, grad, state, group) -> None:
        g = op("Neg", grad) if group["maximize"] else grad
        step = state["step"] = _next_step(state["step"])
        g = _decay(g, p, group["weight_decay"])
        # clr = lr / (1 + (step - 1) * lr_decay), in float64 from the step tensor (traceable)
        one = Tensor._wrap(np.asarray(1.0, np.float64))
        decay = op("Mul", op("Sub", op("Cast", step, to=11), one),
                   Tensor._wrap(np.asarray(group["lr_decay"], np.float64)))
        clr = op("Div", hyper(group, "lr", p, np.float64), op("Add", one, decay))
        clr = op("Cast", clr, to=int(DType.from_numpy(p._data.dtype)))
        state["sum"] = op("Add", state["sum"], op("Mul", g, g))
        std = op("Add", op("Sqrt", state["sum"]), scalar(group["eps"], p))
        assign(p, op("Sub", p, op("Mul", op("Div", g, std), clr)))


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        if lr < 0.0 or eps < 0.0 or momentum < 0.0 or weight_decay < 0.0 or alpha < 0.0:
            raise ValueError("RMSprop: lr, alpha, eps, momentum and weight_decay must be >= 0")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group) -> None:
        if not state:
            state["step"] = Tensor._wrap(np.zeros((), np.float32))
            state["square_avg"] = _zeros(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros(p)
            if group["centered"]:
                state["grad_avg"] = _zeros(p)
        g = op("Neg", grad) if group["maximize"] else grad
        state["step"] = _next_step(state["step"])
        g = _decay(g, p, group["weight_decay"])
        sq = state["square_avg"] = _ema(state["square_avg"], op("Mul", g, g), group["alpha"], p)
        if group["centered"]:
            ga = state["grad_avg"] = _ema(state["grad_avg"], g, group["alpha"], p)
            avg = op("Sqrt", op("Sub", sq, op("Mul", ga, ga)))
        else:
            avg = op("Sqrt", sq)
        avg = op("Add", avg, scalar(group["eps"], p))
        if group["momentum"] > 0:
            buf = op("Add", op("Mul", state["momentum_buffer"], scalar(group["momentum"], p)),
                     op("Div", g, avg))
            state["momentum_buffer"] = buf
            assign(p, op("Sub", p, op("Mul", buf, hyper(group, "lr", p))))
        else:
            assign(p, op("Sub", p, op("Mul", op("Div", g, avg), hyper(group, "lr", p))))


class Adadelta(Optimizer):
    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False):
        if lr < 0.0 or not 0.0 <= rho <= 1.0 or eps < 0.0 or weight_decay < 0.0:
            raise ValueError("Adadelta: invalid lr, rho, eps or weight_decay")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p, grad, state, group) -> None:
        if not state:
            state["step"] = Tensor._wrap(np.zeros((), np.float32))
            state["square_avg"] = _zeros(p)
            state["acc_delta"] = _zeros(p)
        g = op("Neg", grad) if group["maximize"] else grad
        state["step"] = _next_step(state["step"])
        g = _decay(g, p, group["weight_decay"])
        rho, eps = group["rho"], group["eps"]
        sq = state["square_avg"] = _ema(state["square_avg"], op("Mul", g, g), rho, p)
        std = op("Sqrt", op("Add", sq, scalar(eps, p)))
        delta = op("Mul", op("Div", op("Sqrt", op("Add", state["acc_delta"], scalar(eps, p))),
                             std), g)
        state["acc_delta"] = _ema(state["acc_delta"], op("Mul", delta, delta), rho, p)
        assign(p, op("Sub", p, op("Mul", delta, hyper(group, "lr", p))))
