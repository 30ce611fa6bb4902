"""MatMul followed by Add of a bias becomes one Gemm (2-D input, 1-D or 2-D bias).

Gemm's C must broadcast one way to (M, N): the rule requires the Add's output to have the
MatMul's static shape, so a bias that would enlarge the result is left alone.
"""

from __future__ import annotations

from onyx.passes.rules import Match, RewritePass, Rule, fail, ok
from onyx.passes.simplify import GEMM_DTYPES


def _gemm_check(ctx: Match, a, b, c, matmul_index: int):
    mm = ctx.nodes[matmul_index].outputs[0]
    out = ctx.root.outputs[0]
    if ctx.opset < 7:
        return fail("Gemm before opset 7 does not broadcast C")
    if a.dtype is None or a.dtype.name not in GEMM_DTYPES:
        return fail(f"Gemm does not take {a.type}")
    if a.shape is None or b.shape is None or len(a.shape) != 2 or len(b.shape) != 2:
        return fail("MatMul inputs are not both 2-D")
    if c.shape is None or len(c.shape) not in (1, 2) or c.dtype != a.dtype:
        return fail(f"bias {c.type} is not a 1-D or 2-D tensor of the input type")
    if mm.shape is None or out.shape is None or tuple(mm.shape) != tuple(out.shape) \
            or not all(isinstance(d, int) for d in out.shape):
        return fail(f"Add output {out.type} is not the MatMul's static shape {mm.type}")
    return ok()


class MatMulAddToGemm(Rule):
    def pattern(self, op, a, b, c):
        return op.Add(op.MatMul(a, b), c)

    def check(self, ctx: Match, a, b, c):
        return _gemm_check(ctx, a, b, c, 1)

    def rewrite(self, op, a, b, c):
        return op.Gemm(a, b, c)


class BiasAddMatMulToGemm(Rule):
    def pattern(self, op, a, b, c):
        return op.Add(c, op.MatMul(a, b))

    def check(self, ctx: Match, a, b, c):
        return _gemm_check(ctx, a, b, c, 1)

    def rewrite(self, op, a, b, c):
        return op.Gemm(a, b, c)


class GemmFusionPass(RewritePass):
    def __init__(self):
        super().__init__([MatMulAddToGemm(), BiasAddMatMulToGemm()], name="gemm")
