"""Planners keyed by ONNX op name: each turns one node (with static types) into a NodePlan.

``kernels_for_node`` is the single entry point the runtime calls; a planner returns ``None``
for anything it does not cover, and the runtime then falls back to the NumPy kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onyx import ir
from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.indexing import static_shape
from onyx.backends.cuda.codegen.kernel import Kernel, NodePlan, make_kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import NodeError, describe_node
from onyx.ir.types import TensorType


@dataclass(frozen=True)
class NodeContext:
    """Everything a planner may read: the node, static shapes and dtypes, known constants."""

    node: ir.Node
    in_shapes: tuple[tuple[int, ...] | None, ...]
    in_dtypes: tuple[DType | None, ...]
    out_shapes: tuple[tuple[int, ...], ...]
    out_dtypes: tuple[DType, ...]
    opset: int
    consts: Mapping[int, np.ndarray]
    functions: Mapping
    arch: str
    allow_tf32: bool

    def attr(self, name: str, default: Any = None) -> Any:
        return self.node.attr(name, default)

    def has_input(self, i: int) -> bool:
        return i < len(self.in_shapes) and self.in_shapes[i] is not None

    def const(self, i: int) -> np.ndarray | None:
        return self.consts.get(i) if i < len(self.node.inputs) else None

    @property
    def sm(self) -> int:
        return int(self.arch.removeprefix("sm_").removeprefix("compute_").rstrip("a"))

    def kernel(self, source: str, *, grid, block, args, op: str | None = None,
               shared_bytes: int = 0) -> Kernel:
        return make_kernel(source, grid=grid, block=block, args=args,
                           op=op or self.node.op_type, signature=self.signature(),
                           arch=self.arch, shared_bytes=shared_bytes)

    def signature(self) -> str:
        def one(dt, shape):
            short = ct.CTYPES[dt].short if dt in ct.CTYPES else str(dt)
            return f"{short}[{','.join(map(str, shape))}]" if shape is not None else "-"
        ins = ",".join(one(d, s) for d, s in zip(self.in_dtypes, self.in_shapes))
        outs = ",".join(one(d, s) for d, s in zip(self.out_dtypes, self.out_shapes))
        return f"{ins}->{outs}"


Planner = Callable[[NodeContext], NodePlan | None]
PLANNERS: dict[str, Planner] = {}


def planner(*op_types: str) -> Callable[[Planner], Planner]:
    """Register a planner for ops of the default domain."""
    def deco(fn: Planner) -> Planner:
        for op in op_types:
            if op in PLANNERS:
                raise ValueError(f"CUDA planner for {op} registered twice")
            PLANNERS[op] = fn
        return fn
    return deco


def kernels_for_node(node: ir.Node, in_types: Sequence[TensorType | None],
                     out_types: Sequence[TensorType], *, opset: int = 21,
                     consts: Mapping[int, np.ndarray] | None = None,
                     functions: Mapping | None = None, arch: str = "sm_90",
                     allow_tf32: bool = False) -> NodePlan | None:
    """How to run ``node`` on CUDA for these static types, ``None`` to fall back to NumPy.

    ``allow_tf32`` lets float32 GEMM/Conv use TF32 tensor cores (10-bit mantissa inputs),
    off by default like torch's matmul.

    >>> from onyx.ir.types import tensor
    >>> n = ir.Node("Relu", [ir.Value("x")])
    >>> plan = kernels_for_node(n, [tensor(1, (4, 8))], [tensor(1, (4, 8))])
    >>> plan.kernels[0].args
    ('in0', 'out0')
    """
    _load_families()
    fn = _FUSED if node.domain == FUSED_DOMAIN else (
        PLANNERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None)
    if fn is None:
        return None
    ctx = _context(node, in_types, out_types, opset, consts, functions, arch, allow_tf32)
    if ctx is None:
        return None
    if any(numel_is_zero(s) for s in ctx.out_shapes) and not _is_alias_op(node.op_type):
        return NodePlan(kernels=())
    try:
        return fn(ctx)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError,
            ZeroDivisionError) as exc:
        # Malformed attributes (a string where a float belongs, a short pads list) end here.
        raise NodeError(f"cannot generate CUDA code for {describe_node(node)} "
                        f"({ctx.signature()}): {type(exc).__name__}: {exc}") from None


FUSED_DOMAIN = "onyx.fused"
_FUSED: Planner | None = None
ALIAS_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")


def _is_alias_op(op: str) -> bool:
    return op in ALIAS_OPS


def numel_is_zero(shape) -> bool:
    return shape is not None and any(d == 0 for d in shape)


def _context(node, in_types, out_types, opset, consts, functions, arch, allow_tf32):
    in_shapes, in_dtypes = [], []
    for i, t in enumerate(in_types):
        if t is None or (i < len(node.inputs) and node.inputs[i] is None):
            in_shapes.append(None)
            in_dtypes.append(None)
            continue
        s = static_shape(t)
        if s is None or not isinstance(t, TensorType) or t.dtype not in ct.CTYPES:
            return None
        in_shapes.append(s)
        in_dtypes.append(t.dtype)
    out_shapes = [static_shape(t) for t in out_types]
    if any(s is None for s in out_shapes) or any(
            not isinstance(t, TensorType) or t.dtype not in ct.CTYPES for t in out_types):
        return None
    return NodeContext(node, tuple(in_shapes), tuple(in_dtypes), tuple(out_shapes),
                       tuple(t.dtype for t in out_types), opset, dict(consts or {}),
                       functions or {}, arch, allow_tf32)


def _load_families() -> None:
    global _FUSED
    if _FUSED is not None:
        return
    from onyx.backends.cuda.codegen import (  # noqa: F401  (modules register planners)
        conv,
        gemm,
        movement,
        norms,
        ops,
        pool,
        reduce,
    )
    from onyx.backends.cuda.codegen.fused import plan_fused
    _FUSED = plan_fused


def supported_ops() -> list[str]:
    """Default-domain ops with a CUDA planner."""
    _load_families()
    return sorted(PLANNERS)
