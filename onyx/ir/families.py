"""Op families the compiler reasons about as a group (shared by passes and backends).

``ELEMENTWISE_OPS``: one output element from the inputs' elements at the same (broadcast)
position, so a chain of them may be fused and an op may write its result over a dying input.
"""

FUSED_DOMAIN = "onyx.fused"  # model-local functions made by the fusion pass

ELEMENTWISE_OPS = frozenset({
    # unary math
    "Abs", "Neg", "Sign", "Ceil", "Floor", "Round", "Reciprocal", "Sqrt", "Exp", "Log", "Erf",
    "Tanh", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
    "Atanh", "Not", "IsNaN", "IsInf", "BitwiseNot",
    # binary / variadic, numpy broadcasting
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "And", "Or", "Xor",
    "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "BitwiseAnd", "BitwiseOr",
    "BitwiseXor", "PRelu", "Where", "Cast",
    # activations
    "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "ThresholdedRelu", "Clip", "Gelu", "Mish",
})
