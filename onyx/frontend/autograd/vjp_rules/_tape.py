"""Gradients of ops written as a decomposition into primitive ONNX ops (DESIGN.md principle 2).

A rule for a composite op (RNN, GRU, LSTM) rebuilds the op's forward from primitives through a
``Tape``, a builder proxy that also records each op it emits, then runs ``backprop`` over that
record with the primitives' own rules. Both steps go through the rule's builder, so this works
eagerly and in graphs alike.

    tape = Tape(b)
    y = tape.Tanh(tape.MatMul(x, w))                 # the decomposition
    gx, gw = backprop(b, tape, [(y, g)], [x, w])     # its vector-Jacobian product
"""

from __future__ import annotations

from onyx.frontend.autograd.rules import get_rule
from onyx.ir.errors import OnyxError


class TapeNode:
    """One recorded op, seen by a rule as it sees a forward node."""

    __slots__ = ("op_type", "inputs", "outputs", "attrs")

    def __init__(self, op_type: str, inputs: list, outputs: list, attrs: dict):
        self.op_type, self.inputs, self.outputs, self.attrs = op_type, inputs, outputs, attrs

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)


class Tape:
    """Forwards every call to the builder ``b``; records the ops (capitalized names)."""

    def __init__(self, b):
        self.b, self.nodes = b, []

    def __getattr__(self, name: str):
        target = getattr(self.b, name)
        if not name[:1].isupper():
            return target

        def emit(*inputs, _outputs: int = 1, **attrs):
            out = target(*inputs, _outputs=_outputs, **attrs)
            outs = list(out) if _outputs > 1 else [out]
            self.nodes.append(TapeNode(name, list(inputs), outs, attrs))
            return out
        return emit


def backprop(b, tape: Tape, seeds: list[tuple], wrt: list) -> list:
    """Cotangents of ``wrt`` (``None`` where unreached) from (value, cotangent) ``seeds``."""
    reach = {id(v) for v in wrt if v is not None}
    live = []
    for node in tape.nodes:
        if any(v is not None and id(v) in reach for v in node.inputs):
            reach.update(id(o) for o in node.outputs)
            live.append(node)
    cot: dict[int, object] = {}
    for value, g in seeds:
        if g is not None and id(value) in reach:
            cot[id(value)] = g if id(value) not in cot else b.Add(cot[id(value)], g)
    for node in reversed(live):
        gs = [cot.get(id(o)) for o in node.outputs]
        if all(g is None for g in gs):
            continue
        rule = get_rule(node.op_type)
        if rule is None:
            raise OnyxError(f"decomposition uses {node.op_type}, which has no VJP rule")
        if len(gs) > 1:
            gs = [g if g is not None else b.zeros_like(o) for g, o in zip(gs, node.outputs)]
        for v, g in zip(node.inputs, rule.fn(b, node, *gs)):
            if v is None or g is None or id(v) not in reach:
                continue
            cot[id(v)] = g if id(v) not in cot else b.Add(cot[id(v)], g)
    return [None if v is None else cot.get(id(v)) for v in wrt]
