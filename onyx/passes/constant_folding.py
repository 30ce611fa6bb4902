"""Constant folding: a node whose inputs are all constants is run once with its NumPy kernel
and its outputs become initializers.

The output sizes come from shape inference *before* the kernel runs: an output whose shape is
not fully known, or larger than ``max_bytes``, is left alone, so folding a
``ConstantOfShape`` of 10**10 elements never allocates it. ``Shape``/``Size`` of a value whose
shape is static fold too, whatever the value itself is.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import KernelContext, lookup, normalize_domain
from onyx.backends.numpy.values import convert_attribute
from onyx.ir.core import Graph, Model, Node
from onyx.ir.dtypes import DType
from onyx.ir.errors import OnyxError
from onyx.ir.shapes import infer_node
from onyx.ir.tensor import Tensor
from onyx.ir.types import TensorType
from onyx.passes.cse import NONDETERMINISTIC_OPS
from onyx.passes.infra import NameScope, Pass, constant_value

DEFAULT_MAX_BYTES = 1 << 20


def _static_nbytes(t) -> int | None:
    """Bytes of a tensor type whose shape is fully known, else None."""
    if not isinstance(t, TensorType) or t.shape is None or t.dtype is DType.STRING:
        return None
    if not all(isinstance(d, int) for d in t.shape):
        return None
    count = 1
    for d in t.shape:
        count *= d
    return (count * t.dtype.itemsize_bits + 7) // 8


class ConstantFoldingPass(Pass):
    name = "constant_folding"

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__()
        self.max_bytes = max_bytes

    def run(self, model: Model) -> bool:
        names = NameScope(model)
        folded = 0
        for node in model.graph:
            if node.graph is model.graph and self._fold(model, model.graph, node, names):
                folded += 1
        return folded > 0

    def _fold(self, model: Model, graph: Graph, node: Node, names: NameScope) -> bool:
        values = self._evaluate(model, node)
        if values is None:
            return False
        renames = []
        for out, arr in zip(node.outputs, values):
            v = graph.add_initializer(names.fresh(out.name or node.op_type.lower()), Tensor(arr))
            out.replace_all_uses_with(v)
            renames.append((out.name, v))
        graph.remove(node)
        for name, v in renames:  # the folded value keeps its name: it may be a graph output
            if name:
                del graph.initializers[v.name]
                v.name = name
                graph.initializers[name] = v
        return True

    def _evaluate(self, model: Model, node: Node) -> list[np.ndarray] | None:
        """The node's outputs as arrays, or None when it must not (or cannot) be folded."""
        if node.op_type in ("Shape", "Size") and normalize_domain(node.domain) == "":
            static = _fold_shape(node)
            if static is not None:
                return [static]
        if not self._foldable(model, node):
            return None
        args = [constant_value(v) for v in node.inputs]
        try:
            result = _run_kernel(model, node, args)
        except (OnyxError, ValueError, TypeError, IndexError, ArithmeticError) as exc:
            self.notes.append(f"{node.op_type} {node.name!r}: kernel raised {exc}")
            return None
        results = list(result) if isinstance(result, tuple) else [result]
        if len(results) != len(node.outputs):
            return None
        for out, arr in zip(node.outputs, results):
            if not isinstance(arr, np.ndarray) or arr.nbytes > self.max_bytes:
                return None
            if DType.from_numpy(arr.dtype) != out.dtype or arr.shape != tuple(out.shape):
                return None  # the shape rule and the kernel disagree: leave it to run time
        return results

    def _foldable(self, model: Model, node: Node) -> bool:
        if node.op_type in NONDETERMINISTIC_OPS or any(True for _ in node.subgraphs()):
            return False
        if any(v is not None and constant_value(v) is None for v in node.inputs):
            return False
        if any(a.ref_attr_name for a in node.attributes.values()):
            return False
        infer_node(node, model.opset_imports, model)
        for out in node.outputs:
            size = _static_nbytes(out.type)
            if size is None or size > self.max_bytes:
                if size is not None:
                    self.notes.append(f"{node.op_type} {node.name!r}: output {out.name!r} "
                                      f"({out.type}) is over {self.max_bytes} bytes")
                return False
        return True


def _fold_shape(node: Node) -> np.ndarray | None:
    x = node.inputs[0] if node.inputs else None
    shape = None if x is None else x.shape
    if shape is None or not isinstance(x.type, TensorType):
        return None
    if not all(isinstance(d, int) for d in shape):
        return None
    if node.op_type == "Size":
        return np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    rank = len(shape)
    start, end = node.attr("start", 0), node.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.asarray(shape[start:end], dtype=np.int64)


def _run_kernel(model: Model, node: Node, args: list):
    domain = normalize_domain(node.domain)
    opset = model.opset_imports.get(domain, model.opset if domain == "" else None)
    entry = None if opset is None else lookup(node.op_type, domain, opset)
    if entry is None:
        raise ValueError("no NumPy kernel")
    attrs = {a.name: convert_attribute(a) for a in node.attributes.values()}
    with np.errstate(all="ignore"):
        if entry.wants_ctx:
            ctx = KernelContext(opset=opset, num_outputs=len(node.outputs), node=node,
                                outputs_wanted=tuple(True for _ in node.outputs))
            return entry.fn(ctx, *args, **attrs)
        return entry.fn(*args, **attrs)
