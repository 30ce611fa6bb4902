"""Fold inference BatchNormalization, and Mul/Add by a per-channel constant, into a Conv.

``BN(conv(x, W) + B) = conv(x, W * s) + (B - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)`` per output channel. The new weights are new initializers (the
old ones may be shared with another Conv; DCE drops them when they are not).
"""

from __future__ import annotations

import numpy as np

from onyx.passes.infra import constant_value
from onyx.passes.rules import Match, RewritePass, Rule, fail, ok

FLOAT_KINDS = ("f",)


def _conv_constants(ctx: Match, w, b) -> tuple[np.ndarray, np.ndarray] | str:
    """(weights, bias) of the matched Conv, or why they cannot be rewritten."""
    weights = constant_value(w)
    if weights is None or weights.dtype.kind not in FLOAT_KINDS or weights.ndim < 3:
        return "Conv weights are not a constant float tensor"
    bias = np.zeros(weights.shape[0], weights.dtype) if b is None else constant_value(b)
    if bias is None or bias.shape != (weights.shape[0],):
        return "Conv bias is not a constant per-channel vector"
    return weights, bias


def _per_channel(c, channels: int, out_rank: int | None, dtype) -> np.ndarray | str:
    """The constant ``c`` as one value per output channel, if it broadcasts that way."""
    value = constant_value(c)
    if value is None or value.dtype != dtype:
        return "the operand is not a constant of the Conv's type"
    if out_rank is None or value.ndim > out_rank:
        return "rank of the Conv output is unknown or smaller than the operand's"
    shape = (1,) * (out_rank - value.ndim) + value.shape
    if value.size == 1:
        return np.full(channels, value.reshape(()), dtype)
    if shape[1] != channels or any(d != 1 for i, d in enumerate(shape) if i != 1):
        return f"operand shape {list(value.shape)} is not per channel"
    return value.reshape(channels)


def _out_rank(ctx: Match) -> int | None:
    shape = ctx.root.outputs[0].shape
    return None if shape is None else len(shape)


class FuseConvBatchNorm(Rule):
    def pattern(self, op, x, w, b, scale, beta, mean, var):
        return op.BatchNormalization(op.Conv(x, w, b), scale, beta, mean, var)

    def check(self, ctx: Match, x, w, b, scale, beta, mean, var):
        bn = ctx.root
        if bn.attr("training_mode", 0) or (ctx.opset < 7 and not bn.attr("is_test", 0)):
            return fail("BatchNormalization is in training mode")
        if ctx.opset < 9 and not bn.attr("spatial", 1):
            return fail("BatchNormalization with spatial=0 normalizes per element")
        found = _conv_constants(ctx, w, b)
        if isinstance(found, str):
            return fail(found)
        channels = found[0].shape[0]
        for name, v in (("scale", scale), ("B", beta), ("mean", mean), ("var", var)):
            arr = constant_value(v)
            if arr is None or arr.shape != (channels,):
                return fail(f"BatchNormalization {name} is not a constant of {channels} values")
        return ok()

    def rewrite(self, op, x, w, b, scale, beta, mean, var):
        conv, bn = op.match.nodes[1], op.match.root
        weights, bias = _conv_constants(op.match, w, b)
        eps = bn.attr("epsilon", 1e-5)
        f64 = {k: constant_value(v).astype(np.float64)
               for k, v in (("scale", scale), ("beta", beta), ("mean", mean), ("var", var))}
        s = f64["scale"] / np.sqrt(f64["var"] + eps)
        new_w = (weights * s.reshape((-1,) + (1,) * (weights.ndim - 1))).astype(weights.dtype)
        new_b = ((bias - f64["mean"]) * s + f64["beta"]).astype(bias.dtype)
        return _conv_like(op, conv, x, new_w, new_b)


def _conv_like(op, conv, x, weights: np.ndarray, bias: np.ndarray):
    attrs = {k: a.value for k, a in conv.attributes.items()}
    return op.Conv(x, op.constant(weights, "conv_w"), op.constant(bias, "conv_b"), **attrs)


class _ConvChannelOp(Rule):
    """Conv followed by a per-channel constant Mul or Add (either operand order)."""

    def check(self, ctx: Match, x, w, b, c):
        found = _conv_constants(ctx, w, b)
        if isinstance(found, str):
            return fail(found)
        weights = found[0]
        per = _per_channel(c, weights.shape[0], _out_rank(ctx), weights.dtype)
        if isinstance(per, str):
            return fail(per)
        return ok()

    def rewrite(self, op, x, w, b, c):
        weights, bias = _conv_constants(op.match, w, b)
        per = _per_channel(c, weights.shape[0], _out_rank(op.match), weights.dtype)
        if self.multiply:
            weights = weights * per.reshape((-1,) + (1,) * (weights.ndim - 1))
            bias = bias * per
        else:
            bias = bias + per
        return _conv_like(op, op.match.nodes[1], x, weights, bias)


class FuseConvMul(_ConvChannelOp):
    multiply = True

    def pattern(self, op, x, w, b, c):
        return op.Mul(op.Conv(x, w, b), c)


class FuseMulConv(_ConvChannelOp):
    multiply = True

    def pattern(self, op, x, w, b, c):
        return op.Mul(c, op.Conv(x, w, b))


class FuseConvAdd(_ConvChannelOp):
    multiply = False

    def pattern(self, op, x, w, b, c):
        return op.Add(op.Conv(x, w, b), c)


class FuseAddConv(_ConvChannelOp):
    multiply = False

    def pattern(self, op, x, w, b, c):
        return op.Add(c, op.Conv(x, w, b))


class ConvBatchNormFusionPass(RewritePass):
    def __init__(self):
        super().__init__([FuseConvBatchNorm(), FuseConvMul(), FuseMulConv(), FuseConvAdd(),
                          FuseAddConv()], name="conv_bn")
