"""Dead-code elimination: nodes whose outputs nobody reads, unused initializers, stale
``value_info``, in the main graph and in every If/Loop/Scan body.

Liveness follows the use-def links, which include reads from inside subgraphs, so a value read
only by a live body stays; a dead node's bodies release their outer reads when it goes.
"""

from __future__ import annotations

from onyx.ir.core import Graph, Model, Node
from onyx.passes.infra import Pass


def _is_dead(node: Node) -> bool:
    return all(not o.uses() and not o.is_graph_output() for o in node.outputs)


def _drop(graph: Graph, node: Node) -> None:
    # The bodies' nodes may read outer values: release those uses before the node goes.
    for sub in node.subgraphs():
        for inner in sub.all_nodes():
            inner.detach()
    graph.remove(node)


def eliminate_dead_code(graph: Graph) -> int:
    """Remove dead nodes and unused initializers of ``graph`` and its bodies; return the count."""
    removed = 0
    for node in reversed(graph.nodes):  # readers before producers: one sweep is enough
        if _is_dead(node):
            _drop(graph, node)
            removed += 1
        else:
            for sub in node.subgraphs():
                removed += eliminate_dead_code(sub)
    inputs = {id(v) for v in graph.inputs}
    for name, v in list(graph.initializers.items()):
        # an initializer listed as an input is part of the interface (overridable): it stays
        if id(v) not in inputs and not v.uses() and not v.is_graph_output():
            del graph.initializers[name]
            removed += 1
    defined = {id(o) for n in graph for o in n.outputs} | inputs
    defined |= {id(v) for v in graph.initializers.values()}
    graph.value_info[:] = [v for v in graph.value_info if id(v) in defined]
    return removed


class DeadCodeEliminationPass(Pass):
    name = "dce"

    def run(self, model: Model) -> bool:
        removed = eliminate_dead_code(model.graph)
        for fn in model.functions.values():
            removed += eliminate_dead_code(fn.graph)
        return removed > 0
