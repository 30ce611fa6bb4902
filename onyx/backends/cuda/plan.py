"""Which node of a model gets a generated CUDA kernel and which falls back to NumPy.

Pure planning (no GPU, no compiler): types come from shape inference on the model, constant
inputs from initializers and Constant nodes. ``onyx dump --backend cuda`` prints this.
"""

from __future__ import annotations

import numpy as np

from onyx import ir
from onyx.backends.cuda.codegen import NodePlan, kernels_for_node
from onyx.ir.errors import OnyxError


def _const_value(v: ir.Value | None) -> np.ndarray | None:
    if v is None:
        return None
    if v.const is not None:
        return np.asarray(v.const.numpy())
    p = v.producer
    if p is not None and p.op_type == "Constant" and p.attr("value") is not None:
        return np.asarray(p.attr("value").numpy())
    return None


def plan_node(model: ir.Model, node: ir.Node, *, arch: str = "sm_90") -> NodePlan | None:
    """The node's CUDA plan, ``None`` when it runs on the NumPy fallback."""
    consts = {i: c for i, v in enumerate(node.inputs) if (c := _const_value(v)) is not None}
    in_types = [None if v is None else v.type for v in node.inputs]
    if any(t is None for t, v in zip(in_types, node.inputs) if v is not None):
        return None
    try:
        return kernels_for_node(node, in_types, [o.type for o in node.outputs],
                                opset=model.opset_imports.get(node.domain or "", model.opset),
                                consts=consts, functions=model.functions, arch=arch)
    except OnyxError:
        return None


def plan_graph(model: ir.Model, *, arch: str = "sm_90") -> list[tuple[ir.Node, NodePlan | None]]:
    """``(node, plan or None)`` for every top-level node, in order; runs shape inference
    first (it only refines types)."""
    ir.infer_shapes(model)
    return [(n, None if n.op_type == "Constant" and not n.domain else plan_node(model, n,
                                                                                   arch=arch))
            for n in model.graph]


def plan_summary(model: ir.Model, *, arch: str = "sm_90") -> dict[tuple[str, str], str]:
    """``(domain, op_type) -> "cuda" | "view" | "numpy"``; an op type where some node falls
    back is reported as ``numpy``."""
    out: dict[tuple[str, str], str] = {}
    for node, plan in plan_graph(model, arch=arch):
        status = "numpy" if plan is None else ("view" if plan.aliases else "cuda")
        key = (node.domain, node.op_type)
        if out.get(key) != "numpy":
            out[key] = status
    return out
