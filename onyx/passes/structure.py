"""Helpers for passes that recognise a computation by walking the graph from one node.

Pattern rules (``rules.py``) match a fixed tree; exporters write the same formula with
commuted operands and either form of a constant (``x / sqrt(2)`` or ``x * 0.7071``), which a
walk handles more simply: start at the op that anchors the formula and follow single-use
values, asking at each step for "the other operand" of a commutative op.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.core import Graph, Model, Node, Value
from onyx.passes.infra import NameScope, Pass, constant_value
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


class Replacement:
    """What a formula pass found: the new op's inputs and attributes, the node whose output
    it replaces and the matched nodes (consumers first) that go away."""
    __slots__ = ("inputs", "attrs", "last", "dead")

    def __init__(self, inputs: list, attrs: dict | None, last: Node, dead: list[Node]):
        self.inputs, self.attrs, self.last, self.dead = inputs, attrs, last, dead


class FormulaPass(Pass):
    """Replace a written-out formula by the one ONNX op ``op_type`` that computes it.

    Subclasses name the ops a walk starts from (``anchors``), the opset the op needs and
    ``match(node, model) -> Replacement | None``. Below that opset nothing changes and a note
    says why, when the formula is there.
    """

    op_type: str
    min_opset: int
    anchors: tuple[str, ...]

    def match(self, node: Node, model: Model) -> Replacement | None:
        raise NotImplementedError

    def finish(self, found: Replacement, model: Model, names: NameScope) -> list:
        """The inputs of the new node (a subclass may add constants to the graph here)."""
        return found.inputs

    def run(self, model: Model) -> bool:
        anchors = [n for n in model.graph if is_op(n, *self.anchors)]
        if model.opset < self.min_opset:
            if any(self.match(n, model) for n in anchors):
                self.notes.append(f"{self.op_type} needs opset {self.min_opset}; the model has "
                                  f"opset {model.opset}, so the formula stays written out")
            return False
        changed, names = False, NameScope(model)
        for anchor in anchors:
            if anchor.graph is not model.graph:
                continue  # taken by an earlier replacement
            found = self.match(anchor, model)
            if found is None:
                continue
            node = Node(self.op_type, self.finish(found, model, names), found.attrs,
                        outputs=[names.fresh(self.name)])
            node.outputs[0].type = found.last.outputs[0].type
            replace_with(model.graph, found.last, node, found.dead)
            changed = True
        return changed
