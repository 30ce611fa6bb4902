"""VJP rule of DFT.

DFT is linear over the complex numbers (stored as a trailing axis of 2, or 1 for real input),
so its cotangent is the adjoint transform: the unnormalized forward DFT F has adjoint
``n * IDFT``, the inverse ``IDFT = F^H / n`` has adjoint ``F / n``. Zero padding or truncation
to ``dft_length`` and one-sided outputs become truncation, padding and weighting of ``g``.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    const_ints,
    ints,
    normalize_axis,
    rank,
    require_static,
    scalar,
)


def _fit(b, v, axis: int, have: int, want: int):
    """v cut or zero-padded along ``axis`` from ``have`` to ``want`` entries."""
    if want < have:
        return b.Slice(v, ints(b, [0]), ints(b, [want]), ints(b, [axis]))
    if want > have:
        pads = [0] * (2 * rank(b, v))
        pads[rank(b, v) + axis] = want - have
        return b.Pad(v, ints(b, pads))
    return v


@vjp("DFT", uses_inputs=(1, 2))
def _(b, node, g):
    x = node.inputs[0]
    shape = tuple(b.shape(x))
    r = len(shape)
    # opset 20 made axis an input (default -2); opsets 17-19 had an attribute (default 1)
    axis_in = const_ints(b, arg(node, 2), "DFT", "axis")
    axis = axis_in[0] if axis_in else node.attr("axis", -2)
    axis = normalize_axis(axis, r)
    length = const_ints(b, arg(node, 1), "DFT", "dft_length")
    inverse, onesided = node.attr("inverse", 0), node.attr("onesided", 0)
    require_static(b, x, "DFT", only=[axis, -1])
    dim, real = shape[axis], shape[-1] == 1
    bins = require_static(b, node.outputs[0], "DFT", "output", only=[axis])[axis]
    if onesided and inverse:
        # x (bins of a Hermitian spectrum) -> real signal of n samples: the adjoint is the
        # one-sided forward DFT of g, each bin counted as often as irfft counts it, over n
        n = length[0] if length else 2 * (dim - 1)
        gy = b.DFT(g, ints(b, [n]), ints(b, [axis]), onesided=1)
        weights = np.full(n // 2 + 1, 2.0 / n)
        weights[0] = 1.0 / n
        if n % 2 == 0:
            weights[-1] = 1.0 / n
        shape_w = [1] * r
        shape_w[axis] = n // 2 + 1
        gy = b.Mul(gy, b.const(weights.reshape(shape_w), like=g))
        return [_fit(b, gy, axis, n // 2 + 1, dim), None, None]
    n = length[0] if length else dim
    if onesided:  # the missing bins have no cotangent
        g = _fit(b, g, axis, bins, n)
    if inverse:
        gz = b.Div(b.DFT(g, None, ints(b, [axis])), scalar(b, float(n), g))
    else:
        gz = b.Mul(b.DFT(g, None, ints(b, [axis]), inverse=1), scalar(b, float(n), g))
    gz = _fit(b, gz, axis, n, dim)
    if real:
        gz = b.Slice(gz, ints(b, [0]), ints(b, [1]), ints(b, [-1]))
    return [gz, None, None]
