"""VJP rules of shape and layout ops: reshapes, transposes, Expand, Concat/Split, Tile,
DepthToSpace/SpaceToDepth, Trilu, CenterCropPad, and Range.

These ops only move elements, so each cotangent is the inverse move of ``g``: a reshape back
(``Shape`` of the input where dims are symbolic), the inverse permutation, or a sum over copies.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    const_ints,
    flat_iota,
    ints,
    normalize_axis,
    onnx_type,
    rank,
    require_static,
    reshape_like,
    shape_of,
)


def _reshape_back(b, node, g):
    grads = [reshape_like(b, g, node.inputs[0])]
    return grads + [None] * (len(node.inputs) - 1)


for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
    vjp(_op, uses_inputs=())(_reshape_back)


@vjp("Transpose", uses_inputs=())
def _(b, node, g):
    perm = node.attr("perm")
    if perm is None:
        perm = list(range(rank(b, g)))[::-1]
    return [b.Transpose(g, perm=[int(i) for i in np.argsort(perm)])]


@vjp("Expand", uses_inputs=())
def _(b, node, g):
    return [b.unbroadcast(g, node.inputs[0]), None]


@vjp("Concat", uses_inputs=())
def _(b, node, g):
    axis = normalize_axis(node.attr("axis"), rank(b, g))
    sizes = [b.shape(x)[axis] for x in node.inputs]
    if all(isinstance(s, int | np.integer) for s in sizes):
        split = ints(b, sizes)
    else:
        split = b.Concat(*[b.Gather(b.Shape(x), ints(b, [axis]), axis=0) for x in node.inputs],
                         axis=0)
    if len(sizes) == 1:
        return [g]
    return list(b.Split(g, split, axis=axis, _outputs=len(sizes)))


@vjp("Split", uses_inputs=())
def _(b, node, *gs):
    # the engine gives zeros for the outputs no gradient reached
    axis = node.attr("axis", 0)
    return [b.Concat(*gs, axis=axis) if len(gs) > 1 else gs[0], None]


@vjp("Tile", uses_inputs=(1,))
def _(b, node, g):
    x = node.inputs[0]
    repeats = const_ints(b, node.inputs[1], "Tile", "repeats")
    if all(r == 1 for r in repeats):
        return [g, None]
    # y[k * d + j] = x[j] along each axis: view g as (r0, d0, r1, d1, ...), sum the r axes
    dims = shape_of(b, x)
    parts = []
    for i, r in enumerate(repeats):
        parts += [ints(b, [r]), b.Slice(dims, ints(b, [i]), ints(b, [i + 1]))]
    g = b.Reshape(g, b.Concat(*parts, axis=0))
    g = b.ReduceSum(g, ints(b, list(range(0, 2 * len(repeats), 2))), keepdims=0)
    return [reshape_like(b, g, x), None]


@vjp("SpaceToDepth", uses_inputs=())
def _(b, node, g):
    # a permutation, so the inverse permutation: DepthToSpace in DCR order undoes it
    return [b.DepthToSpace(g, blocksize=node.attr("blocksize"), mode="DCR")]


@vjp("DepthToSpace", uses_inputs=())
def _(b, node, g):
    x = node.inputs[0]
    bs = node.attr("blocksize")
    if node.attr("mode", "DCR") == "DCR":
        return [b.SpaceToDepth(g, blocksize=bs)]
    # CRD: x (N, C, H, W) -> (N, C', bs, bs, H, W) -> perm (0, 1, 4, 2, 5, 3) -> (N, C', Hb, Wb)
    n, c, h, w = require_static(b, x, "DepthToSpace")
    g = b.Reshape(g, ints(b, [n, c // (bs * bs), h, bs, w, bs]))
    g = b.Transpose(g, perm=[0, 1, 3, 5, 2, 4])
    return [b.Reshape(g, ints(b, [n, c, h, w]))]


@vjp("Trilu", uses_inputs=())
def _(b, node, g):
    k, upper = arg(node, 1), node.attr("upper", 1)
    return [b.Trilu(g, upper=upper) if k is None else b.Trilu(g, k, upper=upper), None]


@vjp("CenterCropPad", uses_inputs=())
def _(b, node, g):
    # Cropping the centre and padding around it are adjoint: the same offset (in - out) // 2
    # places the window in both directions.
    x = node.inputs[0]
    r = rank(b, x)
    axes = node.attr("axes")
    axes = list(range(r)) if axes is None else [normalize_axis(a, r) for a in axes]
    shape = b.Gather(shape_of(b, x), ints(b, axes), axis=0)
    return [b.CenterCropPad(g, shape, axes=axes), None]


@vjp("Range", uses_inputs=())
def _(b, node, g):
    # out[i] = start + i * delta; the limit only sets how many there are
    steps = b.Cast(flat_iota(b, g), to=onnx_type(b, g))
    return [b.ReduceSum(g, keepdims=0), None, b.ReduceSum(b.Mul(g, steps), keepdims=0)]
