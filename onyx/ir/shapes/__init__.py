"""Shape and type inference: one rule per ONNX op, registered by opset range.

    >>> from onyx import ir
    >>> from onyx.ir.shapes import infer_shapes
    >>> g = ir.Graph(name="g")
    >>> a = g.add_input("a", ir.tensor(ir.DType.FLOAT, ("batch", 3)))
    >>> b = g.add_input("b", ir.tensor(ir.DType.FLOAT, (3, 5)))
    >>> y = g.append(ir.Node("MatMul", [a, b], outputs=["y"])).outputs[0]
    >>> g.outputs.append(y)
    >>> infer_shapes(ir.Model(g))
    1
    >>> str(y.type)
    'f32[batch,5]'

``shape_rule("Op", domain="", since=1, until=None)`` registers a rule; an op without one gets
unknown outputs, never an error.
"""

from onyx.ir.shapes import (  # noqa: F401  (importing a rule module registers its rules)
    rules_attention,
    rules_control,
    rules_conv,
    rules_elementwise,
    rules_generators,
    rules_index,
    rules_ml,
    rules_nn,
    rules_reduce,
    rules_shape,
    rules_signal,
)
from onyx.ir.shapes.infer import infer_node, infer_shapes, merge_types
from onyx.ir.shapes.registry import InferenceContext, PartialInts, lookup, registered, shape_rule

__all__ = ["InferenceContext", "PartialInts", "infer_node", "infer_shapes", "lookup", "merge_types",
           "registered", "shape_rule"]
