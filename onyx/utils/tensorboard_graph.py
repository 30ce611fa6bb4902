"""An onyx IR graph as TensorBoard's ``GraphDef``: what the Graphs dashboard draws.

Each ONNX node becomes a ``NodeDef`` whose ``op`` is the ONNX op type and whose inputs name the
producing nodes (``name:k`` for a node's k-th output), so edges follow the ONNX data flow. Graph
inputs, initializers and graph outputs are nodes of their own (ops ``Input``, ``Parameter`` for
a floating-point initializer, ``Constant`` for another, ``Output``). Dots in names become ``/``,
and a node reading the parameter ``features.0.weight`` is placed under ``features/0/``, so
TensorBoard folds everything of one module into one box. ONNX attributes and output shapes
(``_output_shapes``, -1 for a symbolic dimension) are attached so the node's panel shows them.
"""

from __future__ import annotations

from onyx import ir

INPUT, PARAMETER, CONSTANT, OUTPUT = "Input", "Parameter", "Constant", "Output"


def _protos():
    from tensorboardX.proto import (
        attr_value_pb2,
        graph_pb2,
        node_def_pb2,
        tensor_shape_pb2,
        versions_pb2,
    )
    return attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, versions_pb2


class _Names:
    """Unique TensorBoard node names, with module dots turned into scopes."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, wanted: str) -> str:
        base = wanted.replace(".", "/").strip("/") or "node"
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


def _shape_proto(value: ir.Value | None):
    _, _, _, tensor_shape_pb2, _ = _protos()
    proto = tensor_shape_pb2.TensorShapeProto()
    t = getattr(value, "type", None)
    if not isinstance(t, ir.TensorType) or t.shape is None:
        proto.unknown_rank = True
        return proto
    for d in t.shape:
        proto.dim.add(size=d if isinstance(d, int) else -1, name=d if isinstance(d, str) else "")
    return proto


def _attr_value(a: ir.Attribute):
    attr_value_pb2 = _protos()[0]
    v = a.value
    if a.type == ir.AttrType.INT:
        return attr_value_pb2.AttrValue(i=int(v))
    if a.type == ir.AttrType.FLOAT:
        return attr_value_pb2.AttrValue(f=float(v))
    if a.type == ir.AttrType.INTS:
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=list(v)))
    if a.type == ir.AttrType.FLOATS:
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(f=list(v)))
    if a.type == ir.AttrType.STRING:
        return attr_value_pb2.AttrValue(s=v if isinstance(v, bytes) else str(v).encode())
    if a.type == ir.AttrType.TENSOR:
        return attr_value_pb2.AttrValue(s=f"tensor {v.dtype.name} {list(v.shape)}".encode())
    if a.type == ir.AttrType.GRAPH:
        return attr_value_pb2.AttrValue(s=f"subgraph of {len(v)} nodes".encode())
    return attr_value_pb2.AttrValue(s=str(v).encode())


def _output_shapes(values) -> object:
    attr_value_pb2 = _protos()[0]
    shapes = [_shape_proto(v) for v in values]
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(shape=shapes))


def _scope(node: ir.Node) -> str:
    """``features/0/`` for a node reading the parameter ``features.0.weight``: a traced node
    goes in the box of the module whose parameters it uses (its own name has no module)."""
    if "/" in node.name or "." in node.name:
        return ""
    for v in node.inputs:
        if v is not None and v.const is not None and "." in v.name:
            return v.name.rsplit(".", 1)[0].replace(".", "/") + "/"
    return ""


def _node_def(node: ir.Node, name: str, source: dict[int, str]):
    """The ``NodeDef`` of one ONNX node: op, edges from its inputs' producers, attributes."""
    node_def_pb2 = _protos()[2]
    op = f"{node.domain}::{node.op_type}" if node.domain else node.op_type
    nd = node_def_pb2.NodeDef(name=name, op=op)
    nd.input.extend(source[id(v)] for v in node.inputs if v is not None and id(v) in source)
    for a in node.attributes.values():
        nd.attr[a.name].CopyFrom(_attr_value(a))
    nd.attr["_output_shapes"].CopyFrom(_output_shapes(node.outputs))
    return nd


def graph_def(model: ir.Model):
    """``model``'s main graph as a tensorboardX ``GraphDef`` (``model`` is not changed)."""
    attr_value_pb2, graph_pb2, node_def_pb2, _, versions_pb2 = _protos()
    # Shapes of intermediate values come from shape inference, run on a copy
    model = ir.from_onnx(ir.to_onnx(model), base_dir=model.base_dir)
    ir.infer_shapes(model)
    graph, names = model.graph, _Names()
    source: dict[int, str] = {}   # id(Value) -> "node" or "node:k"
    nodes = []

    def leaf(value: ir.Value, op: str, prefix: str) -> None:
        name = names(f"{prefix}/{value.name}" if prefix else value.name)
        source[id(value)] = name
        nd = node_def_pb2.NodeDef(name=name, op=op)
        nd.attr["_output_shapes"].CopyFrom(_output_shapes([value]))
        t = value.type
        if isinstance(t, ir.TensorType):
            nd.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(s=t.dtype.name.encode()))
        nodes.append(nd)

    for v in graph.inputs:
        if v.const is None:
            leaf(v, INPUT, "input")
    for v in graph.initializers.values():
        # Float initializers are weights; integer ones are shapes, axes, indices
        leaf(v, PARAMETER if v.const.dtype.is_float else CONSTANT, "")
    for i, node in enumerate(graph):
        nd = _node_def(node, names(_scope(node) + (node.name or f"{node.op_type}_{i}")), source)
        for k, out in enumerate(node.outputs):
            source[id(out)] = nd.name if k == 0 else f"{nd.name}:{k}"
        nodes.append(nd)
    for v in graph.outputs:
        nd = node_def_pb2.NodeDef(name=names(f"output/{v.name}"), op=OUTPUT)
        if id(v) in source:
            nd.input.append(source[id(v)])
        nd.attr["_output_shapes"].CopyFrom(_output_shapes([v]))
        nodes.append(nd)
    return graph_pb2.GraphDef(node=nodes, versions=versions_pb2.VersionDef(producer=22))
