"""VJP rules of Conv, ConvTranspose, Col2Im and CausalConvWithState.

Conv and ConvTranspose are adjoint in their data input: the cotangent of one is the other, with
the same kernel, strides, dilations, groups and explicit pads. The weight cotangent of both is
the correlation of input and output cotangent (``_windows.weight_grad``).
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import arg, ints, rank, require_static
from onyx.frontend.autograd.vjp_rules._windows import (
    Window,
    conv_output_size,
    crop_to,
    transpose_padding,
    weight_grad,
    window_of,
)


def _spatial(b, x, op: str, what: str = "input") -> list[int]:
    r = rank(b, x)
    return list(require_static(b, x, op, what, only=range(2, r))[2:])


def _bias_grad(b, g):
    return b.ReduceSum(g, ints(b, [0, *range(2, rank(b, g))]), keepdims=0)


@vjp("Conv")
def _(b, node, g):
    x, w, bias = node.inputs[0], node.inputs[1], arg(node, 2)
    spatial, out = _spatial(b, x, "Conv"), _spatial(b, node.outputs[0], "Conv", "output")
    ws = require_static(b, w, "Conv", "weight")
    win = window_of(node, spatial, list(ws[2:]))
    group = node.attr("group", 1)
    gx = gw = None
    if b.needs_grad(node, 0):  # a first layer's data input wants none: skip the ConvTranspose
        gx = b.ConvTranspose(g, w, strides=win.strides, dilations=win.dilations,
                             pads=win.pads, group=group,
                             output_padding=transpose_padding(win, spatial, out))
    if b.needs_grad(node, 1):
        gw = weight_grad(b, x, spatial, g, out, ws, win, group)
    return [gx, gw, None if bias is None else _bias_grad(b, g)]


def _transpose_window(node, spatial: list[int], kernel: list[int], out: list[int]) -> Window:
    """Explicit pads of a ConvTranspose, from its input and output sizes as the spec says."""
    r = len(spatial)
    win = Window(kernel, list(node.attr("strides") or [1] * r),
                 list(node.attr("dilations") or [1] * r), [0] * r, [0] * r)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if node.attr("output_shape") is None and auto_pad == "NOTSET":
        pads = node.attr("pads") or [0] * (2 * r)
        win.begin, win.end = list(pads[:r]), list(pads[r:])
        return win
    if auto_pad == "VALID":
        return win
    extra = node.attr("output_padding") or [0] * r
    for i, n in enumerate(spatial):
        total = win.strides[i] * (n - 1) + extra[i] + win.span(i) - out[i]
        half = total // 2
        win.begin[i] = half if auto_pad == "SAME_UPPER" else total - half
        win.end[i] = total - win.begin[i]
    return win


@vjp("ConvTranspose")
def _(b, node, g):
    x, w, bias = node.inputs[0], node.inputs[1], arg(node, 2)
    spatial = _spatial(b, x, "ConvTranspose")
    out = _spatial(b, node.outputs[0], "ConvTranspose", "output")
    ws = require_static(b, w, "ConvTranspose", "weight")
    win = _transpose_window(node, spatial, list(ws[2:]), out)
    group = node.attr("group", 1)
    gx = b.Conv(g, w, strides=win.strides, dilations=win.dilations, pads=win.pads, group=group)
    gx = crop_to(b, gx, conv_output_size(win, out), spatial)
    # <g, ConvTranspose(x, W)> = <Conv(g, W), x>: W's cotangent is the Conv weight cotangent
    # with g as the input and x as the output cotangent.
    gw = weight_grad(b, g, out, x, spatial, ws, win, group)
    return [gx, gw, None if bias is None else _bias_grad(b, g)]


@vjp("Col2Im", uses_inputs=(1, 2))
def _(b, node, g):
    x = node.inputs[0]
    block = [int(v) for v in np.asarray(b.constant_value(node.inputs[2])).reshape(-1)]
    ck = require_static(b, x, "Col2Im", only=[1])[1]
    spatial = _spatial(b, node.outputs[0], "Col2Im", "output")
    k = int(np.prod(block))
    c = ck // k
    win = window_of(node, spatial, block)
    # The adjoint gathers each block back into a column: a depthwise Conv whose C*K kernels
    # are one-hot, channel c * K + j picking block element j of channel c.
    onehot = np.tile(np.eye(k).reshape([k, 1, *block]), (c, 1, *[1] * len(block)))
    cols = b.Conv(g, b.const(onehot, like=g), strides=win.strides, dilations=win.dilations,
                  pads=win.pads, group=c)
    return [b.Reshape(cols, ints(b, [0, 0, -1])), None, None]


@vjp("CausalConvWithState")
def _(b, node, g_y, g_state=None):
    # padded = concat(past_state or zeros, input) along time; y = silu?(depthwise conv of
    # padded + bias); present_state = the last k - 1 steps of padded
    x, w, bias, past = node.inputs[0], node.inputs[1], arg(node, 2), arg(node, 3)
    channels, k = require_static(b, w, "CausalConvWithState", "weight", only=[0, 2])[::2]
    length = require_static(b, x, "CausalConvWithState", only=[2])[2]
    head = past if past is not None else \
        b.Slice(b.zeros_like(x), ints(b, [0]), ints(b, [k - 1]), ints(b, [2]))
    padded = b.Concat(head, x, axis=2)
    g = g_y
    if node.attr("activation", "none") != "none":   # silu: s + y * s * (1 - s)
        pre = b.Conv(padded, w, group=channels)
        if bias is not None:
            pre = b.Add(pre, b.Reshape(bias, ints(b, [-1, 1])))
        s = b.Sigmoid(pre)
        g = b.Mul(g, b.Add(s, b.Mul(pre, b.Mul(s, b.Sub(b.const(1.0, like=s), s)))))
    g_padded = b.ConvTranspose(g, w, group=channels)
    if g_state is not None:   # the state is padded's tail
        tail = b.Pad(g_state, ints(b, [0, 0, length, 0, 0, 0]))
        g_padded = b.Add(g_padded, tail)
    win = Window([k], [1], [1], [0], [0])
    gw = weight_grad(b, padded, [length + k - 1], g, [length], (channels, 1, k), win, channels)
    end = ints(b, [length + k - 1])
    return [b.Slice(g_padded, ints(b, [k - 1]), end, ints(b, [2])), gw,
            None if bias is None else b.ReduceSum(g, ints(b, [0, 2]), keepdims=0),
            None if past is None else b.Slice(g_padded, ints(b, [0]), ints(b, [k - 1]),
                                              ints(b, [2]))]
