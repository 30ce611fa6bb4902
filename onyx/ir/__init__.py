"""onyx's IR: ONNX's model, graph, node and value, with use-def links.

``ir`` imports nothing else of onyx; every other layer builds on it.
"""

from onyx.ir import limits
from onyx.ir.core import Attribute, AttrType, Function, Graph, Model, Node, Value
from onyx.ir.dtypes import DType
from onyx.ir.errors import (
                            GraphError,
                            InputError,
                            LimitError,
                            ModelError,
                            NodeError,
                            OnyxError,
                            ShapeError,
                            UnsupportedOpError,
)
from onyx.ir.io import load, parse_model, save
from onyx.ir.order import find_cycle, to_dot, to_networkx, topological_order
from onyx.ir.printer import format_graph, format_model, format_node
from onyx.ir.serde import from_onnx, to_onnx
from onyx.ir.shapes import infer_shapes, shape_rule
from onyx.ir.tensor import SparseTensor, Tensor
from onyx.ir.types import MapType, OptionalType, SequenceType, SparseTensorType, TensorType, tensor

__all__ = [
    "Attribute", "AttrType", "DType", "Function", "Graph", "GraphError", "InputError",
    "LimitError", "MapType", "Model", "ModelError", "Node", "NodeError", "OnyxError",
    "OptionalType", "SequenceType", "ShapeError", "SparseTensor", "SparseTensorType", "Tensor",
    "TensorType", "UnsupportedOpError", "Value", "find_cycle", "format_graph", "format_model",
    "format_node", "from_onnx", "infer_shapes", "limits", "load", "parse_model", "save",
    "shape_rule", "tensor", "to_dot", "to_networkx", "to_onnx", "topological_order",
]
