"""VJP rule of DequantizeLinear: ``y = (x - zero_point) * scale``.

x and the zero point are integers (no cotangent); the scale gets ``g * (x - zero_point)``
summed over what each scale value covers: everything (per tensor), the other axes (per axis),
or its block along ``axis`` (blocked, ``block_size`` > 0).
"""

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    cast_like,
    ints,
    is_float,
    normalize_axis,
    rank,
    require_static,
    reshape_like,
    shape_of,
)


@vjp("DequantizeLinear")
def _(b, node, g):
    x, scale, zp = node.inputs[0], node.inputs[1], arg(node, 2)
    if not is_float(b, scale):
        return [None, None, None]
    attrs = {k: node.attr(k) for k in ("axis", "block_size", "output_dtype")
             if node.attr(k) is not None}
    # x - zero_point in the output type: the op itself with a scale of ones
    ones = b.Expand(b.const(1, like=scale), shape_of(b, scale))
    centred = b.DequantizeLinear(x, ones, *([] if zp is None else [zp]), **attrs)
    gv = b.Mul(g, centred)
    r, block = rank(b, x), node.attr("block_size", 0)
    axis = normalize_axis(node.attr("axis", 1), r)
    scale_shape = require_static(b, scale, "DequantizeLinear", "scale")
    if not block and len(scale_shape) <= 1 and (not scale_shape or scale_shape[0] == 1):
        gs = b.ReduceSum(gv, keepdims=0)
    elif not block:
        gs = b.ReduceSum(gv, ints(b, [a for a in range(r) if a != axis]), keepdims=0)
    else:
        gs = _block_sums(b, gv, x, axis, block, scale_shape[axis])
    return [None, cast_like(b, reshape_like(b, gs, scale), scale), None]


def _block_sums(b, v, x, axis: int, block: int, blocks: int):
    """v summed over each run of ``block`` entries along ``axis`` (the last run may be short)."""
    dims = list(require_static(b, x, "DequantizeLinear"))
    short = blocks * block - dims[axis]
    if short:
        pads = [0] * (2 * len(dims))
        pads[len(dims) + axis] = short
        v = b.Pad(v, ints(b, pads))
    split = dims[:axis] + [blocks, block] + dims[axis + 1:]
    return b.ReduceSum(b.Reshape(v, ints(b, split)), ints(b, [axis + 1]), keepdims=0)
