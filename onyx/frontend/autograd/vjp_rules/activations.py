"""VJP rules of activation functions (SwiGLU too), Softmax, LogSoftmax and Hardmax.

At a kink (x == 0 for Relu, the threshold of ThresholdedRelu, ...) the rules pick the side
torch picks, so gradients agree with it exactly.
"""

import math

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import ints, scalar


def _select(b, cond, a, other):
    return b.Where(cond, a, other)


@vjp("Sigmoid", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    return [b.Mul(g, b.Mul(y, b.Sub(scalar(b, 1.0, y), y)))]


@vjp("HardSigmoid")
def _(b, node, g):
    x = node.inputs[0]
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    v = b.Add(b.Mul(x, scalar(b, alpha, x)), scalar(b, beta, x))
    inside = b.And(b.Greater(v, scalar(b, 0.0, x)), b.Less(v, scalar(b, 1.0, x)))
    return [_select(b, inside, b.Mul(g, scalar(b, alpha, x)), b.zeros_like(g))]


@vjp("HardSwish")
def _(b, node, g):
    x = node.inputs[0]
    # x * clip(x / 6 + 1/2, 0, 1): slope x / 3 + 1/2 on [-3, 3], 0 below, 1 above
    ramp = b.Add(b.Div(x, scalar(b, 3.0, x)), scalar(b, 0.5, x))
    slope = _select(b, b.LessOrEqual(x, scalar(b, 3.0, x)), ramp, scalar(b, 1.0, x))
    slope = _select(b, b.Less(x, scalar(b, -3.0, x)), scalar(b, 0.0, x), slope)
    return [b.Mul(g, slope)]


@vjp("Relu")
def _(b, node, g):
    x = node.inputs[0]
    return [_select(b, b.Greater(x, scalar(b, 0, x)), g, b.zeros_like(g))]


@vjp("LeakyRelu")
def _(b, node, g):
    x = node.inputs[0]
    alpha = node.attr("alpha", 0.01)
    return [_select(b, b.Greater(x, scalar(b, 0, x)), g, b.Mul(g, scalar(b, alpha, x)))]


@vjp("PRelu")
def _(b, node, g):
    x, slope = node.inputs
    positive = b.Greater(x, scalar(b, 0, x))
    zero = b.zeros_like(g)
    gx = _select(b, positive, g, b.Mul(g, slope))
    gslope = _select(b, positive, zero, b.Mul(g, x))
    return [b.unbroadcast(gx, x), b.unbroadcast(gslope, slope)]


@vjp("ThresholdedRelu")
def _(b, node, g):
    x = node.inputs[0]
    above = b.Greater(x, scalar(b, node.attr("alpha", 1.0), x))
    return [_select(b, above, g, b.zeros_like(g))]


@vjp("Elu")
def _(b, node, g):
    x = node.inputs[0]
    alpha = scalar(b, node.attr("alpha", 1.0), x)
    neg = b.Mul(g, b.Mul(alpha, b.Exp(x)))
    return [_select(b, b.Greater(x, scalar(b, 0, x)), g, neg)]


@vjp("Selu")
def _(b, node, g):
    x = node.inputs[0]
    alpha = node.attr("alpha", 1.67326319217681884765625)
    gamma = node.attr("gamma", 1.05070102214813232421875)
    neg = b.Mul(b.Exp(x), scalar(b, alpha * gamma, x))
    slope = _select(b, b.Greater(x, scalar(b, 0, x)), scalar(b, gamma, x), neg)
    return [b.Mul(g, slope)]


@vjp("Celu")
def _(b, node, g):
    x = node.inputs[0]
    alpha = scalar(b, node.attr("alpha", 1.0), x)
    neg = b.Mul(g, b.Exp(b.Div(x, alpha)))
    return [_select(b, b.Greater(x, scalar(b, 0, x)), g, neg)]


@vjp("Softplus")
def _(b, node, g):
    return [b.Mul(g, b.Sigmoid(node.inputs[0]))]


@vjp("Softsign")
def _(b, node, g):
    x = node.inputs[0]
    d = b.Add(scalar(b, 1.0, x), b.Abs(x))
    return [b.Div(g, b.Mul(d, d))]


@vjp("Mish")
def _(b, node, g):
    x = node.inputs[0]
    t = b.Tanh(b.Softplus(x))
    # tanh(sp(x)) + x * sigmoid(x) * (1 - tanh(sp(x))^2)
    dt = b.Mul(b.Sigmoid(x), b.Sub(scalar(b, 1.0, x), b.Mul(t, t)))
    return [b.Mul(g, b.Add(t, b.Mul(x, dt)))]


@vjp("Gelu")
def _(b, node, g):
    x = node.inputs[0]
    half = scalar(b, 0.5, x)
    if node.attr("approximate", "none") == "tanh":
        c, k = math.sqrt(2.0 / math.pi), 0.044715
        x2 = b.Mul(x, x)
        inner = b.Mul(scalar(b, c, x), b.Add(x, b.Mul(scalar(b, k, x), b.Mul(x2, x))))
        t = b.Tanh(inner)
        dinner = b.Mul(scalar(b, c, x), b.Add(scalar(b, 1.0, x), b.Mul(scalar(b, 3 * k, x), x2)))
        sech2 = b.Sub(scalar(b, 1.0, x), b.Mul(t, t))
        slope = b.Add(b.Mul(half, b.Add(scalar(b, 1.0, x), t)),
                      b.Mul(b.Mul(half, x), b.Mul(sech2, dinner)))
        return [b.Mul(g, slope)]
    # Phi(x) + x * phi(x)
    cdf = b.Mul(half, b.Add(scalar(b, 1.0, x), b.Erf(b.Mul(x, scalar(b, math.sqrt(0.5), x)))))
    pdf = b.Mul(scalar(b, 1.0 / math.sqrt(2.0 * math.pi), x),
                b.Exp(b.Mul(b.Mul(x, x), scalar(b, -0.5, x))))
    return [b.Mul(g, b.Add(cdf, b.Mul(x, pdf)))]


@vjp("Swish")
def _(b, node, g):
    x = node.inputs[0]
    alpha = scalar(b, node.attr("alpha", 1.0), x)
    s = b.Sigmoid(b.Mul(x, alpha))
    # s + alpha * x * s * (1 - s)
    slope = b.Add(s, b.Mul(b.Mul(alpha, x), b.Mul(s, b.Sub(scalar(b, 1.0, x), s))))
    return [b.Mul(g, slope)]


@vjp("Shrink")
def _(b, node, g):
    x = node.inputs[0]
    lambd = node.attr("lambd", 0.5)
    outside = b.Or(b.Less(x, scalar(b, -lambd, x)), b.Greater(x, scalar(b, lambd, x)))
    return [_select(b, outside, g, b.zeros_like(g))]


@vjp("Softmax", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    gy = b.Mul(g, y)
    total = b.ReduceSum(gy, ints(b, [node.attr("axis", -1)]), keepdims=1)
    return [b.Sub(gy, b.Mul(y, total))]


@vjp("LogSoftmax", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    total = b.ReduceSum(g, ints(b, [node.attr("axis", -1)]), keepdims=1)
    return [b.Sub(g, b.Mul(b.Exp(y), total))]


@vjp("Hardmax", uses_inputs=())
def _(b, node, g):
    # a one-hot of the argmax: constant almost everywhere
    return [b.zeros_like(g)]


@vjp("SwiGLU")
def _(b, node, g):
    a, v = node.inputs
    alpha = scalar(b, node.attr("alpha", 1.0), a)
    s = b.Sigmoid(b.Mul(a, alpha))
    swish = b.Mul(a, s)
    slope = b.Add(s, b.Mul(b.Mul(alpha, a), b.Mul(s, b.Sub(scalar(b, 1.0, a), s))))
    return [b.Mul(b.Mul(g, v), slope), b.Mul(g, swish)]
