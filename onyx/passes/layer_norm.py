"""Recognise a written-out layer normalization as one ``LayerNormalization`` node (opset ≥ 17):

    mean = ReduceMean(x, trailing axes);  d = x - mean
    var = ReduceMean(d ** 2 or d * d);    y = d / Sqrt(var + eps)     [* gamma] [+ beta]

as exporters write it below opset 17 (or for a hand-written layer norm). The walk starts at
the ``Div`` and checks that both means reduce the same trailing axes with ``keepdims=1``.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.core import Model, Node
from onyx.ir.tensor import Tensor
from onyx.ir.types import TensorType
from onyx.passes.infra import NameScope, constant_value
from onyx.passes.structure import (
    FormulaPass,
    Replacement,
    internal,
    is_op,
    near,
    only_user,
    other_operand,
    reduce_axes,
    scalar,
)


def _trailing_axis(axes: list[int] | None, rank: int) -> int | None:
    """The first of ``axes`` when they are the last ``len(axes)`` axes, else ``None``."""
    if not axes:
        return None
    norm = sorted(a % rank for a in axes)
    return norm[0] if norm == list(range(rank - len(norm), rank)) else None


def _square_of(v, d) -> Node | None:
    p = v.producer
    if is_op(p, "Pow") and p.inputs[0] is d and near(scalar(p.inputs[1]), 2.0):
        return p
    if is_op(p, "Mul") and p.inputs[0] is d and p.inputs[1] is d:
        return p
    return None


def match_layer_norm(div: Node, opset: int):
    """``(x, axis, eps, matched nodes consumers-first)`` or ``None`` for the core formula."""
    d, std_v = div.inputs[0], div.inputs[1]
    sub, sqrt = d.producer, std_v.producer
    if not is_op(sub, "Sub") or not is_op(sqrt, "Sqrt") or not internal(std_v):
        return None
    x, mean_v = sub.inputs
    mean = mean_v.producer
    if not is_op(mean, "ReduceMean") or mean.inputs[0] is not x or not internal(mean_v):
        return None
    add_v = sqrt.inputs[0]
    add = add_v.producer
    if not is_op(add, "Add") or not internal(add_v):
        return None
    var_v = next((i for i in add.inputs if is_op(i.producer, "ReduceMean")), None)
    eps = scalar(other_operand(add, var_v)) if var_v is not None else None
    if eps is None or not internal(var_v):
        return None
    var = var_v.producer
    sq = _square_of(var.inputs[0], d)
    if sq is None or not internal(var.inputs[0]) or d.is_graph_output() \
            or {id(u) for u, _ in d.uses()} != {id(sq), id(div)}:
        return None
    rank = len(x.shape) if isinstance(x.type, TensorType) and x.shape is not None else None
    if rank is None:
        return None
    axes = reduce_axes(mean, opset)
    axis = _trailing_axis(axes, rank)
    if axis is None or reduce_axes(var, opset) != axes:
        return None
    if mean.attr("keepdims", 1) != 1 or var.attr("keepdims", 1) != 1:
        return None
    return x, axis, eps, [div, sqrt, add, var, sq, sub, mean]


def _affine(v, op: str, normalized: tuple):
    """The node applying a constant gamma (``Mul``) or beta (``Add``) to ``v``, if any."""
    user = only_user(v)
    if not is_op(user, op):
        return None, None
    c = other_operand(user, v)
    value = constant_value(c)
    if value is None or value.ndim > len(normalized) or \
            tuple(value.shape) != tuple(normalized)[len(normalized) - value.ndim:]:
        return None, None
    return user, c


class LayerNormFusionPass(FormulaPass):
    """Mean/variance/normalize [* gamma + beta] → ``LayerNormalization`` (opset ≥ 17)."""

    name, op_type, min_opset, anchors = "layer_norm", "LayerNormalization", 17, ("Div",)

    def match(self, node: Node, model: Model) -> Replacement | None:
        found = match_layer_norm(node, model.opset)
        if found is None:
            return None
        x, axis, eps, dead = found
        if not all(isinstance(s, int) for s in x.shape[axis:]):
            return None
        normalized = tuple(x.shape[axis:])
        last, inputs = node, [x, None]  # no gamma: a scale of ones, made by ``finish``
        mul, gamma = _affine(node.outputs[0], "Mul", normalized)
        if mul is not None:
            dead.insert(0, mul)
            last, inputs = mul, [x, gamma]
            add, beta = _affine(mul.outputs[0], "Add", normalized)
            if add is not None:
                dead.insert(0, add)
                last, inputs = add, [x, gamma, beta]
        return Replacement(inputs, {"axis": axis, "epsilon": eps}, last, dead)

    def finish(self, found: Replacement, model: Model, names: NameScope) -> list:
        if found.inputs[1] is not None:
            return found.inputs
        x = found.inputs[0]
        ones = np.ones(tuple(x.shape[found.attrs["axis"]:]), x.type.dtype.numpy)
        name = names.fresh("layer_norm_scale")
        return [x, model.graph.add_initializer(name, Tensor(ones, name))]
