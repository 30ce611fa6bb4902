"""VJP rules of pooling: MaxPool, AveragePool, LpPool, their Global forms, and MaxUnpool.

MaxPool sends each cotangent to the element its ``Indices`` output names. AveragePool and
LpPool are written as a window sum ``S`` (a depthwise Conv with a ones kernel) so that their
cotangents use the adjoint ``S^T`` (a ConvTranspose); AveragePool's divisor is read off the op
itself run on ones, so every count_include_pad / ceil_mode rule is the kernel's own.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    as_float,
    element_ratio,
    expand_like,
    ints,
    rank,
    require_static,
    reshape_like,
    scalar,
    scatter_flat,
)
from onyx.frontend.autograd.vjp_rules._windows import (
    window_of,
    window_sum,
    window_sum_transpose,
)

_WINDOW_ATTRS = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides")


def _attrs(node, names=_WINDOW_ATTRS) -> dict:
    return {k: node.attr(k) for k in names if node.attr(k) is not None}


@vjp("MaxPool", uses_inputs=(0,))
def _(b, node, g, g_indices=None):
    x = node.inputs[0]
    if len(node.outputs) > 1 and node.attr("storage_order", 0) == 0:
        indices = node.outputs[1]
    else:  # recompute them, in row-major order
        indices = b.MaxPool(x, _outputs=2, **_attrs(node))[1]
    return [scatter_flat(b, x, indices, g)]


class _Folded:
    """A pooling input (N, C, *spatial) viewed as (N*C, 1, *spatial) for the ones-kernel Conv."""

    def __init__(self, b, node, x, g):
        r = rank(b, x)
        shape = require_static(b, x, node.op_type, only=range(2, r))
        out = require_static(b, node.outputs[0], node.op_type, "output", only=range(2, r))
        self.spatial, self.out = list(shape[2:]), list(out[2:])
        self.win = window_of(node, self.spatial, list(node.attr("kernel_shape")))
        self.b, self.x = b, x

    def fold(self, v, spatial):
        return self.b.Reshape(v, ints(self.b, [-1, 1, *spatial]))

    def window_sum(self, v):
        return window_sum(self.b, self.fold(v, self.spatial), self.win, self.spatial, self.out)

    def scatter_back(self, h):
        """S^T(h): each window's value spread back over its elements, in x's shape."""
        y = window_sum_transpose(self.b, self.fold(h, self.out), self.win, self.spatial,
                                 self.out)
        return reshape_like(self.b, y, self.x)


@vjp("AveragePool", uses_inputs=())
def _(b, node, g):
    x = node.inputs[0]
    f = _Folded(b, node, x, g)
    # y = S(x) * w with w = AveragePool(1) / S(1): the weight each window gives its elements
    ones = b.const(np.ones([1, 1, *f.spatial]), like=x)
    attrs = _attrs(node, _WINDOW_ATTRS + ("count_include_pad",))
    counted = window_sum(b, ones, f.win, f.spatial, f.out)
    zero = scalar(b, 0.0, x)
    empty = b.Equal(counted, zero)
    weight = b.Where(empty, zero, b.Div(b.AveragePool(ones, **attrs),
                                        b.Where(empty, scalar(b, 1.0, x), counted)))
    return [f.scatter_back(b.Mul(g, weight))]


def _lp_back(b, x, y, g, p: int, spread):
    """Cotangent of y = (S |x|^p)^(1/p): S^T(g * y^(1-p)) * |x|^(p-1) * sign(x)."""
    zero = scalar(b, 0.0, y)
    is_zero = b.Equal(y, zero)
    safe = b.Where(is_zero, scalar(b, 1.0, y), y)
    h = b.Where(is_zero, zero, b.Mul(g, b.Pow(safe, scalar(b, float(1 - p), y))))
    if p == 1:
        return b.Mul(spread(h), b.Sign(x))
    if p == 2:
        return b.Mul(spread(h), x)
    return b.Mul(spread(h), b.Mul(b.Pow(b.Abs(x), scalar(b, float(p - 1), x)), b.Sign(x)))


@vjp("LpPool", uses_outputs=(0,))
def _(b, node, g):
    x = node.inputs[0]
    f = _Folded(b, node, x, g)
    return [_lp_back(b, x, node.outputs[0], g, node.attr("p", 2), f.scatter_back)]


@vjp("GlobalLpPool", uses_outputs=(0,))
def _(b, node, g):
    x = node.inputs[0]
    return [_lp_back(b, x, node.outputs[0], g, node.attr("p", 2),
                     lambda h: expand_like(b, h, x))]


@vjp("GlobalAveragePool", uses_inputs=())
def _(b, node, g):
    x = node.inputs[0]
    return [b.Div(expand_like(b, g, x), element_ratio(b, x, node.outputs[0], g))]


@vjp("GlobalMaxPool", uses_outputs=(0,))
def _(b, node, g):
    x = node.inputs[0]
    # split evenly among the elements equal to the maximum, like ReduceMax
    mask = as_float(b, b.Equal(x, expand_like(b, node.outputs[0], x)), x)
    count = b.ReduceSum(mask, ints(b, list(range(2, rank(b, x)))), keepdims=1)
    return [b.Mul(mask, b.Div(g, count))]


@vjp("MaxUnpool", uses_inputs=(1,))
def _(b, node, g):
    indices = node.inputs[1]
    # Y[indices] = X with flat indices over the whole output: X's cotangent reads them back
    flat = b.Reshape(g, ints(b, [-1]))
    return [b.Gather(flat, indices, axis=0), None, None]
