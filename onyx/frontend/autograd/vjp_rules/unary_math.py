"""VJP rules of elementwise math functions: exp/log, powers, trigonometric, hyperbolic, erf.

Where the derivative is a function of the result (exp, sqrt, tanh, ...) the rule reads the
output, so the input may be changed in place afterwards.
"""

import math

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import scalar


@vjp("Exp", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    return [b.Mul(g, node.outputs[0])]


@vjp("Log")
def _(b, node, g):
    return [b.Div(g, node.inputs[0])]


@vjp("Sqrt", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    return [b.Div(g, b.Mul(scalar(b, 2.0, y), y))]


@vjp("Reciprocal", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    return [b.Neg(b.Mul(g, b.Mul(y, y)))]


@vjp("Sin")
def _(b, node, g):
    return [b.Mul(g, b.Cos(node.inputs[0]))]


@vjp("Cos")
def _(b, node, g):
    return [b.Neg(b.Mul(g, b.Sin(node.inputs[0])))]


@vjp("Tan", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    return [b.Mul(g, b.Add(scalar(b, 1.0, y), b.Mul(y, y)))]


def _one_minus_square(b, x):
    return b.Sub(scalar(b, 1.0, x), b.Mul(x, x))


@vjp("Asin")
def _(b, node, g):
    return [b.Div(g, b.Sqrt(_one_minus_square(b, node.inputs[0])))]


@vjp("Acos")
def _(b, node, g):
    return [b.Neg(b.Div(g, b.Sqrt(_one_minus_square(b, node.inputs[0]))))]


@vjp("Atan")
def _(b, node, g):
    x = node.inputs[0]
    return [b.Div(g, b.Add(scalar(b, 1.0, x), b.Mul(x, x)))]


@vjp("Sinh")
def _(b, node, g):
    return [b.Mul(g, b.Cosh(node.inputs[0]))]


@vjp("Cosh")
def _(b, node, g):
    return [b.Mul(g, b.Sinh(node.inputs[0]))]


@vjp("Tanh", uses_inputs=(), uses_outputs=(0,))
def _(b, node, g):
    y = node.outputs[0]
    return [b.Mul(g, _one_minus_square(b, y))]


@vjp("Asinh")
def _(b, node, g):
    x = node.inputs[0]
    return [b.Div(g, b.Sqrt(b.Add(b.Mul(x, x), scalar(b, 1.0, x))))]


@vjp("Acosh")
def _(b, node, g):
    x = node.inputs[0]
    return [b.Div(g, b.Sqrt(b.Sub(b.Mul(x, x), scalar(b, 1.0, x))))]


@vjp("Atanh")
def _(b, node, g):
    return [b.Div(g, _one_minus_square(b, node.inputs[0]))]


@vjp("Erf")
def _(b, node, g):
    x = node.inputs[0]
    bump = b.Exp(b.Neg(b.Mul(x, x)))
    return [b.Mul(g, b.Mul(scalar(b, 2.0 / math.sqrt(math.pi), x), bump))]
