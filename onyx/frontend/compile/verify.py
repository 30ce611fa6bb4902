"""``verify=True``: check a prepared graph node by node against ``onnx.reference``.

onyx runs the whole model once, keeping every intermediate value; then each node alone is run
by the reference on *onyx's* values of its inputs, so an error is pinned to the node that
makes it instead of spreading to everything after it. The first node (in graph order) whose
output differs beyond tolerance is reported with its op, input shapes and the largest error.
The reference is a checking oracle only: it never computes a result that onyx returns.
"""

from __future__ import annotations

import numpy as np
import onnx

from onyx import ir
from onyx.ir.errors import OnyxError


class VerificationError(OnyxError):
    """A node's output differs from ``onnx.reference`` beyond tolerance."""


def _onyx_values(model: ir.Model, feeds: list) -> dict[str, np.ndarray]:
    from onyx.backends.numpy.executor import Executor
    ex = Executor(model)
    for step in ex.plan.steps:  # keep every intermediate value
        step.free = []
    env: dict = {}
    ex.plan.run(list(feeds), env)
    return {v.name: a for v, a in env.items() if getattr(v, "name", "")}


def _single_node(model: ir.Model, node: ir.Node, values: dict) -> onnx.ModelProto:
    """A model of ``node`` alone whose inputs are its inputs (typed from onyx's values)."""
    inputs = []
    for v in node.inputs:
        if v is None or any(i.name == v.name for i in inputs):
            continue
        a = np.asarray(values[v.name])
        inputs.append(onnx.helper.make_tensor_value_info(
            v.name, int(ir.DType.from_numpy(a.dtype)), list(a.shape)))
    outputs = [onnx.helper.make_empty_tensor_value_info(o.name) for o in node.outputs
               if o.name]
    proto = model.to_onnx()
    node_proto = next(n for n in proto.graph.node if n.name == node.name)
    graph = onnx.helper.make_graph([node_proto], "verify", inputs, outputs)
    single = onnx.helper.make_model(graph, opset_imports=list(proto.opset_import),
                                    ir_version=proto.ir_version)
    single.functions.extend(proto.functions)
    return single


def _error(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    x, y = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(x) & np.isnan(y)
    return float(np.where(both_nan, 0, np.abs(x - y)).max(initial=0))


def verify_model(model: ir.Model, feeds: list, *, rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    """Raise ``VerificationError`` naming the first node whose result differs."""
    from onnx.reference import ReferenceEvaluator
    mine = _onyx_values(model, feeds)
    for node in model.graph:
        if node.op_type.startswith(("Random", "Bernoulli", "Multinomial")) \
                or any(True for _ in node.subgraphs()):
            continue  # fresh draws differ by design; subgraphs read outer values
        if not node.name:
            continue
        single = _single_node(model, node, mine)
        names = [i.name for i in single.graph.input]
        theirs = ReferenceEvaluator(single).run(None, {n: mine[n] for n in names})
        for out, b in zip([o for o in node.outputs if o.name], theirs):
            a = mine.get(out.name)
            err = _error(a, b)
            scale = float(np.abs(np.asarray(b, np.float64)).max(initial=0)) \
                if np.asarray(b).dtype.kind in "fc" else 0.0
            if err > atol + rtol * scale:
                shapes = ", ".join("None" if v is None else
                                   f"{v.name}{list(np.shape(mine.get(v.name)))}"
                                   for v in node.inputs)
                raise VerificationError(
                    f"verify: node {node.name!r} ({node.op_type}) differs from onnx.reference: "
                    f"output {out.name!r} shape {list(np.shape(a))} vs {list(np.shape(b))}, "
                    f"max error {err:.3g}; inputs: {shapes}")
