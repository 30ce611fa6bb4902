"""Helpers for passes that recognise a computation by walking the graph from one node.

Pattern rules (``rules.py``) match a fixed tree; exporters write the same formula with
commuted operands and either form of a constant (``x / sqrt(2)`` or ``x * 0.7071``), which a
walk handles more simply: start at the op that anchors the formula and follow single-use
values, asking at each step for "the other operand" of a commutative op.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.core import Graph, Node, Value
from onyx.passes.infra import constant_value
from onyx.passes.rules import _replace

BUILTIN = ("", "ai.onnx")


def is_op(node: Node | None, *op_types: str) -> bool:
    return node is not None and node.op_type in op_types and node.domain in BUILTIN


def only_user(v: Value) -> Node | None:
    """The one node reading ``v`` (``None`` when several do or it is a graph output)."""
    uses = v.uses()
    if len(uses) != 1 or v.is_graph_output():
        return None
    return uses[0][0]


def internal(v: Value, users: int = 1) -> bool:
    """``v`` is read exactly ``users`` times and is not a graph output."""
    return len(v.uses()) == users and not v.is_graph_output()


def scalar(v: Value | None) -> float | None:
    """The value of a one-element constant."""
    c = constant_value(v)
    if c is None or c.size != 1 or c.dtype.kind not in "fiu":
        return None
    return float(c.reshape(()))


def other_operand(node: Node, v: Value) -> Value | None:
    """The input of binary ``node`` that is not ``v`` (``None`` unless exactly one is)."""
    a, b = (list(node.inputs) + [None, None])[:2]
    if a is v and b is not v:
        return b
    if b is v and a is not v:
        return a
    return None


def near(value: float | None, target: float, rtol: float = 1e-3) -> bool:
    return value is not None and abs(value - target) <= rtol * abs(target)


def reduce_axes(node: Node, opset: int) -> list[int] | None:
    """The constant axes of a Reduce* node (attribute before opset 18, else input 1)."""
    if node.op_type == "ReduceSum" and opset >= 13 or opset >= 18:
        if len(node.inputs) < 2 or node.inputs[1] is None:
            return None
        c = constant_value(node.inputs[1])
        return None if c is None else [int(a) for a in np.asarray(c).reshape(-1)]
    axes = node.attr("axes")
    return None if axes is None else [int(a) for a in axes]


def replace_with(graph: Graph, last: Node, node: Node, dead: list[Node]) -> None:
    """Insert ``node`` before ``last``, move readers of ``last``'s output to it, drop
    ``dead`` (consumers before producers)."""
    graph.insert_before(last, [node])
    _replace(last.outputs[0], node.outputs[0])
    for n in dead:
        graph.remove(n)
