"""Recognise the erf form of GELU, ``0.5 * x * (1 + erf(x / sqrt(2)))``, as one ``Gelu`` node.

Exporters below opset 20 (torch's ``nn.GELU``) write the formula out; from opset 20 ONNX has
the op, which the NumPy backend runs in one pass and the CUDA backend as one kernel. Operand
order, ``x / 1.4142`` vs ``x * 0.7071`` and where the 0.5 is applied all vary, so the pass
walks from each ``Erf``. Models below opset 20 are left as they are (the fusion pass still
groups the formula's elementwise ops).
"""

from __future__ import annotations

import math

from onyx.ir.core import Model, Node
from onyx.passes.infra import NameScope, Pass
from onyx.passes.structure import (
    internal,
    is_op,
    near,
    only_user,
    other_operand,
    replace_with,
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


def match_gelu(erf: Node):
    """``(x, last node, matched nodes consumers-first)`` or ``None``."""
    x, scale = _erf_argument(erf)
    if x is None:
        return None
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
        return x, last, [last, mul, add, erf, scale]
    half = other.producer  # (x * 0.5) * (1 + erf)
    if is_op(half, "Mul") and internal(other) and near(scalar(other_operand(half, x)), 0.5):
        return x, mul, [mul, half, add, erf, scale]
    return None


class GeluFusionPass(Pass):
    """Erf-form GELU → ``Gelu`` (opset ≥ 20)."""

    name = "gelu"

    def run(self, model: Model) -> bool:
        if model.opset < 20:
            if any(is_op(n, "Erf") for n in model.graph):
                self.notes.append(f"Gelu needs opset 20; the model has opset {model.opset}")
            return False
        changed, names = False, NameScope(model)
        for erf in [n for n in model.graph if is_op(n, "Erf")]:
            if erf.graph is not model.graph:
                continue
            found = match_gelu(erf)
            if found is None:
                continue
            x, last, dead = found
            node = Node("Gelu", [x], outputs=[names.fresh("gelu")])
            node.outputs[0].type = last.outputs[0].type
            replace_with(model.graph, last, node, dead)
            changed = True
        return changed
