"""``verify_graph``: the IR's invariants, checked after every pass in tests (like fx's lint)."""

from __future__ import annotations

from onyx.ir.core import Graph, Value
from onyx.ir.errors import GraphError


def verify_graph(graph: Graph, _outer: frozenset[int] = frozenset()) -> None:
    """Raise ``GraphError`` unless ``graph`` is SSA, topologically ordered and well linked."""
    defined: set[int] = set(_outer)
    names: dict[str, Value] = {}

    def define(v: Value, what: str) -> None:
        if id(v) in defined and id(v) not in _outer:
            raise GraphError(f"graph {graph.name!r}: {what} {v.name!r} is defined twice")
        defined.add(id(v))
        if v.name:
            other = names.get(v.name)
            if other is not None and other is not v:
                raise GraphError(f"graph {graph.name!r}: two values are named {v.name!r}")
            names[v.name] = v

    for v in graph.initializers.values():
        define(v, "initializer")
    for v in graph.sparse_initializers.values():
        define(v, "sparse initializer")
    for v in graph.inputs:
        if v.const is None:
            define(v, "input")
        if v.producer is not None:
            raise GraphError(f"graph {graph.name!r}: input {v.name!r} has a producer")
    for pos, node in enumerate(graph._nodes):
        where = f"graph {graph.name!r}: {node.op_type} node {node.name!r} (#{pos})"
        if node.graph is not graph:
            raise GraphError(f"{where} does not point back at its graph")
        for i, v in enumerate(node.inputs):
            if v is None:
                continue
            if id(v) not in defined:
                raise GraphError(f"{where} reads {v.name!r} before it is defined")
            if (node, i) not in v._uses:
                raise GraphError(f"{where}: input {i} ({v.name!r}) does not list this use")
        for sub in node.subgraphs():
            if sub.parent is not node:
                raise GraphError(f"{where}: subgraph {sub.name!r} has the wrong parent")
            verify_graph(sub, frozenset(defined))
        for i, out in enumerate(node.outputs):
            if out.producer is not node or out.index != i:
                raise GraphError(f"{where}: output {i} does not point back at the node")
            define(out, "output")
    for v in _all_values(graph):
        for user, i in v._uses:
            if user.graph is None or i >= len(user.inputs) or user.inputs[i] is not v:
                raise GraphError(f"graph {graph.name!r}: value {v.name!r} lists a stale use "
                                 f"by {user.op_type} {user.name!r}")
    for v in graph.outputs:
        if id(v) not in defined:
            raise GraphError(f"graph {graph.name!r}: output {v.name!r} is not defined")


def _all_values(graph: Graph):
    yield from graph.inputs
    yield from graph.initializers.values()
    for node in graph._nodes:
        yield from node.outputs
