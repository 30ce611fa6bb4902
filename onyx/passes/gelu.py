"""Recognise GELU written out, as one ``Gelu`` node: the erf form
``0.5 * x * (1 + erf(x / sqrt(2)))`` and the tanh approximation
``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))`` (``approximate="tanh"``).

Exporters below opset 20 (torch's ``nn.GELU``) write the formula out; from opset 20 ONNX has
the op, which the NumPy backend runs in one pass and the CUDA backend as one kernel. Operand
order, ``x / 1.4142`` vs ``x * 0.7071`` and where the 0.5 is applied all vary, so the pass
walks from each ``Erf``. Models below opset 20 are left as they are (the fusion pass still
groups the formula's elementwise ops).
"""

from __future__ import annotations

import math

from onyx.ir.core import Model, Node
from onyx.passes.structure import (
    FormulaPass,
    Replacement,
    internal,
    is_op,
    near,
    only_user,
    other_operand,
    scalar,
)

SQRT2 = math.sqrt(2.0)


def _erf_argument(erf: Node):
    """``x`` when the Erf reads ``x / sqrt(2)`` or ``x * (1 / sqrt(2))``."""
    v = erf.inputs[0]
    p = v.producer
    if not internal(v) or not is_op(p, "Div", "Mul"):
        return None, None
    if p.op_type == "Div":
        return (p.inputs[0], p) if near(scalar(p.inputs[1]), SQRT2) else (None, None)
    for x, c in ((p.inputs[0], p.inputs[1]), (p.inputs[1], p.inputs[0])):
        if near(scalar(c), 1 / SQRT2):
            return x, p
    return None, None


def _mul_const(node: Node | None, target: float):
    """The non-constant operand of ``node`` when it is a Mul by a constant near ``target``."""
    if not is_op(node, "Mul"):
        return None
    for v, c in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        if near(scalar(c), target):
            return v
    return None


def _is_cube(v, x) -> list[Node] | None:
    """The nodes computing ``x**3`` as ``Pow(x, 3)`` or ``x * (x * x)`` (either order)."""
    p = v.producer
    if not internal(v):
        return None
    if is_op(p, "Pow") and p.inputs[0] is x and near(scalar(p.inputs[1]), 3.0):
        return [p]
    if is_op(p, "Mul") and x in p.inputs:
        sq = other_operand(p, x)
        q = sq.producer if sq is not None else None
        if is_op(q, "Mul") and internal(sq) and q.inputs[0] is x and q.inputs[1] is x:
            return [p, q]
    return None


def _tanh_argument(tanh: Node):
    """``x`` when the Tanh reads ``sqrt(2/pi) * (x + 0.044715 * x**3)``."""
    v = tanh.inputs[0]
    scale = v.producer
    inner = _mul_const(scale, math.sqrt(2 / math.pi)) if internal(v) else None
    add = inner.producer if inner is not None and internal(inner) else None
    if not is_op(add, "Add"):
        return None, []
    for x, term in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
        mul = term.producer
        cube = _mul_const(mul, 0.044715) if internal(term) else None
        nodes = _is_cube(cube, x) if cube is not None else None
        if nodes is not None:
            return x, [scale, add, mul] + nodes
    return None, []


def match_gelu(act: Node):
    """``(x, last node, matched nodes consumers-first, approximate)`` or ``None`` for an
    ``Erf`` or ``Tanh`` node."""
    if act.op_type == "Erf":
        x, scale = _erf_argument(act)
        inner, approximate = [scale], "none"
    else:
        x, inner = _tanh_argument(act)
        approximate = "tanh"
    if x is None:
        return None
    erf = act
    add = only_user(erf.outputs[0])
    if not is_op(add, "Add") or not near(scalar(other_operand(add, erf.outputs[0])), 1.0):
        return None
    mul = only_user(add.outputs[0])
    if not is_op(mul, "Mul"):
        return None
    other = other_operand(mul, add.outputs[0])
    if other is None:
        return None
    if near(scalar(other), 0.5) or other is x:  # 0.5 * (1 + erf) then * x, or x * (...) * 0.5
        last = only_user(mul.outputs[0])
        want = x if other is not x else None
        if not is_op(last, "Mul"):
            return None
        rest = other_operand(last, mul.outputs[0])
        if not (rest is want if want is not None else near(scalar(rest), 0.5)):
            return None
        return x, last, [last, mul, add, erf] + inner, approximate
    half = other.producer  # (x * 0.5) * (1 + erf)
    if is_op(half, "Mul") and internal(other) and near(scalar(other_operand(half, x)), 0.5):
        return x, mul, [mul, half, add, erf] + inner, approximate
    return None


class GeluFusionPass(FormulaPass):
    """Erf-form and tanh-form GELU → ``Gelu`` (opset ≥ 20)."""

    name, op_type, min_opset, anchors = "gelu", "Gelu", 20, ("Erf", "Tanh")

    def match(self, node: Node, model: Model) -> Replacement | None:
        found = match_gelu(node)
        if found is None:
            return None
        x, last, dead, approximate = found
        attrs = {"approximate": approximate} if approximate != "none" else None
        return Replacement([x], attrs, last, dead)
