"""VJP rules of elementwise arithmetic: the binary and variadic ops, casts, Where and Clip.

Binary and variadic ops broadcast (multidirectionally), so each input's cotangent is summed back
to that input's shape with ``b.unbroadcast``.
"""

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    as_float,
    cast_like,
    is_float,
    onnx_type,
    scalar,
)


@vjp("Add", uses_inputs=())
def _(b, node, g):
    x, y = node.inputs
    return [b.unbroadcast(g, x), b.unbroadcast(g, y)]


@vjp("Sub", uses_inputs=())
def _(b, node, g):
    x, y = node.inputs
    return [b.unbroadcast(g, x), b.unbroadcast(b.Neg(g), y)]


@vjp("Mul")
def _(b, node, g):
    x, y = node.inputs
    return [b.unbroadcast(b.Mul(g, y), x), b.unbroadcast(b.Mul(g, x), y)]


@vjp("Div", uses_outputs=(0,))
def _(b, node, g):
    x, y = node.inputs
    gx = b.Div(g, y)
    # d(x/y)/dy = -(x/y)/y: reuses the output instead of squaring y
    gy = b.Neg(b.Mul(gx, node.outputs[0]))
    return [b.unbroadcast(gx, x), b.unbroadcast(gy, y)]


@vjp("Neg", uses_inputs=())
def _(b, node, g):
    return [b.Neg(g)]


@vjp("Identity", uses_inputs=())
def _(b, node, g):
    return [g]


@vjp("Pow", uses_outputs=(0,))
def _(b, node, g):
    x, p = node.inputs
    y = node.outputs[0]
    px = cast_like(b, p, x)
    zero, one = scalar(b, 0.0, x), scalar(b, 1.0, x)
    # p * x^(p-1), taken as 0 where p == 0: x^0 is constant even at x == 0, where the
    # formula would give 0 * inf
    dx = b.Where(b.Equal(px, zero), zero, b.Mul(px, b.Pow(x, b.Sub(px, one))))
    grads = [b.unbroadcast(b.Mul(g, dx), x), None]
    if is_float(b, p):
        # d(x^p)/dp = x^p * log(x), taken as 0 where x == 0 (torch does the same)
        safe = b.Where(b.Equal(x, zero), one, x)
        gp = b.Mul(g, b.Mul(y, b.Log(safe)))
        grads[1] = b.unbroadcast(cast_like(b, gp, p), p)
    return grads


@vjp("Abs")
def _(b, node, g):
    return [b.Mul(g, b.Sign(node.inputs[0]))]


@vjp("Mod", uses_outputs=(0,))
def _(b, node, g):
    x, y = node.inputs
    # x = q * y + mod(x, y) with q piecewise constant (trunc or floor of x / y), so
    # d/dx = 1 and d/dy = -q, where q = (x - out) / y whichever rounding fmod picks.
    q = b.Div(b.Sub(x, node.outputs[0]), y)
    return [b.unbroadcast(g, x), b.unbroadcast(b.Neg(b.Mul(g, q)), y)]


def _extremum(b, node, g):
    """Max / Min: the cotangent goes to the inputs equal to the result, split evenly on ties
    (as torch.maximum does for two)."""
    y = node.outputs[0]
    masks = [as_float(b, b.Equal(x, y), y) for x in node.inputs]
    if len(masks) == 1:
        return [b.Mul(g, masks[0])]
    count = masks[0]
    for m in masks[1:]:
        count = b.Add(count, m)
    share = b.Div(g, count)
    return [b.unbroadcast(b.Mul(share, m), x) for m, x in zip(masks, node.inputs)]


vjp("Max", uses_outputs=(0,))(_extremum)
vjp("Min", uses_outputs=(0,))(_extremum)


@vjp("Sum", uses_inputs=())
def _(b, node, g):
    return [b.unbroadcast(g, x) for x in node.inputs]


@vjp("Mean", uses_inputs=())
def _(b, node, g):
    share = b.Div(g, scalar(b, float(len(node.inputs)), g))
    return [b.unbroadcast(share, x) for x in node.inputs]


@vjp("Cast", uses_inputs=())
def _(b, node, g):
    x = node.inputs[0]
    return [b.Cast(g, to=onnx_type(b, x)) if is_float(b, x) else None]


@vjp("CastLike", uses_inputs=())
def _(b, node, g):
    x = node.inputs[0]
    return [b.Cast(g, to=onnx_type(b, x)) if is_float(b, x) else None, None]


@vjp("Where", uses_inputs=(0,))
def _(b, node, g):
    cond, x, y = node.inputs
    zero = b.zeros_like(g)
    return [None, b.unbroadcast(b.Where(cond, g, zero), x),
            b.unbroadcast(b.Where(cond, zero, g), y)]


@vjp("Clip")
def _(b, node, g):
    x, lo, hi = node.inputs[0], arg(node, 1), arg(node, 2)
    if node.attr("min") is not None or node.attr("max") is not None:   # opsets 1-10
        lo, hi = (None if node.attr(k) is None else scalar(b, node.attr(k), x)
                  for k in ("min", "max"))
    zero = b.zeros_like(g)
    # Clip = Min(Max(x, lo), hi): hi wins where x > hi or lo > hi (the spec's "min > max gives
    # max"); lo wins where x < lo otherwise; ties go to x, as torch.clamp does.
    takes_hi = None if hi is None else b.Greater(x, hi)
    if hi is not None and lo is not None:
        takes_hi = b.Or(takes_hi, b.Greater(lo, hi))
    takes_lo = None if lo is None else b.Less(x, lo)
    if takes_lo is not None and takes_hi is not None:
        takes_lo = b.And(takes_lo, b.Not(takes_hi))
    gx = g
    for mask in (takes_hi, takes_lo):
        if mask is not None:
            gx = b.Where(mask, zero, gx)
    grads = [gx, None, None]
    if lo is not None and is_float(b, lo):
        grads[1] = b.unbroadcast(b.Where(takes_lo, g, zero), lo)
    if hi is not None and is_float(b, hi):
        grads[2] = b.unbroadcast(b.Where(takes_hi, g, zero), hi)
    return grads


def _piecewise_constant(b, node, g):
    """Rounding and Sign are flat almost everywhere: a zero cotangent (torch's choice)."""
    return [b.zeros_like(g)]


for _op in ("Sign", "Ceil", "Floor", "Round"):
    vjp(_op, uses_inputs=())(_piecewise_constant)
