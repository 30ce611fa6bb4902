"""SGD with momentum, dampening, Nesterov momentum and weight decay (torch's update)."""

from __future__ import annotations

from onyx.frontend.ops._common import copy_of
from onyx.frontend.optim.optimizer import Optimizer, assign, hyper, op, required, scalar


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p, grad, state, group) -> None:
        g = op("Neg", grad) if group["maximize"] else grad
        if group["weight_decay"]:
            g = op("Add", g, op("Mul", p, scalar(group["weight_decay"], p)))
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = copy_of(g)  # torch: clone(grad).detach()
            else:
                buf = op("Add", op("Mul", buf, scalar(momentum, p)),
                         op("Mul", g, scalar(1 - group["dampening"], p)))
            state["momentum_buffer"] = buf
            g = op("Add", g, op("Mul", buf, scalar(momentum, p))) if group["nesterov"] else buf
        assign(p, op("Sub", p, op("Mul", g, hyper(group, "lr", p))))
