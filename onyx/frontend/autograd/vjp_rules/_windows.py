"""Sliding-window geometry shared by the Conv, ConvTranspose and pooling rules.

A window op is described by kernel, strides, dilations and explicit begin/end pads over the
spatial axes. ``auto_pad`` is resolved to explicit pads here (the rules need static spatial
sizes for that), so every backward op can be emitted with plain ``pads``. Sizes are passed in
by the rules, read from the forward node's values: a graph builder may not know the static
shape of a cotangent or of an intermediate it emitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from onyx.frontend.autograd.vjp_rules._shapes import ints


@dataclass
class Window:
    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    begin: list[int]
    end: list[int]

    @property
    def pads(self) -> list[int]:
        return list(self.begin) + list(self.end)

    def span(self, i: int) -> int:
        """The extent of the dilated kernel along spatial axis ``i``."""
        return (self.kernel[i] - 1) * self.dilations[i] + 1


def window_of(node, spatial: list[int], kernel: list[int]) -> Window:
    """The explicit geometry of a Conv / pool ``node`` over inputs of ``spatial`` size."""
    r = len(spatial)
    strides = list(node.attr("strides") or [1] * r)
    dilations = list(node.attr("dilations") or [1] * r)
    win = Window(list(kernel), strides, dilations, [0] * r, [0] * r)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for i, n in enumerate(spatial):
            out = math.ceil(n / strides[i])
            total = max((out - 1) * strides[i] + win.span(i) - n, 0)
            small = total // 2
            win.begin[i] = small if auto_pad == "SAME_UPPER" else total - small
            win.end[i] = total - win.begin[i]
    elif auto_pad != "VALID":
        pads = node.attr("pads") or [0] * (2 * r)
        win.begin, win.end = list(pads[:r]), list(pads[r:])
    return win


def fit_output(win: Window, spatial: list[int], out: list[int]) -> Window:
    """``win`` with end pads grown so a plain sliding window yields ``out`` positions (the extra
    windows of ``ceil_mode`` read past the pads)."""
    end = list(win.end)
    for i, n in enumerate(spatial):
        need = (out[i] - 1) * win.strides[i] + win.span(i) - (n + win.begin[i] + end[i])
        end[i] += max(need, 0)
    return Window(win.kernel, win.strides, win.dilations, win.begin, end)


def transpose_padding(win: Window, spatial: list[int], out: list[int]) -> list[int]:
    """ConvTranspose ``output_padding`` that brings an ``out``-sized input back to ``spatial``."""
    return [n - ((out[i] - 1) * win.strides[i] + win.span(i) - win.begin[i] - win.end[i])
            for i, n in enumerate(spatial)]


def window_sum(b, v, win: Window, spatial: list[int], out: list[int]):
    """Sum of ``v`` (shape (B, 1, *spatial)) over each window, ``out`` windows per axis."""
    win = fit_output(win, spatial, out)
    ones = b.const(np.ones([1, 1, *win.kernel]), like=v)
    return b.Conv(v, ones, strides=win.strides, dilations=win.dilations, pads=win.pads)


def window_sum_transpose(b, h, win: Window, spatial: list[int], out: list[int]):
    """The adjoint of ``window_sum``: each window's value added back over its elements."""
    win = fit_output(win, spatial, out)
    ones = b.const(np.ones([1, 1, *win.kernel]), like=h)
    extra = [max(p, 0) for p in transpose_padding(win, spatial, out)]
    y = b.ConvTranspose(h, ones, strides=win.strides, dilations=win.dilations, pads=win.pads,
                        output_padding=extra)
    have = [(o - 1) * win.strides[i] + win.span(i) - win.begin[i] - win.end[i] + extra[i]
            for i, o in enumerate(out)]
    return crop_to(b, y, have, spatial)


def conv_output_size(win: Window, spatial: list[int]) -> list[int]:
    """Spatial output size of a plain (floor-mode) sliding window over ``spatial``."""
    return [(n + win.begin[i] + win.end[i] - win.span(i)) // win.strides[i] + 1
            for i, n in enumerate(spatial)]


def crop_to(b, y, have: list[int], spatial: list[int]):
    """``y`` (spatial size ``have``) cut to ``spatial`` (a no-op when it already fits)."""
    if list(have) == list(spatial):
        return y
    axes = list(range(2, 2 + len(spatial)))
    return b.Slice(y, ints(b, [0] * len(spatial)), ints(b, spatial), ints(b, axes))


def weight_grad(b, inp, spatial: list[int], gout, out: list[int], w_shape, win: Window,
                group: int):
    """d<gout, Conv(inp, W)>/dW for a Conv of ``win`` geometry and ``group`` groups.

    The input (N, C, ...) becomes C/G batches of G*N channels and the cotangent (N, M, ...)
    the M kernels of N channels each; a grouped Conv of the two, with strides and dilations
    swapped, correlates them into (C/G, M, k...).
    """
    m, cg = w_shape[0], w_shape[1]
    r = len(spatial)
    if group == 1:
        x = b.Transpose(inp, perm=[1, 0, *range(2, 2 + r)])
        g = b.Transpose(gout, perm=[1, 0, *range(2, 2 + r)])
    else:  # 0 keeps the batch dim, whatever it is
        tail = list(range(3, 3 + r))
        x = b.Reshape(inp, ints(b, [0, group, cg, *spatial]))
        x = b.Reshape(b.Transpose(x, perm=[2, 1, 0, *tail]), ints(b, [cg, -1, *spatial]))
        g = b.Reshape(gout, ints(b, [0, group, m // group, *out]))
        g = b.Reshape(b.Transpose(g, perm=[1, 2, 0, *tail]), ints(b, [m, -1, *out]))
    w = b.Conv(x, g, strides=win.dilations, dilations=win.strides, pads=win.pads, group=group)
    swapped = Window(list(out), win.dilations, win.strides, win.begin, win.end)
    w = crop_to(b, w, conv_output_size(swapped, spatial), win.kernel)
    return b.Transpose(w, perm=[1, 0, *range(2, 2 + r)])
