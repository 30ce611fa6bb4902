"""Common-subexpression elimination: a node computing what an earlier node of the same graph
already computed (same op, domain, inputs and attributes) is replaced by that node.

Random ops (each call draws new numbers) and ops with subgraphs are never merged. Identical
small constant initializers are merged first, so ``Add(x, c1)`` and ``Add(x, c2)`` with equal
``c1``/``c2`` become one node.
"""

from __future__ import annotations

import hashlib

from onyx.ir.core import AttrType, Graph, Model, Node, Value
from onyx.ir.tensor import Tensor
from onyx.passes.infra import Pass, is_graph_input, subgraphs_first

NONDETERMINISTIC_OPS = frozenset({
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
    "Bernoulli", "Dropout",
})
MAX_CONSTANT_BYTES = 1 << 20  # hashing huge weights costs more than it can save


def _tensor_key(t: Tensor) -> tuple:
    arr = t.numpy()
    digest = hashlib.sha256(arr.tobytes() if arr.dtype != object else repr(arr.tolist())
                            .encode()).hexdigest()
    return (int(t.dtype), tuple(t.shape), digest)


def _attr_key(node: Node) -> tuple | None:
    items = []
    for name in sorted(node.attributes):
        a = node.attributes[name]
        if a.type in (AttrType.GRAPH, AttrType.GRAPHS) or a.ref_attr_name:
            return None
        value = a.value
        if a.type is AttrType.TENSOR:
            value = _tensor_key(value)
        elif a.type is AttrType.TENSORS:
            value = tuple(_tensor_key(t) for t in value)
        elif isinstance(value, list):
            value = tuple(value)
        elif a.type not in (AttrType.INT, AttrType.FLOAT, AttrType.STRING):
            return None  # sparse tensors, type protos: rare, not worth a key
        items.append((name, int(a.type), value))
    return tuple(items)


def _node_key(node: Node) -> tuple | None:
    if node.op_type in NONDETERMINISTIC_OPS and node.domain in ("", "ai.onnx"):
        return None
    attrs = _attr_key(node)
    if attrs is None:
        return None
    return (node.domain or "", node.op_type, node.overload, len(node.outputs),
            tuple(id(v) if v is not None else None for v in node.inputs), attrs)


def _replace_outputs(dup: Node, keep: Node) -> bool:
    # a graph output keeps its own name, so a duplicate that is one stays
    if any(o.is_graph_output() for o in dup.outputs):
        return False
    for a, b in zip(dup.outputs, keep.outputs):
        if b.type is None:
            b.type = a.type
        a.replace_all_uses_with(b)
    return True


def merge_constants(graph: Graph) -> int:
    """Point readers of duplicate initializers at the first copy; return how many merged."""
    seen: dict[tuple, Value] = {}
    merged = 0
    for v in list(graph.initializers.values()):
        if is_graph_input(v) or v.is_graph_output() or v.const.nbytes > MAX_CONSTANT_BYTES:
            continue
        key = _tensor_key(v.const)
        first = seen.setdefault(key, v)
        if first is not v and v.uses():
            v.replace_all_uses_with(first)
            merged += 1
    return merged


def eliminate_common_subexpressions(graph: Graph) -> int:
    """Merge duplicate nodes of ``graph`` (not across graphs); return how many were removed."""
    seen: dict[tuple, Node] = {}
    removed = 0
    for node in graph:
        key = _node_key(node)
        if key is None:
            continue
        first = seen.setdefault(key, node)
        if first is not node and _replace_outputs(node, first):
            graph.remove(node)
            removed += 1
    return removed


class CommonSubexpressionEliminationPass(Pass):
    name = "cse"

    def run(self, model: Model) -> bool:
        count = 0
        for g in list(subgraphs_first(model.graph)):
            count += merge_constants(g)
            count += eliminate_common_subexpressions(g)
        return count > 0
