"""Recognise a written-out softmax, ``exp(x - max(x)) / sum(exp(x - max(x)))`` over one axis
(the max subtraction optional), as one ``Softmax`` node (opset ≥ 13 semantics: one axis)."""

from __future__ import annotations

from onyx.ir.core import Model, Node
from onyx.passes.structure import FormulaPass, Replacement, internal, is_op, reduce_axes


def match_softmax(div: Node, opset: int):
    """``(x, axis, matched nodes consumers-first)`` or ``None``."""
    e, s = div.inputs[0], div.inputs[1]
    exp, total = e.producer, s.producer
    if not is_op(exp, "Exp") or not is_op(total, "ReduceSum") or total.inputs[0] is not e:
        return None
    if len(e.uses()) != 2 or e.is_graph_output() or not internal(s):
        return None
    axes = reduce_axes(total, opset)
    if axes is None or len(axes) != 1 or total.attr("keepdims", 1) != 1:
        return None
    dead = [div, total, exp]
    x = exp.inputs[0]
    sub = x.producer
    if is_op(sub, "Sub") and internal(x) and is_op(sub.inputs[1].producer, "ReduceMax"):
        mx = sub.inputs[1].producer
        if (mx.inputs[0] is sub.inputs[0] and internal(sub.inputs[1])
                and reduce_axes(mx, opset) == axes and mx.attr("keepdims", 1) == 1):
            x = sub.inputs[0]
            dead += [sub, mx]
    return x, axes[0], dead


class SoftmaxFusionPass(FormulaPass):
    """Exp / ReduceSum(Exp) over one axis → ``Softmax`` (opset ≥ 13)."""

    name, op_type, min_opset, anchors = "softmax", "Softmax", 13, ("Div",)

    def match(self, node: Node, model: Model) -> Replacement | None:
        found = match_softmax(node, model.opset)
        if found is None:
            return None
        x, axis, dead = found
        return Replacement([x], {"axis": axis}, node, dead)
