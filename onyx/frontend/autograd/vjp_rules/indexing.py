"""VJP rules of indexing ops: gathers, scatters (Scatter, ScatterElements, ScatterND,
TensorScatter), Slice, Pad, Compress, ReverseSequence, OneHot, Unique.

A gather's cotangent is a scatter-add of ``g`` (repeated indices sum), a scatter's is a gather.
Slice, Pad and Compress are handled by running the op itself on the input's flat positions
(``flat_iota``): that yields, for each output element, where it came from, with every clamping,
negative-step, reflect and wrap rule of the op applied by its own kernel.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    as_float,
    const_ints,
    flat_iota,
    ints,
    normalize_axis,
    rank,
    require_static,
    reshape_like,
    scatter_flat,
    shape_of,
    static_shape,
)

_INT64 = 7


def _int64(b, idx):
    return idx if b.dtype(idx) == np.int64 else b.Cast(idx, to=_INT64)


def _wrap_negative(b, idx, dims):
    """Indices with negatives counted from the end (``dims`` broadcasts against ``idx``)."""
    return b.Where(b.Less(idx, b.const(0, dtype=np.int64)), b.Add(idx, dims), idx)


def _dim(b, x, axis: int):
    d = b.shape(x)[axis]
    if isinstance(d, int | np.integer):
        return b.const(int(d), dtype=np.int64)
    return b.Gather(b.Shape(x), b.const(axis, dtype=np.int64), axis=0)


@vjp("Gather", uses_inputs=(1,))
def _(b, node, g):
    x, idx = node.inputs
    r, q = rank(b, x), rank(b, idx)
    a = normalize_axis(node.attr("axis", 0), r)
    idx = b.Unsqueeze(_wrap_negative(b, _int64(b, idx), _dim(b, x, a)), ints(b, [-1]))
    if a == 0:
        return [b.ScatterND(b.zeros_like(x), idx, g, reduction="add"), None]
    # Move the gathered axis to the front so ScatterND can index it.
    to_front = [a] + list(range(a)) + list(range(a + 1, r))
    g_front = list(range(a, a + q)) + list(range(a)) + list(range(a + q, q + r - 1))
    zeros = b.Transpose(b.zeros_like(x), perm=to_front)
    out = b.ScatterND(zeros, idx, b.Transpose(g, perm=g_front), reduction="add")
    return [b.Transpose(out, perm=[int(i) for i in np.argsort(to_front)]), None]


@vjp("GatherElements", uses_inputs=(1,))
def _(b, node, g):
    x, idx = node.inputs
    return [b.ScatterElements(b.zeros_like(x), idx, g, axis=node.attr("axis", 0),
                              reduction="add"), None]


@vjp("GatherND", uses_inputs=(1,))
def _(b, node, g):
    x, idx = node.inputs
    bd = node.attr("batch_dims", 0)
    k = require_static(b, idx, "GatherND", "indices")[-1]
    if bd == 0:
        dims = b.Slice(shape_of(b, x), ints(b, [0]), ints(b, [k]))
        idx = _wrap_negative(b, _int64(b, idx), dims)
        return [b.ScatterND(b.zeros_like(x), idx, g, reduction="add"), None]
    # Fold the batch dims into one and prepend its coordinate to every index tuple.
    xs = require_static(b, x, "GatherND")
    ishape = require_static(b, idx, "GatherND", "indices")
    nb, nq = int(np.prod(xs[:bd])), int(np.prod(ishape[bd:-1]))
    idx = _wrap_negative(b, _int64(b, idx), ints(b, xs[bd:bd + k]))
    idx = b.Reshape(idx, ints(b, [nb, nq, k]))
    batch = b.const(np.broadcast_to(np.arange(nb).reshape(nb, 1, 1), (nb, nq, 1)),
                    dtype=np.int64)
    idx = b.Concat(batch, idx, axis=-1)
    g = b.Reshape(g, ints(b, [nb, nq, *xs[bd + k:]]))
    zeros = b.Reshape(b.zeros_like(x), ints(b, [nb, *xs[bd:]]))
    out = b.ScatterND(zeros, idx, g, reduction="add")
    return [b.Reshape(out, ints(b, xs)), None]


def _scatter_rule(gather, scatter, b, node, g, **attrs):
    """Scatter(data, indices, updates): what each reduction did to data and updates."""
    data, idx, upd = node.inputs
    reduction = node.attr("reduction", "none")
    picked = gather(g, idx, **attrs)
    if reduction == "none":
        return [scatter(g, idx, b.zeros_like(upd), **attrs), None, picked]
    if reduction == "add":
        return [g, None, picked]
    y = node.outputs[0]
    if reduction == "mul":
        # y = data * (product of the updates landing there); divide out each update's own factor
        gdata = scatter(g, idx, upd, reduction="mul", **attrs)
        return [gdata, None, b.Div(gather(b.Mul(g, y), idx, **attrs), upd)]
    # max / min: split evenly among data and the updates equal to the result
    data_wins = as_float(b, b.Equal(data, y), y)
    upd_wins = as_float(b, b.Equal(upd, gather(y, idx, **attrs)), y)
    count = b.Add(data_wins, scatter(b.zeros_like(y), idx, upd_wins, reduction="add", **attrs))
    share = b.Div(g, count)
    return [b.Mul(share, data_wins), None, b.Mul(gather(share, idx, **attrs), upd_wins)]


@vjp("ScatterElements", uses_outputs=(0,))
def _(b, node, g):
    axis = node.attr("axis", 0)
    return _scatter_rule(b.GatherElements, b.ScatterElements, b, node, g, axis=axis)


@vjp("ScatterND", uses_outputs=(0,))
def _(b, node, g):
    return _scatter_rule(b.GatherND, b.ScatterND, b, node, g)


@vjp("Slice", uses_inputs=(1, 2, 3, 4))
def _(b, node, g):
    x = node.inputs[0]
    starts, ends, axes, steps = _slice_args(b, node)
    pads = _slice_as_pads(b, x, starts, ends, axes, steps)
    if pads is not None:
        return [b.Pad(g, ints(b, pads))] + [None] * 4
    positions = b.Slice(flat_iota(b, x), ints(b, starts), ints(b, ends), ints(b, axes),
                        ints(b, steps))
    return [scatter_flat(b, x, positions, g)] + [None] * 4


def _slice_args(b, node) -> tuple[list[int], ...]:
    """starts, ends, axes, steps: inputs since opset 10, attributes before."""
    if node.attr("starts") is not None:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes, steps = node.attr("axes"), None
    else:
        op = "Slice"
        starts = const_ints(b, node.inputs[1], op, "starts")
        ends = const_ints(b, node.inputs[2], op, "ends")
        axes = const_ints(b, arg(node, 3), op, "axes")
        steps = const_ints(b, arg(node, 4), op, "steps")
    return (starts, ends, list(axes or range(len(starts))), list(steps or [1] * len(starts)))


def _slice_as_pads(b, x, starts, ends, axes, steps) -> list[int] | None:
    """Pads that put ``g`` back where a unit-step Slice took it from (static shapes only)."""
    shape = static_shape(b, x)
    if shape is None or any(s != 1 for s in steps):
        return None
    before, after = [0] * len(shape), [0] * len(shape)
    for start, end, axis in zip(starts, ends, axes):
        a = normalize_axis(axis, len(shape))
        n = shape[a]
        start = min(max(start + n if start < 0 else start, 0), n)
        end = min(max(end + n if end < 0 else end, 0), n)
        count = max(end - start, 0)
        before[a], after[a] = start, n - start - count
    return before + after


@vjp("Pad", uses_inputs=(1, 3))
def _(b, node, g):
    x, cval = node.inputs[0], arg(node, 2)
    mode = node.attr("mode", "constant")
    # Pad the flat positions the same way; the constant fill -1 marks padding.
    pads = node.inputs[1] if node.attr("pads") is None else ints(b, node.attr("pads"))
    rest = [pads, b.const(-1, dtype=np.int64)]
    axes = arg(node, 3)
    if axes is not None:
        rest.append(axes)
    positions = b.Pad(flat_iota(b, x), *rest, mode=mode)
    grads = [scatter_flat(b, x, positions, g), None, None, None]
    if cval is not None and mode == "constant":
        is_pad = b.Less(positions, b.const(0, dtype=np.int64))
        grads[2] = b.unbroadcast(b.Where(is_pad, g, b.zeros_like(g)), cval)
    return grads


@vjp("Compress", uses_inputs=(1,))
def _(b, node, g):
    x, cond = node.inputs
    axis = node.attr("axis")
    attrs = {} if axis is None else {"axis": axis}
    positions = b.Compress(flat_iota(b, x), cond, **attrs)
    return [scatter_flat(b, x, positions, g), None]


@vjp("ReverseSequence", uses_inputs=(1,))
def _(b, node, g):
    # reversing each sequence's prefix is its own inverse
    return [b.ReverseSequence(g, node.inputs[1], batch_axis=node.attr("batch_axis", 1),
                              time_axis=node.attr("time_axis", 0)), None]


@vjp("OneHot", uses_inputs=(0, 1))
def _(b, node, g):
    indices, depth, values = node.inputs
    axis = node.attr("axis", -1)
    hot = b.OneHot(indices, depth, b.const([0, 1], like=values), axis=axis)
    on = b.ReduceSum(b.Mul(g, hot), keepdims=0)
    off = b.Sub(b.ReduceSum(g, keepdims=0), on)
    return [None, None, b.Concat(b.Reshape(off, ints(b, [1])), b.Reshape(on, ints(b, [1])),
                                 axis=0)]


@vjp("Scatter", uses_outputs=(0,))
def _(b, node, g):
    # opsets 9-10: ScatterElements without a reduction
    return _scatter_rule(b.GatherElements, b.ScatterElements, b, node, g,
                         axis=node.attr("axis", 0))


@vjp("TensorScatter", uses_inputs=(2,))
def _(b, node, g):
    past, update, where = node.inputs[0], node.inputs[1], arg(node, 2)
    attrs = {"axis": node.attr("axis", -2), "mode": node.attr("mode", "linear")}
    rest = [] if where is None else [where]
    # the past keeps the cotangent where no update was written
    gpast = b.TensorScatter(g, b.zeros_like(update), *rest, **attrs)
    # write the update's flat positions into a cache of -1s to see which slot each went to
    unwritten = b.Expand(b.const(-1, dtype=np.int64), shape_of(b, past))
    slots = b.TensorScatter(unwritten, flat_iota(b, update), *rest, **attrs)
    return [gpast, scatter_flat(b, update, slots, g), None]


@vjp("Unique")
def _(b, node, g_y, *_unused):
    # Y is X (flattened when axis is absent) gathered at the first occurrences, output 1
    x, axis = node.inputs[0], node.attr("axis")
    if len(node.outputs) > 1:
        first = node.outputs[1]
    else:
        attrs = {k: node.attr(k) for k in ("axis", "sorted") if node.attr(k) is not None}
        first = b.Unique(x, _outputs=2, **attrs)[1]
    if axis is None:
        flat = b.Reshape(b.zeros_like(x), ints(b, [-1]))
        gx = b.ScatterND(flat, b.Unsqueeze(first, ints(b, [-1])), g_y, reduction="add")
        return [reshape_like(b, gx, x)]
    a = normalize_axis(axis, rank(b, x))
    to_front = [a] + [i for i in range(rank(b, x)) if i != a]
    zeros = b.Transpose(b.zeros_like(x), perm=to_front)
    gx = b.ScatterND(zeros, b.Unsqueeze(first, ints(b, [-1])), b.Transpose(g_y, perm=to_front),
                     reduction="add")
    return [b.Transpose(gx, perm=[int(i) for i in np.argsort(to_front)])]
