"""VJP rules of DFT and STFT.

DFT is linear over the complex numbers (stored as a trailing axis of 2, or 1 for real input),
so its cotangent is the adjoint transform: the unnormalized forward DFT F has adjoint
``n * IDFT``, the inverse ``IDFT = F^H / n`` has adjoint ``F / n``. Zero padding or truncation
to ``dft_length`` and one-sided outputs become truncation, padding and weighting of ``g``.
STFT is gathered frames times a window, then a DFT: its cotangent is the DFT's adjoint,
scattered back over the (overlapping) frames.
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
    # opset 20 made axis an input (default -2); opsets 17-19 had an attribute (default 1)
    axis_in = const_ints(b, arg(node, 2), "DFT", "axis")
    axis = normalize_axis(axis_in[0] if axis_in else node.attr("axis", -2), len(shape))
    require_static(b, x, "DFT", only=[axis, -1])
    length = const_ints(b, arg(node, 1), "DFT", "dft_length")
    bins = require_static(b, node.outputs[0], "DFT", "output", only=[axis])[axis]
    spec = _Spectrum(axis, len(shape), shape[axis], shape[-1] == 1,
                     length[0] if length else None, node.attr("inverse", 0),
                     node.attr("onesided", 0), bins)
    return [dft_adjoint(b, g, spec), None, None]


class _Spectrum:
    """What a DFT did: along ``axis`` of a rank-``rank`` input holding ``dim`` samples."""

    def __init__(self, axis, rank, dim, real, length, inverse, onesided, bins):
        self.axis, self.rank, self.dim, self.real = axis, rank, dim, real
        self.length, self.inverse, self.onesided, self.bins = length, inverse, onesided, bins


def dft_adjoint(b, g, s: _Spectrum):
    """The cotangent of a DFT's input from that of its output."""
    axis = s.axis
    if s.onesided and s.inverse:
        # x (bins of a Hermitian spectrum) -> real signal of n samples: the adjoint is the
        # one-sided forward DFT of g, each bin counted as often as irfft counts it, over n
        n = s.length or 2 * (s.dim - 1)
        gy = b.DFT(g, ints(b, [n]), ints(b, [axis]), onesided=1)
        weights = np.full(n // 2 + 1, 2.0 / n)
        weights[0] = 1.0 / n
        if n % 2 == 0:
            weights[-1] = 1.0 / n
        shape_w = [1] * s.rank
        shape_w[axis] = n // 2 + 1
        gy = b.Mul(gy, b.const(weights.reshape(shape_w), like=g))
        return _fit(b, gy, axis, n // 2 + 1, s.dim)
    n = s.length or s.dim
    if s.onesided:  # the missing bins have no cotangent
        g = _fit(b, g, axis, s.bins, n)
    if s.inverse:
        gz = b.Div(b.DFT(g, None, ints(b, [axis])), scalar(b, float(n), g))
    else:
        gz = b.Mul(b.DFT(g, None, ints(b, [axis]), inverse=1), scalar(b, float(n), g))
    gz = _fit(b, gz, axis, n, s.dim)
    if s.real:
        gz = b.Slice(gz, ints(b, [0]), ints(b, [1]), ints(b, [-1]))
    return gz


@vjp("STFT", uses_inputs=(0, 1, 2, 3))
def _(b, node, g):
    # frames gathered from the signal, times the window, then a DFT along the frame axis
    signal, window = node.inputs[0], arg(node, 2)
    step = const_ints(b, node.inputs[1], "STFT", "frame_step")[0]
    _, length, parts = require_static(b, signal, "STFT", only=[1, 2])
    n = const_ints(b, arg(node, 3), "STFT", "frame_length")
    n = n[0] if n else (require_static(b, window, "STFT", "window")[0] if window is not None
                        else length)
    frames = (length - n) // step + 1
    onesided = node.attr("onesided", 1)
    spec = _Spectrum(2, 4, n, parts == 1, None, 0, onesided, n // 2 + 1 if onesided else n)
    g_windowed = dft_adjoint(b, g, spec)                 # [batch, frames, n, 1 or 2]
    index = b.const(np.arange(frames)[:, None] * step + np.arange(n)[None, :], dtype=np.int64)
    grads = [None, None, None, None]
    g_frames = g_windowed
    if window is not None:
        shaped = b.Reshape(window, ints(b, [1, 1, n, 1]))
        g_frames = b.Mul(g_windowed, shaped)
        framed = b.Gather(signal, index, axis=1)
        grads[2] = b.ReduceSum(b.Mul(g_windowed, framed), ints(b, [0, 1, 3]), keepdims=0)
    # the frames overlap: scatter-add them back along the signal's time axis
    to_front = b.Transpose(g_frames, perm=[1, 2, 0, 3])   # [frames, n, batch, parts]
    zeros = b.Transpose(b.zeros_like(signal), perm=[1, 0, 2])
    back = b.ScatterND(zeros, b.Unsqueeze(index, ints(b, [-1])), to_front, reduction="add")
    grads[0] = b.Transpose(back, perm=[1, 0, 2])
    return grads
