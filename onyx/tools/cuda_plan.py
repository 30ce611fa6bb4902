"""The CUDA backend's kernel plan, seen from the command line: which node of a model gets a
generated kernel, which is a view of its input (no kernel), and which falls back to a NumPy
kernel with a host round trip. Planning renders CUDA C but compiles and runs nothing, so it
works on a machine without a GPU, PyCUDA or nvcc."""

from __future__ import annotations

from onyx import ir
from onyx.passes.pipeline import copy_model


def _planner():
    """``onyx.backends.cuda.plan`` or ``None`` when this build of onyx has no CUDA planner."""
    try:
        from onyx.backends.cuda import plan
    except ImportError:
        return None
    return plan


def with_static_dims(model: ir.Model, dims: dict[str, int]) -> ir.Model:
    """A copy of ``model`` whose inputs have concrete shapes: CUDA kernels are planned for
    static shapes, so each symbolic dimension takes its ``dims`` value (1 when not given)."""
    copy = copy_model(model)
    for v in copy.graph.inputs:
        t = v.type
        if v.const is None and isinstance(t, ir.TensorType) and t.shape is not None:
            shape = tuple(d if isinstance(d, int) else dims.get(d, 1) if isinstance(d, str)
                          else 1 for d in t.shape)
            v.type = ir.tensor(t.dtype, shape)
    return copy


def cuda_support(model: ir.Model, dims: dict[str, int] | None = None
                 ) -> dict[tuple[str, str], str] | None:
    """``(domain, op_type) -> "cuda" | "view" | "numpy"`` from the CUDA plan of ``model``,
    or ``None`` when there is no CUDA planner."""
    plan = _planner()
    if plan is None:
        return None
    return plan.plan_summary(with_static_dims(model, dims or {}))


def plan_rows(model: ir.Model, dims: dict[str, int] | None = None,
              arch: str = "sm_90") -> list[dict] | None:
    """One row per node: where it runs and the kernels it launches; ``None`` without a
    planner."""
    plan = _planner()
    if plan is None:
        return None
    rows = []
    for i, (node, node_plan) in enumerate(plan.plan_graph(with_static_dims(model, dims or {}),
                                                          arch=arch)):
        if node_plan is None:
            runs_on, kernels = "numpy", []
        elif not node_plan.kernels and node_plan.aliases:
            runs_on, kernels = "view", []
        else:
            runs_on = "cuda"
            kernels = [{"name": k.name, "op": k.op, "signature": k.signature,
                        "grid": list(k.grid), "block": list(k.block)}
                       for k in node_plan.kernels]
        rows.append({"index": i, "node": node.name,
                     "op": f"{node.domain}::{node.op_type}" if node.domain else node.op_type,
                     "runs_on": runs_on, "kernels": kernels})
    return rows
