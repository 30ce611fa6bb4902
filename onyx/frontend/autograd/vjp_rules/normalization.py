"""VJP rules of normalization layers (Batch, Instance, Layer, Group, RMS, MeanVariance, Lp, LRN)
and Dropout.

BatchNormalization (training), LayerNormalization, GroupNormalization and InstanceNormalization
all standardize x over some axes; ``_standardize_back`` is that shared backward, with the
statistics recomputed from x (a rule reads only the node, never saved intermediates).
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    cast_like,
    element_ratio,
    ints,
    normalize_axis,
    rank,
    require_static,
    reshape_like,
    scalar,
)


class _Stats:
    """Mean, centred x, reciprocal std and x-hat of x over ``axes`` (kept as 1s)."""

    def __init__(self, b, x, axes: list[int], eps: float):
        self.b, self.x, self.axes = b, x, ints(b, axes)
        self.mean = b.ReduceMean(x, self.axes, keepdims=1)
        self.centred = b.Sub(x, self.mean)
        var = b.ReduceMean(b.Mul(self.centred, self.centred), self.axes, keepdims=1)
        self.rstd = b.Reciprocal(b.Sqrt(b.Add(var, scalar(b, eps, x))))
        self.xhat = b.Mul(self.centred, self.rstd)

    def mean_of(self, v):
        return self.b.ReduceMean(v, self.axes, keepdims=1)


def _standardize_back(b, st: _Stats, dxhat, g_mean=None, g_rstd=None):
    """Cotangent of x from those of x-hat and (optionally) of the mean and rstd outputs."""
    gx = b.Mul(st.rstd, b.Sub(b.Sub(dxhat, st.mean_of(dxhat)),
                              b.Mul(st.xhat, st.mean_of(b.Mul(dxhat, st.xhat)))))
    if g_mean is None and g_rstd is None:
        return gx
    count = element_ratio(b, st.x, st.mean, st.x)
    if g_mean is not None:
        gx = b.Add(gx, b.Div(cast_like(b, g_mean, st.x), count))
    if g_rstd is not None:
        # d rstd / dx = -rstd^2 * xhat / count
        d = b.Mul(b.Mul(st.rstd, st.rstd), st.xhat)
        gx = b.Sub(gx, b.Div(b.Mul(cast_like(b, g_rstd, st.x), d), count))
    return gx


def _per_channel(b, p, r: int):
    """A (C,) parameter shaped (C, 1, ..., 1) to broadcast over (N, C, ...)."""
    return b.Reshape(p, ints(b, [-1] + [1] * (r - 2)))


def _channel_sum(b, v):
    return b.ReduceSum(v, ints(b, [0, *range(2, rank(b, v))]), keepdims=0)


@vjp("BatchNormalization")
def _(b, node, g, g_run_mean=None, g_run_var=None, *saved_stats):
    # Training: the training_mode attribute (opset 14+) or, before, more than one output.
    x, scale, bias, mean, var = node.inputs[:5]
    r, eps = rank(b, x), node.attr("epsilon", 1e-5)
    s = _per_channel(b, scale, r)
    if not (node.attr("training_mode", 0) or len(node.outputs) > 1):
        rstd = b.Reciprocal(b.Sqrt(b.Add(_per_channel(b, var, r), scalar(b, eps, x))))
        centred = b.Sub(x, _per_channel(b, mean, r))
        gs = b.Mul(g, s)
        gmean = b.Neg(_channel_sum(b, b.Mul(gs, rstd)))
        # d/dvar of (x - m) * (var + eps)^(-1/2) = -(x - m) * rstd^3 / 2
        cube = b.Mul(rstd, b.Mul(rstd, rstd))
        gvar = b.Mul(_channel_sum(b, b.Mul(gs, centred)),
                     b.Reshape(b.Mul(cube, scalar(b, -0.5, x)), ints(b, [-1])))
        return [b.Mul(gs, rstd), _channel_sum(b, b.Mul(g, b.Mul(centred, rstd))),
                _channel_sum(b, g), gmean, gvar]
    st = _Stats(b, x, [0, *range(2, r)], eps)
    gx = _standardize_back(b, st, b.Mul(g, s))
    momentum = node.attr("momentum", 0.9)
    grads = [gx, _channel_sum(b, b.Mul(g, st.xhat)), _channel_sum(b, g), None, None]
    # running = input * momentum + batch statistic * (1 - momentum); opsets 7-13 also output
    # the batch statistics themselves (saved mean / var)
    saved = list(saved_stats) + [None] * (2 - len(saved_stats))
    for k, (g_run, g_saved) in enumerate(((g_run_mean, saved[0]), (g_run_var, saved[1]))):
        if g_run is not None:
            grads[3 + k] = b.Mul(g_run, scalar(b, momentum, g_run))
        g_batch = _sum_some(b, [None if g_run is None else
                             b.Mul(g_run, scalar(b, 1 - momentum, g_run)), g_saved])
        if g_batch is not None:
            grads[0] = b.Add(grads[0], _batch_stat_back(b, st, k, _per_channel(b, g_batch, r)))
    return grads


def _sum_some(b, values: list):
    """The sum of the values that are not None (None if all are)."""
    present = [v for v in values if v is not None]
    total = present[0] if present else None
    for v in present[1:]:
        total = b.Add(total, v)
    return total


def _batch_stat_back(b, st: _Stats, which: int, g):
    """Cotangent of x from that of its batch mean (which=0) or population variance (1)."""
    count = element_ratio(b, st.x, st.mean, st.x)
    if which == 0:
        return b.Div(cast_like(b, g, st.x), count)
    return b.Div(b.Mul(b.Mul(cast_like(b, g, st.x), scalar(b, 2.0, st.x)), st.centred), count)


@vjp("InstanceNormalization")
def _(b, node, g):
    x, scale, _bias = node.inputs
    r = rank(b, x)
    st = _Stats(b, x, list(range(2, r)), node.attr("epsilon", 1e-5))
    gx = _standardize_back(b, st, b.Mul(g, _per_channel(b, scale, r)))
    return [gx, _channel_sum(b, b.Mul(g, st.xhat)), _channel_sum(b, g)]


@vjp("LayerNormalization")
def _(b, node, g, g_mean=None, g_rstd=None):
    x, scale, bias = node.inputs[0], node.inputs[1], arg(node, 2)
    r = rank(b, x)
    axis = normalize_axis(node.attr("axis", -1), r)
    st = _Stats(b, x, list(range(axis, r)), node.attr("epsilon", 1e-5))
    gx = _standardize_back(b, st, b.Mul(g, scale), g_mean, g_rstd)
    grads = [gx, b.unbroadcast(b.Mul(g, st.xhat), scale)]
    if bias is not None:
        grads.append(b.unbroadcast(g, bias))
    return grads


@vjp("GroupNormalization")
def _(b, node, g):
    x, scale, bias = node.inputs
    groups, r, c = node.attr("num_groups"), rank(b, x), b.shape(x)[1]
    grouped = b.Reshape(x, ints(b, [0, groups, -1]))
    st = _Stats(b, grouped, [2], node.attr("epsilon", 1e-5))
    xhat = reshape_like(b, st.xhat, x)
    # opset 21 has one scale per channel; opset 18 had one per group
    per_group = require_static(b, scale, "GroupNormalization", "scale")[0] != c and \
        isinstance(c, int | np.integer)
    if per_group:
        s = b.Reshape(scale, ints(b, [1, groups, 1]))
        gsum = b.Reshape(g, ints(b, [0, groups, -1]))
        dxhat = b.Mul(gsum, s)
        gs = b.ReduceSum(b.Mul(gsum, st.xhat), ints(b, [0, 2]), keepdims=0)
        gb = b.ReduceSum(gsum, ints(b, [0, 2]), keepdims=0)
    else:
        dxhat = b.Reshape(b.Mul(g, _per_channel(b, scale, r)), ints(b, [0, groups, -1]))
        gs, gb = _channel_sum(b, b.Mul(g, xhat)), _channel_sum(b, g)
    gx = reshape_like(b, _standardize_back(b, st, dxhat), x)
    return [gx, gs, gb]


@vjp("MeanVarianceNormalization")
def _(b, node, g):
    x = node.inputs[0]
    axes = ints(b, [normalize_axis(a, rank(b, x)) for a in node.attr("axes", [0, 2, 3])])
    # y = (x - mean) / (sd + 1e-9), the kernel's epsilon; d = sd + 1e-9
    centred = b.Sub(x, b.ReduceMean(x, axes, keepdims=1))
    sd = b.Sqrt(b.ReduceMean(b.Mul(centred, centred), axes, keepdims=1))
    d = b.Add(sd, scalar(b, 1e-9, x))
    direct = b.Div(b.Sub(g, b.ReduceMean(g, axes, keepdims=1)), d)
    via_sd = b.Div(b.ReduceMean(b.Mul(g, centred), axes, keepdims=1), b.Mul(b.Mul(d, d), sd))
    return [b.Sub(direct, b.Mul(centred, via_sd))]


@vjp("LpNormalization", uses_outputs=(0,))
def _(b, node, g):
    x, y = node.inputs[0], node.outputs[0]
    axis = ints(b, [node.attr("axis", -1)])
    p = node.attr("p", 2)
    norm = b.ReduceL2(x, axis, keepdims=1) if p == 2 else b.ReduceL1(x, axis, keepdims=1)
    zero = scalar(b, 0.0, x)
    is_zero = b.Equal(norm, zero)
    safe = b.Where(is_zero, scalar(b, 1.0, x), norm)
    if p == 2:   # (g - y * <g, y>) / |x|
        gx = b.Sub(g, b.Mul(y, b.ReduceSum(b.Mul(g, y), axis, keepdims=1)))
    else:        # g - sign(x) * <g, y>
        gx = b.Sub(g, b.Mul(b.Sign(x), b.ReduceSum(b.Mul(g, y), axis, keepdims=1)))
    # the kernel maps an all-zero slice to zeros: a constant there
    return [b.Where(is_zero, zero, b.Div(gx, safe))]


def _channel_window(b, v, r: int, size: int, before: int, after: int):
    """Sum of v over channels [c - before, c + after] (zeros past the edges), via Pad/Slice."""
    pads = [0] * (2 * r)
    pads[1], pads[r + 1] = before, after
    padded = b.Pad(v, ints(b, pads))
    total = None
    for k in range(size):
        # channels k .. k + C - 1 of the padded C + size - 1: stop size - 1 - k from the end
        stop = k - (size - 1) if k < size - 1 else np.iinfo(np.int64).max
        part = b.Slice(padded, ints(b, [k]), ints(b, [stop]), ints(b, [1]))
        total = part if total is None else b.Add(total, part)
    return total


@vjp("LRN")
def _(b, node, g):
    x = node.inputs[0]
    size = node.attr("size")
    alpha, beta, bias = node.attr("alpha", 1e-4), node.attr("beta", 0.75), node.attr("bias", 1.0)
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    r = rank(b, x)
    coef = scalar(b, alpha / size, x)
    s = b.Add(scalar(b, bias, x), b.Mul(coef, _channel_window(b, b.Mul(x, x), r, size,
                                                               before, after)))
    s_beta = b.Pow(s, scalar(b, -beta, x))
    # y = x * s^-beta: direct term, plus each window sum feeding back through x^2; the
    # adjoint of the window [c - before, c + after] is the mirrored one
    h = b.Mul(b.Mul(g, x), b.Div(s_beta, s))
    back = _channel_window(b, h, r, size, after, before)
    return [b.Sub(b.Mul(g, s_beta), b.Mul(back, b.Mul(x, scalar(b, 2 * beta * alpha / size, x))))]


@vjp("Dropout", uses_inputs=(1, 2), uses_outputs=(0,))
def _(b, node, g, g_mask=None):
    training = arg(node, 2)
    if training is None or not bool(np.asarray(b.constant_value(training)).reshape(-1)[0]):
        return [g, None, None]
    ratio = arg(node, 1)
    ratio = 0.5 if ratio is None else float(np.asarray(b.constant_value(ratio)).reshape(-1)[0])
    if len(node.outputs) > 1:
        kept = node.outputs[1]
    else:  # no mask output: a kept element is a nonzero one (exact unless x was 0 there)
        y = node.outputs[0]
        kept = b.Not(b.Equal(y, scalar(b, 0.0, y)))
    scale = 1.0 if ratio == 0 else 1.0 / (1.0 - ratio)
    return [b.Where(kept, b.Mul(g, scalar(b, scale, g)), b.zeros_like(g)), None, None]


@vjp("RMSNormalization")
def _(b, node, g):
    x, scale = node.inputs
    r = rank(b, x)
    axes = ints(b, list(range(normalize_axis(node.attr("axis", -1), r), r)))
    eps = node.attr("epsilon", 1e-5)
    rstd = b.Reciprocal(b.Sqrt(b.Add(b.ReduceMean(b.Mul(x, x), axes, keepdims=1),
                                     scalar(b, eps, x))))
    gs = b.Mul(g, scale)
    # y = x * rstd * s: d rstd / dx = -rstd^3 * x / count
    inner = b.ReduceMean(b.Mul(gs, x), axes, keepdims=1)
    gx = b.Sub(b.Mul(gs, rstd), b.Mul(x, b.Mul(inner, b.Mul(rstd, b.Mul(rstd, rstd)))))
    return [gx, b.unbroadcast(b.Mul(g, b.Mul(x, rstd)), scale)]
