"""Ops of the default domain that have no gradient to give, and why.

Ops with boolean, integer or string outputs never reach the engine (their outputs do not require
grad). The few with a float output that does not depend on the input's values (EyeLike, the
``*Like`` random ops, Bernoulli) get a rule that passes no gradient back, so a backward pass
through them stops there instead of failing, as torch does for ``rand_like``.
"""

from onyx.frontend.autograd.rules import vjp

_BOOLEAN = "boolean output"
_INTEGER = "integer output"
_INT_INPUTS = "integer-only inputs"
_CONSTANT = "output does not depend on input values"
_STRING = "string data"

NOT_DIFFERENTIABLE: dict[str, str] = {
    **dict.fromkeys(("And", "Equal", "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "Less",
                     "LessOrEqual", "Not", "Or", "RegexFullMatch", "Xor",
                     "OptionalHasElement"), _BOOLEAN),
    **dict.fromkeys(("ArgMax", "ArgMin", "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr",
                     "BitwiseXor", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                     "Multinomial", "NonMaxSuppression", "NonZero", "QLinearConv",
                     "QLinearMatMul", "QuantizeLinear", "SequenceLength", "Shape", "Size",
                     "BitCast"), _INTEGER),
    **dict.fromkeys(("BlackmanWindow", "HammingWindow", "HannWindow", "MelWeightMatrix",
                     "ConstantOfShape", "ImageDecoder", "TfIdfVectorizer"), _INT_INPUTS),
    **dict.fromkeys(("Constant", "RandomNormal", "RandomUniform", "EyeLike",
                     "RandomNormalLike", "RandomUniformLike", "Bernoulli"), _CONSTANT),
    **dict.fromkeys(("StringConcat", "StringNormalizer", "StringSplit"), _STRING),
}


def _no_gradient(b, node, *grads):
    return [None] * len(node.inputs)


for _op in ("EyeLike", "RandomNormalLike", "RandomUniformLike", "Bernoulli"):
    vjp(_op, uses_inputs=())(_no_gradient)
