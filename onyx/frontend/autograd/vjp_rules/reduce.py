"""VJP rules of reductions (every Reduce*), CumSum, CumProd and TopK.

Axes come from the ``axes`` input (opset 13+ for ReduceSum, 18+ for the others) or, in older
graphs, the attribute; empty axes reduce everything unless ``noop_with_empty_axes`` makes the op
an identity. Each rule broadcasts the reduced cotangent back over the reduced axes.
"""

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    as_float,
    const_ints,
    element_ratio,
    ints,
    normalize_axis,
    rank,
    restore_reduced,
    scalar,
)


class _Reduction:
    """What a reduce node did: over which axes, and whether it kept them."""

    def __init__(self, b, node):
        self.b, self.x, self.y = b, node.inputs[0], node.outputs[0]
        r = rank(b, self.x)
        axes = const_ints(b, arg(node, 1), node.op_type, "axes")
        if axes is None:
            axes = node.attr("axes")
        if not axes:
            axes = [] if node.attr("noop_with_empty_axes", 0) else list(range(r))
        self.axes = sorted({normalize_axis(a, r) for a in axes})
        self.keepdims = bool(node.attr("keepdims", 1))

    def back(self, v):
        """``v``, shaped like the output, broadcast back to the input's shape."""
        return restore_reduced(self.b, v, self.x, self.axes, self.keepdims)

    def kept(self, v):
        """``v``, shaped like the output, with the reduced axes present as 1s."""
        if self.keepdims or not self.axes:
            return v
        return self.b.Unsqueeze(v, ints(self.b, self.axes))


@vjp("ReduceSum", uses_inputs=(1,))
def _(b, node, g):
    return [_Reduction(b, node).back(g), None]


@vjp("ReduceMean", uses_inputs=(1,))
def _(b, node, g):
    red = _Reduction(b, node)
    return [b.Div(red.back(g), element_ratio(b, red.x, red.y, g)), None]


@vjp("ReduceSumSquare")
def _(b, node, g):
    red = _Reduction(b, node)
    return [b.Mul(red.back(g), b.Mul(red.x, scalar(b, 2.0, red.x))), None]


@vjp("ReduceL1")
def _(b, node, g):
    red = _Reduction(b, node)
    return [b.Mul(red.back(g), b.Sign(red.x)), None]


@vjp("ReduceL2", uses_outputs=(0,))
def _(b, node, g):
    red = _Reduction(b, node)
    y, zero = red.y, scalar(b, 0.0, red.y)
    # x / ||x||, taken as 0 for an all-zero slice (torch's subgradient)
    is_zero = b.Equal(y, zero)
    scale = b.Where(is_zero, zero, b.Div(g, b.Where(is_zero, scalar(b, 1.0, y), y)))
    return [b.Mul(red.back(scale), red.x), None]


@vjp("ReduceLogSum", uses_inputs=(1,), uses_outputs=(0,))
def _(b, node, g):
    red = _Reduction(b, node)
    return [red.back(b.Div(g, b.Exp(red.y))), None]


@vjp("ReduceLogSumExp", uses_outputs=(0,))
def _(b, node, g):
    red = _Reduction(b, node)
    return [b.Mul(red.back(g), b.Exp(b.Sub(red.x, red.back(red.y)))), None]


def _extremum(b, node, g):
    """ReduceMax / ReduceMin: split evenly among the elements equal to the result (amax's rule)."""
    red = _Reduction(b, node)
    if not red.axes:
        return [g, None]
    mask = as_float(b, b.Equal(red.x, red.back(red.y)), red.x)
    count = b.ReduceSum(mask, ints(b, red.axes), keepdims=1)
    return [b.Mul(mask, b.Div(red.kept(g), count)), None]


vjp("ReduceMax", uses_outputs=(0,))(_extremum)
vjp("ReduceMin", uses_outputs=(0,))(_extremum)


@vjp("ReduceProd")
def _(b, node, g):
    red = _Reduction(b, node)
    x = red.x
    if not red.axes:
        return [g, None]
    zero, one = scalar(b, 0.0, x), scalar(b, 1.0, x)
    is_zero = b.Equal(x, zero)
    # The product of the others is prod / x where no zero is in the slice; with one zero it is
    # the product of the nonzeros at that zero and 0 elsewhere; with two or more it is all 0.
    axes = ints(b, red.axes)
    nonzero_prod = b.ReduceProd(b.Where(is_zero, one, x), axes, keepdims=1)
    zeros = b.ReduceSum(as_float(b, is_zero, x), axes, keepdims=1)
    no_zero, one_zero = b.Equal(zeros, zero), b.Equal(zeros, one)
    at_zero = b.Where(b.And(is_zero, one_zero), nonzero_prod, zero)
    others = b.Where(no_zero, b.Div(nonzero_prod, b.Where(is_zero, one, x)), at_zero)
    return [b.Mul(others, red.kept(g)), None]


@vjp("CumSum", uses_inputs=(1,))
def _(b, node, g):
    reverse = 0 if node.attr("reverse", 0) else 1
    return [b.CumSum(g, node.inputs[1], exclusive=node.attr("exclusive", 0), reverse=reverse),
            None]


@vjp("TopK", uses_inputs=(0,))
def _(b, node, g_values, g_indices=None):
    x = node.inputs[0]
    axis = node.attr("axis", -1)
    if len(node.outputs) > 1:
        indices = node.outputs[1]
    else:
        indices = b.TopK(x, node.inputs[1], axis=axis, largest=node.attr("largest", 1),
                         sorted=node.attr("sorted", 1), _outputs=2)[1]
    gx = b.ScatterElements(b.zeros_like(x), indices, g_values, axis=axis, reduction="add")
    return [gx, None]


@vjp("CumProd", uses_outputs=(0,))
def _(b, node, g):
    x, axis, y = node.inputs[0], node.inputs[1], node.outputs[0]
    exclusive, reverse = node.attr("exclusive", 0), node.attr("reverse", 0)

    def later(v):  # sum of v over the positions whose product includes this one
        return b.CumSum(v, axis, exclusive=exclusive, reverse=1 - reverse)

    zero, one = scalar(b, 0.0, x), scalar(b, 1.0, x)
    is_zero = b.Equal(x, zero)
    # Before the first zero the others' product is y / x; at the first zero it is the product
    # with that zero read as 1; after it every product holds that zero.
    zeros_so_far = b.CumSum(as_float(b, is_zero, x), axis, reverse=reverse)
    before = b.Equal(zeros_so_far, zero)
    first = b.And(is_zero, b.Equal(zeros_so_far, one))
    x_safe = b.Where(is_zero, one, x)
    x_first_as_one = b.Where(first, one, x)
    y_first_as_one = b.CumProd(x_first_as_one, axis, exclusive=exclusive, reverse=reverse)
    at_first = b.Where(first, later(b.Mul(g, y_first_as_one)), zero)
    return [b.Where(before, b.Div(later(b.Mul(g, y)), x_safe), at_first), None]
