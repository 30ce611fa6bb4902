"""A networkx view of a graph: dependency order, cycle detection and Graphviz dot export."""

from __future__ import annotations

import networkx as nx

from onyx.ir.core import Graph, Node
from onyx.ir.errors import GraphError


def _outer_reads(node: Node):
    """Values a node reads, including those its subgraphs read from enclosing scopes."""
    for v in node.inputs:
        if v is not None:
            yield v
    for sub in node.subgraphs():
        for inner in sub.all_nodes():
            for v in inner.inputs:
                if v is not None:
                    yield v


def to_networkx(graph: Graph) -> nx.DiGraph:
    """Nodes of ``graph`` (by position) with an edge producer -> consumer for each dependency."""
    dg = nx.DiGraph()
    index = {id(n): i for i, n in enumerate(graph._nodes)}
    for i, n in enumerate(graph._nodes):
        dg.add_node(i, node=n, label=n.op_type)
    for i, n in enumerate(graph._nodes):
        for v in _outer_reads(n):
            p = v.producer
            if p is not None and id(p) in index and index[id(p)] != i:
                dg.add_edge(index[id(p)], i)
    return dg


def find_cycle(graph: Graph) -> list[Node] | None:
    dg = to_networkx(graph)
    try:
        edges = nx.find_cycle(dg)
    except nx.NetworkXNoCycle:
        return None
    return [dg.nodes[a]["node"] for a, _ in edges]


def topological_order(graph: Graph) -> list[Node]:
    dg = to_networkx(graph)
    try:
        order = list(nx.lexicographical_topological_sort(dg))
    except nx.NetworkXUnfeasible:
        cycle = find_cycle(graph) or []
        names = " -> ".join(f"{n.op_type} {n.name!r}" for n in cycle)
        raise GraphError(f"graph {graph.name!r} has a cycle: {names}") from None
    return [dg.nodes[i]["node"] for i in order]


def to_dot(graph: Graph) -> str:
    """Graphviz source: one box per node, one ellipse per graph input/output."""
    lines = [f"digraph {_quote(graph.name or 'graph')} {{", "  rankdir=TB;",
             "  node [fontname=Helvetica, fontsize=10];"]
    ids: dict[int, str] = {}
    for i, v in enumerate(graph.inputs):
        ids[id(v)] = f"in{i}"
        lines.append(f"  in{i} [shape=ellipse, label={_quote(f'{v.name}: {v.type}')}];")
    for i, n in enumerate(graph._nodes):
        label = n.op_type + (f"\\n{n.name}" if n.name else "")
        lines.append(f"  n{i} [shape=box, style=rounded, label={_quote(label)}];")
        for out in n.outputs:
            ids[id(out)] = f"n{i}"
    for i, n in enumerate(graph._nodes):
        for v in n.inputs:
            if v is not None and id(v) in ids:
                lines.append(f"  {ids[id(v)]} -> n{i} [label={_quote(str(v.type or ''))}];")
    for i, v in enumerate(graph.outputs):
        lines.append(f"  out{i} [shape=ellipse, label={_quote(v.name)}];")
        if id(v) in ids:
            lines.append(f"  {ids[id(v)]} -> out{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'
