"""``Optimizer``: parameter groups, per-parameter state, ``state_dict``, ``zero_grad``.

Updates are written with ONNX ops through ``apply`` under ``no_grad`` and stored into the
parameter's buffer, so a traced training step records the optimizer's math as plain ONNX.
"""

from __future__ import annotations

import copy
from collections import defaultdict

from onyx.frontend import dispatch
from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.dispatch import apply
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params) if not isinstance(params, Tensor) else None
        if groups is None:
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else Tensor._wrap(p.grad._data * 0)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from onyx.frontend.autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        if dispatch._TRACER is not None:  # compiled training: state becomes graph inputs
            dispatch._TRACER.register_optimizer(self)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad, self.state[p], group)
        return loss

    def _update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: {k: (v.detach() if isinstance(v, Tensor) else v)
                                for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            for p, i in zip(mine["params"], saved["params"]):
                by_index[int(i)] = p
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is None:
                raise OnyxError(f"optimizer state refers to parameter index {i}, which the "
                                f"optimizer does not have")
            self.state[p] = {k: (Tensor._wrap(v._data.astype(p._data.dtype, copy=True))
                                 if isinstance(v, Tensor) and v.dtype.is_floating_point
                                 and k != "step" else
                                 (v.clone() if isinstance(v, Tensor) else v))
                             for k, v in s.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in g if k != "params"):
                lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def assign(p: Tensor, value: Tensor) -> None:
    """Store ``value`` into ``p``'s buffer (an in-place update that bumps its version)."""
    p._data[...] = value._data
    p._version.value += 1
    if dispatch._TRACER is not None:  # the traced graph must see the parameter's new value
        dispatch._TRACER.rebind_written(p, value)


def hyper(group: dict, key: str, like: Tensor, dtype=None) -> Tensor:
    """``group[key]`` as a scalar tensor (of ``like``'s dtype, or ``dtype``). In a compiled
    step it is a graph input, so a scheduler changing it needs no retrace."""
    import numpy as np
    like = like if dtype is None else Tensor._wrap(np.zeros((), dtype))
    if dispatch._TRACER is not None:
        return dispatch._TRACER.hyperparameter(group, key, like)
    return Tensor._wrap(np.asarray(group[key], dtype=like._data.dtype))


def op(op_type: str, *inputs, **attrs) -> Tensor:
    return apply(op_type, *inputs, **attrs)


def scalar(value: float, like: Tensor) -> Tensor:
    import numpy as np
    return Tensor._wrap(np.asarray(value, dtype=like._data.dtype))

