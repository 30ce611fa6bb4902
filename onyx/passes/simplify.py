"""Algebraic simplification: ops that do nothing go, Transpose pairs cancel, a Transpose
feeding a 2-D MatMul/Gemm becomes its ``transA``/``transB`` flag.

Each rule states when it is legal in ``check``; "does nothing" is judged from static shapes and
types (after shape inference), never guessed.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.types import TensorType
from onyx.passes.infra import constant_value
from onyx.passes.rules import Match, RewritePass, Rule, fail, ok

GEMM_DTYPES = ("FLOAT", "DOUBLE", "FLOAT16")


def _static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)


def _same_static_type(a, b) -> bool:
    """Both values are tensors of one dtype and one fully known shape."""
    return (isinstance(a.type, TensorType) and isinstance(b.type, TensorType)
            and a.dtype == b.dtype and _static(a.shape) and a.shape == b.shape)


class RemoveIdentity(Rule):
    def pattern(self, op, x):
        return op.Identity(x)

    def rewrite(self, op, x):
        return x


class RemoveInferenceDropout(Rule):
    def pattern(self, op, x, ratio, training_mode):
        return op.Dropout(x, ratio, training_mode)

    def check(self, ctx: Match, x, ratio, training_mode):
        if ctx.opset < 7 and not ctx.root.attr("is_test", 0):
            return fail("Dropout before opset 7 with is_test=0 trains")
        if training_mode is not None:
            mode = constant_value(training_mode)
            if mode is None or bool(mode):
                return fail("training_mode is not a constant false")
        return ok()

    def rewrite(self, op, x, ratio, training_mode):
        return x


class RemoveCastToSameType(Rule):
    def pattern(self, op, x):
        return op.Cast(x)

    def check(self, ctx: Match, x):
        if x.dtype is None or int(x.dtype) != ctx.root.attr("to"):
            return fail(f"input type {x.type} differs from the target type")
        return ok()

    def rewrite(self, op, x):
        return x


class _NoOpWhenShapeKept(Rule):
    """Base of Reshape/Expand/Slice/Transpose rules: the output equals the input."""

    def check(self, ctx: Match, x, *_args, **_kwargs):
        if not _same_static_type(x, ctx.root.outputs[0]):
            return fail(f"output {ctx.root.outputs[0].type} is not input {x.type}")
        return ok()


class RemoveReshapeToSameShape(_NoOpWhenShapeKept):
    def pattern(self, op, x, shape):
        return op.Reshape(x, shape)

    def rewrite(self, op, x, shape):
        return x


class RemoveExpandToSameShape(_NoOpWhenShapeKept):
    def pattern(self, op, x, shape):
        return op.Expand(x, shape)

    def rewrite(self, op, x, shape):
        return x


class RemoveFullSlice(_NoOpWhenShapeKept):
    def pattern(self, op, x, starts, ends, axes, steps):
        return op.Slice(x, starts, ends, axes, steps)

    def check(self, ctx: Match, x, starts, ends, axes, steps):
        if ctx.opset < 10:
            return fail("Slice before opset 10 keeps starts/ends in attributes")
        if steps is not None:
            s = constant_value(steps)
            if s is None or np.any(s != 1):
                return fail("steps are not a constant 1")  # a full reversal keeps the shape
        return super().check(ctx, x)

    def rewrite(self, op, x, starts, ends, axes, steps):
        return x


def _perm(node, rank: int | None) -> list[int] | None:
    perm = node.attr("perm")
    if perm is None:
        return None if rank is None else list(range(rank))[::-1]
    return list(perm)


class RemoveIdentityTranspose(Rule):
    def pattern(self, op, x):
        return op.Transpose(x)

    def check(self, ctx: Match, x):
        perm = _perm(ctx.root, None if x.shape is None else len(x.shape))
        if perm is None or perm != list(range(len(perm))):
            return fail(f"perm {perm} is not the identity")
        return ok()

    def rewrite(self, op, x):
        return x


class CancelTransposePair(Rule):
    """Transpose(Transpose(x, p), q) = Transpose(x, p∘q); nothing at all when that is identity."""

    def pattern(self, op, x):
        return op.Transpose(op.Transpose(x))

    def check(self, ctx: Match, x):
        if x.shape is None:
            return fail("rank of the input is unknown")
        return ok()

    def rewrite(self, op, x):
        outer, inner = op.match.nodes
        rank = len(x.shape)
        p, q = _perm(inner, rank), _perm(outer, rank)
        combined = [p[i] for i in q]
        if combined == list(range(rank)):
            return x
        return op.Transpose(x, perm=combined)


def _is_2d_swap(node, x) -> bool:
    return x.shape is not None and len(x.shape) == 2 and _perm(node, 2) == [1, 0]


def _gemm_legal(ctx: Match, a, b) -> str:
    """Why a MatMul/Gemm over ``a``, ``b`` may not take transpose flags ("" when it may)."""
    if ctx.opset < 11:
        return "Gemm before opset 11 requires C"
    if a.dtype is None or a.dtype.name not in GEMM_DTYPES:
        return f"Gemm does not take {a.type}"
    if a.shape is None or b.shape is None or len(a.shape) != 2 or len(b.shape) != 2:
        return "MatMul inputs are not both 2-D"
    return ""


class TransposeIntoMatMulA(Rule):
    def pattern(self, op, a, b):
        return op.MatMul(op.Transpose(a), b)

    def check(self, ctx: Match, a, b):
        if not _is_2d_swap(ctx.nodes[1], a):
            return fail("Transpose is not a 2-D swap")
        reason = _gemm_legal(ctx, a, b)
        return fail(reason) if reason else ok()

    def rewrite(self, op, a, b):
        return op.Gemm(a, b, transA=1)


class TransposeIntoMatMulB(Rule):
    def pattern(self, op, a, b):
        return op.MatMul(a, op.Transpose(b))

    def check(self, ctx: Match, a, b):
        if not _is_2d_swap(ctx.nodes[1], b):
            return fail("Transpose is not a 2-D swap")
        reason = _gemm_legal(ctx, a, b)
        return fail(reason) if reason else ok()

    def rewrite(self, op, a, b):
        return op.Gemm(a, b, transB=1)


def _gemm_attrs(node, flip: str) -> dict:
    attrs = {k: a.value for k, a in node.attributes.items()}
    attrs[flip] = 1 - int(attrs.get(flip, 0))
    return attrs


class TransposeIntoGemmA(Rule):
    def pattern(self, op, a, b, c):
        return op.Gemm(op.Transpose(a), b, c)

    def check(self, ctx: Match, a, b, c):
        return ok() if _is_2d_swap(ctx.nodes[1], a) else fail("Transpose is not a 2-D swap")

    def rewrite(self, op, a, b, c):
        return op.Gemm(a, b, c, **_gemm_attrs(op.match.root, "transA"))


class TransposeIntoGemmB(Rule):
    def pattern(self, op, a, b, c):
        return op.Gemm(a, op.Transpose(b), c)

    def check(self, ctx: Match, a, b, c):
        return ok() if _is_2d_swap(ctx.nodes[1], b) else fail("Transpose is not a 2-D swap")

    def rewrite(self, op, a, b, c):
        return op.Gemm(a, b, c, **_gemm_attrs(op.match.root, "transB"))


class _NeutralOperand(Rule):
    """``x op c`` where every element of the constant ``c`` is the op's neutral element and the
    result has ``x``'s type and shape (so ``c`` does not broadcast ``x`` bigger)."""

    neutral = 0

    def check(self, ctx: Match, x, c):
        value = constant_value(c)
        if value is None or value.dtype == object:
            return fail("the other operand is not a numeric constant")
        if value.size == 0 or np.any(value != self.neutral):
            return fail(f"the constant is not all {self.neutral}")
        if not _same_static_type(x, ctx.root.outputs[0]):
            return fail(f"output {ctx.root.outputs[0].type} is not input {x.type}")
        return ok()

    def rewrite(self, op, x, c):
        return x


class RemoveMulByOne(_NeutralOperand):
    neutral = 1

    def pattern(self, op, x, c):
        return op.Mul(x, c)


class RemoveOneMul(_NeutralOperand):
    neutral = 1

    def pattern(self, op, x, c):
        return op.Mul(c, x)


class RemoveDivByOne(_NeutralOperand):
    neutral = 1

    def pattern(self, op, x, c):
        return op.Div(x, c)


class RemoveAddZero(_NeutralOperand):
    def pattern(self, op, x, c):
        return op.Add(x, c)


class RemoveZeroAdd(_NeutralOperand):
    def pattern(self, op, x, c):
        return op.Add(c, x)


class RemoveSubZero(_NeutralOperand):
    def pattern(self, op, x, c):
        return op.Sub(x, c)


SIMPLIFY_RULES: tuple[Rule, ...] = (
    RemoveIdentity(), RemoveInferenceDropout(), RemoveCastToSameType(),
    RemoveReshapeToSameShape(), RemoveExpandToSameShape(), RemoveFullSlice(),
    RemoveIdentityTranspose(), CancelTransposePair(),
    RemoveMulByOne(), RemoveOneMul(), RemoveDivByOne(), RemoveAddZero(), RemoveZeroAdd(),
    RemoveSubZero(),
    TransposeIntoMatMulA(), TransposeIntoMatMulB(), TransposeIntoGemmA(), TransposeIntoGemmB(),
)


class SimplifyPass(RewritePass):
    def __init__(self, rules=SIMPLIFY_RULES):
        super().__init__(rules, name="simplify")
