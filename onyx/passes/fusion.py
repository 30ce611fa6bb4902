"""Elementwise fusion: maximal groups of elementwise/broadcasting ops become one node calling a
model-local function (domain ``onyx.fused``) whose body is the original ops.

Groups grow along producer -> consumer edges in graph order. A value read outside its group (or
a graph output) becomes an output of the function; values read only inside stay internal. A
group may end in one reduction over constant axes (ReduceSum/ReduceMean/ReduceMax) when the
reduced value is the group's only output; nothing joins a group after its reduction. Merging is
refused when it would close a cycle through nodes outside the group. Small constants the body
reads are copied into it as ``Constant`` nodes; anything else stays a function input.

    >>> from onyx import ir
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, (4,)))
    >>> e = g.append(ir.Node("Exp", [x], outputs=["e"])).outputs[0]
    >>> y = g.append(ir.Node("Relu", [e], outputs=["y"])).outputs[0]
    >>> g.outputs.append(y)
    >>> model = ir.Model(g)
    >>> ElementwiseFusionPass().run(model)
    True
    >>> [(n.domain, n.op_type) for n in model.graph]
    [('onyx.fused', 'fused_0')]
"""

from __future__ import annotations

from collections import deque

import numpy as np

from onyx.ir.core import Function, Graph, Model, Node, Value
from onyx.ir.families import ELEMENTWISE_OPS, FUSED_DOMAIN
from onyx.ir.tensor import Tensor
from onyx.passes.infra import Pass, constant_value

FUSED_DOMAIN_VERSION = 1
MAX_EMBEDDED_CONSTANT = 64  # elements: larger constants stay function inputs (no copies)

REDUCTION_OPS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax"})
# Opset from which each reduction takes ``axes`` as an input instead of an attribute.
_AXES_INPUT_SINCE = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18}
LEGACY_BROADCAST_UNTIL = 6  # binary ops before opset 7 broadcast by other rules


def is_elementwise(node: Node, opset: int) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type not in ELEMENTWISE_OPS:
        return False
    if len(node.outputs) != 1 or any(a.ref_attr_name for a in node.attributes.values()):
        return False
    return opset > LEGACY_BROADCAST_UNTIL


def _reduction_axes_ok(node: Node, opset: int) -> bool:
    """A reduction over constant, non-empty axes (``noop_with_empty_axes`` cannot apply)."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in REDUCTION_OPS:
        return False
    if opset >= _AXES_INPUT_SINCE[node.op_type]:
        if len(node.inputs) < 2 or node.inputs[1] is None:
            return not node.attr("noop_with_empty_axes", 0)
        axes = constant_value(node.inputs[1])
        return axes is not None and axes.size > 0
    return len(node.inputs) == 1


class _Groups:
    """Union of nodes into groups, with the cycle check done on the contracted graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.position = {id(n): i for i, n in enumerate(graph._nodes)}
        self.group_of: dict[int, int] = {}          # id(node) -> group id
        self.members: dict[int, list[Node]] = {}    # group id -> nodes in graph order
        self.closed: set[int] = set()               # groups that ended in a reduction
        self._next_id = 0

    def top(self, node: Node) -> Node | None:
        """The main-graph node that holds ``node`` (itself, or the owner of its subgraph)."""
        while node is not None and node.graph is not self.graph:
            node = node.graph.parent if node.graph is not None else None
        return node

    def group(self, node: Node) -> int:
        return self.group_of.get(id(node), -1 - self.position[id(node)])

    def successors(self, gid: int) -> set[int]:
        nodes = self.members.get(gid) or [self.graph._nodes[-1 - gid]]
        out = set()
        for n in nodes:
            for o in n.outputs:
                for user, _ in o.uses():
                    t = self.top(user)
                    if t is not None:
                        out.add(self.group(t))
        return out

    def would_cycle(self, merged: set[int], limit: int) -> bool:
        """True if a path leaves ``merged`` and re-enters it (only nodes before ``limit``)."""
        seen: set[int] = set()
        queue = deque(s for g in merged for s in self.successors(g) if s not in merged)
        while queue:
            gid = queue.popleft()
            if gid in seen or self._first_position(gid) >= limit:
                continue
            seen.add(gid)
            for s in self.successors(gid):
                if s in merged:
                    return True
                if s not in seen:
                    queue.append(s)
        return False

    def _first_position(self, gid: int) -> int:
        nodes = self.members.get(gid)
        return self.position[id(nodes[0])] if nodes else -1 - gid

    def merge(self, node: Node, gids: set[int]) -> int:
        if gids:
            target = min(gids)
        else:
            target, self._next_id = self._next_id, self._next_id + 1
        nodes = [node]
        for g in gids:
            nodes += self.members.pop(g)
            self.closed.discard(g)
        nodes.sort(key=lambda n: self.position[id(n)])
        self.members[target] = nodes
        for n in nodes:
            self.group_of[id(n)] = target
        return target


def _uses_all_inside(v: Value, inside: set[int], groups: _Groups) -> bool:
    if v.is_graph_output():
        return False
    return all(id(groups.top(u)) in inside for u, _ in v.uses())


def find_groups(graph: Graph, opset: int) -> list[list[Node]]:
    """The fusion groups of ``graph`` (each in graph order, two nodes or more)."""
    groups = _Groups(graph)
    for node in graph._nodes:
        if is_elementwise(node, opset):
            _try_join(groups, node, node.inputs, groups.position[id(node)])
        elif _reduction_axes_ok(node, opset):
            _try_reduce(groups, node)
    return [m for m in groups.members.values() if len(m) > 1]


def _producer_groups(groups: _Groups, inputs) -> set[int]:
    gids = set()
    for v in inputs:
        p = v.producer if v is not None else None
        if p is not None and p.graph is groups.graph and id(p) in groups.group_of:
            gid = groups.group_of[id(p)]
            if gid not in groups.closed:
                gids.add(gid)
    return gids


def _try_join(groups: _Groups, node: Node, inputs, pos: int) -> None:
    gids = _producer_groups(groups, inputs)
    # Join the producer groups one by one, dropping any whose merge would close a cycle.
    chosen: set[int] = set()
    for gid in sorted(gids):
        trial = chosen | {gid, groups.group(node)}
        if not groups.would_cycle(trial, pos):
            chosen.add(gid)
    groups.merge(node, chosen)


def _try_reduce(groups: _Groups, node: Node) -> None:
    data = node.inputs[0]
    p = data.producer if data is not None else None
    if p is None or p.graph is not groups.graph or id(p) not in groups.group_of:
        return
    gid = groups.group_of[id(p)]
    if gid in groups.closed or data.is_graph_output() or len(data.uses()) != 1:
        return
    # The reduced value must be the group's only output: every other value stays inside.
    inside = {id(n) for n in groups.members[gid]}
    for n in groups.members[gid]:
        for o in n.outputs:
            if o is not data and not _uses_all_inside(o, inside, groups):
                return
    pos = groups.position[id(node)]
    if groups.would_cycle({gid, groups.group(node)}, pos):
        return
    groups.closed.add(groups.merge(node, {gid}))


# ------------------------------------------------------------------------- rewriting

def _embeddable(v: Value) -> np.ndarray | None:
    arr = constant_value(v)
    if arr is None or arr.dtype == object or arr.size > MAX_EMBEDDED_CONSTANT:
        return None
    return arr


def _external_inputs(nodes: list[Node]) -> list[Value]:
    produced = {id(o) for n in nodes for o in n.outputs}
    seen: dict[int, Value] = {}
    for n in nodes:
        for v in n.inputs:
            if v is not None and id(v) not in produced:
                seen.setdefault(id(v), v)
    return list(seen.values())


def _external_outputs(nodes: list[Node]) -> list[Value]:
    inside = {id(n) for n in nodes}
    return [o for n in nodes for o in n.outputs
            if o.is_graph_output() or any(id(u) not in inside for u, _ in o.uses())]


def build_function(name: str, nodes: list[Node], opsets: dict[str, int]
                   ) -> tuple[Function, list[Value], list[Value]]:
    """The ``onyx.fused`` function for ``nodes``, its call inputs and outputs."""
    body = Graph(name=name)
    mapping: dict[int, Value] = {}
    call_inputs = []
    for v in _external_inputs(nodes):
        arr = _embeddable(v)
        if arr is not None:
            const = body.append(Node("Constant", [], {"value": Tensor(arr)}, outputs=[v.name]))
            const.outputs[0].type = v.type
            mapping[id(v)] = const.outputs[0]
        else:
            mapping[id(v)] = body.add_input(v.name, v.type)
            call_inputs.append(v)
    for n in nodes:
        copy = Node(n.op_type, [None if v is None else mapping[id(v)] for v in n.inputs],
                    list(n.attributes.values()), domain=n.domain, name=n.name,
                    outputs=[o.name for o in n.outputs])
        for new, old in zip(copy.outputs, n.outputs):
            new.type = old.type
            mapping[id(old)] = new
        body.append(copy)
    call_outputs = _external_outputs(nodes)
    body.outputs.extend(mapping[id(o)] for o in call_outputs)
    fn = Function(FUSED_DOMAIN, name, body, opset_imports={"": opsets.get("", opsets.get(
        "ai.onnx", 1))})
    return fn, call_inputs, call_outputs


def _unique_name(model: Model, count: int) -> tuple[str, int]:
    taken = {name for domain, name, _ in model.functions if domain == FUSED_DOMAIN}
    while f"fused_{count}" in taken:
        count += 1
    return f"fused_{count}", count + 1


def fuse_group(model: Model, nodes: list[Node], name: str) -> Node:
    """Replace ``nodes`` (a legal group) by one call of a new ``onyx.fused`` function."""
    graph = model.graph
    fn, inputs, outputs = build_function(name, nodes, model.opset_imports)
    call = Node(name, inputs, domain=FUSED_DOMAIN, name=name,
                outputs=[o.name for o in outputs])
    for new, old in zip(call.outputs, outputs):
        new.type = old.type
    graph.insert_after(nodes[-1], call)
    for new, old in zip(call.outputs, outputs):
        old.replace_all_uses_with(new)
    for n in reversed(nodes):
        graph.remove(n, safe=False)
    model.add_function(fn)
    return call


class ElementwiseFusionPass(Pass):
    """Fuse elementwise chains (and a trailing reduction) into ``onyx.fused`` functions."""

    name = "fusion"

    def run(self, model: Model) -> bool:
        graph = model.graph
        groups = find_groups(graph, model.opset)
        if not groups:
            return False
        count = 0
        for nodes in groups:
            name, count = _unique_name(model, count)
            fuse_group(model, nodes, name)
        model.opset_imports.setdefault(FUSED_DOMAIN, FUSED_DOMAIN_VERSION)
        graph.sort()  # a group output read before the group's last node moves the reader
        defined = {id(o) for n in graph for o in n.outputs}
        defined |= {id(v) for v in graph.inputs} | {id(v) for v in graph.initializers.values()}
        graph.value_info[:] = [v for v in graph.value_info if id(v) in defined]
        self.notes.append(f"{len(groups)} group(s): " + ", ".join(
            "+".join(n.op_type for n in g) for g in groups[:8]))
        return True
